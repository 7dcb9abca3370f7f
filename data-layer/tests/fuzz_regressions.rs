//! Replays every saved fuzzing input of the table targets through its check (see
//! `docs/reliability.md`, "Fuzzing"): inputs that once crashed or hung, kept after the fix, and a
//! small minimized corpus. `scripts/fuzz.sh` copies new crashes into
//! `tests/fuzz-regressions/<target>/`.

mod fuzzing;

fn replay(target: &str, check: fn(&[u8])) {
    tympan_testkit::fuzz::replay_target(env!("CARGO_MANIFEST_DIR"), target, check);
}

#[test]
fn read_table_inputs() {
    replay("read_table", fuzzing::read_table_bytes);
}

#[test]
fn feedback_log_inputs() {
    replay("feedback_log", fuzzing::feedback_log);
}
