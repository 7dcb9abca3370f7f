//! The data-aware front end on synthetic 44.1 kHz audio whose two classes differ only above
//! 4 kHz: noise in 5-6 kHz against noise in 7-8 kHz, at random levels, over a shared random
//! low-frequency part. The scan must open the band; the old fixed 0-4 kHz band cannot separate
//! the classes.

use std::path::Path;

use tympan_core::audio::AudioLimits;
use tympan_core::embedding::Embedder;
use tympan_core::evaluation::{stratified_split, train_and_score, SplitMix64};
use tympan_core::features::{DbReference, FeatureConfig, PoolStat};
use tympan_core::model::TrainConfig;
use tympan_data::read_table;
use tympan_embed::{embed_dataset, EmbedRequest, FilePattern, FrontEndChoice, LabelSource};
use tympan_testkit::wav::{wav, WavSpec};

const RATE: u32 = 44_100;
const CLIPS_PER_CLASS: usize = 40;

fn uniform(rng: &mut SplitMix64) -> f32 {
    (rng.next_u64() >> 11) as f32 / (1u64 << 53) as f32
}

/// Band-limited noise: a sum of sines at random frequencies and phases within `lo..hi` Hz.
fn band_noise(rng: &mut SplitMix64, n: usize, lo: f32, hi: f32, level: f32) -> Vec<f32> {
    let partials: Vec<(f32, f32)> = (0..60)
        .map(|_| {
            (
                lo + (hi - lo) * uniform(rng),
                std::f32::consts::TAU * uniform(rng),
            )
        })
        .collect();
    let scale = level / (partials.len() as f32).sqrt();
    (0..n)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            partials
                .iter()
                .map(|(f, p)| (std::f32::consts::TAU * f * t + p).sin())
                .sum::<f32>()
                * scale
        })
        .collect()
}

fn write_dataset(dir: &Path) {
    let mut rng = SplitMix64::new(7);
    for (label, lo, hi) in [("low", 5_000.0, 6_000.0), ("high", 7_000.0, 8_000.0)] {
        for k in 0..CLIPS_PER_CLASS {
            let n = (RATE as f32 * (0.5 + uniform(&mut rng))) as usize;
            // The shared part dominates the energy and carries the same distribution in both
            // classes: a loud random low band under 1 kHz.
            let low_level = 0.3 + 0.3 * uniform(&mut rng);
            let shared = band_noise(&mut rng, n, 100.0, 1_000.0, low_level);
            let level = 0.02 + 0.06 * uniform(&mut rng);
            let cue = band_noise(&mut rng, n, lo, hi, level);
            let pcm: Vec<u8> = shared
                .iter()
                .zip(&cue)
                .flat_map(|(a, b)| (((a + b).clamp(-1.0, 1.0) * 32_000.0) as i16).to_le_bytes())
                .collect();
            let path = dir.join(format!("{label}_{k}.wav"));
            std::fs::write(path, wav(WavSpec::pcm16(1, RATE), &pcm, None)).unwrap();
        }
    }
}

/// Holdout accuracy of the embed + train recipe with the given front end.
fn holdout_accuracy(dir: &Path, out: &Path, front_end: FrontEndChoice) -> (f64, Embedder) {
    embed_dataset(EmbedRequest {
        front_end,
        n_components: Some(16),
        ..EmbedRequest::new(
            dir.to_path_buf(),
            LabelSource::Pattern(FilePattern::new("{label}_{n}").unwrap()),
            out.join("ref_data.csv"),
            out.join("artifacts"),
        )
    })
    .unwrap();
    let rows = read_table(&out.join("ref_data.csv")).unwrap().rows;
    let targets: Vec<&str> = rows.iter().map(|r| r.target.as_str()).collect();
    let (train, test) = stratified_split(&targets, 0.3, 1);
    let m = train_and_score(&rows, &train, &test, &TrainConfig::default()).unwrap();
    let embedder = Embedder::load(&out.join("artifacts"), AudioLimits::default()).unwrap();
    (m.accuracy, embedder)
}

/// The front end Tympan used before the data-aware defaults, fitted to 8 kHz speech.
fn old_fixed_band() -> FeatureConfig {
    FeatureConfig {
        sample_rate: 16_000,
        n_fft: 512,
        hop_length: 160,
        n_mels: 40,
        n_mfcc: 20,
        fmin: 0.0,
        fmax: 4_000.0,
        top_db: Some(50.0),
        db_reference: DbReference::ClipMax,
        trim_db: Some(25.0),
        pooling: vec![
            PoolStat::Mean,
            PoolStat::Std,
            PoolStat::DeltaStd,
            PoolStat::SegmentMeans(6),
        ],
        ..FeatureConfig::default()
    }
}

#[test]
fn classes_that_differ_only_above_4_khz_are_separated_by_the_derived_band() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("clips");
    std::fs::create_dir_all(&data).unwrap();
    write_dataset(&data);

    let (derived, embedder) = holdout_accuracy(
        &data,
        &tmp.path().join("derived"),
        FrontEndChoice::DataAware,
    );
    let config = embedder.config();
    assert!(
        config.fmax >= 8_000.0 && config.sample_rate >= 16_000,
        "band 0-{} Hz at {} Hz: {:?}",
        config.fmax,
        config.sample_rate,
        embedder.decisions()
    );
    assert!(
        embedder.decisions().iter().any(|d| d.starts_with("band ")),
        "{:?}",
        embedder.decisions()
    );
    let (fixed, _) = holdout_accuracy(
        &data,
        &tmp.path().join("fixed"),
        FrontEndChoice::Given(old_fixed_band()),
    );
    println!("holdout accuracy: data-aware {derived:.3}, old 0-4 kHz band {fixed:.3}");
    assert!(derived >= 0.95, "data-aware front end: {derived}");
    assert!(
        fixed <= 0.75,
        "the 0-4 kHz band should not see the cue: {fixed}"
    );
}
