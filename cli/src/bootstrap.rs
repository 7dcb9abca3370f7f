//! `tympan bootstrap`: the first model of a fresh folder or volume (for the README's main
//! command, the Compose init service and the Kubernetes bootstrap Job).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use tympan_core::audio::AudioLimits;
use tympan_data::TableKind;
use tympan_embed::bootstrap::{ensure_model, BootstrapOutcome, BootstrapPlan};

/// Options of `tympan bootstrap`; the folders and their `TYMPAN_*` variables are the server's.
#[derive(Args, Debug)]
pub struct BootstrapArgs {
    /// Labelled audio to embed and train on (default: FSDD, found in the usual places).
    #[arg(long, env = "TYMPAN_DATASET")]
    dataset: Option<PathBuf>,
    /// Folder of ref_data.csv.
    #[arg(long, env = "TYMPAN_DATA", default_value = "data")]
    data: PathBuf,
    /// Folder of the embedding and the model registry.
    #[arg(long, env = "TYMPAN_ARTIFACTS", default_value = "artifacts")]
    artifacts: PathBuf,
    /// Longest clip, in seconds.
    #[arg(long, env = "TYMPAN_MAX_SECONDS", default_value_t = AudioLimits::default().max_seconds)]
    max_seconds: f64,
}

/// Embeds and trains when no model is served; does nothing otherwise.
pub fn run(args: BootstrapArgs) -> Result<()> {
    let plan = BootstrapPlan {
        dataset: args.dataset,
        ref_path: args.data.join(TableKind::Reference.file_name()),
        artifacts: args.artifacts,
        limits: AudioLimits {
            max_seconds: args.max_seconds,
            ..AudioLimits::default()
        },
    };
    match ensure_model(&plan)? {
        BootstrapOutcome::AlreadyServing { version } => {
            println!("a model is served already ({version}): nothing to do");
        }
        BootstrapOutcome::Trained {
            version,
            clips_embedded,
            rows,
        } => println!(
            "embedded {clips_embedded} clips, trained {version} on {rows} rows and promoted it"
        ),
    }
    Ok(())
}
