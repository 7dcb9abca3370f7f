//! Streaming reader for the reference and production CSV files.
//!
//! Rows are never kept as strings: numeric columns go straight into one
//! `Vec<f64>` per column (column-major, ready to be sorted for the tests) and
//! labels are interned into small integer codes, so memory stays at about
//! 8 bytes per numeric cell plus 4 bytes per label cell.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::ReportError;

/// Which of the two file formats is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// `PCA_1,...,PCA_n,target`
    Reference,
    /// `PCA_1,...,PCA_n,target,prediction`
    Production,
}

impl TableKind {
    fn expected_header(self) -> &'static str {
        match self {
            TableKind::Reference => "PCA_1,PCA_2,...,PCA_n,target",
            TableKind::Production => "PCA_1,PCA_2,...,PCA_n,target,prediction",
        }
    }

    fn label_columns(self) -> usize {
        match self {
            TableKind::Reference => 1,
            TableKind::Production => 2,
        }
    }
}

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

/// One data set held column by column.
#[derive(Debug, Clone)]
pub struct Table {
    path: PathBuf,
    columns: Vec<Vec<f64>>,
    target: Labels,
    prediction: Option<Labels>,
}

impl Table {
    /// Reads and validates a CSV file of the given kind.
    ///
    /// The header must be exactly `PCA_1..PCA_n,target` (reference) or
    /// `PCA_1..PCA_n,target,prediction` (production) with `n >= 1`; every row
    /// must have that many fields, finite numbers and non-empty labels.
    pub fn read(path: &Path, kind: TableKind) -> Result<Table, ReportError> {
        let file = File::open(path).map_err(|e| ReportError::io(path, e))?;
        let len = file.metadata().map_err(|e| ReportError::io(path, e))?.len();
        Self::read_from(path, kind, file, len)
    }

    /// Reads and validates CSV text held in memory, with the same rules as [`Table::read`].
    ///
    /// `name` is only used in messages and in the report (e.g. the name of an upload).
    pub fn from_csv_bytes(
        name: impl Into<PathBuf>,
        kind: TableKind,
        bytes: &[u8],
    ) -> Result<Table, ReportError> {
        Self::read_from(&name.into(), kind, bytes, bytes.len() as u64)
    }

    /// The reader behind [`Table::read`] and [`Table::from_csv_bytes`]; `len` is the total size
    /// of the input in bytes, used to size the columns.
    fn read_from(
        path: &Path,
        kind: TableKind,
        input: impl std::io::Read,
        len: u64,
    ) -> Result<Table, ReportError> {
        if len == 0 {
            return Err(ReportError::EmptyFile {
                path: path.to_path_buf(),
            });
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(1 << 20)
            .from_reader(input);
        let mut record = csv::ByteRecord::new();
        let csv_err = |e: csv::Error| -> ReportError {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            match e.into_kind() {
                csv::ErrorKind::Io(io) => ReportError::io(path, io),
                other => ReportError::row(path, line, format!("{other:?}")),
            }
        };
        if !reader.read_byte_record(&mut record).map_err(csv_err)? {
            return Err(ReportError::EmptyFile {
                path: path.to_path_buf(),
            });
        }
        let n_pca = check_header(path, kind, &record)?;
        let width = n_pca + kind.label_columns();
        // A row takes at least two bytes per field, so the input cannot hold more rows than this:
        // a header of many columns over few bytes must not reserve 8 kB per column.
        let max_rows = usize::try_from(len).unwrap_or(usize::MAX) / (2 * width);
        let initial = max_rows.clamp(1, 1024);
        let mut columns: Vec<Vec<f64>> = (0..n_pca).map(|_| Vec::with_capacity(initial)).collect();
        let mut target = Labels::new();
        let mut prediction = (kind == TableKind::Production).then(Labels::new);
        while reader.read_byte_record(&mut record).map_err(csv_err)? {
            let line = record.position().map(|p| p.line()).unwrap_or(0);
            if record.len() != width {
                return Err(ReportError::row(
                    path,
                    line,
                    format!(
                        "expected {width} fields ({n_pca} PCA values + {}), found {}",
                        if kind == TableKind::Reference {
                            "target"
                        } else {
                            "target, prediction"
                        },
                        record.len()
                    ),
                ));
            }
            if columns[0].len() == columns[0].capacity() {
                // Size the big vectors from the bytes per row seen so far rather
                // than letting them double: doubling overshoots by up to 2x and
                // copies everything at each step.
                let pos = record.position().map(|p| p.byte()).unwrap_or(0).max(1);
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
            for (i, col) in columns.iter_mut().enumerate() {
                col.push(parse_number(path, line, i, &record[i])?);
            }
            target.push(parse_label(path, line, "target", &record[n_pca])?);
            if let Some(p) = prediction.as_mut() {
                p.push(parse_label(path, line, "prediction", &record[n_pca + 1])?);
            }
        }
        if target.is_empty() {
            return Err(ReportError::NoRows {
                path: path.to_path_buf(),
            });
        }
        for c in &mut columns {
            if c.capacity() > c.len() + c.len() / 8 {
                c.shrink_to_fit();
            }
        }
        Ok(Table {
            path: path.to_path_buf(),
            columns,
            target,
            prediction,
        })
    }

    /// Builds a table from in-memory columns (e.g. rows collected by a server).
    ///
    /// `name` is only used in messages and in the report. All columns must have
    /// the same length (at least one row) and finite values.
    pub fn from_parts(
        name: impl Into<PathBuf>,
        columns: Vec<Vec<f64>>,
        target: Labels,
        prediction: Option<Labels>,
    ) -> Result<Table, ReportError> {
        let path = name.into();
        let rows = target.len();
        if rows == 0 {
            return Err(ReportError::NoRows { path });
        }
        if columns.is_empty() {
            return Err(ReportError::Config(format!(
                "{}: at least one PCA column is required",
                path.display()
            )));
        }
        for (i, c) in columns.iter().enumerate() {
            if c.len() != rows {
                return Err(ReportError::Config(format!(
                    "{}: PCA_{} has {} values but target has {rows}",
                    path.display(),
                    i + 1,
                    c.len()
                )));
            }
            if let Some(row) = c.iter().position(|v| !v.is_finite()) {
                return Err(ReportError::Config(format!(
                    "{}: PCA_{} row {} is not finite",
                    path.display(),
                    i + 1,
                    row + 1
                )));
            }
        }
        if let Some(p) = &prediction {
            if p.len() != rows {
                return Err(ReportError::Config(format!(
                    "{}: prediction has {} values but target has {rows}",
                    path.display(),
                    p.len()
                )));
            }
        }
        Ok(Table {
            path,
            columns,
            target,
            prediction,
        })
    }

    /// The file this table was read from (or the name given to [`Table::from_parts`]).
    pub fn path(&self) -> &Path {
        &self.path
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
    pub(crate) fn take_columns(&mut self) -> Vec<Vec<f64>> {
        std::mem::take(&mut self.columns)
    }

    /// The `target` column.
    pub fn target(&self) -> &Labels {
        &self.target
    }

    /// The `prediction` column (production files only).
    pub fn prediction(&self) -> Option<&Labels> {
        self.prediction.as_ref()
    }
}

/// Returns the number of PCA columns when the header has the expected form.
fn check_header(
    path: &Path,
    kind: TableKind,
    record: &csv::ByteRecord,
) -> Result<usize, ReportError> {
    let fail = |reason: String| ReportError::Header {
        path: path.to_path_buf(),
        expected: kind.expected_header().to_owned(),
        reason,
    };
    let fields: Vec<String> = record
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let f = if i == 0 {
                f.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(f)
            } else {
                f
            };
            String::from_utf8_lossy(f).into_owned()
        })
        .collect();
    let n_pca = fields.iter().take_while(|f| f.starts_with("PCA_")).count();
    if n_pca == 0 {
        return Err(fail(format!(
            "first column is `{}`, not `PCA_1`",
            fields.first().map(String::as_str).unwrap_or("")
        )));
    }
    for (i, f) in fields.iter().take(n_pca).enumerate() {
        if *f != format!("PCA_{}", i + 1) {
            return Err(fail(format!(
                "column {} is `{f}`, not `PCA_{}`",
                i + 1,
                i + 1
            )));
        }
    }
    let rest: Vec<&str> = fields[n_pca..].iter().map(String::as_str).collect();
    let want: &[&str] = match kind {
        TableKind::Reference => &["target"],
        TableKind::Production => &["target", "prediction"],
    };
    if rest != want {
        return Err(fail(format!(
            "after PCA_{n_pca} found `{}`, want `{}`",
            rest.join(","),
            want.join(",")
        )));
    }
    Ok(n_pca)
}

fn parse_number(path: &Path, line: u64, col: usize, field: &[u8]) -> Result<f64, ReportError> {
    let text = std::str::from_utf8(field)
        .map_err(|_| ReportError::row(path, line, format!("PCA_{}: not valid UTF-8", col + 1)))?;
    let v: f64 = text.trim().parse().map_err(|_| {
        ReportError::row(
            path,
            line,
            format!("PCA_{}: `{}` is not a number", col + 1, truncate(text)),
        )
    })?;
    if !v.is_finite() {
        return Err(ReportError::row(
            path,
            line,
            format!(
                "PCA_{}: `{}` is not a finite number",
                col + 1,
                truncate(text)
            ),
        ));
    }
    Ok(v)
}

fn parse_label<'a>(
    path: &Path,
    line: u64,
    name: &str,
    field: &'a [u8],
) -> Result<&'a str, ReportError> {
    let text = std::str::from_utf8(field)
        .map_err(|_| ReportError::row(path, line, format!("{name}: not valid UTF-8")))?;
    if text.is_empty() {
        return Err(ReportError::row(path, line, format!("{name}: empty label")));
    }
    Ok(text)
}

fn truncate(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(40).collect::<String>())
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
        let e = Table::read(f.path(), kind).unwrap_err().to_string();
        assert!(e.contains(&f.path().display().to_string()), "{e}");
        e
    }

    #[test]
    fn reads_both_formats_with_quoted_labels() {
        let f = file("PCA_1,PCA_2,target\n1.5,-2,\"a, b\"\n3,4e-3,c\n");
        let t = Table::read(f.path(), TableKind::Reference).unwrap();
        assert_eq!(t.rows(), 2);
        assert_eq!(t.pca_columns(), 2);
        assert_eq!(t.column(0), &[1.5, 3.0]);
        assert_eq!(t.column(1), &[-2.0, 0.004]);
        assert_eq!(t.target().names(), &["a, b".to_owned(), "c".to_owned()]);
        assert!(t.prediction().is_none());

        // CRLF line endings, a BOM and blank lines are tolerated.
        let f = file("\u{feff}PCA_1,target\r\n1,a\r\n\r\n2,b\r\n");
        let t = Table::read(f.path(), TableKind::Reference).unwrap();
        assert_eq!(t.column(0), &[1.0, 2.0]);

        let f = file("PCA_1,target,prediction\n1,x,y\n2,y,y\n");
        let t = Table::read(f.path(), TableKind::Production).unwrap();
        assert_eq!(t.prediction().unwrap().counts(), vec![2]);
        assert_eq!(t.target().counts(), vec![1, 1]);
    }

    #[test]
    fn missing_and_empty_files() {
        let e = Table::read(Path::new("/nonexistent/ref.csv"), TableKind::Reference).unwrap_err();
        assert!(matches!(e, ReportError::NotFound { .. }));
        assert!(e.to_string().contains("/nonexistent/ref.csv"));
        assert!(err("", TableKind::Reference).contains("empty"));
        assert!(err("PCA_1,target\n", TableKind::Reference).contains("no data rows"));
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
        assert!(Table::from_parts("mem", vec![vec![1.0, 2.0]], labels.clone(), None).is_ok());
        assert!(Table::from_parts("mem", vec![vec![1.0]], labels.clone(), None).is_err());
        assert!(Table::from_parts("mem", vec![vec![1.0, f64::NAN]], labels, None).is_err());
    }
}
