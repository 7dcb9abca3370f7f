//! Drift of a window of unlabelled embeddings against the reference ones, with the three
//! methods Evidently offers for embeddings, each made sound for small windows:
//!
//! - **Domain classifier**: a logistic regression learns to tell reference rows from window
//!   rows; its ROC AUC on rows it did not see (stratified k-fold, out-of-fold scores) is the
//!   score. Drift when the AUC passes the threshold (0.55, Evidently's) *and* is significantly
//!   above 0.5 (one-sided Mann-Whitney test at `alpha`): with 30 rows an AUC of 0.6 is noise.
//! - **MMD**: the unbiased squared maximum mean discrepancy with an RBF kernel whose width is the
//!   median pairwise distance (Evidently's rule), and its p-value from label permutations.
//! - **Share of drifted components**: a two-sample Kolmogorov-Smirnov test per component at
//!   `alpha`; drift when more than `share_threshold` of them drift (exactly Evidently's
//!   `ratio(component_stattest="ks")`). Evidently's default `ratio()` (a normed Wasserstein
//!   distance over 0.1 per component, whatever the sizes; the labelled report's per-column default
//!   once the reference has more than 1,000 rows) takes no account of the window's size: 100
//!   takes of speakers the model knows flag half of the components, a false alarm that a test of
//!   the same data does not raise (`tests/evidently_embeddings.rs`).
//!
//! The window drifts when at least two of the three methods say so.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;

use crate::ks::ks_2samp;
use crate::stattest::normal_cdf;

/// Settings of [`embedding_drift`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmbeddingDriftConfig {
    /// Domain classifier: ROC AUC above which the window drifts.
    pub auc_threshold: f64,
    /// Significance level of the AUC test, the MMD permutation test and each component's test.
    pub alpha: f64,
    /// Share of drifted components above which the window drifts.
    pub share_threshold: f64,
    /// Folds of the domain classifier's cross-validation.
    pub folds: usize,
    /// Label permutations of the MMD test.
    pub permutations: usize,
    /// Reference rows drawn (without replacement) for the classifier and the MMD; the component
    /// tests use them all.
    pub max_reference: usize,
    /// Seed of every random draw: the same inputs give the same figures.
    pub seed: u64,
}

impl Default for EmbeddingDriftConfig {
    fn default() -> Self {
        Self {
            auc_threshold: 0.55,
            alpha: 0.05,
            share_threshold: 0.2,
            folds: 5,
            permutations: 200,
            max_reference: 1000,
            seed: 0,
        }
    }
}

/// What the three methods found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbeddingDrift {
    /// Rows of the window.
    pub window_rows: usize,
    /// Reference rows compared by the classifier and the MMD.
    pub reference_rows: usize,
    /// Out-of-fold ROC AUC of the domain classifier.
    pub domain_auc: f64,
    /// One-sided p-value of that AUC against 0.5.
    pub domain_auc_p_value: f64,
    /// Whether the classifier finds drift.
    pub domain_drift: bool,
    /// Unbiased squared MMD (RBF kernel).
    pub mmd2: f64,
    /// Its permutation p-value.
    pub mmd_p_value: f64,
    /// Whether the MMD finds drift.
    pub mmd_drift: bool,
    /// Components whose KS test rejects at `alpha`.
    pub drifted_components: usize,
    /// All components.
    pub components: usize,
    /// `drifted_components / components`.
    pub drifted_share: f64,
    /// Whether the share passes its threshold.
    pub share_drift: bool,
    /// At least two of the three.
    pub drift: bool,
}

/// Why no drift could be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmbeddingDriftError {
    /// Too few rows on one side.
    #[error("embedding drift needs at least {min} rows on each side (reference {reference}, window {window})")]
    TooFewRows {
        /// The minimum.
        min: usize,
        /// Reference rows.
        reference: usize,
        /// Window rows.
        window: usize,
    },
    /// The two sides have vectors of different lengths.
    #[error("the reference vectors have {reference} values, the window's {window}")]
    Width {
        /// Reference width.
        reference: usize,
        /// Window width.
        window: usize,
    },
}

/// Rows a side in the MMD test at most (the newest of the window).
pub const MMD_ROWS: usize = 400;

/// Fewest rows per side: below, no fold holds both sides and no test has power.
pub const MIN_ROWS: usize = 10;

/// Compares a window of embeddings with the reference ones (see the module documentation).
pub fn embedding_drift(
    reference: &[&[f32]],
    window: &[&[f32]],
    config: &EmbeddingDriftConfig,
) -> Result<EmbeddingDrift, EmbeddingDriftError> {
    if reference.len() < MIN_ROWS || window.len() < MIN_ROWS {
        return Err(EmbeddingDriftError::TooFewRows {
            min: MIN_ROWS,
            reference: reference.len(),
            window: window.len(),
        });
    }
    let dim = reference[0].len();
    if let Some(bad) = reference.iter().chain(window).find(|v| v.len() != dim) {
        return Err(EmbeddingDriftError::Width {
            reference: dim,
            window: bad.len(),
        });
    }
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut drawn: Vec<&[f32]> = reference.to_vec();
    drawn.shuffle(&mut rng);
    drawn.truncate(config.max_reference.max(MIN_ROWS));

    let (domain_auc, domain_auc_p_value) = domain_classifier(&drawn, window, config, &mut rng);
    let domain_drift = domain_auc > config.auc_threshold && domain_auc_p_value < config.alpha;
    // The kernel matrix grows with the square of the rows: at most MMD_ROWS a side.
    let recent = &window[window.len().saturating_sub(MMD_ROWS)..];
    let (mmd2, mmd_p_value) = mmd_test(
        &drawn[..drawn.len().min(MMD_ROWS)],
        recent,
        config.permutations,
        &mut rng,
    );
    let mmd_drift = mmd_p_value < config.alpha;
    let drifted_components = (0..dim)
        .filter(|&c| {
            let column = |rows: &[&[f32]]| {
                let mut values: Vec<f64> = rows.iter().map(|v| f64::from(v[c])).collect();
                values.sort_by(f64::total_cmp);
                values
            };
            ks_2samp(&column(reference), &column(window)).p_value < config.alpha
        })
        .count();
    let drifted_share = drifted_components as f64 / dim.max(1) as f64;
    let share_drift = drifted_share > config.share_threshold;
    let votes = [domain_drift, mmd_drift, share_drift]
        .iter()
        .filter(|&&d| d)
        .count();
    Ok(EmbeddingDrift {
        window_rows: window.len(),
        reference_rows: drawn.len(),
        domain_auc,
        domain_auc_p_value,
        domain_drift,
        mmd2,
        mmd_p_value,
        mmd_drift,
        drifted_components,
        components: dim,
        drifted_share,
        share_drift,
        drift: votes >= 2,
    })
}

/// Out-of-fold ROC AUC of a logistic regression telling window rows (positive) from reference
/// rows, and its one-sided p-value against 0.5.
fn domain_classifier(
    reference: &[&[f32]],
    window: &[&[f32]],
    config: &EmbeddingDriftConfig,
    rng: &mut StdRng,
) -> (f64, f64) {
    let rows: Vec<(&[f32], bool)> = reference
        .iter()
        .map(|v| (*v, false))
        .chain(window.iter().map(|v| (*v, true)))
        .collect();
    let (mean, scale) = standardisation(&rows);
    let folds = stratified_folds(&rows, config.folds.max(2), rng);
    let mut scores = vec![0.5; rows.len()];
    for test in &folds {
        let in_test = {
            let mut mask = vec![false; rows.len()];
            test.iter().for_each(|&i| mask[i] = true);
            mask
        };
        let train: Vec<usize> = (0..rows.len()).filter(|&i| !in_test[i]).collect();
        let x = matrix(&rows, &train, &mean, &scale);
        let y = Array1::from_iter(train.iter().map(|&i| rows[i].1));
        // Unweighted: folds keep the two sides' ratio, so the models' scores pool fairly, and
        // the AUC is a ranking figure that the ratio does not bias.
        let dataset = Dataset::new(x, y);
        let fitted = LogisticRegression::default()
            .alpha(1.0)
            .max_iterations(200)
            .fit(&dataset);
        let Ok(model) = fitted else {
            continue;
        };
        let test_x = matrix(&rows, test, &mean, &scale);
        // linfa scores the more numerous class of the training rows: turn that into the
        // window's probability.
        let window_is_scored = model.labels().pos.class;
        let p = model.predict_probabilities(&test_x);
        for (k, &i) in test.iter().enumerate() {
            scores[i] = if window_is_scored { p[k] } else { 1.0 - p[k] };
        }
    }
    let labels: Vec<bool> = rows.iter().map(|r| r.1).collect();
    let auc = roc_auc(&scores, &labels);
    let (n1, n0) = (window.len() as f64, reference.len() as f64);
    // Mann-Whitney: under no difference the AUC is about normal around 0.5 with this variance.
    let sd = ((n0 + n1 + 1.0) / (12.0 * n0 * n1)).sqrt();
    (auc, 1.0 - normal_cdf((auc - 0.5) / sd))
}

fn standardisation(rows: &[(&[f32], bool)]) -> (Vec<f64>, Vec<f64>) {
    let dim = rows[0].0.len();
    let n = rows.len() as f64;
    let mut mean = vec![0.0; dim];
    for (v, _) in rows {
        for (m, x) in mean.iter_mut().zip(*v) {
            *m += f64::from(*x) / n;
        }
    }
    let mut var = vec![0.0; dim];
    for (v, _) in rows {
        for ((s, x), m) in var.iter_mut().zip(*v).zip(&mean) {
            *s += (f64::from(*x) - m).powi(2) / n;
        }
    }
    let scale = var
        .into_iter()
        .map(|s| if s > 0.0 { s.sqrt() } else { 1.0 })
        .collect();
    (mean, scale)
}

fn matrix(rows: &[(&[f32], bool)], take: &[usize], mean: &[f64], scale: &[f64]) -> Array2<f32> {
    let dim = mean.len();
    Array2::from_shape_fn((take.len(), dim), |(r, c)| {
        ((f64::from(rows[take[r]].0[c]) - mean[c]) / scale[c]) as f32
    })
}

/// Each side's rows shuffled and dealt round-robin to `k` folds.
fn stratified_folds(rows: &[(&[f32], bool)], k: usize, rng: &mut StdRng) -> Vec<Vec<usize>> {
    let mut folds = vec![Vec::new(); k];
    for side in [false, true] {
        let mut members: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].1 == side).collect();
        members.shuffle(rng);
        for (j, i) in members.into_iter().enumerate() {
            folds[j % k].push(i);
        }
    }
    folds
}

/// ROC AUC of `scores` for `positive` labels, ties counted half (the Mann-Whitney U over the
/// product of the two sides' sizes).
pub fn roc_auc(scores: &[f32], positive: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Midranks over ties, 1-based.
    let mut ranks = vec![0.0; scores.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let midrank = (start + end + 1) as f64 / 2.0;
        order[start..end].iter().for_each(|&i| ranks[i] = midrank);
        start = end;
    }
    let n1 = positive.iter().filter(|&&p| p).count() as f64;
    let n0 = positive.len() as f64 - n1;
    if n1 == 0.0 || n0 == 0.0 {
        return 0.5;
    }
    let rank_sum: f64 = ranks
        .iter()
        .zip(positive)
        .filter(|(_, &p)| p)
        .map(|(r, _)| r)
        .sum();
    (rank_sum - n1 * (n1 + 1.0) / 2.0) / (n1 * n0)
}

/// Unbiased squared MMD between the two samples (RBF kernel, width the median distance between
/// them) and its p-value over `permutations` random relabellings of the pooled rows.
fn mmd_test(
    reference: &[&[f32]],
    window: &[&[f32]],
    permutations: usize,
    rng: &mut StdRng,
) -> (f64, f64) {
    let pooled: Vec<&[f32]> = reference.iter().chain(window).copied().collect();
    let n = pooled.len();
    let mut d2 = vec![0.0f64; n * n];
    for i in 0..n {
        for j in (i + 1)..n {
            let d: f64 = pooled[i]
                .iter()
                .zip(pooled[j])
                .map(|(a, b)| f64::from(a - b).powi(2))
                .sum();
            d2[i * n + j] = d;
            d2[j * n + i] = d;
        }
    }
    let m = reference.len();
    let mut cross: Vec<f64> = (0..m)
        .flat_map(|i| (m..n).map(move |j| (i, j)))
        .map(|(i, j)| d2[i * n + j].sqrt())
        .collect();
    let mid = cross.len() / 2;
    let median = *cross.select_nth_unstable_by(mid, f64::total_cmp).1;
    let gamma = if median > 0.0 {
        1.0 / (median * median)
    } else {
        1.0
    };
    let kernel: Vec<f64> = d2.iter().map(|d| (-gamma * d).exp()).collect();
    let statistic = |is_window: &[bool]| mmd2_unbiased(&kernel, n, is_window);
    let mut labels: Vec<bool> = (0..n).map(|i| i >= m).collect();
    let observed = statistic(&labels);
    let mut at_least = 0usize;
    for _ in 0..permutations {
        labels.shuffle(rng);
        if statistic(&labels) >= observed {
            at_least += 1;
        }
    }
    (
        observed.max(0.0),
        (at_least + 1) as f64 / (permutations + 1) as f64,
    )
}

fn mmd2_unbiased(kernel: &[f64], n: usize, is_window: &[bool]) -> f64 {
    let (mut xx, mut yy, mut xy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let row = &kernel[i * n..(i + 1) * n];
        for j in 0..n {
            if i == j {
                continue;
            }
            match (is_window[i], is_window[j]) {
                (false, false) => xx += row[j],
                (true, true) => yy += row[j],
                _ => xy += row[j],
            }
        }
    }
    let m = is_window.iter().filter(|&&w| !w).count() as f64;
    let w = n as f64 - m;
    xx / (m * (m - 1.0)) + yy / (w * (w - 1.0)) - xy / (m * w)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gaussian rows from a seeded generator, shifted by `shift` on the first `shifted`
    /// components.
    fn rows(n: usize, dim: usize, shift: f32, shifted: usize, seed: u64) -> Vec<Vec<f32>> {
        use rand::Rng;
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                (0..dim)
                    .map(|c| {
                        // Box-Muller.
                        let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
                        let z = (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
                        z as f32 + if c < shifted { shift } else { 0.0 }
                    })
                    .collect()
            })
            .collect()
    }

    fn refs(rows: &[Vec<f32>]) -> Vec<&[f32]> {
        rows.iter().map(Vec::as_slice).collect()
    }

    #[test]
    fn auc_counts_ties_half_as_scikit_learn_does() {
        // scikit-learn's roc_auc_score([0, 0, 1, 1], scores) for the same scores.
        assert_eq!(
            roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
            0.75
        );
        assert_eq!(
            roc_auc(&[0.1, 0.4, 0.4, 0.3], &[false, false, true, true]),
            0.625
        );
        assert_eq!(
            roc_auc(&[0.1, 0.4, 0.4, 0.8], &[false, false, true, true]),
            0.875
        );
    }

    #[test]
    fn a_shifted_window_drifts_and_a_fresh_sample_of_the_same_law_does_not() {
        let config = EmbeddingDriftConfig {
            permutations: 100,
            max_reference: 400,
            ..Default::default()
        };
        let reference = rows(1500, 16, 0.0, 0, 1);
        let same = rows(100, 16, 0.0, 0, 2);
        let shifted = rows(100, 16, 0.6, 8, 3);
        let calm = embedding_drift(&refs(&reference), &refs(&same), &config).unwrap();
        assert!(!calm.drift, "{calm:?}");
        assert!(
            calm.domain_auc < 0.55 && calm.drifted_share <= 0.2,
            "{calm:?}"
        );
        let moved = embedding_drift(&refs(&reference), &refs(&shifted), &config).unwrap();
        assert!(
            moved.drift && moved.domain_drift && moved.mmd_drift && moved.share_drift,
            "{moved:?}"
        );
        assert!(moved.domain_auc > 0.8, "{moved:?}");
        // Small windows: 12 rows of the same law stay calm.
        let tiny = rows(12, 16, 0.0, 0, 4);
        let tiny = embedding_drift(&refs(&reference), &refs(&tiny), &config).unwrap();
        assert!(!tiny.drift, "{tiny:?}");
        assert!(
            embedding_drift(&refs(&reference), &refs(&rows(5, 16, 0.0, 0, 5)), &config).is_err()
        );
    }
}
