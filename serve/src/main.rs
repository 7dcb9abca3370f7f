//! `tympan-serve`: see the crate documentation of `tympan_serve`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};
use tympan_log::LogArgs;
use tympan_serve::{healthcheck, ServeConfig, Service};

/// Serve predictions and feedback, retrain continuously, show reports.
#[derive(Parser, Debug)]
#[command(name = "tympan-serve", version)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: ServeConfig,
    #[command(flatten)]
    log: LogArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Exit 0 when the server at --url answers 200 (for container health checks).
    Healthcheck {
        /// URL to check (default: /health on loopback at the configured port).
        #[arg(long)]
        url: Option<String>,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = args.log.init() {
        eprintln!("tympan-serve: {e}");
        return ExitCode::FAILURE;
    }
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            // In the log stream, so that a collector sees why the server stopped.
            tracing::error!(error = %format!("{e:#}"), "tympan-serve stopped");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<ExitCode> {
    if let Some(Command::Healthcheck { url }) = &args.command {
        let url = url
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{}/health", args.config.port));
        return match healthcheck::check(&url, Duration::from_secs(3)) {
            Ok(true) => Ok(ExitCode::SUCCESS),
            Ok(false) => Ok(ExitCode::FAILURE),
            Err(e) => {
                tracing::error!(url, error = %e, "healthcheck failed");
                Ok(ExitCode::FAILURE)
            }
        };
    }
    let service = Arc::new(Service::open(args.config)?);
    let served = rocket::execute(tympan_serve::serve(Arc::clone(&service)));
    // Whatever ended the serving, the predictions answered so far reach the log.
    service.close_prediction_log();
    served?;
    tracing::info!("tympan-serve stopped");
    Ok(ExitCode::SUCCESS)
}
