//! Cross-validation folds that never leak: grouped k-fold (every row of a group in one fold, so a
//! speaker or a kit is never in training and test at once) and stratified k-fold (each class
//! spread evenly), both deterministic for a seed.

use std::collections::BTreeMap;

use crate::evaluation::SplitMix64;

/// The fold of every row, `0..k`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folds {
    fold_of: Vec<usize>,
    k: usize,
}

impl Folds {
    /// Grouped k-fold over `groups` (one value per row): groups in a seeded random order, each
    /// given to the fold with the fewest rows so far. `k` is capped by the number of groups;
    /// `None` when there are fewer than two groups. Another seed gives another partition even
    /// when the groups differ in size (a largest-first order would make it the same for every
    /// seed), which is what re-scoring on fresh partitions needs; the price is looser balance.
    pub fn grouped(groups: &[&str], k: usize, seed: u64) -> Option<Self> {
        let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
        for g in groups {
            *sizes.entry(g).or_default() += 1;
        }
        let k = k.min(sizes.len());
        if k < 2 {
            return None;
        }
        let mut order: Vec<(&str, usize)> = sizes.into_iter().collect();
        SplitMix64::new(seed).shuffle(&mut order);
        let mut fold_rows = vec![0usize; k];
        let mut fold_of_group = BTreeMap::new();
        for (group, size) in order {
            let fold = (0..k).min_by_key(|&f| (fold_rows[f], f)).expect("k >= 2");
            fold_rows[fold] += size;
            fold_of_group.insert(group, fold);
        }
        Some(Self {
            fold_of: groups.iter().map(|g| fold_of_group[g]).collect(),
            k,
        })
    }

    /// Stratified k-fold over `targets`: each class's rows in a seeded random order, dealt to the
    /// folds in turn (continuing from where the previous class stopped, so fold sizes stay
    /// within one row). `None` when `k < 2` or there are fewer rows than folds.
    pub fn stratified(targets: &[&str], k: usize, seed: u64) -> Option<Self> {
        if k < 2 || targets.len() < k {
            return None;
        }
        let mut by_class: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, t) in targets.iter().enumerate() {
            by_class.entry(t).or_default().push(i);
        }
        let mut rng = SplitMix64::new(seed);
        let mut fold_of = vec![0; targets.len()];
        let mut next = 0;
        for rows in by_class.values_mut() {
            rng.shuffle(rows);
            for &i in rows.iter() {
                fold_of[i] = next % k;
                next += 1;
            }
        }
        Some(Self { fold_of, k })
    }

    /// Number of folds.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Whether both put the same rows together, whatever the folds' numbers.
    pub fn same_partition(&self, other: &Folds) -> bool {
        self.canonical() == other.canonical()
    }

    /// Fold numbers in order of first appearance.
    fn canonical(&self) -> Vec<usize> {
        let mut renumber = vec![usize::MAX; self.k];
        let mut next = 0;
        self.fold_of
            .iter()
            .map(|&f| {
                if renumber[f] == usize::MAX {
                    renumber[f] = next;
                    next += 1;
                }
                renumber[f]
            })
            .collect()
    }

    /// Rows outside fold `fold` (training) and inside it (test), each ascending.
    pub fn split(&self, fold: usize) -> (Vec<usize>, Vec<usize>) {
        (0..self.fold_of.len()).partition(|&i| self.fold_of[i] != fold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_folds_never_share_a_group_and_stay_balanced() {
        let groups: Vec<String> = (0..60).map(|i| format!("g{}", i % 7)).collect();
        let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
        let folds = Folds::grouped(&groups, 5, 3).unwrap();
        assert_eq!(folds.k(), 5);
        let mut seen_in = BTreeMap::new();
        for fold in 0..5 {
            let (train, test) = folds.split(fold);
            assert_eq!(train.len() + test.len(), 60);
            assert!(!test.is_empty());
            for &i in &test {
                assert!(train.iter().all(|&j| groups[j] != groups[i]));
                assert_eq!(*seen_in.entry(groups[i]).or_insert(fold), fold);
            }
        }
        assert_eq!(Folds::grouped(&groups, 5, 3), Some(folds), "deterministic");
        assert_eq!(
            Folds::grouped(&groups, 10, 3).unwrap().k(),
            7,
            "capped by groups"
        );
        assert!(Folds::grouped(&["a", "a"], 5, 3).is_none());
    }

    #[test]
    fn another_seed_gives_another_grouped_partition_when_groups_differ_in_size() {
        // Thirteen groups of 20 to 44 rows, like the kits of a drum set.
        let groups: Vec<String> = (0..13)
            .flat_map(|g| std::iter::repeat_n(format!("kit{g}"), 20 + 2 * g))
            .collect();
        let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
        let first = Folds::grouped(&groups, 5, 0).unwrap();
        let distinct = (1..6)
            .map(|seed| Folds::grouped(&groups, 5, seed).unwrap())
            .filter(|f| !f.same_partition(&first))
            .count();
        assert!(distinct >= 4, "{distinct} of 5 seeds gave a new partition");
        for fold in 0..5 {
            let test = first.split(fold).1.len();
            assert!((20..=140).contains(&test), "fold {fold}: {test} rows");
        }
    }

    #[test]
    fn partitions_compare_up_to_fold_numbers() {
        let a = Folds {
            fold_of: vec![0, 0, 1, 2],
            k: 3,
        };
        let b = Folds {
            fold_of: vec![2, 2, 0, 1],
            k: 3,
        };
        let c = Folds {
            fold_of: vec![0, 1, 1, 2],
            k: 3,
        };
        assert!(a.same_partition(&b));
        assert!(!a.same_partition(&c));
    }

    #[test]
    fn stratified_folds_spread_every_class() {
        let targets: Vec<&str> = (0..50)
            .map(|i| ["a", "b"][usize::from(i % 5 == 0)])
            .collect();
        let folds = Folds::stratified(&targets, 5, 1).unwrap();
        for fold in 0..5 {
            let (_, test) = folds.split(fold);
            assert_eq!(test.len(), 10);
            assert_eq!(test.iter().filter(|&&i| targets[i] == "b").count(), 2);
        }
        assert!(Folds::stratified(&targets, 1, 1).is_none());
    }

    /// Rows whose label is a function of their group and whose features carry only the group
    /// (its own random offset): a model can learn a group it has seen, never a new one.
    fn group_offsets() -> (Vec<tympan_data::LabeledRow>, Vec<String>) {
        let mut rng = SplitMix64::new(11);
        let mut unit = move || (rng.next_u64() >> 11) as f32 / (1u64 << 53) as f32 - 0.5;
        let mut rows = Vec::new();
        let mut groups = Vec::new();
        for g in 0..30 {
            // More dimensions than groups: any labelling of the groups is linearly separable.
            let offset: Vec<f32> = (0..40).map(|_| unit() * 10.0).collect();
            for _ in 0..12 {
                rows.push(tympan_data::LabeledRow {
                    vector: offset.iter().map(|o| o + unit() * 0.5).collect(),
                    target: ["a", "b", "c"][g % 3].into(),
                    prediction: None,
                });
                groups.push(format!("g{g}"));
            }
        }
        (rows, groups)
    }

    fn cross_validated_accuracy(rows: &[tympan_data::LabeledRow], folds: &Folds) -> f64 {
        let config = crate::model::TrainConfig::default();
        let mut right = 0;
        for fold in 0..folds.k() {
            let (train_idx, test_idx) = folds.split(fold);
            let train: Vec<_> = train_idx.iter().map(|&i| rows[i].clone()).collect();
            let model = crate::model::train(&train, &config, None, "").unwrap();
            right += test_idx
                .iter()
                .filter(|&&i| model.predict_label(&rows[i].vector).unwrap() == rows[i].target)
                .count();
        }
        right as f64 / rows.len() as f64
    }

    #[test]
    fn grouped_folds_score_a_group_leak_at_chance_where_stratified_folds_do_not() {
        let (rows, groups) = group_offsets();
        let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
        let targets: Vec<&str> = rows.iter().map(|r| r.target.as_str()).collect();
        let grouped = cross_validated_accuracy(&rows, &Folds::grouped(&groups, 5, 0).unwrap());
        let leaky = cross_validated_accuracy(&rows, &Folds::stratified(&targets, 5, 0).unwrap());
        // Three balanced classes: chance is 1/3.
        assert!(grouped < 0.55, "grouped folds scored {grouped}");
        assert!(leaky > 0.9, "stratified folds scored {leaky}");
    }
}
