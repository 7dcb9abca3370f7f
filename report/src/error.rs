//! The library's error type.

use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong while reading data, computing or writing a report.
///
/// Messages name the file (and the line, for data errors) so that an operator
/// can fix the input without reading the source.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The input file does not exist.
    #[error("{}: file not found", path.display())]
    NotFound {
        /// The missing file.
        path: PathBuf,
    },
    /// An I/O error while reading or writing `path`.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The file has zero bytes.
    #[error("{}: file is empty (expected a CSV header line)", path.display())]
    EmptyFile {
        /// The empty file.
        path: PathBuf,
    },
    /// The file has a header but no data row.
    #[error("{}: no data rows after the header", path.display())]
    NoRows {
        /// The file without rows.
        path: PathBuf,
    },
    /// The header line does not have the expected form.
    #[error("{}:1: unexpected header: {reason}; expected `{expected}`", path.display())]
    Header {
        /// The file whose header is wrong.
        path: PathBuf,
        /// The expected form, e.g. `PCA_1,...,PCA_n,target`.
        expected: String,
        /// What is wrong with the header that was found.
        reason: String,
    },
    /// A data row is malformed (wrong field count, non-numeric or non-finite value, …).
    #[error("{}:{line}: {reason}", path.display())]
    Row {
        /// The file that holds the row.
        path: PathBuf,
        /// 1-based line number of the row (the header is line 1).
        line: u64,
        /// What is wrong with the row.
        reason: String,
    },
    /// The reference and production files do not have the same PCA columns.
    #[error(
        "PCA columns differ: {} has {reference} (PCA_1..PCA_{reference}) but {} has {production} (PCA_1..PCA_{production})",
        reference_path.display(),
        production_path.display()
    )]
    ColumnMismatch {
        /// The reference file.
        reference_path: PathBuf,
        /// Number of PCA columns in the reference file.
        reference: usize,
        /// The production file.
        production_path: PathBuf,
        /// Number of PCA columns in the production file.
        production: usize,
    },
    /// The configuration cannot be applied (e.g. a numeric-only test for categorical columns).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A value given as text (stat test name, interval, …) could not be parsed.
    #[error("{0}")]
    Parse(String),
}

impl ReportError {
    /// Wraps an I/O error, turning "not found" into [`ReportError::NotFound`].
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        if source.kind() == io::ErrorKind::NotFound {
            ReportError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            ReportError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }

    pub(crate) fn row(path: &Path, line: u64, reason: impl Into<String>) -> Self {
        ReportError::Row {
            path: path.to_path_buf(),
            line,
            reason: reason.into(),
        }
    }
}
