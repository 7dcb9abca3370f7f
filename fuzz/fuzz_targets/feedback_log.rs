//! `feedback_log`: see `data/tests/fuzzing/mod.rs`, shared with the regression test.
#![no_main]

#[path = "../../data/tests/fuzzing/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::feedback_log(data));
