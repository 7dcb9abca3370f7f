//! A small, complete deployment made from synthetic clips in a temporary folder: a fitted
//! embedding, a trained and promoted model, and the reference rows, so a `Service` can be built
//! in process without FSDD and without a port.

use std::path::{Path, PathBuf};

use tympan_core::audio::AudioLimits;
use tympan_core::embedding::{Embedder, Featurizer};
use tympan_core::features::FeatureConfig;
use tympan_core::model::TrainConfig;
use tympan_core::registry::ModelRegistry;
use tympan_core::training::train_version;
use tympan_data::{write_table, LabeledRow, Table, TableKind};

use crate::wav::{wav, WavSpec};

/// The three classes of the synthetic clips and their pitch: far apart, so any sane front end
/// separates them.
pub const CLASSES: [(&str, f32); 3] = [("low", 220.0), ("mid", 880.0), ("high", 2_640.0)];

/// Sample rate of the synthetic clips.
pub const RATE: u32 = 8_000;

/// A deployment on disk: `artifacts/` (embedding and registry) and `data/ref_data.csv`.
pub struct Deployment {
    /// The temporary folder holding everything (removed on drop).
    pub dir: tempfile::TempDir,
    /// The fitted embedding.
    pub embedder: Embedder,
    /// The reference rows the first model was trained on.
    pub reference: Table,
}

impl Deployment {
    /// Builds one: 8 clips per class of 0.5 s, an embedding of `components` dimensions, a model
    /// trained with the default settings and promoted.
    pub fn new(components: usize) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let featurizer = Featurizer::new(FeatureConfig::default(), AudioLimits::default())
            .expect("the default front end plans");
        let clips: Vec<(&str, Vec<u8>)> = CLASSES
            .iter()
            .flat_map(|&(label, pitch)| (0..8).map(move |i| (label, clip(pitch, i))))
            .collect();
        let vectors: Vec<Vec<f32>> = clips
            .iter()
            .map(|(_, bytes)| featurizer.from_bytes(bytes, Some("wav")).unwrap().vector)
            .collect();
        let embedder = Embedder::fit(featurizer, &vectors, components, false).expect("fits");
        let rows: Vec<LabeledRow> = clips
            .iter()
            .zip(&vectors)
            .map(|((label, _), v)| LabeledRow {
                vector: embedder.project(v).expect("projects"),
                target: label.to_string(),
                prediction: None,
            })
            .collect();
        let deployment = Self {
            dir,
            embedder,
            reference: Table {
                kind: TableKind::Reference,
                dim: components,
                rows,
            },
        };
        deployment.write();
        deployment
    }

    fn write(&self) {
        let artifacts = self.artifacts();
        self.embedder.save(&artifacts).expect("embedding saved");
        let reference = &self.reference;
        write_table(
            &self.data().join("ref_data.csv"),
            TableKind::Reference,
            reference.dim,
            &reference.rows,
        )
        .expect("reference written");
        let trained = train_version(
            &reference.rows,
            &TrainConfig::default(),
            None,
            self.embedder.fingerprint(),
            None,
        )
        .expect("trains");
        let registry = ModelRegistry::new(&artifacts);
        let version = registry.save(&trained.model, trained.meta).expect("saved");
        registry.promote(&version).expect("promoted");
    }

    /// The artifacts folder.
    pub fn artifacts(&self) -> PathBuf {
        self.dir.path().join("artifacts")
    }

    /// The data folder (`ref_data.csv`, and `prod_data.csv` once a service opens it).
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The folder itself.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Clip `i` of a class: a tone at `pitch` (detuned a little per clip) with a soft envelope, as
/// 16-bit WAV bytes.
pub fn clip(pitch: f32, i: usize) -> Vec<u8> {
    let n = RATE as usize / 2;
    let f = pitch * (1.0 + 0.01 * i as f32);
    let data: Vec<u8> = (0..n)
        .flat_map(|k| {
            let t = k as f32 / RATE as f32;
            let envelope = (std::f32::consts::PI * k as f32 / n as f32).sin();
            let s = (envelope * (std::f32::consts::TAU * f * t).sin() * 12_000.0) as i16;
            s.to_le_bytes()
        })
        .collect();
    wav(WavSpec::pcm16(1, RATE), &data, None)
}
