//! [`PgPredictions`]: the prediction log in `tympan_predictions`, written by every replica in
//! batches (`COPY ... FROM STDIN BINARY`, one round trip per batch) and read back by id, so that
//! feedback by `prediction_id` reaches the right vector on any replica.

use std::time::SystemTime;

use futures_util::pin_mut;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use tympan_data::{PredictionId, PredictionRecord};

use crate::{PgError, PgStore};

/// The shared prediction log of a deployment.
#[derive(Debug, Clone)]
pub struct PgPredictions {
    store: PgStore,
    replica: String,
}

impl PgPredictions {
    /// The log in `store`, written as `replica`.
    pub fn new(store: &PgStore, replica: &str) -> Self {
        Self {
            store: store.clone(),
            replica: replica.to_string(),
        }
    }

    /// Stores a batch of answered predictions (one transaction). A prediction id stored already
    /// fails the batch (ids are UUIDv7s: only a replay of the same batch repeats one).
    pub fn append(&self, batch: &[PredictionRecord]) -> Result<(), PgError> {
        let pool = self.store.pool();
        let replica = self.replica.clone();
        let rows: Vec<PredictionRow> = batch.iter().map(PredictionRow::of).collect();
        self.store.block(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let sink = tx
                .copy_in(
                    "COPY tympan_predictions (id, answered_at, replica, model_version, duration, \
                     classes, probabilities, predicted, vector) FROM STDIN BINARY",
                )
                .await?;
            let writer = BinaryCopyInWriter::new(
                sink,
                &[
                    Type::TEXT,
                    Type::TIMESTAMPTZ,
                    Type::TEXT,
                    Type::TEXT,
                    Type::FLOAT8,
                    Type::TEXT_ARRAY,
                    Type::FLOAT4_ARRAY,
                    Type::INT4,
                    Type::FLOAT4_ARRAY,
                ],
            );
            pin_mut!(writer);
            for r in &rows {
                writer
                    .as_mut()
                    .write(&[
                        &r.id,
                        &r.time,
                        &replica,
                        &r.model_version,
                        &r.duration,
                        &r.classes,
                        &r.probabilities,
                        &r.predicted,
                        &r.vector,
                    ])
                    .await?;
            }
            writer.finish().await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// The stored prediction `id`: its vector and the label answered.
    pub fn get(&self, id: PredictionId) -> Result<Option<(Vec<f32>, String)>, PgError> {
        let pool = self.store.pool();
        let id = id.to_string();
        self.store.block(async move {
            let row = pool
                .get()
                .await?
                .query_opt(
                    "SELECT vector, classes[predicted + 1] FROM tympan_predictions WHERE id = $1",
                    &[&id],
                )
                .await?;
            Ok(row.map(|r| (r.get(0), r.get::<_, Option<String>>(1).unwrap_or_default())))
        })
    }

    /// Predictions stored.
    pub fn count(&self) -> Result<u64, PgError> {
        let pool = self.store.pool();
        self.store.block(async move {
            let n: i64 = pool
                .get()
                .await?
                .query_one("SELECT count(*) FROM tympan_predictions", &[])
                .await?
                .get(0);
            Ok(n as u64)
        })
    }
}

/// A record in the column types of the table, owned (the copy runs on the store's runtime).
struct PredictionRow {
    id: String,
    time: SystemTime,
    model_version: String,
    duration: Option<f64>,
    classes: Vec<String>,
    probabilities: Vec<f32>,
    predicted: i32,
    vector: Vec<f32>,
}

impl PredictionRow {
    fn of(r: &PredictionRecord) -> Self {
        Self {
            id: r.id.to_string(),
            time: r.time,
            model_version: r.model_version.to_string(),
            duration: r.duration_seconds,
            classes: r.classes.to_vec(),
            probabilities: r.probabilities.to_vec(),
            predicted: r.predicted as i32,
            vector: r.vector.to_vec(),
        }
    }
}
