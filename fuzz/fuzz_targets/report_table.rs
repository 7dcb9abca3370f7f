//! `report_table`: see `report/tests/fuzzing/mod.rs`, shared with the regression test.
#![no_main]

#[path = "../../report/tests/fuzzing/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::report_table(data));
