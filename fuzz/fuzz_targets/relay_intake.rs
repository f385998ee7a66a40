#![no_main]
//! Fuzz target `relay_intake`; what it runs and checks is [`fieldsync_fuzz::relay_intake`].

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fieldsync_fuzz::relay_intake(data);
});
