//! [`PgModels`]: every model version and the `current` alias in PostgreSQL, shared by every
//! replica. A promotion or a rollback changes the alias, records it in `tympan_alias_history`
//! and `NOTIFY`s [`MODEL_CHANNEL`] in one transaction: every replica listening hears of it once
//! it is committed, never before ([`crate::watch`]).

use tokio_postgres::Transaction;
use tympan_core::model::Model;
use tympan_core::registry::{ModelMeta, ModelStore, ModelVersion, RegistryError};

use crate::{PgError, PgStore};

/// The channel a promotion is announced on; the payload is the version now served.
pub const MODEL_CHANNEL: &str = "tympan_model";

/// The alias the server serves.
const CURRENT: &str = "current";

/// The model versions and the `current` alias of a deployment in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgModels {
    store: PgStore,
}

impl PgModels {
    /// The models in `store`.
    pub fn new(store: &PgStore) -> Self {
        Self {
            store: store.clone(),
        }
    }

    /// Stores a version under the name it has (`meta.version`), as `tympan import` moves a
    /// registry folder in; a version of that name stored already is left as it is.
    pub fn import(&self, model: &Model, meta: &ModelMeta) -> Result<bool, RegistryError> {
        let number = version_number(&meta.version)
            .ok_or_else(|| RegistryError::UnknownVersion(meta.version.clone()))?;
        let (version, model_json, meta_json) =
            (meta.version.clone(), to_json(model), to_json(meta));
        let pool = self.store.pool();
        Ok(self.store.block(async move {
            let inserted = pool
                .get()
                .await?
                .execute(
                    "INSERT INTO tympan_models (version, number, model, meta)
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    &[&version, &number, &model_json, &meta_json],
                )
                .await?;
            Ok(inserted == 1)
        })?)
    }

    /// Sets the alias to `version` with `previous` as its rollback stack (as `tympan import`
    /// moves a `current` file in), and announces it.
    pub fn import_alias(&self, version: &str, previous: &[String]) -> Result<(), RegistryError> {
        let (version, previous) = (version.to_string(), previous.to_vec());
        self.alias_change(move |_, _| Ok((version, previous)), "import")
            .map(|_| ())
    }

    /// The alias history, oldest first: (version, action) pairs.
    pub fn history(&self) -> Result<Vec<(String, String)>, RegistryError> {
        let pool = self.store.pool();
        Ok(self.store.block(async move {
            let rows = pool
                .get()
                .await?
                .query(
                    "SELECT version, action FROM tympan_alias_history WHERE name = $1 ORDER BY id",
                    &[&CURRENT],
                )
                .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })?)
    }

    /// Changes the alias in one transaction: `change` gets the current (version, previous) and
    /// returns the new ones; the history row and the notification go with it.
    fn alias_change<F>(&self, change: F, action: &'static str) -> Result<String, RegistryError>
    where
        F: FnOnce(Option<String>, Vec<String>) -> Result<(String, Vec<String>), RegistryError>
            + Send
            + 'static,
    {
        let pool = self.store.pool();
        let outcome = self.store.block(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let row = tx
                .query_opt(
                    "SELECT version, previous FROM tympan_alias WHERE name = $1 FOR UPDATE",
                    &[&CURRENT],
                )
                .await?;
            let (current, previous) = match row {
                Some(r) => (Some(r.get::<_, String>(0)), r.get::<_, Vec<String>>(1)),
                None => (None, Vec::new()),
            };
            let unchanged = current.clone();
            let (version, previous) = match change(current, previous) {
                Ok(v) => v,
                Err(e) => return Ok(Err(e)),
            };
            if !version_exists(&tx, &version).await? {
                return Ok(Err(RegistryError::UnknownVersion(version)));
            }
            if unchanged.as_deref() == Some(version.as_str()) && action == "promote" {
                return Ok(Ok(version));
            }
            tx.execute(
                "INSERT INTO tympan_alias (name, version, previous) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET version = excluded.version,
                                                  previous = excluded.previous",
                &[&CURRENT, &version, &previous],
            )
            .await?;
            tx.execute(
                "INSERT INTO tympan_alias_history (name, version, action) VALUES ($1, $2, $3)",
                &[&CURRENT, &version, &action],
            )
            .await?;
            tx.execute("SELECT pg_notify($1, $2)", &[&MODEL_CHANNEL, &version])
                .await?;
            tx.commit().await?;
            Ok(Ok(version))
        })?;
        outcome
    }
}

async fn version_exists(tx: &Transaction<'_>, version: &str) -> Result<bool, PgError> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM tympan_models WHERE version = $1",
            &[&version],
        )
        .await?
        .is_some())
}

impl ModelStore for PgModels {
    fn versions(&self) -> Result<Vec<String>, RegistryError> {
        let pool = self.store.pool();
        Ok(self.store.block(async move {
            let rows = pool
                .get()
                .await?
                .query("SELECT version FROM tympan_models ORDER BY number", &[])
                .await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })?)
    }

    fn save(&self, model: &Model, mut meta: ModelMeta) -> Result<String, RegistryError> {
        let model_json = to_json(model);
        let pool = self.store.pool();
        Ok(self.store.block(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            // Two savers (a retraining, `tympan train`) must not take the same number.
            tx.batch_execute("LOCK TABLE tympan_models IN SHARE ROW EXCLUSIVE MODE")
                .await?;
            let number: i32 = tx
                .query_one(
                    "SELECT coalesce(max(number), 0) + 1 FROM tympan_models",
                    &[],
                )
                .await?
                .get(0);
            meta.version = format!("v{number:04}");
            let meta_json = to_json(&meta);
            tx.execute(
                "INSERT INTO tympan_models (version, number, model, meta) VALUES ($1, $2, $3, $4)",
                &[&meta.version, &number, &model_json, &meta_json],
            )
            .await?;
            tx.commit().await?;
            Ok(meta.version)
        })?)
    }

    fn load(&self, version: &str) -> Result<ModelVersion, RegistryError> {
        let pool = self.store.pool();
        let name = version.to_string();
        let row = self.store.block(async move {
            let row = pool
                .get()
                .await?
                .query_opt(
                    "SELECT model, meta FROM tympan_models WHERE version = $1",
                    &[&name],
                )
                .await?;
            Ok(row.map(|r| (r.get::<_, String>(0), r.get::<_, String>(1))))
        })?;
        let (model, meta) = row.ok_or_else(|| RegistryError::UnknownVersion(version.into()))?;
        let corrupt = |what: &str, e: serde_json::Error| RegistryError::Corrupt {
            path: format!("tympan_models {version} {what}").into(),
            reason: e.to_string(),
        };
        Ok(ModelVersion {
            model: serde_json::from_str(&model).map_err(|e| corrupt("model", e))?,
            meta: serde_json::from_str(&meta).map_err(|e| corrupt("meta", e))?,
        })
    }

    fn current(&self) -> Result<Option<String>, RegistryError> {
        let pool = self.store.pool();
        Ok(self.store.block(async move {
            let row = pool
                .get()
                .await?
                .query_opt(
                    "SELECT version FROM tympan_alias WHERE name = $1",
                    &[&CURRENT],
                )
                .await?;
            Ok(row.map(|r| r.get(0)))
        })?)
    }

    fn promote(&self, version: &str) -> Result<(), RegistryError> {
        let version = version.to_string();
        self.alias_change(
            move |current, mut previous| {
                if let Some(c) = current.filter(|c| *c != version) {
                    previous.push(c);
                }
                Ok((version, previous))
            },
            "promote",
        )
        .map(|_| ())
    }

    fn rollback(&self) -> Result<String, RegistryError> {
        self.alias_change(
            |_, mut previous| {
                let back = previous.pop().ok_or(RegistryError::NoPrevious)?;
                Ok((back, previous))
            },
            "rollback",
        )
    }

    fn location(&self) -> String {
        self.store.location().to_string()
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("models and metadata serialise")
}

/// `v0042` -> 42.
fn version_number(version: &str) -> Option<i32> {
    let digits = version.strip_prefix('v')?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}
