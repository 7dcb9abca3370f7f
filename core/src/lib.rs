//! Tympan core: everything between audio bytes and a prediction, with no HTTP, terminal or HTML.
//!
//! - [`audio`]: decode (symphonia), downmix, resample (rubato).
//! - [`features`]: the hand-written MFCC front end and pooling.
//! - [`embedding`]: [`embedding::Embedder`], the fitted scaler + PCA over the front end.
//! - [`model`], [`training`], [`evaluation`]: the classifier, its one training entry point and
//!   evaluation protocols.
//! - [`monitoring`]: calibration and the unusual-clip detector, fitted at training time.
//! - [`registry`]: [`registry::ModelRegistry`], versioned models with promote and rollback.
//!
//! The tables, labels, durable writes and metrics it works on live in `tympan-data`.

#![warn(missing_docs)]

pub mod audio;
pub mod challenger;
pub mod embedding;
pub mod evaluation;
pub mod features;
pub mod folds;
pub mod fsdd;
pub mod model;
pub mod monitoring;
pub mod registry;
mod solver;
pub mod training;
pub mod tuned;
