//! The report: configuration, computation and the serialisable result.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::drift::{self, CategoryCounts, ColumnData, ColumnDrift, DatasetDrift, DriftOptions};
use crate::error::ReportError;
use crate::snapshot::rfc3339;
use tympan_data::metrics::{self, Classification};
use tympan_data::{ColumnTable, TableKind};

/// What to compute. `ReportConfig::default()` reproduces Evidently's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportConfig {
    /// Test and threshold selection.
    #[serde(flatten)]
    pub drift: DriftOptions,
    /// Share of drifted columns at or above which the dataset is drifted (Evidently: 0.5).
    pub drift_share: f64,
    /// Free-form model version stored in the report and the history (e.g. the served model).
    pub model_version: Option<String>,
    /// Free-form note stored in the report and the history (e.g. a retraining decision).
    #[serde(default)]
    pub note: Option<String>,
    /// Classes listed one by one in the per-class table, the confusion matrix and the category
    /// charts (those with the most rows); the others are summed in one "other" entry, so that a
    /// report's size does not grow with the number of labels. The averages cover every class.
    #[serde(default = "default_top_classes")]
    pub top_classes: usize,
}

/// Classes a report lists by default (see [`ReportConfig::top_classes`]).
pub const DEFAULT_TOP_CLASSES: usize = 20;

fn default_top_classes() -> usize {
    DEFAULT_TOP_CLASSES
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            drift: DriftOptions::default(),
            drift_share: 0.5,
            model_version: None,
            note: None,
            top_classes: DEFAULT_TOP_CLASSES,
        }
    }
}

impl ReportConfig {
    /// Checks the options before any file is read.
    pub fn validate(&self) -> Result<(), ReportError> {
        self.drift.validate()?;
        if !(self.drift_share.is_finite() && (0.0..=1.0).contains(&self.drift_share)) {
            return Err(ReportError::Config(format!(
                "drift share must be within [0, 1], got {}",
                self.drift_share
            )));
        }
        if self.top_classes == 0 {
            return Err(ReportError::Config(
                "the number of classes listed must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// Where a data set came from and how big it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    /// File path (or in-memory name) as given.
    pub path: String,
    /// Number of data rows.
    pub rows: usize,
}

/// A complete drift and quality report. Plain data: clone it, serialise it,
/// render it ([`Report::to_html`], [`Report::to_json`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Crate version that produced the report.
    pub generator: String,
    /// Creation time, RFC 3339 UTC.
    pub generated_at: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub generated_at_unix_ms: u64,
    /// Copied from [`ReportConfig::model_version`].
    pub model_version: Option<String>,
    /// Copied from [`ReportConfig::note`].
    #[serde(default)]
    pub note: Option<String>,
    /// Reference data set.
    pub reference: DataSummary,
    /// Production data set.
    pub production: DataSummary,
    /// Number of `PCA_i` columns.
    pub pca_columns: usize,
    /// The configuration used.
    pub config: ReportConfig,
    /// Column and dataset drift.
    pub drift: DatasetDrift,
    /// Quality of production predictions against production targets.
    pub classification: Classification,
}

impl Report {
    /// Reads both CSV files and computes the report.
    ///
    /// Pure apart from reading the two files: no global state, safe to call
    /// concurrently (e.g. from a web handler; run it on a blocking thread,
    /// since large files take seconds).
    pub fn compute(
        config: &ReportConfig,
        reference: &Path,
        production: &Path,
    ) -> Result<Report, ReportError> {
        config.validate()?;
        let (r, p) = std::thread::scope(|s| {
            let h = s.spawn(|| ColumnTable::read(production, Some(TableKind::Production)));
            let r = ColumnTable::read(reference, Some(TableKind::Reference));
            let p = h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            (r, p)
        });
        Report::from_tables(config, r?, p?)
    }

    /// Computes the report from tables already in memory (see [`ColumnTable::from_parts`] and
    /// [`ColumnTable::from_rows`]); each needs at least one row.
    ///
    /// The tables are consumed because their numeric columns are sorted in place.
    pub fn from_tables(
        config: &ReportConfig,
        mut reference: ColumnTable,
        mut production: ColumnTable,
    ) -> Result<Report, ReportError> {
        config.validate()?;
        for table in [&reference, &production] {
            if table.rows() == 0 {
                return Err(ReportError::NoRows {
                    path: table.path().to_path_buf(),
                });
            }
        }
        if reference.pca_columns() != production.pca_columns() {
            return Err(ReportError::ColumnMismatch {
                reference_path: reference.path().to_path_buf(),
                reference: reference.pca_columns(),
                production_path: production.path().to_path_buf(),
                production: production.pca_columns(),
            });
        }
        let predictions = production.prediction().cloned().ok_or_else(|| {
            ReportError::Config(format!(
                "{}: production data needs a prediction column",
                production.path().display()
            ))
        })?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let ref_summary = DataSummary {
            path: reference.path().display().to_string(),
            rows: reference.rows(),
        };
        let prod_summary = DataSummary {
            path: production.path().display().to_string(),
            rows: production.rows(),
        };
        let pca_columns = reference.pca_columns();

        let jobs: Vec<(usize, Vec<f64>, Vec<f64>)> = reference
            .take_columns()
            .into_iter()
            .zip(production.take_columns())
            .enumerate()
            .map(|(i, (r, p))| (i, r, p))
            .collect();
        let options = &config.drift;
        // One column per task on rayon's pool; collect keeps the column order.
        let mut columns: Vec<ColumnDrift> = jobs
            .into_par_iter()
            .map(|(i, mut r, mut p)| {
                // total_cmp: inputs are finite, and it sorts without a fallible comparator.
                r.sort_unstable_by(f64::total_cmp);
                p.sort_unstable_by(f64::total_cmp);
                drift::column_drift(
                    &format!("PCA_{}", i + 1),
                    ColumnData::Numeric {
                        reference: &r,
                        current: &p,
                    },
                    options,
                )
            })
            .collect();

        let counts = |l: &tympan_data::Labels| -> Vec<(String, u64)> {
            l.names().iter().cloned().zip(l.counts()).collect()
        };
        let ref_target = counts(reference.target());
        let cur_target = counts(production.target());
        let cur_pred = counts(&predictions);
        // Target drift, and prediction drift: production predictions against the reference
        // *targets*.
        // The test sees every category; the report keeps the largest ones.
        for (name, current) in [("target", &cur_target), ("prediction", &cur_pred)] {
            let mut column = drift::column_drift(
                name,
                ColumnData::Categorical(CategoryCounts::from_counts(
                    pairs(&ref_target),
                    pairs(current),
                )),
                options,
            );
            column.distribution.keep_top(config.top_classes);
            columns.push(column);
        }

        let classification =
            metrics::classify_top(production.target(), &predictions, config.top_classes);
        Ok(Report {
            generator: format!("tympan-report {}", env!("CARGO_PKG_VERSION")),
            generated_at: rfc3339(now),
            generated_at_unix_ms: now,
            model_version: config.model_version.clone(),
            note: config.note.clone(),
            reference: ref_summary,
            production: prod_summary,
            pca_columns,
            config: config.clone(),
            drift: DatasetDrift::from_columns(columns, config.drift_share),
            classification,
        })
    }

    /// Pretty-printed JSON of the whole report.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serialises")
    }

    /// Parses a report written by [`Report::to_json`].
    pub fn from_json(text: &str) -> Result<Report, ReportError> {
        serde_json::from_str(text)
            .map_err(|e| ReportError::Parse(format!("invalid report JSON: {e}")))
    }

    /// One self-contained HTML page (inline CSS and SVG, no scripts).
    pub fn to_html(&self) -> String {
        crate::html::render_report(self, None)
    }

    /// [`Report::to_html`] with the live-traffic section at the end.
    pub fn to_html_with_live(&self, live: &crate::html::LiveView) -> String {
        crate::html::render_report(self, Some(live))
    }

    /// The line appended to `history.jsonl` for this report.
    pub fn snapshot(&self) -> crate::snapshot::Snapshot {
        crate::snapshot::Snapshot::from_report(self)
    }
}

fn pairs(v: &[(String, u64)]) -> Vec<(&str, u64)> {
    v.iter().map(|(l, c)| (l.as_str(), *c)).collect()
}
