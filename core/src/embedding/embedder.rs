//! [`Embedder`]: the complete fitted embedding, saved as readable JSON with a fingerprint.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audio::{AudioLimits, ResamplerRecipe};
use crate::features::FeatureConfig;
use tympan_data::durable::write_atomic;

use super::featurizer::{ClipFeatures, Featurizer};
use super::{EmbedError, Projection, StandardScaler};

/// File name of the fitted embedding inside the artifacts folder.
pub const EMBEDDING_FILE: &str = "embedding.json";
/// Format tag written into the file; a reader refuses any other.
pub const EMBEDDING_FORMAT: &str = "tympan-embedding/1";

/// What is stored on disk (and fingerprinted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct EmbeddingParams {
    format: String,
    features: FeatureConfig,
    resampler: String,
    scaler: StandardScaler,
    pca: Projection,
}

#[derive(Serialize, Deserialize)]
struct EmbeddingFile {
    #[serde(flatten)]
    params: EmbeddingParams,
    fingerprint: String,
    fitted_on_clips: usize,
    /// How the front end was chosen (documentation, not fingerprinted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    decisions: Vec<String>,
}

/// An embedded clip.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    /// `PCA_1..PCA_n`.
    pub vector: Vec<f32>,
    /// Duration of the decoded clip, in seconds.
    pub duration_seconds: f64,
}

/// The fitted embedding: feature configuration, scaler and PCA. The embed command, `/predict`
/// and `/feedback` all go through this one object, so reference and production rows can never be
/// computed two different ways.
#[derive(Debug)]
pub struct Embedder {
    params: EmbeddingParams,
    fingerprint: String,
    fitted_on_clips: usize,
    decisions: Vec<String>,
    featurizer: Featurizer,
}

impl Embedder {
    /// Fits the scaler and a PCA of `n_components` (whitened or not) on clip vectors from
    /// `featurizer`.
    pub fn fit(
        featurizer: Featurizer,
        clip_vectors: &[Vec<f32>],
        n_components: usize,
        whiten: bool,
    ) -> Result<Self, EmbedError> {
        let expected = featurizer.config().clip_vector_len();
        if let Some(bad) = clip_vectors.iter().find(|v| v.len() != expected) {
            return Err(EmbedError::Dimension {
                expected,
                got: bad.len(),
            });
        }
        let config = featurizer.config();
        let weights: Vec<(usize, usize)> = config
            .blocks()
            .iter()
            .map(|&(len, _, width)| (len, if config.balance_statistics { width } else { 1 }))
            .collect();
        let scaler = StandardScaler::fit(clip_vectors).balance_blocks(&weights);
        let scaled: Vec<Vec<f64>> = clip_vectors.iter().map(|v| scaler.transform(v)).collect();
        let pca = Projection::fit(&scaled, n_components, whiten).map_err(EmbedError::Fit)?;
        let params = EmbeddingParams {
            format: EMBEDDING_FORMAT.to_string(),
            features: featurizer.config().clone(),
            resampler: featurizer.resampler().description().to_string(),
            scaler,
            pca,
        };
        Ok(Self {
            fingerprint: fingerprint(&params),
            params,
            fitted_on_clips: clip_vectors.len(),
            decisions: Vec::new(),
            featurizer,
        })
    }

    /// Records how the front end was chosen (one line per decision), saved with the embedding.
    pub fn with_decisions(mut self, decisions: Vec<String>) -> Self {
        self.decisions = decisions;
        self
    }

    /// How the front end was chosen, as recorded when the embedding was fitted.
    pub fn decisions(&self) -> &[String] {
        &self.decisions
    }

    /// Loads `artifacts_dir/embedding.json`, checking format, fingerprint and resampler.
    pub fn load(artifacts_dir: &Path, limits: AudioLimits) -> Result<Self, EmbedError> {
        let path = artifacts_dir.join(EMBEDDING_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| EmbedError::Artifact {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::from_json(&text, &path.display().to_string(), limits)
    }

    /// An embedding from the text of an `embedding.json` (kept in a database, say), checking
    /// format, fingerprint and resampler; `source` names it in errors.
    pub fn from_json(text: &str, source: &str, limits: AudioLimits) -> Result<Self, EmbedError> {
        let artifact_err = |reason: String| EmbedError::Artifact {
            path: source.to_string(),
            reason,
        };
        let file: EmbeddingFile =
            serde_json::from_str(text).map_err(|e| artifact_err(e.to_string()))?;
        if file.params.format != EMBEDDING_FORMAT {
            return Err(artifact_err(format!(
                "format {:?}, this build reads {EMBEDDING_FORMAT:?}",
                file.params.format
            )));
        }
        let Some(resampler) = ResamplerRecipe::from_description(&file.params.resampler) else {
            return Err(artifact_err(format!(
                "fitted with resampler {:?}, which this build does not have",
                file.params.resampler
            )));
        };
        let computed = fingerprint(&file.params);
        if computed != file.fingerprint {
            return Err(artifact_err(format!(
                "fingerprint {} does not match its content ({computed}): the file was altered",
                file.fingerprint
            )));
        }
        let featurizer =
            Featurizer::new(file.params.features.clone(), limits)?.with_resampler(resampler);
        Ok(Self {
            params: file.params,
            fingerprint: file.fingerprint,
            fitted_on_clips: file.fitted_on_clips,
            decisions: file.decisions,
            featurizer,
        })
    }

    /// The text of `embedding.json`: what [`Embedder::save`] writes and [`Embedder::from_json`]
    /// reads.
    pub fn to_json(&self) -> String {
        let file = EmbeddingFile {
            params: self.params.clone(),
            fingerprint: self.fingerprint.clone(),
            fitted_on_clips: self.fitted_on_clips,
            decisions: self.decisions.clone(),
        };
        serde_json::to_string_pretty(&file).expect("embedding serialises")
    }

    /// Writes `artifacts_dir/embedding.json` atomically.
    pub fn save(&self, artifacts_dir: &Path) -> Result<(), EmbedError> {
        let path = artifacts_dir.join(EMBEDDING_FILE);
        let json = self.to_json().into_bytes();
        write_atomic(&path, &json).map_err(|e| EmbedError::Artifact {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }

    /// SHA-256 of the embedding's parameters: models record it and refuse any other embedding.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Number of output values (`PCA_1..PCA_n`).
    pub fn dim(&self) -> usize {
        self.params.pca.n_components()
    }

    /// The feature configuration.
    pub fn config(&self) -> &FeatureConfig {
        &self.params.features
    }

    /// Share of variance explained by each kept component.
    pub fn explained_variance_ratio(&self) -> &[f64] {
        &self.params.pca.explained_variance_ratio
    }

    /// Number of clips the scaler and PCA were fitted on.
    pub fn fitted_on_clips(&self) -> usize {
        self.fitted_on_clips
    }

    /// The decoding and front-end half, e.g. to compute clip vectors in bulk.
    pub fn featurizer(&self) -> &Featurizer {
        &self.featurizer
    }

    /// Scales and projects a clip vector.
    pub fn project(&self, clip_vector: &[f32]) -> Result<Vec<f32>, EmbedError> {
        let expected = self.params.scaler.mean.len();
        if clip_vector.len() != expected {
            return Err(EmbedError::Dimension {
                expected,
                got: clip_vector.len(),
            });
        }
        Ok(self
            .params
            .pca
            .transform(&self.params.scaler.transform(clip_vector)))
    }

    /// Embeds audio held in memory (`extension` is a format hint).
    pub fn embed_bytes(
        &self,
        bytes: &[u8],
        extension: Option<&str>,
    ) -> Result<Embedding, EmbedError> {
        self.finish(self.featurizer.from_bytes(bytes, extension)?)
    }

    /// [`Embedder::embed_bytes`] under other decoding limits, e.g. the loaded ones with a
    /// [`AudioLimits::max_samples`] budget for a cheap first attempt.
    pub fn embed_bytes_within(
        &self,
        bytes: &[u8],
        extension: Option<&str>,
        limits: &AudioLimits,
    ) -> Result<Embedding, EmbedError> {
        self.finish(
            self.featurizer
                .from_bytes_within(bytes, extension, limits)?,
        )
    }

    /// Embeds an audio file.
    pub fn embed_file(&self, path: &Path) -> Result<Embedding, EmbedError> {
        self.finish(self.featurizer.from_file(path)?)
    }

    fn finish(&self, clip: ClipFeatures) -> Result<Embedding, EmbedError> {
        Ok(Embedding {
            vector: self.project(&clip.vector)?,
            duration_seconds: clip.duration_seconds,
        })
    }
}

fn fingerprint(params: &EmbeddingParams) -> String {
    let json = serde_json::to_vec(params).expect("embedding serialises");
    hex::encode(Sha256::digest(&json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::DecodedAudio;

    /// A 48 kHz clip of two tones, the upper one near the 8 kHz pipeline's band edge.
    fn clip_48k(seed: u32) -> DecodedAudio {
        let f = 300.0 + 40.0 * seed as f32;
        let samples = (0..24_000)
            .map(|i| {
                let t = i as f32 / 48_000.0;
                0.3 * (2.0 * std::f32::consts::PI * f * t).sin()
                    + 0.2 * (2.0 * std::f32::consts::PI * 3_500.0 * t).sin()
            })
            .collect();
        DecodedAudio {
            samples,
            sample_rate: 48_000,
            channels: 1,
        }
    }

    fn featurizer(recipe: ResamplerRecipe) -> Featurizer {
        let config = FeatureConfig {
            sample_rate: 8_000,
            n_fft: 256,
            hop_length: 80,
            fmax: 3_800.0,
            ..FeatureConfig::default()
        };
        Featurizer::new(config, AudioLimits::default())
            .unwrap()
            .with_resampler(recipe)
    }

    #[test]
    fn a_loaded_embedding_keeps_the_resampler_it_was_fitted_with() {
        let vectors: Vec<Vec<f32>> = (0..6)
            .map(|s| {
                featurizer(ResamplerRecipe::SubChunk256)
                    .from_decoded(&clip_48k(s))
                    .unwrap()
                    .vector
            })
            .collect();
        let fitted =
            Embedder::fit(featurizer(ResamplerRecipe::SubChunk256), &vectors, 3, false).unwrap();
        let dir = tempfile::tempdir().unwrap();
        fitted.save(dir.path()).unwrap();
        let loaded = Embedder::load(dir.path(), AudioLimits::default()).unwrap();
        assert_eq!(
            loaded.featurizer().resampler(),
            ResamplerRecipe::SubChunk256
        );
        let clip = clip_48k(7);
        let a = fitted.featurizer().from_decoded(&clip).unwrap().vector;
        let b = loaded.featurizer().from_decoded(&clip).unwrap().vector;
        assert_eq!(a, b);
        // The recipes differ where it matters: the band edge of a 48 kHz clip.
        let current = featurizer(ResamplerRecipe::CURRENT)
            .from_decoded(&clip)
            .unwrap();
        assert_ne!(current.vector, a);

        // A description this build lacks is refused, not silently replaced.
        let path = dir.path().join(EMBEDDING_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        let old = ResamplerRecipe::SubChunk256.description();
        std::fs::write(&path, text.replace(old, "libsamplerate sinc best")).unwrap();
        let err = Embedder::load(dir.path(), AudioLimits::default()).unwrap_err();
        assert!(err.to_string().contains("does not have"), "{err}");
    }
}
