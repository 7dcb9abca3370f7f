//! `tympan models list | show | promote | rollback`.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::database::DatabaseArgs;

/// Options of `tympan models`.
#[derive(Args, Debug)]
pub struct ModelsArgs {
    /// Artifacts folder holding the registry.
    #[arg(long, default_value = "artifacts", global = true)]
    artifacts: PathBuf,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand, Debug)]
enum Action {
    /// List every version; `*` marks the served one.
    List,
    /// Print a version's metadata and metrics as JSON.
    Show {
        /// The version (default: current).
        version: Option<String>,
    },
    /// Serve this version (a running server takes it at its next reload; replicas on a database
    /// at once).
    Promote {
        /// The version.
        version: String,
    },
    /// Serve the previous champion again.
    Rollback,
}

/// Runs a registry action.
pub fn run(args: ModelsArgs) -> Result<()> {
    let registry = args.database.models(&args.artifacts)?;
    match args.action {
        Action::List => {
            let current = registry.current()?;
            for v in registry.versions()? {
                let meta = registry.load(&v)?.meta;
                let mark = if current.as_deref() == Some(v.as_str()) {
                    "*"
                } else {
                    " "
                };
                let acc = meta
                    .metrics
                    .as_ref()
                    .map(|m| format!("{:.2}%", m.accuracy * 100.0))
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{mark} {v}  {}  rows {:>6}  holdout accuracy {acc:>7}  parent {}",
                    meta.created_at,
                    meta.train_rows,
                    meta.parent.as_deref().unwrap_or("-")
                );
            }
        }
        Action::Show { version } => {
            let version = match version {
                Some(v) => v,
                None => registry
                    .current()?
                    .ok_or_else(|| anyhow::anyhow!("no current model"))?,
            };
            let v = registry.load(&version)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&v.meta.to_summary_json())?
            );
        }
        Action::Promote { version } => {
            registry.promote(&version)?;
            tracing::info!(model_version = %version, "model promoted by hand");
            println!("now serving {version}");
        }
        Action::Rollback => {
            let v = registry.rollback()?;
            tracing::info!(model_version = %v, "model rolled back");
            println!("rolled back: now serving {v}");
        }
    }
    Ok(())
}
