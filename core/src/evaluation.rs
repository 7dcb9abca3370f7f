//! Honest accuracy figures: a stratified holdout, fixed splits, and leave-one-group-out
//! (e.g. speaker-independent) evaluation, all with deterministic shuffles.

use crate::model::{train, Model, ModelError, TrainConfig};
use tympan_data::metrics::ClassificationMetrics;
use tympan_data::LabeledRow;

/// A small deterministic generator (SplitMix64) so splits are reproducible across runs and
/// platforms without a dependency.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// Seeds the generator.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, from the top 53 bits of the next value.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// Splits row indices into (train, test) with `test_share` of each class in the test part.
pub fn stratified_split(targets: &[&str], test_share: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut classes: Vec<&str> = targets.to_vec();
    classes.sort();
    classes.dedup();
    let mut rng = SplitMix64::new(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class in classes {
        let mut idx: Vec<usize> = (0..targets.len())
            .filter(|&i| targets[i] == class)
            .collect();
        rng.shuffle(&mut idx);
        let n_test = ((idx.len() as f64) * test_share).round() as usize;
        // Keep at least one training row of every class.
        let n_test = n_test.min(idx.len().saturating_sub(1));
        test.extend_from_slice(&idx[..n_test]);
        train.extend_from_slice(&idx[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// Trains on `train` and scores on `test` rows.
pub fn train_and_score(
    rows: &[LabeledRow],
    train_idx: &[usize],
    test_idx: &[usize],
    config: &TrainConfig,
) -> Result<ClassificationMetrics, ModelError> {
    let train_rows: Vec<LabeledRow> = train_idx.iter().map(|&i| rows[i].clone()).collect();
    let test_rows: Vec<&LabeledRow> = test_idx.iter().map(|&i| &rows[i]).collect();
    train_and_measure(&train_rows, &test_rows, config).map(|(_, metrics)| metrics)
}

/// Trains on `train` rows; returns the model and its quality on `test` rows.
pub fn train_and_measure(
    train_rows: &[LabeledRow],
    test_rows: &[&LabeledRow],
    config: &TrainConfig,
) -> Result<(Model, ClassificationMetrics), ModelError> {
    let model = train(train_rows, config, None, "")?;
    let mut predictions = Vec::with_capacity(test_rows.len());
    for r in test_rows {
        predictions.push(model.predict_label(&r.vector)?);
    }
    let targets: Vec<&str> = test_rows.iter().map(|r| r.target.as_str()).collect();
    let metrics = ClassificationMetrics::compute(&targets, &predictions);
    Ok((model, metrics))
}

/// The result of holding out one group.
#[derive(Debug, Clone)]
pub struct GroupScore {
    /// The held-out group.
    pub group: String,
    /// Quality on its rows.
    pub metrics: ClassificationMetrics,
}

/// Leave-one-group-out: for each group, train on the others and score on it.
pub fn leave_one_group_out(
    rows: &[LabeledRow],
    groups: &[String],
    config: &TrainConfig,
) -> Result<Vec<GroupScore>, ModelError> {
    let mut names: Vec<&String> = groups.iter().collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|g| {
            let (test, train): (Vec<usize>, Vec<usize>) =
                (0..rows.len()).partition(|&i| &groups[i] == g);
            Ok(GroupScore {
                group: g.clone(),
                metrics: train_and_score(rows, &train, &test, config)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_split_keeps_class_shares_and_is_deterministic() {
        let targets: Vec<&str> = (0..100)
            .map(|i| if i % 4 == 0 { "a" } else { "b" })
            .collect();
        let (train, test) = stratified_split(&targets, 0.2, 7);
        assert_eq!(train.len() + test.len(), 100);
        assert_eq!(test.iter().filter(|&&i| targets[i] == "a").count(), 5);
        assert_eq!(test.iter().filter(|&&i| targets[i] == "b").count(), 15);
        assert_eq!(stratified_split(&targets, 0.2, 7), (train, test.clone()));
        assert_ne!(stratified_split(&targets, 0.2, 8).1, test);
    }
}
