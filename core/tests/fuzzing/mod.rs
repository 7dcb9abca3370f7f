//! The checks behind the cargo-fuzz targets in `fuzz/` and the regression tests in
//! `tests/fuzz_regressions.rs`: one function per target, included by both (the fuzz targets with
//! `#[path]`), so a saved input replays through exactly the code that found it.
//!
//! Each check feeds arbitrary bytes to a public entry point and asserts that the answer is either
//! a well-formed value or a typed error of an expected kind; any panic, hang or runaway
//! allocation is a bug.
#![allow(dead_code)]

use std::sync::OnceLock;

use tympan_core::audio::{decode_bytes, AudioError, AudioLimits, MAX_SOURCE_RATE, MIN_SOURCE_RATE};
use tympan_core::embedding::{EmbedError, Embedder, Featurizer};
use tympan_core::features::FeatureConfig;

/// Components of the fuzzing embedding (the project's default width).
pub const FUZZ_COMPONENTS: usize = 16;

/// Decoding limits of the fuzz targets: the production defaults.
pub fn limits() -> AudioLimits {
    AudioLimits::default()
}

/// A 16-bit PCM mono WAV file holding `samples` (clamped to [-1, 1]) at `rate` Hz.
pub fn wav_16bit(rate: u32, samples: &[f32]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes());
    }
    out
}

/// Deterministic synthetic clip number `i`: tones, chirps, noise bursts and a two-tone mix, of
/// 0.4 to 1.1 s at 8 kHz, as WAV bytes.
pub fn synthetic_clip(i: usize) -> Vec<u8> {
    const RATE: u32 = 8_000;
    let n = 3_200 + (i * 1_777) % 5_600;
    let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ (i as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    let f0 = 150.0 + 97.0 * i as f32;
    let two_pi = 2.0 * std::f32::consts::PI;
    let samples: Vec<f32> = (0..n)
        .map(|k| {
            let t = k as f32 / RATE as f32;
            let envelope = (std::f32::consts::PI * k as f32 / n as f32).sin();
            let x = match i % 4 {
                0 => (two_pi * f0 * t).sin(),
                1 => (two_pi * (f0 + 1_500.0 * t) * t).sin(),
                2 => noise() * 0.7,
                _ => 0.5 * (two_pi * f0 * t).sin() + 0.5 * (two_pi * 2.7 * f0 * t).sin(),
            };
            0.8 * envelope * x
        })
        .collect();
    wav_16bit(RATE, &samples)
}

/// The embedding the decode target projects with: the default front end, a scaler and a
/// 16-component whitened PCA fitted once on 40 synthetic clips, so no file is needed.
pub fn embedder() -> &'static Embedder {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| {
        let featurizer =
            Featurizer::new(FeatureConfig::default(), limits()).expect("default config plans");
        let vectors: Vec<Vec<f32>> = (0..40)
            .map(|i| {
                featurizer
                    .from_bytes(&synthetic_clip(i), Some("wav"))
                    .expect("synthetic clip embeds")
                    .vector
            })
            .collect();
        Embedder::fit(featurizer, &vectors, FUZZ_COMPONENTS, true).expect("embedding fits")
    })
}

fn check_audio_error(e: &AudioError, limits: &AudioLimits) {
    assert!(!e.to_string().is_empty());
    match e {
        AudioError::TooLong { seconds, limit } => {
            assert!(seconds > limit, "TooLong with {seconds} s <= {limit} s");
            assert_eq!(*limit, limits.max_seconds);
        }
        AudioError::Io { .. } => panic!("I/O error decoding bytes held in memory: {e}"),
        AudioError::OverBudget { .. } => panic!("a sample budget that was never set: {e}"),
        _ => {}
    }
}

/// Target `decode_embed`: decode arbitrary bytes, then featurize and project what decoded, the
/// path every `/predict`, `/feedback` and embed command takes.
pub fn decode_embed(data: &[u8]) {
    let embedder = embedder();
    let limits = *embedder.featurizer().limits();
    let audio = match decode_bytes(data, None, &limits) {
        Ok(audio) => audio,
        Err(e) => return check_audio_error(&e, &limits),
    };
    assert!(
        (MIN_SOURCE_RATE..=MAX_SOURCE_RATE).contains(&audio.sample_rate),
        "decoded at {} Hz",
        audio.sample_rate
    );
    assert!(
        (1..=limits.max_channels).contains(&audio.channels),
        "decoded {} channels",
        audio.channels
    );
    assert!(!audio.samples.is_empty(), "decoded to no samples");
    assert!(
        audio.samples.iter().all(|s| s.is_finite()),
        "decoded a non-finite sample"
    );
    assert!(
        audio.duration_seconds() <= limits.max_seconds,
        "decoded {} s, over the limit of {} s",
        audio.duration_seconds(),
        limits.max_seconds
    );
    // The same two steps as `Embedder::embed_bytes`, without decoding twice.
    let clip = match embedder.featurizer().from_decoded(&audio) {
        Ok(clip) => clip,
        Err(EmbedError::Audio(e)) => return check_audio_error(&e, &limits),
        Err(e) => panic!("featurizing decoded audio failed with a non-audio error: {e}"),
    };
    assert_eq!(clip.vector.len(), embedder.config().clip_vector_len());
    assert!(
        clip.vector.iter().all(|v| v.is_finite()),
        "non-finite clip vector {:?}",
        clip.vector
    );
    let vector = embedder
        .project(&clip.vector)
        .expect("a clip vector of the right length projects");
    assert_eq!(vector.len(), embedder.dim());
    assert!(
        vector.iter().all(|v| v.is_finite()),
        "non-finite embedding {vector:?}"
    );
}
