//! The two CSV tables every part shares: reference rows `PCA_1..PCA_n,target` and production
//! rows `PCA_1..PCA_n,target,prediction`, with errors that name the file and line.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::durable::{sync_dir, write_atomic_with};

/// Longest accepted label, in bytes.
pub const MAX_LABEL_BYTES: usize = 128;

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

/// Which of the two table layouts a file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// `PCA_1..PCA_n,target`.
    Reference,
    /// `PCA_1..PCA_n,target,prediction`.
    Production,
}

/// A table read from disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Layout of the file.
    pub kind: TableKind,
    /// Vector length `n`.
    pub dim: usize,
    /// The rows, in file order.
    pub rows: Vec<LabeledRow>,
}

/// Why a table could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file has no header.
    #[error("{path}: the file is empty")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The header is not one of the two layouts.
    #[error("{path}:1: bad header: {reason}")]
    Header {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A data row is malformed.
    #[error("{path}:{line}: {reason}")]
    Row {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A label breaks the label rules.
    #[error("invalid label: {0}")]
    Label(String),
}

/// The header of a table of vectors of length `dim`.
pub fn header(dim: usize, kind: TableKind) -> Vec<String> {
    let mut h: Vec<String> = (1..=dim).map(|i| format!("PCA_{i}")).collect();
    h.push("target".into());
    if kind == TableKind::Production {
        h.push("prediction".into());
    }
    h
}

/// Checks a label: 1 to 128 bytes, no control characters, no surrounding spaces, and not starting
/// like a spreadsheet formula (`=`, `+`, `@`, or `-` unless the whole label is a negative number).
pub fn validate_label(label: &str) -> Result<(), DataError> {
    let reason = if label.is_empty() {
        Some("empty".to_string())
    } else if label.len() > MAX_LABEL_BYTES {
        Some(format!(
            "{} bytes, the limit is {MAX_LABEL_BYTES}",
            label.len()
        ))
    } else if label.chars().any(char::is_control) {
        Some("contains control characters".to_string())
    } else if label.trim() != label {
        Some("has leading or trailing spaces".to_string())
    } else if starts_like_formula(label) {
        Some("starts like a spreadsheet formula (=, +, @, -)".to_string())
    } else {
        None
    };
    match reason {
        Some(r) => Err(DataError::Label(r)),
        None => Ok(()),
    }
}

fn starts_like_formula(label: &str) -> bool {
    match label.as_bytes().first() {
        Some(b'=' | b'+' | b'@') => true,
        // A spreadsheet evaluates `-2+3` or `-1+cmd|...`; only a plain number such as `-1` or
        // `-0.5` is safe.
        Some(b'-') => !is_plain_decimal(&label[1..]),
        _ => false,
    }
}

/// Digits with at most one inner decimal point (`12`, `0.5`), nothing else.
fn is_plain_decimal(s: &str) -> bool {
    let mut parts = s.splitn(2, '.');
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    parts.next().is_some_and(digits) && parts.next().is_none_or(digits)
}

fn parse_header(path: &Path, fields: &csv::StringRecord) -> Result<(TableKind, usize), DataError> {
    let bad = |reason: String| DataError::Header {
        path: path.to_path_buf(),
        reason,
    };
    let names: Vec<&str> = fields.iter().collect();
    let (kind, dim) = match names.as_slice() {
        [.., "target", "prediction"] => (TableKind::Production, names.len() - 2),
        [.., "target"] => (TableKind::Reference, names.len() - 1),
        _ => {
            return Err(bad(
                "expected PCA_1..PCA_n,target or PCA_1..PCA_n,target,prediction".into(),
            ))
        }
    };
    if dim == 0 {
        return Err(bad("no PCA_ columns".into()));
    }
    for (i, name) in names[..dim].iter().enumerate() {
        if *name != format!("PCA_{}", i + 1) {
            return Err(bad(format!(
                "column {} is {name:?}, expected PCA_{}",
                i + 1,
                i + 1
            )));
        }
    }
    Ok((kind, dim))
}

/// Reads a reference or production table (the layout is taken from the header).
pub fn read_table(path: &Path) -> Result<Table, DataError> {
    let file = File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_table_from_reader(path, file)
}

/// Reads a reference or production table from any reader, exactly as [`read_table`] reads a
/// file. `path` is only used in error messages (e.g. the name of an upload).
pub fn read_table_from_reader(path: &Path, reader: impl Read) -> Result<Table, DataError> {
    read_table_with_tail(path, reader).map(|(table, _)| table)
}

/// [`read_table_from_reader`], also returning where the last record (or the header, when there is
/// no row) starts.
fn read_table_with_tail(
    path: &Path,
    reader: impl Read,
) -> Result<(Table, csv::Position), DataError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut records = csv.records();
    let row_err = |line: u64, reason: String| DataError::Row {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let header = match records.next() {
        None => {
            return Err(DataError::Empty {
                path: path.to_path_buf(),
            })
        }
        Some(r) => r.map_err(|e| row_err(1, e.to_string()))?,
    };
    let (kind, dim) = parse_header(path, &header)?;
    let width = header.len();
    let mut last_start = header
        .position()
        .cloned()
        .unwrap_or_else(csv::Position::new);
    let mut rows = Vec::new();
    for record in records {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            row_err(line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        last_start = record
            .position()
            .cloned()
            .unwrap_or_else(csv::Position::new);
        if record.len() != width {
            return Err(row_err(
                line,
                format!("{} fields, the header has {width}", record.len()),
            ));
        }
        let vector = record
            .iter()
            .take(dim)
            .enumerate()
            .map(|(i, v)| match v.trim().parse::<f32>() {
                Ok(x) if x.is_finite() => Ok(x),
                _ => Err(row_err(
                    line,
                    format!("PCA_{} is {v:?}, not a finite number", i + 1),
                )),
            })
            .collect::<Result<Vec<f32>, _>>()?;
        let target = record[dim].to_string();
        if target.is_empty() {
            return Err(row_err(line, "empty target".into()));
        }
        let prediction = (kind == TableKind::Production).then(|| record[dim + 1].to_string());
        rows.push(LabeledRow {
            vector,
            target,
            prediction,
        });
    }
    Ok((Table { kind, dim, rows }, last_start))
}

/// Serialises one row; floats use Rust's shortest round-trip form, so output is deterministic.
fn write_row<W: Write>(w: &mut csv::Writer<W>, row: &LabeledRow) -> csv::Result<()> {
    use std::fmt::Write as _;
    let mut field = String::with_capacity(16);
    for v in &row.vector {
        field.clear();
        write!(field, "{v}").expect("formatting into a String");
        w.write_field(&field)?;
    }
    w.write_field(&row.target)?;
    if let Some(p) = &row.prediction {
        w.write_field(p)?;
    }
    w.write_record(None::<&[u8]>)
}

/// Writes a whole table atomically (temp file, fsync, rename).
pub fn write_table(
    path: &Path,
    kind: TableKind,
    dim: usize,
    rows: &[LabeledRow],
) -> Result<(), DataError> {
    let io_err = |source: std::io::Error| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
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
        {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record(header(dim, kind))?;
            w.flush()?;
        }
        for chunk in &chunks {
            out.write_all(chunk)?;
        }
        out.flush()?;
        Ok(())
    })
    .map_err(io_err)
}

/// The append-only production log (`prod_data.csv`): one writer, each row written whole and
/// fsynced before the call returns, and a torn last line from a crash cut off at open.
#[derive(Debug)]
pub struct FeedbackLog {
    path: PathBuf,
    dim: usize,
    state: Mutex<LogState>,
}

#[derive(Debug)]
struct LogState {
    file: File,
    rows: u64,
}

impl FeedbackLog {
    /// Opens (or creates, with its header) the log for vectors of length `dim`.
    pub fn open(path: &Path, dim: usize) -> Result<Self, DataError> {
        let io_err = |source: std::io::Error| DataError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io_err)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        let rows = if len == 0 {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(header(dim, TableKind::Production))
                .expect("in-memory write");
            file.write_all(&w.into_inner().expect("in-memory write"))
                .map_err(io_err)?;
            file.sync_all().map_err(io_err)?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                sync_dir(dir).map_err(io_err)?;
            }
            0
        } else {
            cut_torn_tail(&mut file, len).map_err(io_err)?;
            let existing = File::open(path).map_err(io_err)?;
            let (table, last_start) = read_table_with_tail(path, existing)?;
            if table.kind != TableKind::Production || table.dim != dim {
                return Err(DataError::Header {
                    path: path.to_path_buf(),
                    reason: format!("expected a production table with {dim} PCA columns"),
                });
            }
            check_appendable(path, &mut file, &last_start, dim)?;
            table.rows.len() as u64
        };
        Ok(Self {
            path: path.to_path_buf(),
            dim,
            state: Mutex::new(LogState { file, rows }),
        })
    }

    /// Path of the log.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rows currently in the log.
    pub fn rows(&self) -> u64 {
        self.lock().rows
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogState> {
        // A panic while holding the lock cannot leave a half row (rows are written in one call),
        // so a poisoned lock is still safe to use.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends one production row durably and returns the row count after it. The count comes
    /// from the writer, so no two appends ever see the same number.
    pub fn append(&self, row: &LabeledRow) -> Result<u64, DataError> {
        if row.vector.len() != self.dim || row.prediction.is_none() {
            return Err(DataError::Row {
                path: self.path.clone(),
                line: 0,
                reason: format!(
                    "a production row needs {} values, a target and a prediction",
                    self.dim
                ),
            });
        }
        validate_label(&row.target)?;
        let mut w = csv::Writer::from_writer(Vec::with_capacity(16 * 12 + 32));
        write_row(&mut w, row).expect("in-memory write");
        let bytes = w.into_inner().expect("in-memory write");
        let mut state = self.lock();
        let io_err = |source: std::io::Error| DataError::Io {
            path: self.path.clone(),
            source,
        };
        state.file.write_all(&bytes).map_err(io_err)?;
        state.file.sync_data().map_err(io_err)?;
        state.rows += 1;
        Ok(state.rows)
    }
}

/// Checks that a row appended to the log will read back as a record of its own: the last record
/// (from `last_start` to the end) followed by a probe row must parse as exactly those two records.
/// It fails when the last line leaves a quoted field open, which would swallow the next append
/// (our writer never writes that: it is damage or a hand edit, so the file is left as it is).
fn check_appendable(
    path: &Path,
    file: &mut File,
    last_start: &csv::Position,
    dim: usize,
) -> Result<(), DataError> {
    let io_err = |source: std::io::Error| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut tail = Vec::new();
    file.seek(SeekFrom::Start(last_start.byte()))
        .map_err(io_err)?;
    file.read_to_end(&mut tail).map_err(io_err)?;
    let probe = LabeledRow {
        vector: vec![0.0; dim],
        target: "probe".into(),
        prediction: Some("probe".into()),
    };
    let mut w = csv::Writer::from_writer(tail);
    write_row(&mut w, &probe).expect("in-memory write");
    let bytes = w.into_inner().expect("in-memory write");
    let records: Vec<csv::ByteRecord> = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&bytes[..])
        .byte_records()
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    let expected: Vec<String> = probe
        .vector
        .iter()
        .map(|v| v.to_string())
        .chain(["probe".to_string(), "probe".to_string()])
        .collect();
    match records.as_slice() {
        [_, last] if last.iter().eq(expected.iter().map(|f| f.as_bytes())) => Ok(()),
        _ => Err(DataError::Row {
            path: path.to_path_buf(),
            line: last_start.line(),
            reason: "this last record leaves a quoted field open, so a row appended after it \
                     would be swallowed; repair the file by hand"
                .into(),
        }),
    }
}

/// Truncates a file that does not end with a newline back to its last complete line: the only
/// damage a crash during an append can leave.
fn cut_torn_tail(file: &mut File, len: u64) -> std::io::Result<()> {
    let mut reader = BufReader::new(&mut *file);
    reader.seek(SeekFrom::Start(0))?;
    let mut last_complete = 0u64;
    let mut pos = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)? as u64;
        if n == 0 {
            break;
        }
        pos += n;
        if line.last() == Some(&b'\n') {
            last_complete = pos;
        }
    }
    if last_complete < len {
        file.set_len(last_complete)?;
        file.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(v: f32, t: &str, p: Option<&str>) -> LabeledRow {
        LabeledRow {
            vector: vec![v, -v],
            target: t.into(),
            prediction: p.map(Into::into),
        }
    }

    #[test]
    fn reference_round_trip_with_awkward_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ref.csv");
        let rows = vec![row(0.1, "a,b", None), row(1e-7, "say \"hi\"", None)];
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
    fn labels_are_checked() {
        assert!(validate_label("7").is_ok());
        assert!(validate_label("-1").is_ok());
        assert!(validate_label("-0.25").is_ok());
        assert!(validate_label("<script>").is_ok());
        for bad in ["", "=1+1", "@x", "-x", "a\nb", " a", &"x".repeat(129)] {
            assert!(validate_label(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn feedback_log_appends_counts_and_repairs_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prod.csv");
        let log = FeedbackLog::open(&path, 2).unwrap();
        assert_eq!(log.append(&row(1.0, "a", Some("b"))).unwrap(), 1);
        assert_eq!(log.append(&row(2.0, "c,d", Some("c"))).unwrap(), 2);
        drop(log);
        // Simulate a crash in the middle of a third append.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"3,-3,tor").unwrap();
        drop(f);
        let log = FeedbackLog::open(&path, 2).unwrap();
        assert_eq!(log.rows(), 2);
        assert_eq!(log.append(&row(4.0, "e", Some("e"))).unwrap(), 3);
        let t = read_table(&path).unwrap();
        assert_eq!(t.rows.len(), 3);
        assert_eq!(t.rows[2].target, "e");
        assert!(
            FeedbackLog::open(&path, 3).is_err(),
            "dimension mismatch accepted"
        );
    }

    #[test]
    fn feedback_log_refuses_a_last_line_that_leaves_a_quote_open() {
        // Found by the feedback_log fuzz target: the last field opens a quote that runs to the end
        // of the file. read_table accepts it, but the next append would land inside the quote.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prod.csv");
        let text = "PCA_1,target,prediction\n1,a,b\n2,c,\"d\n";
        std::fs::write(&path, text).unwrap();
        let err = FeedbackLog::open(&path, 1).unwrap_err().to_string();
        assert!(
            err.contains("prod.csv:3") && err.contains("quoted field"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            text,
            "file changed"
        );
        // A quoted field closed on its line is fine, and so is a log with no row yet.
        std::fs::write(&path, "PCA_1,target,prediction\n1,\"a,\"\"b\"\"\",b\n").unwrap();
        assert_eq!(FeedbackLog::open(&path, 1).unwrap().rows(), 1);
        std::fs::write(&path, "PCA_1,target,prediction\n").unwrap();
        assert_eq!(FeedbackLog::open(&path, 1).unwrap().rows(), 0);
    }
}
