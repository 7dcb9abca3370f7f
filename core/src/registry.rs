//! [`ModelRegistry`]: every trained model kept as a version under `artifacts/models/<version>/`,
//! with a `current` pointer naming the served one.
//!
//! Layout (documented for users in `artifacts/README.md`):
//! ```text
//! artifacts/models/v0003/model.json    weights, classes, embedding fingerprint
//! artifacts/models/v0003/meta.json     parent, creation time, data fingerprint, metrics, notes
//! artifacts/current                    {"version": "v0003", "previous": ["v0001", "v0002"]}
//! ```
//! A version directory is assembled under a temporary name and renamed into place, and `current`
//! is replaced atomically, so a crash at any point leaves the previous state loadable.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{Model, TrainConfig};
use tympan_data::durable::{sync_dir, write_atomic};
use tympan_data::metrics::ClassificationMetrics;
use tympan_data::monitoring::Monitoring;
use tympan_data::LabeledRow;

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// File system error.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A stored file is malformed.
    #[error("{path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The store (a database) cannot be reached or refused the operation: nothing changed, and
    /// the same call may succeed later.
    #[error("the model store is unavailable: {0}")]
    Unavailable(String),
    /// No such version.
    #[error("unknown model version {0:?}")]
    UnknownVersion(String),
    /// No model has been promoted yet.
    #[error("no current model in {0}; run `tympan train` first")]
    NoCurrent(String),
    /// Nothing to roll back to.
    #[error("no previous model to roll back to")]
    NoPrevious,
    /// The model was trained on another embedding.
    #[error("model {version} expects embedding {expected}, the loaded embedding is {actual}")]
    EmbeddingMismatch {
        /// The model version.
        version: String,
        /// Fingerprint the model was trained with.
        expected: String,
        /// Fingerprint of the embedding at hand.
        actual: String,
    },
}

/// Everything recorded about a model version besides its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// The version name (`v0001`...).
    pub version: String,
    /// The version it was derived from (warm start or retraining), if any.
    pub parent: Option<String>,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
    /// SHA-256 of the training rows.
    pub data_fingerprint: String,
    /// Fingerprint of the embedding the training vectors came from.
    pub embedding_fingerprint: String,
    /// Number of training rows.
    pub train_rows: usize,
    /// Hyper-parameters.
    pub train_config: TrainConfig,
    /// Quality on a holdout, when measured.
    pub metrics: Option<ClassificationMetrics>,
    /// Free-form facts (how it was made, champion/challenger decision...).
    #[serde(default)]
    pub notes: serde_json::Map<String, serde_json::Value>,
    /// Calibration (fitted on the holdout) and unusual-clip detector (on the training rows);
    /// `None` for models trained before they existed or on too few rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<Monitoring>,
}

impl ModelMeta {
    /// The metadata for people and status pages: as stored, with the monitoring profile
    /// summarised ([`Monitoring::summary`]): its matrices, a covariance factor per class, would
    /// make it hundreds of kilobytes.
    pub fn to_summary_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let (Some(m), Some(object)) = (&self.monitoring, value.as_object_mut()) {
            object.insert(
                "monitoring".into(),
                serde_json::to_value(m.summary()).unwrap_or_default(),
            );
        }
        value
    }
}

/// A model with its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelVersion {
    /// The weights.
    pub model: Model,
    /// The metadata.
    pub meta: ModelMeta,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct CurrentPointer {
    version: String,
    #[serde(default)]
    previous: Vec<String>,
}

/// The file-based model registry in an artifacts folder.
#[derive(Debug, Clone)]
pub struct ModelRegistry {
    root: PathBuf,
}

const MODEL_FILE: &str = "model.json";
const META_FILE: &str = "meta.json";
const CURRENT_FILE: &str = "current";

/// SHA-256 over training rows (values and labels), recorded with each model.
pub fn data_fingerprint(rows: &[LabeledRow]) -> String {
    let mut h = Sha256::new();
    for r in rows {
        for v in &r.vector {
            h.update(v.to_le_bytes());
        }
        h.update(r.target.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// The current time as RFC 3339 UTC (seconds).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

impl ModelRegistry {
    /// The registry in `artifacts_dir` (nothing is created until a model is saved).
    pub fn new(artifacts_dir: &Path) -> Self {
        Self {
            root: artifacts_dir.to_path_buf(),
        }
    }

    fn models_dir(&self) -> PathBuf {
        self.root.join("models")
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RegistryError + '_ {
        move |source| RegistryError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// All complete versions, oldest first.
    pub fn versions(&self) -> Result<Vec<String>, RegistryError> {
        let dir = self.models_dir();
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut versions = Vec::new();
        for entry in fs::read_dir(&dir).map_err(Self::io(&dir))? {
            let entry = entry.map_err(Self::io(&dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // Temporary directories start with '.'; a version is complete once renamed.
            if is_version_name(&name) && entry.path().join(META_FILE).is_file() {
                versions.push(name);
            }
        }
        versions.sort();
        Ok(versions)
    }

    /// The next free version name.
    pub fn next_version(&self) -> Result<String, RegistryError> {
        let dir = self.models_dir();
        let mut max = 0u32;
        if dir.is_dir() {
            for entry in fs::read_dir(&dir).map_err(Self::io(&dir))? {
                let name = entry.map_err(Self::io(&dir))?.file_name();
                let name = name.to_string_lossy();
                if let Some(n) = version_number(name.trim_start_matches('.')) {
                    max = max.max(n);
                }
            }
        }
        Ok(format!("v{:04}", max + 1))
    }

    /// Stores a new version (not promoted) and returns its name. `meta.version` is filled in.
    pub fn save(&self, model: &Model, mut meta: ModelMeta) -> Result<String, RegistryError> {
        let dir = self.models_dir();
        fs::create_dir_all(&dir).map_err(Self::io(&dir))?;
        let version = self.next_version()?;
        meta.version = version.clone();
        let tmp = dir.join(format!(".{version}.{}.tmp", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        let target = dir.join(&version);
        let stored = (|| {
            fs::create_dir(&tmp).map_err(Self::io(&tmp))?;
            let model_json = serde_json::to_vec_pretty(model).expect("model serialises");
            let meta_json = serde_json::to_vec_pretty(&meta).expect("meta serialises");
            write_atomic(&tmp.join(MODEL_FILE), &model_json).map_err(Self::io(&tmp))?;
            write_atomic(&tmp.join(META_FILE), &meta_json).map_err(Self::io(&tmp))?;
            fs::rename(&tmp, &target).map_err(Self::io(&target))
        })();
        if let Err(e) = stored {
            // A failed save leaves nothing behind (a crash's leftovers are skipped by name).
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        sync_dir(&dir).map_err(Self::io(&dir))?;
        Ok(version)
    }

    /// Loads one version.
    pub fn load(&self, version: &str) -> Result<ModelVersion, RegistryError> {
        if !is_version_name(version) {
            return Err(RegistryError::UnknownVersion(version.to_string()));
        }
        let dir = self.models_dir().join(version);
        if !dir.join(META_FILE).is_file() {
            return Err(RegistryError::UnknownVersion(version.to_string()));
        }
        Ok(ModelVersion {
            model: read_json(&dir.join(MODEL_FILE))?,
            meta: read_json(&dir.join(META_FILE))?,
        })
    }

    fn read_current(&self) -> Result<Option<CurrentPointer>, RegistryError> {
        let path = self.root.join(CURRENT_FILE);
        if !path.exists() {
            return Ok(None);
        }
        read_json(&path).map(Some)
    }

    /// The served version, if any.
    pub fn current(&self) -> Result<Option<String>, RegistryError> {
        Ok(self.read_current()?.map(|c| c.version))
    }

    /// The champions before the current one, oldest first (what [`Self::rollback`] goes back
    /// through).
    pub fn previous(&self) -> Result<Vec<String>, RegistryError> {
        Ok(self.read_current()?.map(|c| c.previous).unwrap_or_default())
    }

    /// Makes `version` the served one, remembering the previous one for [`Self::rollback`].
    pub fn promote(&self, version: &str) -> Result<(), RegistryError> {
        self.load(version)?;
        let mut pointer = self.read_current()?.unwrap_or_default();
        if pointer.version == version {
            return Ok(());
        }
        if !pointer.version.is_empty() {
            pointer.previous.push(std::mem::take(&mut pointer.version));
        }
        pointer.version = version.to_string();
        self.write_current(&pointer)
    }

    /// Serves the previous champion again; returns its version.
    pub fn rollback(&self) -> Result<String, RegistryError> {
        let mut pointer = self.read_current()?.ok_or(RegistryError::NoPrevious)?;
        let previous = pointer.previous.pop().ok_or(RegistryError::NoPrevious)?;
        self.load(&previous)?;
        pointer.version = previous.clone();
        self.write_current(&pointer)?;
        Ok(previous)
    }

    fn write_current(&self, pointer: &CurrentPointer) -> Result<(), RegistryError> {
        let path = self.root.join(CURRENT_FILE);
        let json = serde_json::to_vec_pretty(pointer).expect("pointer serialises");
        write_atomic(&path, &json).map_err(Self::io(&path))
    }
}

/// Where model versions and the `current` alias are kept: the artifacts folder
/// ([`ModelRegistry`], the embedded default) or a database (the `tympan-pg` crate). The server
/// and the command line go through this trait only.
pub trait ModelStore: Send + Sync {
    /// All complete versions, oldest first.
    fn versions(&self) -> Result<Vec<String>, RegistryError>;
    /// Stores a new version (not promoted) and returns its name; `meta.version` is filled in.
    fn save(&self, model: &Model, meta: ModelMeta) -> Result<String, RegistryError>;
    /// Loads one version.
    fn load(&self, version: &str) -> Result<ModelVersion, RegistryError>;
    /// The served version, if any.
    fn current(&self) -> Result<Option<String>, RegistryError>;
    /// Makes `version` the served one, remembering the previous one for a rollback.
    fn promote(&self, version: &str) -> Result<(), RegistryError>;
    /// Serves the previous champion again; returns its version.
    fn rollback(&self) -> Result<String, RegistryError>;
    /// Where the store is, for people (a folder, or a database without its credentials).
    fn location(&self) -> String;

    /// Loads a version and checks it was trained on the embedding with `fingerprint`.
    fn load_for_embedding(
        &self,
        version: &str,
        fingerprint: &str,
    ) -> Result<ModelVersion, RegistryError> {
        let v = self.load(version)?;
        if v.model.embedding_fingerprint != fingerprint {
            return Err(RegistryError::EmbeddingMismatch {
                version: version.to_string(),
                expected: v.model.embedding_fingerprint,
                actual: fingerprint.to_string(),
            });
        }
        Ok(v)
    }

    /// The served version, loaded and checked against the embedding.
    fn load_current(&self, fingerprint: &str) -> Result<ModelVersion, RegistryError> {
        let version = self
            .current()?
            .ok_or_else(|| RegistryError::NoCurrent(self.location()))?;
        self.load_for_embedding(&version, fingerprint)
    }
}

impl ModelStore for ModelRegistry {
    fn versions(&self) -> Result<Vec<String>, RegistryError> {
        ModelRegistry::versions(self)
    }
    fn save(&self, model: &Model, meta: ModelMeta) -> Result<String, RegistryError> {
        ModelRegistry::save(self, model, meta)
    }
    fn load(&self, version: &str) -> Result<ModelVersion, RegistryError> {
        ModelRegistry::load(self, version)
    }
    fn current(&self) -> Result<Option<String>, RegistryError> {
        ModelRegistry::current(self)
    }
    fn promote(&self, version: &str) -> Result<(), RegistryError> {
        ModelRegistry::promote(self, version)
    }
    fn rollback(&self) -> Result<String, RegistryError> {
        ModelRegistry::rollback(self)
    }
    fn location(&self) -> String {
        self.root.display().to_string()
    }
}

/// The number of a version folder (`v0042`), or of a save in progress (`.v0042.PID.tmp`): every
/// digit after the `v`, so numbering goes on past `v9999`.
fn version_number(name: &str) -> Option<u32> {
    let digits = name.strip_prefix('v')?;
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

fn is_version_name(name: &str) -> bool {
    name.len() >= 5 && name.starts_with('v') && name[1..].bytes().all(|b| b.is_ascii_digit())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, RegistryError> {
    let text = fs::read_to_string(path).map_err(ModelRegistry::io(path))?;
    serde_json::from_str(&text).map_err(|e| RegistryError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(fp: &str, bias: f32) -> Model {
        Model {
            classes: vec!["a".into(), "b".into()],
            weights: vec![vec![1.0, 0.0], vec![0.0, 1.0]],
            intercept: vec![bias, 0.0],
            embedding_fingerprint: fp.into(),
        }
    }

    fn meta() -> ModelMeta {
        ModelMeta {
            version: String::new(),
            parent: None,
            created_at: now_rfc3339(),
            data_fingerprint: "d".into(),
            embedding_fingerprint: "fp".into(),
            train_rows: 2,
            train_config: TrainConfig::default(),
            metrics: None,
            notes: Default::default(),
            monitoring: None,
        }
    }

    #[test]
    fn the_summary_keeps_the_monitoring_figures_and_drops_the_matrices() {
        let rows: Vec<tympan_data::LabeledRow> = (0..60)
            .map(|i| tympan_data::LabeledRow {
                vector: vec![(i % 2) as f32 * 4.0 + (i % 7) as f32 * 0.1, (i % 5) as f32],
                target: format!("c{}", i % 2),
                prediction: None,
            })
            .collect();
        let unusual = crate::monitoring::fit_unusual(&rows, 0.975);
        assert!(unusual.is_some());
        let meta = ModelMeta {
            monitoring: Some(Monitoring {
                calibration: tympan_data::monitoring::Calibration::IDENTITY,
                unusual,
            }),
            ..meta()
        };
        let summary = meta.to_summary_json();
        assert_eq!(summary["monitoring"]["unusual"]["class_densities"], 2);
        assert_eq!(summary["monitoring"]["calibration"]["temperature"], 1.0);
        assert_eq!(summary["train_rows"], 2);
        let full = serde_json::to_string(&meta).unwrap();
        assert!(full.contains("whitening") && !summary.to_string().contains("whitening"));
    }

    #[test]
    fn save_promote_rollback_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let reg = ModelRegistry::new(dir.path());
        assert!(matches!(
            reg.load_current("fp"),
            Err(RegistryError::NoCurrent(_))
        ));
        let v1 = reg.save(&model("fp", 0.0), meta()).unwrap();
        let v2 = reg.save(&model("fp", 1.0), meta()).unwrap();
        assert_eq!((v1.as_str(), v2.as_str()), ("v0001", "v0002"));
        reg.promote(&v1).unwrap();
        reg.promote(&v2).unwrap();
        assert_eq!(reg.load_current("fp").unwrap().model, model("fp", 1.0));
        assert_eq!(reg.load_current("fp").unwrap().meta.version, "v0002");
        assert_eq!(reg.rollback().unwrap(), "v0001");
        assert_eq!(reg.current().unwrap().as_deref(), Some("v0001"));
        assert!(matches!(reg.rollback(), Err(RegistryError::NoPrevious)));
        assert_eq!(reg.versions().unwrap(), vec!["v0001", "v0002"]);
    }

    #[test]
    fn refuses_another_embedding_and_bad_names() {
        let dir = tempfile::tempdir().unwrap();
        let reg = ModelRegistry::new(dir.path());
        let v = reg.save(&model("fp", 0.0), meta()).unwrap();
        reg.promote(&v).unwrap();
        assert!(matches!(
            reg.load_current("other"),
            Err(RegistryError::EmbeddingMismatch { .. })
        ));
        assert!(matches!(
            reg.load("../../etc"),
            Err(RegistryError::UnknownVersion(_))
        ));
    }

    #[test]
    fn crash_mid_save_leaves_previous_state_loadable() {
        let dir = tempfile::tempdir().unwrap();
        let reg = ModelRegistry::new(dir.path());
        let v1 = reg.save(&model("fp", 0.0), meta()).unwrap();
        reg.promote(&v1).unwrap();
        // What a crash leaves at each step of a save + promote: a half-filled temporary version
        // directory, then a half-written temporary pointer file beside `current`.
        let tmp = dir.path().join("models/.v0002.999.tmp");
        fs::create_dir_all(&tmp).unwrap();
        fs::write(tmp.join(MODEL_FILE), b"{\"classes\": [\"a\"").unwrap();
        fs::write(dir.path().join(".current.999.0.tmp"), b"{\"vers").unwrap();
        assert_eq!(reg.versions().unwrap(), vec!["v0001"]);
        assert_eq!(reg.load_current("fp").unwrap().meta.version, "v0001");
        // The next save does not reuse the name of the torn one.
        assert_eq!(reg.save(&model("fp", 1.0), meta()).unwrap(), "v0003");
    }

    #[test]
    fn numbering_goes_on_past_v9999() {
        let dir = tempfile::tempdir().unwrap();
        let reg = ModelRegistry::new(dir.path());
        fs::create_dir_all(dir.path().join("models/v9999")).unwrap();
        assert_eq!(reg.save(&model("fp", 0.0), meta()).unwrap(), "v10000");
        assert_eq!(reg.save(&model("fp", 0.0), meta()).unwrap(), "v10001");
        assert!(reg.load("v10001").is_ok());
        assert_eq!(version_number("v0042.77.tmp"), Some(42));
        assert_eq!(version_number("current.json"), None);
    }
}
