//! Training speed: 2,500 rows of 16 columns, 10 classes (the Python stack's LogisticRegression
//! takes 38 ms on the same shape). `cargo bench -p tympan-core --bench training`

use criterion::{criterion_group, criterion_main, Criterion};
use tympan_core::evaluation::SplitMix64;
use tympan_core::model::{train, TrainConfig};
use tympan_core::table::LabeledRow;

/// Ten overlapping Gaussian-ish clusters (sum of uniforms), deterministic.
fn rows(n: usize, dim: usize) -> Vec<LabeledRow> {
    let mut rng = SplitMix64::new(7);
    let mut unit = || (rng.next_u64() >> 11) as f32 / (1u64 << 53) as f32;
    (0..n)
        .map(|i| {
            let class = i % 10;
            let vector = (0..dim)
                .map(|j| {
                    let centre = ((class * 7 + j * 3) % 11) as f32 / 3.0;
                    centre + (unit() + unit() + unit() - 1.5) * 1.5
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
    let data = rows(2_500, 16);
    let config = TrainConfig::default();
    c.bench_function("train_2500x16_10_classes", |b| b.iter(|| train(&data, &config, None, "").unwrap()));
    let base = train(&data, &config, None, "").unwrap();
    c.bench_function("finetune_2500x16_from_trained", |b| {
        b.iter(|| train(&data, &config, Some(&base), "").unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
