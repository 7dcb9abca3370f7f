//! Replaying saved fuzzing inputs as regression tests.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// Replays `<crate>/tests/fuzz-regressions/<target>/` through `check`; `manifest_dir` is the
/// crate's `CARGO_MANIFEST_DIR`.
pub fn replay_target(manifest_dir: &str, target: &str, check: impl Fn(&[u8])) {
    let dir = Path::new(manifest_dir)
        .join("tests/fuzz-regressions")
        .join(target);
    replay(&dir, check);
}

/// Runs `check` on every file of `dir` (sorted) and fails, listing them, if any panicked.
pub fn replay(dir: &Path, check: impl Fn(&[u8])) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    let failed: Vec<String> = files
        .iter()
        .filter(|file| {
            let data = std::fs::read(file).unwrap();
            catch_unwind(AssertUnwindSafe(|| check(&data))).is_err()
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} inputs of {} failed: {failed:#?}",
        failed.len(),
        files.len(),
        dir.display()
    );
}
