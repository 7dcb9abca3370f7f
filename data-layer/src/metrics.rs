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

/// The classes a [`Classification`] does not list one by one, summed: the last row and column of
/// its confusion matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OtherClasses {
    /// How many classes.
    pub classes: usize,
    /// Rows whose target is one of them.
    pub support: u64,
    /// Rows predicted as one of them.
    pub predicted: u64,
    /// Rows of one of them predicted as that same class.
    pub correct: u64,
    /// Mean F1 of those classes (their part of the macro average).
    pub mean_f1: f64,
}

/// All classification metrics of a labelled sample.
///
/// Every figure (accuracy, the averages, the warnings) is computed over all classes. The
/// per-class rows and the confusion matrix list the classes of `labels` only, which
/// [`classify_top`] limits to the classes with the most support; the others are summed in
/// `other`, so the size of the listing does not grow with the number of classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// Number of rows.
    pub rows: u64,
    /// Number of classes (the union of target and predicted labels) the averages are over.
    #[serde(default)]
    pub classes: usize,
    /// The classes listed, in label order; they index the matrix.
    pub labels: Vec<String>,
    /// Share of rows predicted correctly.
    pub accuracy: f64,
    /// Mean recall over classes present in the targets.
    pub balanced_accuracy: f64,
    /// Unweighted mean over all labels.
    pub macro_avg: Averages,
    /// Mean weighted by support.
    pub weighted_avg: Averages,
    /// One entry per listed label.
    pub per_class: Vec<ClassMetrics>,
    /// The classes not listed, summed (`None` when every class is listed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<OtherClasses>,
    /// `confusion_matrix[i][j]`: rows with target `labels[i]` predicted as `labels[j]`; when
    /// `other` is set, one more row and column, last, count the rows whose target or prediction
    /// is a class not listed (other → other holds their confusions among themselves too).
    pub confusion_matrix: Vec<Vec<u64>>,
    /// scikit-learn's `UndefinedMetricWarning`s, as text.
    pub warnings: Vec<String>,
}

/// Metrics from two label columns of equal length (at least one row), every class listed.
pub fn classify(targets: &Labels, predictions: &Labels) -> Classification {
    classify_top(targets, predictions, usize::MAX)
}

/// Metrics from two label columns of equal length, listing the `top` classes with the most
/// support (then the most predictions, then the first in label order) and summing the others.
///
/// Time and memory are linear in rows plus classes, and the matrix has at most `(top + 1)²`
/// cells, however many distinct labels the columns hold.
pub fn classify_top(targets: &Labels, predictions: &Labels, top: usize) -> Classification {
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
    let pairs = || {
        targets
            .codes()
            .iter()
            .zip(predictions.codes())
            .map(|(&t, &p)| (t_map[t as usize], p_map[p as usize]))
    };
    let mut counts = ClassCounts::new(union.len());
    for (t, p) in pairs() {
        counts.add(t, p, 1);
    }
    let listed = counts.top(top);
    // Each class's row and column in the listed matrix: its place, or the `other` slot.
    let other_slot = listed.len();
    let mut slot = vec![other_slot; union.len()];
    for (s, &i) in listed.iter().enumerate() {
        slot[i] = s;
    }
    let size = other_slot + usize::from(listed.len() < union.len());
    let mut cm = vec![vec![0u64; size]; size];
    for (t, p) in pairs() {
        cm[slot[t]][slot[p]] += 1;
    }
    let labels = union.into_iter().map(str::to_owned).collect();
    summarize(labels, &counts, &listed, cm)
}

/// Convenience for slices of labels (tests, small in-memory samples).
pub fn classify_str<S: AsRef<str>>(targets: &[S], predictions: &[S]) -> Classification {
    let t: Labels = targets.iter().collect();
    let p: Labels = predictions.iter().collect();
    classify(&t, &p)
}

/// Metrics from a confusion matrix over `labels`, every class listed.
pub fn from_confusion(labels: Vec<String>, cm: Vec<Vec<u64>>) -> Classification {
    let mut counts = ClassCounts::new(labels.len());
    for (i, row) in cm.iter().enumerate() {
        for (j, &n) in row.iter().enumerate() {
            counts.add(i, j, n);
        }
    }
    let all: Vec<usize> = (0..labels.len()).collect();
    summarize(labels, &counts, &all, cm)
}

/// What every metric is made of: per class, the rows it is the target of, the rows predicted as
/// it, and the rows that are both.
struct ClassCounts {
    support: Vec<u64>,
    predicted: Vec<u64>,
    tp: Vec<u64>,
}

impl ClassCounts {
    fn new(k: usize) -> Self {
        Self {
            support: vec![0; k],
            predicted: vec![0; k],
            tp: vec![0; k],
        }
    }

    fn add(&mut self, target: usize, prediction: usize, n: u64) {
        self.support[target] += n;
        self.predicted[prediction] += n;
        if target == prediction {
            self.tp[target] += n;
        }
    }

    /// The `top` classes by support, then predictions, then label order; in label order.
    fn top(&self, top: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.support.len()).collect();
        if top < order.len() {
            order.sort_by_key(|&i| {
                (
                    std::cmp::Reverse(self.support[i]),
                    std::cmp::Reverse(self.predicted[i]),
                    i,
                )
            });
            order.truncate(top);
            order.sort_unstable();
        }
        order
    }
}

/// Every metric from the per-class counts over all `labels`; `listed` (label indices in order)
/// are the classes `cm` lists, the others are summed.
fn summarize(
    labels: Vec<String>,
    counts: &ClassCounts,
    listed: &[usize],
    cm: Vec<Vec<u64>>,
) -> Classification {
    let k = labels.len();
    let ClassCounts {
        support,
        predicted,
        tp,
    } = counts;
    let rows: u64 = support.iter().sum();
    let ratio = |num: u64, den: u64| {
        if den == 0 {
            0.0
        } else {
            num as f64 / den as f64
        }
    };
    let mut per_class = Vec::with_capacity(k);
    let (mut no_pred, mut no_true) = (Vec::new(), Vec::new());
    for (i, label) in labels.iter().enumerate() {
        if predicted[i] == 0 {
            no_pred.push(label.clone());
        }
        if support[i] == 0 {
            no_true.push(label.clone());
        }
        per_class.push(ClassMetrics {
            label: label.clone(),
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
    let (listed_classes, other) = split_listed(per_class, listed, tp);
    Classification {
        rows,
        classes: k,
        accuracy: ratio(tp.iter().sum(), rows),
        balanced_accuracy,
        macro_avg,
        weighted_avg,
        per_class: listed_classes,
        other,
        confusion_matrix: cm,
        labels: listed.iter().map(|&i| labels[i].clone()).collect(),
        warnings,
    }
}

/// The listed classes' metrics, and the others summed (`None` when none is left out).
fn split_listed(
    per_class: Vec<ClassMetrics>,
    listed: &[usize],
    tp: &[u64],
) -> (Vec<ClassMetrics>, Option<OtherClasses>) {
    if listed.len() == per_class.len() {
        return (per_class, None);
    }
    let mut is_listed = vec![false; per_class.len()];
    for &i in listed {
        is_listed[i] = true;
    }
    let mut other = OtherClasses {
        classes: 0,
        support: 0,
        predicted: 0,
        correct: 0,
        mean_f1: 0.0,
    };
    let mut kept = Vec::with_capacity(listed.len());
    for (i, c) in per_class.into_iter().enumerate() {
        if is_listed[i] {
            kept.push(c);
        } else {
            other.classes += 1;
            other.support += c.support;
            other.predicted += c.predicted;
            other.correct += tp[i];
            other.mean_f1 += c.f1;
        }
    }
    other.mean_f1 /= other.classes as f64;
    (kept, Some(other))
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
    fn listing_the_top_classes_keeps_every_figure_over_all_classes() {
        // 500 classes with one row each, and two big ones: "a" (right 3 of 4 times) and "b".
        let mut t: Vec<String> = (0..500).map(|i| format!("c{i}")).collect();
        let mut p: Vec<String> = (0..500).map(|i| format!("c{}", i % 250)).collect();
        for (target, prediction) in [("a", "a"), ("a", "a"), ("a", "a"), ("a", "b"), ("b", "b")] {
            t.push(target.into());
            p.push(prediction.into());
        }
        let (t, p): (Labels, Labels) = (t.iter().collect(), p.iter().collect());
        let all = classify(&t, &p);
        let top = classify_top(&t, &p, 2);
        assert_eq!((all.classes, top.classes), (502, 502));
        assert_eq!(top.labels, ["a", "b"]);
        assert_eq!(top.per_class, all.per_class[..2]);
        for figure in [
            |c: &Classification| c.accuracy,
            |c: &Classification| c.balanced_accuracy,
            |c: &Classification| c.macro_avg.f1,
            |c: &Classification| c.weighted_avg.precision,
        ] {
            assert_eq!(figure(&top), figure(&all));
        }
        assert_eq!(top.warnings, all.warnings);
        let other = top.other.as_ref().expect("500 classes summed");
        assert_eq!(
            (other.classes, other.support, other.predicted),
            (500, 500, 500)
        );
        // c0..c249 are each predicted once for their own row: right.
        assert_eq!(other.correct, 250);
        let f1_sum: f64 = all.per_class[2..].iter().map(|c| c.f1).sum();
        assert!((other.mean_f1 - f1_sum / 500.0).abs() < 1e-12);
        assert_eq!(
            top.confusion_matrix,
            vec![vec![3, 1, 0], vec![0, 1, 0], vec![0, 0, 500]]
        );
        assert!(all.other.is_none() && all.confusion_matrix.len() == 502);
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
