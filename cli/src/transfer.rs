//! `tympan import` and `tympan export`: a single box's folders into PostgreSQL (to scale out),
//! and the database's rows back into the files the report binary, the CronJob and notebooks read.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use tympan_core::audio::AudioLimits;
use tympan_core::embedding::Embedder;
use tympan_pg::{PgFeedback, PgStore};

use crate::database::DatabaseArgs;

/// Options of `tympan import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Folder holding ref_data.csv and prod_data.csv.
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// Artifacts folder holding the embedding and the model registry.
    #[arg(long, default_value = "artifacts")]
    artifacts: PathBuf,
    /// Do nothing (and succeed) when the database holds a deployment already: what a start-up
    /// job runs every time.
    #[arg(long)]
    if_empty: bool,
    #[command(flatten)]
    database: DatabaseArgs,
}

/// Options of `tympan export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Folder to write ref_data.csv and prod_data.csv into.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    database: DatabaseArgs,
}

fn required(database: &DatabaseArgs) -> Result<PgStore> {
    database
        .store()?
        .context("--database-url (or TYMPAN_DATABASE_URL) is required")
}

/// Moves a bootstrapped single box into an empty database.
pub fn import(args: ImportArgs) -> Result<()> {
    let store = required(&args.database)?;
    if args.if_empty && store.embedding()?.is_some() {
        println!(
            "{} holds a deployment already: nothing imported",
            store.location()
        );
        return Ok(());
    }
    let done = store.import_deployment(&args.data, &args.artifacts)?;
    println!(
        "imported into {}: the embedding, {} reference rows, {} feedback rows ({} keyed), {} model versions",
        store.location(),
        done.reference_rows,
        done.feedback_rows,
        done.keyed_rows,
        done.versions
    );
    Ok(())
}

/// Writes ref_data.csv and prod_data.csv from the database, in the CSV store's exact layout.
pub fn export(args: ExportArgs) -> Result<()> {
    let store = required(&args.database)?;
    let text = store
        .embedding()?
        .context("the database holds no embedding: nothing was imported into it")?;
    let embedder = Embedder::from_json(&text, "tympan_embedding", AudioLimits::default())?;
    let feedback = PgFeedback::open(&store, embedder.dim())?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let (reference, production) = store.export(&args.out, &feedback)?;
    println!(
        "wrote {reference} reference rows and {production} feedback rows into {}",
        args.out.display()
    );
    Ok(())
}
