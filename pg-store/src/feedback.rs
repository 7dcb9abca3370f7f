//! [`PgFeedback`]: the feedback rows in `tympan_feedback`, shared by every replica.

use std::sync::atomic::{AtomicU64, Ordering};

use tympan_data::{ColumnTable, DataError, FeedbackStore, LabeledRow, Table, TableKind};

use crate::{PgError, PgStore, LOCK_CLASS};

/// The advisory lock key an append takes for its transaction: it makes row numbers gap-free and
/// in commit order across every replica (a sequence would leave gaps where a transaction rolled
/// back, and the every-k-rows retraining counts rows).
const APPEND_LOCK: i32 = 2;

/// The feedback rows of a deployment in PostgreSQL.
///
/// An append is one transaction: it takes the append lock, refuses a key stored already, and
/// inserts the row numbered one past the last; it is acknowledged once committed (durable as
/// the server's `synchronous_commit` makes it).
#[derive(Debug)]
pub struct PgFeedback {
    store: PgStore,
    dim: usize,
    /// The row count as last seen by this replica (appends and refreshes).
    rows: AtomicU64,
    targets_at_open: Vec<String>,
}

impl PgFeedback {
    /// The feedback rows of vectors of length `dim`; reads the row count and the targets stored
    /// so far (the database must be reachable).
    pub fn open(store: &PgStore, dim: usize) -> Result<Self, PgError> {
        let pool = store.pool();
        let (rows, targets) = store.block(async move {
            let client = pool.get().await?;
            let rows = stored_rows(&client).await?;
            let targets = client
                .query(
                    "SELECT DISTINCT target FROM tympan_feedback ORDER BY target",
                    &[],
                )
                .await?
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>();
            Ok((rows, targets))
        })?;
        let mut targets_at_open = targets;
        tympan_data::sort_labels(&mut targets_at_open);
        Ok(Self {
            store: store.clone(),
            dim,
            rows: AtomicU64::new(rows),
            targets_at_open,
        })
    }

    fn seen(&self, rows: u64) {
        self.rows.fetch_max(rows, Ordering::Relaxed);
    }

    fn check(&self, row: &LabeledRow) -> Result<(), DataError> {
        tympan_data::store::check_production_row(row, self.dim, |reason| DataError::Shape {
            name: "tympan_feedback".into(),
            reason,
        })
    }
}

impl FeedbackStore for PgFeedback {
    fn append(&self, row: &LabeledRow, key: Option<&str>) -> Result<u64, DataError> {
        self.check(row)?;
        if let Some(k) = key {
            tympan_data::feedback::validate_key(k)?;
        }
        let pool = self.store.pool();
        let vector = row.vector.clone();
        let target = row.target.clone();
        let prediction = row.prediction.clone().unwrap_or_default();
        let owned_key = key.map(str::to_owned);
        let outcome = self.store.block(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            tx.execute(
                "SELECT pg_advisory_xact_lock($1, $2)",
                &[&LOCK_CLASS, &APPEND_LOCK],
            )
            .await?;
            if let Some(k) = &owned_key {
                let stored = tx
                    .query_opt("SELECT n FROM tympan_feedback WHERE key = $1", &[k])
                    .await?;
                if let Some(r) = stored {
                    return Ok(Err(r.get::<_, i64>(0) as u64));
                }
            }
            let n: i64 = tx
                .query_one(
                    "INSERT INTO tympan_feedback (n, vector, target, prediction, key)
                     SELECT coalesce(max(n), 0) + 1, $1, $2, $3, $4 FROM tympan_feedback
                     RETURNING n",
                    &[&vector, &target, &prediction, &owned_key],
                )
                .await?
                .get(0);
            tx.commit().await?;
            Ok(Ok(n as u64))
        })?;
        match outcome {
            Ok(n) => {
                self.seen(n);
                Ok(n)
            }
            Err(row) => Err(DataError::DuplicateKey {
                key: key.unwrap_or_default().to_string(),
                row,
            }),
        }
    }

    fn keyed_row(&self, key: &str) -> Result<Option<u64>, DataError> {
        let pool = self.store.pool();
        let key = key.to_owned();
        Ok(self.store.block(async move {
            let row = pool
                .get()
                .await?
                .query_opt("SELECT n FROM tympan_feedback WHERE key = $1", &[&key])
                .await?;
            Ok(row.map(|r| r.get::<_, i64>(0) as u64))
        })?)
    }

    fn row(&self, n: u64) -> Result<Option<LabeledRow>, DataError> {
        let pool = self.store.pool();
        Ok(self.store.block(async move {
            let row = pool
                .get()
                .await?
                .query_opt(
                    "SELECT vector, target, prediction FROM tympan_feedback WHERE n = $1",
                    &[&(n as i64)],
                )
                .await?;
            Ok(row.as_ref().map(labeled_row))
        })?)
    }

    fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    fn refresh_rows(&self) -> Result<u64, DataError> {
        let pool = self.store.pool();
        let rows = self.store.block(async move {
            let client = pool.get().await?;
            stored_rows(&client).await
        })?;
        self.seen(rows);
        Ok(rows)
    }

    fn read_table(&self) -> Result<Table, DataError> {
        let rows = self
            .store
            .labeled_rows("SELECT vector, target, prediction FROM tympan_feedback ORDER BY n")?;
        if let Some(bad) = rows.iter().position(|r| r.vector.len() != self.dim) {
            return Err(DataError::Shape {
                name: "tympan_feedback".into(),
                reason: format!(
                    "row {} has {} values, the embedding has {}",
                    bad + 1,
                    rows[bad].vector.len(),
                    self.dim
                ),
            });
        }
        self.seen(rows.len() as u64);
        Ok(Table {
            kind: TableKind::Production,
            dim: self.dim,
            rows,
        })
    }

    fn read_columns(&self, name: &str) -> Result<ColumnTable, DataError> {
        let table = self.read_table()?;
        ColumnTable::from_rows(name, self.dim, &table.rows)
    }

    fn targets_at_open(&self) -> &[String] {
        &self.targets_at_open
    }
}

/// Feedback rows stored, cluster-wide: the highest row number (they have no gaps).
pub(crate) async fn stored_rows(client: &tokio_postgres::Client) -> Result<u64, PgError> {
    let n: i64 = client
        .query_one("SELECT coalesce(max(n), 0) FROM tympan_feedback", &[])
        .await?
        .get(0);
    Ok(n as u64)
}

/// A row of `vector, target[, prediction]` columns.
pub(crate) fn labeled_row(r: &tokio_postgres::Row) -> LabeledRow {
    LabeledRow {
        vector: r.get(0),
        target: r.get(1),
        prediction: (r.len() > 2).then(|| r.get(2)),
    }
}

impl PgStore {
    /// Every row of `sql` (`vector, target[, prediction]` columns), in its order.
    pub(crate) fn labeled_rows(&self, sql: &'static str) -> Result<Vec<LabeledRow>, PgError> {
        let pool = self.pool();
        self.block(async move {
            let rows = pool.get().await?.query(sql, &[]).await?;
            Ok(rows.iter().map(labeled_row).collect())
        })
    }
}
