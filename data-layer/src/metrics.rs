//! Classification quality (target vs prediction) with scikit-learn's conventions, computed once
//! for the whole workspace: the report's [`Classification`] and the registry's
//! [`ClassificationMetrics`] come from the same confusion matrix, over labels in the one order of
//! [`sort_labels`] (numbers as numbers: "2" before "10").
//!
//!
//! * Labels are the sorted union of targets and predictions (`unique_labels`),
//!   so a class that is only ever predicted, or never predicted, still gets a
//!   row and counts in the macro averages.
//! * An undefined ratio (no predicted samples for precision, no true samples
//!   for recall) is 0, as with `zero_division="warn"`, and a warning is recorded.
//! * F1 is `2·TP / (2·TP + FP + FN)` (scikit-learn ≥ 1.3).
//! * Balanced accuracy averages recall over the classes that have true
//!   samples only, as `balanced_accuracy_score` does.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{sort_labels, Labels};

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// Class label.
    pub label: String,
    /// TP / (TP + FP); 0 when nothing was predicted as this class.
    pub precision: f64,
    /// TP / (TP + FN); 0 when the class never occurs in the targets.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Number of rows whose target is this class.
    pub support: u64,
    /// Number of rows predicted as this class.
    pub predicted: u64,
}

/// Averaged precision, recall and F1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Averages {
    /// Mean precision.
    pub precision: f64,
    /// Mean recall.
    pub recall: f64,
    /// Mean F1.
    pub f1: f64,
}

/// All classification metrics of a labelled sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// Number of rows.
    pub rows: u64,
    /// Sorted union of target and predicted labels; indexes the matrix.
    pub labels: Vec<String>,
    /// Share of rows predicted correctly.
    pub accuracy: f64,
    /// Mean recall over classes present in the targets.
    pub balanced_accuracy: f64,
    /// Unweighted mean over all labels.
    pub macro_avg: Averages,
    /// Mean weighted by support.
    pub weighted_avg: Averages,
    /// One entry per label.
    pub per_class: Vec<ClassMetrics>,
    /// `confusion_matrix[i][j]`: rows with target `labels[i]` predicted as `labels[j]`.
    pub confusion_matrix: Vec<Vec<u64>>,
    /// scikit-learn's `UndefinedMetricWarning`s, as text.
    pub warnings: Vec<String>,
}

/// Metrics from two label columns of equal length (at least one row).
pub fn classify(targets: &Labels, predictions: &Labels) -> Classification {
    assert_eq!(
        targets.len(),
        predictions.len(),
        "target and prediction lengths differ"
    );
    // Union of labels, sorted once; each column's codes map into it.
    let mut union: Vec<&str> = targets
        .names()
        .iter()
        .chain(predictions.names())
        .map(String::as_str)
        .collect::<std::collections::HashSet<_>>()
        .into_iter()
        .collect();
    sort_labels(&mut union);
    let index: HashMap<&str, usize> = union.iter().enumerate().map(|(i, &l)| (l, i)).collect();
    let t_map: Vec<usize> = targets.names().iter().map(|l| index[l.as_str()]).collect();
    let p_map: Vec<usize> = predictions
        .names()
        .iter()
        .map(|l| index[l.as_str()])
        .collect();
    let k = union.len();
    let mut cm = vec![vec![0u64; k]; k];
    for (&t, &p) in targets.codes().iter().zip(predictions.codes()) {
        cm[t_map[t as usize]][p_map[p as usize]] += 1;
    }
    from_confusion(union.into_iter().map(str::to_owned).collect(), cm)
}

/// Convenience for slices of labels (tests, small in-memory samples).
pub fn classify_str<S: AsRef<str>>(targets: &[S], predictions: &[S]) -> Classification {
    let t: Labels = targets.iter().collect();
    let p: Labels = predictions.iter().collect();
    classify(&t, &p)
}

/// Metrics from a confusion matrix over `labels`.
pub fn from_confusion(labels: Vec<String>, cm: Vec<Vec<u64>>) -> Classification {
    let k = labels.len();
    let rows: u64 = cm.iter().flatten().sum();
    let support: Vec<u64> = cm.iter().map(|r| r.iter().sum()).collect();
    let predicted: Vec<u64> = (0..k).map(|j| cm.iter().map(|r| r[j]).sum()).collect();
    let tp: Vec<u64> = (0..k).map(|i| cm[i][i]).collect();
    let ratio = |num: u64, den: u64| {
        if den == 0 {
            0.0
        } else {
            num as f64 / den as f64
        }
    };
    let mut per_class = Vec::with_capacity(k);
    let (mut no_pred, mut no_true) = (Vec::new(), Vec::new());
    for i in 0..k {
        if predicted[i] == 0 {
            no_pred.push(labels[i].clone());
        }
        if support[i] == 0 {
            no_true.push(labels[i].clone());
        }
        per_class.push(ClassMetrics {
            label: labels[i].clone(),
            precision: ratio(tp[i], predicted[i]),
            recall: ratio(tp[i], support[i]),
            f1: ratio(2 * tp[i], support[i] + predicted[i]),
            support: support[i],
            predicted: predicted[i],
        });
    }
    let mean = |f: &dyn Fn(&ClassMetrics) -> f64| {
        if k == 0 {
            0.0
        } else {
            per_class.iter().map(f).sum::<f64>() / k as f64
        }
    };
    let wmean = |f: &dyn Fn(&ClassMetrics) -> f64| {
        if rows == 0 {
            0.0
        } else {
            per_class
                .iter()
                .map(|c| f(c) * c.support as f64)
                .sum::<f64>()
                / rows as f64
        }
    };
    let macro_avg = Averages {
        precision: mean(&|c| c.precision),
        recall: mean(&|c| c.recall),
        f1: mean(&|c| c.f1),
    };
    let weighted_avg = Averages {
        precision: wmean(&|c| c.precision),
        recall: wmean(&|c| c.recall),
        f1: wmean(&|c| c.f1),
    };
    let present: Vec<&ClassMetrics> = per_class.iter().filter(|c| c.support > 0).collect();
    let balanced_accuracy = if present.is_empty() {
        0.0
    } else {
        present.iter().map(|c| c.recall).sum::<f64>() / present.len() as f64
    };
    let mut warnings = Vec::new();
    if !no_pred.is_empty() {
        warnings.push(format!(
            "Precision is ill-defined and being set to 0.0 in labels with no predicted samples: {}",
            quote_list(&no_pred)
        ));
    }
    if !no_true.is_empty() {
        warnings.push(format!(
            "Recall is ill-defined and being set to 0.0 in labels with no true samples: {}",
            quote_list(&no_true)
        ));
        warnings.push(
            "y_pred contains classes not in y_true (ignored by balanced accuracy)".to_owned(),
        );
    }
    Classification {
        rows,
        accuracy: ratio(tp.iter().sum(), rows),
        balanced_accuracy,
        macro_avg,
        weighted_avg,
        per_class,
        confusion_matrix: cm,
        labels,
        warnings,
    }
}

fn quote_list(labels: &[String]) -> String {
    let shown: Vec<String> = labels.iter().take(10).map(|l| format!("{l:?}")).collect();
    let more = labels.len().saturating_sub(10);
    if more > 0 {
        format!("[{}, … {more} more]", shown.join(", "))
    } else {
        format!("[{}]", shown.join(", "))
    }
}

/// The summary kept with each model in the registry and shown by `/model`.
/// Precision, recall, F1 and support of one class, as the registry stores them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// The class label.
    pub label: String,
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1 score.
    pub f1: f64,
    /// Number of true rows of this class.
    pub support: usize,
}

/// Quality of predictions against true labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationMetrics {
    /// Number of rows.
    pub rows: usize,
    /// Share of correct predictions.
    pub accuracy: f64,
    /// Mean recall over the classes present in the targets.
    pub balanced_accuracy: f64,
    /// Unweighted mean of the per-class F1.
    pub macro_f1: f64,
    /// Unweighted mean precision.
    pub macro_precision: f64,
    /// Unweighted mean recall.
    pub macro_recall: f64,
    /// Support-weighted mean F1.
    pub weighted_f1: f64,
    /// Per-class scores, in `labels` order.
    pub per_class: Vec<ClassScores>,
    /// Labels of the confusion matrix rows (truth) and columns (prediction).
    pub labels: Vec<String>,
    /// `confusion[i][j]`: rows of true class `labels[i]` predicted as `labels[j]`.
    pub confusion: Vec<Vec<usize>>,
}

impl ClassificationMetrics {
    /// Computes every metric from parallel slices of true and predicted labels.
    pub fn compute<S: AsRef<str>>(targets: &[S], predictions: &[S]) -> Self {
        assert_eq!(
            targets.len(),
            predictions.len(),
            "one prediction per target"
        );
        Self::from(&classify_str(targets, predictions))
    }
}

impl From<&Classification> for ClassificationMetrics {
    fn from(c: &Classification) -> Self {
        Self {
            rows: c.rows as usize,
            accuracy: c.accuracy,
            balanced_accuracy: c.balanced_accuracy,
            macro_f1: c.macro_avg.f1,
            macro_precision: c.macro_avg.precision,
            macro_recall: c.macro_avg.recall,
            weighted_f1: c.weighted_avg.f1,
            per_class: c
                .per_class
                .iter()
                .map(|m| ClassScores {
                    label: m.label.clone(),
                    precision: m.precision,
                    recall: m.recall,
                    f1: m.f1,
                    support: m.support as usize,
                })
                .collect(),
            labels: c.labels.clone(),
            confusion: c
                .confusion_matrix
                .iter()
                .map(|row| row.iter().map(|&n| n as usize).collect())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_and_single_class_predictions() {
        let c = classify_str(&["a", "b", "a"], &["a", "b", "a"]);
        assert_eq!(c.accuracy, 1.0);
        assert_eq!(c.macro_avg.f1, 1.0);
        assert!(c.warnings.is_empty());

        let c = classify_str(&["a", "b", "c", "a"], &["a", "a", "a", "a"]);
        assert_eq!(c.labels, vec!["a", "b", "c"]);
        assert_eq!(c.accuracy, 0.5);
        assert_eq!(c.per_class[1].precision, 0.0);
        assert_eq!(c.per_class[0].precision, 0.5);
        assert!((c.balanced_accuracy - 1.0 / 3.0).abs() < 1e-15);
        assert_eq!(c.warnings.len(), 1);
    }

    #[test]
    fn label_only_in_predictions_counts_in_macro_but_not_balanced() {
        let c = classify_str(&["a", "a"], &["a", "z"]);
        assert_eq!(c.labels, vec!["a", "z"]);
        assert_eq!(c.confusion_matrix, vec![vec![1, 1], vec![0, 0]]);
        assert_eq!(c.balanced_accuracy, 0.5);
        // recall(a) = 0.5, recall(z) = 0 (no true samples)
        assert_eq!(c.macro_avg.recall, 0.25);
        assert!(c.warnings.iter().any(|w| w.contains("no true samples")));
    }

    #[test]
    fn matches_scikit_learn_on_a_small_case() {
        // sklearn: y_true = [a a b b c], y_pred = [a b b b a]
        // accuracy 0.6, balanced_accuracy (0.5 + 1 + 0) / 3, macro F1 (0.5 + 0.8 + 0) / 3.
        let t = ["a", "a", "b", "b", "c"];
        let p = ["a", "b", "b", "b", "a"];
        let m = ClassificationMetrics::compute(&t, &p);
        assert!((m.accuracy - 0.6).abs() < 1e-12);
        assert!((m.balanced_accuracy - 0.5).abs() < 1e-12);
        assert!((m.macro_f1 - 1.3 / 3.0).abs() < 1e-12);
        assert!((m.weighted_f1 - (0.5 * 2.0 + 0.8 * 2.0) / 5.0).abs() < 1e-12);
        assert_eq!(
            m.confusion,
            vec![vec![1, 1, 0], vec![0, 2, 0], vec![1, 0, 0]]
        );
    }

    #[test]
    fn numeric_labels_in_the_same_order_for_the_registry_and_the_report() {
        // Core once sorted labels as text ("10" before "2") and the report as numbers.
        let t = ["2", "10", "2"];
        let m = ClassificationMetrics::compute(&t, &t);
        assert_eq!(m.labels, ["2", "10"]);
        assert_eq!(classify_str(&t, &t).labels, m.labels);
    }
}
