//! `--database-url`: the commands that read or write a deployment's models and rows work on
//! PostgreSQL instead of the folders when it is given (see docs/scale-out.md).

use std::path::Path;

use anyhow::{Context, Result};
use clap::Args;
use tympan_core::registry::{ModelRegistry, ModelStore};
use tympan_pg::{PgModels, PgOptions, PgStore};

/// The database options every such command takes.
#[derive(Args, Debug, Clone)]
pub struct DatabaseArgs {
    /// PostgreSQL URL (`postgres://user:password@host:port/db`): work on the deployment kept
    /// there instead of the folders.
    #[arg(
        long,
        env = "TYMPAN_DATABASE_URL",
        hide_env_values = true,
        global = true
    )]
    pub database_url: Option<String>,
    /// Connections to the database.
    #[arg(long, env = "TYMPAN_DATABASE_POOL", default_value_t = 4, global = true)]
    pub database_pool: usize,
}

impl DatabaseArgs {
    /// The database, connected and migrated, when a URL was given.
    pub fn store(&self) -> Result<Option<PgStore>> {
        let Some(url) = &self.database_url else {
            return Ok(None);
        };
        let mut options = PgOptions::new(url.clone());
        options.pool_size = self.database_pool;
        let store = PgStore::connect(&options).context("opening the database")?;
        Ok(Some(store))
    }

    /// The database's models, or the registry in `artifacts`.
    pub fn models(&self, artifacts: &Path) -> Result<Box<dyn ModelStore>> {
        Ok(match self.store()? {
            Some(store) => Box::new(PgModels::new(&store)),
            None => Box::new(ModelRegistry::new(artifacts)),
        })
    }
}
