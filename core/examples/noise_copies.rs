//! Measures training on noisy copies ([`NoiseCopies`]) against training on the originals alone:
//! the leave-one-group-out mean (FSDD by speaker, the drum set by kit) and, on FSDD, how many of
//! the 120 clips of `core/tests/format_variants.rs` keep their label as 8-bit copies made by sox.
//! The last recipe trains on the 8-bit copies themselves (requantized with dither as sox does).
//!
//! ```text
//! cargo run --release -p tympan-core --example noise_copies -- fsdd   # needs sox
//! cargo run --release -p tympan-core --example noise_copies -- drums  # scripts/fetch-drums.sh
//! ```
//!
//! The embedding (scaler + PCA) is fitted on the originals and the copies, the data-aware front
//! end on the originals; a group's copies are held out with it.

use std::path::{Path, PathBuf};
use std::process::Command;

use rayon::prelude::*;
use tympan_core::audio::{decode_file, AudioLimits, DecodedAudio, NoiseCopies, NoiseLevel};
use tympan_core::embedding::{Embedder, Featurizer};
use tympan_core::evaluation::train_and_measure;
use tympan_core::features::{DatasetProfile, FeatureConfig};
use tympan_core::model::{train, Model, TrainConfig};
use tympan_data::LabeledRow;

/// A labelled folder: `{label}_{group}_{n}.{wav,flac,aiff}`.
struct Dataset {
    files: Vec<PathBuf>,
    labels: Vec<String>,
    groups: Vec<String>,
    audio: Vec<DecodedAudio>,
}

impl Dataset {
    fn load(dir: &Path) -> Self {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("dataset folder")
            .map(|e| e.expect("folder entry").path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| ["wav", "flac", "aiff"].iter().any(|x| e == *x))
            })
            .collect();
        files.sort();
        let field = |p: &PathBuf, i: usize| name(p).split('_').nth(i).unwrap_or("").to_string();
        let audio = files
            .par_iter()
            .map(|p| decode_file(p, &AudioLimits::default()).expect("decodable clip"))
            .collect();
        Self {
            labels: files.iter().map(|p| field(p, 0)).collect(),
            groups: files.iter().map(|p| field(p, 1)).collect(),
            audio,
            files,
        }
    }
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Front-end vectors of noisy copies, each with its clip's index.
type CopyVectors = Vec<(usize, Vec<f32>)>;

/// Front-end vectors of every clip and of `copies` noisy copies of each (clip index, vector).
fn vectors(
    data: &Dataset,
    featurizer: &Featurizer,
    recipe: Option<NoiseCopies>,
    copies: u64,
) -> (Vec<Vec<f32>>, CopyVectors) {
    let of = |a: &DecodedAudio| featurizer.from_decoded(a).expect("featurizable").vector;
    let clean = data.audio.par_iter().map(of).collect();
    let noisy = recipe.map_or_else(Vec::new, |recipe| {
        (0..copies)
            .flat_map(|c| (0..data.audio.len()).map(move |i| (i, c)))
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|(i, c)| (i, of(&recipe.copy(&data.audio[i], i as u64, c))))
            .collect()
    });
    (clean, noisy)
}

/// The clips of the format-variant test that are in `data`.
fn variant_clips(data: &Dataset) -> Vec<usize> {
    tympan_testkit::fsdd::variant_clip_names()
        .iter()
        .filter_map(|f| data.files.iter().position(|p| name(p) == *f))
        .collect()
}

/// Front-end vectors of 8-bit unsigned copies made by sox.
fn eight_bit(data: &Dataset, clips: &[usize], featurizer: &Featurizer) -> Vec<Vec<f32>> {
    let tmp = tempfile::tempdir().expect("temporary folder");
    clips
        .par_iter()
        .map(|&i| {
            let out = tmp.path().join(format!("{i}.wav"));
            let status = Command::new("sox")
                .arg("-R")
                .arg(&data.files[i])
                .args(["-b", "8", "-e", "unsigned-integer"])
                .arg(&out)
                .status()
                .expect("sox on PATH");
            assert!(
                status.success(),
                "sox failed on {}",
                data.files[i].display()
            );
            featurizer.from_file(&out).expect("featurizable").vector
        })
        .collect()
}

/// The `clips` whose 8-bit copies do not keep the label of their original, under a model
/// trained on every row but those of `held_out` clips (and their copies).
fn misses(rows: &Rows, clips: &[usize], eight: &[Vec<f32>], held_out: &[usize]) -> Vec<usize> {
    let model = train(
        &rows.training(|i| !held_out.contains(&i)),
        &TrainConfig::default(),
        None,
        "",
    )
    .expect("trainable");
    let label = |m: &Model, v: &[f32]| m.predict_label(v).expect("prediction").to_string();
    clips
        .iter()
        .zip(eight)
        .filter(|(&i, v)| {
            label(&model, &rows.embedder.project(v).expect("projectable"))
                != label(&model, &rows.clean[i].vector)
        })
        .map(|(&i, _)| i)
        .collect()
}

/// Rows of the originals and of their copies under one fitted embedding.
struct Rows {
    embedder: Embedder,
    clean: Vec<LabeledRow>,
    noisy: Vec<(usize, LabeledRow)>,
}

impl Rows {
    fn new(
        data: &Dataset,
        config: &FeatureConfig,
        components: usize,
        clean: &[Vec<f32>],
        noisy: &[(usize, Vec<f32>)],
    ) -> Self {
        let mut fitted_on = clean.to_vec();
        fitted_on.extend(noisy.iter().map(|(_, v)| v.clone()));
        let featurizer =
            Featurizer::new(config.clone(), AudioLimits::default()).expect("valid front end");
        let embedder = Embedder::fit(featurizer, &fitted_on, components, false).expect("fittable");
        let row = |i: usize, v: &[f32]| LabeledRow {
            vector: embedder.project(v).expect("projectable"),
            target: data.labels[i].clone(),
            prediction: None,
        };
        let clean = clean.iter().enumerate().map(|(i, v)| row(i, v)).collect();
        let noisy = noisy.iter().map(|(i, v)| (*i, row(*i, v))).collect();
        Self {
            embedder,
            clean,
            noisy,
        }
    }

    /// The originals and copies of the clips `keep` accepts.
    fn training(&self, keep: impl Fn(usize) -> bool) -> Vec<LabeledRow> {
        let clean = self
            .clean
            .iter()
            .enumerate()
            .filter(|(i, _)| keep(*i))
            .map(|(_, r)| r);
        let noisy = self.noisy.iter().filter(|(i, _)| keep(*i)).map(|(_, r)| r);
        clean.chain(noisy).cloned().collect()
    }

    /// Leave-one-group-out mean accuracy on the originals.
    fn leave_one_group_out(&self, groups: &[String]) -> f64 {
        let mut names: Vec<&String> = groups.iter().collect();
        names.sort();
        names.dedup();
        let accuracies: Vec<f64> = names
            .par_iter()
            .map(|g| {
                let test: Vec<&LabeledRow> = (0..groups.len())
                    .filter(|&i| &groups[i] == *g)
                    .map(|i| &self.clean[i])
                    .collect();
                let train_rows = self.training(|i| &groups[i] != *g);
                train_and_measure(&train_rows, &test, &TrainConfig::default())
                    .expect("trainable")
                    .1
                    .accuracy
            })
            .collect();
        accuracies.iter().sum::<f64>() / accuracies.len() as f64
    }
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "fsdd".into());
    let dir = match which.as_str() {
        "fsdd" => tympan_testkit::fsdd::recordings(),
        "drums" => tympan_testkit::drums::drum_set(),
        other => panic!("unknown dataset {other}: fsdd or drums"),
    };
    let data = Dataset::load(&dir);
    let paths: Vec<&Path> = data.files.iter().map(PathBuf::as_path).collect();
    let derived = DatasetProfile::scan(&paths, &AudioLimits::default()).derive();
    let featurizer =
        Featurizer::new(derived.config.clone(), AudioLimits::default()).expect("valid front end");
    let clips = variant_clips(&data);
    let eight = if clips.is_empty() {
        Vec::new()
    } else {
        eight_bit(&data, &clips, &featurizer)
    };
    let recipes: [(&str, Option<NoiseLevel>); 5] = [
        ("originals only", None),
        (
            "20-50 dB under the peak",
            Some(NoiseLevel::UnderPeak {
                min_db: 20.0,
                max_db: 50.0,
            }),
        ),
        (
            "40-70 dBFS",
            Some(NoiseLevel::UnderFullScale {
                min_db: 40.0,
                max_db: 70.0,
            }),
        ),
        (
            "45-65 dBFS",
            Some(NoiseLevel::UnderFullScale {
                min_db: 45.0,
                max_db: 65.0,
            }),
        ),
        // The 8-bit test's own transform: the copies a classifier could be trained on at best.
        (
            "8-bit requantized",
            Some(NoiseLevel::Requantized { bits: 8 }),
        ),
    ];
    println!("{which}: {} clips, one noisy copy each", data.files.len());
    for (title, level) in recipes {
        // Only the copies depend on the seed; three of them show how much a figure owes to it.
        let seeds: &[u64] = if level.is_some() { &[1, 2, 3] } else { &[0] };
        for &seed in seeds {
            let recipe = level.map(|level| NoiseCopies { level, seed });
            let (clean, noisy) = vectors(&data, &featurizer, recipe, 1);
            let rows = Rows::new(&data, &derived.config, derived.n_components, &clean, &noisy);
            let mean = rows.leave_one_group_out(&data.groups);
            print!(
                "{title:<24} seed {seed}  leave-one-group-out {:5.1} %",
                mean * 100.0
            );
            if !clips.is_empty() {
                let trained = misses(&rows, &clips, &eight, &[]);
                let held_out = misses(&rows, &clips, &eight, &clips);
                let missed: Vec<String> = trained.iter().map(|&i| name(&data.files[i])).collect();
                print!(
                    "  8-bit agreement {}/{n} (clips held out of training: {}/{n}), missed {}",
                    clips.len() - trained.len(),
                    clips.len() - held_out.len(),
                    missed.join(" "),
                    n = clips.len()
                );
            }
            println!();
        }
    }
}
