//! Finding the default dataset, the Free Spoken Digit Dataset's `recordings/` folder, the same way
//! everywhere (server bootstrap; tests, benches and examples through `tympan_testkit::fsdd`).

use std::path::{Path, PathBuf};

/// Folders tried under each root, in order: a copy fetched by `scripts/fetch-fsdd.sh`, then a
/// shared copy beside the repository.
pub const CANDIDATES: [&str; 2] = [
    "datasets/fsdd/recordings",
    "../shared/datasets/fsdd/recordings",
];

/// `$TYMPAN_FSDD` if set, else the first existing candidate under each of `roots`.
pub fn locate(roots: &[&Path]) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TYMPAN_FSDD") {
        return Some(PathBuf::from(dir));
    }
    roots
        .iter()
        .flat_map(|root| CANDIDATES.iter().map(move |c| root.join(c)))
        .find(|p| p.is_dir())
}
