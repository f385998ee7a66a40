#![no_main]
//! Fuzz target `leadcard_payload`; what it runs and checks is [`fieldsync_fuzz::leadcard_payload`].

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fieldsync_fuzz::leadcard_payload(data);
});
