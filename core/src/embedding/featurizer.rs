//! [`Featurizer`]: audio bytes to the pooled clip vector (before scaling and PCA).

use std::path::Path;

use crate::audio::{
    decode_bytes, decode_file, resample_with, AudioError, AudioLimits, DecodedAudio,
    ResamplerRecipe,
};
use crate::features::{FeatureConfig, FrontEnd, Spectrogram};

use super::EmbedError;

/// Decodes, resamples and runs the front end: the unfitted first half of the embedding.
#[derive(Debug)]
pub struct Featurizer {
    front_end: FrontEnd,
    limits: AudioLimits,
    resampler: ResamplerRecipe,
}

/// A clip vector with facts about the clip it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipFeatures {
    /// The pooled vector.
    pub vector: Vec<f32>,
    /// Duration of the decoded clip, in seconds.
    pub duration_seconds: f64,
}

impl Featurizer {
    /// Plans the front end for `config` with the given decoding limits and the current
    /// resampling recipe.
    pub fn new(config: FeatureConfig, limits: AudioLimits) -> Result<Self, EmbedError> {
        let front_end = FrontEnd::new(config).map_err(EmbedError::InvalidConfig)?;
        Ok(Self {
            front_end,
            limits,
            resampler: ResamplerRecipe::CURRENT,
        })
    }

    /// The same front end with another resampling recipe (the one an embedding was fitted with).
    pub fn with_resampler(mut self, recipe: ResamplerRecipe) -> Self {
        self.resampler = recipe;
        self
    }

    /// The resampling recipe.
    pub fn resampler(&self) -> ResamplerRecipe {
        self.resampler
    }

    /// The front end's configuration.
    pub fn config(&self) -> &FeatureConfig {
        self.front_end.config()
    }

    /// The decoding limits.
    pub fn limits(&self) -> &AudioLimits {
        &self.limits
    }

    /// The front end.
    pub fn front_end(&self) -> &FrontEnd {
        &self.front_end
    }

    /// Clip vector of audio held in memory (`extension` is a format hint).
    pub fn from_bytes(
        &self,
        bytes: &[u8],
        extension: Option<&str>,
    ) -> Result<ClipFeatures, EmbedError> {
        self.from_bytes_within(bytes, extension, &self.limits)
    }

    /// [`Featurizer::from_bytes`] under other decoding limits (e.g. a work budget for one call).
    pub fn from_bytes_within(
        &self,
        bytes: &[u8],
        extension: Option<&str>,
        limits: &AudioLimits,
    ) -> Result<ClipFeatures, EmbedError> {
        self.from_decoded(&decode_bytes(bytes, extension, limits)?)
    }

    /// Clip vector of an audio file.
    pub fn from_file(&self, path: &Path) -> Result<ClipFeatures, EmbedError> {
        self.from_decoded(&decode_file(path, &self.limits)?)
    }

    /// Clip vector of decoded audio.
    pub fn from_decoded(&self, audio: &DecodedAudio) -> Result<ClipFeatures, EmbedError> {
        self.from_signal(&self.signal(audio)?, audio.duration_seconds())
    }

    /// Decoded audio resampled to the front end's rate: what [`Featurizer::from_signal`] reads.
    /// A search over front ends of one rate computes it once per clip.
    pub fn signal(&self, audio: &DecodedAudio) -> Result<Vec<f32>, EmbedError> {
        Ok(resample_with(
            self.resampler,
            &audio.samples,
            audio.sample_rate,
            self.front_end.config().sample_rate,
        )?)
    }

    /// Clip vector of a signal at the front end's rate (from [`Featurizer::signal`], possibly of
    /// another featurizer with the same rate and resampler) of a clip of `duration_seconds`.
    pub fn from_signal(
        &self,
        signal: &[f32],
        duration_seconds: f64,
    ) -> Result<ClipFeatures, EmbedError> {
        self.check_length(signal.len(), duration_seconds)?;
        Ok(ClipFeatures {
            vector: self.front_end.clip_vector(signal),
            duration_seconds,
        })
    }

    /// [`Featurizer::from_signal`] of a signal of `signal_len` samples through its stored
    /// spectrogram ([`FrontEnd::spectrogram`], possibly of another featurizer with the same
    /// [`FrontEnd::stft_setting`]): the same vector without the FFT.
    pub fn from_spectrogram(
        &self,
        signal_len: usize,
        spectrogram: &mut Spectrogram,
        duration_seconds: f64,
    ) -> Result<ClipFeatures, EmbedError> {
        self.check_length(signal_len, duration_seconds)?;
        Ok(ClipFeatures {
            vector: self.front_end.clip_vector_from(spectrogram),
            duration_seconds,
        })
    }

    /// Frames are centred and zero-padded, so a clip shorter than a window still has frames;
    /// under a quarter of one (or one hop) there is too little sound to describe.
    fn check_length(&self, len: usize, duration_seconds: f64) -> Result<(), EmbedError> {
        let config = self.front_end.config();
        let shortest = (config.n_fft / 4).max(config.hop_length);
        if len < shortest {
            return Err(AudioError::TooShort(format!(
                "{:.1} ms is shorter than the {:.1} ms this front end needs",
                duration_seconds * 1000.0,
                shortest as f64 * 1000.0 / f64::from(config.sample_rate)
            ))
            .into());
        }
        Ok(())
    }
}
