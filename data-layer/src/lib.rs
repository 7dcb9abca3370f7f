//! # tympan-data
//!
//! The data every Tympan crate shares, with one set of rules, and no audio:
//!
//! - [`layout`]: the two CSV layouts, reference `PCA_1..PCA_n,target` and production
//!   `PCA_1..PCA_n,target,prediction`, and their header check.
//! - [`label`]: what a class label may be, and the one order labels are listed in.
//! - [`reader`]: the one streaming reader of both layouts; every table in the workspace is read
//!   through it, so a file is accepted or refused the same way everywhere.
//! - [`rows`]: a table as rows of `f32` vectors (training, serving) and its atomic writer.
//! - [`columns`]: a table as `f64` columns and interned labels (reports over millions of rows).
//! - [`feedback`]: the append-only production log.
//! - [`predictions`]: the prediction log, what the server answered.
//! - [`store`]: the [`FeedbackStore`] trait, over the log or a database.
//! - [`durable`]: atomic, durable file writes.
//! - [`metrics`]: classification quality with scikit-learn's definitions.
//!
//! Errors name the file and the line ([`DataError`]).

#![warn(missing_docs)]

pub mod columns;
pub mod dot;
pub mod durable;
pub mod error;
pub mod feedback;
pub mod groups;
pub mod label;
pub mod layout;
pub mod metrics;
pub mod monitoring;
pub mod predictions;
pub mod reader;
pub mod rows;
pub mod store;

pub use columns::{ColumnTable, Labels};
pub use error::DataError;
pub use feedback::{keyed_targets, FeedbackLog, MAX_KEY_BYTES};
pub use label::{sort_labels, validate_label, MAX_LABEL_BYTES};
pub use layout::TableKind;
pub use predictions::{
    read_predictions, PredictionFile, PredictionId, PredictionRecord, Rotation, PREDICTIONS_FILE,
};
pub use reader::TableReader;
pub use rows::{read_table, read_table_from_reader, write_table, LabeledRow, Table};
pub use store::FeedbackStore;
