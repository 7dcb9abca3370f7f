//! End-to-end benchmark: 2,500 reference rows vs 500 production rows of 16
//! PCA columns (Evidently's "large reference" path: Wasserstein and
//! Jensen–Shannon), from CSV parsing to HTML.

use criterion::{criterion_group, criterion_main, Criterion};
use tympan_report::{Report, ReportConfig};
use tympan_testkit::synth::{write_csv_pair, SynthSpec};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (r, p) = (dir.path().join("ref.csv"), dir.path().join("prod.csv"));
    let spec = SynthSpec {
        shift: 0.3,
        ..SynthSpec::default()
    };
    write_csv_pair(&spec, &r, &p).expect("write data");
    let config = ReportConfig::default();
    c.bench_function("compute 2500x500x16", |b| {
        b.iter(|| Report::compute(&config, &r, &p).expect("report"))
    });
    let report = Report::compute(&config, &r, &p).expect("report");
    c.bench_function("to_html", |b| b.iter(|| report.to_html()));
    c.bench_function("compute + html + json", |b| {
        b.iter(|| {
            let rep = Report::compute(&config, &r, &p).expect("report");
            (rep.to_html(), rep.to_json())
        })
    });
    // Small-reference path: exact KS p-values and chi-square.
    let small = SynthSpec {
        ref_rows: 1_000,
        prod_rows: 500,
        ..spec
    };
    let (rs, ps) = (
        dir.path().join("ref_small.csv"),
        dir.path().join("prod_small.csv"),
    );
    write_csv_pair(&small, &rs, &ps).expect("write data");
    c.bench_function("compute 1000x500x16 (exact KS)", |b| {
        b.iter(|| Report::compute(&config, &rs, &ps).expect("report"))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
