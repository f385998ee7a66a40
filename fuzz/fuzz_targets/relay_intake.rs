#![no_main]
//! Fuzz target `relay_intake`; what it runs and checks is [`fieldsync_fuzz::relay_intake`].
//!
//! libFuzzer's panic hook aborts on every panic, even one that `catch_unwind` would catch. The
//! intake guards automerge's calls with `catch_unwind` by design, so panics raised inside the
//! automerge crate unwind to that guard here too; if one escaped the guard, libfuzzer-sys's own
//! `catch_unwind` around the target would still report it as a crash. Every other panic (the
//! invariants' assertions, the core's own code) aborts as before.

libfuzzer_sys::fuzz_target!(
    init: {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_automerge = info.location().is_some_and(|l| l.file().contains("/automerge-0."));
            if !in_automerge {
                abort(info);
            }
        }));
    },
    |data: &[u8]| {
        fieldsync_fuzz::relay_intake(data);
    }
);
