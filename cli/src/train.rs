//! `tympan train`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use tympan_core::audio::AudioLimits;
use tympan_core::embedding::Embedder;
use tympan_core::model::TrainConfig;
use tympan_core::registry::{ModelRegistry, ModelStore};
use tympan_core::training::train_version;
use tympan_core::tuned::TunedConfig;
use tympan_data::groups::{calibration_groups, default_calibration_groups};
use tympan_data::read_table;

use crate::database::DatabaseArgs;
use crate::evaluate::print_metrics;

/// Options of `tympan train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Training table (reference or production layout).
    #[arg(long, default_value = "data/ref_data.csv")]
    data: PathBuf,
    /// Extra tables to train on too (e.g. data/prod_data.csv).
    #[arg(long = "also")]
    also: Vec<PathBuf>,
    /// Artifacts folder holding the embedding and the model registry.
    #[arg(long, default_value = "artifacts")]
    artifacts: PathBuf,
    /// Training settings of a `tympan tune` result (tuned.json); --alpha and --max-iterations
    /// override them.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// L2 penalty (scikit-learn's C = 1 / alpha) [default: 10, or the tuned one].
    #[arg(long)]
    alpha: Option<f64>,
    /// Iteration limit of the solver [default: 200, or the tuned one].
    #[arg(long)]
    max_iterations: Option<u64>,
    /// Warm-start from this version (fine-tuning) instead of training from zero.
    #[arg(long, value_name = "VERSION")]
    warm_start: Option<String>,
    /// Register the model without serving it.
    #[arg(long)]
    no_promote: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// With --database-url: train on the database's feedback rows too (its reference rows
    /// always; --data is not read).
    #[arg(long)]
    with_feedback: bool,
    /// The column of the side file beside --data (e.g. ref_data.meta.csv) whose groups (e.g.
    /// speakers) the accuracy estimate's calibration holds out [default: the group column with
    /// the fewest distinct values, at least 3]. Rows of --also tables and feedback rows are never
    /// held out.
    #[arg(long, value_name = "NAME")]
    calibration_groups: Option<String>,
    #[command(flatten)]
    database: DatabaseArgs,
}

/// The embedding, the training rows, their calibration groups, and the model store: from the
/// database (whose rows have no groups), or the folders.
fn sources(args: &TrainArgs) -> Result<Sources> {
    if let Some(store) = args.database.store()? {
        let text = store
            .embedding()?
            .context("the database holds no embedding (run `tympan import` first)")?;
        let embedder = Embedder::from_json(&text, "tympan_embedding", AudioLimits::default())?;
        let mut rows = store.reference()?.rows;
        if args.with_feedback {
            let feedback = tympan_pg::PgFeedback::open(&store, embedder.dim())?;
            rows.extend(tympan_data::FeedbackStore::read_table(&feedback)?.rows);
        }
        if args.calibration_groups.is_some() {
            bail!("--calibration-groups reads <data>.meta.csv, which a database has no copy of");
        }
        let registry = Box::new(tympan_pg::PgModels::new(&store));
        return Ok((embedder, rows, None, registry));
    }
    let embedder = Embedder::load(&args.artifacts, AudioLimits::default())
        .context("the embedding is needed to train (run `tympan embed` first)")?;
    let rows = read_table(&args.data)?.rows;
    let groups = match &args.calibration_groups {
        Some(name) => Some(calibration_groups(&args.data, rows.len(), name)?),
        None => default_calibration_groups(&args.data, rows.len()),
    };
    Ok((
        embedder,
        rows,
        groups.map(|g| g.values),
        Box::new(ModelRegistry::new(&args.artifacts)),
    ))
}

/// What [`sources`] gives.
type Sources = (
    Embedder,
    Vec<tympan_data::LabeledRow>,
    Option<Vec<String>>,
    Box<dyn ModelStore>,
);

/// Trains, registers and (by default) promotes a model.
pub fn run(args: TrainArgs) -> Result<()> {
    let (embedder, mut rows, groups, registry) = sources(&args)?;
    for extra in &args.also {
        rows.extend(read_table(extra)?.rows);
    }
    // Rows beyond the table's (--also) have no group: they always train.
    if let Some(r) = rows.iter().find(|r| r.vector.len() != embedder.dim()) {
        bail!(
            "{} has {} PCA columns, the embedding in {} produces {}",
            args.data.display(),
            r.vector.len(),
            args.artifacts.display(),
            embedder.dim()
        );
    }
    let warm = match &args.warm_start {
        Some(v) => Some(registry.load_for_embedding(v, embedder.fingerprint())?),
        None => None,
    };
    let base = match &args.config {
        Some(path) => TunedConfig::read(path)?.train,
        None => TrainConfig::default(),
    };
    let config = TrainConfig {
        alpha: args.alpha.unwrap_or(base.alpha),
        max_iterations: args.max_iterations.unwrap_or(base.max_iterations),
        ..base
    };
    let start = std::time::Instant::now();
    let trained = train_version(
        &rows,
        &config,
        warm.as_ref().map(|w| (&w.model, w.meta.version.as_str())),
        embedder.fingerprint(),
        groups.as_deref(),
    )?;
    let elapsed = start.elapsed();
    let version = registry.save(&trained.model, trained.meta.clone())?;
    if !args.no_promote {
        registry.promote(&version)?;
    }
    tracing::info!(
        model_version = %version,
        rows = rows.len(),
        seconds = elapsed.as_secs_f64(),
        promoted = !args.no_promote,
        "model trained"
    );
    if args.json {
        let out = serde_json::json!({
            "version": version,
            "promoted": !args.no_promote,
            "train_rows": rows.len(),
            "seconds": elapsed.as_secs_f64(),
            "holdout": trained.meta.metrics,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "trained {version} on {} rows, {} classes, in {:.0} ms{}",
        rows.len(),
        trained.model.classes.len(),
        elapsed.as_secs_f64() * 1000.0,
        if args.no_promote {
            ""
        } else {
            " (now serving)"
        }
    );
    if let Some(m) = &trained.meta.metrics {
        println!("stratified 80/20 holdout:");
        print_metrics(m);
    }
    Ok(())
}
