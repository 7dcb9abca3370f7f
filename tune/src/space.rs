//! The search space: front ends around the data-aware one, and the model settings tried on each.
//!
//! Front ends come in a fixed order for a seed: the data-aware configuration, then
//! [`EXPLORATION_ROUNDS`] drawn at random from the options below, then neighbours of the best so
//! far (one option changed at a time, or several once those are all seen). The order depends on the seed and on the scores, never on
//! the budget, so a longer budget sees a superset of a shorter one's candidates.

use std::collections::HashSet;

use tympan_core::evaluation::SplitMix64;
use tympan_core::features::{FeatureConfig, PoolStat};

/// Front ends drawn at random before the search refines around the best.
pub const EXPLORATION_ROUNDS: usize = 12;
/// Tries to find a front end not seen yet before the space counts as exhausted.
const DRAWS_PER_ROUND: usize = 64;
/// PCA sizes tried on every front end (with the data-aware count), capped by the data.
pub const PCA_SIZES: [usize; 4] = [16, 32, 64, 128];
/// L2 penalties tried on every front end (the default among them), strongest first so each
/// training starts from the previous one's solution.
pub const PENALTIES: [f64; 4] = [30.0, 10.0, 3.0, 1.0];

/// One option of the front end and the values it may take.
struct Dimension {
    name: &'static str,
    values: fn(&FeatureConfig) -> Vec<FeatureConfig>,
}

/// The options searched, each as the configurations it makes from a base.
fn dimensions() -> Vec<Dimension> {
    vec![
        Dimension {
            name: "n_mfcc",
            values: |base| {
                [13, 20, 30, 40]
                    .into_iter()
                    .filter(|&n| n <= base.n_mels)
                    .map(|n_mfcc| FeatureConfig {
                        n_mfcc,
                        ..base.clone()
                    })
                    .collect()
            },
        },
        Dimension {
            name: "n_mels",
            values: |base| {
                [40, 64, 96]
                    .into_iter()
                    .map(|n_mels| FeatureConfig {
                        n_mels,
                        n_mfcc: base.n_mfcc.min(n_mels),
                        ..base.clone()
                    })
                    .collect()
            },
        },
        Dimension {
            name: "window",
            values: |base| {
                // Half and twice the window, the hop following it.
                [base.n_fft / 2, base.n_fft * 2]
                    .into_iter()
                    .map(|n_fft| FeatureConfig {
                        n_fft,
                        hop_length: (base.hop_length * n_fft / base.n_fft).max(1),
                        ..base.clone()
                    })
                    .collect()
            },
        },
        Dimension {
            name: "band",
            values: |base| {
                [0.5, 0.75]
                    .into_iter()
                    .map(|share| FeatureConfig {
                        fmax: (base.fmax * share).round(),
                        ..base.clone()
                    })
                    .chain([FeatureConfig {
                        fmin: 50.0,
                        ..base.clone()
                    }])
                    .collect()
            },
        },
        Dimension {
            name: "pooling",
            values: |base| {
                use PoolStat::*;
                [
                    vec![Mean, Std],
                    vec![Mean, Std, DeltaStd],
                    vec![Mean, Std, DeltaStd, Min, Max, SegmentMeans(4)],
                    vec![Mean, Std, DeltaMean, DeltaStd, Skewness, Kurtosis],
                    vec![Mean, Std, Percentile(10), Percentile(90), LogTimeMeans(4)],
                ]
                .into_iter()
                .map(|pooling| FeatureConfig {
                    pooling,
                    ..base.clone()
                })
                .collect()
            },
        },
        Dimension {
            name: "log_mel_pooling",
            values: |base| {
                [vec![], vec![PoolStat::Mean, PoolStat::Std]]
                    .into_iter()
                    .map(|log_mel_pooling| FeatureConfig {
                        log_mel_pooling,
                        ..base.clone()
                    })
                    .collect()
            },
        },
        Dimension {
            name: "spectral_pooling",
            values: |base| {
                [vec![], vec![PoolStat::Mean, PoolStat::Std, PoolStat::Max]]
                    .into_iter()
                    .map(|spectral_pooling| FeatureConfig {
                        spectral_pooling,
                        ..base.clone()
                    })
                    .collect()
            },
        },
        Dimension {
            name: "trimming",
            values: |base| {
                [None, Some(20.0), Some(35.0)]
                    .into_iter()
                    .map(|trim_db| FeatureConfig {
                        trim_db,
                        ..base.clone()
                    })
                    .collect()
            },
        },
        Dimension {
            name: "floor",
            values: |base| {
                [Some(40.0), Some(60.0), Some(80.0)]
                    .into_iter()
                    .map(|top_db| FeatureConfig {
                        top_db,
                        ..base.clone()
                    })
                    .collect()
            },
        },
        Dimension {
            name: "balance",
            values: |base| {
                vec![FeatureConfig {
                    balance_statistics: !base.balance_statistics,
                    ..base.clone()
                }]
            },
        },
    ]
}

/// The front ends of a search, in their fixed order.
pub struct FrontEndSpace {
    defaults: FeatureConfig,
    dimensions: Vec<Dimension>,
    rng: SplitMix64,
    seen: HashSet<String>,
    rounds: usize,
}

impl FrontEndSpace {
    /// The space around `defaults` (the data-aware front end) for `seed`.
    pub fn new(defaults: FeatureConfig, seed: u64) -> Self {
        Self {
            defaults,
            dimensions: dimensions(),
            rng: SplitMix64::new(seed),
            seen: HashSet::new(),
            rounds: 0,
        }
    }

    /// The next front end to evaluate given the best one so far, or `None` when every draw in
    /// a round gave one already seen (or invalid).
    pub fn next(&mut self, best: &FeatureConfig) -> Option<FeatureConfig> {
        let round = self.rounds;
        self.rounds += 1;
        if round == 0 {
            self.seen.insert(key(&self.defaults));
            return Some(self.defaults.clone());
        }
        // Exploration, then refinement; when every neighbour of the best has been seen, random
        // draws around it.
        let exploring = round <= EXPLORATION_ROUNDS;
        for draw in 0..2 * DRAWS_PER_ROUND {
            let candidate = if exploring {
                self.random_from(&self.defaults.clone())
            } else if draw < DRAWS_PER_ROUND {
                self.neighbour_of(best)
            } else {
                self.random_from(best)
            };
            if candidate.validate().is_ok() && self.seen.insert(key(&candidate)) {
                return Some(candidate);
            }
        }
        None
    }

    /// Each option from `base`'s value or one of its alternatives, at random.
    fn random_from(&mut self, base: &FeatureConfig) -> FeatureConfig {
        let mut config = base.clone();
        for d in 0..self.dimensions.len() {
            let options = (self.dimensions[d].values)(&config);
            // Keep the current value with the same chance as each alternative.
            let pick = self.pick(options.len() + 1);
            if pick < options.len() {
                config = options[pick].clone();
            }
        }
        config
    }

    /// `base` with one option changed.
    fn neighbour_of(&mut self, base: &FeatureConfig) -> FeatureConfig {
        let d = self.pick(self.dimensions.len());
        let options = (self.dimensions[d].values)(base);
        if options.is_empty() {
            return base.clone();
        }
        let pick = self.pick(options.len());
        options[pick].clone()
    }

    fn pick(&mut self, n: usize) -> usize {
        (self.rng.next_u64() % n as u64) as usize
    }

    /// Names of the options searched.
    pub fn option_names(&self) -> Vec<&'static str> {
        self.dimensions.iter().map(|d| d.name).collect()
    }
}

/// A front end's identity: its JSON.
fn key(config: &FeatureConfig) -> String {
    serde_json::to_string(config).expect("a config serialises")
}

/// The options of `config` that differ from `defaults`, as `name: old -> new`.
pub fn differences(defaults: &FeatureConfig, config: &FeatureConfig) -> Vec<String> {
    let (a, b) = (
        serde_json::to_value(defaults).expect("serialises"),
        serde_json::to_value(config).expect("serialises"),
    );
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return Vec::new();
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (old, new) = match (a.get(k), b.get(k)) {
                (Some(old), Some(new)) => (old.clone(), new.clone()),
                (Some(old), None) => (old.clone(), omitted_like(old)),
                (None, Some(new)) => (omitted_like(new), new.clone()),
                (None, None) => return None,
            };
            (old != new).then(|| format!("{k}: {old} -> {new}"))
        })
        .collect()
}

/// The value a `FeatureConfig` field has when serde omits it (`skip_serializing_if` its default:
/// `false`, an empty list, `None`), shaped like the value present on the other side.
fn omitted_like(present: &serde_json::Value) -> serde_json::Value {
    match present {
        serde_json::Value::Bool(_) => serde_json::Value::Bool(false),
        serde_json::Value::Array(_) => serde_json::Value::Array(Vec::new()),
        _ => serde_json::Value::Null,
    }
}

/// PCA sizes to try: [`PCA_SIZES`] and `preferred`, none above `limit`, ascending.
pub fn pca_sizes(preferred: usize, limit: usize) -> Vec<usize> {
    let mut sizes: Vec<usize> = PCA_SIZES
        .iter()
        .copied()
        .chain([preferred])
        .map(|n| n.min(limit))
        .filter(|&n| n > 0)
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_is_fixed_by_the_seed_and_starts_with_the_defaults() {
        let defaults = FeatureConfig::default();
        let run = |seed| {
            let mut space = FrontEndSpace::new(defaults.clone(), seed);
            (0..20)
                .map_while(|_| space.next(&defaults))
                .map(|c| key(&c))
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a[0], key(&defaults));
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        let unique: HashSet<&String> = a.iter().collect();
        assert_eq!(unique.len(), a.len(), "a front end evaluated twice");
    }

    #[test]
    fn differences_name_what_changed() {
        let defaults = FeatureConfig::default();
        let changed = FeatureConfig {
            n_mfcc: 13,
            ..defaults.clone()
        };
        assert_eq!(differences(&defaults, &changed), vec!["n_mfcc: 20 -> 13"]);
        assert!(differences(&defaults, &defaults).is_empty());
        // Fields serde omits at their default read as that default, not as null.
        let balanced = FeatureConfig {
            balance_statistics: true,
            log_mel_pooling: vec![PoolStat::Mean],
            ..defaults.clone()
        };
        assert_eq!(
            differences(&balanced, &defaults),
            vec![
                "balance_statistics: true -> false",
                "log_mel_pooling: [\"mean\"] -> []"
            ]
        );
        assert_eq!(pca_sizes(48, 40), vec![16, 32, 40]);
    }
}
