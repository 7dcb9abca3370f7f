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

/// The clips of the format-variant checks (`core/tests/format_variants.rs`, the
/// `noise_copies` example): takes 7 and 8 of every (speaker, digit), 120 clips nobody picked by
/// hand, so that one borderline clip is under 1 % of them.
pub fn variant_clip_names() -> Vec<String> {
    let speakers = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"];
    speakers
        .iter()
        .flat_map(|s| (0..10).flat_map(move |d| [7, 8].map(|t| format!("{d}_{s}_{t}.wav"))))
        .collect()
}

/// Links the FSDD files whose names `keep` accepts into `dir` (created), for tests on a subset.
pub fn link_subset(dir: &Path, keep: impl Fn(&str) -> bool) -> PathBuf {
    std::fs::create_dir_all(dir).expect("create the subset folder");
    for entry in std::fs::read_dir(recordings()).expect("read FSDD") {
        let path = entry.expect("list FSDD").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if keep(&name) {
            std::os::unix::fs::symlink(&path, dir.join(&name)).expect("link an FSDD file");
        }
    }
    dir.to_path_buf()
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
