//! The append-only production log (`prod_data.csv`) and its key ledger.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::columns::ColumnTable;
use crate::durable::{cut_back, cut_torn_tail, open_for_append, start_log};
use crate::rows::{collect_rows, header_bytes, row_bytes};
use crate::{DataError, LabeledRow, Table, TableKind, TableReader};

/// The append-only production log (`prod_data.csv`): one writer, each row written whole and
/// fsynced before the call returns, and a torn last line from a crash cut off at open.
///
/// An append that fails (disk full, I/O error) cuts the file back to its last stored row, so the
/// next row never lands glued to a part of this one; when even that fails, the log takes no row
/// until a later append manages the cut first. Readers see the stored rows only
/// ([`FeedbackLog::read_table`], [`FeedbackLog::read_columns`]).
///
/// A row may be stored under a key ([`FeedbackLog::append_keyed`]): a prediction id, so that one
/// prediction becomes at most one row. The keys live in a ledger beside the log
/// (`prod_data.keys.csv`, `key,row`), written before the row under the same lock; an entry whose
/// row never made it to the log (a crash or a failed append in between) is cut off at open or at
/// once, so a key is taken exactly when its row is stored.
#[derive(Debug)]
pub struct FeedbackLog {
    path: PathBuf,
    dim: usize,
    state: Mutex<LogState>,
    /// The distinct targets of the rows the log held when it was opened, sorted.
    targets_at_open: Vec<String>,
}

#[derive(Debug)]
struct LogState {
    file: File,
    rows: u64,
    /// Bytes holding the header and the stored (written and synced) rows: where the next row
    /// starts, and where a failed append is cut back to.
    stored: u64,
    /// A failed append could not be cut back: past `stored`, the file may hold part of a row.
    damaged: bool,
    keys: KeyLedger,
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
        let mut file = open_for_append(path).map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        let (rows, targets_at_open) = if len == 0 {
            start_log(&mut file, path, &header_bytes(TableKind::Production, dim))
                .map_err(io_err)?;
            (0, Vec::new())
        } else {
            cut_torn_tail(&mut file, len).map_err(io_err)?;
            let scan = scan_rows(path, dim)?;
            check_appendable(path, &mut file, &scan.last_start, dim)?;
            (scan.rows, scan.targets.into_iter().collect())
        };
        let stored = file.metadata().map_err(io_err)?.len();
        let keys = KeyLedger::open(&KeyLedger::path_for(path), rows)?;
        Ok(Self {
            path: path.to_path_buf(),
            dim,
            state: Mutex::new(LogState {
                file,
                rows,
                stored,
                damaged: false,
                keys,
            }),
            targets_at_open,
        })
    }

    /// The distinct targets of the rows the log held when it was opened, sorted: what the server
    /// needs at start-up without reading the file a second time.
    pub fn targets_at_open(&self) -> &[String] {
        &self.targets_at_open
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
        // A panic while holding the lock cannot leave a half row unnoticed (`stored` only moves
        // once a row is synced), so a poisoned lock is still safe to use.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends one production row durably and returns the row count after it. The count comes
    /// from the writer, so no two appends ever see the same number.
    ///
    /// A write or sync that fails gives [`DataError::Append`] and leaves the file as it was
    /// before the call (see the type's documentation).
    pub fn append(&self, row: &LabeledRow) -> Result<u64, DataError> {
        self.append_row(row, None)
    }

    /// Appends one production row stored under `key` (see the type's documentation) and returns
    /// the row count after it; a key stored already gives [`DataError::DuplicateKey`] and stores
    /// nothing. Keys are 1 to [`MAX_KEY_BYTES`] bytes of ASCII letters, digits, `-`, `_`, `.`
    /// and `:`.
    pub fn append_keyed(&self, row: &LabeledRow, key: &str) -> Result<u64, DataError> {
        validate_key(key)?;
        self.append_row(row, Some(key))
    }

    /// Every stored key with its row, in row order.
    pub fn keys(&self) -> Vec<(u64, String)> {
        let mut keys: Vec<(u64, String)> = self
            .lock()
            .keys
            .rows
            .iter()
            .map(|(k, &row)| (row, k.clone()))
            .collect();
        keys.sort_unstable();
        keys
    }

    /// The row stored under `key`, if any (1-based).
    pub fn keyed_row(&self, key: &str) -> Option<u64> {
        self.lock().keys.rows.get(key).copied()
    }

    fn append_row(&self, row: &LabeledRow, key: Option<&str>) -> Result<u64, DataError> {
        crate::store::check_production_row(row, self.dim, |reason| {
            DataError::row(&self.path, 0, reason)
        })?;
        let bytes = row_bytes(row);
        let mut state = self.lock();
        if let Some(&stored_as) = key.and_then(|k| state.keys.rows.get(k)) {
            return Err(DataError::DuplicateKey {
                key: key.unwrap_or_default().to_string(),
                row: stored_as,
            });
        }
        if state.damaged {
            self.repair(&mut state)
                .map_err(|source| self.append_error(source, false))?;
        }
        let next = state.rows + 1;
        if let Some(k) = key {
            state
                .keys
                .write(k, next)
                .map_err(|(source, rolled_back)| self.append_error(source, rolled_back))?;
        }
        let written = state
            .file
            .write_all(&bytes)
            .and_then(|()| state.file.sync_data());
        if let Err(source) = written {
            // Whether or not the row reached the disk, it was not acknowledged: take it out so
            // that the file holds exactly the acknowledged rows.
            let rolled_back = cut_back(&state.file, state.stored).is_ok();
            state.damaged = !rolled_back;
            // The key goes with its row; if its entry cannot be cut either, the next open drops
            // it (its row number is past the log's rows).
            if key.is_some() {
                state.keys.undo_last();
            }
            return Err(self.append_error(source, rolled_back));
        }
        state.stored += bytes.len() as u64;
        state.rows = next;
        if let Some(k) = key {
            state.keys.commit(k, next);
        }
        Ok(next)
    }

    fn append_error(&self, source: std::io::Error, rolled_back: bool) -> DataError {
        DataError::Append {
            path: self.path.clone(),
            source,
            rolled_back,
        }
    }

    /// Cuts a damaged log back to its stored rows, through a new descriptor (the old one may be
    /// the one the error stuck to).
    fn repair(&self, state: &mut LogState) -> std::io::Result<()> {
        let file = open_for_append(&self.path)?;
        if file.metadata()?.len() < state.stored {
            // Only someone else could have shortened it; lengthening would add zeros.
            return Err(std::io::Error::other(
                "the log is shorter than its stored rows",
            ));
        }
        cut_back(&file, state.stored)?;
        state.file = file;
        state.damaged = false;
        Ok(())
    }

    /// The header and the stored rows, without what an append under way or a failed one left
    /// past them.
    fn stored_bytes(&self) -> Result<(std::io::Take<File>, u64), DataError> {
        let stored = self.lock().stored;
        let file = File::open(&self.path).map_err(|e| DataError::io(&self.path, e))?;
        Ok((file.take(stored), stored))
    }

    /// Reads the stored rows.
    pub fn read_table(&self) -> Result<Table, DataError> {
        let (bytes, _) = self.stored_bytes()?;
        collect_rows(TableReader::new(
            &self.path,
            bytes,
            Some(TableKind::Production),
        )?)
    }

    /// Row `n` (1-based) of the stored rows, if there is one: a scan from the start (the log
    /// keeps no index; this is for the rare replay of an idempotent request).
    pub fn row(&self, n: u64) -> Result<Option<LabeledRow>, DataError> {
        if n == 0 || n > self.rows() {
            return Ok(None);
        }
        let (bytes, _) = self.stored_bytes()?;
        let mut reader = TableReader::new(&self.path, bytes, Some(TableKind::Production))?;
        let mut vector = Vec::with_capacity(self.dim);
        for _ in 1..n {
            if reader.next_row(&mut vector)?.is_none() {
                return Ok(None);
            }
        }
        Ok(reader.next_row(&mut vector)?.map(|labels| LabeledRow {
            vector: vector.clone(),
            target: labels.target.to_owned(),
            prediction: labels.prediction.map(str::to_owned),
        }))
    }

    /// Reads the stored rows as columns, naming the table `name` in errors and reports.
    pub fn read_columns(&self, name: impl Into<PathBuf>) -> Result<ColumnTable, DataError> {
        let (bytes, len) = self.stored_bytes()?;
        let reader = TableReader::new(&name.into(), bytes, Some(TableKind::Production))?;
        ColumnTable::read_from(reader, len)
    }
}

/// Longest key [`FeedbackLog::append_keyed`] takes.
pub const MAX_KEY_BYTES: usize = 128;

/// Checks a key for [`FeedbackLog::append_keyed`] (and any other store's keyed append).
pub fn validate_key(key: &str) -> Result<(), DataError> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':');
    if key.is_empty() || key.len() > MAX_KEY_BYTES || !key.bytes().all(allowed) {
        return Err(DataError::Label(format!(
            "a key is 1 to {MAX_KEY_BYTES} ASCII letters, digits, '-', '_', '.' or ':'"
        )));
    }
    Ok(())
}

/// The true label of every keyed row of the feedback log at `log` (`prediction_id` -> target),
/// read only: what a report joins to the prediction log to measure realised accuracy. A log
/// without a key ledger has none; a ledger line past the log's rows (an append that never
/// completed) or unreadable is skipped.
pub fn keyed_targets(log: &Path) -> Result<HashMap<String, String>, DataError> {
    let ledger = KeyLedger::path_for(log);
    let text = match std::fs::read_to_string(&ledger) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(DataError::io(&ledger, e)),
    };
    let rows = crate::read_table(log)?.rows;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let (key, row) = line.split_once(',')?;
            let row: usize = row.parse().ok()?;
            let target = &rows.get(row.checked_sub(1)?)?.target;
            Some((key.to_string(), target.clone()))
        })
        .collect())
}

/// The keys of keyed rows: `key,row` lines, appended and synced before their row.
#[derive(Debug)]
struct KeyLedger {
    file: File,
    /// Bytes of the header and the entries whose rows are stored.
    stored: u64,
    /// Bytes of the entry written for the append under way, not yet committed.
    pending: u64,
    /// An entry could not be cut back: it must go before another is written after it.
    damaged: bool,
    rows: HashMap<String, u64>,
}

impl KeyLedger {
    /// `prod_data.csv` -> `prod_data.keys.csv`.
    fn path_for(log: &Path) -> PathBuf {
        let stem = log
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        log.with_file_name(format!("{stem}.keys.csv"))
    }

    /// Opens (or creates) the ledger of a log holding `log_rows` rows; entries for rows past
    /// them, and a torn last line, are cut off.
    fn open(path: &Path, log_rows: u64) -> Result<Self, DataError> {
        let io_err = |e| DataError::io(path, e);
        let mut file = open_for_append(path).map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        if len == 0 {
            start_log(&mut file, path, KEY_HEADER).map_err(io_err)?;
        } else {
            cut_torn_tail(&mut file, len).map_err(io_err)?;
        }
        let mut text = String::new();
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        file.read_to_string(&mut text).map_err(io_err)?;
        let mut lines = text.split_inclusive('\n');
        if lines.next().map(str::as_bytes) != Some(KEY_HEADER) {
            return Err(DataError::Header {
                path: path.to_path_buf(),
                expected: "key,row".into(),
                reason: "this is not a key ledger".into(),
            });
        }
        let mut rows = HashMap::new();
        let mut stored = KEY_HEADER.len() as u64;
        for (i, line) in lines.enumerate() {
            let bad = || DataError::row(path, i as u64 + 2, "expected `key,row`");
            let (key, row) = line.trim_end().split_once(',').ok_or_else(bad)?;
            let row: u64 = row.parse().map_err(|_| bad())?;
            if row > log_rows {
                // Written before a row that never got stored: entries go in row order, so the
                // rest are of the same kind.
                break;
            }
            rows.insert(key.to_string(), row);
            stored += line.len() as u64;
        }
        if stored < file.metadata().map_err(io_err)?.len() {
            cut_back(&file, stored).map_err(io_err)?;
        }
        Ok(Self {
            file,
            stored,
            pending: 0,
            damaged: false,
            rows,
        })
    }

    /// Writes and syncs the entry of the append under way; on failure, cuts it back and tells
    /// whether that worked.
    fn write(&mut self, key: &str, row: u64) -> Result<(), (std::io::Error, bool)> {
        if self.damaged {
            cut_back(&self.file, self.stored).map_err(|e| (e, false))?;
            self.damaged = false;
        }
        let entry = format!("{key},{row}\n");
        let written = self
            .file
            .write_all(entry.as_bytes())
            .and_then(|()| self.file.sync_data());
        match written {
            Ok(()) => {
                self.pending = entry.len() as u64;
                Ok(())
            }
            Err(e) => Err((e, self.undo_last())),
        }
    }

    /// Cuts the entry of a failed append back off; false if that failed too (the next open
    /// drops it).
    fn undo_last(&mut self) -> bool {
        self.pending = 0;
        self.damaged = cut_back(&self.file, self.stored).is_err();
        !self.damaged
    }

    fn commit(&mut self, key: &str, row: u64) {
        self.stored += self.pending;
        self.pending = 0;
        self.rows.insert(key.to_string(), row);
    }
}

const KEY_HEADER: &[u8] = b"key,row\n";

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
    let probe = row_bytes(&probe);
    let records = |bytes: &[u8]| -> Vec<csv::ByteRecord> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes)
            .byte_records()
            .collect::<Result<_, _>>()
            .unwrap_or_default()
    };
    let expected = records(&probe);
    tail.extend_from_slice(&probe);
    match records(&tail).as_slice() {
        [_, last] if expected.first() == Some(last) => Ok(()),
        _ => Err(DataError::Row {
            path: path.to_path_buf(),
            line: last_start.line(),
            reason: "this last record leaves a quoted field open, so a row appended after it \
                     would be swallowed; repair the file by hand"
                .into(),
        }),
    }
}

/// Reads the existing log through the one table reader: its row count and where its last record
/// starts.
/// What one pass over an existing log finds.
struct LogScan {
    rows: u64,
    /// Where the last record starts.
    last_start: csv::Position,
    targets: BTreeSet<String>,
}

fn scan_rows(path: &Path, dim: usize) -> Result<LogScan, DataError> {
    let mut reader = TableReader::open(path, Some(TableKind::Production))?;
    if reader.dim() != dim {
        return Err(DataError::Header {
            path: path.to_path_buf(),
            expected: format!("a production table with {dim} PCA columns"),
            reason: format!("it has {}", reader.dim()),
        });
    }
    let mut rows = 0u64;
    let mut targets = BTreeSet::new();
    let mut vector: Vec<f32> = Vec::with_capacity(dim);
    while let Some(labels) = reader.next_row(&mut vector)? {
        rows += 1;
        if !targets.contains(labels.target) {
            targets.insert(labels.target.to_owned());
        }
    }
    Ok(LogScan {
        rows,
        last_start: reader.last_start().clone(),
        targets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_table;
    use std::fs::OpenOptions;

    fn row(v: f32, t: &str, p: Option<&str>) -> LabeledRow {
        LabeledRow {
            vector: vec![v, -v],
            target: t.into(),
            prediction: p.map(Into::into),
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
        assert_eq!(
            log.targets_at_open(),
            ["a", "c,d"],
            "the torn row's target is not counted"
        );
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
    fn readers_see_the_stored_rows_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prod.csv");
        let log = FeedbackLog::open(&path, 2).unwrap();
        log.append(&row(1.0, "a", Some("b"))).unwrap();
        // What an append under way, or a failed one not yet cut back, leaves past the stored rows.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"3,-3,tor").unwrap();
        let t = log.read_table().unwrap();
        assert_eq!((t.rows.len(), t.rows[0].target.as_str()), (1, "a"));
        let c = log.read_columns("prod.csv").unwrap();
        assert_eq!((c.rows(), c.path()), (1, Path::new("prod.csv")));
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

    #[test]
    fn a_key_stores_one_row_across_restarts_and_an_orphan_entry_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prod.csv");
        let log = FeedbackLog::open(&path, 2).unwrap();
        log.append(&row(1.0, "a", Some("a"))).unwrap();
        assert_eq!(
            log.append_keyed(&row(2.0, "b", Some("a")), "p-1").unwrap(),
            2
        );
        let again = log.append_keyed(&row(3.0, "c", Some("a")), "p-1");
        assert!(
            matches!(again, Err(DataError::DuplicateKey { row: 2, .. })),
            "{again:?}"
        );
        assert!(log.append_keyed(&row(3.0, "c", Some("a")), "a,b").is_err());
        assert_eq!((log.rows(), log.keyed_row("p-1")), (2, Some(2)));
        drop(log);
        // A crash after the ledger entry and before its row: the entry names row 3, which the
        // log never got, plus a torn line.
        let keys = dir.path().join("prod.keys.csv");
        let mut f = OpenOptions::new().append(true).open(&keys).unwrap();
        f.write_all(b"p-2,3\np-3,").unwrap();
        drop(f);
        let log = FeedbackLog::open(&path, 2).unwrap();
        assert_eq!(log.keyed_row("p-1"), Some(2), "a stored key was forgotten");
        assert_eq!(log.keyed_row("p-2"), None, "an orphan entry took its key");
        assert_eq!(std::fs::read_to_string(&keys).unwrap(), "key,row\np-1,2\n");
        assert_eq!(
            log.append_keyed(&row(4.0, "d", Some("a")), "p-2").unwrap(),
            3
        );
        assert!(log.append_keyed(&row(4.0, "d", Some("a")), "p-1").is_err());
        assert_eq!(read_table(&path).unwrap().rows.len(), 3);
        drop(log);
        // Read only, the keys give their rows' true labels (the unkeyed row has none).
        let targets = keyed_targets(&path).unwrap();
        assert_eq!(targets.len(), 2);
        assert_eq!(
            (targets["p-1"].as_str(), targets["p-2"].as_str()),
            ("b", "d")
        );
        assert!(keyed_targets(&dir.path().join("none.csv"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn one_key_sent_from_many_threads_at_once_stores_one_row() {
        let dir = tempfile::tempdir().unwrap();
        let log = FeedbackLog::open(&dir.path().join("prod.csv"), 2).unwrap();
        let stored = std::thread::scope(|s| {
            let log = &log;
            let tries: Vec<_> = (0..8)
                .map(|i| s.spawn(move || log.append_keyed(&row(i as f32, "a", Some("a")), "k")))
                .collect();
            tries
                .into_iter()
                .filter_map(|t| t.join().ok())
                .filter(Result::is_ok)
                .count()
        });
        assert_eq!((stored, log.rows()), (1, 1));
    }
}
