//! The library's error type.

use std::io;
use std::path::{Path, PathBuf};

use tympan_data::DataError;

/// Everything that can go wrong while reading data, computing or writing a report.
///
/// Messages name the file (and the line, for data errors) so that an operator
/// can fix the input without reading the source.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A table could not be read, or a file written (messages name the file and line).
    #[error(transparent)]
    Data(#[from] DataError),
    /// The file has a header but no data row.
    #[error("{}: no data rows after the header", path.display())]
    NoRows {
        /// The file without rows.
        path: PathBuf,
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
    /// Wraps an I/O error on `path`, telling a missing file apart.
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        ReportError::Data(DataError::io(path, source))
    }
}
