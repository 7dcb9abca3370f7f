//! # tympan-pg
//!
//! Tympan on PostgreSQL, for deployments that outgrow one box: many `tympan-serve` replicas share
//! their feedback rows and models through one database, with no broker and no consensus of
//! their own.
//!
//! - [`PgStore`]: a connection pool and the small runtime it runs on, with a blocking API for
//!   the server's worker threads and the command line.
//! - [`schema`]: the tables, created and migrated by the binaries (versioned migrations).
//! - [`feedback`]: [`PgFeedback`], the feedback rows behind [`tympan_data::FeedbackStore`].
//! - [`models`]: [`PgModels`], the model versions and the `current` alias behind
//!   [`tympan_core::registry::ModelStore`]; a promotion `NOTIFY`s every replica.
//! - [`predictions`]: [`PgPredictions`], the prediction log shared by the replicas.
//! - [`watch`]: each replica `LISTEN`s for promotions, and re-reads the alias after a reconnect.
//! - [`training`]: one trainer at a time, cluster-wide (a session advisory lock), and the
//!   `tympan_retrainings` table.
//! - [`transfer`]: the embedding and reference rows, and moving a single box's files in and out.

#![warn(missing_docs)]

pub mod feedback;
pub mod models;
pub mod predictions;
pub mod schema;
pub mod training;
pub mod transfer;
pub mod watch;

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

pub use feedback::PgFeedback;
pub use models::PgModels;
pub use predictions::PgPredictions;
pub use training::{RetrainingRecord, TrainingLease};

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The URL is not a PostgreSQL connection string.
    #[error("invalid database URL: {0}")]
    Url(String),
    /// No connection could be had (the server is down, unreachable, or refused us), or one broke.
    #[error("PostgreSQL is unavailable: {0}")]
    Unavailable(String),
    /// A query failed for a reason of the database's own.
    #[error("PostgreSQL: {0}")]
    Query(String),
    /// The database holds something this build cannot read.
    #[error("the database holds {0}")]
    Corrupt(String),
    /// The schema is newer than this build.
    #[error(
        "the database schema is at version {found}; this build knows up to {known}: upgrade Tympan"
    )]
    SchemaTooNew {
        /// The database's version.
        found: i32,
        /// This build's newest.
        known: i32,
    },
}

impl From<tokio_postgres::Error> for PgError {
    fn from(e: tokio_postgres::Error) -> Self {
        // Without a server error, the connection failed or broke: the server's absence, not a bad
        // query.
        match e.code() {
            Some(code) if !is_unavailability(code) => PgError::Query(describe(&e)),
            _ => PgError::Unavailable(describe(&e)),
        }
    }
}

impl From<deadpool_postgres::PoolError> for PgError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            e => PgError::Unavailable(e.to_string()),
        }
    }
}

impl From<PgError> for tympan_data::DataError {
    fn from(e: PgError) -> Self {
        match e {
            PgError::Unavailable(reason) => tympan_data::DataError::Unavailable {
                store: "feedback database",
                reason,
            },
            e => tympan_data::DataError::Unavailable {
                store: "feedback database",
                reason: e.to_string(),
            },
        }
    }
}

impl From<PgError> for tympan_core::registry::RegistryError {
    fn from(e: PgError) -> Self {
        tympan_core::registry::RegistryError::Unavailable(e.to_string())
    }
}

/// Server errors that mean "not now" rather than "not this": shutdown, too many connections,
/// a standby, a crash recovery under way.
fn is_unavailability(code: &tokio_postgres::error::SqlState) -> bool {
    let c = code.code();
    c.starts_with("08") || c.starts_with("57P") || c == "53300" || c == "25006"
}

/// The error and its cause on one line (tokio-postgres keeps the server's message in the source).
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(s) => format!("{e}: {s}"),
            None => e.to_string(),
        },
    }
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// `postgres://user:password@host:port/database` (or the key=value form).
    pub url: String,
    /// Connections in the pool.
    pub pool_size: usize,
    /// How long a caller waits for a connection (and a connection attempt may take) before the
    /// store counts as unavailable.
    pub timeout: Duration,
}

impl PgOptions {
    /// Options for `url` with the defaults: a pool of 8, a 2 s timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: 8,
            timeout: Duration::from_secs(2),
        }
    }
}

/// A pool of connections to one database, and the two-thread runtime its I/O runs on.
///
/// Every method blocks its caller: the server calls it from blocking threads (feedback,
/// retraining), the command line from `main`. The runtime is the store's own, so a caller inside
/// another runtime (Rocket's) never nests one runtime in another.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    runtime: Option<tokio::runtime::Runtime>,
    config: tokio_postgres::Config,
    /// `host:port/database`, never the credentials.
    location: String,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping a runtime from inside another one panics; this may run on Rocket's threads.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("location", &self.inner.location)
            .finish()
    }
}

impl PgStore {
    /// A pool for `options` (connections are made when first needed, so this works while the
    /// database is down), then the schema brought to this build's version when it can be
    /// reached. Use [`PgStore::connect`] to require the database.
    pub fn open(options: &PgOptions) -> Result<Self, PgError> {
        let mut config = tokio_postgres::Config::from_str(&options.url)
            .map_err(|e| PgError::Url(e.to_string()))?;
        config.connect_timeout(options.timeout);
        config.application_name("tympan");
        let location = location_of(&config);
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(options.timeout))
            .create_timeout(Some(options.timeout))
            .recycle_timeout(Some(options.timeout))
            .build()
            .map_err(|e| PgError::Url(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tympan-pg")
            .enable_all()
            .build()
            .map_err(|e| PgError::Unavailable(format!("no runtime: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                runtime: Some(runtime),
                config,
                location,
            }),
        })
    }

    /// [`PgStore::open`], then the schema created or migrated: the database must be reachable.
    pub fn connect(options: &PgOptions) -> Result<Self, PgError> {
        let store = Self::open(options)?;
        store.migrate()?;
        Ok(store)
    }

    /// Brings the schema to this build's version (see [`schema`]).
    pub fn migrate(&self) -> Result<i32, PgError> {
        self.migrate_to(schema::LATEST)
    }

    /// Brings the schema to `version` (tests migrate step by step).
    pub fn migrate_to(&self, version: i32) -> Result<i32, PgError> {
        let pool = self.pool();
        self.block(async move {
            let mut client = pool.get().await?;
            schema::migrate(&mut client, version).await
        })
    }

    /// The schema version of the database (0 when empty).
    pub fn schema_version(&self) -> Result<i32, PgError> {
        let pool = self.pool();
        self.block(async move { schema::version(&pool.get().await?).await })
    }

    /// `host:port/database` of the store, for logs and status pages (never the password).
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// Whether the database answers now.
    pub fn ping(&self) -> Result<(), PgError> {
        let pool = self.pool();
        self.block(async move {
            pool.get().await?.simple_query("SELECT 1").await?;
            Ok(())
        })
    }

    pub(crate) fn pool(&self) -> Pool {
        self.inner.pool.clone()
    }

    pub(crate) fn config(&self) -> tokio_postgres::Config {
        self.inner.config.clone()
    }

    pub(crate) fn handle(&self) -> tokio::runtime::Handle {
        self.runtime().handle().clone()
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.inner.runtime.as_ref().expect("runtime until drop")
    }

    /// Runs `work` on the store's runtime and waits for it. Never call it from the store's own
    /// runtime threads.
    pub(crate) fn block<T, F>(&self, work: F) -> Result<T, PgError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, PgError>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime().spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv()
            .unwrap_or_else(|_| Err(PgError::Unavailable("the database task was lost".into())))
    }
}

/// `host:port/database` of a connection configuration.
fn location_of(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("");
    format!("postgresql://{host}:{port}/{db}")
}

/// A key for `pg_advisory_*lock`: Tympan's locks share one 32-bit class so they cannot collide
/// with another application's single-key locks (`0x54594D50` is "TYMP").
pub(crate) const LOCK_CLASS: i32 = 0x5459_4D50;
