//! [`FeedbackStore`]: where feedback rows are kept, whatever keeps them. The production log in a
//! CSV file ([`crate::FeedbackLog`]) is the embedded default; a database is the other (the
//! `tympan-pg` crate). The server, the trainer and the reports go through this trait only.

use crate::{ColumnTable, DataError, LabeledRow, Table};

/// The production rows of a deployment: appended one at a time, each acknowledged only once
/// stored durably, numbered 1, 2, 3... without gaps in the order they were stored.
pub trait FeedbackStore: Send + Sync {
    /// Stores `row` (under `key` when given: a key is taken exactly when its row is stored, and
    /// a key stored already gives [`DataError::DuplicateKey`] and stores nothing). Returns the
    /// row's number, which is also the count of rows stored up to it.
    fn append(&self, row: &LabeledRow, key: Option<&str>) -> Result<u64, DataError>;

    /// The number of the row stored under `key`, if any.
    fn keyed_row(&self, key: &str) -> Result<Option<u64>, DataError>;

    /// Row `n` (1-based), if stored.
    fn row(&self, n: u64) -> Result<Option<LabeledRow>, DataError>;

    /// Rows stored, as last seen by this process (a database shared by many processes may hold
    /// more; [`FeedbackStore::refresh_rows`] asks it).
    fn rows(&self) -> u64;

    /// Rows stored, asked of the store itself.
    fn refresh_rows(&self) -> Result<u64, DataError> {
        Ok(self.rows())
    }

    /// Every stored row, in order.
    fn read_table(&self) -> Result<Table, DataError>;

    /// Every stored row as columns, naming the table `name` in errors and reports.
    fn read_columns(&self, name: &str) -> Result<ColumnTable, DataError>;

    /// The distinct targets of the rows stored when the store was opened, sorted.
    fn targets_at_open(&self) -> &[String];
}

/// Checks that `row` can be stored as a production row of width `dim` (its values, a target that
/// follows the label rules, a prediction), whatever the store; `refuse` makes the store's own
/// error of the reason.
pub fn check_production_row(
    row: &LabeledRow,
    dim: usize,
    refuse: impl FnOnce(String) -> DataError,
) -> Result<(), DataError> {
    if row.vector.len() != dim || row.prediction.is_none() {
        return Err(refuse(format!(
            "a production row needs {dim} values, a target and a prediction"
        )));
    }
    crate::validate_label(&row.target)
}

impl FeedbackStore for crate::FeedbackLog {
    fn append(&self, row: &LabeledRow, key: Option<&str>) -> Result<u64, DataError> {
        match key {
            Some(k) => self.append_keyed(row, k),
            None => crate::FeedbackLog::append(self, row),
        }
    }

    fn keyed_row(&self, key: &str) -> Result<Option<u64>, DataError> {
        Ok(crate::FeedbackLog::keyed_row(self, key))
    }

    fn row(&self, n: u64) -> Result<Option<LabeledRow>, DataError> {
        crate::FeedbackLog::row(self, n)
    }

    fn rows(&self) -> u64 {
        crate::FeedbackLog::rows(self)
    }

    fn read_table(&self) -> Result<Table, DataError> {
        crate::FeedbackLog::read_table(self)
    }

    fn read_columns(&self, name: &str) -> Result<ColumnTable, DataError> {
        crate::FeedbackLog::read_columns(self, name)
    }

    fn targets_at_open(&self) -> &[String] {
        crate::FeedbackLog::targets_at_open(self)
    }
}
