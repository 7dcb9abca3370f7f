//! [`Service`]: the server's logic, reachable without HTTP. Handlers only parse requests and call
//! these methods.
//!
//! The served model is one immutable snapshot behind an atomic pointer: a request loads it once
//! and never waits; a retraining builds a new snapshot on its own thread and swaps it in.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwap;
use serde::Serialize;
use tympan_core::challenger::{retrain, Decision, PromotionPolicy};
use tympan_core::embedding::{EmbedError, Embedder, EMBEDDING_FILE};
use tympan_core::model::ModelError;
use tympan_core::registry::{ModelRegistry, ModelStore, ModelVersion, RegistryError};
use tympan_data::{
    read_table, validate_label, ColumnTable, DataError, FeedbackLog, FeedbackStore, LabeledRow,
    PredictionFile, PredictionId, PredictionRecord, Rotation, Table, TableKind,
};
use tympan_report::ReportError;

use crate::classes::{ClassCap, ClassCapReached};
use crate::cluster::{Cluster, ClusterParts};
use crate::config::{ServeConfig, Switch};
use crate::embed_pool::EmbedPool;
use crate::input::ClipInput;
use crate::jobs::{JobCause, RetrainJob, RetrainJobs};
use crate::metrics::Metrics;
use crate::prediction_log::PredictionLogger;
use crate::recent::{RecentPredictions, Remembered};

/// Why the service could not do what was asked; `serve::error` maps each to an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The clip could not be embedded (undecodable, unsupported, too long), or the embedding
    /// could not be loaded.
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// The model could not predict or train.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A table or label was refused, or a data file could not be read or written.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The model registry could not do it.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The feedback label is a class the reference data does not have, and the log holds as
    /// many of those as allowed.
    #[error(transparent)]
    TooManyClasses(#[from] ClassCapReached),
    /// A vector of the wrong length was sent.
    #[error("vector has {got} values, the embedding has {expected}")]
    VectorLength {
        /// Values sent.
        got: usize,
        /// Values the embedding produces.
        expected: usize,
    },
    /// The reference rows do not have the embedding's width.
    #[error("{} has {got} PCA columns, the embedding produces {expected}", path.display())]
    ReferenceWidth {
        /// The reference table.
        path: PathBuf,
        /// Its width.
        got: usize,
        /// The embedding's.
        expected: usize,
    },
    /// The registry points at no model.
    #[error("the registry has no current model")]
    NoCurrentModel,
    /// The folders hold no embedding, reference table or current model: nothing to serve yet.
    #[error(
        "no model to serve in {} (with {}): run `tympan bootstrap` first, or `tympan embed DIR` \
         then `tympan train`",
        artifacts.display(),
        reference.display()
    )]
    NotBootstrapped {
        /// The artifacts folder.
        artifacts: PathBuf,
        /// The reference table.
        reference: PathBuf,
    },
    /// The database could not be opened or read at start-up.
    #[error(transparent)]
    Database(#[from] tympan_pg::PgError),
    /// The database holds no deployment (embedding, reference rows) to serve.
    #[error(
        "{0} holds no embedding or reference rows: run `tympan import --database-url ...` from a \
         bootstrapped folder first"
    )]
    NotDeployed(String),
    /// Another replica holds the training lock, or finished this retraining already.
    #[error("another replica is retraining, or has retrained on these rows already")]
    RetrainedElsewhere,
    /// An `Idempotency-Key` header that is not 1 to `max` ASCII letters, digits, `-`, `_`, `.`
    /// or `:`.
    #[error("an Idempotency-Key is 1 to {max} ASCII letters, digits, '-', '_', '.' or ':'")]
    BadIdempotencyKey {
        /// Longest key taken.
        max: usize,
    },
    /// An `Idempotency-Key` sent again with another label than its first request.
    #[error(
        "Idempotency-Key {key:?} was used for row {row} with another target; a retry sends the \
         same request"
    )]
    IdempotencyKeyReused {
        /// The key.
        key: String,
        /// Its row (1-based).
        row: u64,
    },
    /// A retraining (or a check of the drift and F1 triggers) is running already: an admin
    /// retraining never runs beside another one, both would be compared with the same champion
    /// and the later would replace the earlier's promotion unchallenged.
    #[error("{}", busy_detail(job.as_deref()))]
    RetrainingBusy {
        /// The running retraining's job id (none during a trigger check).
        job: Option<String>,
    },
    /// Too many long clips are waiting to be embedded; the client should retry later.
    #[error("the server is busy embedding long clips; retry in {retry_after_seconds} s")]
    Overloaded {
        /// Seconds to wait before retrying.
        retry_after_seconds: u64,
    },
    /// The thread embedding a clip failed without an answer.
    #[error("the embedding of the clip was lost")]
    EmbeddingLost,
    /// A `prediction_id` the server does not keep: never answered, or older than the
    /// prediction memory (`--prediction-memory`, `--prediction-ttl`).
    #[error(
        "no prediction {id} is kept: the id is unknown, or older than the last {capacity} \
         predictions or than {ttl}; send the clip itself instead"
    )]
    UnknownPrediction {
        /// The id sent.
        id: String,
        /// Predictions kept.
        capacity: usize,
        /// Their age limit, for people.
        ttl: String,
    },
    /// The prediction has its feedback row already.
    #[error("prediction {id} has its feedback already (row {row} of the feedback log)")]
    FeedbackExists {
        /// The id sent.
        id: String,
        /// Its row (1-based).
        row: u64,
    },
    /// `/predict` was sent a `prediction_id`.
    #[error("`prediction_id` is for /feedback; /predict needs the clip or its vector")]
    PredictionIdNotAClip,
    /// No report can be computed yet (typically: no feedback row so far).
    #[error("{0}")]
    NoReport(String),
    /// The report files could not be written.
    #[error(transparent)]
    Report(ReportError),
}

/// A prediction as answered to clients.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PredictResponse {
    /// Most probable label.
    pub label: String,
    /// Probability of every class.
    #[schema(value_type = Object)]
    pub probabilities: ClassProbabilities,
    /// Version of the model that answered.
    #[schema(value_type = String)]
    pub model_version: Arc<str>,
    /// This answer's id: `POST /feedback {"prediction_id": ..., "target": ...}` stores the true
    /// label with exactly this prediction's vector and label, without sending the clip again.
    #[schema(value_type = String)]
    #[serde(serialize_with = "serialize_display")]
    pub prediction_id: PredictionId,
    /// Duration of the clip (absent for a vector).
    pub duration_seconds: Option<f64>,
    /// Whether the clip is unlike the training data (its `unusual_score` beyond the threshold
    /// fitted with the model): the prediction is then a guess. Absent when the model has no
    /// detector (trained before it existed, or on too few rows).
    pub unusual: Option<bool>,
    /// The clip's distance to the training data, in within-class standard deviations (the
    /// Mahalanobis distance of its vector to the nearest class mean).
    pub unusual_score: Option<f64>,
    /// The distance beyond which a clip is unusual (the 97.5th percentile of the distances of
    /// training clips held out of the fit).
    pub unusual_threshold: Option<f64>,
    /// Server-side processing time, milliseconds.
    pub processing_ms: f64,
}

/// Every class's probability, answered as the JSON object `{class: probability}` from the served
/// model's class names and the prediction's probabilities as they are: no copy of either per
/// answer (ten class names copied into a map were most of an answer's allocations, and every
/// allocation counts on a two-core server answering thousands of clips a second).
#[derive(Debug, Clone)]
pub struct ClassProbabilities {
    classes: Arc<[String]>,
    values: Arc<[f32]>,
}

impl ClassProbabilities {
    /// The classes and their probabilities, in the model's class order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f32)> {
        self.classes
            .iter()
            .map(String::as_str)
            .zip(self.values.iter().copied())
    }
}

impl Serialize for ClassProbabilities {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.values.len()))?;
        for (class, p) in self.iter() {
            map.serialize_entry(class, &f64::from(p))?;
        }
        map.end()
    }
}

fn serialize_display<T: std::fmt::Display, S: serde::Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// What a feedback request did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeedbackResponse {
    /// Rows in prod_data.csv after this one.
    pub rows: u64,
    /// Rows to go before the next retraining (absent when retraining is off).
    pub rows_until_retrain: Option<u64>,
    /// Whether this row started a retraining.
    pub retraining_started: bool,
    /// Whether this row started a check of the drift and F1 triggers, which retrains when one
    /// fires (on the retraining thread, after the answer).
    pub trigger_check_started: bool,
    /// The prediction stored with the row.
    pub prediction: String,
    /// The model version serving now.
    pub model_version: String,
    /// Whether this answers a retry (the same `Idempotency-Key`, or the same `prediction_id` and
    /// target): the row was stored by the first request and nothing was stored now.
    pub replayed: bool,
}

/// Where feedback rows and models are kept, and whether it answers, as `/ready` reports it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoreState {
    /// `files` (the data and artifacts folders) or `postgresql`.
    pub kind: &'static str,
    /// `ok`, or `unavailable` (feedback gets 503 until it is back).
    pub state: &'static str,
    /// Why it is unavailable.
    pub detail: Option<String>,
}

impl StoreState {
    /// A store that does not answer.
    pub fn unavailable(kind: &'static str, detail: String) -> Self {
        Self {
            kind,
            state: "unavailable",
            detail: Some(detail),
        }
    }
}

/// Outcome of a retraining.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RetrainReport {
    /// The challenger's version.
    pub challenger: String,
    /// The version served afterwards.
    pub serving: String,
    /// The comparison.
    #[schema(value_type = Object)]
    pub decision: Decision,
    /// Seconds taken.
    pub seconds: f64,
}

/// The server's shared state.
pub struct Service {
    /// Settings.
    pub config: ServeConfig,
    /// The fitted embedding (never changes while serving).
    pub embedder: Arc<Embedder>,
    live: ArcSwap<Served>,
    feedback: Box<dyn FeedbackStore>,
    classes: ClassCap,
    registry: Arc<dyn ModelStore>,
    cluster: Option<Cluster>,
    reference: Arc<Vec<LabeledRow>>,
    /// The reference rows' calibration groups (from the embedding's side file), which keep a
    /// retrained model's accuracy estimate novelty-aware; the database keeps none.
    reference_groups: Option<Vec<String>>,
    /// The reference rows as the report takes them, converted once at start-up.
    reference_columns: ColumnTable,
    retraining: AtomicBool,
    retrain_pending: AtomicBool,
    jobs: RetrainJobs,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// The threads embedding clips too long for a request worker.
    pub embed_pool: EmbedPool,
    recent: RecentPredictions,
    prediction_log: Option<PredictionLogger>,
    live_traffic: arc_swap::ArcSwapOption<crate::live::LiveStatus>,
    live_history: crate::live::LiveHistory,
    /// The last report computed, with the feedback rows and model version it was computed for.
    report_cache: Mutex<Option<(u64, String, Arc<tympan_report::Report>)>>,
}

/// Predictions that may wait for the prediction log's writer; beyond, they are dropped from the
/// log (and counted), never slowing an answer.
const PREDICTION_LOG_QUEUE: usize = 8192;

impl Service {
    /// Loads the embedding, the current model, the reference rows and the feedback log from the
    /// configured folders.
    pub fn open(config: ServeConfig) -> Result<Self, ServiceError> {
        if let Some(url) = config.database_url.clone() {
            let parts = Cluster::open(&config, &url)?;
            return Self::assemble(config, parts);
        }
        let bootstrapped = config.artifacts.join(EMBEDDING_FILE).is_file()
            && config.ref_path().is_file()
            && ModelRegistry::new(&config.artifacts).current()?.is_some();
        if !bootstrapped {
            return Err(ServiceError::NotBootstrapped {
                artifacts: config.artifacts.clone(),
                reference: config.ref_path(),
            });
        }
        let embedder = Embedder::load(&config.artifacts, config.audio_limits())?;
        let reference = read_table(&config.ref_path())?;
        Self::from_parts(config, embedder, reference)
    }

    /// A service over an embedding and reference rows already in memory; the current model
    /// comes from the registry in `config.artifacts` and the feedback log is opened (or
    /// created) at `config.prod_path()`.
    pub fn from_parts(
        config: ServeConfig,
        embedder: Embedder,
        reference: Table,
    ) -> Result<Self, ServiceError> {
        let feedback = FeedbackLog::open(&config.prod_path(), embedder.dim())?;
        let registry = ModelRegistry::new(&config.artifacts);
        Self::assemble(
            config,
            ClusterParts::files(embedder, reference, Box::new(feedback), Arc::new(registry)),
        )
    }

    fn assemble(config: ServeConfig, parts: ClusterParts) -> Result<Self, ServiceError> {
        let ClusterParts {
            cluster,
            embedder,
            reference,
            feedback,
            registry,
        } = parts;
        if reference.dim != embedder.dim() || reference.kind != TableKind::Reference {
            return Err(ServiceError::ReferenceWidth {
                path: config.ref_path(),
                got: reference.dim,
                expected: embedder.dim(),
            });
        }
        let live = registry.load_current(embedder.fingerprint())?;
        let classes = ClassCap::new(
            &reference.rows,
            feedback.targets_at_open().iter().map(String::as_str),
            config.max_new_classes,
        );
        let metrics = Metrics::new();
        metrics.set_model(&live.meta.version);
        metrics.feedback_rows.set(feedback.rows() as i64);
        let reference_columns = ColumnTable::from_rows(
            file_name(&config.ref_path()),
            reference.dim,
            &reference.rows,
        )?;
        let embed_pool = EmbedPool::new(config.embed_workers(), config.embed_queue());
        let prediction_log =
            open_prediction_log(&config, reference.dim, &metrics, cluster.as_ref())?;
        let reference_groups = match cluster {
            Some(_) => None,
            None => tympan_data::groups::default_calibration_groups(
                &config.ref_path(),
                reference.rows.len(),
            )
            .map(|g| g.values),
        };
        let recent = RecentPredictions::new(config.prediction_memory, config.prediction_ttl);
        if let Err(e) = recent.load(&config.predictions_path(), reference.dim) {
            // What was read before the bad line is kept; the log itself is left as it is.
            tracing::warn!(error = %e, kept = recent.len(), "the prediction log could not be read to the end");
        }
        Ok(Self {
            config,
            embedder: Arc::new(embedder),
            live: ArcSwap::from_pointee(Served::new(live)),
            feedback,
            classes,
            registry,
            cluster,
            reference_columns,
            reference: Arc::new(reference.rows),
            reference_groups,
            retraining: AtomicBool::new(false),
            retrain_pending: AtomicBool::new(false),
            jobs: RetrainJobs::default(),
            metrics,
            embed_pool,
            recent,
            prediction_log,
            live_traffic: arc_swap::ArcSwapOption::empty(),
            live_history: crate::live::LiveHistory::default(),
            report_cache: Mutex::new(None),
        })
    }

    /// The store's state: files are always there; the database is asked.
    pub fn store_state(&self) -> StoreState {
        match &self.cluster {
            None => StoreState {
                kind: "files",
                state: "ok",
                detail: None,
            },
            Some(c) => match c.store.ping() {
                Ok(()) => StoreState {
                    kind: "postgresql",
                    state: "ok",
                    detail: None,
                },
                Err(e) => StoreState::unavailable("postgresql", e.to_string()),
            },
        }
    }

    /// The database side, when serving with `--database-url`.
    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    /// The newest `n` remembered predictions, oldest first.
    pub fn recent_predictions(&self, n: usize) -> Vec<Remembered> {
        self.recent.latest(n)
    }

    /// The reference rows.
    pub fn reference_rows(&self) -> &[LabeledRow] {
        &self.reference
    }

    /// The figures of the last live-traffic computations, oldest first.
    pub fn live_history(&self) -> Vec<tympan_report::live::LivePoint> {
        self.live_history.points()
    }

    /// The latest live-traffic drift, once computed.
    pub fn live_status(&self) -> Option<Arc<crate::live::LiveStatus>> {
        self.live_traffic.load_full()
    }

    /// Publishes a live-traffic drift result.
    pub fn set_live(&self, status: crate::live::LiveStatus) {
        self.live_history.push(tympan_report::live::LivePoint::of(
            &status.live,
            status.computed,
        ));
        self.live_traffic.store(Some(Arc::new(status)));
    }

    /// Writes the predictions waiting for the log and stops its writer (at shutdown).
    pub fn close_prediction_log(&self) {
        if let Some(log) = &self.prediction_log {
            log.close();
        }
    }

    /// The served model.
    pub fn current(&self) -> Arc<ModelVersion> {
        Arc::clone(&self.live.load().model)
    }

    /// The model store.
    pub fn registry(&self) -> &dyn ModelStore {
        self.registry.as_ref()
    }

    /// Rows in the feedback log.
    pub fn feedback_rows(&self) -> u64 {
        self.feedback.rows()
    }

    /// Classes in the feedback log that the reference data does not have.
    pub fn new_classes(&self) -> usize {
        self.classes.new_classes()
    }

    /// Whether a retraining is running.
    pub fn is_retraining(&self) -> bool {
        self.retraining.load(Ordering::SeqCst)
    }

    fn vector_of(&self, clip: &ClipInput) -> Result<(Vec<f32>, Option<f64>), ServiceError> {
        match clip {
            ClipInput::Audio(bytes) => {
                let e = self.embedder.embed_bytes(bytes, None)?;
                Ok((e.vector, Some(e.duration_seconds)))
            }
            ClipInput::Vector(v) => {
                if v.len() != self.embedder.dim() {
                    return Err(ServiceError::VectorLength {
                        got: v.len(),
                        expected: self.embedder.dim(),
                    });
                }
                Ok((v.clone(), None))
            }
            ClipInput::Embedded(e) => Ok((e.vector.clone(), Some(e.duration_seconds))),
            ClipInput::Predicted(_) => Err(ServiceError::PredictionIdNotAClip),
        }
    }

    /// Classifies a clip.
    pub fn predict(&self, clip: &ClipInput) -> Result<PredictResponse, ServiceError> {
        let start = match clip {
            ClipInput::Embedded(e) => e.started,
            _ => Instant::now(),
        };
        let (vector, duration) = self.vector_of(clip)?;
        let served = self.live.load_full();
        let model = &served.model.model;
        let p = model.predict(&vector)?;
        self.metrics
            .predictions
            .with_label_values(&[model.label(p.class_index)])
            .inc();
        let detector = served
            .model
            .meta
            .monitoring
            .as_ref()
            .and_then(|m| m.unusual.as_ref());
        let unusual_score = detector.map(|d| d.score(&vector));
        let unusual = detector.zip(unusual_score).map(|(d, s)| d.is_unusual(s));
        if unusual == Some(true) {
            self.metrics.unusual_predictions.inc();
        }
        let record = PredictionRecord {
            id: new_prediction_id(),
            time: SystemTime::now(),
            model_version: Arc::clone(&served.version),
            duration_seconds: duration,
            classes: Arc::clone(&served.classes),
            probabilities: p.probabilities.into(),
            predicted: p.class_index,
            vector: vector.into(),
        };
        let response = PredictResponse {
            label: record.prediction().to_string(),
            probabilities: ClassProbabilities {
                classes: Arc::clone(&record.classes),
                values: Arc::clone(&record.probabilities),
            },
            model_version: Arc::clone(&record.model_version),
            prediction_id: record.id,
            duration_seconds: duration,
            unusual,
            unusual_score,
            unusual_threshold: detector.map(|d| d.threshold),
            processing_ms: start.elapsed().as_secs_f64() * 1000.0,
        };
        self.log_prediction(record);
        Ok(response)
    }

    /// Remembers an answered prediction for feedback by id and hands it to the prediction log.
    fn log_prediction(&self, record: PredictionRecord) {
        self.recent.remember(&record);
        if let Some(log) = &self.prediction_log {
            log.submit(record);
        }
    }

    /// Stores one feedback row (blocking: it fsyncs), starts a retraining every k rows, and
    /// every `trigger_check_every` rows has the retraining thread check the drift and F1
    /// triggers (a report takes milliseconds to seconds: never inside the request).
    ///
    /// The row's prediction is the served model's on this clip. A client's own is never taken:
    /// it would be the quality figures' only source (the report's F1, the F1 trigger) and a free
    /// way to add labels to every report.
    ///
    /// A [`ClipInput::Predicted`] clip stores the remembered prediction's vector and the label
    /// the client was given, once: the id is the row's key in the feedback log.
    pub fn feedback(
        self: &Arc<Self>,
        clip: &ClipInput,
        target: &str,
        idempotency_key: Option<&str>,
    ) -> Result<FeedbackResponse, ServiceError> {
        validate_label(target)?;
        let idempotency_key = idempotency_key.map(idempotency_ledger_key).transpose()?;
        if let Some(key) = &idempotency_key {
            if let Some(row) = self.feedback.keyed_row(key)? {
                return self.replay(key, row, target);
            }
        }
        let (row, key) = match clip {
            ClipInput::Predicted(id) => {
                let key = self.prediction_key(id)?;
                if let Some(row) = self.feedback.keyed_row(&key)? {
                    return self.replay(&key, row, target);
                }
                (self.remembered_row(id, target)?, Some(key))
            }
            _ => {
                let (vector, _) = self.vector_of(clip)?;
                let prediction = self.current().model.predict_label(&vector)?.to_string();
                let row = LabeledRow {
                    vector,
                    target: target.to_string(),
                    prediction: Some(prediction),
                };
                (row, idempotency_key)
            }
        };
        let key = key.as_deref();
        let appended = self.classes.admit(target, || {
            self.feedback.append(&row, key).map_err(ServiceError::from)
        });
        let rows = match appended {
            Ok(rows) => rows,
            // A retry that raced its first request past the checks above.
            Err(ServiceError::Data(DataError::DuplicateKey { key, row })) => {
                return self.replay(&key, row, target)
            }
            Err(e) => {
                if matches!(e, ServiceError::Data(_)) {
                    tracing::error!(error = %e, "appending the feedback row failed");
                }
                return Err(e);
            }
        };
        if let Some(id) = key.and_then(|k| k.parse::<PredictionId>().ok()) {
            self.recent.set_target(id, target);
        }
        let prediction = row.prediction.unwrap_or_default();
        self.metrics.feedback_rows.set(rows as i64);
        let k = self.config.retrain_every;
        let retrain_due = k > 0 && rows.is_multiple_of(k);
        let retraining_started = retrain_due && self.start_job(Job::Retrain);
        let trigger_check_started =
            !retrain_due && self.trigger_check_due(rows) && self.start_job(Job::CheckTriggers);
        Ok(FeedbackResponse {
            rows,
            rows_until_retrain: (k > 0).then(|| k - rows % k),
            retraining_started,
            trigger_check_started,
            prediction,
            model_version: self.current().meta.version.clone(),
            replayed: false,
        })
    }

    /// The answer to a retry of the request that stored row `row` under `key`: that row's number
    /// and prediction, nothing stored. The same key with another target is refused.
    fn replay(&self, key: &str, row: u64, target: &str) -> Result<FeedbackResponse, ServiceError> {
        let stored = self.feedback.row(row)?.ok_or(DataError::DuplicateKey {
            key: key.to_string(),
            row,
        })?;
        if stored.target != target {
            return Err(match key.strip_prefix(IDEMPOTENCY_PREFIX) {
                Some(k) => ServiceError::IdempotencyKeyReused {
                    key: k.to_string(),
                    row,
                },
                None => ServiceError::FeedbackExists {
                    id: key.to_string(),
                    row,
                },
            });
        }
        let k = self.config.retrain_every;
        Ok(FeedbackResponse {
            rows: row,
            rows_until_retrain: (k > 0).then(|| k - row % k),
            retraining_started: false,
            trigger_check_started: false,
            prediction: stored.prediction.unwrap_or_default(),
            model_version: self.current().meta.version.clone(),
            replayed: true,
        })
    }

    /// The canonical form of a prediction id, the key of its feedback row (so `ABC...` and
    /// `abc...` are one prediction).
    fn prediction_key(&self, id: &str) -> Result<String, ServiceError> {
        id.parse::<PredictionId>()
            .map(|p| p.to_string())
            .map_err(|_| self.unknown_prediction(id))
    }

    fn unknown_prediction(&self, id: &str) -> ServiceError {
        ServiceError::UnknownPrediction {
            id: id.to_string(),
            capacity: self.recent.capacity(),
            ttl: humantime::format_duration(self.recent.ttl()).to_string(),
        }
    }

    /// The feedback row of the remembered prediction `id` with the true label `target`.
    fn remembered_row(&self, id: &str, target: &str) -> Result<LabeledRow, ServiceError> {
        let parsed = id
            .parse::<PredictionId>()
            .map_err(|_| self.unknown_prediction(id))?;
        let (vector, prediction) = match self.recent.get(parsed) {
            Some(r) => (r.record.vector.to_vec(), r.record.prediction().to_string()),
            // Another replica may have answered it.
            None => match &self.cluster {
                Some(c) => c
                    .predictions
                    .get(parsed)
                    .map_err(DataError::from)?
                    .ok_or_else(|| self.unknown_prediction(id))?,
                None => return Err(self.unknown_prediction(id)),
            },
        };
        Ok(LabeledRow {
            vector,
            target: target.to_string(),
            prediction: Some(prediction),
        })
    }

    /// Whether this row count is one at which the optional triggers (dataset drift, production
    /// F1 under a threshold) are checked.
    fn trigger_check_due(&self, rows: u64) -> bool {
        let c = &self.config;
        let enabled = c.retrain_on_drift || c.retrain_below_f1.is_some();
        enabled && c.trigger_check_every > 0 && rows.is_multiple_of(c.trigger_check_every)
    }

    /// Whether the drift or F1 trigger fires on the current report (on the retraining thread).
    fn quality_trigger(&self) -> bool {
        let c = &self.config;
        match self.report() {
            Ok(report) => {
                let s = report.snapshot();
                (c.retrain_on_drift && s.dataset_drift)
                    || c.retrain_below_f1.is_some_and(|t| s.macro_f1 < t)
            }
            Err(e) => {
                tracing::warn!(error = %e, "trigger check skipped");
                false
            }
        }
    }

    /// Starts a retraining on its own thread unless one runs; a request during a run makes it
    /// run once more afterwards. Returns whether a new run started.
    pub fn start_retraining(self: &Arc<Self>) -> bool {
        self.start_job(Job::Retrain)
    }

    /// Starts `job` on the retraining thread unless that thread is busy. A retraining asked for
    /// meanwhile runs once more afterwards; a trigger check is dropped (the run under way, or
    /// the next check, covers it).
    fn start_job(self: &Arc<Self>, job: Job) -> bool {
        if self.retraining.swap(true, Ordering::SeqCst) {
            if job == Job::Retrain {
                self.retrain_pending.store(true, Ordering::SeqCst);
            }
            return false;
        }
        self.spawn_retraining_thread(job, None);
        true
    }

    /// Queues a retraining asked for by an admin and returns its job at once; the retraining
    /// thread runs it. Single-flight like every retraining: while one (or a trigger check) runs,
    /// [`ServiceError::RetrainingBusy`] names the running job.
    pub fn request_retraining(self: &Arc<Self>) -> Result<RetrainJob, ServiceError> {
        if self.retraining.swap(true, Ordering::SeqCst) {
            let job = self.jobs.active().map(|j| j.id);
            return Err(ServiceError::RetrainingBusy { job });
        }
        let job = self.jobs.queue(JobCause::Admin);
        self.spawn_retraining_thread(Job::Retrain, Some(job.id.clone()));
        Ok(job)
    }

    /// The retraining job `id`, while the server keeps it.
    pub fn retrain_job(&self, id: &str) -> Option<RetrainJob> {
        self.jobs.get(id)
    }

    /// The retraining thread, once the caller has set the `retraining` flag: runs `job` (as the
    /// already queued job `queued` when given), then the retrainings asked for meanwhile, and
    /// clears the flag.
    fn spawn_retraining_thread(self: &Arc<Self>, job: Job, queued: Option<String>) {
        let service = Arc::clone(self);
        let (mut job, mut queued) = (job, queued);
        std::thread::spawn(move || loop {
            let cause = match job {
                Job::Retrain => JobCause::Feedback,
                Job::CheckTriggers => JobCause::Trigger,
            };
            let retrain = job == Job::Retrain || service.quality_trigger();
            job = Job::Retrain;
            // When no trigger fired, a retraining asked for during the check still runs below.
            let finished = retrain.then(|| {
                let id = queued
                    .take()
                    .unwrap_or_else(|| service.jobs.queue(cause).id);
                let result = service.run_retraining_job(&id, cause);
                (id, result)
            });
            let again = service.another_run_wanted();
            // Published once the flag is released (unless another run holds it), so that a
            // client that sees its job finished can start the next one at once.
            if let Some((id, result)) = finished {
                service.jobs.finish(&id, &result);
            }
            if !again {
                break;
            }
        });
    }

    /// At the end of a run on the retraining thread: whether a retraining was asked for
    /// meanwhile (the thread keeps the flag and runs it), else clears the flag.
    fn another_run_wanted(&self) -> bool {
        if self.retrain_pending.swap(false, Ordering::SeqCst) {
            return true;
        }
        self.retraining.store(false, Ordering::SeqCst);
        // A request may have set `pending` between the swap and the store.
        self.retrain_pending.swap(false, Ordering::SeqCst)
            && !self.retraining.swap(true, Ordering::SeqCst)
    }

    /// Runs the retraining job `id` on the calling thread; a failure is logged and counted.
    fn run_retraining_job(&self, id: &str, cause: JobCause) -> Result<RetrainReport, String> {
        let mut elsewhere = false;
        let result = self.jobs.run(id, || {
            self.retrain_in_turn(id, cause)
                .inspect_err(|e| elsewhere = matches!(e, ServiceError::RetrainedElsewhere))
        });
        if let Err(e) = &result {
            if elsewhere {
                tracing::info!(job = id, "retraining skipped: {e}");
            } else {
                tracing::error!(job = id, error = %e, "retraining failed");
            }
            self.metrics
                .retrainings
                .with_label_values(&[if elsewhere { "elsewhere" } else { "failed" }])
                .inc();
        }
        result
    }

    /// Retrains now, on a single box; with a cluster, only under the training lock and only if
    /// no replica covered these rows already (see `tympan_pg::training`), recording the
    /// retraining in the database.
    fn retrain_in_turn(&self, job: &str, cause: JobCause) -> Result<RetrainReport, ServiceError> {
        let Some(cluster) = &self.cluster else {
            return self.retrain_now(job);
        };
        let k = self.config.retrain_every;
        let boundary = match cause {
            JobCause::Feedback if k > 0 => Some(self.feedback.refresh_rows()? / k * k),
            _ => None,
        };
        let lease = cluster
            .store
            .try_lock_training(&cluster.replica, cause.name(), boundary)?
            .ok_or(ServiceError::RetrainedElsewhere)?;
        let report = self.retrain_now(job)?;
        let outcome = format!(
            "{}: {}",
            if report.decision.promoted {
                "promoted"
            } else {
                "rejected"
            },
            report.decision.reason
        );
        if let Err(e) = lease.finish(
            Some(&report.challenger),
            Some(report.decision.promoted),
            &outcome,
        ) {
            tracing::warn!(error = %e, "the retraining's end could not be recorded");
        }
        Ok(report)
    }

    /// Keeps a replica in step with the cluster (called on each promotion notification,
    /// reconnection and `--cluster-check-every`): serves the alias if another replica moved it,
    /// refreshes the row count, and on a periodic check starts a retraining due that no replica
    /// finished.
    pub fn follow_cluster(self: &Arc<Self>, why: &str) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        match self.registry.current() {
            Ok(Some(version)) if version != self.current().meta.version => match self.reload() {
                Ok(v) => tracing::info!(version = v, why, "serving the cluster's current model"),
                Err(e) => {
                    tracing::warn!(error = %e, "the cluster's current model could not be loaded")
                }
            },
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "the alias could not be read"),
        }
        if let Ok(rows) = self.feedback.refresh_rows() {
            self.metrics.feedback_rows.set(rows as i64);
        }
        if why != "poll" || self.is_retraining() {
            return;
        }
        match cluster.store.due_retraining(self.config.retrain_every) {
            Ok(Some(boundary)) => {
                tracing::info!(boundary, "a retraining is due that no replica finished");
                self.start_job(Job::Retrain);
            }
            Ok(None) => {}
            Err(e) => tracing::debug!(error = %e, "the retraining check failed"),
        }
    }

    /// Retrains on reference + production rows now (on the calling thread), stores the
    /// challenger and swaps it in if it is not worse than the champion.
    fn retrain_now(&self, job: &str) -> Result<RetrainReport, ServiceError> {
        let start = Instant::now();
        let production = self.feedback.read_table()?.rows;
        let champion = self.current();
        let policy = PromotionPolicy {
            margin: self.config.promotion_margin,
            mode: self.config.retrain_mode,
            production_weight: self.config.production_weight,
        };
        let config = champion.meta.train_config;
        let outcome = retrain(
            &self.reference,
            self.reference_groups.as_deref(),
            &production,
            &champion,
            &config,
            &policy,
        )?;
        let version = self
            .registry
            .save(&outcome.challenger.model, outcome.challenger.meta.clone())?;
        let serving = if outcome.decision.promoted {
            self.registry.promote(&version)?;
            let loaded = self
                .registry
                .load_for_embedding(&version, self.embedder.fingerprint())?;
            self.live.store(Arc::new(Served::new(loaded)));
            self.metrics.set_model(&version);
            version.clone()
        } else {
            champion.meta.version.clone()
        };
        let seconds = start.elapsed().as_secs_f64();
        self.metrics.retraining_seconds.observe(seconds);
        self.metrics.record_decision(&outcome.decision);
        self.metrics
            .retrainings
            .with_label_values(&[if outcome.decision.promoted {
                "promoted"
            } else {
                "rejected"
            }])
            .inc();
        let d = &outcome.decision;
        tracing::info!(
            job,
            challenger = %version,
            serving = %serving,
            champion = %d.champion,
            promoted = d.promoted,
            reason = %d.reason,
            train_rows = d.train_rows,
            production_rows = production.len(),
            reference_eval_rows = d.reference_eval_rows,
            production_eval_rows = d.production_eval_rows,
            champion_score = d.champion_score.score,
            challenger_score = d.challenger_score.score,
            champion_reference_f1 = d.champion_score.reference_f1,
            challenger_reference_f1 = d.challenger_score.reference_f1,
            champion_production_f1 = d.champion_score.production_f1,
            challenger_production_f1 = d.challenger_score.production_f1,
            seconds,
            "retraining"
        );
        self.write_report(format!(
            "retraining {version}: {} ({}; {} reference + {} production evaluation rows)",
            if d.promoted { "promoted" } else { "rejected" },
            d.reason,
            d.reference_eval_rows,
            d.production_eval_rows
        ));
        Ok(RetrainReport {
            challenger: version,
            serving,
            decision: outcome.decision,
            seconds,
        })
    }

    /// Re-reads `current` from the registry and serves it (after `tympan models promote`).
    pub fn reload(&self) -> Result<String, ServiceError> {
        let version = self
            .registry
            .current()?
            .ok_or(ServiceError::NoCurrentModel)?;
        let loaded = self
            .registry
            .load_for_embedding(&version, self.embedder.fingerprint())?;
        self.live.store(Arc::new(Served::new(loaded)));
        self.metrics.set_model(&version);
        Ok(version)
    }

    /// Serves the previous champion again.
    pub fn rollback(&self) -> Result<String, ServiceError> {
        self.registry.rollback()?;
        self.reload()
    }

    /// Computes the drift and quality report of reference vs production.
    pub fn report(&self) -> Result<tympan_report::Report, ServiceError> {
        self.report_with_note(None)
    }

    /// The report as `/report` answers it: the last one computed while no feedback row or model
    /// came since (the live monitor computes it ahead when they do), else a new one.
    pub fn latest_report(&self) -> Result<Arc<tympan_report::Report>, ServiceError> {
        let rows = self.feedback.rows();
        let version = self.current().meta.version.clone();
        let mut cache = self.report_cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((r, v, report)) = cache.as_ref() {
            if *r == rows && *v == version {
                return Ok(Arc::clone(report));
            }
        }
        // Computed under the lock: concurrent requests wait for one computation, not run many.
        let report = Arc::new(self.report()?);
        *cache = Some((rows, version, Arc::clone(&report)));
        Ok(report)
    }

    /// Computes the report ahead of the next `/report` if feedback rows or the model changed
    /// (on the live monitor's thread).
    pub fn refresh_report(&self) {
        if self.cluster.is_some() {
            // Other replicas store rows too.
            let _ = self.feedback.refresh_rows();
        }
        if self.feedback.rows() > 0 {
            let _ = self.latest_report();
        }
    }

    fn report_with_note(
        &self,
        note: Option<String>,
    ) -> Result<tympan_report::Report, ServiceError> {
        let config = tympan_report::ReportConfig {
            model_version: Some(self.current().meta.version.clone()),
            note,
            top_classes: self.config.report_top_classes,
            ..Default::default()
        };
        // The reference columns are in memory already; the production rows stored so far are
        // read from the log through the one table reader. Both are named by file name only: where the server
        // keeps its files is the operator's business, not the client's.
        let no_report = |e: &dyn std::fmt::Display| ServiceError::NoReport(e.to_string());
        let reference = self.reference_columns.clone();
        let production = self
            .feedback
            .read_columns(&file_name(&self.config.prod_path()))
            .map_err(|e| no_report(&e))?;
        let report = tympan_report::Report::from_tables(&config, reference, production)
            .map_err(|e| no_report(&e))
            .inspect_err(|e| tracing::warn!(error = %e, "report not computed"))?;
        let snapshot = report.snapshot();
        self.metrics.drift_share.set(snapshot.drift_share);
        self.metrics.report_f1.set(snapshot.macro_f1);
        Ok(report)
    }

    /// Writes the report files and a history point (after a retraining, so the dashboard marks
    /// model changes even without the reporting service).
    fn write_report(&self, note: String) {
        match self.report_with_note(Some(note)) {
            Ok(report) => {
                if let Err(e) = tympan_report::write_outputs(&report, &self.config.reports) {
                    tracing::error!(error = %e, "writing the report failed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "report skipped"),
        }
    }
}

/// What the retraining thread is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    /// Retrain now.
    Retrain,
    /// Compute the report and retrain if a drift or F1 trigger fires.
    CheckTriggers,
}

/// Idempotency keys share the feedback store's key space with prediction ids, behind this prefix.
const IDEMPOTENCY_PREFIX: &str = "idem:";

/// The store key of an `Idempotency-Key` header, or why the header is refused.
fn idempotency_ledger_key(header: &str) -> Result<String, ServiceError> {
    let key = format!("{IDEMPOTENCY_PREFIX}{header}");
    tympan_data::feedback::validate_key(&key)
        .map(|()| key)
        .map_err(|_| ServiceError::BadIdempotencyKey {
            max: tympan_data::MAX_KEY_BYTES - IDEMPOTENCY_PREFIX.len(),
        })
}

/// What a client is told when a retraining is refused because another one runs.
fn busy_detail(job: Option<&str>) -> String {
    match job {
        Some(id) => {
            format!("retraining job {id} is running; GET /admin/retrain/{id} shows its outcome")
        }
        None => "a retraining is starting, or a check of the retraining triggers is running; \
                 try again shortly"
            .to_string(),
    }
}

/// A new prediction id: a UUID version 7 (time-ordered, 74 random bits), so ids sort by time in
/// the log and cannot be guessed.
fn new_prediction_id() -> PredictionId {
    PredictionId(uuid::Uuid::now_v7().as_u128())
}

/// The served model with what every answer shares of it, made once per model rather than copied
/// into each prediction log record.
struct Served {
    model: Arc<ModelVersion>,
    classes: Arc<[String]>,
    version: Arc<str>,
}

impl Served {
    fn new(model: ModelVersion) -> Self {
        Self {
            classes: model.model.classes.clone().into(),
            version: model.meta.version.as_str().into(),
            model: Arc::new(model),
        }
    }
}

/// The prediction log's writer, unless the log is off.
fn open_prediction_log(
    config: &ServeConfig,
    dim: usize,
    metrics: &Metrics,
    cluster: Option<&Cluster>,
) -> Result<Option<PredictionLogger>, ServiceError> {
    if config.prediction_log == Switch::Off {
        return Ok(None);
    }
    let rotation = Rotation {
        max_bytes: config.prediction_log_max_bytes,
        keep: config.prediction_log_keep,
    };
    let file = PredictionFile::open(&config.predictions_path(), dim, rotation)?;
    let (queue, sample) = (PREDICTION_LOG_QUEUE, config.prediction_log_sample);
    Ok(Some(match cluster {
        Some(c) => {
            let sink = crate::prediction_log::FileAndDatabase {
                file,
                database: c.predictions.clone(),
            };
            PredictionLogger::start(sink, queue, sample, metrics)
        }
        None => PredictionLogger::start(file, queue, sample, metrics),
    }))
}

/// The last component of a path, the only part of it a client may see.
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
