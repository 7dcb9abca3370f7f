//! `tympan-tune`: searches the front end and the model on the user's own data by
//! cross-validation that never leaks a group, within a wall-time budget, and writes the winner
//! as a `tuned.json` that `tympan embed --features` and `tympan train --config` read.
//!
//! Each clip is decoded once and resampled once per pipeline rate; for each front end of the
//! space ([`space`]) the clip vectors are computed on all cores, and on each fold the scaler and
//! PCA are fitted on the training rows only, then every PCA size and penalty is trained (PCA
//! sizes are prefixes of one fit; penalties warm-start each other).

#![warn(missing_docs)]

pub mod page;
pub mod search;
pub mod space;

pub use search::{tune, Grouping, Scored, Stop, TuneOutcome, TuneRequest};

/// Why a search failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    /// Arguments or data that cannot work.
    #[error("{0}")]
    Usage(String),
    /// Labelling the dataset failed.
    #[error(transparent)]
    Dataset(#[from] tympan_embed::EmbedCommandError),
    /// The data-aware front end could not be built.
    #[error(transparent)]
    Embed(#[from] tympan_core::embedding::EmbedError),
    /// The decoded dataset does not fit the in-memory budget.
    #[error(
        "the dataset decodes to {samples} samples, more than the {limit} a search keeps in \
         memory: tune on a subset (e.g. a manifest listing part of it)"
    )]
    TooLarge {
        /// Decoded samples.
        samples: usize,
        /// The limit.
        limit: usize,
    },
    /// The budget ended before one candidate was scored on every fold.
    #[error("no candidate finished within the budget of {0:?}: give it more time")]
    NothingScored(std::time::Duration),
    /// The HTML page could not be rendered.
    #[error("rendering the page: {0}")]
    Page(String),
}
