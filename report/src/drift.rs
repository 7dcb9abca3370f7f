//! Per-column drift detection with Evidently's default test selection.
//!
//! Evidently (0.7.x, `get_stattest`) picks, per column:
//!
//! | reference rows | column | distinct values (ref ∪ current) | test | drift when |
//! |---|---|---|---|---|
//! | ≤ 1000 | numeric | > 5 | two-sample KS | p ≤ 0.05 |
//! | ≤ 1000 | numeric or categorical | 3..  (≤ 5 if numeric) | chi-square | p < 0.05 |
//! | ≤ 1000 | numeric or categorical | ≤ 2 | two-proportion Z | p < 0.05 |
//! | > 1000 | numeric | > 5 | normed Wasserstein | d ≥ 0.1 |
//! | > 1000 | numeric (≤ 5 values) or categorical | any | Jensen–Shannon | d ≥ 0.1 |
//!
//! Note that Evidently counts distinct values over the *pooled* reference and
//! current samples, not the reference alone.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use tympan_data::sort_labels;

use crate::error::ReportError;
use crate::ks::{self, KsMethod};
use crate::stattest::{self, JsBase};

/// Above this many reference rows Evidently switches from tests to distances.
pub const SMALL_REFERENCE_ROWS: usize = 1_000;

/// Number of equal-width bins of the numeric histograms drawn in reports.
pub const HISTOGRAM_BINS: usize = 20;

/// Whether a column is treated as numbers or as labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// `PCA_i` columns.
    Numeric,
    /// `target` and `prediction`.
    Categorical,
}

impl fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnKind::Numeric => "numeric",
            ColumnKind::Categorical => "categorical",
        })
    }
}

/// A drift test or distance, named as in Evidently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatTest {
    /// Two-sample Kolmogorov–Smirnov test (numeric), drift when p ≤ threshold.
    Ks,
    /// Chi-square goodness of fit against reference proportions (categorical), drift when p < threshold.
    #[serde(rename = "chisquare")]
    ChiSquare,
    /// Two-proportion Z-test (categorical, two categories), drift when p < threshold.
    Z,
    /// Wasserstein distance normed by the reference std (numeric), drift when ≥ threshold.
    Wasserstein,
    /// Jensen–Shannon distance of binned shares, drift when ≥ threshold.
    #[serde(rename = "jensenshannon")]
    JensenShannon,
    /// Population Stability Index of binned shares, drift when ≥ threshold.
    Psi,
}

impl StatTest {
    /// All tests, in documentation order.
    pub const ALL: [StatTest; 6] = [
        StatTest::Ks,
        StatTest::ChiSquare,
        StatTest::Z,
        StatTest::Wasserstein,
        StatTest::JensenShannon,
        StatTest::Psi,
    ];

    /// Evidently's short name (`ks`, `chisquare`, `z`, `wasserstein`, `jensenshannon`, `psi`).
    pub fn name(self) -> &'static str {
        match self {
            StatTest::Ks => "ks",
            StatTest::ChiSquare => "chisquare",
            StatTest::Z => "z",
            StatTest::Wasserstein => "wasserstein",
            StatTest::JensenShannon => "jensenshannon",
            StatTest::Psi => "psi",
        }
    }

    /// Human-readable name, as Evidently displays it.
    pub fn display_name(self) -> &'static str {
        match self {
            StatTest::Ks => "K-S p_value",
            StatTest::ChiSquare => "chi-square p_value",
            StatTest::Z => "Z-test p_value",
            StatTest::Wasserstein => "Wasserstein distance (normed)",
            StatTest::JensenShannon => "Jensen-Shannon distance",
            StatTest::Psi => "PSI",
        }
    }

    /// Threshold used when none is configured.
    pub fn default_threshold(self) -> f64 {
        match self {
            StatTest::Ks | StatTest::ChiSquare | StatTest::Z => 0.05,
            StatTest::Wasserstein | StatTest::JensenShannon | StatTest::Psi => 0.1,
        }
    }

    /// Whether Evidently allows this test for the given column kind.
    pub fn supports(self, kind: ColumnKind) -> bool {
        match self {
            StatTest::Ks | StatTest::Wasserstein => kind == ColumnKind::Numeric,
            StatTest::ChiSquare | StatTest::Z => kind == ColumnKind::Categorical,
            StatTest::JensenShannon | StatTest::Psi => true,
        }
    }

    /// True for hypothesis tests (score = p-value), false for distances.
    pub fn is_p_value(self) -> bool {
        matches!(self, StatTest::Ks | StatTest::ChiSquare | StatTest::Z)
    }

    /// Evidently's decision rule for a score and threshold.
    pub fn is_drift(self, score: f64, threshold: f64) -> bool {
        match self {
            StatTest::Ks => score <= threshold,
            StatTest::ChiSquare | StatTest::Z => score < threshold,
            StatTest::Wasserstein | StatTest::JensenShannon | StatTest::Psi => score >= threshold,
        }
    }
}

impl fmt::Display for StatTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StatTest {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().replace(['-', '_', ' '], "").as_str() {
            "ks" | "kolmogorovsmirnov" => StatTest::Ks,
            "chisquare" | "chi2" | "chisq" => StatTest::ChiSquare,
            "z" | "ztest" => StatTest::Z,
            "wasserstein" | "wassersteinnorm" => StatTest::Wasserstein,
            "jensenshannon" | "js" => StatTest::JensenShannon,
            "psi" => StatTest::Psi,
            _ => {
                return Err(ReportError::Parse(format!(
                    "unknown stat test `{s}`; expected one of ks, chisquare, z, wasserstein, jensenshannon, psi"
                )))
            }
        })
    }
}

/// Which tests and thresholds to use; `None` everywhere means Evidently's defaults.
///
/// Resolution follows Evidently's `DataDriftOptions`: a per-kind setting
/// (`num_*`/`cat_*`) wins over the all-columns one. The all-columns test is
/// applied only to the columns it supports (e.g. `ks` to numeric columns);
/// the others keep their default test. The threshold, when set, applies to
/// whatever test a column in its scope ends up with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftOptions {
    /// Test for every column that supports it.
    pub stattest: Option<StatTest>,
    /// Test for numeric columns (must support numeric columns).
    pub num_stattest: Option<StatTest>,
    /// Test for categorical columns (must support categorical columns).
    pub cat_stattest: Option<StatTest>,
    /// Threshold for every column.
    pub threshold: Option<f64>,
    /// Threshold for numeric columns.
    pub num_threshold: Option<f64>,
    /// Threshold for categorical columns.
    pub cat_threshold: Option<f64>,
    /// Logarithm base of the Jensen–Shannon distance (Evidently: natural).
    #[serde(default)]
    pub js_base: JsBase,
}

impl DriftOptions {
    /// Rejects per-kind tests that cannot apply to their kind and thresholds that are not finite.
    pub fn validate(&self) -> Result<(), ReportError> {
        if let Some(t) = self.num_stattest {
            if !t.supports(ColumnKind::Numeric) {
                return Err(ReportError::Config(format!(
                    "`{t}` cannot be used for numeric columns (use ks, wasserstein, jensenshannon or psi)"
                )));
            }
        }
        if let Some(t) = self.cat_stattest {
            if !t.supports(ColumnKind::Categorical) {
                return Err(ReportError::Config(format!(
                    "`{t}` cannot be used for categorical columns (use chisquare, z, jensenshannon or psi)"
                )));
            }
        }
        for (name, v) in [
            ("threshold", self.threshold),
            ("num_threshold", self.num_threshold),
            ("cat_threshold", self.cat_threshold),
        ] {
            if let Some(v) = v {
                if !v.is_finite() || v < 0.0 {
                    return Err(ReportError::Config(format!(
                        "{name} must be a finite number >= 0, got {v}"
                    )));
                }
            }
        }
        Ok(())
    }

    fn configured_test(&self, kind: ColumnKind) -> Option<StatTest> {
        let specific = match kind {
            ColumnKind::Numeric => self.num_stattest,
            ColumnKind::Categorical => self.cat_stattest,
        };
        specific.or(self.stattest.filter(|t| t.supports(kind)))
    }

    fn configured_threshold(&self, kind: ColumnKind) -> Option<f64> {
        let specific = match kind {
            ColumnKind::Numeric => self.num_threshold,
            ColumnKind::Categorical => self.cat_threshold,
        };
        specific.or(self.threshold)
    }
}

/// The data of one column, as the drift tests need it.
#[derive(Debug, Clone)]
pub enum ColumnData<'a> {
    /// Sorted numeric samples.
    Numeric {
        /// Sorted reference values.
        reference: &'a [f64],
        /// Sorted current (production) values.
        current: &'a [f64],
    },
    /// Category counts aligned over the union of labels.
    Categorical(CategoryCounts),
}

/// Counts per label in both samples, aligned and sorted by label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryCounts {
    /// Labels, in the order Python would sort them (numerically if all are numbers).
    pub labels: Vec<String>,
    /// Reference count per label.
    pub reference: Vec<u64>,
    /// Current count per label.
    pub current: Vec<u64>,
    /// Labels left out of `labels` by [`CategoryCounts::keep_top`], summed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<OtherCategories>,
}

/// Categories summed into one entry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OtherCategories {
    /// How many labels.
    pub labels: usize,
    /// Their reference count.
    pub reference: u64,
    /// Their current count.
    pub current: u64,
}

impl CategoryCounts {
    /// Aligns two (label, count) lists over the union of their labels.
    pub fn from_counts<'a>(
        reference: impl IntoIterator<Item = (&'a str, u64)>,
        current: impl IntoIterator<Item = (&'a str, u64)>,
    ) -> CategoryCounts {
        let mut map: HashMap<&str, (u64, u64)> = HashMap::new();
        for (l, c) in reference {
            map.entry(l).or_default().0 += c;
        }
        for (l, c) in current {
            map.entry(l).or_default().1 += c;
        }
        let mut labels: Vec<&str> = map.keys().copied().collect();
        sort_labels(&mut labels);
        CategoryCounts {
            reference: labels.iter().map(|l| map[l].0).collect(),
            current: labels.iter().map(|l| map[l].1).collect(),
            labels: labels.into_iter().map(str::to_owned).collect(),
            other: None,
        }
    }

    /// Keeps the `top` labels with the most rows in both samples together (ties: label order)
    /// in label order, and sums the others into `other`.
    pub fn keep_top(&mut self, top: usize) {
        let k = self.labels.len();
        if top >= k {
            return;
        }
        let pooled = |i: usize| self.reference[i] + self.current[i];
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(pooled(i)), i));
        let mut keep = vec![false; k];
        for &i in &order[..top] {
            keep[i] = true;
        }
        let mut other = self.other.unwrap_or(OtherCategories {
            labels: 0,
            reference: 0,
            current: 0,
        });
        for i in order[top..].iter().copied() {
            other.labels += 1;
            other.reference += self.reference[i];
            other.current += self.current[i];
        }
        self.reference = retain_flagged(std::mem::take(&mut self.reference), &keep);
        self.current = retain_flagged(std::mem::take(&mut self.current), &keep);
        self.labels = retain_flagged(std::mem::take(&mut self.labels), &keep);
        self.other = Some(other);
    }
}

/// Reference and production shapes for the report's small charts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Distribution {
    /// Equal-width histogram over the pooled range.
    Numeric {
        /// `HISTOGRAM_BINS + 1` bin edges.
        edges: Vec<f64>,
        /// Reference count per bin.
        reference: Vec<u64>,
        /// Production count per bin.
        current: Vec<u64>,
    },
    /// Counts per label.
    Categorical(CategoryCounts),
}

/// The items of `v` whose flag is set, in order.
fn retain_flagged<T>(v: Vec<T>, flags: &[bool]) -> Vec<T> {
    v.into_iter()
        .zip(flags)
        .filter_map(|(x, &keep)| keep.then_some(x))
        .collect()
}

impl Distribution {
    /// Keeps the `top` largest categories of a categorical distribution (see
    /// [`CategoryCounts::keep_top`]); a histogram has a fixed number of bins already.
    pub fn keep_top(&mut self, top: usize) {
        if let Distribution::Categorical(counts) = self {
            counts.keep_top(top);
        }
    }
}

/// The drift verdict for one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    /// Column name (`PCA_3`, `target`, `prediction`).
    pub column: String,
    /// Numeric or categorical.
    pub kind: ColumnKind,
    /// The test that was applied.
    pub test: StatTest,
    /// Test statistic: KS D, chi-square, z, or the distance itself.
    /// Serialised as `null` when infinite (chi-square with an unseen category).
    #[serde(with = "crate::json::f64_inf_null")]
    pub statistic: f64,
    /// p-value, for hypothesis tests.
    pub p_value: Option<f64>,
    /// The value compared with the threshold (p-value or distance), Evidently's `drift_score`.
    pub score: f64,
    /// Threshold in force.
    pub threshold: f64,
    /// Whether drift was detected.
    pub drifted: bool,
    /// Exact or asymptotic, for KS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ks_method: Option<KsMethod>,
    /// Reference sample size.
    pub reference_rows: usize,
    /// Current sample size.
    pub current_rows: usize,
    /// Distinct values in the pooled samples.
    pub distinct_values: usize,
    /// Shapes for charts.
    pub distribution: Distribution,
}

/// Evidently's default test for a column.
pub fn default_test(kind: ColumnKind, reference_rows: usize, distinct_values: usize) -> StatTest {
    let small = reference_rows <= SMALL_REFERENCE_ROWS;
    match (kind, small) {
        (ColumnKind::Numeric, true) if distinct_values > 5 => StatTest::Ks,
        (_, true) if distinct_values > 2 => StatTest::ChiSquare,
        (_, true) => StatTest::Z,
        (ColumnKind::Numeric, false) if distinct_values > 5 => StatTest::Wasserstein,
        (_, false) => StatTest::JensenShannon,
    }
}

/// Runs the configured (or default) test on one column.
pub fn column_drift(name: &str, data: ColumnData<'_>, options: &DriftOptions) -> ColumnDrift {
    match data {
        ColumnData::Numeric { reference, current } => {
            numeric_drift(name, reference, current, options)
        }
        ColumnData::Categorical(counts) => categorical_drift(name, counts, options),
    }
}

fn numeric_drift(
    name: &str,
    reference: &[f64],
    current: &[f64],
    options: &DriftOptions,
) -> ColumnDrift {
    let kind = ColumnKind::Numeric;
    let distinct = stattest::distinct_count_union(reference, current);
    let test = options
        .configured_test(kind)
        .unwrap_or_else(|| default_test(kind, reference.len(), distinct));
    let threshold = options
        .configured_threshold(kind)
        .unwrap_or_else(|| test.default_threshold());
    let mut ks_method = None;
    let (statistic, p_value) = match test {
        StatTest::Ks => {
            let r = ks::ks_2samp(reference, current);
            ks_method = Some(r.method);
            (r.statistic, Some(r.p_value))
        }
        StatTest::Wasserstein => (stattest::wasserstein_normed(reference, current), None),
        StatTest::JensenShannon => {
            let b = stattest::binned_numeric(reference, current);
            (stattest::jensen_shannon(&b, options.js_base), None)
        }
        StatTest::Psi => (
            stattest::psi(&stattest::binned_numeric(reference, current)),
            None,
        ),
        StatTest::ChiSquare | StatTest::Z => {
            let (r, c) = stattest::value_counts_sorted(reference, current);
            let (s, p) = if test == StatTest::Z {
                stattest::z_test_drift(&r, &c)
            } else {
                stattest::chi_square_drift(&r, &c)
            };
            (s, Some(p))
        }
    };
    let measured = Measured {
        test,
        statistic,
        p_value,
        threshold,
        ks_method,
    };
    let sizes = [reference.len(), current.len(), distinct];
    let distribution = numeric_histogram(reference, current);
    measured.into_column(name, kind, sizes, distribution)
}

/// What a test measured on one column, before it becomes a [`ColumnDrift`].
struct Measured {
    test: StatTest,
    statistic: f64,
    p_value: Option<f64>,
    threshold: f64,
    ks_method: Option<KsMethod>,
}

impl Measured {
    /// The column's result; `sizes` is reference rows, current rows and distinct values.
    fn into_column(
        self,
        name: &str,
        kind: ColumnKind,
        sizes: [usize; 3],
        distribution: Distribution,
    ) -> ColumnDrift {
        // The decision is on the p-value when the test has one, else on the statistic.
        let score = self.p_value.unwrap_or(self.statistic);
        ColumnDrift {
            column: name.to_owned(),
            kind,
            test: self.test,
            statistic: self.statistic,
            p_value: self.p_value,
            score,
            threshold: self.threshold,
            drifted: self.test.is_drift(score, self.threshold),
            ks_method: self.ks_method,
            reference_rows: sizes[0],
            current_rows: sizes[1],
            distinct_values: sizes[2],
            distribution,
        }
    }
}

fn categorical_drift(name: &str, counts: CategoryCounts, options: &DriftOptions) -> ColumnDrift {
    let kind = ColumnKind::Categorical;
    let reference_rows: u64 = counts.reference.iter().sum();
    let current_rows: u64 = counts.current.iter().sum();
    let distinct = counts.labels.len();
    let test = options
        .configured_test(kind)
        .unwrap_or_else(|| default_test(kind, reference_rows as usize, distinct));
    let threshold = options
        .configured_threshold(kind)
        .unwrap_or_else(|| test.default_threshold());
    let (statistic, p_value) = match test {
        StatTest::ChiSquare => {
            let (s, p) = stattest::chi_square_drift(&counts.reference, &counts.current);
            (s, Some(p))
        }
        StatTest::Z => {
            let (s, p) = stattest::z_test_drift(&counts.reference, &counts.current);
            (s, Some(p))
        }
        StatTest::JensenShannon => {
            let b = stattest::binned_categorical(&counts.reference, &counts.current);
            (stattest::jensen_shannon(&b, options.js_base), None)
        }
        StatTest::Psi => (
            stattest::psi(&stattest::binned_categorical(
                &counts.reference,
                &counts.current,
            )),
            None,
        ),
        // Unreachable after DriftOptions::validate / configured_test filtering;
        // fall back to the default rather than panic in a server.
        StatTest::Ks | StatTest::Wasserstein => {
            let fallback = default_test(kind, reference_rows as usize, distinct);
            let opts = DriftOptions {
                cat_stattest: Some(fallback),
                ..options.clone()
            };
            return categorical_drift(name, counts, &opts);
        }
    };
    let measured = Measured {
        test,
        statistic,
        p_value,
        threshold,
        ks_method: None,
    };
    let sizes = [reference_rows as usize, current_rows as usize, distinct];
    measured.into_column(name, kind, sizes, Distribution::Categorical(counts))
}

/// Equal-width histogram of both sorted samples over their pooled range.
pub fn numeric_histogram(reference: &[f64], current: &[f64]) -> Distribution {
    let lo = reference[0].min(current[0]);
    let hi = reference[reference.len() - 1].max(current[current.len() - 1]);
    let (lo, hi) = if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let edges = stattest::linspace(lo, hi, HISTOGRAM_BINS + 1);
    Distribution::Numeric {
        reference: stattest::histogram_sorted(reference, &edges),
        current: stattest::histogram_sorted(current, &edges),
        edges,
    }
}

/// Drift over all columns and the dataset-level verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetDrift {
    /// One entry per column: PCA columns, then `target`, then `prediction`.
    pub columns: Vec<ColumnDrift>,
    /// How many columns drifted.
    pub drifted_columns: usize,
    /// `drifted_columns / columns.len()`.
    pub share: f64,
    /// Share at or above which the dataset is declared drifted.
    pub drift_share: f64,
    /// `share >= drift_share`.
    pub dataset_drift: bool,
}

impl DatasetDrift {
    /// Aggregates column verdicts like Evidently's `get_dataset_drift`.
    pub fn from_columns(columns: Vec<ColumnDrift>, drift_share: f64) -> DatasetDrift {
        let drifted = columns.iter().filter(|c| c.drifted).count();
        let share = if columns.is_empty() {
            0.0
        } else {
            drifted as f64 / columns.len() as f64
        };
        DatasetDrift {
            drifted_columns: drifted,
            share,
            drift_share,
            dataset_drift: share >= drift_share,
            columns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tympan_testkit::synth::sample;

    fn sorted(mut v: Vec<f64>) -> Vec<f64> {
        v.sort_by(f64::total_cmp);
        v
    }

    #[test]
    fn default_selection_follows_evidently() {
        use ColumnKind::*;
        assert_eq!(default_test(Numeric, 1000, 6), StatTest::Ks);
        assert_eq!(default_test(Numeric, 1000, 5), StatTest::ChiSquare);
        assert_eq!(default_test(Numeric, 1000, 2), StatTest::Z);
        assert_eq!(default_test(Categorical, 1000, 3), StatTest::ChiSquare);
        assert_eq!(default_test(Categorical, 10, 2), StatTest::Z);
        assert_eq!(default_test(Categorical, 10, 1), StatTest::Z);
        assert_eq!(default_test(Numeric, 1001, 6), StatTest::Wasserstein);
        assert_eq!(default_test(Numeric, 1001, 5), StatTest::JensenShannon);
        assert_eq!(default_test(Categorical, 1001, 50), StatTest::JensenShannon);
    }

    #[test]
    fn detects_shift_and_not_same_distribution() {
        let opts = DriftOptions::default();
        for &(n_ref, n_cur) in &[(800usize, 300usize), (2500, 500)] {
            let r = sorted(sample(1, n_ref, 0.0, 1.0, None));
            let same = sorted(sample(2, n_cur, 0.0, 1.0, None));
            let shifted = sorted(sample(3, n_cur, 0.5, 1.0, None));
            let d_same = column_drift(
                "x",
                ColumnData::Numeric {
                    reference: &r,
                    current: &same,
                },
                &opts,
            );
            let d_shift = column_drift(
                "x",
                ColumnData::Numeric {
                    reference: &r,
                    current: &shifted,
                },
                &opts,
            );
            assert!(!d_same.drifted, "{d_same:?}");
            assert!(d_shift.drifted, "{d_shift:?}");
            let expected = if n_ref <= 1000 {
                StatTest::Ks
            } else {
                StatTest::Wasserstein
            };
            assert_eq!(d_shift.test, expected);
        }
    }

    #[test]
    fn options_resolution_and_validation() {
        let o = DriftOptions {
            stattest: Some(StatTest::Ks),
            threshold: Some(0.01),
            ..Default::default()
        };
        assert_eq!(o.configured_test(ColumnKind::Numeric), Some(StatTest::Ks));
        assert_eq!(o.configured_test(ColumnKind::Categorical), None);
        assert_eq!(o.configured_threshold(ColumnKind::Categorical), Some(0.01));
        let bad = DriftOptions {
            cat_stattest: Some(StatTest::Wasserstein),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        assert!("JS".parse::<StatTest>().unwrap() == StatTest::JensenShannon);
        assert!("nope".parse::<StatTest>().is_err());
    }

    #[test]
    fn label_sorting_matches_python() {
        let mut l = vec!["10", "9", "1"];
        sort_labels(&mut l);
        assert_eq!(l, vec!["1", "9", "10"]);
        let mut l = vec!["b", "B", "a", "10"];
        sort_labels(&mut l);
        assert_eq!(l, vec!["10", "B", "a", "b"]);
    }
}
