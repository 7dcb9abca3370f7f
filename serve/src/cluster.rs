//! What a replica does only with `--database-url`: it serves the models, feedback rows,
//! embedding and reference rows kept in PostgreSQL ([`tympan_pg`]) and keeps in step with the
//! other replicas:
//!
//! - a promotion anywhere reaches it through `LISTEN`, and through a re-read of the alias after
//!   every reconnection and every `--cluster-check-every`;
//! - every `--cluster-check-every` it also asks whether a retraining is due that no replica
//!   finished (its trainer died, or the k-th row landed while another retraining held the lock),
//!   and runs it if it gets the training lock.

use std::sync::{Arc, Weak};

use tympan_core::embedding::Embedder;
use tympan_core::registry::ModelStore;
use tympan_data::{FeedbackStore, Table};
use tympan_pg::watch::ModelWatch;
use tympan_pg::{PgFeedback, PgModels, PgOptions, PgStore};

use crate::config::ServeConfig;
use crate::service::{Service, ServiceError};

/// The database side of a replica.
pub struct Cluster {
    /// The pool.
    pub store: PgStore,
    /// This replica's name in `tympan_retrainings` and `tympan_predictions`.
    pub replica: String,
    /// The shared prediction log.
    pub predictions: tympan_pg::PgPredictions,
    watch: std::sync::Mutex<Option<ModelWatch>>,
}

/// What a service is made of: from the folders, or from the database (with its [`Cluster`]).
pub(crate) struct ClusterParts {
    pub cluster: Option<Cluster>,
    pub embedder: Embedder,
    pub reference: Table,
    pub feedback: Box<dyn FeedbackStore>,
    pub registry: Arc<dyn ModelStore>,
}

impl Cluster {
    /// Connects (migrating the schema), and loads the embedding and the reference rows; the
    /// database must hold a deployment (`tympan import`, or `tympan embed --database-url` then
    /// `tympan train --database-url`).
    pub(crate) fn open(config: &ServeConfig, url: &str) -> Result<ClusterParts, ServiceError> {
        let mut options = PgOptions::new(url);
        options.pool_size = config.database_pool;
        let store = PgStore::connect(&options)?;
        let text = store.embedding()?.ok_or_else(|| not_deployed(&store))?;
        let embedder = Embedder::from_json(&text, "tympan_embedding", config.audio_limits())?;
        let reference = store.reference()?;
        if reference.rows.is_empty() {
            return Err(not_deployed(&store));
        }
        let feedback = PgFeedback::open(&store, embedder.dim())?;
        let registry = PgModels::new(&store);
        let replica = config.replica.clone().unwrap_or_else(default_replica_name);
        tracing::info!(database = store.location(), "serving from PostgreSQL");
        Ok(ClusterParts {
            cluster: Some(Cluster {
                predictions: tympan_pg::PgPredictions::new(&store, &replica),
                replica,
                store,
                watch: std::sync::Mutex::new(None),
            }),
            embedder,
            reference,
            feedback: Box::new(feedback),
            registry: Arc::new(registry),
        })
    }
}

impl ClusterParts {
    /// The parts of a single box: no cluster.
    pub(crate) fn files(
        embedder: Embedder,
        reference: Table,
        feedback: Box<dyn FeedbackStore>,
        registry: Arc<dyn ModelStore>,
    ) -> Self {
        Self {
            cluster: None,
            embedder,
            reference,
            feedback,
            registry,
        }
    }
}

fn not_deployed(store: &PgStore) -> ServiceError {
    ServiceError::NotDeployed(store.location().to_string())
}

/// `host-pid`: unique among replicas, readable in the retrainings table.
fn default_replica_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "replica".into());
    format!("{host}-{}", std::process::id())
}

/// Starts listening for promotions and the periodic check, for a service with a cluster.
pub fn start(service: &Arc<Service>) {
    let Some(cluster) = service.cluster() else {
        return;
    };
    let weak: Weak<Service> = Arc::downgrade(service);
    let every = service.config.cluster_check_every;
    let check: tympan_pg::watch::AliasCheck = Arc::new(move |why| {
        if let Some(service) = weak.upgrade() {
            service.follow_cluster(why);
        }
    });
    let watch = cluster.store.watch_models(check, every);
    *cluster.watch.lock().unwrap_or_else(|p| p.into_inner()) = Some(watch);
}
