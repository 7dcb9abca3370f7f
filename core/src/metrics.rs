//! Classification quality with scikit-learn's definitions (labels = sorted union of targets and
//! predictions; a zero denominator gives 0).

use serde::{Deserialize, Serialize};

/// Precision, recall, F1 and support of one class.
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

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

impl ClassificationMetrics {
    /// Computes every metric from parallel slices of true and predicted labels.
    pub fn compute<S: AsRef<str>>(targets: &[S], predictions: &[S]) -> Self {
        assert_eq!(
            targets.len(),
            predictions.len(),
            "one prediction per target"
        );
        let mut labels: Vec<String> = targets
            .iter()
            .chain(predictions)
            .map(|s| s.as_ref().to_string())
            .collect();
        labels.sort();
        labels.dedup();
        let index = |s: &str| {
            labels
                .binary_search_by(|l| l.as_str().cmp(s))
                .expect("label listed")
        };
        let k = labels.len();
        let mut confusion = vec![vec![0usize; k]; k];
        for (t, p) in targets.iter().zip(predictions) {
            confusion[index(t.as_ref())][index(p.as_ref())] += 1;
        }
        let per_class: Vec<ClassScores> = (0..k)
            .map(|i| {
                let tp = confusion[i][i];
                let support: usize = confusion[i].iter().sum();
                let predicted: usize = confusion.iter().map(|row| row[i]).sum();
                let precision = ratio(tp, predicted);
                let recall = ratio(tp, support);
                let f1 = ratio(2 * tp, support + predicted);
                ClassScores {
                    label: labels[i].clone(),
                    precision,
                    recall,
                    f1,
                    support,
                }
            })
            .collect();
        let rows = targets.len();
        let correct: usize = (0..k).map(|i| confusion[i][i]).sum();
        let mean = |f: &dyn Fn(&ClassScores) -> f64| {
            if k == 0 {
                0.0
            } else {
                per_class.iter().map(f).sum::<f64>() / k as f64
            }
        };
        let present: Vec<&ClassScores> = per_class.iter().filter(|c| c.support > 0).collect();
        let balanced_accuracy = if present.is_empty() {
            0.0
        } else {
            present.iter().map(|c| c.recall).sum::<f64>() / present.len() as f64
        };
        let weighted_f1 = if rows == 0 {
            0.0
        } else {
            per_class
                .iter()
                .map(|c| c.f1 * c.support as f64)
                .sum::<f64>()
                / rows as f64
        };
        Self {
            rows,
            accuracy: ratio(correct, rows),
            balanced_accuracy,
            macro_f1: mean(&|c| c.f1),
            macro_precision: mean(&|c| c.precision),
            macro_recall: mean(&|c| c.recall),
            weighted_f1,
            per_class,
            labels,
            confusion,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn labels_only_in_predictions_count_in_macro_but_not_balanced() {
        let m = ClassificationMetrics::compute(&["a", "a"], &["a", "z"]);
        assert_eq!(m.labels, vec!["a", "z"]);
        assert!((m.balanced_accuracy - 0.5).abs() < 1e-12);
        assert!((m.macro_f1 - (2.0 / 3.0) / 2.0).abs() < 1e-12);
    }
}
