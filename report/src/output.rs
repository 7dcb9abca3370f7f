//! Writing a report's files into an output directory.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::ReportError;
use crate::html::render_dashboard;
use crate::report::Report;
use crate::snapshot::{History, Snapshot, HISTORY_FILE};

/// File names inside the output directory.
pub const REPORT_HTML: &str = "report.html";
/// See [`REPORT_HTML`].
pub const REPORT_JSON: &str = "report.json";
/// See [`REPORT_HTML`].
pub const DASHBOARD_HTML: &str = "dashboard.html";

/// Paths written by [`write_outputs`].
#[derive(Debug, Clone)]
pub struct Outputs {
    /// `report.html`
    pub report_html: PathBuf,
    /// `report.json`
    pub report_json: PathBuf,
    /// `history.jsonl`
    pub history: PathBuf,
    /// `dashboard.html`
    pub dashboard_html: PathBuf,
    /// The line appended to the history.
    pub snapshot: Snapshot,
    /// Number of snapshots in the history after appending.
    pub history_len: usize,
}

/// Writes `report.html` and `report.json` atomically, appends the snapshot
/// to `history.jsonl`, and rewrites `dashboard.html` from the whole history.
///
/// Creates `out_dir` if needed. Readers (e.g. a web server serving the
/// directory) never see a half-written page: each file is written to a
/// temporary file in the same directory, synced, then renamed over the old one.
pub fn write_outputs(report: &Report, out_dir: &Path) -> Result<Outputs, ReportError> {
    fs::create_dir_all(out_dir).map_err(|e| ReportError::io(out_dir, e))?;
    let report_json = out_dir.join(REPORT_JSON);
    let report_html = out_dir.join(REPORT_HTML);
    let dashboard_html = out_dir.join(DASHBOARD_HTML);
    write_atomic(&report_json, report.to_json().as_bytes())?;
    write_atomic(&report_html, report.to_html().as_bytes())?;
    let snapshot = report.snapshot();
    History::append(out_dir, &snapshot)?;
    let history = History::load(out_dir)?;
    write_atomic(&dashboard_html, render_dashboard(&history).as_bytes())?;
    Ok(Outputs {
        report_html,
        report_json,
        history: out_dir.join(HISTORY_FILE),
        dashboard_html,
        snapshot,
        history_len: history.snapshots.len(),
    })
}

/// Replaces `path` with `bytes` atomically and durably (the workspace's one
/// [`tympan_data::durable::write_atomic`]).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    tympan_data::durable::write_atomic(path, bytes).map_err(|e| ReportError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn atomic_write_names_the_file_it_could_not_write() {
        // A regular file where the directory should be: fails even for root.
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("x");
        fs::write(&blocker, b"").unwrap();
        let target = blocker.join("a.txt");
        let e = write_atomic(&target, b"x").unwrap_err();
        assert!(e.to_string().contains(&target.display().to_string()), "{e}");
    }
}
