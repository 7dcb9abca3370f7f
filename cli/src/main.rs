//! `tympan`: the command-line front door.
//!
//! `tympan bootstrap | train | evaluate | models` are built in (thin calls into `tympan-core`); any other
//! `tympan <sub> ARGS` runs the binary `tympan-<sub>` found next to this one or on `PATH`, the way
//! cargo runs its subcommands.

mod bootstrap;
mod database;
mod dispatch;
mod evaluate;
mod models;
mod train;
mod transfer;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Tympan: audio classification from a folder of clips to a self-improving service.
#[derive(Parser, Debug)]
#[command(name = "tympan", version, allow_external_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    log: tympan_log::LogArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Embed a dataset and train a first model when the artifacts serve none (idempotent: for a
    /// fresh clone, init containers and jobs).
    Bootstrap(bootstrap::BootstrapArgs),
    /// Train a classifier on data/ref_data.csv and register it as a new model version.
    Train(train::TrainArgs),
    /// Measure a model, or a training protocol, on labelled vectors.
    Evaluate(evaluate::EvaluateArgs),
    /// List, show, promote or roll back model versions.
    Models(models::ModelsArgs),
    /// Move a single box's data and models into PostgreSQL (an empty database).
    Import(transfer::ImportArgs),
    /// Write ref_data.csv and prod_data.csv from PostgreSQL, as the CSV store writes them.
    Export(transfer::ExportArgs),
    #[command(external_subcommand)]
    External(Vec<String>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = cli.log.init() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        None => {
            print_help();
            return ExitCode::SUCCESS;
        }
        Some(Command::Bootstrap(a)) => bootstrap::run(a),
        Some(Command::Train(a)) => train::run(a),
        Some(Command::Evaluate(a)) => evaluate::run(a),
        Some(Command::Models(a)) => models::run(a),
        Some(Command::Import(a)) => transfer::import(a),
        Some(Command::Export(a)) => transfer::export(a),
        Some(Command::External(args)) => return dispatch::run_external(&args, cli.log),
    };
    cli.log.exit_code(result)
}

fn print_help() {
    let mut cmd = Cli::command();
    let _ = cmd.print_help();
    let plugins = dispatch::find_plugins();
    if !plugins.is_empty() {
        println!("\nInstalled subcommands (tympan-<name> binaries):");
        for p in plugins {
            println!("  {p}");
        }
    }
}
