//! The schema: versioned migrations in `pg-store/migrations/`, applied in order by every binary
//! that opens the database, in one transaction, under an advisory lock so that replicas
//! starting together migrate once.
//!
//! | version | what |
//! |---|---|
//! | 1 | embedding, reference rows, feedback rows, model versions, the alias and its history |
//! | 2 | `tympan_retrainings`: who trained when, on how many rows, with what outcome |
//! | 3 | `tympan_predictions`: the prediction log, shared by the replicas |

use deadpool_postgres::Client;

use crate::{PgError, LOCK_CLASS};

/// The migrations, oldest first: version `i + 1` is `MIGRATIONS[i]`.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_store.sql"),
    include_str!("../migrations/0002_retrainings.sql"),
    include_str!("../migrations/0003_predictions.sql"),
];

/// The newest schema version this build knows.
pub const LATEST: i32 = MIGRATIONS.len() as i32;

/// The advisory lock key migrations take.
const MIGRATION_LOCK: i32 = 1;

/// Brings the schema to `target` (at most [`LATEST`]) and returns the version it is at. A
/// database at a newer version than this build knows is refused.
pub(crate) async fn migrate(client: &mut Client, target: i32) -> Result<i32, PgError> {
    let target = target.min(LATEST);
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[&LOCK_CLASS, &MIGRATION_LOCK],
    )
    .await?;
    // Checked first rather than `CREATE ... IF NOT EXISTS`, whose notice every start would log.
    if !schema_table_exists(&tx).await? {
        tx.batch_execute(
            "CREATE TABLE tympan_schema (
                 version    integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await?;
    }
    let current: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM tympan_schema", &[])
        .await?
        .get(0);
    if current > LATEST {
        return Err(PgError::SchemaTooNew {
            found: current,
            known: LATEST,
        });
    }
    for version in current + 1..=target {
        tx.batch_execute(MIGRATIONS[version as usize - 1]).await?;
        tx.execute(
            "INSERT INTO tympan_schema (version) VALUES ($1)",
            &[&version],
        )
        .await?;
        tracing::info!(version, "database schema migrated");
    }
    tx.commit().await?;
    Ok(current.max(target))
}

async fn schema_table_exists(
    client: &impl deadpool_postgres::GenericClient,
) -> Result<bool, PgError> {
    Ok(client
        .query_one("SELECT to_regclass('tympan_schema') IS NOT NULL", &[])
        .await?
        .get(0))
}

/// The schema version of the database (0 when empty).
pub(crate) async fn version(client: &Client) -> Result<i32, PgError> {
    if !schema_table_exists(client).await? {
        return Ok(0);
    }
    Ok(client
        .query_one("SELECT coalesce(max(version), 0) FROM tympan_schema", &[])
        .await?
        .get(0))
}
