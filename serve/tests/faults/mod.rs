//! Real storage faults for end-to-end tests: a small tmpfs that fills up (ENOSPC), and an
//! `LD_PRELOAD` shim (`inject.c`) that makes a chosen `write`, `fdatasync`, `fsync` or
//! `ftruncate` on a chosen file fail or come up short, in the unchanged server binary.
#![allow(dead_code)]

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The shim, compiled once per test process with the system C compiler.
pub fn inject_library() -> &'static Path {
    static LIBRARY: OnceLock<PathBuf> = OnceLock::new();
    LIBRARY.get_or_init(|| {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/faults/inject.c");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR"));
        // Named per process, so that two test binaries compiling at once never share a file.
        let library = out.join(format!("tympan-inject-{}.so", std::process::id()));
        let status = Command::new("cc")
            .args(["-shared", "-fPIC", "-O1", "-Wall", "-o"])
            .arg(&library)
            .arg(&source)
            .arg("-ldl")
            .status()
            .expect("`cc` runs (a C compiler is needed to build the fault-injection shim)");
        assert!(status.success(), "compiling {} failed", source.display());
        library
    })
}

/// The environment that makes the server fail the calls of `plan` (see `inject.c`) on files
/// whose path contains `file`.
pub fn inject_env(file: &str, plan: &str) -> [(&'static str, String); 3] {
    [
        ("LD_PRELOAD", inject_library().display().to_string()),
        ("TYMPAN_FAULT_FILE", file.to_string()),
        ("TYMPAN_FAULT_PLAN", plan.to_string()),
    ]
}

/// A tmpfs mounted on a temporary folder for the life of the value, with a filler file to
/// take its free space away and give it back.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

const FILLER: &str = ".filler";

impl Tmpfs {
    /// Mounts a tmpfs of `bytes`; `None` (with the reason printed) where mounting is not
    /// permitted, e.g. a container without `CAP_SYS_ADMIN`.
    pub fn mount(bytes: u64) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Self { dir }),
            Ok(o) => {
                eprintln!(
                    "SKIPPED: cannot mount a tmpfs here ({}); the full-disk test needs root \
                     (CI runs it)",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run `mount` ({e}); the full-disk test needs it");
                None
            }
        }
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Takes all the free space but `free` bytes (rounded to pages by tmpfs).
    pub fn fill_leaving(&self, free: u64) {
        let path = self.path().join(FILLER);
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        let chunk = vec![0u8; 1 << 16];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
        let len = f.metadata().unwrap().len();
        f.set_len(len.saturating_sub(free)).unwrap();
    }

    /// Gives all the filler's space back.
    pub fn free(&self) {
        let path = self.path().join(FILLER);
        if path.exists() {
            std::fs::remove_file(path).unwrap();
        }
    }

    /// Copies a folder into the tmpfs (as `cp -a`), returning the copy's path.
    pub fn copy_in(&self, from: &Path) -> PathBuf {
        let status = Command::new("cp")
            .arg("-a")
            .arg(from)
            .arg(self.path())
            .status()
            .unwrap();
        assert!(status.success(), "copying {} to the tmpfs", from.display());
        self.path().join(from.file_name().unwrap())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a server still holding a file open must not keep the mount (or fail the test).
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Names in `dir` starting with a dot: the temporary files and folders of atomic writes.
pub fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n != FILLER)
        .collect()
}

/// Every file of `dir` (not recursive) with its bytes, sorted by name.
pub fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p.file_name().unwrap().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    files.sort();
    files
}
