//! Tympan core: everything between audio bytes and a prediction, with no HTTP, terminal or HTML.
//!
//! - [`audio`]: decode (symphonia), downmix, resample (rubato).
//! - [`features`]: the hand-written MFCC front end and pooling.
//! - [`embedding`]: [`embedding::Embedder`], the fitted scaler + PCA over the front end.
//! - [`table`]: the reference and production CSV tables and the feedback log.
//! - [`model`], [`training`], [`metrics`], [`evaluation`]: the classifier, its one training entry
//!   point, scikit-learn-compatible metrics and evaluation protocols.
//! - [`registry`]: [`registry::ModelRegistry`], versioned models with promote and rollback.
//! - [`durable`]: atomic, durable file writes.

#![warn(missing_docs)]

pub mod audio;
pub mod challenger;
pub mod durable;
pub mod embedding;
pub mod evaluation;
pub mod features;
pub mod fsdd;
pub mod metrics;
pub mod model;
pub mod registry;
pub mod table;
pub mod training;
