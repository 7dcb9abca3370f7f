//! The check behind the `report_table` cargo-fuzz target in `fuzz/` and the regression test in
//! `tests/fuzz_regressions.rs`, included by both (the fuzz target with `#[path]`), so a saved
//! input replays through exactly the code that found it.
#![allow(dead_code)]

use tympan_report::{ReportError, Table, TableKind};

fn check(kind: TableKind, result: Result<Table, ReportError>) {
    match result {
        Ok(t) => {
            assert!(t.pca_columns() >= 1);
            assert!(t.rows() >= 1);
            for i in 0..t.pca_columns() {
                assert_eq!(t.column(i).len(), t.rows());
                assert!(t.column(i).iter().all(|v| v.is_finite()));
            }
            let labels = std::iter::once(t.target()).chain(t.prediction());
            for l in labels {
                assert_eq!(l.len(), t.rows());
                assert!(l.names().iter().all(|n| !n.is_empty()));
                assert!(l.codes().iter().all(|&c| (c as usize) < l.names().len()));
                assert_eq!(l.counts().iter().sum::<u64>(), t.rows() as u64);
            }
            assert_eq!(t.prediction().is_some(), kind == TableKind::Production);
        }
        Err(e @ (ReportError::Io { .. } | ReportError::NotFound { .. })) => {
            panic!("file error reading bytes held in memory: {e}")
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// Target `report_table`: parse arbitrary bytes as a reference and as a production table.
pub fn report_table(data: &[u8]) {
    for kind in [TableKind::Reference, TableKind::Production] {
        check(kind, Table::from_csv_bytes("fuzz.csv", kind, data));
    }
}
