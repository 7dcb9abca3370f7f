//! `tympan-tune DATASET_DIR`: see the crate documentation of `tympan_tune`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use tympan_core::audio::AudioLimits;
use tympan_data::durable::write_atomic;
use tympan_embed::{progress_wanted, LabelArgs};
use tympan_tune::{page, tune, Grouping, TuneOutcome, TuneRequest};

/// Search the front end and the model on a labelled audio folder by grouped cross-validation.
#[derive(Parser, Debug)]
#[command(name = "tympan-tune", version)]
struct Args {
    /// Dataset folder: DIR/<label>/*.wav, or files named by --label-pattern.
    dataset_dir: PathBuf,
    #[command(flatten)]
    labels: LabelArgs,
    /// Group the folds by this field of the label pattern (default: its first one).
    #[arg(long, value_name = "FIELD", conflicts_with = "no_groups")]
    group_by: Option<String>,
    /// Stratified folds, ignoring groups (scores leak when clips of one source are alike).
    #[arg(long)]
    no_groups: bool,
    /// Folds (capped by the number of groups).
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Wall time of the search, decoding included (e.g. 30s, 2m).
    #[arg(long, default_value = "2m", value_parser = humantime::parse_duration)]
    budget: Duration,
    /// Seed of the folds and of the candidate order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Evaluate at most this many front ends (each with every PCA size and penalty): a search
    /// that ends by count is repeatable to the byte, one that ends by budget depends on the
    /// machine.
    #[arg(long, value_name = "N")]
    max_front_ends: Option<usize>,
    /// Where the winning configuration is written (for `tympan embed --features` and
    /// `tympan train --config`).
    #[arg(long, default_value = "tuned.json")]
    out: PathBuf,
    /// Also write the leaderboard and a chart of score against time as an HTML page.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Print the outcome as JSON instead of the leaderboard.
    #[arg(long)]
    json: bool,
    /// Longest clip accepted, in seconds.
    #[arg(long, default_value_t = 60.0)]
    max_seconds: f64,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    log: tympan_log::LogArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    args.log.run(|| run(&args))
}

fn run(args: &Args) -> Result<()> {
    let source = args.labels.source(&args.dataset_dir)?;
    let grouping = match (&args.group_by, args.no_groups) {
        (Some(field), _) => Grouping::Field(field.clone()),
        (None, true) => Grouping::None,
        (None, false) => Grouping::Auto,
    };
    let request = TuneRequest {
        dataset_dir: args.dataset_dir.clone(),
        source,
        grouping,
        folds: args.folds,
        budget: args.budget,
        seed: args.seed,
        max_front_ends: args.max_front_ends,
        limits: AudioLimits {
            max_seconds: args.max_seconds,
            ..AudioLimits::default()
        },
    };
    let bar = progress_wanted(args.quiet).then(|| {
        let bar = ProgressBar::new(args.budget.as_secs().max(1));
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {elapsed:>4} of the budget  {msg}")
                .expect("static template"),
        );
        bar.enable_steady_tick(Duration::from_millis(250));
        bar
    });
    let mut best = f64::NEG_INFINITY;
    let outcome = tune(&request, |scored, count| {
        best = best.max(scored.score);
        if let Some(bar) = &bar {
            bar.set_position(scored.at_seconds as u64);
            bar.set_message(format!("{count} candidates, best macro F1 {best:.4}"));
        }
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    for s in &outcome.skipped {
        eprintln!("skipped {}: {}", s.path.display(), s.reason);
    }
    let tuned = outcome.tuned().context("no candidate was scored")?;
    let json = serde_json::to_string_pretty(&tuned)? + "\n";
    write_atomic(&args.out, json.as_bytes())
        .with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(path) = &args.report {
        write_atomic(path, page::render(&outcome)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        print_leaderboard(&outcome);
        println!("winner written to {}", args.out.display());
    }
    Ok(())
}

fn print_leaderboard(outcome: &TuneOutcome) {
    println!(
        "{} clips, {} folds {}; {} candidates from {} front ends in {:.1} s ({})",
        outcome.clips,
        outcome.folds,
        outcome.protocol,
        outcome.candidates.len(),
        outcome.front_ends.len(),
        outcome.elapsed_seconds,
        outcome.stop.describe()
    );
    if let Some(d) = outcome.defaults() {
        println!(
            "data-aware defaults: macro F1 {:.4} +/- {:.4}",
            d.score, d.spread
        );
    }
    println!(
        " #  macro F1          gain over defaults   accuracy   PCA  alpha   at      differs from the defaults"
    );
    for (i, c) in outcome
        .leaderboard(page::LEADERBOARD_ROWS)
        .into_iter()
        .enumerate()
    {
        let changes = if c.changes.is_empty() {
            "(the defaults)".to_string()
        } else {
            c.changes.join("; ")
        };
        let (gain, se) = outcome.gain(c).unwrap_or((0.0, 0.0));
        let mark = if outcome.clears_noise(c) { '*' } else { ' ' };
        println!(
            "{:>2}  {:.4} +/- {:.4}  {gain:+.4} +/- {se:.4}{mark}  {:>7.2} %  {:>4}  {:>5}  {:>5.1} s  {changes}",
            i + 1,
            c.score,
            c.spread,
            c.accuracy * 100.0,
            c.n_components,
            c.alpha,
            c.at_seconds,
        );
    }
    print_confirmation(outcome);
    let t = tympan_tune::search::MIN_GAIN_T;
    match outcome.best() {
        Some(b) if outcome.is_confirmed(b) => println!(
            "winner: macro F1 {:.4}, a gain over the defaults of at least {t} standard errors on \
             the search's folds and again on fresh ones",
            b.score
        ),
        _ if outcome.confirmation.is_some() => println!(
            "winner: the data-aware defaults (no leader kept a gain of {t} standard errors on \
             fresh partitions)"
        ),
        _ => println!(
            "winner: the data-aware defaults (no candidate beat them by {t} standard errors of the \
             per-fold gain)"
        ),
    }
}

fn print_confirmation(outcome: &TuneOutcome) {
    let Some(conf) = &outcome.confirmation else {
        return;
    };
    println!(
        "re-scored on {} fresh partitions ({} folds): the defaults {:.4}",
        conf.seeds.len(),
        conf.folds,
        conf.defaults.score
    );
    for k in &conf.leaders {
        let (gain, se) = conf.gain(k);
        let mark = if conf.clears_noise(k) { '*' } else { ' ' };
        println!(
            "  candidate {:>4}: {:.4}  gain {gain:+.4} +/- {se:.4}{mark}",
            k.order, k.score
        );
    }
}
