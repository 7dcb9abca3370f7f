//! First start on an empty artifacts folder: embed a labelled dataset and train a first model,
//! so that a fresh clone (or a fresh volume) has something to serve. One implementation for the
//! `tympan bootstrap` command, the Compose init service and the Kubernetes bootstrap Job.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tympan_core::audio::AudioLimits;
use tympan_core::embedding::{EmbedError, Embedder, EMBEDDING_FILE};
use tympan_core::model::{ModelError, TrainConfig};
use tympan_core::registry::{ModelRegistry, RegistryError};
use tympan_core::training::train_version;
use tympan_data::{read_table, DataError};

use crate::{auto_source, embed_dataset, EmbedCommandError, EmbedRequest, FrontEndChoice};

/// Where a bootstrap reads and writes.
#[derive(Debug, Clone)]
pub struct BootstrapPlan {
    /// Labelled audio to embed when no embedding exists (`None`: FSDD, found in the usual places
    /// under the working directory or through `TYMPAN_FSDD`).
    pub dataset: Option<PathBuf>,
    /// The reference table to write (`ref_data.csv` in the data folder).
    pub ref_path: PathBuf,
    /// The folder of the embedding and the model registry.
    pub artifacts: PathBuf,
    /// Clip limits for the embedding.
    pub limits: AudioLimits,
}

/// What a bootstrap did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootstrapOutcome {
    /// A model was served already: nothing was touched.
    AlreadyServing {
        /// The served version.
        version: String,
    },
    /// A first model was trained (after embedding the dataset when needed) and promoted.
    Trained {
        /// The new version.
        version: String,
        /// Clips embedded (0 when an embedding and a reference table were there already).
        clips_embedded: usize,
        /// Rows the model was trained on.
        rows: usize,
    },
}

/// Why a bootstrap failed.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// There is no model, no dataset was given and none was found.
    #[error(
        "no model yet and no dataset to train one: pass --dataset DIR (or TYMPAN_DATASET), or run \
         scripts/fetch-fsdd.sh for the default dataset"
    )]
    NoDataset,
    /// Embedding the dataset failed.
    #[error(transparent)]
    Embed(#[from] EmbedCommandError),
    /// The fitted embedding could not be loaded.
    #[error(transparent)]
    Embedding(#[from] EmbedError),
    /// The reference table could not be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The reference table holds no row.
    #[error("{0} has no rows")]
    EmptyTable(PathBuf),
    /// Training failed.
    #[error("training the first model: {0}")]
    Model(#[from] ModelError),
    /// The registry could not be read or written.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

impl BootstrapPlan {
    fn dataset(&self) -> Result<PathBuf, BootstrapError> {
        match &self.dataset {
            Some(d) => Ok(d.clone()),
            None => tympan_core::fsdd::locate(&[Path::new(".")]).ok_or(BootstrapError::NoDataset),
        }
    }
}

/// Makes sure the artifacts hold an embedding, a current model and the reference table.
/// Idempotent: when a model is served it returns at once and writes nothing.
pub fn ensure_model(plan: &BootstrapPlan) -> Result<BootstrapOutcome, BootstrapError> {
    let registry = ModelRegistry::new(&plan.artifacts);
    let have_embedding = plan.artifacts.join(EMBEDDING_FILE).is_file();
    let have_reference = plan.ref_path.is_file();
    if have_embedding && have_reference {
        if let Some(version) = registry.current()? {
            return Ok(BootstrapOutcome::AlreadyServing { version });
        }
    }
    let mut clips_embedded = 0;
    if !have_embedding || !have_reference {
        let dataset = plan.dataset()?;
        tracing::info!(dataset = %dataset.display(), "bootstrap: embedding the dataset");
        let summary = embed_dataset(EmbedRequest {
            source: auto_source(&dataset)?,
            dataset_dir: dataset,
            out: plan.ref_path.clone(),
            artifacts: plan.artifacts.clone(),
            reuse: None,
            front_end: FrontEndChoice::DataAware,
            limits: plan.limits,
            n_components: None,
            whiten: false,
            strict: false,
            progress: false,
        })?;
        log_embedded(summary.rows, summary.elapsed);
        clips_embedded = summary.rows;
    }
    let embedder = Embedder::load(&plan.artifacts, plan.limits)?;
    let rows = read_table(&plan.ref_path)?.rows;
    if rows.is_empty() {
        return Err(BootstrapError::EmptyTable(plan.ref_path.clone()));
    }
    let groups = tympan_data::groups::default_calibration_groups(&plan.ref_path, rows.len());
    let trained = train_version(
        &rows,
        &TrainConfig::default(),
        None,
        embedder.fingerprint(),
        groups.as_ref().map(|g| g.values.as_slice()),
    )?;
    let version = registry.save(&trained.model, trained.meta)?;
    registry.promote(&version)?;
    tracing::info!(model_version = %version, rows = rows.len(), "bootstrap: first model trained and promoted");
    Ok(BootstrapOutcome::Trained {
        version,
        clips_embedded,
        rows: rows.len(),
    })
}

fn log_embedded(clips: usize, elapsed: Duration) {
    tracing::info!(
        clips,
        seconds = elapsed.as_secs_f64(),
        "bootstrap: dataset embedded"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use tympan_testkit::deployment::clip;

    fn plan(root: &Path, dataset: Option<PathBuf>) -> BootstrapPlan {
        BootstrapPlan {
            dataset,
            ref_path: root.join("data/ref_data.csv"),
            artifacts: root.join("artifacts"),
            limits: AudioLimits::default(),
        }
    }

    /// Two classes of synthetic tones as `DIR/<label>/<n>.wav`.
    fn tones(dir: &Path) {
        for (label, pitch) in [("low", 300.0), ("high", 2_000.0)] {
            std::fs::create_dir_all(dir.join(label)).unwrap();
            for i in 0..8 {
                std::fs::write(dir.join(label).join(format!("{i}.wav")), clip(pitch, i)).unwrap();
            }
        }
    }

    #[test]
    fn a_first_run_embeds_and_trains_and_a_second_touches_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        tones(&tmp.path().join("clips"));
        let p = plan(tmp.path(), Some(tmp.path().join("clips")));
        let BootstrapOutcome::Trained {
            version,
            clips_embedded,
            rows,
        } = ensure_model(&p).unwrap()
        else {
            panic!("an empty folder was reported as serving");
        };
        assert_eq!((clips_embedded, rows), (16, 16));
        assert_eq!(
            ModelRegistry::new(&p.artifacts).current().unwrap(),
            Some(version.clone())
        );

        let table = std::fs::read(&p.ref_path).unwrap();
        assert_eq!(
            ensure_model(&p).unwrap(),
            BootstrapOutcome::AlreadyServing { version }
        );
        assert_eq!(std::fs::read(&p.ref_path).unwrap(), table);
        assert_eq!(
            ModelRegistry::new(&p.artifacts).versions().unwrap().len(),
            1
        );
    }

    #[test]
    fn a_missing_dataset_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let p = plan(tmp.path(), Some(tmp.path().join("missing")));
        let err = ensure_model(&p).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
        assert!(!p.artifacts.join(EMBEDDING_FILE).exists());
    }
}
