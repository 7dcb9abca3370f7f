//! Audio in: decoding any supported container to mono samples and resampling to the pipeline
//! rate; noisy copies of a clip to train on.

mod decode;
mod noise;
mod resample;

pub use decode::{
    decode_bytes, decode_file, probe_sample_rate, AudioLimits, DecodedAudio, DEFAULT_MAX_CHANNELS,
};
pub use noise::{NoiseCopies, NoiseLevel};
pub use resample::{resample, resample_with, ResamplerRecipe, MAX_SOURCE_RATE, MIN_SOURCE_RATE};

/// Why a clip could not be turned into samples.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// No demuxer or decoder recognises the stream (e.g. Opus, or not audio at all).
    #[error("unsupported audio format: {0}")]
    Unsupported(String),
    /// The stream is recognised but broken (truncated, malformed packets).
    #[error("corrupt audio stream: {0}")]
    Corrupt(String),
    /// The clip holds no samples, or fewer than one analysis frame.
    #[error("audio too short: {0}")]
    TooShort(String),
    /// The clip is longer than the configured limit.
    #[error("audio too long: longer than the limit of {limit:.1} s (decoding stopped at {seconds:.2} s)")]
    TooLong {
        /// Duration reached when decoding stopped (a lower bound of the real length).
        seconds: f64,
        /// The configured limit.
        limit: f64,
    },
    /// Decoding went past [`AudioLimits::max_samples`] (a caller's work budget, not a property of
    /// the clip: it may decode within a larger one).
    #[error("decoding stopped at the budget of {budget} decoded samples")]
    OverBudget {
        /// The budget, in decoded samples (frames x channels).
        budget: u64,
    },
    /// A decoded sample is NaN or infinite.
    #[error("audio contains non-finite samples (NaN or infinity)")]
    NonFinite,
    /// Reading the file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file that could not be read.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}
