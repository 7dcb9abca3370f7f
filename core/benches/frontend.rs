//! Front-end and embedding speed: per audio-second on a synthetic signal, and per FSDD clip from
//! bytes (decode + resample + features + scaler + PCA). `cargo bench -p tympan-core --bench frontend`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tympan_core::audio::{decode_bytes, resample, AudioLimits};
use tympan_core::embedding::{Embedder, Featurizer};
use tympan_core::features::{FeatureConfig, FrontEnd};

fn fsdd_clip(name: &str) -> Option<Vec<u8>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read(tympan_core::fsdd::locate(&[&root])?.join(name)).ok()
}

/// A voiced-speech-like test signal: a 140 Hz pulse train through decaying resonances.
fn signal(seconds: f32, rate: u32) -> Vec<f32> {
    let n = (seconds * rate as f32) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / rate as f32;
            let env = (std::f32::consts::PI * t / seconds).sin();
            env * ((2.0 * std::f32::consts::PI * 140.0 * t).sin() * 0.5
                + (2.0 * std::f32::consts::PI * 700.0 * t).sin() * 0.3
                + (2.0 * std::f32::consts::PI * 1900.0 * t).sin() * 0.1)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let fe = FrontEnd::new(FeatureConfig::default()).unwrap();
    let mut g = c.benchmark_group("front_end_per_audio_second");
    let one_second = signal(1.0, 16_000);
    g.throughput(Throughput::Elements(1));
    g.bench_function("clip_vector_16k", |b| {
        b.iter(|| fe.clip_vector(&one_second))
    });
    // A 44.1 kHz, 5 s clip through the front end derived for 44.1 kHz one-shots (32 kHz
    // pipeline, 64 ms windows, every stream): resampling included.
    let wide = signal(5.0, 44_100);
    let mut one_shots = tympan_core::features::DatasetProfile::default();
    one_shots.rates.insert(44_100, 1);
    one_shots
        .sampled
        .push(tympan_core::features::ClipProfile::measure(&wide, 44_100));
    let wide_fe = FrontEnd::new(one_shots.derive().config).unwrap();
    g.bench_function("clip_vector_44k_5s_derived", |b| {
        b.iter(|| {
            let s = resample(&wide, 44_100, wide_fe.config().sample_rate).unwrap();
            wide_fe.clip_vector(&s)
        })
    });
    let eight_k = signal(1.0, 8_000);
    g.bench_function("resample_8k_to_16k", |b| {
        b.iter(|| resample(&eight_k, 8_000, 16_000).unwrap())
    });
    g.finish();

    let Some(bytes) = fsdd_clip("7_jackson_32.wav") else {
        eprintln!("FSDD not found: skipping the per-clip benchmarks");
        return;
    };
    let featurizer = Featurizer::new(FeatureConfig::default(), AudioLimits::default()).unwrap();
    let v = featurizer.from_bytes(&bytes, Some("wav")).unwrap().vector;
    let vectors: Vec<Vec<f32>> = (0..100)
        .map(|i| {
            v.iter()
                .enumerate()
                .map(|(j, x)| x + ((i * 31 + j * 7) % 13) as f32 * 0.1)
                .collect()
        })
        .collect();
    let embedder = Embedder::fit(featurizer, &vectors, 64, false).unwrap();
    let mut g = c.benchmark_group("fsdd_clip");
    g.bench_with_input(
        BenchmarkId::new("decode", "7_jackson_32"),
        &bytes,
        |b, bytes| b.iter(|| decode_bytes(bytes, Some("wav"), &AudioLimits::default()).unwrap()),
    );
    g.bench_with_input(
        BenchmarkId::new("embed_bytes", "7_jackson_32"),
        &bytes,
        |b, bytes| b.iter(|| embedder.embed_bytes(bytes, Some("wav")).unwrap()),
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
