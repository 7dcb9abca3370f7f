//! The fitted embedding: front end + standard scaler + PCA, the only path from audio to the
//! `PCA_1..PCA_n` vectors used by every command and endpoint.

mod embedder;
mod featurizer;
mod pca;
mod scaler;

pub use embedder::{Embedder, Embedding, EMBEDDING_FILE, EMBEDDING_FORMAT};
pub use featurizer::{ClipFeatures, Featurizer};
pub use pca::Projection;
pub use scaler::StandardScaler;

use crate::audio::AudioError;

/// Why audio could not be embedded, or an embedding not fitted, saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The audio could not be decoded or is outside the limits.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// The feature configuration is not computable.
    #[error("invalid feature configuration: {0}")]
    InvalidConfig(String),
    /// Fitting the scaler or PCA failed.
    #[error("cannot fit the embedding: {0}")]
    Fit(String),
    /// The embedding file is missing, unreadable or malformed.
    #[error("embedding artifact {path}: {reason}")]
    Artifact {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A vector of the wrong length was given.
    #[error("expected a vector of {expected} values, got {got}")]
    Dimension {
        /// Expected length.
        expected: usize,
        /// Given length.
        got: usize,
    },
}
