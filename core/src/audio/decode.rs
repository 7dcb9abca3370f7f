//! Decoding with symphonia: probe the container, decode the first audio track, downmix to mono.

use std::io::Cursor;
use std::path::Path;

use serde::{Deserialize, Serialize};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use super::resample::{MAX_SOURCE_RATE, MIN_SOURCE_RATE};
use super::AudioError;

/// Limits applied while decoding, so a hostile or huge upload is refused early instead of
/// filling memory.
///
/// The rate and channel count a stream declares are checked before its first packet is decoded,
/// and again on every decoded buffer (a chained or lying stream may change them), so the memory
/// a clip can take is bounded by `max_seconds` x [`MAX_SOURCE_RATE`] mono samples and its decoding
/// work by that times `max_channels`, whatever rate its header claims.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AudioLimits {
    /// Longest accepted clip, in seconds.
    pub max_seconds: f64,
    /// Most channels accepted (each one is decoded before the downmix, so it multiplies the work).
    #[serde(default = "default_max_channels")]
    pub max_channels: usize,
    /// Decoded samples (frames x channels, counted as they are decoded) after which decoding
    /// stops with [`AudioError::OverBudget`]; `None` leaves only the bounds above. A caller sets
    /// it to try a clip cheaply first and hand the expensive ones elsewhere.
    #[serde(default)]
    pub max_samples: Option<u64>,
}

/// Channels accepted by default: 7.1 surround.
pub const DEFAULT_MAX_CHANNELS: usize = 8;

fn default_max_channels() -> usize {
    DEFAULT_MAX_CHANNELS
}

impl Default for AudioLimits {
    fn default() -> Self {
        Self {
            max_seconds: 60.0,
            max_channels: DEFAULT_MAX_CHANNELS,
            max_samples: None,
        }
    }
}

impl AudioLimits {
    /// Refuses a stream whose declared rate or channel count is out of bounds; an undeclared one
    /// (`None`) passes here and is checked on the first decoded buffer.
    fn check_stream(&self, rate: Option<u32>, channels: Option<usize>) -> Result<(), AudioError> {
        if let Some(rate) = rate {
            if !(MIN_SOURCE_RATE..=MAX_SOURCE_RATE).contains(&rate) {
                return Err(AudioError::Unsupported(format!(
                    "sample rate {rate} Hz is outside {MIN_SOURCE_RATE}..={MAX_SOURCE_RATE} Hz"
                )));
            }
        }
        match channels {
            Some(0) => Err(AudioError::Unsupported("the stream has no channels".into())),
            Some(n) if n > self.max_channels => Err(AudioError::Unsupported(format!(
                "{n} channels; at most {} are accepted",
                self.max_channels
            ))),
            _ => Ok(()),
        }
    }
}

/// A decoded clip, downmixed to mono at its source rate.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedAudio {
    /// Mono samples in [-1, 1] (the mean of all channels).
    pub samples: Vec<f32>,
    /// Sample rate of `samples`, in Hz.
    pub sample_rate: u32,
    /// Channel count of the source.
    pub channels: usize,
}

impl DecodedAudio {
    /// Duration in seconds.
    pub fn duration_seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }
}

/// Decodes a clip held in memory. `extension` (e.g. `"mp3"`) is a hint only: the content is
/// probed either way.
pub fn decode_bytes(
    bytes: &[u8],
    extension: Option<&str>,
    limits: &AudioLimits,
) -> Result<DecodedAudio, AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::TooShort("empty input".into()));
    }
    decode_source(Box::new(Cursor::new(bytes)), extension, limits)
}

/// Decodes a clip from a file.
pub fn decode_file(path: &Path, limits: &AudioLimits) -> Result<DecodedAudio, AudioError> {
    let bytes = std::fs::read(path).map_err(|source| AudioError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let ext = path.extension().and_then(|e| e.to_str());
    decode_bytes(&bytes, ext, limits)
}

/// Reads the sample rate a file declares, from its container and codec headers only (no
/// decoding): the cheap part of a dataset scan.
pub fn probe_sample_rate(path: &Path) -> Result<u32, AudioError> {
    let file = std::fs::File::open(path).map_err(|source| AudioError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| AudioError::Unsupported(e.to_string()))?;
    format
        .default_track(TrackType::Audio)
        .and_then(|t| t.codec_params.as_ref())
        .and_then(|p| p.audio())
        .and_then(|p| p.sample_rate)
        .filter(|&r| r > 0)
        .ok_or_else(|| AudioError::Unsupported("no declared sample rate".into()))
}

fn decode_source<'s>(
    source: Box<dyn MediaSource + 's>,
    extension: Option<&str>,
    limits: &AudioLimits,
) -> Result<DecodedAudio, AudioError> {
    let mss = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymphoniaError::Unsupported(what) => AudioError::Unsupported(what.to_string()),
            SymphoniaError::IoError(_) => {
                AudioError::Unsupported("no known audio container found".into())
            }
            other => AudioError::Corrupt(other.to_string()),
        })?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| AudioError::Unsupported("no audio track".into()))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| AudioError::Unsupported("track has no audio codec parameters".into()))?
        .clone();
    // Before any decoding: a header claiming 4 GHz or 60,000 channels costs nothing to refuse.
    limits.check_stream(
        params.sample_rate,
        params.channels.as_ref().map(|c| c.count()),
    )?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| AudioError::Unsupported(e.to_string()))?;

    let mut sample_rate = params.sample_rate.unwrap_or(0);
    let mut channels = params.channels.as_ref().map(|c| c.count()).unwrap_or(0);
    let mut mono: Vec<f32> = Vec::new();
    let mut interleaved: Vec<f32> = Vec::new();
    let mut decoded_any = false;
    let mut decoded_samples: u64 = 0;
    let mut last_error: Option<String> = None;

    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // A truncated file ends with an I/O error: keep what was decoded so far.
            Err(SymphoniaError::IoError(_)) => break,
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => {
                last_error = Some(e.to_string());
                break;
            }
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = match decoder.decode(&packet) {
            Ok(buf) => buf,
            // A damaged packet is skipped, as players do; a stream with no good packet fails below.
            Err(SymphoniaError::DecodeError(e)) => {
                last_error = Some(e.to_string());
                continue;
            }
            Err(SymphoniaError::IoError(_)) => break,
            Err(e) => return Err(AudioError::Corrupt(e.to_string())),
        };
        let spec = buf.spec();
        sample_rate = spec.rate();
        channels = spec.channels().count();
        // The budget first: a refusal of the declared parameters under a budget of 0 then proves
        // they were checked before decoding.
        decoded_samples += (buf.frames() * channels) as u64;
        if let Some(budget) = limits.max_samples.filter(|&b| decoded_samples > b) {
            return Err(AudioError::OverBudget { budget });
        }
        limits.check_stream(Some(sample_rate), Some(channels))?;
        buf.copy_to_vec_interleaved(&mut interleaved);
        downmix_into(&interleaved, channels, &mut mono);
        decoded_any = true;
        if sample_rate > 0 && mono.len() as f64 / f64::from(sample_rate) > limits.max_seconds {
            return Err(AudioError::TooLong {
                seconds: mono.len() as f64 / f64::from(sample_rate),
                limit: limits.max_seconds,
            });
        }
    }

    if !decoded_any {
        return Err(match last_error {
            Some(e) => AudioError::Corrupt(e),
            None => AudioError::TooShort("no audio samples".into()),
        });
    }
    if sample_rate == 0 {
        return Err(AudioError::Corrupt("unknown sample rate".into()));
    }
    if mono.is_empty() {
        return Err(AudioError::TooShort("no audio samples".into()));
    }
    if mono.iter().any(|s| !s.is_finite()) {
        return Err(AudioError::NonFinite);
    }
    Ok(DecodedAudio {
        samples: mono,
        sample_rate,
        channels,
    })
}

/// Appends the per-frame mean of the channels of `interleaved` to `mono`.
fn downmix_into(interleaved: &[f32], channels: usize, mono: &mut Vec<f32>) {
    if channels == 1 {
        mono.extend_from_slice(interleaved);
        return;
    }
    let scale = 1.0 / channels as f32;
    mono.extend(
        interleaved
            .chunks_exact(channels)
            .map(|frame| frame.iter().sum::<f32>() * scale),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downmix_averages_channels() {
        let mut mono = Vec::new();
        downmix_into(&[1.0, 0.0, 0.5, 0.5, -1.0, 1.0], 2, &mut mono);
        assert_eq!(mono, vec![0.5, 0.5, 0.0]);
    }

    use tympan_testkit::wav::{tone_i16, wav, WavSpec};

    /// One second of a tone at 8 kHz with `channels` channels, as a WAV declaring `rate`.
    fn tone_wav(channels: u16, rate: u32) -> Vec<u8> {
        wav(
            WavSpec::pcm16(channels, rate),
            &tone_i16(8_000, usize::from(channels), 8_000.0),
            None,
        )
    }

    /// Limits under which decoding a single packet is an error: a refusal under them came from
    /// the declared parameters, before any decoding.
    fn no_decoding() -> AudioLimits {
        AudioLimits {
            max_samples: Some(0),
            ..AudioLimits::default()
        }
    }

    #[test]
    fn declared_rates_out_of_range_are_refused_before_decoding() {
        for rate in [4_000_000_000, 4_294_967_291, 655_350, 384_001, 999, 0] {
            let err = decode_bytes(&tone_wav(1, rate), Some("wav"), &no_decoding()).unwrap_err();
            assert!(
                matches!(&err, AudioError::Unsupported(m) if m.contains("sample rate")),
                "{rate} Hz: {err}"
            );
        }
        // In range, the same file gets as far as decoding.
        for rate in [MIN_SOURCE_RATE, 8_000, MAX_SOURCE_RATE] {
            let err = decode_bytes(&tone_wav(1, rate), Some("wav"), &no_decoding()).unwrap_err();
            assert!(
                matches!(err, AudioError::OverBudget { budget: 0 }),
                "{rate} Hz: {err}"
            );
        }
    }

    #[test]
    fn channels_over_the_limit_are_refused_before_decoding() {
        let nine = tone_wav(9, 8_000);
        let err = decode_bytes(&nine, Some("wav"), &no_decoding()).unwrap_err();
        assert!(
            matches!(&err, AudioError::Unsupported(m) if m.contains("9 channels")),
            "{err}"
        );
        let limits = AudioLimits {
            max_channels: 9,
            ..AudioLimits::default()
        };
        let audio = decode_bytes(&nine, Some("wav"), &limits).unwrap();
        assert_eq!((audio.channels, audio.samples.len()), (9, 8_000));
    }

    #[test]
    fn the_sample_budget_counts_every_channel() {
        let stereo = tone_wav(2, 8_000);
        let within = |budget| AudioLimits {
            max_samples: Some(budget),
            ..AudioLimits::default()
        };
        let audio = decode_bytes(&stereo, Some("wav"), &within(16_000)).unwrap();
        assert_eq!(audio.samples.len(), 8_000);
        assert!(matches!(
            decode_bytes(&stereo, Some("wav"), &within(15_999)),
            Err(AudioError::OverBudget { budget: 15_999 })
        ));
    }

    #[test]
    fn empty_and_garbage_input_are_errors_not_panics() {
        let limits = AudioLimits::default();
        assert!(matches!(
            decode_bytes(&[], None, &limits),
            Err(AudioError::TooShort(_))
        ));
        let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
        assert!(decode_bytes(&garbage, Some("wav"), &limits).is_err());
    }
}
