//! Why a table could not be read or written.

use std::io;
use std::path::{Path, PathBuf};

/// Why a table could not be read or written; messages name the file (and the line, for data
/// errors) so that an operator can fix the input without reading the source.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file does not exist.
    #[error("{}: file not found", path.display())]
    NotFound {
        /// The missing file.
        path: PathBuf,
    },
    /// The file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The file has no header line.
    #[error("{}: file is empty (expected a CSV header line)", path.display())]
    Empty {
        /// The empty file.
        path: PathBuf,
    },
    /// The header is not one of the two layouts (or not the one expected).
    #[error("{}:1: unexpected header: {reason}; expected `{expected}`", path.display())]
    Header {
        /// The file whose header is wrong.
        path: PathBuf,
        /// The expected form, e.g. `PCA_1,PCA_2,...,PCA_n,target`.
        expected: String,
        /// What is wrong with the header that was found.
        reason: String,
    },
    /// A data row is malformed (field count, a value that is not a finite number, an empty
    /// label).
    #[error("{}:{line}: {reason}", path.display())]
    Row {
        /// The file that holds the row.
        path: PathBuf,
        /// 1-based line number of the row (the header is line 1); 0 when not from a file.
        line: u64,
        /// What is wrong with the row.
        reason: String,
    },
    /// Columns given in memory do not make a table (lengths differ, a value is not finite).
    #[error("{}: {reason}", name.display())]
    Shape {
        /// The name given to the table.
        name: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A label breaks the label rules ([`crate::validate_label`]).
    #[error("invalid label: {0}")]
    Label(String),
    /// A keyed row was sent again: its key is stored already, with row `row`.
    #[error("key {key} is stored already (row {row})")]
    DuplicateKey {
        /// The key.
        key: String,
        /// The row stored under it (1-based).
        row: u64,
    },
    /// An append to the production log failed (disk full, I/O error): the row is not stored and
    /// nothing was acknowledged. The storage is at fault, not the row, so the same append may
    /// succeed later.
    #[error("{}: the row was not stored: {source}; {}", path.display(), after_failed_append(*rolled_back))]
    Append {
        /// The log.
        path: PathBuf,
        /// The write or sync error.
        #[source]
        source: io::Error,
        /// Whether the log was cut back to its last stored row; when not, it takes no append
        /// until a later one manages that first.
        rolled_back: bool,
    },
    /// The store (a database) cannot be reached or refused the operation for a reason of its
    /// own: nothing was stored, and the same call may succeed later.
    #[error("the {store} is unavailable: {reason}")]
    Unavailable {
        /// What kind of store, for people ("feedback database").
        store: &'static str,
        /// Why, without credentials.
        reason: String,
    },
}

fn after_failed_append(rolled_back: bool) -> &'static str {
    if rolled_back {
        "the log was cut back to its last stored row"
    } else {
        "the log could not be cut back to its last stored row and takes no row until it can"
    }
}

impl DataError {
    /// Wraps an I/O error on `path`, telling a missing file apart.
    pub fn io(path: &Path, source: io::Error) -> Self {
        if source.kind() == io::ErrorKind::NotFound {
            DataError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            DataError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }

    /// A malformed row at `line` of `path`.
    pub fn row(path: &Path, line: u64, reason: impl Into<String>) -> Self {
        DataError::Row {
            path: path.to_path_buf(),
            line,
            reason: reason.into(),
        }
    }
}
