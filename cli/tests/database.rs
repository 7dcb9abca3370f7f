//! `tympan import`, `models`, `train` and `export` with `--database-url`, as an operator runs
//! them to move a single box to PostgreSQL, against a real throwaway cluster.

use std::path::Path;
use std::process::{Command, Output};

use tympan_testkit::postgres::TestPostgres;

fn tympan(dir: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tympan"))
        .current_dir(dir)
        .env("TYMPAN_DATABASE_URL", url)
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_single_box_moves_into_postgresql_and_back_out() {
    let Some(pg) = TestPostgres::start() else {
        return;
    };
    let url = pg.url();
    let dir = tempfile::tempdir().unwrap();
    tympan_embed::bootstrap::ensure_model(&tympan_embed::bootstrap::BootstrapPlan {
        dataset: Some(tympan_testkit::fsdd::recordings()),
        ref_path: dir.path().join("data/ref_data.csv"),
        artifacts: dir.path().join("artifacts"),
        limits: Default::default(),
    })
    .unwrap();
    // A few feedback rows with keys, as a server would have stored them.
    let reference = tympan_data::read_table(&dir.path().join("data/ref_data.csv")).unwrap();
    let log = tympan_data::FeedbackLog::open(&dir.path().join("data/prod_data.csv"), reference.dim)
        .unwrap();
    for (i, row) in reference.rows.iter().take(12).enumerate() {
        let row = tympan_data::LabeledRow {
            prediction: Some(row.target.clone()),
            ..row.clone()
        };
        match i % 3 {
            0 => log.append_keyed(&row, &format!("idem:r{i}")),
            _ => log.append(&row),
        }
        .unwrap();
    }
    drop(log);

    let said = ok(tympan(dir.path(), &url, &["import"]));
    assert!(
        said.contains("3000 reference rows, 12 feedback rows (4 keyed), 1 model versions"),
        "{said}"
    );
    // A second import never merges; with --if-empty it is a no-op that succeeds.
    assert!(!tympan(dir.path(), &url, &["import"]).status.success());
    assert!(ok(tympan(dir.path(), &url, &["import", "--if-empty"])).contains("nothing imported"));

    let listed = ok(tympan(dir.path(), &url, &["models", "list"]));
    assert!(listed.starts_with("* v0001"), "{listed}");
    ok(tympan(
        dir.path(),
        &url,
        &["train", "--with-feedback", "--no-promote"],
    ));
    ok(tympan(dir.path(), &url, &["models", "promote", "v0002"]));
    let shown: serde_json::Value =
        serde_json::from_str(&ok(tympan(dir.path(), &url, &["models", "show"]))).unwrap();
    assert_eq!(shown["version"], "v0002");
    assert_eq!(
        shown["train_rows"], 3012,
        "trained on the reference and feedback rows"
    );
    assert!(ok(tympan(dir.path(), &url, &["models", "rollback"])).contains("v0001"));

    // Back out: the files the single box had, byte for byte.
    let out = dir.path().join("exported");
    ok(tympan(
        dir.path(),
        &url,
        &["export", "--out", out.to_str().unwrap()],
    ));
    for file in ["ref_data.csv", "prod_data.csv"] {
        assert_eq!(
            std::fs::read(out.join(file)).unwrap(),
            std::fs::read(dir.path().join("data").join(file)).unwrap(),
            "{file}"
        );
    }
}
