//! The checks behind the table cargo-fuzz targets in `fuzz/` and the regression tests in
//! `tests/fuzz_regressions.rs`: one function per target, included by both (the fuzz targets with
//! `#[path]`), so a saved input replays through exactly the code that found it.
//!
//! Each check feeds arbitrary bytes to a public entry point and asserts that the answer is either
//! a well-formed value or a typed error of an expected kind; any panic, hang or runaway
//! allocation is a bug.
#![allow(dead_code)]

use std::io::Read;
use std::path::Path;

use tympan_data::{
    read_table, read_table_from_reader, ColumnTable, DataError, FeedbackLog, LabeledRow, Table,
    TableKind,
};

fn check_table(t: &Table) {
    assert!(t.dim >= 1);
    for row in &t.rows {
        assert_eq!(row.vector.len(), t.dim);
        assert!(row.vector.iter().all(|v| v.is_finite()));
        assert!(!row.target.is_empty());
        assert_eq!(row.prediction.is_some(), t.kind == TableKind::Production);
    }
}

fn check_data_error(e: &DataError) {
    assert!(!e.to_string().is_empty());
    if let DataError::Label(_) = e {
        panic!("reading a table gave a label error: {e}");
    }
}

/// The columns hold exactly the rows, widened to `f64`.
fn check_columns_match(rows: &Table, columns: &ColumnTable) {
    assert_eq!(columns.kind(), rows.kind);
    assert_eq!(columns.pca_columns(), rows.dim);
    assert_eq!(columns.rows(), rows.rows.len());
    for (i, row) in rows.rows.iter().enumerate() {
        for (j, &v) in row.vector.iter().enumerate() {
            // Parsed once as f32 and once as f64 from the same text: the same value in f32.
            assert_eq!(columns.column(j)[i] as f32, v, "row {i} PCA_{}", j + 1);
        }
        let target = columns.target();
        assert_eq!(target.names()[target.codes()[i] as usize], row.target);
        if let (Some(p), Some(want)) = (columns.prediction(), &row.prediction) {
            assert_eq!(&p.names()[p.codes()[i] as usize], want);
        }
    }
    let labels = std::iter::once(columns.target()).chain(columns.prediction());
    for l in labels {
        assert!(l.codes().iter().all(|&c| (c as usize) < l.names().len()));
        assert_eq!(l.counts().iter().sum::<u64>(), columns.rows() as u64);
    }
}

/// Target `read_table`: parse arbitrary bytes as a reference or production table, as rows and as
/// columns: both readers must accept the same inputs, with the same values, or refuse them with
/// the same message.
pub fn read_table_bytes(data: &[u8]) {
    let rows = read_table_from_reader(Path::new("fuzz.csv"), data);
    let columns = ColumnTable::from_csv_bytes("fuzz.csv", None, data);
    match (rows, columns) {
        (Ok(t), Ok(c)) => {
            check_table(&t);
            check_columns_match(&t, &c);
        }
        (Err(DataError::Io { source, .. }), _) | (_, Err(DataError::Io { source, .. })) => {
            panic!("I/O error reading bytes held in memory: {source}")
        }
        (Err(a), Err(b)) => {
            check_data_error(&a);
            assert_eq!(a.to_string(), b.to_string(), "the two readers disagree");
        }
        (a, b) => panic!(
            "one reader accepted what the other refused: rows {:?}, columns {:?}",
            a.err(),
            b.err()
        ),
    }
}

/// Vector length the feedback-log target opens the log with: what the first line's field count
/// implies for a production table (`n + 2` fields), between 1 and 32.
fn log_dim(data: &[u8]) -> usize {
    let first = data.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let fields = first.iter().filter(|&&b| b == b',').count() + 1;
    fields.saturating_sub(2).clamp(1, 32)
}

/// Target `feedback_log`: arbitrary bytes as an existing `prod_data.csv`. Opening may refuse the
/// file, but must never lose a complete row of a valid log; once open, an appended row must read
/// back intact after every row that was there.
pub fn feedback_log(data: &[u8]) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("prod_data.csv");
    std::fs::write(&path, data).expect("write the log");
    let dim = log_dim(data);
    // What a repaired log must hold: the bytes up to the last newline, read as a table. It must
    // open when a row appended to it reads back as one more record.
    let complete = &data[..data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)];
    let before = if data.is_empty() {
        // An empty file is a new log: open writes its header.
        Some(Table {
            kind: TableKind::Production,
            dim,
            rows: Vec::new(),
        })
    } else {
        read_table_from_reader(&path, complete)
            .ok()
            .filter(|t| t.kind == TableKind::Production && t.dim == dim)
    };
    let probe = format!("{}probe,probe\n", "0,".repeat(dim));
    let appendable = before.as_ref().is_some_and(|before| {
        read_table_from_reader(&path, complete.chain(probe.as_bytes())).is_ok_and(|t| {
            t.rows.len() == before.rows.len() + 1 && t.rows[..before.rows.len()] == before.rows[..]
        })
    });
    let log = match FeedbackLog::open(&path, dim) {
        Ok(log) => log,
        Err(e) => {
            check_data_error(&e);
            assert!(
                !appendable,
                "a log whose complete lines are a valid, appendable table was refused: {e}"
            );
            let on_disk = std::fs::read(&path).expect("read the log");
            assert!(
                on_disk == data || on_disk == complete,
                "a refused log lost more than its torn last line"
            );
            return;
        }
    };
    let kept = read_table(&path).expect("an opened log reads back");
    assert_eq!(kept.kind, TableKind::Production);
    assert_eq!(kept.dim, dim);
    assert_eq!(log.rows(), kept.rows.len() as u64);
    let before = before.expect("an opened log was a valid production table");
    assert_eq!(kept.rows, before.rows, "opening changed complete rows");
    let row = LabeledRow {
        vector: (0..dim).map(|i| i as f32 * 0.25 - 1.0).collect(),
        target: "say \"seven\", twice".into(),
        prediction: Some("7".into()),
    };
    assert_eq!(
        log.append(&row).expect("append"),
        kept.rows.len() as u64 + 1
    );
    drop(log);
    let after = read_table(&path).expect("the log reads back after an append");
    assert_eq!(
        after.rows.len(),
        kept.rows.len() + 1,
        "the appended row merged with or split the rows before it"
    );
    assert_eq!(after.rows[..kept.rows.len()], kept.rows[..]);
    assert_eq!(after.rows.last(), Some(&row), "the appended row changed");
}
