//! The drum set for tests: real one-shots from Debian's hydrogen-drumkits, built by
//! `scripts/fetch-drums.sh` (`.ci/run` installs the package and runs it).

use std::path::PathBuf;

/// The drum set folder (`$TYMPAN_DRUMS`, else `datasets/drums` in the workspace); panics with
/// the fix when it is missing, since a test without its data must fail rather than pass empty.
pub fn drum_set() -> PathBuf {
    let dir = std::env::var_os("TYMPAN_DRUMS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../datasets/drums"));
    assert!(
        dir.join("SOURCE.txt").is_file(),
        "{} holds no drum set: run scripts/fetch-drums.sh (or set TYMPAN_DRUMS)",
        dir.display()
    );
    dir
}
