//! The hostile-input corpus through the `tympan-embed` binary: every refused case is a reported
//! skip naming the file and the reason, every accepted case becomes a row, labels are stored
//! verbatim or skipped, and the table always reads back intact.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tympan_data::read_table;
use tympan_testkit::hostile::{audio_corpus, refused_labels, Expected, NON_UTF8, STORED_LABELS};

fn fsdd() -> PathBuf {
    tympan_testkit::fsdd::recordings()
}

/// Links `n` FSDD clips of digit `digit` into `dir` and returns their paths.
fn link_clips(dir: &Path, digit: u8, n: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|take| {
            let name = format!("{digit}_jackson_{take}.wav");
            let dst = dir.join(&name);
            std::os::unix::fs::symlink(fsdd().join(&name), &dst).unwrap();
            dst
        })
        .collect()
}

fn embed(dataset: &Path, out: &Path, extra: &[&OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tympan-embed"))
        .arg(dataset)
        .arg("--out")
        .arg(out.join("ref_data.csv"))
        .arg("--artifacts")
        .arg(out.join("artifacts"))
        .args(["--components", "8", "-q"])
        .args(extra)
        .output()
        .unwrap()
}

/// The `skipped PATH: REASON` lines of a run, as (path, reason).
fn skipped_lines(output: &Output) -> Vec<(String, String)> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("skipped "))
        .map(|l| {
            let (path, reason) = l.split_once(": ").expect("skipped PATH: REASON");
            (path.to_string(), reason.to_string())
        })
        .collect()
}

fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn hostile_audio_is_skipped_with_a_reason_and_the_rest_embedded() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = tmp.path().join("ds");
    let real = link_clips(&dataset, 1, 20);
    let corpus = audio_corpus(&fsdd());
    let files: Vec<PathBuf> = corpus
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let path = dataset.join(format!("7_hostile{i:02}_0.{}", case.extension));
            std::fs::write(&path, &case.bytes).unwrap();
            path
        })
        .collect();

    let output = embed(&dataset, &tmp.path().join("out"), &[]);
    assert_success(&output);
    let skipped = skipped_lines(&output);
    for (case, path) in corpus.iter().zip(&files) {
        let line = skipped.iter().find(|(p, _)| Path::new(p) == path);
        match case.expected {
            Expected::Refused => {
                let (_, reason) = line.unwrap_or_else(|| panic!("{}: not skipped", case.name));
                assert!(!reason.trim().is_empty(), "{}: empty reason", case.name);
                println!("{}: skipped: {reason}", case.name);
            }
            Expected::Accepted => assert!(line.is_none(), "{}: skipped {line:?}", case.name),
        }
    }
    let refused = corpus
        .iter()
        .filter(|c| c.expected == Expected::Refused)
        .count();
    assert_eq!(skipped.len(), refused, "{skipped:?}");

    let table = read_table(&tmp.path().join("out/ref_data.csv")).unwrap();
    assert_eq!(table.rows.len(), real.len() + corpus.len() - refused);
    assert!(table.rows.iter().all(|r| r.vector.len() == 8));
    let sevens = table.rows.iter().filter(|r| r.target == "7").count();
    assert_eq!(sevens, corpus.len() - refused);
}

#[test]
fn manifest_labels_are_stored_verbatim_or_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = tmp.path().join("ds");
    let ones = link_clips(&dataset, 1, 12);
    let twos = link_clips(&dataset, 2, 20);
    // Every hostile label points at its own clip of digit 2; the digit-1 clips keep the fit sane.
    let refused = refused_labels();
    let mut manifest = csv::Writer::from_writer(Vec::new());
    manifest.write_record(["path", "label"]).unwrap();
    for path in &ones {
        manifest
            .write_record([path.file_name().unwrap().as_bytes(), b"1"])
            .unwrap();
    }
    let hostile: Vec<&[u8]> = STORED_LABELS
        .iter()
        .map(|l| l.as_bytes())
        .chain(refused.iter().map(|l| l.as_bytes()))
        .chain(std::iter::once(NON_UTF8))
        .collect();
    assert!(hostile.len() <= twos.len());
    for (path, label) in twos.iter().zip(&hostile) {
        manifest
            .write_record([path.file_name().unwrap().as_bytes(), label])
            .unwrap();
    }
    let manifest_path = tmp.path().join("manifest.csv");
    std::fs::write(&manifest_path, manifest.into_inner().unwrap()).unwrap();

    let out = tmp.path().join("out");
    let output = embed(
        &dataset,
        &out,
        &[OsStr::new("--manifest"), manifest_path.as_os_str()],
    );
    assert_success(&output);
    let skipped = skipped_lines(&output);
    let mut skipped_paths: Vec<&str> = skipped.iter().map(|(p, _)| p.as_str()).collect();
    skipped_paths.sort_unstable();
    let mut expected_skips: Vec<String> = twos[STORED_LABELS.len()..hostile.len()]
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    expected_skips.sort_unstable();
    assert_eq!(skipped_paths, expected_skips, "{skipped:?}");
    let non_utf8 = twos[hostile.len() - 1].display().to_string();
    let (_, reason) = skipped.iter().find(|(p, _)| *p == non_utf8).unwrap();
    assert!(
        reason.contains("manifest.csv:") && reason.contains("not valid UTF-8"),
        "the reason names the manifest line: {reason}"
    );

    let table = read_table(&out.join("ref_data.csv")).unwrap();
    let mut targets: Vec<&str> = table.rows.iter().map(|r| r.target.as_str()).collect();
    targets.retain(|t| *t != "1");
    assert_eq!(targets.len(), STORED_LABELS.len());
    for label in STORED_LABELS {
        assert!(targets.contains(label), "{label:?} not stored verbatim");
    }

    // --strict turns the same skips into a failure that names a file, and writes nothing.
    let strict_out = tmp.path().join("strict");
    let output = embed(
        &dataset,
        &strict_out,
        &[
            OsStr::new("--manifest"),
            manifest_path.as_os_str(),
            OsStr::new("--strict"),
        ],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--strict") && stderr.contains("2_jackson_"),
        "{stderr}"
    );
    assert!(!strict_out.join("ref_data.csv").exists());
}

#[test]
fn folder_names_become_labels_only_when_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = tmp.path().join("ds");
    let folders: [(&[u8], bool); 4] = [
        (b"a,b", true),
        (b"say \"hi\"", true),
        (b"=SUM(A1)", false),
        (NON_UTF8, false),
    ];
    for (digit, (name, _)) in folders.iter().enumerate() {
        link_clips(&dataset.join(OsStr::from_bytes(name)), digit as u8, 10);
    }
    let out = tmp.path().join("out");
    let output = embed(&dataset, &out, &[OsStr::new("--folders")]);
    assert_success(&output);
    let skipped = skipped_lines(&output);
    assert_eq!(skipped.len(), 20, "{skipped:?}");
    assert_eq!(
        skipped
            .iter()
            .filter(|(_, r)| r.contains("folder name is not valid UTF-8"))
            .count(),
        10
    );
    let table = read_table(&out.join("ref_data.csv")).unwrap();
    for (name, stored) in folders {
        let label = String::from_utf8_lossy(name);
        let rows = table.rows.iter().filter(|r| r.target == label).count();
        assert_eq!(rows, if stored { 10 } else { 0 }, "{label:?}");
    }
    assert_eq!(table.rows.len(), 20);
}

/// The stderr lines of a run in JSON log mode, each parsed (a line that is not JSON fails).
fn json_events(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn in_json_log_mode_skips_and_failures_are_events() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = tmp.path().join("ds");
    link_clips(&dataset, 1, 12);
    let broken = dataset.join("2_broken_0.wav");
    std::fs::write(&broken, b"RIFF\x10\0\0\0WAVEfmt ").unwrap();
    let json: &[&OsStr] = &["--log-format".as_ref(), "json".as_ref()];

    let output = embed(&dataset, &tmp.path().join("out"), json);
    assert_success(&output);
    let events = json_events(&output);
    let skip = events
        .iter()
        .find(|e| e["message"] == "file skipped")
        .unwrap_or_else(|| panic!("no skip event in {events:?}"));
    assert_eq!(skip["path"], broken.display().to_string());
    assert!(!skip["reason"].as_str().unwrap().is_empty(), "{skip}");

    let output = embed(&tmp.path().join("missing"), &tmp.path().join("out2"), json);
    assert!(!output.status.success());
    let events = json_events(&output);
    let failure = events.last().expect("a failed run said nothing");
    assert_eq!(failure["level"], "ERROR", "{failure}");
    assert!(
        failure["error"].as_str().unwrap().contains("missing"),
        "{failure}"
    );
}
