//! A table as `f64` columns and interned labels, for reports over millions of rows.
//!
//! Rows are never kept as strings: numeric columns go straight into one `Vec<f64>` per column
//! (column-major, ready to be sorted for the tests) and labels are interned into small integer
//! codes, so memory stays at about 8 bytes per numeric cell plus 4 bytes per label cell.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::{DataError, LabeledRow, TableKind, TableReader};

/// A column of string labels stored as codes into a dictionary of distinct labels.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    names: Vec<String>,
    index: HashMap<String, u32>,
    codes: Vec<u32>,
}

impl Labels {
    /// An empty column.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one label.
    pub fn push(&mut self, label: &str) {
        let code = match self.index.get(label) {
            Some(&c) => c,
            None => {
                let c = self.names.len() as u32;
                self.names.push(label.to_owned());
                self.index.insert(label.to_owned(), c);
                c
            }
        };
        self.codes.push(code);
    }

    /// Reserves room for `additional` more rows.
    pub fn reserve(&mut self, additional: usize) {
        self.codes.reserve_exact(additional);
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// True when no row was pushed.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Distinct labels, in order of first appearance; `codes()` index into it.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// One code per row.
    pub fn codes(&self) -> &[u32] {
        &self.codes
    }

    /// Number of rows per distinct label, aligned with [`Labels::names`].
    pub fn counts(&self) -> Vec<u64> {
        let mut counts = vec![0u64; self.names.len()];
        for &c in &self.codes {
            counts[c as usize] += 1;
        }
        counts
    }
}

impl<S: AsRef<str>> FromIterator<S> for Labels {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut l = Labels::new();
        for s in iter {
            l.push(s.as_ref());
        }
        l
    }
}

/// A table held column by column.
#[derive(Debug, Clone)]
pub struct ColumnTable {
    path: PathBuf,
    kind: TableKind,
    columns: Vec<Vec<f64>>,
    target: Labels,
    prediction: Option<Labels>,
}

impl ColumnTable {
    /// Reads a table through the one [`TableReader`]; `expect` asks for one layout.
    pub fn read(path: &Path, expect: Option<TableKind>) -> Result<ColumnTable, DataError> {
        Self::read_as(path, path, expect)
    }

    /// [`ColumnTable::read`], naming the table `name` in errors and reports (e.g. a file name
    /// without the folders a client should not see).
    pub fn read_as(
        path: &Path,
        name: impl Into<PathBuf>,
        expect: Option<TableKind>,
    ) -> Result<ColumnTable, DataError> {
        let name = name.into();
        let file = File::open(path).map_err(|e| DataError::io(&name, e))?;
        let len = file.metadata().map_err(|e| DataError::io(&name, e))?.len();
        Self::read_from(TableReader::new(&name, file, expect)?, len)
    }

    /// Reads CSV text held in memory, with the same rules as [`ColumnTable::read`]; `name` is
    /// only used in messages (e.g. the name of an upload).
    pub fn from_csv_bytes(
        name: impl Into<PathBuf>,
        expect: Option<TableKind>,
        bytes: &[u8],
    ) -> Result<ColumnTable, DataError> {
        let reader = TableReader::new(&name.into(), bytes, expect)?;
        Self::read_from(reader, bytes.len() as u64)
    }

    /// Fills the columns from `reader`; `len`, the input's size in bytes, sizes them.
    pub(crate) fn read_from<R: std::io::Read>(
        mut reader: TableReader<R>,
        len: u64,
    ) -> Result<ColumnTable, DataError> {
        let (kind, dim) = (reader.kind(), reader.dim());
        let width = dim + kind.label_columns().len();
        // A row takes at least two bytes per field, so the input cannot hold more rows than this:
        // a header of many columns over few bytes must not reserve 8 kB per column.
        let max_rows = usize::try_from(len).unwrap_or(usize::MAX) / (2 * width);
        let initial = max_rows.clamp(1, 1024);
        let mut columns: Vec<Vec<f64>> = (0..dim).map(|_| Vec::with_capacity(initial)).collect();
        let mut target = Labels::new();
        let mut prediction = (kind == TableKind::Production).then(Labels::new);
        let mut values: Vec<f64> = Vec::with_capacity(dim);
        while let Some(row) = reader.next_row(&mut values)? {
            if columns[0].len() == columns[0].capacity() {
                // Size the big vectors from the bytes per row seen so far rather than letting
                // them double: doubling overshoots by up to 2x and copies everything each step.
                let pos = row.byte.max(1);
                let rows = target.len().max(1) as f64;
                let estimate =
                    (len.saturating_sub(pos) as f64 * rows / pos as f64 * 1.05) as usize + 1024;
                // Never more than the input can hold; past that (a file that grew while being
                // read) the vectors just double as they fill.
                let more = estimate.min(max_rows.saturating_sub(target.len()));
                if more > 0 {
                    for c in &mut columns {
                        c.reserve_exact(more);
                    }
                    target.reserve(more);
                    if let Some(p) = prediction.as_mut() {
                        p.reserve(more);
                    }
                }
            }
            for (col, &v) in columns.iter_mut().zip(&values) {
                col.push(v);
            }
            target.push(row.target);
            if let (Some(p), Some(label)) = (prediction.as_mut(), row.prediction) {
                p.push(label);
            }
        }
        for c in &mut columns {
            if c.capacity() > c.len() + c.len() / 8 {
                c.shrink_to_fit();
            }
        }
        Ok(ColumnTable {
            path: reader.path().to_path_buf(),
            kind,
            columns,
            target,
            prediction,
        })
    }

    /// Builds a table from in-memory columns. `name` is only used in messages and in reports.
    /// All columns must have the target's length and finite values.
    pub fn from_parts(
        name: impl Into<PathBuf>,
        columns: Vec<Vec<f64>>,
        target: Labels,
        prediction: Option<Labels>,
    ) -> Result<ColumnTable, DataError> {
        let path = name.into();
        let rows = target.len();
        let shape = |reason: String| DataError::Shape {
            name: path.clone(),
            reason,
        };
        if columns.is_empty() {
            return Err(shape("at least one PCA column is required".into()));
        }
        for (i, c) in columns.iter().enumerate() {
            if c.len() != rows {
                return Err(shape(format!(
                    "PCA_{} has {} values but target has {rows}",
                    i + 1,
                    c.len()
                )));
            }
            if let Some(row) = c.iter().position(|v| !v.is_finite()) {
                return Err(shape(format!(
                    "PCA_{} row {} is not finite",
                    i + 1,
                    row + 1
                )));
            }
        }
        if let Some(p) = &prediction {
            if p.len() != rows {
                return Err(shape(format!(
                    "prediction has {} values but target has {rows}",
                    p.len()
                )));
            }
        }
        let kind = if prediction.is_some() {
            TableKind::Production
        } else {
            TableKind::Reference
        };
        Ok(ColumnTable {
            path,
            kind,
            columns,
            target,
            prediction,
        })
    }

    /// Columns of rows held in memory (e.g. the reference rows a server already has), so a
    /// report does not read their file again.
    pub fn from_rows(
        name: impl Into<PathBuf>,
        dim: usize,
        rows: &[LabeledRow],
    ) -> Result<ColumnTable, DataError> {
        let mut columns = vec![Vec::with_capacity(rows.len()); dim];
        for row in rows {
            if row.vector.len() != dim {
                return Err(DataError::Shape {
                    name: name.into(),
                    reason: format!("a row has {} values, expected {dim}", row.vector.len()),
                });
            }
            for (col, &v) in columns.iter_mut().zip(&row.vector) {
                col.push(f64::from(v));
            }
        }
        let target = rows.iter().map(|r| r.target.as_str()).collect();
        let prediction = rows
            .iter()
            .map(|r| r.prediction.as_deref())
            .collect::<Option<Labels>>()
            .filter(|_| !rows.is_empty());
        Self::from_parts(name, columns, target, prediction)
    }

    /// The file this table was read from (or the name it was given).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The layout of the table.
    pub fn kind(&self) -> TableKind {
        self.kind
    }

    /// Number of data rows.
    pub fn rows(&self) -> usize {
        self.target.len()
    }

    /// Number of `PCA_i` columns.
    pub fn pca_columns(&self) -> usize {
        self.columns.len()
    }

    /// Values of `PCA_{i+1}`, in file order.
    pub fn column(&self, i: usize) -> &[f64] {
        &self.columns[i]
    }

    /// Takes the numeric columns out, leaving the labels (saves a copy before sorting).
    pub fn take_columns(&mut self) -> Vec<Vec<f64>> {
        std::mem::take(&mut self.columns)
    }

    /// The `target` column.
    pub fn target(&self) -> &Labels {
        &self.target
    }

    /// The `prediction` column (production tables only).
    pub fn prediction(&self) -> Option<&Labels> {
        self.prediction.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(contents: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(contents.as_bytes()).unwrap();
        f
    }

    fn err(contents: &str, kind: TableKind) -> String {
        let f = file(contents);
        let e = ColumnTable::read(f.path(), Some(kind))
            .unwrap_err()
            .to_string();
        assert!(e.contains(&f.path().display().to_string()), "{e}");
        e
    }

    #[test]
    fn reads_both_formats_with_quoted_labels() {
        let f = file("PCA_1,PCA_2,target\n1.5,-2,\"a, b\"\n3,4e-3,c\n");
        let t = ColumnTable::read(f.path(), Some(TableKind::Reference)).unwrap();
        assert_eq!(t.rows(), 2);
        assert_eq!(t.pca_columns(), 2);
        assert_eq!(t.column(0), &[1.5, 3.0]);
        assert_eq!(t.column(1), &[-2.0, 0.004]);
        assert_eq!(t.target().names(), &["a, b".to_owned(), "c".to_owned()]);
        assert!(t.prediction().is_none());

        // CRLF line endings, a BOM and blank lines are tolerated.
        let f = file("\u{feff}PCA_1,target\r\n1,a\r\n\r\n2,b\r\n");
        let t = ColumnTable::read(f.path(), Some(TableKind::Reference)).unwrap();
        assert_eq!(t.column(0), &[1.0, 2.0]);

        let f = file("PCA_1,target,prediction\n1,x,y\n2,y,y\n");
        let t = ColumnTable::read(f.path(), Some(TableKind::Production)).unwrap();
        assert_eq!(t.prediction().unwrap().counts(), vec![2]);
        assert_eq!(t.target().counts(), vec![1, 1]);
    }

    #[test]
    fn missing_and_empty_files() {
        let e = ColumnTable::read(
            Path::new("/nonexistent/ref.csv"),
            Some(TableKind::Reference),
        )
        .unwrap_err();
        assert!(matches!(e, DataError::NotFound { .. }));
        assert!(e.to_string().contains("/nonexistent/ref.csv"));
        assert!(err("", TableKind::Reference).contains("empty"));
    }

    #[test]
    fn header_errors_say_what_was_expected() {
        let e = err("PCA_1,label\n1,a\n", TableKind::Reference);
        assert!(
            e.contains(":1:") && e.contains("PCA_1,PCA_2,...,PCA_n,target"),
            "{e}"
        );
        let e = err("PCA_1,PCA_3,target\n1,2,a\n", TableKind::Reference);
        assert!(e.contains("`PCA_3`, not `PCA_2`"), "{e}");
        let e = err("PCA_1,target\n1,a\n", TableKind::Production);
        assert!(e.contains("target,prediction"), "{e}");
        let e = err(
            "PCA_1,target,prediction,extra\n1,a,b,c\n",
            TableKind::Production,
        );
        assert!(e.contains("extra"), "{e}");
        let e = err("x,target\n1,a\n", TableKind::Reference);
        assert!(e.contains("not `PCA_1`"), "{e}");
    }

    #[test]
    fn row_errors_name_the_line() {
        let e = err("PCA_1,target\n1,a\n2,b\nfoo,c\n", TableKind::Reference);
        assert!(
            e.contains(":4:") && e.contains("`foo` is not a number"),
            "{e}"
        );
        let e = err("PCA_1,target\n1,a\nNaN,b\n", TableKind::Reference);
        assert!(e.contains(":3:") && e.contains("not a finite"), "{e}");
        let e = err("PCA_1,target\n1,a\ninf,b\n", TableKind::Reference);
        assert!(e.contains(":3:"), "{e}");
        let e = err("PCA_1,target\n1,a\n2,b,c\n", TableKind::Reference);
        assert!(e.contains(":3:") && e.contains("expected 2 fields"), "{e}");
        let e = err("PCA_1,target,prediction\n1,a\n", TableKind::Production);
        assert!(e.contains(":2:") && e.contains("found 2"), "{e}");
        let e = err("PCA_1,target\n1,\n", TableKind::Reference);
        assert!(e.contains(":2:") && e.contains("empty label"), "{e}");
    }

    #[test]
    fn from_parts_validates() {
        let labels: Labels = ["a", "b"].into_iter().collect();
        assert!(ColumnTable::from_parts("mem", vec![vec![1.0, 2.0]], labels.clone(), None).is_ok());
        assert!(ColumnTable::from_parts("mem", vec![vec![1.0]], labels.clone(), None).is_err());
        assert!(ColumnTable::from_parts("mem", vec![], labels.clone(), None).is_err());
        assert!(ColumnTable::from_parts("mem", vec![vec![1.0, f64::NAN]], labels, None).is_err());
    }
}
