//! Locating the shared test data (FSDD and the librosa references) from a checkout.
#![allow(dead_code)]

use std::path::PathBuf;

/// The folder holding `datasets/` and `reference/`: `$TYMPAN_SHARED`, or `../shared` beside the
/// repository. Tests fail with this message rather than pass silently when it is missing.
pub fn shared_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("TYMPAN_SHARED") {
        return PathBuf::from(dir);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let shared = root.join("..").join("shared");
    assert!(
        shared.join("reference").is_dir(),
        "shared test data not found at {} (set TYMPAN_SHARED)",
        shared.display()
    );
    shared
}

/// The librosa reference folder.
pub fn librosa_dir() -> PathBuf {
    shared_dir().join("reference").join("librosa")
}

/// The FSDD `recordings/` folder.
pub fn fsdd_dir() -> PathBuf {
    tympan_testkit::fsdd::recordings()
}

/// Reads a headerless CSV matrix (one row per line).
pub fn read_matrix(path: &std::path::Path) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|v| v.trim().parse().unwrap()).collect())
        .collect()
}
