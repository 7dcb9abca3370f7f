//! The fitted embedding and the reference rows in the database, and moving a single box's files
//! in ([`PgStore::import_feedback`] and the rest, as `tympan import` does) and out
//! ([`PgStore::export`]), in the CSV store's exact layout.

use std::path::Path;

use tympan_core::audio::AudioLimits;
use tympan_core::embedding::{Embedder, EMBEDDING_FILE};
use tympan_core::registry::ModelRegistry;
use tympan_data::{read_table, FeedbackLog, LabeledRow, Table, TableKind};

use crate::{PgError, PgModels, PgStore};

/// What [`PgStore::import_deployment`] moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// Reference rows.
    pub reference_rows: usize,
    /// Feedback rows.
    pub feedback_rows: usize,
    /// Feedback rows stored under a key (prediction id or idempotency key).
    pub keyed_rows: usize,
    /// Model versions.
    pub versions: usize,
}

impl PgStore {
    /// Stores the fitted embedding (`embedding.json`'s text), replacing any before.
    pub fn put_embedding(&self, fingerprint: &str, body: &str) -> Result<(), PgError> {
        let pool = self.pool();
        let (fingerprint, body) = (fingerprint.to_string(), body.to_string());
        self.block(async move {
            pool.get()
                .await?
                .execute(
                    "INSERT INTO tympan_embedding (id, fingerprint, body) VALUES (1, $1, $2)
                     ON CONFLICT (id) DO UPDATE SET fingerprint = excluded.fingerprint,
                                                    body = excluded.body",
                    &[&fingerprint, &body],
                )
                .await?;
            Ok(())
        })
    }

    /// The stored embedding's text, if any.
    pub fn embedding(&self) -> Result<Option<String>, PgError> {
        let pool = self.pool();
        self.block(async move {
            let row = pool
                .get()
                .await?
                .query_opt("SELECT body FROM tympan_embedding WHERE id = 1", &[])
                .await?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    /// Replaces the reference rows with `rows` (one transaction).
    pub fn put_reference(&self, rows: &[LabeledRow]) -> Result<(), PgError> {
        let pool = self.pool();
        let rows = rows.to_vec();
        self.block(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            tx.execute("DELETE FROM tympan_reference", &[]).await?;
            let insert = tx
                .prepare("INSERT INTO tympan_reference (n, vector, target) VALUES ($1, $2, $3)")
                .await?;
            for (i, row) in rows.iter().enumerate() {
                tx.execute(&insert, &[&(i as i64 + 1), &row.vector, &row.target])
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// The reference rows, in order (an empty table when none are stored).
    pub fn reference(&self) -> Result<Table, PgError> {
        let rows = self.labeled_rows("SELECT vector, target FROM tympan_reference ORDER BY n")?;
        table(TableKind::Reference, rows, "tympan_reference")
    }

    /// Stores `rows` as the feedback rows 1..n, with their keys (`(row, key)` pairs), into an
    /// empty feedback table: moving a single box in, never merging two histories.
    pub fn import_feedback(
        &self,
        rows: &[LabeledRow],
        keys: &[(u64, String)],
    ) -> Result<(), PgError> {
        let pool = self.pool();
        let rows = rows.to_vec();
        let mut key_of = vec![None; rows.len()];
        for (row, key) in keys {
            if let Some(slot) = (*row as usize)
                .checked_sub(1)
                .and_then(|i| key_of.get_mut(i))
            {
                *slot = Some(key.clone());
            }
        }
        self.block(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let stored: i64 = tx
                .query_one("SELECT count(*) FROM tympan_feedback", &[])
                .await?
                .get(0);
            if stored > 0 {
                return Err(PgError::Query(format!(
                    "the database holds {stored} feedback rows already; import goes into an empty one"
                )));
            }
            let insert = tx
                .prepare(
                    "INSERT INTO tympan_feedback (n, vector, target, prediction, key)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .await?;
            for (i, (row, key)) in rows.iter().zip(&key_of).enumerate() {
                let prediction = row.prediction.clone().unwrap_or_default();
                tx.execute(
                    &insert,
                    &[&(i as i64 + 1), &row.vector, &row.target, &prediction, key],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Writes `ref_data.csv` and `prod_data.csv` into `dir` from the database, byte for byte as
    /// the CSV store writes the same rows; returns the row counts. The feedback table is read
    /// in one snapshot.
    pub fn export(
        &self,
        dir: &Path,
        feedback: &crate::PgFeedback,
    ) -> Result<(usize, usize), ExportError> {
        let reference = self.reference()?;
        let production = tympan_data::FeedbackStore::read_table(feedback)?;
        let dim = reference.dim.max(production.dim);
        for (kind, t) in [
            (TableKind::Reference, &reference),
            (TableKind::Production, &production),
        ] {
            tympan_data::write_table(&dir.join(kind.file_name()), kind, dim, &t.rows)?;
        }
        Ok((reference.rows.len(), production.rows.len()))
    }
}

impl PgStore {
    /// Moves a bootstrapped single box (`data/` and `artifacts/`) into an empty database: the
    /// embedding, the reference rows, the feedback rows with their keys, every model version and
    /// the `current` alias with its rollback stack.
    pub fn import_deployment(
        &self,
        data: &Path,
        artifacts: &Path,
    ) -> Result<ImportSummary, ImportError> {
        let embedding_path = artifacts.join(EMBEDDING_FILE);
        let text = std::fs::read_to_string(&embedding_path)
            .map_err(|e| tympan_data::DataError::io(&embedding_path, e))?;
        let source = embedding_path.display().to_string();
        let embedder = Embedder::from_json(&text, &source, AudioLimits::default())?;
        let reference = read_table(&data.join(TableKind::Reference.file_name()))?;
        if reference.dim != embedder.dim() {
            return Err(ImportError::Width {
                reference: reference.dim,
                embedding: embedder.dim(),
            });
        }
        let prod_path = data.join(TableKind::Production.file_name());
        let (production, keys) = if prod_path.is_file() {
            let log = FeedbackLog::open(&prod_path, embedder.dim())?;
            (log.read_table()?.rows, log.keys())
        } else {
            (Vec::new(), Vec::new())
        };
        self.put_embedding(embedder.fingerprint(), &text)?;
        self.put_reference(&reference.rows)?;
        self.import_feedback(&production, &keys)?;
        let registry = ModelRegistry::new(artifacts);
        let models = PgModels::new(self);
        let versions = registry.versions()?;
        for version in &versions {
            let v = registry.load(version)?;
            models.import(&v.model, &v.meta)?;
        }
        if let Some(current) = registry.current()? {
            models.import_alias(&current, &registry.previous()?)?;
        }
        Ok(ImportSummary {
            reference_rows: reference.rows.len(),
            feedback_rows: production.len(),
            keyed_rows: keys.len(),
            versions: versions.len(),
        })
    }
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Writing the database.
    #[error(transparent)]
    Database(#[from] PgError),
    /// Reading the tables.
    #[error(transparent)]
    Data(#[from] tympan_data::DataError),
    /// Reading the embedding.
    #[error(transparent)]
    Embedding(#[from] tympan_core::embedding::EmbedError),
    /// Reading the registry.
    #[error(transparent)]
    Registry(#[from] tympan_core::registry::RegistryError),
    /// The database holds a deployment already: an import never merges two.
    #[error("{0} holds a deployment already: import goes into an empty database")]
    NotEmpty(String),
    /// The reference rows do not fit the embedding.
    #[error("the reference rows have {reference} values, the embedding produces {embedding}")]
    Width {
        /// The rows' width.
        reference: usize,
        /// The embedding's.
        embedding: usize,
    },
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the database.
    #[error(transparent)]
    Database(#[from] PgError),
    /// Reading the rows or writing the files.
    #[error(transparent)]
    Data(#[from] tympan_data::DataError),
}

/// Rows of one width as a table, or the row that breaks it.
fn table(kind: TableKind, rows: Vec<LabeledRow>, name: &str) -> Result<Table, PgError> {
    let dim = rows.first().map_or(0, |r| r.vector.len());
    if let Some(bad) = rows.iter().position(|r| r.vector.len() != dim) {
        return Err(PgError::Corrupt(format!(
            "{name} row {} with {} values, row 1 has {dim}",
            bad + 1,
            rows[bad].vector.len()
        )));
    }
    Ok(Table { kind, dim, rows })
}
