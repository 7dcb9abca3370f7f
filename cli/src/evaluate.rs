//! `tympan evaluate`: score a registered model on a table or an audio folder, or measure the
//! training recipe with a holdout, a fixed group split or leave-one-group-out.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use clap::Args;
use serde_json::json;
use tympan_core::audio::AudioLimits;
use tympan_core::embedding::Embedder;
use tympan_core::evaluation::{leave_one_group_out, stratified_split, train_and_score};
use tympan_core::model::TrainConfig;
use tympan_core::registry::{ModelRegistry, ModelStore};
use tympan_data::metrics::ClassificationMetrics;
use tympan_data::{read_table, LabeledRow};
use tympan_embed::{
    auto_source, discover, embed_clips, read_group_column, FilePattern, LabelSource,
};

/// Options of `tympan evaluate`.
#[derive(Args, Debug)]
pub struct EvaluateArgs {
    /// Labelled vectors (reference or production table).
    #[arg(long, default_value = "data/ref_data.csv", conflicts_with = "audio")]
    data: PathBuf,
    /// Evaluate on an audio folder instead, embedded with the artifacts' embedding.
    #[arg(long, value_name = "DIR")]
    audio: Option<PathBuf>,
    /// Label pattern for --audio (default: folders if present, else FSDD's pattern).
    #[arg(long)]
    label_pattern: Option<String>,
    /// Artifacts folder (embedding and registry).
    #[arg(long, default_value = "artifacts")]
    artifacts: PathBuf,
    /// Model version to score (default: the current one).
    #[arg(long)]
    model: Option<String>,
    /// Measure the training recipe on a stratified holdout of this share instead of scoring a
    /// registered model.
    #[arg(long, value_name = "SHARE", conflicts_with = "group_by")]
    holdout: Option<f64>,
    /// Measure the training recipe by groups (a column of the side file beside --data, e.g.
    /// ref_data.meta.csv, or a field of the label pattern): leave-one-group-out, or train/test
    /// by --test-groups.
    #[arg(long, value_name = "NAME")]
    group_by: Option<String>,
    /// With --group-by: the groups that form the test set (comma-separated).
    #[arg(long, value_delimiter = ',', requires = "group_by")]
    test_groups: Vec<String>,
    /// L2 penalty for the protocols that train.
    #[arg(long, default_value_t = TrainConfig::default().alpha)]
    alpha: f64,
    /// Iteration limit of the solver for the protocols that train.
    #[arg(long, default_value_t = TrainConfig::default().max_iterations)]
    max_iterations: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Labelled rows with their optional group column.
struct Rows {
    rows: Vec<LabeledRow>,
    groups: Option<Vec<String>>,
}

/// Runs the evaluation.
pub fn run(args: EvaluateArgs) -> Result<()> {
    let data = load_rows(&args)?;
    let config = TrainConfig {
        alpha: args.alpha,
        max_iterations: args.max_iterations,
        ..TrainConfig::default()
    };
    let report = if let Some(share) = args.holdout {
        let targets: Vec<&str> = data.rows.iter().map(|r| r.target.as_str()).collect();
        let (train, test) = stratified_split(&targets, share, tympan_core::training::HOLDOUT_SEED);
        let m = train_and_score(&data.rows, &train, &test, &config)?;
        Report::single(format!("stratified holdout {share}"), m)
    } else if let Some(name) = &args.group_by {
        let groups = data
            .groups
            .as_ref()
            .ok_or_else(|| anyhow!("no group column {name:?} for this data"))?;
        if args.test_groups.is_empty() {
            let scores = leave_one_group_out(&data.rows, groups, &config)?;
            Report::by_group(name, scores)
        } else {
            let (test, train): (Vec<usize>, Vec<usize>) =
                (0..data.rows.len()).partition(|&i| args.test_groups.contains(&groups[i]));
            if test.is_empty() || train.is_empty() {
                bail!(
                    "--test-groups {:?} leaves an empty train or test set",
                    args.test_groups
                );
            }
            let m = train_and_score(&data.rows, &train, &test, &config)?;
            Report::single(format!("{name} in {}", args.test_groups.join(",")), m)
        }
    } else {
        score_model(&args, &data.rows)?
    };
    report.print(args.json)
}

fn load_rows(args: &EvaluateArgs) -> Result<Rows> {
    match &args.audio {
        Some(dir) => rows_from_audio(args, dir),
        None => {
            let table = read_table(&args.data)?;
            let groups = match &args.group_by {
                Some(name) => Some(read_group_column(&args.data, name, table.rows.len())?),
                None => None,
            };
            Ok(Rows {
                rows: table.rows,
                groups,
            })
        }
    }
}

fn rows_from_audio(args: &EvaluateArgs, dir: &Path) -> Result<Rows> {
    let embedder = Embedder::load(&args.artifacts, AudioLimits::default())?;
    let source = match &args.label_pattern {
        Some(t) => LabelSource::Pattern(FilePattern::new(t)?),
        None => auto_source(dir)?,
    };
    let (dataset, _) = discover(dir, &source)?;
    let group_col = match &args.group_by {
        Some(name) => Some(
            dataset
                .group_names
                .iter()
                .position(|g| g == name)
                .ok_or_else(|| anyhow!("the label pattern has no field {{{name}}}"))?,
        ),
        None => None,
    };
    let embedded = embed_clips(&embedder, &dataset)?;
    // The same `skipped PATH: REASON` report as `tympan embed`'s.
    for skipped in &embedded.skipped {
        eprintln!("skipped {}: {}", skipped.path.display(), skipped.reason);
    }
    let groups = group_col.map(|c| {
        embedded
            .clips
            .iter()
            .map(|clip| clip.groups[c].clone())
            .collect()
    });
    Ok(Rows {
        rows: embedded.rows,
        groups,
    })
}

fn score_model(args: &EvaluateArgs, rows: &[LabeledRow]) -> Result<Report> {
    let registry = ModelRegistry::new(&args.artifacts);
    let version = match &args.model {
        Some(v) => v.clone(),
        None => registry
            .current()?
            .ok_or_else(|| anyhow!("no current model in {}", args.artifacts.display()))?,
    };
    let embedder = Embedder::load(&args.artifacts, AudioLimits::default())?;
    let model = registry
        .load_for_embedding(&version, embedder.fingerprint())?
        .model;
    let predictions = rows
        .iter()
        .map(|r| Ok(model.predict_label(&r.vector)?.to_string()))
        .collect::<Result<Vec<String>>>()?;
    let targets: Vec<&str> = rows.iter().map(|r| r.target.as_str()).collect();
    let predictions: Vec<&str> = predictions.iter().map(String::as_str).collect();
    Ok(Report::single(
        format!("model {version}"),
        ClassificationMetrics::compute(&targets, &predictions),
    ))
}

/// What an evaluation prints.
struct Report {
    protocol: String,
    overall: Option<ClassificationMetrics>,
    groups: Vec<(String, ClassificationMetrics)>,
}

impl Report {
    fn single(protocol: String, m: ClassificationMetrics) -> Self {
        Self {
            protocol,
            overall: Some(m),
            groups: vec![],
        }
    }

    fn by_group(name: &str, scores: Vec<tympan_core::evaluation::GroupScore>) -> Self {
        Self {
            protocol: format!("leave one {name} out"),
            overall: None,
            groups: scores.into_iter().map(|s| (s.group, s.metrics)).collect(),
        }
    }

    fn mean_accuracy(&self) -> Option<f64> {
        (!self.groups.is_empty()).then(|| {
            self.groups.iter().map(|(_, m)| m.accuracy).sum::<f64>() / self.groups.len() as f64
        })
    }

    fn print(&self, as_json: bool) -> Result<()> {
        if as_json {
            let groups: serde_json::Map<String, serde_json::Value> = self
                .groups
                .iter()
                .map(|(g, m)| {
                    (
                        g.clone(),
                        serde_json::to_value(m).expect("metrics serialise"),
                    )
                })
                .collect();
            let out = json!({
                "protocol": self.protocol,
                "metrics": self.overall,
                "groups": groups,
                "mean_accuracy": self.mean_accuracy(),
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
            return Ok(());
        }
        println!("{}:", self.protocol);
        if let Some(m) = &self.overall {
            print_metrics(m);
        }
        for (g, m) in &self.groups {
            println!(
                "  {g:<12} accuracy {:6.2}%  macro F1 {:.4}  ({} rows)",
                m.accuracy * 100.0,
                m.macro_f1,
                m.rows
            );
        }
        if let Some(mean) = self.mean_accuracy() {
            println!("  mean accuracy {:.2}%", mean * 100.0);
        }
        Ok(())
    }
}

/// Prints the headline metrics and the per-class table.
pub fn print_metrics(m: &ClassificationMetrics) {
    println!(
        "  accuracy {:.2}%  balanced accuracy {:.2}%  macro F1 {:.4}  ({} rows)",
        m.accuracy * 100.0,
        m.balanced_accuracy * 100.0,
        m.macro_f1,
        m.rows
    );
    println!(
        "  {:<12} {:>9} {:>9} {:>9} {:>8}",
        "class", "precision", "recall", "f1", "support"
    );
    for c in &m.per_class {
        println!(
            "  {:<12} {:>9.4} {:>9.4} {:>9.4} {:>8}",
            c.label, c.precision, c.recall, c.f1, c.support
        );
    }
}
