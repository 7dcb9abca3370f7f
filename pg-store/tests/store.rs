//! The PostgreSQL store against a real throwaway cluster: the schema from empty and from the
//! previous version, feedback rows and keys, model versions and the alias, the training lock,
//! and export byte for byte as the CSV store writes.

use tympan_data::{FeedbackLog, FeedbackStore, LabeledRow};
use tympan_pg::{PgFeedback, PgOptions, PgStore};
use tympan_testkit::postgres::TestPostgres;

fn rows(n: usize, dim: usize) -> Vec<LabeledRow> {
    (0..n)
        .map(|i| LabeledRow {
            vector: (0..dim)
                .map(|j| (i * 31 + j * 7) as f32 / 13.0 - 1.7)
                .collect(),
            target: format!("c{}", i % 3),
            prediction: Some(format!("c{}", (i + 1) % 3)),
        })
        .collect()
}

#[test]
fn migrates_from_empty_and_from_the_previous_version_keeping_rows() {
    let Some(pg) = TestPostgres::start() else {
        return;
    };
    let store = PgStore::open(&PgOptions::new(pg.url())).unwrap();
    assert_eq!(store.schema_version().unwrap(), 0);
    assert_eq!(store.migrate_to(1).unwrap(), 1);
    assert_eq!(store.schema_version().unwrap(), 1);
    let feedback = PgFeedback::open(&store, 4).unwrap();
    for r in rows(5, 4) {
        feedback.append(&r, None).unwrap();
    }
    assert!(
        store.retrainings().is_err(),
        "version 1 has no retrainings table"
    );
    assert_eq!(store.migrate().unwrap(), tympan_pg::schema::LATEST);
    assert_eq!(
        store.migrate().unwrap(),
        tympan_pg::schema::LATEST,
        "idempotent"
    );
    assert_eq!(feedback.read_table().unwrap().rows, rows(5, 4));
    assert!(store.retrainings().unwrap().is_empty());
}

#[test]
fn feedback_rows_and_keys_match_the_csv_store_and_export_byte_for_byte() {
    let Some(pg) = TestPostgres::start() else {
        return;
    };
    let store = PgStore::connect(&PgOptions::new(pg.url())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let csv = FeedbackLog::open(&dir.path().join("prod_data.csv"), 6).unwrap();
    let db = PgFeedback::open(&store, 6).unwrap();
    let data = rows(40, 6);
    for (i, r) in data.iter().enumerate() {
        let key = (i % 4 == 0).then(|| format!("idem:k{i}"));
        let a = FeedbackStore::append(&csv, r, key.as_deref()).unwrap();
        let b = db.append(r, key.as_deref()).unwrap();
        assert_eq!(a, b);
    }
    // A key stored already stores nothing, in both.
    for kept in [&csv as &dyn FeedbackStore, &db] {
        match kept.append(&data[3], Some("idem:k8")) {
            Err(tympan_data::DataError::DuplicateKey { row, .. }) => assert_eq!(row, 9),
            other => panic!("expected a duplicate key, got {other:?}"),
        }
        assert_eq!(kept.keyed_row("idem:k8").unwrap(), Some(9));
        assert_eq!(kept.row(9).unwrap().as_ref(), Some(&data[8]));
        assert_eq!(kept.refresh_rows().unwrap(), 40);
    }
    store.put_reference(&rows(10, 6)).unwrap();
    let out = tempfile::tempdir().unwrap();
    assert_eq!(store.export(out.path(), &db).unwrap(), (10, 40));
    let exported = std::fs::read(out.path().join("prod_data.csv")).unwrap();
    assert_eq!(
        exported,
        std::fs::read(dir.path().join("prod_data.csv")).unwrap()
    );
    let reference = dir.path().join("ref_data.csv");
    tympan_data::write_table(
        &reference,
        tympan_data::TableKind::Reference,
        6,
        &rows(10, 6)
            .into_iter()
            .map(|r| LabeledRow {
                prediction: None,
                ..r
            })
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert_eq!(
        std::fs::read(out.path().join("ref_data.csv")).unwrap(),
        std::fs::read(&reference).unwrap()
    );
}

#[test]
fn concurrent_appends_from_many_threads_number_rows_without_gaps() {
    let Some(pg) = TestPostgres::start() else {
        return;
    };
    let store = PgStore::connect(&PgOptions::new(pg.url())).unwrap();
    let db = std::sync::Arc::new(PgFeedback::open(&store, 3).unwrap());
    let data = rows(200, 3);
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let (db, data) = (std::sync::Arc::clone(&db), data.clone());
            std::thread::spawn(move || {
                (t..200)
                    .step_by(8)
                    .map(|i| {
                        // Every row sent twice under its key: the second stores nothing.
                        let key = format!("idem:{i}");
                        let n = db.append(&data[i], Some(&key)).unwrap();
                        assert!(db.append(&data[i], Some(&key)).is_err());
                        n
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut numbers: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=200).collect::<Vec<u64>>());
    let by_first = |a: &LabeledRow, b: &LabeledRow| a.vector[0].total_cmp(&b.vector[0]);
    let mut stored = db.read_table().unwrap().rows;
    stored.sort_by(by_first);
    let mut expected = data.clone();
    expected.sort_by(by_first);
    assert_eq!(stored, expected);
}
