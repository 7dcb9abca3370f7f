//! First start on an empty artifacts folder: embed the default dataset and train a first model,
//! so `tympan serve` on a fresh clone comes up with something to serve.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tympan_core::embedding::{Embedder, EMBEDDING_FILE};
use tympan_core::model::TrainConfig;
use tympan_core::registry::ModelRegistry;
use tympan_core::training::train_version;
use tympan_data::read_table;
use tympan_embed::{auto_source, embed_dataset, EmbedRequest, FrontEndChoice};

use crate::config::ServeConfig;

fn find_dataset(config: &ServeConfig) -> Result<PathBuf> {
    if let Some(d) = &config.dataset {
        return Ok(d.clone());
    }
    tympan_core::fsdd::locate(&[Path::new(".")]).context(
        "no model yet and no dataset to train one: run scripts/fetch-fsdd.sh or pass --dataset",
    )
}

/// Makes sure the artifacts hold an embedding, a current model and `ref_data.csv`.
pub fn ensure_model(config: &ServeConfig) -> Result<()> {
    let registry = ModelRegistry::new(&config.artifacts);
    let have_embedding = config.artifacts.join(EMBEDDING_FILE).is_file();
    if have_embedding && config.ref_path().is_file() {
        if let Some(version) = registry.current()? {
            tracing::info!(model_version = %version, "bootstrap: a model is served; nothing to do");
            return Ok(());
        }
    }
    let limits = config.audio_limits();
    if !have_embedding || !config.ref_path().is_file() {
        let dataset = find_dataset(config)?;
        tracing::info!(dataset = %dataset.display(), "bootstrap: embedding the dataset");
        let summary = embed_dataset(EmbedRequest {
            source: auto_source(&dataset)?,
            dataset_dir: dataset,
            out: config.ref_path(),
            artifacts: config.artifacts.clone(),
            reuse: None,
            front_end: FrontEndChoice::DataAware,
            limits,
            n_components: None,
            whiten: false,
            strict: false,
            progress: false,
        })?;
        tracing::info!(
            clips = summary.rows,
            seconds = summary.elapsed.as_secs_f64(),
            "bootstrap: dataset embedded"
        );
    }
    let embedder = Embedder::load(&config.artifacts, limits)?;
    train_first(&config.ref_path(), &registry, embedder.fingerprint())
}

fn train_first(ref_path: &Path, registry: &ModelRegistry, fingerprint: &str) -> Result<()> {
    let rows = read_table(ref_path)?.rows;
    if rows.is_empty() {
        bail!("{} has no rows", ref_path.display());
    }
    let trained = train_version(&rows, &TrainConfig::default(), None, fingerprint)?;
    let version = registry.save(&trained.model, trained.meta)?;
    registry.promote(&version)?;
    tracing::info!(model_version = %version, rows = rows.len(), "bootstrap: first model trained and promoted");
    Ok(())
}
