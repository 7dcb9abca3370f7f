//! One-line summaries of each report (`history.jsonl`) and their history.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::ReportError;
use crate::report::Report;

/// File name of the history inside the output directory.
pub const HISTORY_FILE: &str = "history.jsonl";

/// The headline numbers of one report, stored as one JSON line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Report time, RFC 3339 UTC.
    pub timestamp: String,
    /// Report time, ms since the Unix epoch.
    pub unix_ms: u64,
    /// Reference rows.
    pub rows_ref: usize,
    /// Production rows.
    pub rows_prod: usize,
    /// Columns tested for drift.
    pub columns: usize,
    /// Columns that drifted.
    pub drifted_columns: usize,
    /// Share of drifted columns.
    pub drift_share: f64,
    /// Share threshold in force.
    #[serde(default = "default_share")]
    pub drift_share_threshold: f64,
    /// Dataset-level drift verdict.
    pub dataset_drift: bool,
    /// Production accuracy.
    pub accuracy: f64,
    /// Production macro F1.
    pub macro_f1: f64,
    /// Production balanced accuracy.
    pub balanced_accuracy: f64,
    /// Model version label, if one was given.
    pub model_version: Option<String>,
    /// Note, if one was given (e.g. a retraining decision).
    #[serde(default)]
    pub note: Option<String>,
}

fn default_share() -> f64 {
    0.5
}

impl Snapshot {
    /// Extracts the headline numbers of a report.
    pub fn from_report(r: &Report) -> Snapshot {
        Snapshot {
            timestamp: r.generated_at.clone(),
            unix_ms: r.generated_at_unix_ms,
            rows_ref: r.reference.rows,
            rows_prod: r.production.rows,
            columns: r.drift.columns.len(),
            drifted_columns: r.drift.drifted_columns,
            drift_share: r.drift.share,
            drift_share_threshold: r.drift.drift_share,
            dataset_drift: r.drift.dataset_drift,
            accuracy: r.classification.accuracy,
            macro_f1: r.classification.macro_avg.f1,
            balanced_accuracy: r.classification.balanced_accuracy,
            model_version: r.model_version.clone(),
            note: r.note.clone(),
        }
    }

    /// The JSON line, without the trailing newline.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("a snapshot always serialises")
    }
}

/// All snapshots of an output directory, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Parsed snapshots in file order.
    pub snapshots: Vec<Snapshot>,
    /// 1-based line numbers that could not be parsed (e.g. a line torn by a crash); they are skipped.
    pub skipped_lines: Vec<usize>,
}

impl History {
    /// Loads `out_dir/history.jsonl`; a missing file is an empty history.
    pub fn load(out_dir: &Path) -> Result<History, ReportError> {
        Ok(History::parse(&read_lines(&out_dir.join(HISTORY_FILE))?))
    }

    /// Parses JSON Lines text, skipping blank and malformed lines.
    pub fn parse(text: &str) -> History {
        let mut h = History::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Snapshot>(line) {
                Ok(s) => h.snapshots.push(s),
                Err(_) => h.skipped_lines.push(i + 1),
            }
        }
        h
    }

    /// Appends one snapshot line to `out_dir/history.jsonl` and syncs it.
    ///
    /// The line is written with a single `write` on an `O_APPEND` file, so
    /// concurrent writers do not interleave within a line. A line torn by an
    /// earlier failed write (a full disk) is ended first, so that it stays a
    /// skipped line of its own instead of swallowing this one; it is not cut
    /// back, which could cut a line another writer appended meanwhile.
    pub fn append(out_dir: &Path, snapshot: &Snapshot) -> Result<(), ReportError> {
        append_line(&out_dir.join(HISTORY_FILE), &snapshot.to_json_line())
    }
}

/// The text of a JSON Lines file; a missing file is empty.
pub(crate) fn read_lines(path: &Path) -> Result<String, ReportError> {
    let mut text = String::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_string(&mut text)
                .map_err(|e| ReportError::io(path, e))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(ReportError::io(path, e)),
    }
    Ok(text)
}

/// Appends one line to a JSON Lines file and syncs it (see [`History::append`]).
pub(crate) fn append_line(path: &Path, json_line: &str) -> Result<(), ReportError> {
    let mut f = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .map_err(|e| ReportError::io(path, e))?;
    let mut line = String::new();
    if !ends_with_newline(&mut f).map_err(|e| ReportError::io(path, e))? {
        line.push('\n');
    }
    line.push_str(json_line);
    line.push('\n');
    f.write_all(line.as_bytes())
        .map_err(|e| ReportError::io(path, e))?;
    f.sync_all().map_err(|e| ReportError::io(path, e))
}

/// Whether a file is empty or ends with a newline.
fn ends_with_newline(f: &mut File) -> std::io::Result<bool> {
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    let mut last = [0u8];
    f.seek(SeekFrom::Start(len - 1))?;
    f.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// Formats milliseconds since the Unix epoch as RFC 3339 UTC with milliseconds
/// (`2024-05-01T12:00:00.000Z`).
pub fn rfc3339(unix_ms: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(unix_ms);
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(1_718_454_896_123), "2024-06-15T12:34:56.123Z");
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            timestamp: rfc3339(0),
            unix_ms: 0,
            rows_ref: 1,
            rows_prod: 2,
            columns: 3,
            drifted_columns: 1,
            drift_share: 1.0 / 3.0,
            drift_share_threshold: 0.5,
            dataset_drift: false,
            accuracy: 0.5,
            macro_f1: 0.4,
            balanced_accuracy: 0.45,
            model_version: Some("v1".into()),
            note: None,
        }
    }

    #[test]
    fn history_skips_torn_lines() {
        let s = snapshot();
        let text = format!("{}\n\n{}\n{{\"timesta", s.to_json_line(), s.to_json_line());
        let h = History::parse(&text);
        assert_eq!(h.snapshots, vec![s.clone(), s]);
        assert_eq!(h.skipped_lines, vec![4]);
    }

    #[test]
    fn an_append_after_a_torn_line_keeps_its_own_line() {
        let dir = tempfile::tempdir().unwrap();
        let s = snapshot();
        History::append(dir.path(), &s).unwrap();
        // What a write cut short by a full disk leaves.
        let path = dir.path().join(HISTORY_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"timesta").unwrap();
        History::append(dir.path(), &s).unwrap();
        let h = History::load(dir.path()).unwrap();
        assert_eq!(h.snapshots, vec![s.clone(), s]);
        assert_eq!(h.skipped_lines, vec![2]);
    }
}
