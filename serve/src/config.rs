//! Server settings, from flags or `TYMPAN_*` environment variables.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use tympan_core::audio::{AudioLimits, DEFAULT_MAX_CHANNELS};
use tympan_core::challenger::RetrainMode;
use tympan_data::TableKind;

/// The reference table's file name in the data folder.
pub const REF_FILE: &str = TableKind::Reference.file_name();

/// The feedback log's file name in the data folder.
pub const PROD_FILE: &str = TableKind::Production.file_name();

/// The prediction log's file name in the data folder.
pub const PREDICTIONS_FILE: &str = tympan_data::PREDICTIONS_FILE;

/// A feature turned on or off.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// On.
    On,
    /// Off.
    Off,
}

/// Everything the server is configured with.
#[derive(Args, Debug, Clone)]
pub struct ServeConfig {
    /// Address to bind.
    #[arg(long, env = "TYMPAN_ADDRESS", default_value = "0.0.0.0")]
    pub address: IpAddr,
    /// Port to bind.
    #[arg(long, env = "TYMPAN_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Folder of ref_data.csv and prod_data.csv.
    #[arg(long, env = "TYMPAN_DATA", default_value = "data")]
    pub data: PathBuf,
    /// Folder of the embedding and the model registry.
    #[arg(long, env = "TYMPAN_ARTIFACTS", default_value = "artifacts")]
    pub artifacts: PathBuf,
    /// Folder of the reports (read for /dashboard, written after each retraining).
    #[arg(long, env = "TYMPAN_REPORTS", default_value = "reports")]
    pub reports: PathBuf,
    /// Retrain every k feedback rows (0 = never).
    #[arg(long, env = "TYMPAN_RETRAIN_EVERY", default_value_t = 50)]
    pub retrain_every: u64,
    /// Retraining from zero or from the champion's parameters.
    #[arg(long, env = "TYMPAN_RETRAIN_MODE", default_value = "scratch")]
    pub retrain_mode: RetrainMode,
    /// Also retrain when the drift report finds dataset drift (checked every
    /// --trigger-check-every rows).
    #[arg(long, env = "TYMPAN_RETRAIN_ON_DRIFT")]
    pub retrain_on_drift: bool,
    /// Also retrain when production macro F1 falls under this (checked every
    /// --trigger-check-every rows).
    #[arg(long, env = "TYMPAN_RETRAIN_BELOW_F1")]
    pub retrain_below_f1: Option<f64>,
    /// Rows between two checks of the drift and F1 triggers.
    #[arg(long, env = "TYMPAN_TRIGGER_CHECK_EVERY", default_value_t = 10)]
    pub trigger_check_every: u64,
    /// How many times each production row counts in a retraining.
    #[arg(long, env = "TYMPAN_PRODUCTION_WEIGHT", default_value_t = 1)]
    pub production_weight: usize,
    /// Largest macro-F1 drop a challenger may show and still be promoted.
    #[arg(long, env = "TYMPAN_PROMOTION_MARGIN", default_value_t = 0.01)]
    pub promotion_margin: f64,
    /// Feedback classes the reference data does not have, at most (counted over the feedback
    /// log, rows already there included); a row of one more new class gets a 422.
    #[arg(long, env = "TYMPAN_MAX_NEW_CLASSES", default_value_t = 32)]
    pub max_new_classes: usize,
    /// Classes listed one by one in a report's per-class table, confusion matrix and category
    /// charts (those with the most rows); the others are summed as "other".
    #[arg(long, env = "TYMPAN_REPORT_TOP_CLASSES", default_value_t = tympan_report::DEFAULT_TOP_CLASSES,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub report_top_classes: usize,
    /// Log answered predictions (vector, probabilities, label, model version, clip duration,
    /// time; never the audio) to predictions.csv in the data folder.
    #[arg(long, env = "TYMPAN_PREDICTION_LOG", value_enum, default_value_t = Switch::On)]
    pub prediction_log: Switch,
    /// Share of predictions written to the prediction log, 0 to 1 (spread evenly).
    #[arg(long, env = "TYMPAN_PREDICTION_LOG_SAMPLE", default_value_t = 1.0, value_parser = parse_share)]
    pub prediction_log_sample: f64,
    /// Size in bytes past which the prediction log is rotated (predictions.csv.1, .2, ...).
    #[arg(long, env = "TYMPAN_PREDICTION_LOG_MAX_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub prediction_log_max_bytes: u64,
    /// Rotated prediction logs kept (0: the old rows are dropped at rotation).
    #[arg(long, env = "TYMPAN_PREDICTION_LOG_KEEP", default_value_t = 4)]
    pub prediction_log_keep: usize,
    /// Predictions kept in memory (and reloaded from the log at start-up) for feedback by id;
    /// about 200 bytes plus 4 per vector value each.
    #[arg(long, env = "TYMPAN_PREDICTION_MEMORY", default_value_t = 50_000)]
    pub prediction_memory: usize,
    /// Age past which a prediction no longer takes feedback by id (e.g. 24h, 30m).
    #[arg(long, env = "TYMPAN_PREDICTION_TTL", default_value = "24h", value_parser = humantime::parse_duration)]
    pub prediction_ttl: Duration,
    /// How often the live-traffic drift (the last --live-window predictions against the
    /// reference rows, no label needed) is computed, on a background thread; 0s turns it off.
    #[arg(long, env = "TYMPAN_LIVE_EVERY", default_value = "30s", value_parser = humantime::parse_duration)]
    pub live_every: Duration,
    /// Predictions in the live-traffic window (the newest remembered ones).
    #[arg(long, env = "TYMPAN_LIVE_WINDOW", default_value_t = 500)]
    pub live_window: usize,
    /// Largest upload, in bytes.
    #[arg(long, env = "TYMPAN_UPLOAD_LIMIT", default_value_t = 10 * 1024 * 1024)]
    pub upload_limit: u64,
    /// Longest clip, in seconds.
    #[arg(long, env = "TYMPAN_MAX_SECONDS", default_value_t = 60.0)]
    pub max_seconds: f64,
    /// Most channels in an accepted clip (each is decoded before the downmix).
    #[arg(long, env = "TYMPAN_MAX_CHANNELS", default_value_t = DEFAULT_MAX_CHANNELS)]
    pub max_channels: usize,
    /// Threads that embed clips too long to embed on a request worker (default: one per core);
    /// they run at a lower CPU priority, so short requests and /health are served first.
    #[arg(long, env = "TYMPAN_EMBED_WORKERS")]
    pub embed_workers: Option<usize>,
    /// Long clips waiting for an embedding thread at most (default: twice the threads); beyond
    /// it a request gets a 503 with Retry-After.
    #[arg(long, env = "TYMPAN_EMBED_QUEUE")]
    pub embed_queue: Option<usize>,
    /// Bearer token for /admin/*; admin endpoints are disabled when unset.
    #[arg(long, env = "TYMPAN_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Relay clients through the connection guard (cap, idle and request timeouts); off, Rocket
    /// binds the address itself and has none of those.
    #[arg(long, env = "TYMPAN_GUARD", default_value_t = true, action = clap::ArgAction::Set)]
    pub guard: bool,
    /// Open client connections at most (lowered to what the descriptor limit allows).
    #[arg(long, env = "TYMPAN_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Seconds without a byte either way before a connection is closed.
    #[arg(long, env = "TYMPAN_IDLE_TIMEOUT", default_value_t = 30)]
    pub idle_timeout: u64,
    /// Seconds a client's bytes may stay unanswered (a request sent slowly, or served slowly)
    /// before it gets a 408.
    #[arg(long, env = "TYMPAN_REQUEST_TIMEOUT", default_value_t = 60)]
    pub request_timeout: u64,
    /// Request bytes relayed to the server and not yet answered, over all connections, at most
    /// (an upload is held in memory until it is answered); the request that would pass it gets
    /// 503 JSON. Raised to one upload of --upload-limit when set lower.
    #[arg(long, env = "TYMPAN_BODY_BUDGET", default_value_t = 256 * 1024 * 1024)]
    pub body_budget: u64,
    /// Worker threads (default: one per core).
    #[arg(long, env = "TYMPAN_WORKERS")]
    pub workers: Option<usize>,
    /// PostgreSQL URL (`postgres://user:password@host:port/db`): the feedback rows, the models
    /// and their alias, the embedding and the reference rows are shared there by every replica
    /// (docs/scale-out.md); without it they are files in --data and --artifacts.
    #[arg(long, env = "TYMPAN_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Connections to the database.
    #[arg(long, env = "TYMPAN_DATABASE_POOL", default_value_t = 8)]
    pub database_pool: usize,
    /// With --database-url: how often a replica re-reads the current alias (besides the
    /// promotion notifications) and checks for a retraining due that no replica ran.
    #[arg(long, env = "TYMPAN_CLUSTER_CHECK_EVERY", default_value = "5s", value_parser = humantime::parse_duration)]
    pub cluster_check_every: Duration,
    /// This replica's name in the database's retrainings table (default: host name and
    /// process id).
    #[arg(long, env = "TYMPAN_REPLICA")]
    pub replica: Option<String>,
}

impl ServeConfig {
    /// The decoding limits every clip is held to.
    pub fn audio_limits(&self) -> AudioLimits {
        AudioLimits {
            max_seconds: self.max_seconds,
            max_channels: self.max_channels,
            max_samples: None,
        }
    }

    /// Embedding threads: the setting, or one per core.
    pub fn embed_workers(&self) -> usize {
        self.embed_workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
            .max(1)
    }

    /// Clips that may wait for an embedding thread: the setting, or twice the threads.
    pub fn embed_queue(&self) -> usize {
        self.embed_queue.unwrap_or(2 * self.embed_workers())
    }

    /// `data/ref_data.csv`.
    pub fn ref_path(&self) -> PathBuf {
        self.data.join(REF_FILE)
    }

    /// `data/prod_data.csv`.
    pub fn prod_path(&self) -> PathBuf {
        self.data.join(PROD_FILE)
    }

    /// `data/predictions.csv`.
    pub fn predictions_path(&self) -> PathBuf {
        self.data.join(PREDICTIONS_FILE)
    }
}

fn parse_share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("{s:?} is not a share between 0 and 1")),
    }
}
