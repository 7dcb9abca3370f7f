//! One trainer at a time, cluster-wide: a retraining holds a session advisory lock on a
//! connection of its own ([`TrainingLease`]). When the replica dies, its connection closes and
//! PostgreSQL frees the lock; the retraining it had started stays unfinished in
//! `tympan_retrainings`, so the rows it was for are still due and the next replica to check
//! ([`PgStore::due_retraining`]) trains them.

use tokio_postgres::{Client, NoTls};

use crate::{PgError, PgStore, LOCK_CLASS};

/// The advisory lock key of the training lock.
const TRAINING_LOCK: i32 = 3;

/// A retraining as recorded in `tympan_retrainings`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrainingRecord {
    /// Its id (in start order).
    pub id: i64,
    /// The replica that ran it.
    pub replica: String,
    /// Why it ran (`feedback`, `check`, `admin`...).
    pub cause: String,
    /// The feedback row count it was due at (a multiple of k), 0 when asked for.
    pub boundary: u64,
    /// Feedback rows stored when it started.
    pub rows_at_start: u64,
    /// Start, seconds since the Unix epoch.
    pub started_at: f64,
    /// End, seconds since the Unix epoch; `None` while running, or when its replica died.
    pub finished_at: Option<f64>,
    /// The challenger's version, once saved.
    pub challenger: Option<String>,
    /// Whether it was promoted.
    pub promoted: Option<bool>,
    /// How it ended, for people.
    pub outcome: Option<String>,
}

/// The training lock, held until dropped or [`TrainingLease::finish`]ed; the retraining's row
/// in `tympan_retrainings` goes with it.
pub struct TrainingLease {
    store: PgStore,
    client: Option<Client>,
    id: i64,
    rows_at_start: u64,
}

impl std::fmt::Debug for TrainingLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainingLease")
            .field("id", &self.id)
            .field("rows_at_start", &self.rows_at_start)
            .finish()
    }
}

impl TrainingLease {
    /// Feedback rows stored when the lease was taken.
    pub fn rows_at_start(&self) -> u64 {
        self.rows_at_start
    }

    /// Records the outcome and frees the lock.
    pub fn finish(
        mut self,
        challenger: Option<&str>,
        promoted: Option<bool>,
        outcome: &str,
    ) -> Result<(), PgError> {
        let client = self.client.take();
        let (id, challenger, outcome) =
            (self.id, challenger.map(str::to_owned), outcome.to_string());
        self.store.block(async move {
            if let Some(client) = client {
                record_end(&client, id, challenger, promoted, outcome).await?;
                // Dropping the client closes its session, which frees the lock.
            }
            Ok(())
        })
    }
}

impl Drop for TrainingLease {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let id = self.id;
            // A retraining that ended in an error still ends: its rows are not retried forever.
            self.store.handle().spawn(async move {
                let _ = record_end(&client, id, None, None, "failed".into()).await;
            });
        }
    }
}

async fn record_end(
    client: &Client,
    id: i64,
    challenger: Option<String>,
    promoted: Option<bool>,
    outcome: String,
) -> Result<(), PgError> {
    client
        .execute(
            "UPDATE tympan_retrainings SET finished_at = clock_timestamp(), challenger = $2,
                    promoted = $3, outcome = $4 WHERE id = $1",
            &[&id, &challenger, &promoted, &outcome],
        )
        .await?;
    Ok(())
}

impl PgStore {
    /// Takes the training lock if no replica holds it and, when `boundary` is given, if no
    /// finished retraining covered that row count already; records the retraining's start.
    /// `None`: another replica trains, or the rows are covered.
    pub fn try_lock_training(
        &self,
        replica: &str,
        cause: &str,
        boundary: Option<u64>,
    ) -> Result<Option<TrainingLease>, PgError> {
        let config = self.config();
        let (replica, cause) = (replica.to_string(), cause.to_string());
        let taken = self.block(async move {
            // A connection of its own: the lock lives exactly as long as this session.
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            let locked: bool = client
                .query_one(
                    "SELECT pg_try_advisory_lock($1, $2)",
                    &[&LOCK_CLASS, &TRAINING_LOCK],
                )
                .await?
                .get(0);
            if !locked {
                return Ok(None);
            }
            if let Some(b) = boundary {
                if last_covered(&client).await? >= b {
                    return Ok(None);
                }
            }
            let row = client
                .query_one(
                    "INSERT INTO tympan_retrainings (replica, cause, boundary, rows_at_start)
                     SELECT $1, $2, $3, coalesce(max(n), 0) FROM tympan_feedback
                     RETURNING id, rows_at_start",
                    &[&replica, &cause, &(boundary.unwrap_or(0) as i64)],
                )
                .await?;
            Ok(Some((
                client,
                row.get::<_, i64>(0),
                row.get::<_, i64>(1) as u64,
            )))
        })?;
        Ok(taken.map(|(client, id, rows_at_start)| TrainingLease {
            store: self.clone(),
            client: Some(client),
            id,
            rows_at_start,
        }))
    }

    /// The row count a retraining is due at, when retraining every `k` rows: the last multiple
    /// of `k` stored, if no finished retraining covered it yet.
    pub fn due_retraining(&self, k: u64) -> Result<Option<u64>, PgError> {
        if k == 0 {
            return Ok(None);
        }
        let pool = self.pool();
        self.block(async move {
            let client = pool.get().await?;
            let boundary = crate::feedback::stored_rows(&client).await? / k * k;
            let covered = last_covered(&client).await?;
            Ok((boundary > covered).then_some(boundary))
        })
    }

    /// Every retraining recorded, in start order.
    pub fn retrainings(&self) -> Result<Vec<RetrainingRecord>, PgError> {
        let pool = self.pool();
        self.block(async move {
            let rows = pool
                .get()
                .await?
                .query(
                    "SELECT id, replica, cause, boundary, rows_at_start,
                            extract(epoch FROM started_at)::float8,
                            extract(epoch FROM finished_at)::float8,
                            challenger, promoted, outcome
                     FROM tympan_retrainings ORDER BY id",
                    &[],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| RetrainingRecord {
                    id: r.get(0),
                    replica: r.get(1),
                    cause: r.get(2),
                    boundary: r.get::<_, i64>(3) as u64,
                    rows_at_start: r.get::<_, i64>(4) as u64,
                    started_at: r.get(5),
                    finished_at: r.get(6),
                    challenger: r.get(7),
                    promoted: r.get(8),
                    outcome: r.get(9),
                })
                .collect())
        })
    }
}

/// The highest row count a finished retraining was due at.
async fn last_covered(client: &Client) -> Result<u64, PgError> {
    let covered: i64 = client
        .query_one(
            "SELECT coalesce(max(boundary), 0) FROM tympan_retrainings
             WHERE finished_at IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    Ok(covered as u64)
}
