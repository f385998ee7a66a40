#![no_main]
//! Fuzz target `exif`; what it runs and checks is [`fieldsync_fuzz::exif`].

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fieldsync_fuzz::exif(data);
});
