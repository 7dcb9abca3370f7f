//! The embed run: featurize every clip in parallel, fit (or reuse) the embedding, write outputs.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use tympan_core::audio::AudioLimits;
use tympan_core::embedding::{ClipFeatures, EmbedError, Embedder, Featurizer};
use tympan_core::features::{DatasetProfile, FeatureConfig};
use tympan_core::tuned::TunedConfig;
use tympan_data::{write_table, LabeledRow, TableKind};

use crate::labels::{discover, Clip, Dataset, LabelSource};
use crate::meta::write_meta;
use crate::{EmbedCommandError, DEFAULT_COMPONENTS};

/// Everything an embed run needs.
#[derive(Debug)]
pub struct EmbedRequest {
    /// The dataset folder.
    pub dataset_dir: PathBuf,
    /// How files are labelled.
    pub source: LabelSource,
    /// Output table (`data/ref_data.csv`).
    pub out: PathBuf,
    /// Where a newly fitted embedding is saved.
    pub artifacts: PathBuf,
    /// An already fitted embedding to reuse instead of fitting (no artifact is written then).
    pub reuse: Option<Embedder>,
    /// The front end used when fitting.
    pub front_end: FrontEndChoice,
    /// Decoding limits.
    pub limits: AudioLimits,
    /// PCA components when fitting; `None`: the derived count for the data-aware front end,
    /// [`crate::DEFAULT_COMPONENTS`] for a given one.
    pub n_components: Option<usize>,
    /// Scale each PCA output to unit variance.
    pub whiten: bool,
    /// Fail on the first unreadable file instead of skipping it.
    pub strict: bool,
    /// Show a progress bar.
    pub progress: bool,
}

impl EmbedRequest {
    /// Fit a data-aware embedding of `dataset_dir` (default limits and PCA size, no whitening),
    /// failing on the first unreadable file, without a progress bar; change the rest with
    /// struct update syntax.
    pub fn new(
        dataset_dir: PathBuf,
        source: LabelSource,
        out: PathBuf,
        artifacts: PathBuf,
    ) -> Self {
        Self {
            dataset_dir,
            source,
            out,
            artifacts,
            reuse: None,
            front_end: FrontEndChoice::DataAware,
            limits: AudioLimits::default(),
            n_components: None,
            whiten: false,
            strict: true,
            progress: false,
        }
    }
}

/// Where the front end of a newly fitted embedding comes from.
#[derive(Debug, Clone)]
pub enum FrontEndChoice {
    /// Derived from a scan of the dataset (rates, band, levels, durations).
    DataAware,
    /// Exactly this configuration (`--features FILE`).
    Given(FeatureConfig),
    /// A configuration found by `tympan tune` (`--features tuned.json`): its front end and PCA
    /// size, its provenance recorded in the embedding.
    Tuned(Box<TunedConfig>),
}

/// A file left out of the table, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// The reason.
    pub reason: String,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct EmbedSummary {
    /// Rows written.
    pub rows: usize,
    /// Audio files left out: no usable label (no rule matched, not UTF-8, refused by
    /// `validate_label`), or the audio failed (decode, too short, too long...).
    pub skipped: Vec<Skipped>,
    /// Total decoded audio, seconds.
    pub audio_seconds: f64,
    /// Vector length.
    pub dim: usize,
    /// Variance explained by the kept components (1.0 = all).
    pub explained_variance: f64,
    /// Fingerprint of the embedding used.
    pub fingerprint: String,
    /// Whether the embedding was fitted by this run.
    pub fitted: bool,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// How the front end was chosen, one line per decision (data-aware defaults only).
    pub decisions: Vec<String>,
}

/// Whether a command should draw a progress bar: not asked to be quiet, stderr a terminal, and
/// not under CI (whose logs keep every redraw).
pub fn progress_wanted(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

/// Computes the clip vectors of `clips` on all cores, in order.
pub fn featurize_clips(
    featurizer: &Featurizer,
    clips: &[Clip],
    bar: Option<&ProgressBar>,
) -> Vec<Result<ClipFeatures, EmbedError>> {
    clips
        .par_iter()
        .map(|clip| {
            let r = featurizer.from_file(&clip.path);
            if let Some(bar) = bar {
                bar.inc(1);
            }
            r
        })
        .collect()
}

/// Projects the clip vectors of `clips` through `embedder` into rows labelled by their clips,
/// on all cores, in order.
pub fn reference_rows(
    embedder: &Embedder,
    clips: &[&Clip],
    vectors: &[Vec<f32>],
) -> Result<Vec<LabeledRow>, EmbedError> {
    clips
        .par_iter()
        .zip(vectors)
        .map(|(clip, v)| {
            Ok(LabeledRow {
                vector: embedder.project(v)?,
                target: clip.label.clone(),
                prediction: None,
            })
        })
        .collect()
}

/// The clips of a dataset embedded with an embedding already fitted.
#[derive(Debug)]
pub struct EmbeddedClips<'a> {
    /// The clips that embedded, in dataset order.
    pub clips: Vec<&'a Clip>,
    /// One row per clip of [`EmbeddedClips::clips`].
    pub rows: Vec<LabeledRow>,
    /// The files that failed, and why.
    pub skipped: Vec<Skipped>,
}

/// Embeds every clip of `dataset` with `embedder` (no fitting, nothing written): what
/// evaluating a model on new audio needs.
pub fn embed_clips<'a>(
    embedder: &Embedder,
    dataset: &'a Dataset,
) -> Result<EmbeddedClips<'a>, EmbedError> {
    let results = featurize_clips(embedder.featurizer(), &dataset.clips, None);
    let mut clips = Vec::with_capacity(results.len());
    let mut vectors = Vec::with_capacity(results.len());
    let mut skipped = Vec::new();
    for (clip, result) in dataset.clips.iter().zip(results) {
        match result {
            Ok(f) => {
                clips.push(clip);
                vectors.push(f.vector);
            }
            Err(e) => skipped.push(Skipped {
                path: clip.path.clone(),
                reason: e.to_string(),
            }),
        }
    }
    let rows = reference_rows(embedder, &clips, &vectors)?;
    Ok(EmbeddedClips {
        clips,
        rows,
        skipped,
    })
}

/// Runs the whole embed command.
pub fn embed_dataset(req: EmbedRequest) -> Result<EmbedSummary, EmbedCommandError> {
    let start = Instant::now();
    let (dataset, mut skipped) = discover(&req.dataset_dir, &req.source)?;
    if dataset.clips.is_empty() {
        return Err(EmbedCommandError::Usage(format!(
            "no labelled audio files in {}",
            req.dataset_dir.display()
        )));
    }
    let plan = match req.reuse {
        Some(embedder) => EmbeddingPlan::Reuse(embedder),
        None => EmbeddingPlan::fit(&req.front_end, &dataset.clips, &req.limits)?,
    };
    let featurizer = plan.featurizer();
    let bar = req.progress.then(|| {
        let bar = ProgressBar::new(dataset.clips.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} clips {elapsed_precise}")
                .expect("static template"),
        );
        bar
    });
    let results = featurize_clips(featurizer, &dataset.clips, bar.as_ref());
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }

    let mut kept: Vec<(&Clip, ClipFeatures)> = Vec::with_capacity(results.len());
    for (clip, result) in dataset.clips.iter().zip(results) {
        match result {
            Ok(f) => kept.push((clip, f)),
            Err(e) => skipped.push(Skipped {
                path: clip.path.clone(),
                reason: e.to_string(),
            }),
        }
    }
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    if req.strict && !skipped.is_empty() {
        return Err(EmbedCommandError::Strict {
            count: skipped.len(),
            first: format!("{}: {}", skipped[0].path.display(), skipped[0].reason),
        });
    }
    if kept.is_empty() {
        return Err(EmbedCommandError::Usage(
            "every file failed; nothing to embed".into(),
        ));
    }

    let vectors: Vec<Vec<f32>> = kept.iter().map(|(_, f)| f.vector.clone()).collect();
    let fitted = matches!(plan, EmbeddingPlan::Fit { .. });
    let (embedder, decisions) = match plan {
        EmbeddingPlan::Reuse(e) => (e, Vec::new()),
        EmbeddingPlan::Fit {
            featurizer,
            decisions,
            n_components,
        } => {
            // Never more components than clips or vector values allow.
            let n_components = req
                .n_components
                .unwrap_or(n_components)
                .min(vectors.len())
                .min(featurizer.config().clip_vector_len());
            let e = Embedder::fit(featurizer, &vectors, n_components, req.whiten)?
                .with_decisions(decisions.clone());
            e.save(&req.artifacts)?;
            (e, decisions)
        }
    };
    let kept_clips: Vec<&Clip> = kept.iter().map(|(clip, _)| *clip).collect();
    let rows = reference_rows(&embedder, &kept_clips, &vectors)?;
    write_table(&req.out, TableKind::Reference, embedder.dim(), &rows)?;
    write_meta(&req.out, &dataset.group_names, &kept_clips)?;

    Ok(EmbedSummary {
        rows: rows.len(),
        skipped,
        audio_seconds: kept.iter().map(|(_, f)| f.duration_seconds).sum(),
        dim: embedder.dim(),
        explained_variance: embedder.explained_variance_ratio().iter().sum(),
        fingerprint: embedder.fingerprint().to_string(),
        fitted,
        elapsed: start.elapsed(),
        decisions,
    })
}

/// The embedding a run uses: one given, or one to fit on the run's clip vectors.
// One plan per run, on the stack: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
enum EmbeddingPlan {
    Reuse(Embedder),
    Fit {
        featurizer: Featurizer,
        /// How the front end was chosen, one line per decision.
        decisions: Vec<String>,
        /// Components unless the request names a count.
        n_components: usize,
    },
}

impl EmbeddingPlan {
    /// Plans the front end to fit: derived from a scan of `clips`, or the given one.
    fn fit(
        choice: &FrontEndChoice,
        clips: &[Clip],
        limits: &AudioLimits,
    ) -> Result<Self, EmbedCommandError> {
        let (config, decisions, n_components) = match choice {
            FrontEndChoice::Given(config) => (
                config.clone(),
                vec!["front end given by --features".to_string()],
                DEFAULT_COMPONENTS,
            ),
            FrontEndChoice::Tuned(tuned) => (
                tuned.features.clone(),
                vec![tuned.provenance()],
                tuned.n_components,
            ),
            FrontEndChoice::DataAware => {
                let paths: Vec<&Path> = clips.iter().map(|c| c.path.as_path()).collect();
                let derived = DatasetProfile::scan(&paths, limits).derive();
                (derived.config, derived.decisions, derived.n_components)
            }
        };
        Ok(Self::Fit {
            featurizer: Featurizer::new(config, *limits)?,
            decisions,
            n_components,
        })
    }

    fn featurizer(&self) -> &Featurizer {
        match self {
            Self::Reuse(e) => e.featurizer(),
            Self::Fit { featurizer, .. } => featurizer,
        }
    }
}
