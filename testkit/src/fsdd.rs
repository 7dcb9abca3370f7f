//! The FSDD recordings for tests, benches and examples.

use std::path::{Path, PathBuf};

/// The FSDD `recordings/` folder, found by [`tympan_core::fsdd::locate`] from the workspace root
/// (`$TYMPAN_FSDD` first); panics with the fix when it is missing, since a test without its
/// data must fail rather than pass empty.
pub fn recordings() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    tympan_core::fsdd::locate(&[&root])
        .expect("FSDD not found: run scripts/fetch-fsdd.sh or set TYMPAN_FSDD")
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_recordings_from_the_workspace() {
        let dir = super::recordings();
        assert!(dir.ends_with("recordings"), "{}", dir.display());
        assert!(dir.join("0_jackson_0.wav").is_file(), "{}", dir.display());
    }
}
