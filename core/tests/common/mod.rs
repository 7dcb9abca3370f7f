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

/// The FSDD `recordings/` folder: `$TYMPAN_FSDD`, the shared copy, or `datasets/fsdd/recordings`
/// fetched into the repository by `scripts/fetch-fsdd.sh`.
pub fn fsdd_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("TYMPAN_FSDD") {
        return PathBuf::from(dir);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let candidates = [
        root.join("..")
            .join("shared")
            .join("datasets/fsdd/recordings"),
        root.join("datasets/fsdd/recordings"),
    ];
    candidates
        .iter()
        .find(|p| p.is_dir())
        .cloned()
        .unwrap_or_else(|| panic!("FSDD not found; run scripts/fetch-fsdd.sh or set TYMPAN_FSDD"))
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
