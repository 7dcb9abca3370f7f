//! `tympan-embed`: turns a folder of labelled audio into `ref_data.csv` and a fitted embedding.
//!
//! The feature computation itself lives in `tympan-core`; this crate walks the dataset, labels
//! the files, runs the clips in parallel, reports the ones that fail, and writes the outputs.

#![warn(missing_docs)]

pub mod bootstrap;
mod labels;
mod meta;
mod run;

pub use labels::{
    auto_source, discover, Clip, Dataset, FilePattern, LabelArgs, LabelSource, AUDIO_EXTENSIONS,
    DEFAULT_PATTERN,
};
pub use run::{
    embed_clips, embed_dataset, featurize_clips, progress_wanted, reference_rows, EmbedRequest,
    EmbedSummary, EmbeddedClips, FrontEndChoice, Skipped,
};
pub use tympan_data::groups::{meta_path, read_group_column};

/// Default number of PCA components.
pub const DEFAULT_COMPONENTS: usize = 64;

/// Why the embed command failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum EmbedCommandError {
    /// Arguments that cannot work (missing folder, bad pattern...).
    #[error("{0}")]
    Usage(String),
    /// Reading the dataset or writing an output failed.
    #[error("{0}")]
    Io(String),
    /// `--strict` and at least one file failed.
    #[error("{count} file(s) failed and --strict is set; first: {first}")]
    Strict {
        /// How many failed.
        count: usize,
        /// The first failure, path and reason.
        first: String,
    },
    /// The embedding could not be fitted or loaded.
    #[error(transparent)]
    Embed(#[from] tympan_core::embedding::EmbedError),
    /// The output table could not be written.
    #[error(transparent)]
    Data(#[from] tympan_data::DataError),
}
