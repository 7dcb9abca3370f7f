//! `tympan-embed DATASET_DIR`: see the crate documentation of `tympan_embed`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use tympan_core::audio::AudioLimits;
use tympan_core::embedding::Embedder;
use tympan_core::features::FeatureConfig;
use tympan_core::tuned::TunedConfig;
use tympan_embed::{embed_dataset, progress_wanted, EmbedRequest, FrontEndChoice, LabelArgs};
use tympan_log::LogFormat;

/// Embed a folder of labelled audio into data/ref_data.csv and fit the embedding into artifacts/.
#[derive(Parser, Debug)]
#[command(name = "tympan-embed", version)]
struct Args {
    /// Dataset folder: DIR/<label>/*.wav, or files named by --label-pattern.
    dataset_dir: PathBuf,
    /// Output table.
    #[arg(long, default_value = "data/ref_data.csv")]
    out: PathBuf,
    /// Folder the fitted embedding is written to.
    #[arg(long, default_value = "artifacts")]
    artifacts: PathBuf,
    /// Reuse the fitted embedding in this artifacts folder instead of fitting a new one.
    #[arg(long, value_name = "DIR")]
    embedding: Option<PathBuf>,
    #[command(flatten)]
    labels: LabelArgs,
    /// Number of PCA components (default: derived with the front end, or 64 with --features).
    #[arg(long)]
    components: Option<usize>,
    /// Whiten the PCA outputs to unit variance (measured worse on FSDD: it amplifies the
    /// low-variance components).
    #[arg(long)]
    whiten: bool,
    /// Front-end configuration as JSON: a FeatureConfig, or the tuned.json of `tympan tune` (its
    /// front end and PCA size); by default one is derived from a scan of the dataset (rates,
    /// band, levels, durations) and each decision printed.
    #[arg(long, value_name = "FILE")]
    features: Option<PathBuf>,
    /// Longest clip accepted, in seconds.
    #[arg(long, default_value_t = 60.0)]
    max_seconds: f64,
    /// Fail when any file cannot be embedded instead of skipping it.
    #[arg(long)]
    strict: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// PostgreSQL URL of a scale-out deployment: also store the embedding and the reference rows
    /// there (then `tympan train --database-url` trains on them).
    #[arg(long, env = "TYMPAN_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    #[command(flatten)]
    log: tympan_log::LogArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    args.log.run(|| run(&args))
}

fn run(args: &Args) -> Result<()> {
    let limits = AudioLimits {
        max_seconds: args.max_seconds,
        ..AudioLimits::default()
    };
    let front_end = match &args.features {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            if TunedConfig::is_tuned(&text) {
                FrontEndChoice::Tuned(Box::new(TunedConfig::read(path)?))
            } else {
                let config: FeatureConfig = serde_json::from_str(&text)
                    .with_context(|| format!("parsing {}", path.display()))?;
                FrontEndChoice::Given(config)
            }
        }
        None => FrontEndChoice::DataAware,
    };
    let source = args.labels.source(&args.dataset_dir)?;
    let reuse = match &args.embedding {
        Some(dir) => Some(Embedder::load(dir, limits)?),
        None => None,
    };
    let progress = progress_wanted(args.quiet);
    let summary = embed_dataset(EmbedRequest {
        dataset_dir: args.dataset_dir.clone(),
        source,
        out: args.out.clone(),
        artifacts: args.artifacts.clone(),
        reuse,
        front_end,
        limits,
        n_components: args.components,
        whiten: args.whiten,
        strict: args.strict,
        progress,
    })?;
    for d in &summary.decisions {
        println!("front end: {d}");
    }
    for s in &summary.skipped {
        match args.log.log_format {
            // A report of the run in a fixed `skipped PATH: REASON` form (tests and scripts
            // parse it).
            LogFormat::Text => eprintln!("skipped {}: {}", s.path.display(), s.reason),
            // In JSON every stderr line is an event.
            LogFormat::Json => {
                tracing::warn!(path = %s.path.display(), reason = %s.reason, "file skipped")
            }
        }
    }
    println!(
        "embedded {} clips ({:.0} s of audio) in {:.2} s -> {} ({} components, {:.1}% variance); skipped {}",
        summary.rows,
        summary.audio_seconds,
        summary.elapsed.as_secs_f64(),
        args.out.display(),
        summary.dim,
        summary.explained_variance * 100.0,
        summary.skipped.len(),
    );
    if summary.fitted {
        println!(
            "embedding {} written to {}",
            &summary.fingerprint[..12],
            args.artifacts
                .join(tympan_core::embedding::EMBEDDING_FILE)
                .display()
        );
    }
    if let Some(url) = &args.database_url {
        publish(url, &args.artifacts, &args.out)?;
    }
    Ok(())
}

/// Stores the embedding written to `artifacts` and the rows written to `table` in the database.
fn publish(url: &str, artifacts: &std::path::Path, table: &std::path::Path) -> Result<()> {
    let store = tympan_pg::PgStore::connect(&tympan_pg::PgOptions::new(url))
        .context("opening the database")?;
    let path = artifacts.join(tympan_core::embedding::EMBEDDING_FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let embedder = Embedder::from_json(&text, &path.display().to_string(), AudioLimits::default())?;
    let rows = tympan_data::read_table(table)?.rows;
    store.put_embedding(embedder.fingerprint(), &text)?;
    store.put_reference(&rows)?;
    println!(
        "stored the embedding and {} reference rows in {}",
        rows.len(),
        store.location()
    );
    Ok(())
}
