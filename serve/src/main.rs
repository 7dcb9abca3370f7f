//! `tympan-serve`: see the crate documentation of `tympan_serve`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};
use tympan_serve::{bootstrap, healthcheck, ServeConfig, Service};

/// Serve predictions and feedback, retrain continuously, show reports.
#[derive(Parser, Debug)]
#[command(name = "tympan-serve", version)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: ServeConfig,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Exit 0 when the server at --url answers 200 (for container health checks).
    Healthcheck {
        /// URL to check (default: /health on loopback at the configured port).
        #[arg(long)]
        url: Option<String>,
    },
    /// Embed the dataset and train a first model when the artifacts hold none, then exit
    /// (idempotent: does nothing when a model is served; for init containers and jobs).
    Bootstrap,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(Command::Healthcheck { url }) = &args.command {
        let url = url
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{}/health", args.config.port));
        return match healthcheck::check(&url, Duration::from_secs(3)) {
            Ok(true) => Ok(()),
            Ok(false) => std::process::exit(1),
            Err(e) => {
                eprintln!("healthcheck: {e}");
                std::process::exit(1)
            }
        };
    }
    bootstrap::ensure_model(&args.config)?;
    if let Some(Command::Bootstrap) = args.command {
        return Ok(());
    }
    let service = Arc::new(Service::open(args.config)?);
    eprintln!(
        "tympan-serve: model {} on http://{}:{}",
        service.current().meta.version,
        service.config.address,
        service.config.port
    );
    rocket::execute(tympan_serve::serve(service))?;
    Ok(())
}
