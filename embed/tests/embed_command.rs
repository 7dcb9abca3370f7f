//! The embed command on real FSDD files: deterministic output, the three label sources, skipped
//! files reported, `--strict`, and reuse of a fitted embedding.

use std::path::{Path, PathBuf};

use tympan_core::audio::AudioLimits;
use tympan_core::embedding::Embedder;
use tympan_data::read_table;
use tympan_embed::{
    embed_dataset, meta_path, EmbedCommandError, EmbedRequest, FilePattern, LabelSource,
    DEFAULT_PATTERN,
};

/// 40 FSDD files (4 digits x 2 speakers x 5 takes) linked into `dir`, plus a broken one.
fn small_dataset(dir: &Path) -> PathBuf {
    let fsdd = tympan_testkit::fsdd::recordings();
    std::fs::create_dir_all(dir).unwrap();
    for d in 0..4 {
        for s in ["jackson", "theo"] {
            for t in 0..5 {
                let name = format!("{d}_{s}_{t}.wav");
                std::os::unix::fs::symlink(fsdd.join(&name), dir.join(&name)).unwrap();
            }
        }
    }
    std::fs::write(dir.join("9_broken_0.wav"), b"RIFF....WAVEfmt garbage").unwrap();
    dir.to_path_buf()
}

fn request(
    dataset: &Path,
    out: &Path,
    source: LabelSource,
    strict: bool,
    reuse: Option<Embedder>,
) -> EmbedRequest {
    EmbedRequest {
        reuse,
        n_components: Some(16),
        strict,
        ..EmbedRequest::new(
            dataset.to_path_buf(),
            source,
            out.join("ref_data.csv"),
            out.join("artifacts"),
        )
    }
}

fn pattern() -> LabelSource {
    LabelSource::Pattern(FilePattern::new(DEFAULT_PATTERN).unwrap())
}

#[test]
fn output_is_deterministic_and_failures_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("ds"));
    let a = embed_dataset(request(
        &data,
        &tmp.path().join("a"),
        pattern(),
        false,
        None,
    ))
    .unwrap();
    let b = embed_dataset(request(
        &data,
        &tmp.path().join("b"),
        pattern(),
        false,
        None,
    ))
    .unwrap();
    assert_eq!((a.rows, a.dim), (40, 16));
    assert_eq!(a.skipped.len(), 1);
    assert!(
        a.skipped[0].path.ends_with("9_broken_0.wav"),
        "{:?}",
        a.skipped
    );
    let read = |d: &str| std::fs::read(tmp.path().join(d).join("ref_data.csv")).unwrap();
    assert_eq!(
        read("a"),
        read("b"),
        "same input must give byte-identical output"
    );
    assert_eq!(a.fingerprint, b.fingerprint);
    let table = read_table(&tmp.path().join("a/ref_data.csv")).unwrap();
    assert_eq!(table.rows.iter().filter(|r| r.target == "3").count(), 10);
    let meta = std::fs::read_to_string(meta_path(&tmp.path().join("a/ref_data.csv"))).unwrap();
    assert!(
        meta.starts_with("file,speaker,take\n0_jackson_0.wav,jackson,0\n"),
        "{meta}"
    );

    let err =
        embed_dataset(request(&data, &tmp.path().join("c"), pattern(), true, None)).unwrap_err();
    assert!(
        matches!(err, EmbedCommandError::Strict { count: 1, .. }),
        "{err}"
    );
    assert!(
        !tmp.path().join("c/ref_data.csv").exists(),
        "--strict must not write a table"
    );
}

#[test]
fn folders_and_manifest_label_the_same_files_alike_and_reuse_keeps_the_embedding() {
    let tmp = tempfile::tempdir().unwrap();
    let flat = small_dataset(&tmp.path().join("flat"));
    std::fs::remove_file(flat.join("9_broken_0.wav")).unwrap();
    // The same files as DIR/<label>/file, and as a manifest with other label names.
    let nested = tmp.path().join("nested");
    let mut manifest = String::from("path,label\n");
    for entry in std::fs::read_dir(&flat).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let label = ["zero", "one", "two", "three"][name[..1].parse::<usize>().unwrap()];
        std::fs::create_dir_all(nested.join(label)).unwrap();
        std::os::unix::fs::symlink(
            std::fs::canonicalize(&path).unwrap(),
            nested.join(label).join(&name),
        )
        .unwrap();
        manifest += &format!("{name},{label}\n");
    }
    std::fs::write(tmp.path().join("manifest.csv"), manifest).unwrap();

    let by_folder = embed_dataset(request(
        &nested,
        &tmp.path().join("f"),
        LabelSource::Folders,
        true,
        None,
    ))
    .unwrap();
    let by_manifest = embed_dataset(request(
        &flat,
        &tmp.path().join("m"),
        LabelSource::Manifest(tmp.path().join("manifest.csv")),
        true,
        None,
    ))
    .unwrap();
    assert_eq!((by_folder.rows, by_manifest.rows), (40, 40));
    let labels = |d: &str| {
        let mut l: Vec<String> = read_table(&tmp.path().join(d).join("ref_data.csv"))
            .unwrap()
            .rows
            .into_iter()
            .map(|r| r.target)
            .collect();
        l.sort();
        l
    };
    assert_eq!(labels("f"), labels("m"));

    // Reusing the fitted embedding writes no artifact and gives the same vectors.
    let embedder = Embedder::load(&tmp.path().join("m/artifacts"), AudioLimits::default()).unwrap();
    let reused = embed_dataset(request(
        &flat,
        &tmp.path().join("r"),
        LabelSource::Manifest(tmp.path().join("manifest.csv")),
        true,
        Some(embedder),
    ))
    .unwrap();
    assert!(!reused.fitted);
    assert!(!tmp.path().join("r/artifacts").exists());
    assert_eq!(
        std::fs::read(tmp.path().join("r/ref_data.csv")).unwrap(),
        std::fs::read(tmp.path().join("m/ref_data.csv")).unwrap()
    );
}
