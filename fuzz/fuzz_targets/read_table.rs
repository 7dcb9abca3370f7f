//! `read_table`: see `data-layer/tests/fuzzing/mod.rs`, shared with the regression test.
#![no_main]

#[path = "../../data-layer/tests/fuzzing/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::read_table_bytes(data));
