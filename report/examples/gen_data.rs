//! Writes a deterministic synthetic reference/production CSV pair.
//!
//! ```text
//! cargo run --release -p tympan-report --example gen_data -- OUT_DIR [REF_ROWS PROD_ROWS COLUMNS SHIFT SEED DECIMALS CLASSES]
//! ```
//! Defaults: 2500 500 16 0.0 42 6 10 (DECIMALS `full` = shortest exact representation). Files: OUT_DIR/ref_data.csv, OUT_DIR/prod_data.csv.

use std::path::PathBuf;

use tympan_testkit::synth::{write_csv_pair, SynthSpec};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = PathBuf::from(args.first().map(String::as_str).unwrap_or("data"));
    let num = |i: usize, default: f64| -> anyhow::Result<f64> {
        Ok(match args.get(i) {
            Some(s) => s.parse()?,
            None => default,
        })
    };
    let spec = SynthSpec {
        ref_rows: num(1, 2500.0)? as usize,
        prod_rows: num(2, 500.0)? as usize,
        columns: num(3, 16.0)? as usize,
        shift: num(4, 0.0)?,
        seed: num(5, 42.0)? as u64,
        decimals: match args.get(6).map(String::as_str) {
            Some("full") => None,
            Some(d) => Some(d.parse()?),
            None => Some(6),
        },
        classes: num(7, 10.0)? as usize,
        ..SynthSpec::default()
    };
    std::fs::create_dir_all(&out)?;
    write_csv_pair(&spec, &out.join("ref_data.csv"), &out.join("prod_data.csv"))?;
    println!(
        "wrote {} and {}",
        out.join("ref_data.csv").display(),
        out.join("prod_data.csv").display()
    );
    Ok(())
}
