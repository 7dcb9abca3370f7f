//! The search: decode every clip once, then for each front end of the space compute the clip
//! vectors, and on each fold fit the scaler and PCA on the training rows only and train every
//! (PCA size, penalty) pair, until the space or the budget runs out.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;
use tympan_core::audio::{decode_file, AudioLimits, DecodedAudio};
use tympan_core::embedding::{Embedder, Featurizer};
use tympan_core::features::{DatasetProfile, FeatureConfig, Spectrogram, StftSetting};
use tympan_core::folds::Folds;
use tympan_core::model::{train, Model, TrainConfig};
use tympan_core::tuned::{ConfirmationSummary, CvSummary, TunedConfig, TUNED_FORMAT};
use tympan_data::metrics::ClassificationMetrics;
use tympan_data::LabeledRow;
use tympan_embed::{discover, Clip, LabelSource, Skipped};

use crate::space::{differences, pca_sizes, FrontEndSpace, PENALTIES};
use crate::TuneError;

/// Standard errors of paired gain over the defaults a winner needs (see
/// [`TuneOutcome::clears_noise`]).
pub const MIN_GAIN_T: f64 = 2.0;

/// Leaders (candidates that cleared the noise bar, best first) re-scored on fresh partitions.
pub const LEADERS: usize = 5;

/// Fresh partitions of the clips the leaders and the defaults are re-scored on.
pub const CONFIRMATION_PARTITIONS: usize = 3;

/// Share of the budget the search may spend; the rest is kept for the confirmation.
const SEARCH_SHARE: f64 = 0.85;

/// Decoded audio kept in memory for the whole search, at most (f32 samples: 1 GiB).
pub const MAX_DECODED_SAMPLES: usize = 1 << 28;

/// How rows are split into folds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grouping {
    /// By the first group field of the label source (e.g. the speaker), if it has one.
    Auto,
    /// By this group field.
    Field(String),
    /// Stratified by class, ignoring groups.
    None,
}

/// Everything a search needs.
#[derive(Debug, Clone)]
pub struct TuneRequest {
    /// The dataset folder.
    pub dataset_dir: PathBuf,
    /// How files are labelled.
    pub source: LabelSource,
    /// How folds are made.
    pub grouping: Grouping,
    /// Folds (capped by the number of groups).
    pub folds: usize,
    /// Wall time the search may take, decoding included.
    pub budget: Duration,
    /// Seed of the folds and of the candidate order.
    pub seed: u64,
    /// Front ends evaluated at most (with the budget: whichever ends first). A count makes a
    /// search repeatable to the byte, where a budget depends on the machine.
    pub max_front_ends: Option<usize>,
    /// Decoding limits.
    pub limits: AudioLimits,
}

/// A candidate: a front end (by index in [`TuneOutcome::front_ends`]) and model settings.
#[derive(Debug, Clone, Serialize)]
pub struct Scored {
    /// Order of evaluation (0: the data-aware defaults).
    pub order: usize,
    /// Index of the front end.
    pub front_end: usize,
    /// PCA components.
    pub n_components: usize,
    /// L2 penalty.
    pub alpha: f64,
    /// Macro F1 per fold.
    pub fold_scores: Vec<f64>,
    /// Mean of `fold_scores`.
    pub score: f64,
    /// Standard deviation of `fold_scores`.
    pub spread: f64,
    /// Mean accuracy over folds.
    pub accuracy: f64,
    /// Seconds from the start of the search to this candidate's result.
    pub at_seconds: f64,
    /// What differs from the data-aware defaults.
    pub changes: Vec<String>,
}

/// What a search found.
#[derive(Debug, Clone, Serialize)]
pub struct TuneOutcome {
    /// The dataset folder's name.
    pub dataset: String,
    /// Clips scored (those every front end could read).
    pub clips: usize,
    /// Files left out, and why.
    #[serde(skip)]
    pub skipped: Vec<Skipped>,
    /// `"grouped by speaker"` or `"stratified"`.
    pub protocol: String,
    /// Folds.
    pub folds: usize,
    /// Front ends evaluated, in order (0: the data-aware one).
    pub front_ends: Vec<FeatureConfig>,
    /// Front ends that could not be evaluated, and why.
    pub rejected: Vec<String>,
    /// Every candidate scored, in evaluation order.
    pub candidates: Vec<Scored>,
    /// The data-aware PCA size.
    pub default_components: usize,
    /// Seconds spent decoding.
    pub decode_seconds: f64,
    /// Seconds of the whole search.
    pub elapsed_seconds: f64,
    /// The seed.
    pub seed: u64,
    /// What ended the search.
    pub stop: Stop,
    /// The leaders and the defaults re-scored on fresh partitions; `None` when no candidate
    /// cleared the noise bar on the search's folds.
    pub confirmation: Option<Confirmation>,
}

/// The re-scoring of the leaders on partitions the search never saw.
///
/// Picking the best of hundreds of candidates on one partition favours those whose folds happened
/// to suit them; their gain shrinks or vanishes on another partition of the same clips (measured
/// on the drum set, docs/benchmarks.md). A leader wins only if it also clears the noise bar here.
#[derive(Debug, Clone, Serialize)]
pub struct Confirmation {
    /// Seeds of the fresh partitions (each differs from the search's and from the others).
    pub seeds: Vec<u64>,
    /// Folds over all the fresh partitions.
    pub folds: usize,
    /// The data-aware defaults' scores.
    pub defaults: Confirmed,
    /// The leaders' scores, in leaderboard order; those the budget cut off are missing.
    pub leaders: Vec<Confirmed>,
}

/// A candidate's macro F1 on every fold of the fresh partitions.
#[derive(Debug, Clone, Serialize)]
pub struct Confirmed {
    /// The candidate's [`Scored::order`].
    pub order: usize,
    /// Macro F1 per fold, partition after partition.
    pub fold_scores: Vec<f64>,
    /// Mean of `fold_scores`.
    pub score: f64,
}

impl Confirmation {
    /// The confirmed scores of a candidate, if it was re-scored.
    pub fn of(&self, order: usize) -> Option<&Confirmed> {
        self.leaders.iter().find(|c| c.order == order)
    }

    /// Paired gain (mean, standard error) of `c` over the defaults on the fresh folds.
    pub fn gain(&self, c: &Confirmed) -> (f64, f64) {
        paired_gain(&c.fold_scores, &self.defaults.fold_scores)
    }

    /// Whether `c`'s gain clears [`MIN_GAIN_T`] standard errors on the fresh folds.
    pub fn clears_noise(&self, c: &Confirmed) -> bool {
        let (mean, se) = self.gain(c);
        mean > 0.0 && mean >= MIN_GAIN_T * se
    }
}

/// Mean and standard error of the per-fold differences `a - b`.
fn paired_gain(a: &[f64], b: &[f64]) -> (f64, f64) {
    let diffs: Vec<f64> = a.iter().zip(b).map(|(a, b)| a - b).collect();
    let n = diffs.len() as f64;
    let mean = diffs.iter().sum::<f64>() / n;
    let var = diffs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, (var / n).sqrt())
}

/// What ended a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// The wall-time budget.
    Budget,
    /// `max_front_ends`.
    Count,
    /// Every front end the space could draw was evaluated.
    SpaceExhausted,
}

impl Stop {
    /// How the page and the summary say it.
    pub fn describe(self) -> &'static str {
        match self {
            Stop::Budget => "stopped by the budget",
            Stop::Count => "stopped at the front-end count",
            Stop::SpaceExhausted => "the search space ran out",
        }
    }
}

impl TuneOutcome {
    /// The data-aware defaults' candidate (front end 0, its PCA size, the default penalty).
    pub fn defaults(&self) -> Option<&Scored> {
        let alpha = TrainConfig::default().alpha;
        self.candidates.iter().find(|c| {
            c.front_end == 0 && c.n_components == self.default_components && c.alpha == alpha
        })
    }

    /// The paired gain of `c` over the data-aware defaults: the mean and the standard error of
    /// the per-fold score differences (both scored on the same folds).
    pub fn gain(&self, c: &Scored) -> Option<(f64, f64)> {
        let d = self.defaults()?;
        Some(paired_gain(&c.fold_scores, &d.fold_scores))
    }

    /// Whether `c` beats the defaults by more than fold noise: a paired gain of at least
    /// [`MIN_GAIN_T`] standard errors. Hundreds of candidates on a few folds include some that
    /// win by chance; a winner that did not clear this bar did not transfer to other splits on
    /// FSDD and the drum set (docs/benchmarks.md).
    pub fn clears_noise(&self, c: &Scored) -> bool {
        self.gain(c)
            .is_some_and(|(mean, se)| mean > 0.0 && mean >= MIN_GAIN_T * se)
    }

    /// The leaders re-scored on fresh partitions: up to [`LEADERS`] candidates that clear the
    /// noise bar, best first.
    pub fn leaders(&self) -> Vec<&Scored> {
        let mut leaders: Vec<&Scored> = self
            .candidates
            .iter()
            .filter(|c| self.clears_noise(c))
            .collect();
        leaders.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.order.cmp(&b.order)));
        leaders.truncate(LEADERS);
        leaders
    }

    /// Whether `c` won on the search's folds and again on the fresh partitions.
    pub fn is_confirmed(&self, c: &Scored) -> bool {
        self.confirmation.as_ref().is_some_and(|conf| {
            self.clears_noise(c) && conf.of(c.order).is_some_and(|k| conf.clears_noise(k))
        })
    }

    /// The best candidate: among the confirmed ones ([`TuneOutcome::is_confirmed`]), the highest
    /// score on the fresh partitions; else the data-aware defaults.
    pub fn best(&self) -> Option<&Scored> {
        let confirmed_score = |c: &Scored| {
            self.confirmation
                .as_ref()
                .and_then(|conf| conf.of(c.order))
                .map_or(f64::NEG_INFINITY, |k| k.score)
        };
        self.candidates
            .iter()
            .filter(|c| self.is_confirmed(c))
            .max_by(|a, b| {
                confirmed_score(a)
                    .total_cmp(&confirmed_score(b))
                    .then(b.order.cmp(&a.order))
            })
            .or_else(|| self.defaults())
            .or_else(|| self.candidates.first())
    }

    /// The `n` best candidates, best first (in the order of [`TuneOutcome::best`]).
    pub fn leaderboard(&self, n: usize) -> Vec<&Scored> {
        let defaults = self.defaults().map(|d| d.order);
        let mut all: Vec<&Scored> = self.candidates.iter().collect();
        all.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then((Some(b.order) == defaults).cmp(&(Some(a.order) == defaults)))
                .then(a.order.cmp(&b.order))
        });
        all.truncate(n);
        all
    }

    /// How `c` fared on the fresh partitions, when it was confirmed there.
    fn confirmation_summary(&self, c: &Scored) -> Option<ConfirmationSummary> {
        let conf = self.confirmation.as_ref()?;
        let k = conf.of(c.order).filter(|_| self.is_confirmed(c))?;
        let (gain, gain_se) = conf.gain(k);
        Some(ConfirmationSummary {
            folds: conf.folds,
            score: k.score,
            default_score: conf.defaults.score,
            gain,
            gain_se,
        })
    }

    /// The winning configuration as `tympan embed --features` and `tympan train --config` read it.
    pub fn tuned(&self) -> Option<TunedConfig> {
        let best = self.best()?;
        let (gain, gain_se) = self.gain(best).unwrap_or((0.0, 0.0));
        Some(TunedConfig {
            format: TUNED_FORMAT.into(),
            features: self.front_ends[best.front_end].clone(),
            n_components: best.n_components,
            train: TrainConfig {
                alpha: best.alpha,
                ..TrainConfig::default()
            },
            cross_validation: CvSummary {
                dataset: self.dataset.clone(),
                clips: self.clips,
                protocol: self.protocol.clone(),
                folds: self.folds,
                metric: "macro_f1".into(),
                score: best.score,
                spread: best.spread,
                default_score: self.defaults().map_or(f64::NAN, |d| d.score),
                gain,
                gain_se,
                candidates: self.candidates.len(),
                seed: self.seed,
                confirmation: self.confirmation_summary(best),
            },
        })
    }
}

/// A clip decoded once for the whole search.
struct Decoded {
    clip: Clip,
    audio: DecodedAudio,
}

/// Runs a search; `progress` is told of each candidate scored (the best score so far, the count).
pub fn tune(
    req: &TuneRequest,
    mut progress: impl FnMut(&Scored, usize),
) -> Result<TuneOutcome, TuneError> {
    let start = Instant::now();
    let end = start + req.budget;
    let deadline = start + req.budget.mul_f64(SEARCH_SHARE);
    let (dataset, mut skipped) = discover(&req.dataset_dir, &req.source)?;
    let group_column = group_column(&req.grouping, &dataset.group_names)?;
    let decoded = decode_all(&dataset.clips, &req.limits, &mut skipped)?;
    let audio: Vec<&DecodedAudio> = decoded.iter().map(|d| &d.audio).collect();
    let derived = DatasetProfile::of_decoded(&audio).derive();
    let decode_seconds = start.elapsed().as_secs_f64();

    // The clips every candidate is scored on: those the data-aware front end reads.
    let defaults_featurizer = Featurizer::new(derived.config.clone(), req.limits)?;
    let mut signals = SignalCache::default();
    let default_vectors = clip_vectors(&defaults_featurizer, &decoded, &mut signals);
    let mut keep = Vec::new();
    for (i, (d, v)) in decoded.iter().zip(&default_vectors).enumerate() {
        match v {
            Ok(_) => keep.push(i),
            Err(reason) => skipped.push(Skipped {
                path: d.clip.path.clone(),
                reason: reason.clone(),
            }),
        }
    }
    let clips: Vec<&Decoded> = keep.iter().map(|&i| &decoded[i]).collect();
    let targets: Vec<&str> = clips.iter().map(|d| d.clip.label.as_str()).collect();
    let (folds, protocol) = make_folds(&clips, group_column, &dataset.group_names, req, req.seed)?;
    let scope = Scope {
        decoded: &decoded,
        keep: &keep,
        clips: &clips,
        targets: &targets,
        group_column,
        group_names: &dataset.group_names,
        req,
    };

    let mut outcome = TuneOutcome {
        dataset: dataset_name(&req.dataset_dir),
        clips: clips.len(),
        skipped,
        protocol,
        folds: folds.k(),
        front_ends: Vec::new(),
        rejected: Vec::new(),
        candidates: Vec::new(),
        default_components: derived
            .n_components
            .min(derived.config.clip_vector_len())
            .min(smallest_training_fold(&folds)),
        decode_seconds,
        elapsed_seconds: 0.0,
        seed: req.seed,
        stop: Stop::SpaceExhausted,
        confirmation: None,
    };
    let mut space = FrontEndSpace::new(derived.config.clone(), req.seed);
    let mut best_front_end = derived.config.clone();
    let mut best_score = f64::NEG_INFINITY;
    let mut featurize_time = Duration::ZERO;
    while let Some(config) = space.next(&best_front_end) {
        if req
            .max_front_ends
            .is_some_and(|max| outcome.front_ends.len() >= max)
        {
            outcome.stop = Stop::Count;
            break;
        }
        // A front end starts only if its clip vectors (as long as the last one's took) fit in
        // the budget: the search ends inside it, not after it.
        if Instant::now() + featurize_time >= deadline {
            outcome.stop = Stop::Budget;
            break;
        }
        let featurize_start = Instant::now();
        let (featurizer, vectors) = match scope.vectors(&config, &mut signals) {
            Ok(v) => v,
            Err(reason) => {
                outcome
                    .rejected
                    .push(format!("{}: {reason}", summary(&config)));
                continue;
            }
        };
        featurize_time = featurize_start.elapsed();
        let index = outcome.front_ends.len();
        outcome.front_ends.push(config.clone());
        // One set of sizes for every fold, none above what the smallest fold can fit.
        let sizes = pca_sizes(
            derived.n_components,
            config.clip_vector_len().min(smallest_training_fold(&folds)),
        );
        let scored = score_front_end(
            &featurizer,
            &vectors,
            &targets,
            &folds,
            &sizes,
            &PENALTIES,
            deadline,
        );
        for (n_components, alpha, fold_scores, accuracy) in scored {
            let mut changes = differences(&derived.config, &config);
            if n_components != outcome.default_components {
                changes.push(format!(
                    "pca: {} -> {n_components}",
                    outcome.default_components
                ));
            }
            if alpha != TrainConfig::default().alpha {
                changes.push(format!(
                    "alpha: {} -> {alpha}",
                    TrainConfig::default().alpha
                ));
            }
            let (score, spread) = mean_and_spread(&fold_scores);
            let candidate = Scored {
                order: outcome.candidates.len(),
                front_end: index,
                n_components,
                alpha,
                fold_scores,
                score,
                spread,
                accuracy,
                at_seconds: start.elapsed().as_secs_f64(),
                changes,
            };
            if score > best_score {
                best_score = score;
                best_front_end = config.clone();
            }
            outcome.candidates.push(candidate);
            progress(
                outcome.candidates.last().expect("pushed"),
                outcome.candidates.len(),
            );
        }
        if Instant::now() >= deadline {
            outcome.stop = Stop::Budget;
            break;
        }
    }
    if outcome.candidates.is_empty() {
        return Err(TuneError::NothingScored(req.budget));
    }
    outcome.confirmation = confirm(&outcome, &scope, &folds, &mut signals, end)?;
    outcome.elapsed_seconds = start.elapsed().as_secs_f64();
    Ok(outcome)
}

/// The clips a search scores and how it splits them.
struct Scope<'a> {
    decoded: &'a [Decoded],
    keep: &'a [usize],
    clips: &'a [&'a Decoded],
    targets: &'a [&'a str],
    group_column: Option<usize>,
    group_names: &'a [String],
    req: &'a TuneRequest,
}

impl Scope<'_> {
    /// The clip vectors of the kept clips under `config`, or why they could not be computed.
    fn vectors(
        &self,
        config: &FeatureConfig,
        signals: &mut SignalCache,
    ) -> Result<(Featurizer, Vec<Vec<f32>>), String> {
        let featurizer =
            Featurizer::new(config.clone(), self.req.limits).map_err(|e| e.to_string())?;
        let mut vectors = clip_vectors(&featurizer, self.decoded, signals);
        let vectors = self
            .keep
            .iter()
            .map(|&i| std::mem::replace(&mut vectors[i], Err(String::new())))
            .collect::<Result<_, _>>()
            .map_err(|reason| format!("a clip failed: {reason}"))?;
        Ok((featurizer, vectors))
    }

    /// Up to [`CONFIRMATION_PARTITIONS`] partitions unlike `search` and unlike each other, with
    /// their seeds.
    fn fresh_partitions(&self, search: &Folds) -> Result<Vec<(u64, Folds)>, TuneError> {
        let mut fresh: Vec<(u64, Folds)> = Vec::new();
        // Few groups allow few partitions (six speakers in five folds: fifteen); stop looking
        // after a bounded number of seeds.
        for offset in 1..=64u64 {
            if fresh.len() == CONFIRMATION_PARTITIONS {
                break;
            }
            let seed = self
                .req
                .seed
                .wrapping_add(offset.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let (folds, _) = make_folds(
                self.clips,
                self.group_column,
                self.group_names,
                self.req,
                seed,
            )?;
            if !folds.same_partition(search) && fresh.iter().all(|(_, f)| !f.same_partition(&folds))
            {
                fresh.push((seed, folds));
            }
        }
        Ok(fresh)
    }
}

/// Re-scores the defaults and the leaders on fresh partitions, front end by front end, until
/// `end`; `None` when there is no leader, no fresh partition, or no time for the defaults.
fn confirm(
    outcome: &TuneOutcome,
    scope: &Scope,
    search_folds: &Folds,
    signals: &mut SignalCache,
    end: Instant,
) -> Result<Option<Confirmation>, TuneError> {
    let leaders = outcome.leaders();
    let Some(defaults) = outcome.defaults() else {
        return Ok(None);
    };
    if leaders.is_empty() {
        return Ok(None);
    }
    let partitions = scope.fresh_partitions(search_folds)?;
    if partitions.is_empty() {
        return Ok(None);
    }
    let folds: usize = partitions.iter().map(|(_, f)| f.k()).sum();
    // Leaders often share a front end (one set of clip vectors, several penalties or PCA sizes).
    let mut vectors_of: HashMap<usize, (Featurizer, Vec<Vec<f32>>)> = HashMap::new();
    let mut rescored: Vec<Confirmed> = Vec::new();
    for candidate in std::iter::once(defaults).chain(leaders) {
        let (featurizer, vectors) = match vectors_of.entry(candidate.front_end) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let config = &outcome.front_ends[candidate.front_end];
                let Ok(computed) = scope.vectors(config, signals) else {
                    continue;
                };
                e.insert(computed)
            }
        };
        let mut fold_scores = Vec::new();
        for (_, partition) in &partitions {
            let scored = score_front_end(
                featurizer,
                vectors,
                scope.targets,
                partition,
                &[candidate.n_components],
                &[candidate.alpha],
                end,
            );
            let Some((_, _, scores, _)) = scored.into_iter().next() else {
                break;
            };
            fold_scores.extend(scores);
        }
        if fold_scores.len() < folds {
            // The budget ran out: what is not fully re-scored cannot win.
            break;
        }
        let (score, _) = mean_and_spread(&fold_scores);
        rescored.push(Confirmed {
            order: candidate.order,
            fold_scores,
            score,
        });
    }
    if rescored.is_empty() || rescored[0].order != defaults.order {
        return Ok(None);
    }
    let defaults = rescored.remove(0);
    Ok(Some(Confirmation {
        seeds: partitions.iter().map(|(s, _)| *s).collect(),
        folds,
        defaults,
        leaders: rescored,
    }))
}

/// The index of the group field to fold by, if any.
fn group_column(grouping: &Grouping, names: &[String]) -> Result<Option<usize>, TuneError> {
    match grouping {
        Grouping::None => Ok(None),
        Grouping::Auto => Ok((!names.is_empty()).then_some(0)),
        Grouping::Field(name) => names
            .iter()
            .position(|n| n == name)
            .map(Some)
            .ok_or_else(|| TuneError::Usage(format!("the label source has no field {{{name}}}"))),
    }
}

fn make_folds(
    clips: &[&Decoded],
    column: Option<usize>,
    names: &[String],
    req: &TuneRequest,
    seed: u64,
) -> Result<(Folds, String), TuneError> {
    if let Some(c) = column {
        let groups: Vec<&str> = clips.iter().map(|d| d.clip.groups[c].as_str()).collect();
        match Folds::grouped(&groups, req.folds, seed) {
            Some(f) => return Ok((f, format!("grouped by {}", names[c]))),
            None if req.grouping != Grouping::Auto => {
                return Err(TuneError::Usage(format!(
                    "{} has fewer than two values: no grouped folds",
                    names[c]
                )))
            }
            None => {}
        }
    }
    let targets: Vec<&str> = clips.iter().map(|d| d.clip.label.as_str()).collect();
    Folds::stratified(&targets, req.folds, seed)
        .map(|f| (f, "stratified".to_string()))
        .ok_or_else(|| TuneError::Usage(format!("fewer clips than {} folds", req.folds)))
}

fn decode_all(
    clips: &[Clip],
    limits: &AudioLimits,
    skipped: &mut Vec<Skipped>,
) -> Result<Vec<Decoded>, TuneError> {
    let results: Vec<_> = clips
        .par_iter()
        .map(|c| decode_file(&c.path, limits))
        .collect();
    let mut decoded = Vec::with_capacity(clips.len());
    let mut samples = 0usize;
    for (clip, r) in clips.iter().zip(results) {
        match r {
            Ok(audio) => {
                samples += audio.samples.len();
                decoded.push(Decoded {
                    clip: clip.clone(),
                    audio,
                });
            }
            Err(e) => skipped.push(Skipped {
                path: clip.path.clone(),
                reason: e.to_string(),
            }),
        }
    }
    if samples > MAX_DECODED_SAMPLES {
        return Err(TuneError::TooLarge {
            samples,
            limit: MAX_DECODED_SAMPLES,
        });
    }
    Ok(decoded)
}

/// Spectrograms kept for later front ends with the same STFT setting, at most (bytes): the
/// drum set's at 32 kHz, 64 ms windows and 10 ms hops take about 300 MB per setting.
pub const MAX_SPECTROGRAM_BYTES: usize = 512 << 20;

/// Signals resampled to a front end's rate, computed once per rate, and the spectrograms of the
/// STFT settings used last, within [`MAX_SPECTROGRAM_BYTES`].
#[derive(Default)]
struct SignalCache {
    by_rate: HashMap<u32, Vec<Result<Vec<f32>, String>>>,
    /// `None` where the signal failed.
    spectrograms: Spectrograms,
}

/// Spectrograms kept per STFT setting, least recently used first.
type Spectrograms = Vec<(StftSetting, Vec<Option<Spectrogram>>)>;

/// Drops the least recently used spectrograms until `incoming` more bytes fit `budget`
/// ([`MAX_SPECTROGRAM_BYTES`]), before they are computed; `false` when they cannot fit at all.
fn make_room(kept: &mut Spectrograms, incoming: usize, budget: usize) -> bool {
    if incoming > budget {
        return false;
    }
    let bytes = |s: &[Option<Spectrogram>]| -> usize {
        s.iter().flatten().map(Spectrogram::heap_bytes).sum()
    };
    while kept.iter().map(|(_, s)| bytes(s)).sum::<usize>() + incoming > budget {
        kept.remove(0);
    }
    true
}

/// The clip vector of every decoded clip (or why it failed), in order: the signal resampled once
/// per rate, the STFT computed once per setting while its spectrograms stay in the cache.
fn clip_vectors(
    featurizer: &Featurizer,
    decoded: &[Decoded],
    cache: &mut SignalCache,
) -> Vec<Result<Vec<f32>, String>> {
    let rate = featurizer.config().sample_rate;
    let signals = cache.by_rate.entry(rate).or_insert_with(|| {
        decoded
            .par_iter()
            .map(|d| featurizer.signal(&d.audio).map_err(|e| e.to_string()))
            .collect()
    });
    let front_end = featurizer.front_end();
    let setting = front_end.stft_setting();
    let cached = cache.spectrograms.iter().any(|(s, _)| *s == setting);
    let incoming: usize = signals
        .iter()
        .flatten()
        .map(|s| setting.spectrogram_bytes(s.len()))
        .sum();
    // Room is made before computing, so the cache and the new spectrograms never exceed the
    // budget together; those that cannot fit are streamed as in `tympan embed`.
    let keep = cached || make_room(&mut cache.spectrograms, incoming, MAX_SPECTROGRAM_BYTES);
    if !keep {
        return signals
            .par_iter()
            .zip(decoded)
            .map(|(signal, d)| {
                let signal = signal.as_ref().map_err(Clone::clone)?;
                featurizer
                    .from_signal(signal, d.audio.duration_seconds())
                    .map(|f| f.vector)
                    .map_err(|e| e.to_string())
            })
            .collect();
    }
    let mut spectrograms = match cache.spectrograms.iter().position(|(s, _)| *s == setting) {
        Some(i) => cache.spectrograms.remove(i).1,
        None => signals
            .par_iter()
            .map(|s| s.as_ref().ok().map(|s| front_end.spectrogram(s)))
            .collect(),
    };
    let vectors = spectrograms
        .par_iter_mut()
        .zip(signals.par_iter())
        .zip(decoded)
        .map(|((spectrogram, signal), d)| {
            let signal = signal.as_ref().map_err(Clone::clone)?;
            let spectrogram = spectrogram.as_mut().expect("one for every signal");
            featurizer
                .from_spectrogram(signal.len(), spectrogram, d.audio.duration_seconds())
                .map(|f| f.vector)
                .map_err(|e| e.to_string())
        })
        .collect();
    cache.spectrograms.push((setting, spectrograms));
    vectors
}

/// One scored (PCA size, penalty): fold scores and mean accuracy.
type ModelScore = (usize, f64, Vec<f64>, f64);

/// Scores every (PCA size, penalty) of one front end, on every fold; only pairs every fold
/// finished before `deadline` are returned, in a fixed order.
fn score_front_end(
    featurizer: &Featurizer,
    vectors: &[Vec<f32>],
    targets: &[&str],
    folds: &Folds,
    sizes: &[usize],
    penalties: &[f64],
    deadline: Instant,
) -> Vec<ModelScore> {
    let per_fold: Vec<Vec<(usize, f64, ClassificationMetrics)>> = (0..folds.k())
        .into_par_iter()
        .map(|fold| {
            score_fold(
                featurizer,
                vectors,
                targets,
                folds.split(fold),
                sizes,
                penalties,
                deadline,
            )
        })
        .collect();
    let finished = per_fold.iter().map(Vec::len).min().unwrap_or(0);
    (0..finished)
        .map(|i| {
            let (n, alpha, _) = per_fold[0][i];
            let scores = per_fold.iter().map(|f| f[i].2.macro_f1).collect();
            let accuracy =
                per_fold.iter().map(|f| f[i].2.accuracy).sum::<f64>() / per_fold.len() as f64;
            (n, alpha, scores, accuracy)
        })
        .collect()
}

/// One fold: the scaler and PCA fitted on its training rows, then every (PCA size, penalty)
/// trained and scored, penalties strongest first, each warm-started from the previous one.
fn score_fold(
    featurizer: &Featurizer,
    vectors: &[Vec<f32>],
    targets: &[&str],
    (train_idx, test_idx): (Vec<usize>, Vec<usize>),
    sizes: &[usize],
    penalties: &[f64],
    deadline: Instant,
) -> Vec<(usize, f64, ClassificationMetrics)> {
    if Instant::now() >= deadline {
        return Vec::new();
    }
    let train_vectors: Vec<Vec<f32>> = train_idx.iter().map(|&i| vectors[i].clone()).collect();
    let largest = *sizes.last().expect("at least one size");
    let fold_featurizer = Featurizer::new(featurizer.config().clone(), *featurizer.limits())
        .expect("the same config built a featurizer");
    let Ok(embedder) = Embedder::fit(fold_featurizer, &train_vectors, largest, false) else {
        return Vec::new();
    };
    let project = |idx: &[usize]| -> Option<Vec<Vec<f32>>> {
        idx.iter()
            .map(|&i| embedder.project(&vectors[i]).ok())
            .collect()
    };
    let (Some(train_x), Some(test_x)) = (project(&train_idx), project(&test_idx)) else {
        return Vec::new();
    };
    let truth: Vec<&str> = test_idx.iter().map(|&i| targets[i]).collect();
    let mut out = Vec::new();
    for &n in sizes {
        let rows: Vec<LabeledRow> = train_idx
            .iter()
            .zip(&train_x)
            .map(|(&i, v)| LabeledRow {
                vector: v[..n].to_vec(),
                target: targets[i].to_string(),
                prediction: None,
            })
            .collect();
        let mut previous: Option<Model> = None;
        for &alpha in penalties {
            if Instant::now() >= deadline {
                return out;
            }
            let config = TrainConfig {
                alpha,
                ..TrainConfig::default()
            };
            let Ok(model) = train(&rows, &config, previous.as_ref(), "") else {
                return out;
            };
            let predictions: Vec<&str> = test_x
                .iter()
                .map(|v| model.predict_label(&v[..n]).unwrap_or(""))
                .collect();
            out.push((
                n,
                alpha,
                ClassificationMetrics::compute(&truth, &predictions),
            ));
            previous = Some(model);
        }
    }
    out
}

/// Rows in the smallest training side of the folds: the most PCA components every fold can fit.
fn smallest_training_fold(folds: &Folds) -> usize {
    (0..folds.k())
        .map(|f| folds.split(f).0.len())
        .min()
        .unwrap_or(0)
}

fn mean_and_spread(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// A short description of a front end for messages.
fn summary(config: &FeatureConfig) -> String {
    format!(
        "{} Hz, window {}, {} mels, {} MFCC",
        config.sample_rate, config.n_fft, config.n_mels, config.n_mfcc
    )
}

fn dataset_name(dir: &Path) -> String {
    dir.canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "dataset".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_the_population_deviation() {
        assert_eq!(mean_and_spread(&[1.0, 3.0]), (2.0, 1.0));
    }

    #[test]
    fn spectrograms_are_dropped_least_recently_used_first_to_fit_the_budget() {
        use tympan_core::features::FrontEnd;
        let signal = vec![0.1f32; 16_000];
        let setting = |hop_length| FeatureConfig {
            hop_length,
            ..FeatureConfig::default()
        };
        let mut kept: Spectrograms = [160, 320, 640]
            .into_iter()
            .map(|hop| {
                let front_end = FrontEnd::new(setting(hop)).unwrap();
                (
                    front_end.stft_setting(),
                    vec![Some(front_end.spectrogram(&signal))],
                )
            })
            .collect();
        let size = |k: &Spectrograms, i: usize| k[i].1[0].as_ref().unwrap().heap_bytes();
        let (a, b, c) = (size(&kept, 0), size(&kept, 1), size(&kept, 2));
        assert_eq!(a, kept[0].0.spectrogram_bytes(signal.len()));
        // Room for `a` within a + b + c: the oldest (a) goes.
        assert!(make_room(&mut kept, a, a + b + c));
        assert_eq!(
            kept.iter().map(|(s, _)| s.hop_length).collect::<Vec<_>>(),
            [320, 640]
        );
        // More than the budget: refused, nothing dropped.
        assert!(!make_room(&mut kept, a + b + c + 1, a + b + c));
        assert_eq!(kept.len(), 2);
        // All of it: everything goes.
        assert!(make_room(&mut kept, a + b + c, a + b + c));
        assert!(kept.is_empty());
    }

    fn scored(order: usize, fold_scores: Vec<f64>) -> Scored {
        let (score, spread) = mean_and_spread(&fold_scores);
        Scored {
            order,
            front_end: 0,
            n_components: if order == 0 { 8 } else { 16 },
            alpha: TrainConfig::default().alpha,
            fold_scores,
            score,
            spread,
            accuracy: score,
            at_seconds: 0.0,
            changes: Vec::new(),
        }
    }

    fn confirmed(order: usize, fold_scores: Vec<f64>) -> Confirmed {
        let (score, _) = mean_and_spread(&fold_scores);
        Confirmed {
            order,
            fold_scores,
            score,
        }
    }

    /// The defaults (order 0) and two candidates that beat them on every search fold: 1 by more,
    /// 2 by less.
    fn outcome(confirmation: Option<Confirmation>) -> TuneOutcome {
        TuneOutcome {
            dataset: "d".into(),
            clips: 100,
            skipped: Vec::new(),
            protocol: "grouped by kit".into(),
            folds: 4,
            front_ends: vec![FeatureConfig::default()],
            rejected: Vec::new(),
            candidates: vec![
                scored(0, vec![0.70, 0.72, 0.74, 0.76]),
                scored(1, vec![0.80, 0.83, 0.85, 0.86]),
                scored(2, vec![0.75, 0.78, 0.79, 0.81]),
            ],
            default_components: 8,
            decode_seconds: 0.0,
            elapsed_seconds: 0.0,
            seed: 0,
            stop: Stop::Count,
            confirmation,
        }
    }

    #[test]
    fn a_winner_must_also_win_on_fresh_partitions() {
        let plain = outcome(None);
        assert_eq!(
            plain.leaders().iter().map(|c| c.order).collect::<Vec<_>>(),
            [1, 2]
        );
        // Without a confirmation nothing is confirmed: the defaults stay.
        assert_eq!(plain.best().unwrap().order, 0);

        // Candidate 1's gain vanishes on fresh folds; candidate 2's holds.
        let conf = Confirmation {
            seeds: vec![1, 2],
            folds: 4,
            defaults: confirmed(0, vec![0.70, 0.74, 0.72, 0.76]),
            leaders: vec![
                confirmed(1, vec![0.69, 0.76, 0.71, 0.77]),
                confirmed(2, vec![0.74, 0.78, 0.77, 0.80]),
            ],
        };
        let o = outcome(Some(conf.clone()));
        assert!(!o.is_confirmed(&o.candidates[1]));
        assert!(o.is_confirmed(&o.candidates[2]));
        assert_eq!(o.best().unwrap().order, 2);
        let tuned = o.tuned().unwrap();
        let summary = tuned.cross_validation.confirmation.unwrap();
        assert_eq!(summary.folds, 4);
        assert!((summary.gain - 0.0425).abs() < 1e-9, "{summary:?}");

        // Neither holds: the defaults, and no confirmation summary in tuned.json.
        let mut lost = conf;
        lost.leaders[1] = confirmed(2, vec![0.71, 0.73, 0.73, 0.75]);
        let o = outcome(Some(lost));
        assert_eq!(o.best().unwrap().order, 0);
        assert!(o.tuned().unwrap().cross_validation.confirmation.is_none());
    }
}
