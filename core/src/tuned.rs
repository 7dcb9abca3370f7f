//! A configuration found by `tympan tune`: the front end, the PCA size and the training
//! settings that scored best in cross-validation, with what it was measured on. `tympan embed
//! --features` and `tympan train --config` read it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::features::FeatureConfig;
use crate::model::TrainConfig;

/// Format tag of a tuned configuration file.
pub const TUNED_FORMAT: &str = "tympan-tuned/1";

/// The winning configuration of a search and how it was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TunedConfig {
    /// [`TUNED_FORMAT`].
    pub format: String,
    /// The front end.
    pub features: FeatureConfig,
    /// PCA components.
    pub n_components: usize,
    /// Training settings.
    pub train: TrainConfig,
    /// The cross-validation that chose it.
    pub cross_validation: CvSummary,
}

/// How a tuned configuration was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvSummary {
    /// Name of the dataset folder (its last path component, never a full path).
    pub dataset: String,
    /// Clips scored.
    pub clips: usize,
    /// `"grouped by speaker"` or `"stratified"`.
    pub protocol: String,
    /// Folds.
    pub folds: usize,
    /// What `score` measures (`"macro_f1"`).
    pub metric: String,
    /// Mean over folds.
    pub score: f64,
    /// Standard deviation over folds.
    pub spread: f64,
    /// The data-aware defaults' score on the same folds.
    pub default_score: f64,
    /// Mean per-fold gain over the defaults.
    #[serde(default)]
    pub gain: f64,
    /// Standard error of `gain`.
    #[serde(default)]
    pub gain_se: f64,
    /// Candidates evaluated.
    pub candidates: usize,
    /// Seed of the search.
    pub seed: u64,
    /// The winner re-scored on partitions the search did not choose it on (absent when the
    /// defaults won, or in files written before the confirmation existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<ConfirmationSummary>,
}

/// A tuned winner's scores on fresh partitions of the same clips.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfirmationSummary {
    /// Folds over all the fresh partitions.
    pub folds: usize,
    /// The winner's mean over them.
    pub score: f64,
    /// The data-aware defaults' mean over them.
    pub default_score: f64,
    /// Mean per-fold gain over the defaults.
    pub gain: f64,
    /// Standard error of `gain`.
    pub gain_se: f64,
}

/// Why a tuned configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TunedError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a tuned configuration.
    #[error("{path} is not a tuned configuration ({reason})")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl TunedConfig {
    /// Reads a file written by `tympan tune --out`.
    pub fn read(path: &Path) -> Result<Self, TunedError> {
        let text = std::fs::read_to_string(path).map_err(|source| TunedError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|reason| TunedError::Format {
            path: path.display().to_string(),
            reason,
        })
    }

    /// Parses the JSON of a tuned configuration and checks its front end.
    pub fn parse(text: &str) -> Result<Self, String> {
        let tuned: Self = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if tuned.format != TUNED_FORMAT {
            return Err(format!(
                "format {:?}, expected {TUNED_FORMAT:?}",
                tuned.format
            ));
        }
        tuned.features.validate()?;
        if tuned.n_components == 0 {
            return Err("n_components must be positive".into());
        }
        Ok(tuned)
    }

    /// Whether `text` looks like a tuned configuration rather than a bare front end.
    pub fn is_tuned(text: &str) -> bool {
        serde_json::from_str::<serde_json::Value>(text)
            .is_ok_and(|v| v.get("format").and_then(|f| f.as_str()) == Some(TUNED_FORMAT))
    }

    /// One line for the embedding's record of how its front end was chosen.
    pub fn provenance(&self) -> String {
        let cv = &self.cross_validation;
        let confirmed = cv.confirmation.as_ref().map_or(String::new(), |c| {
            format!(
                "; confirmed on {} fresh folds: {:.4} against the defaults' {:.4} (gain {:.4} \
                 +/- {:.4})",
                c.folds, c.score, c.default_score, c.gain, c.gain_se
            )
        });
        format!(
            "tuned on {} ({} clips): {} {:.4} +/- {:.4} over {} folds {} (data-aware defaults \
             {:.4}, paired gain {:.4} +/- {:.4}), best of {} candidates, seed {}{}",
            cv.dataset,
            cv.clips,
            cv.metric,
            cv.score,
            cv.spread,
            cv.folds,
            cv.protocol,
            cv.default_score,
            cv.gain,
            cv.gain_se,
            cv.candidates,
            cv.seed,
            confirmed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuned() -> TunedConfig {
        TunedConfig {
            format: TUNED_FORMAT.into(),
            features: FeatureConfig::default(),
            n_components: 32,
            train: TrainConfig::default(),
            cross_validation: CvSummary {
                dataset: "clips".into(),
                clips: 10,
                protocol: "stratified".into(),
                folds: 5,
                metric: "macro_f1".into(),
                score: 0.9,
                spread: 0.01,
                default_score: 0.8,
                gain: 0.1,
                gain_se: 0.02,
                candidates: 3,
                seed: 0,
                confirmation: Some(ConfirmationSummary {
                    folds: 15,
                    score: 0.88,
                    default_score: 0.8,
                    gain: 0.08,
                    gain_se: 0.02,
                }),
            },
        }
    }

    #[test]
    fn round_trips_and_refuses_what_is_not_one() {
        let text = serde_json::to_string(&tuned()).unwrap();
        assert!(TunedConfig::is_tuned(&text));
        assert_eq!(TunedConfig::parse(&text).unwrap(), tuned());
        let bare = serde_json::to_string(&FeatureConfig::default()).unwrap();
        assert!(!TunedConfig::is_tuned(&bare));
        assert!(TunedConfig::parse(&bare).is_err());
        let mut bad = tuned();
        bad.features.n_mfcc = 0;
        assert!(TunedConfig::parse(&serde_json::to_string(&bad).unwrap()).is_err());
    }
}
