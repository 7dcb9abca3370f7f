//! Training speed on FSDD clips embedded with the data-aware front end: 2,500 x 16 PCA
//! components (the Python stack's LogisticRegression takes 38 ms on that shape) and all 3,000 x
//! 64, 10 classes. Falls back to synthetic clusters when FSDD is not found.
//! `cargo bench -p tympan-core --bench training`

use criterion::{criterion_group, criterion_main, Criterion};
use rayon::prelude::*;
use tympan_core::audio::AudioLimits;
use tympan_core::embedding::{Embedder, Featurizer};
use tympan_core::evaluation::SplitMix64;
use tympan_core::features::DatasetProfile;
use tympan_core::model::{train, TrainConfig};
use tympan_data::LabeledRow;

fn fsdd_rows(n: usize, dim: usize) -> Option<Vec<LabeledRow>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tympan_core::fsdd::locate(&[&root])?;
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    // Every digit and speaker: spread the n clips over the sorted list.
    let mut rng = SplitMix64::new(3);
    rng.shuffle(&mut files);
    files.truncate(n);
    let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
    let config = DatasetProfile::scan(&paths, &AudioLimits::default())
        .derive()
        .config;
    let featurizer = Featurizer::new(config, AudioLimits::default()).ok()?;
    let vectors: Vec<Vec<f32>> = files
        .par_iter()
        .map(|p| featurizer.from_file(p).unwrap().vector)
        .collect();
    let embedder = Embedder::fit(featurizer, &vectors, dim, false).ok()?;
    Some(
        files
            .iter()
            .zip(&vectors)
            .map(|(p, v)| LabeledRow {
                vector: embedder.project(v).unwrap(),
                target: p.file_name().unwrap().to_string_lossy()[..1].to_string(),
                prediction: None,
            })
            .collect(),
    )
}

/// Ten overlapping clusters (sum of uniforms), deterministic.
fn synthetic_rows(n: usize, dim: usize) -> Vec<LabeledRow> {
    let mut rng = SplitMix64::new(7);
    let mut unit = || (rng.next_u64() >> 11) as f32 / (1u64 << 53) as f32;
    (0..n)
        .map(|i| {
            let class = i % 10;
            let vector = (0..dim)
                .map(|j| {
                    ((class * 7 + j * 3) % 11) as f32 / 3.0 + (unit() + unit() + unit() - 1.5) * 1.5
                })
                .collect();
            LabeledRow {
                vector,
                target: class.to_string(),
                prediction: None,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let config = TrainConfig::default();
    for (n, dim) in [(2_500, 16), (3_000, 64)] {
        let data = fsdd_rows(n, dim).unwrap_or_else(|| {
            eprintln!("FSDD not found: benchmarking synthetic clusters instead");
            synthetic_rows(n, dim)
        });
        c.bench_function(&format!("train_{n}x{dim}_fsdd"), |b| {
            b.iter(|| train(&data, &config, None, "").unwrap())
        });
        let base = train(&data, &config, None, "").unwrap();
        c.bench_function(&format!("finetune_{n}x{dim}_from_trained"), |b| {
            b.iter(|| train(&data, &config, Some(&base), "").unwrap())
        });
        let hard = synthetic_rows(n, dim);
        c.bench_function(&format!("train_{n}x{dim}_synthetic_overlapping"), |b| {
            b.iter(|| train(&hard, &config, None, "").unwrap())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
