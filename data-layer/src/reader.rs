//! The one streaming reader of the reference and production tables.
//!
//! Every table in the workspace is read through [`TableReader`], so a file is accepted or refused
//! by the same rules everywhere: a header of one of the two layouts (a UTF-8 byte-order mark and
//! blank lines are tolerated), then rows of exactly the header's width whose vector values are
//! finite numbers in `f32` range (the embedding's type) and whose labels are non-empty UTF-8. A
//! header with no row is a valid, empty table; whether an empty table is enough is the caller's
//! decision.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::layout::{parse_header, TableKind};
use crate::DataError;

/// A vector value type the reader can parse into, with the one acceptance rule for both.
pub trait Value: Copy {
    /// Parses a field, or `None` when it is not a finite number in `f32` range.
    fn parse_field(text: &str) -> Option<Self>;
}

impl Value for f32 {
    fn parse_field(text: &str) -> Option<Self> {
        text.parse::<f32>().ok().filter(|v| v.is_finite())
    }
}

impl Value for f64 {
    fn parse_field(text: &str) -> Option<Self> {
        // Values past f32's range could not be served (the model runs on f32), so a report
        // refuses them like every other reader.
        text.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && (*v as f32).is_finite())
    }
}

/// The labels of one row, borrowed from the reader; the values go to the caller's buffer.
#[derive(Debug, Clone, Copy)]
pub struct RowLabels<'a> {
    /// 1-based line number (the header is line 1).
    pub line: u64,
    /// Byte offset where the row starts.
    pub byte: u64,
    /// The true label.
    pub target: &'a str,
    /// The predicted label (production tables only).
    pub prediction: Option<&'a str>,
}

/// Reads a table row by row, checking each row as it goes.
#[derive(Debug)]
pub struct TableReader<R> {
    path: PathBuf,
    csv: csv::Reader<R>,
    record: csv::ByteRecord,
    kind: TableKind,
    dim: usize,
    last_start: csv::Position,
}

impl TableReader<File> {
    /// Opens `path` and checks its header; `expect` asks for one layout, `None` takes either.
    pub fn open(path: &Path, expect: Option<TableKind>) -> Result<Self, DataError> {
        let file = File::open(path).map_err(|e| DataError::io(path, e))?;
        Self::new(path, file, expect)
    }
}

impl<R: Read> TableReader<R> {
    /// Reads the header from `input`; `path` names the input in errors (e.g. an upload's name).
    pub fn new(path: &Path, input: R, expect: Option<TableKind>) -> Result<Self, DataError> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(1 << 16)
            .from_reader(input);
        let mut record = csv::ByteRecord::new();
        if !csv
            .read_byte_record(&mut record)
            .map_err(|e| csv_error(path, e))?
        {
            return Err(DataError::Empty {
                path: path.to_path_buf(),
            });
        }
        let (kind, dim) = parse_header(path, expect, &record)?;
        let last_start = record
            .position()
            .cloned()
            .unwrap_or_else(csv::Position::new);
        Ok(Self {
            path: path.to_path_buf(),
            csv,
            record,
            kind,
            dim,
            last_start,
        })
    }

    /// The layout given by the header.
    pub fn kind(&self) -> TableKind {
        self.kind
    }

    /// The vector length given by the header.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The name errors give the input.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the last record read (the header before any row) starts.
    pub fn last_start(&self) -> &csv::Position {
        &self.last_start
    }

    /// Reads the next row: its vector replaces the content of `values`, its labels are returned.
    /// `None` at the end of the input.
    pub fn next_row<T: Value>(
        &mut self,
        values: &mut Vec<T>,
    ) -> Result<Option<RowLabels<'_>>, DataError> {
        if !self
            .csv
            .read_byte_record(&mut self.record)
            .map_err(|e| csv_error(&self.path, e))?
        {
            return Ok(None);
        }
        let position = self
            .record
            .position()
            .cloned()
            .unwrap_or_else(csv::Position::new);
        let line = position.line();
        let labels = self.kind.label_columns();
        let width = self.dim + labels.len();
        if self.record.len() != width {
            return Err(DataError::row(
                &self.path,
                line,
                format!(
                    "expected {width} fields ({} PCA values + {}), found {}",
                    self.dim,
                    labels.join(", "),
                    self.record.len()
                ),
            ));
        }
        values.clear();
        for (i, field) in self.record.iter().take(self.dim).enumerate() {
            values.push(parse_value(&self.path, line, i, field)?);
        }
        let label = |j: usize| parse_label(&self.path, line, labels[j], &self.record[self.dim + j]);
        let target = label(0)?;
        let prediction = if labels.len() == 2 {
            Some(label(1)?)
        } else {
            None
        };
        self.last_start = position;
        Ok(Some(RowLabels {
            line,
            byte: self.last_start.byte(),
            target,
            prediction,
        }))
    }
}

fn csv_error(path: &Path, e: csv::Error) -> DataError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(io) => DataError::io(path, io),
        other => DataError::row(path, line, format!("{other:?}")),
    }
}

fn parse_value<T: Value>(path: &Path, line: u64, col: usize, field: &[u8]) -> Result<T, DataError> {
    let text = std::str::from_utf8(field)
        .map_err(|_| DataError::row(path, line, format!("PCA_{}: not valid UTF-8", col + 1)))?;
    let trimmed = text.trim();
    T::parse_field(trimmed).ok_or_else(|| {
        let what = if trimmed.parse::<f64>().is_ok() {
            "is not a finite number in f32 range"
        } else {
            "is not a number"
        };
        DataError::row(
            path,
            line,
            format!("PCA_{}: `{}` {what}", col + 1, truncate(text)),
        )
    })
}

fn parse_label<'a>(
    path: &Path,
    line: u64,
    name: &str,
    field: &'a [u8],
) -> Result<&'a str, DataError> {
    let text = std::str::from_utf8(field)
        .map_err(|_| DataError::row(path, line, format!("{name}: not valid UTF-8")))?;
    if text.is_empty() {
        return Err(DataError::row(path, line, format!("{name}: empty label")));
    }
    Ok(text)
}

/// The start of a long field, for a message that stays one line.
fn truncate(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(40).collect::<String>())
    }
}
