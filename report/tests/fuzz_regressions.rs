//! Replays every saved fuzzing input of the `report_table` target through its check (see
//! `docs/reliability.md`, "Fuzzing"): inputs that once crashed or hung, kept after the fix, and
//! a small minimized corpus. `scripts/fuzz.sh` copies new crashes into
//! `tests/fuzz-regressions/report_table/`.

mod fuzzing;

use std::path::PathBuf;

#[test]
fn report_table_inputs() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions/report_table");
    tympan_testkit::fuzz::replay(&dir, fuzzing::report_table);
}
