//! A table as rows of `f32` vectors (what training and serving use) and its atomic writer.

use std::io::{Read, Write};
use std::path::Path;

use rayon::prelude::*;

use crate::durable::write_atomic_with;
use crate::{DataError, TableKind, TableReader};

/// One labelled vector; `prediction` is present in production rows.
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledRow {
    /// `PCA_1..PCA_n`.
    pub vector: Vec<f32>,
    /// The true label.
    pub target: String,
    /// The label the model predicted (production rows only).
    pub prediction: Option<String>,
}

/// A table held as rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Layout of the file.
    pub kind: TableKind,
    /// Vector length `n`.
    pub dim: usize,
    /// The rows, in file order.
    pub rows: Vec<LabeledRow>,
}

/// Reads a reference or production table (the layout is taken from the header).
pub fn read_table(path: &Path) -> Result<Table, DataError> {
    collect_rows(TableReader::open(path, None)?)
}

/// Reads a reference or production table from any reader, exactly as [`read_table`] reads a
/// file. `path` is only used in error messages (e.g. the name of an upload).
pub fn read_table_from_reader(path: &Path, reader: impl Read) -> Result<Table, DataError> {
    collect_rows(TableReader::new(path, reader, None)?)
}

/// Reads every remaining row of `reader`.
pub(crate) fn collect_rows<R: Read>(mut reader: TableReader<R>) -> Result<Table, DataError> {
    let mut rows = Vec::new();
    let mut vector = Vec::with_capacity(reader.dim());
    while let Some(labels) = reader.next_row(&mut vector)? {
        rows.push(LabeledRow {
            vector: vector.clone(),
            target: labels.target.to_owned(),
            prediction: labels.prediction.map(str::to_owned),
        });
    }
    Ok(Table {
        kind: reader.kind(),
        dim: reader.dim(),
        rows,
    })
}

/// Serialises one row; floats use Rust's shortest round-trip form, so output is deterministic.
pub(crate) fn write_row<W: Write>(w: &mut csv::Writer<W>, row: &LabeledRow) -> csv::Result<()> {
    write_vector(w, &row.vector)?;
    w.write_field(&row.target)?;
    if let Some(p) = &row.prediction {
        w.write_field(p)?;
    }
    w.write_record(None::<&[u8]>)
}

/// Writes a vector's values as fields, each in Rust's shortest round-trip form: every table and
/// log of vectors writes them this way, so the same vector is the same text everywhere.
pub(crate) fn write_vector<W: Write>(w: &mut csv::Writer<W>, vector: &[f32]) -> csv::Result<()> {
    // ryu, not `Display`: the same shortest round-trip digits at a third of the cost (5.3 -> 1.8
    // µs for a prediction log record's 74 values), which the log's writer spends per answer.
    let mut digits = ryu::Buffer::new();
    for v in vector {
        w.write_field(digits.format(*v))?;
    }
    Ok(())
}

/// One row as CSV bytes, ready to append.
pub(crate) fn row_bytes(row: &LabeledRow) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(row.vector.len() * 12 + 32));
    write_row(&mut w, row).expect("in-memory write");
    w.into_inner().expect("in-memory flush")
}

/// The header line of a table, as CSV bytes.
pub(crate) fn header_bytes(kind: TableKind, dim: usize) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(kind.header(dim)).expect("in-memory write");
    w.into_inner().expect("in-memory flush")
}

/// Writes a whole table atomically (temp file, fsync, rename).
pub fn write_table(
    path: &Path,
    kind: TableKind,
    dim: usize,
    rows: &[LabeledRow],
) -> Result<(), DataError> {
    // Formatting the numbers is most of the work for a large table: chunks of rows are formatted
    // on all cores, then written in order.
    let chunks: Vec<Vec<u8>> = rows
        .par_chunks(512)
        .map(|chunk| {
            let mut w = csv::Writer::from_writer(Vec::with_capacity(chunk.len() * dim * 12));
            for row in chunk {
                write_row(&mut w, row).expect("in-memory write");
            }
            w.into_inner().expect("in-memory flush")
        })
        .collect();
    write_atomic_with(path, |file| {
        let mut out = std::io::BufWriter::new(file);
        out.write_all(&header_bytes(kind, dim))?;
        for chunk in &chunks {
            out.write_all(chunk)?;
        }
        out.flush()
    })
    .map_err(|e| DataError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(v: f32, t: &str) -> LabeledRow {
        LabeledRow {
            vector: vec![v, -v],
            target: t.into(),
            prediction: None,
        }
    }

    #[test]
    fn reference_round_trip_with_awkward_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ref.csv");
        let rows = vec![row(0.1, "a,b"), row(1e-7, "say \"hi\"")];
        write_table(&path, TableKind::Reference, 2, &rows).unwrap();
        let t = read_table(&path).unwrap();
        assert_eq!(t.kind, TableKind::Reference);
        assert_eq!(t.rows, rows);
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("PCA_1,PCA_2,target\n"));
    }

    #[test]
    fn errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.csv");
        std::fs::write(&path, "PCA_1,PCA_2,target\n1,2,a\n1,x,b\n").unwrap();
        let msg = read_table(&path).unwrap_err().to_string();
        assert!(msg.contains("bad.csv:3") && msg.contains("PCA_2"), "{msg}");
        std::fs::write(&path, "PCA_1,PCA_3,target\n").unwrap();
        assert!(matches!(read_table(&path), Err(DataError::Header { .. })));
        std::fs::write(&path, "").unwrap();
        assert!(matches!(read_table(&path), Err(DataError::Empty { .. })));
    }

    #[test]
    fn both_layouts_follow_the_same_rules() {
        // Once read in f32 by one reader and in f64 by another, 1e39 was refused by the first
        // and accepted by the second; an empty prediction was likewise refused by only one.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        for (text, fragment) in [
            ("PCA_1,target\n1e39,a\n", "f32 range"),
            ("PCA_1,target,prediction\n1,a,\n", "prediction: empty label"),
        ] {
            std::fs::write(&path, text).unwrap();
            let msg = read_table(&path).unwrap_err().to_string();
            assert!(msg.contains(":2:") && msg.contains(fragment), "{msg}");
            let columns = crate::ColumnTable::read(&path, None)
                .unwrap_err()
                .to_string();
            assert_eq!(columns, msg);
        }
        // A header with no row is an empty table for both.
        std::fs::write(&path, "PCA_1,target\n").unwrap();
        assert!(read_table(&path).unwrap().rows.is_empty());
        assert_eq!(crate::ColumnTable::read(&path, None).unwrap().rows(), 0);
    }
}
