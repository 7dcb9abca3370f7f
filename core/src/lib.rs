//! Tympan core: everything between audio bytes and a prediction, with no HTTP, terminal or HTML.
//!
//! - [`audio`]: decode (symphonia), downmix, resample (rubato).
//! - [`features`]: the hand-written MFCC front end and pooling.
//! - [`embedding`]: [`embedding::Embedder`], the fitted scaler + PCA over the front end.
//! - [`durable`]: atomic, durable file writes.

#![warn(missing_docs)]

pub mod audio;
pub mod durable;
pub mod embedding;
pub mod features;
