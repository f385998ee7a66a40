#![no_main]
//! Fuzz target `photo_inspect`; what it runs and checks is [`fieldsync_fuzz::photo_inspect`].

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fieldsync_fuzz::photo_inspect(data);
});
