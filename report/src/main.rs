//! `tympan-report`: compute the drift and quality report once, or every N
//! seconds as a long-running reporting service.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use tympan_report::embedding_drift::EmbeddingDriftConfig;
use tympan_report::html::{render_live_page, LiveView};
use tympan_report::live::{
    append_live_point, live_section, load_live_points, read_window, LiveConfig, LivePoint,
    LiveSection, LiveWindow, WindowRow, WindowView,
};
use tympan_report::{
    parse_interval, write_outputs, DriftOptions, JsBase, Report, ReportConfig, StatTest,
    DEFAULT_TOP_CLASSES,
};

/// Data drift and classification quality report (HTML, JSON, history dashboard).
#[derive(Debug, Parser)]
#[command(name = "tympan-report", version, about)]
struct Cli {
    /// Reference CSV (PCA_1..PCA_n,target).
    #[arg(long = "ref", value_name = "PATH", default_value = "data/ref_data.csv")]
    reference: PathBuf,
    /// Production CSV (PCA_1..PCA_n,target,prediction).
    #[arg(
        long = "prod",
        value_name = "PATH",
        default_value = "data/prod_data.csv"
    )]
    production: PathBuf,
    /// PostgreSQL URL of a scale-out deployment: read its reference and feedback rows there
    /// instead of --ref and --prod.
    #[arg(long, env = "TYMPAN_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Output directory for report.html, report.json, history.jsonl and dashboard.html.
    #[arg(long, value_name = "DIR", default_value = "reports/")]
    out: PathBuf,
    /// Test for every column that supports it: ks, chisquare, z, wasserstein, jensenshannon, psi
    /// [default: Evidently's automatic choice].
    #[arg(long, value_name = "TEST", value_parser = parse_test)]
    stattest: Option<StatTest>,
    /// Test for numeric (PCA) columns: ks, wasserstein, jensenshannon, psi.
    #[arg(long, value_name = "TEST", value_parser = parse_test)]
    num_stattest: Option<StatTest>,
    /// Test for categorical columns (target, prediction): chisquare, z, jensenshannon, psi.
    #[arg(long, value_name = "TEST", value_parser = parse_test)]
    cat_stattest: Option<StatTest>,
    /// Drift threshold for every column (p-value for tests, distance otherwise)
    /// [default: 0.05 for ks/chisquare/z, 0.1 for distances].
    #[arg(long, value_name = "X")]
    threshold: Option<f64>,
    /// Drift threshold for numeric columns.
    #[arg(long, value_name = "X")]
    num_threshold: Option<f64>,
    /// Drift threshold for categorical columns.
    #[arg(long, value_name = "X")]
    cat_threshold: Option<f64>,
    /// Share of drifted columns at or above which the dataset is declared drifted.
    #[arg(long, value_name = "SHARE", default_value_t = 0.5)]
    drift_share: f64,
    /// Logarithm base of the Jensen-Shannon distance: e (Evidently's default) or 2.
    #[arg(long, value_name = "BASE", default_value = "e", value_parser = parse_js_base)]
    js_base: JsBase,
    /// Repeat forever with this period (e.g. 60s, 5m, 1h); errors are logged and the loop goes on.
    #[arg(long, value_name = "INTERVAL", value_parser = parse_interval_arg)]
    every: Option<Duration>,
    /// With --every: stop after this many runs.
    #[arg(long, value_name = "N", requires = "every")]
    max_runs: Option<u64>,
    /// Classes listed one by one in the per-class table, the confusion matrix and the category
    /// charts (those with the most rows); the others are summed as "other".
    #[arg(long, value_name = "N", default_value_t = DEFAULT_TOP_CLASSES,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    top_classes: usize,
    /// Model version label stored in the report and the history (marks retrainings on the dashboard).
    #[arg(long, value_name = "VERSION")]
    model_version: Option<String>,
    /// Report on live traffic instead: drift of the latest predictions of this prediction log
    /// (data/predictions.csv) against --ref, with no label needed; writes live.json and live.html
    /// in --out and appends to live_history.jsonl there.
    #[arg(long, value_name = "PATH")]
    live: Option<PathBuf>,
    /// With --live: the window is the last N predictions.
    #[arg(long, value_name = "N", default_value_t = 500)]
    window: usize,
    /// With --live: only predictions younger than this (e.g. 30m, 1h) count.
    #[arg(long, value_name = "AGE", value_parser = parse_interval_arg)]
    window_age: Option<Duration>,
    /// With --live: the model registry, whose answering version's calibration and unusual-clip
    /// detector the estimates use (without it they are uncalibrated).
    #[arg(long, value_name = "DIR", default_value = "artifacts")]
    artifacts: PathBuf,
    /// With --live: the domain classifier's ROC AUC above which the window drifts.
    #[arg(long, value_name = "AUC", default_value_t = 0.55)]
    auc_threshold: f64,
    #[command(flatten)]
    log: tympan_log::LogArgs,
}

fn parse_test(s: &str) -> Result<StatTest, String> {
    s.parse::<StatTest>().map_err(|e| e.to_string())
}

fn parse_js_base(s: &str) -> Result<JsBase, String> {
    match s {
        "e" | "natural" | "ln" => Ok(JsBase::Natural),
        "2" | "two" => Ok(JsBase::Two),
        _ => Err(format!("expected `e` or `2`, got `{s}`")),
    }
}

fn parse_interval_arg(s: &str) -> Result<Duration, String> {
    parse_interval(s).map_err(|e| e.to_string())
}

impl Cli {
    fn config(&self) -> ReportConfig {
        ReportConfig {
            drift: DriftOptions {
                stattest: self.stattest,
                num_stattest: self.num_stattest,
                cat_stattest: self.cat_stattest,
                threshold: self.threshold,
                num_threshold: self.num_threshold,
                cat_threshold: self.cat_threshold,
                js_base: self.js_base,
            },
            drift_share: self.drift_share,
            model_version: self.model_version.clone(),
            note: None,
            top_classes: self.top_classes,
        }
    }

    fn live_config(&self) -> LiveConfig {
        LiveConfig {
            window: LiveWindow {
                rows: self.window,
                max_age: self.window_age,
            },
            drift: EmbeddingDriftConfig {
                auc_threshold: self.auc_threshold,
                ..EmbeddingDriftConfig::default()
            },
        }
    }
}

fn run_live(cli: &Cli, log: &std::path::Path) -> anyhow::Result<()> {
    let start = Instant::now();
    let config = cli.live_config();
    let reference = tympan_data::read_table(&cli.reference)?.rows;
    let now = std::time::SystemTime::now();
    let window = read_window(log, &config.window, now)?;
    // The true labels that came back by prediction id, for the realised accuracy.
    let targets = if cli.production.exists() {
        tympan_data::keyed_targets(&cli.production)
            .with_context(|| format!("reading the keys of {}", cli.production.display()))?
    } else {
        Default::default()
    };
    let ids: Vec<String> = window.iter().map(|r| r.id.to_string()).collect();
    let rows = window
        .iter()
        .zip(&ids)
        .map(|(r, id)| WindowRow {
            target: targets.get(id).map(String::as_str),
            ..WindowRow::of_record(r)
        })
        .collect();
    let view = WindowView::of_rows(rows);
    let monitoring = answering_model_profile(&cli.artifacts, &view);
    let section = live_section(&reference, &view, &config, monitoring.as_ref())
        .with_context(|| format!("live section of {}", log.display()))?;
    let path = cli.out.join("live.json");
    let json = serde_json::to_vec_pretty(&section)?;
    tympan_data::durable::write_atomic(&path, &json)
        .with_context(|| format!("writing {}", path.display()))?;
    let point = LivePoint::of(&section, now);
    append_live_point(&cli.out, &point)?;
    let history = load_live_points(&cli.out)?;
    let page = render_live_page(&LiveView::new(&section, &point.time, &history));
    let html = cli.out.join("live.html");
    tympan_data::durable::write_atomic(&html, page.as_bytes())
        .with_context(|| format!("writing {}", html.display()))?;
    println!("{}", live_summary(&section));
    println!(
        "{}, {} ({:.2}s)",
        path.display(),
        html.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The monitoring profile of the model version that answered most of the window, if the
/// registry holds it (and it has one).
fn answering_model_profile(
    artifacts: &std::path::Path,
    view: &WindowView<'_>,
) -> Option<tympan_data::monitoring::Monitoring> {
    let mut counts: std::collections::HashMap<&str, usize> = Default::default();
    for v in view.rows.iter().filter_map(|r| r.model_version) {
        *counts.entry(v).or_default() += 1;
    }
    let (version, _) = counts.into_iter().max_by_key(|&(v, n)| (n, v))?;
    match tympan_core::registry::ModelRegistry::new(artifacts).load(version) {
        Ok(model) => model.meta.monitoring,
        Err(e) => {
            tracing::warn!(version, error = %e, "no calibration: the answering model is not in the registry");
            None
        }
    }
}

fn live_summary(s: &LiveSection) -> String {
    let e = &s.embedding;
    let verdict = |d: bool| if d { "drift" } else { "no drift" };
    format!(
        "live: {} predictions ({} to {}): {}; domain classifier AUC {:.3} (p {:.2e}, {}), \
         MMD p {:.3} ({}), {}/{} components drifted ({:.1} %, {}); predicted labels p {:.3} ({}); \
         estimated without labels ({}): accuracy {:.3}, macro F1 {:.3}{}{}",
        s.window_rows,
        s.from,
        s.to,
        if e.drift {
            "EMBEDDING DRIFT"
        } else {
            "no embedding drift"
        },
        e.domain_auc,
        e.domain_auc_p_value,
        verdict(e.domain_drift),
        e.mmd_p_value,
        verdict(e.mmd_drift),
        e.drifted_components,
        e.components,
        e.drifted_share * 100.0,
        verdict(e.share_drift),
        s.predictions.p_value,
        verdict(s.predictions.drift),
        match (s.estimate.calibrated, s.estimate.novelty_aware) {
            (true, true) => "calibrated for novelty",
            (true, false) => "calibrated",
            _ => "uncalibrated",
        },
        s.estimate.accuracy,
        s.estimate.macro_f1,
        s.unusual
            .map(|u| format!("; {} unusual clips ({:.1} %)", u.unusual, u.rate * 100.0))
            .unwrap_or_default(),
        s.realised
            .map(|r| format!(
                "; realised accuracy {:.3} on {} labelled by id",
                r.accuracy, r.rows
            ))
            .unwrap_or_default(),
    )
}

fn run_once(cli: &Cli, config: &ReportConfig) -> anyhow::Result<()> {
    if let Some(log) = &cli.live {
        return run_live(cli, log);
    }
    let start = Instant::now();
    let report = match &cli.database_url {
        Some(url) => from_database(config, url)?,
        None => Report::compute(config, &cli.reference, &cli.production)
            .context("computing the report")?,
    };
    let out = write_outputs(&report, &cli.out).context("writing the report")?;
    let d = &report.drift;
    let c = &report.classification;
    println!(
        "{} drift: {}/{} columns ({:.1}%){}; accuracy {:.4}, macro F1 {:.4}, balanced accuracy {:.4}; {} ({} in history, {:.2}s)",
        report.generated_at,
        d.drifted_columns,
        d.columns.len(),
        d.share * 100.0,
        if d.dataset_drift { ", DATASET DRIFT" } else { "" },
        c.accuracy,
        c.macro_avg.f1,
        c.balanced_accuracy,
        out.report_html.display(),
        out.history_len,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The report of the rows kept in PostgreSQL, named as the files they export to.
fn from_database(config: &ReportConfig, url: &str) -> anyhow::Result<Report> {
    use tympan_data::{ColumnTable, FeedbackStore, TableKind};
    let store = tympan_pg::PgStore::connect(&tympan_pg::PgOptions::new(url))
        .context("opening the database")?;
    let reference = store.reference()?;
    let production = tympan_pg::PgFeedback::open(&store, reference.dim)?;
    let reference = ColumnTable::from_rows(
        TableKind::Reference.file_name(),
        reference.dim,
        &reference.rows,
    )?;
    let production = production.read_columns(TableKind::Production.file_name())?;
    Report::from_tables(config, reference, production).context("computing the report")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.log.run(|| run(&cli))
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let config = cli.config();
    config.validate()?;
    let Some(every) = cli.every else {
        return run_once(cli, &config);
    };
    // Termination (SIGTERM/SIGINT) is safe at any point: outputs are replaced
    // by atomic renames and the history line is a single append.
    let mut runs = 0u64;
    loop {
        let started = Instant::now();
        if let Err(e) = run_once(cli, &config) {
            tracing::error!(error = %format!("{e:#}"), "report run failed");
        }
        runs += 1;
        if cli.max_runs.is_some_and(|m| runs >= m) {
            return Ok(());
        }
        // Fixed cadence: a slow run shortens the following pause.
        std::thread::sleep(every.saturating_sub(started.elapsed()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults() {
        let cli = Cli::parse_from(["tympan-report"]);
        assert_eq!(cli.reference, PathBuf::from("data/ref_data.csv"));
        assert_eq!(cli.out, PathBuf::from("reports/"));
        assert_eq!(cli.config(), ReportConfig::default());
        let cli = Cli::parse_from([
            "tympan-report",
            "--every",
            "5m",
            "--stattest",
            "psi",
            "--js-base",
            "2",
        ]);
        assert_eq!(cli.every, Some(Duration::from_secs(300)));
        assert_eq!(cli.config().drift.stattest, Some(StatTest::Psi));
        assert!(Cli::try_parse_from(["tympan-report", "--every", "5x"]).is_err());
    }
}
