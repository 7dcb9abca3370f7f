//! `decode_embed`: see `core/tests/fuzzing/mod.rs`, shared with the regression test.
#![no_main]

#[path = "../../core/tests/fuzzing/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::decode_embed(data));
