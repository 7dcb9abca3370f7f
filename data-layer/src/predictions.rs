//! The prediction log (`predictions.csv`): what the server answered, one row per logged
//! prediction, never the audio.
//!
//! Layout: `prediction_id,time,model_version,duration_seconds,prediction,confidence,
//! probabilities,PCA_1..PCA_n`, with `time` in RFC 3339 (UTC, milliseconds), `duration_seconds`
//! empty for a vector sent by the client and `probabilities` a JSON object (class -> probability)
//! in one field. Rows are appended in batches, each written whole and synced; a batch that fails
//! is cut back off, a torn last line from a crash is cut off at open. Past a size cap the file is
//! rotated (`predictions.csv.1`, `.2`, ...).

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use serde::ser::{SerializeMap, Serializer};

use crate::durable::{cut_back, cut_torn_tail, open_for_append, start_log, sync_dir};
use crate::DataError;

/// The prediction log's file name in the data folder.
pub const PREDICTIONS_FILE: &str = "predictions.csv";

/// The columns before the vector.
pub const PREDICTION_COLUMNS: [&str; 7] = [
    "prediction_id",
    "time",
    "model_version",
    "duration_seconds",
    "prediction",
    "confidence",
    "probabilities",
];

/// A prediction's id: 128 bits, written as 32 lowercase hexadecimal digits (a UUID's simple
/// form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PredictionId(pub u128);

impl std::fmt::Display for PredictionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl std::str::FromStr for PredictionId {
    type Err = String;

    /// Exactly 32 hexadecimal digits (either case).
    fn from_str(s: &str) -> Result<Self, String> {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{s:?} is not 32 hexadecimal digits"));
        }
        u128::from_str_radix(s, 16)
            .map(PredictionId)
            .map_err(|e| e.to_string())
    }
}

/// One answered prediction. What many predictions share (the model's classes and version, the
/// vector kept for feedback by id) is shared, not copied: a server builds one per answer.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRecord {
    /// The id the client was given.
    pub id: PredictionId,
    /// When it was answered.
    pub time: SystemTime,
    /// The model that answered.
    pub model_version: Arc<str>,
    /// Duration of the clip (none for a vector sent by the client).
    pub duration_seconds: Option<f64>,
    /// The model's classes.
    pub classes: Arc<[String]>,
    /// The probability of each class, in the order of `classes`.
    pub probabilities: Arc<[f32]>,
    /// Index of the answered class in `classes`.
    pub predicted: usize,
    /// The clip's `PCA_1..PCA_n` vector.
    pub vector: Arc<[f32]>,
}

impl PredictionRecord {
    /// The label answered.
    pub fn prediction(&self) -> &str {
        self.classes.get(self.predicted).map_or("", String::as_str)
    }

    /// The answered label's probability.
    pub fn confidence(&self) -> f32 {
        self.probabilities
            .get(self.predicted)
            .copied()
            .unwrap_or(0.0)
    }

    /// Appends the record's row to `out`. The vector's values go straight into it, not through
    /// a CSV writer: ryu's digits never need quoting, and the writer's check of every field for
    /// quotes and separators cost as much as the formatting itself (the log's writer spends this
    /// per answer, on the cores that answer).
    fn write_csv(&self, out: Vec<u8>, digits: &mut ryu::Buffer) -> csv::Result<Vec<u8>> {
        let mut w = csv::WriterBuilder::new()
            .buffer_capacity(1024)
            .from_writer(out);
        w.write_field(self.id.to_string())?;
        w.write_field(humantime::format_rfc3339_millis(self.time).to_string())?;
        w.write_field(&*self.model_version)?;
        match self.duration_seconds {
            Some(d) => w.write_field(digits.format(d))?,
            None => w.write_field("")?,
        }
        w.write_field(self.prediction())?;
        w.write_field(digits.format(self.confidence()))?;
        w.write_field(probabilities_json(&self.classes, &self.probabilities))?;
        // The record is ended (a quoted field is closed only then), and its terminator, a
        // newline, taken back for the values to follow.
        w.write_record(None::<&[u8]>)?;
        let mut out = w
            .into_inner()
            .map_err(|e| csv::Error::from(e.into_error()))?;
        debug_assert_eq!(out.last(), Some(&b'\n'));
        out.pop();
        // The same text as `write_vector` gives a table row, so feedback by id stores it byte
        // for byte.
        for v in self.vector.iter() {
            out.push(b',');
            out.extend_from_slice(digits.format(*v).as_bytes());
        }
        out.push(b'\n');
        Ok(out)
    }
}

fn probabilities_json(classes: &[String], probabilities: &[f32]) -> String {
    let mut out = Vec::with_capacity(probabilities.len() * 24);
    let mut ser = serde_json::Serializer::new(&mut out);
    let mut map = ser
        .serialize_map(Some(probabilities.len()))
        .expect("in-memory JSON");
    for (class, p) in classes.iter().zip(probabilities) {
        map.serialize_entry(class, p).expect("in-memory JSON");
    }
    map.end().expect("in-memory JSON");
    String::from_utf8(out).expect("JSON is UTF-8")
}

fn header_bytes(dim: usize) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let columns = PREDICTION_COLUMNS
        .iter()
        .map(|c| c.to_string())
        .chain((1..=dim).map(|i| format!("PCA_{i}")));
    w.write_record(columns).expect("in-memory write");
    w.into_inner().expect("in-memory flush")
}

/// Where the log rotates and how many old files it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// A file grows to at most this many bytes (one batch may pass it when the file is new).
    pub max_bytes: u64,
    /// Rotated files kept (`.1` is the newest); 0 drops the old rows at rotation.
    pub keep: usize,
}

/// The writer of the prediction log; one per log, used from one thread.
#[derive(Debug)]
pub struct PredictionFile {
    path: PathBuf,
    dim: usize,
    rotation: Rotation,
    file: File,
    /// Bytes of the header and the stored rows.
    stored: u64,
    /// Bytes of the header alone.
    header_len: u64,
    /// The text of a batch, kept between batches: a buffer of a megabyte made and freed at every
    /// batch goes to and from the kernel (mmap, munmap) and stalls the other threads.
    text: Vec<u8>,
}

impl PredictionFile {
    /// Opens (or creates) the log for vectors of length `dim`. A log written for another layout
    /// or width (another embedding) is rotated aside, not appended to.
    pub fn open(path: &Path, dim: usize, rotation: Rotation) -> Result<Self, DataError> {
        let io_err = |e| DataError::io(path, e);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(io_err)?;
        }
        let header = header_bytes(dim);
        let mut file = open_for_append(path).map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        if len > 0 {
            cut_torn_tail(&mut file, len).map_err(io_err)?;
            if !starts_with(path, &header).map_err(io_err)? {
                drop(file);
                rotate_files(path, rotation.keep).map_err(io_err)?;
                file = open_for_append(path).map_err(io_err)?;
            }
        }
        let mut log = Self {
            path: path.to_path_buf(),
            dim,
            rotation,
            stored: file.metadata().map_err(io_err)?.len(),
            header_len: header.len() as u64,
            file,
            text: Vec::new(),
        };
        if log.stored == 0 {
            log.write_header().map_err(io_err)?;
        }
        Ok(log)
    }

    /// Path of the log.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_header(&mut self) -> std::io::Result<()> {
        let header = header_bytes(self.dim);
        start_log(&mut self.file, &self.path, &header)?;
        self.stored = header.len() as u64;
        Ok(())
    }

    /// Appends `records` as one write, synced; rotates first when they would take the file past
    /// the cap. On failure the file is cut back to its stored rows and nothing of the batch
    /// stays.
    pub fn append(&mut self, records: &[PredictionRecord]) -> Result<(), DataError> {
        if let Some(r) = records.iter().find(|r| r.vector.len() != self.dim) {
            return Err(DataError::row(
                &self.path,
                0,
                format!(
                    "prediction {} has {} values, the log takes {}",
                    r.id,
                    r.vector.len(),
                    self.dim
                ),
            ));
        }
        let mut bytes = std::mem::take(&mut self.text);
        bytes.clear();
        let mut digits = ryu::Buffer::new();
        for r in records {
            bytes = r.write_csv(bytes, &mut digits).expect("in-memory write");
        }
        let result = self.append_bytes(&bytes);
        self.text = bytes;
        result
    }

    fn append_bytes(&mut self, bytes: &[u8]) -> Result<(), DataError> {
        if self.stored > self.header_len
            && self.stored + bytes.len() as u64 > self.rotation.max_bytes
        {
            self.rotate().map_err(|e| DataError::io(&self.path, e))?;
        }
        let written = self
            .file
            .write_all(bytes)
            .and_then(|()| self.file.sync_data());
        if let Err(source) = written {
            let rolled_back = cut_back(&self.file, self.stored).is_ok();
            return Err(DataError::Append {
                path: self.path.clone(),
                source,
                rolled_back,
            });
        }
        self.stored += bytes.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        rotate_files(&self.path, self.rotation.keep)?;
        self.file = open_for_append(&self.path)?;
        self.stored = 0;
        self.write_header()
    }
}

fn starts_with(path: &Path, header: &[u8]) -> std::io::Result<bool> {
    let mut head = vec![0; header.len()];
    let mut file = File::open(path)?;
    let mut read = 0;
    while read < head.len() {
        match file.read(&mut head[read..])? {
            0 => return Ok(false),
            n => read += n,
        }
    }
    Ok(head == header)
}

/// Shifts `path.1..path.(keep-1)` up by one, moves `path` to `path.1` (or removes it when
/// `keep` is 0) and syncs the folder.
fn rotate_files(path: &Path, keep: usize) -> std::io::Result<()> {
    let numbered = |i: usize| {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{i}"));
        PathBuf::from(name)
    };
    if keep == 0 {
        fs::remove_file(path)?;
    } else {
        for i in (1..keep).rev() {
            if numbered(i).exists() {
                fs::rename(numbered(i), numbered(i + 1))?;
            }
        }
        fs::rename(path, numbered(1))?;
    }
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => sync_dir(dir),
        None => sync_dir(Path::new(".")),
    }
}

/// Reads a prediction log row by row, calling `visit` for each; returns the vector length.
/// Errors name the file and the line.
pub fn read_predictions(
    path: &Path,
    mut visit: impl FnMut(PredictionRecord),
) -> Result<usize, DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(std::io::BufReader::new(file));
    let header = reader
        .headers()
        .map_err(|e| DataError::row(path, 1, e.to_string()))?
        .clone();
    let dim = prediction_header_dim(path, &header)?;
    let mut record = csv::StringRecord::new();
    let mut line = 1u64;
    loop {
        let more = reader
            .read_record(&mut record)
            .map_err(|e| DataError::row(path, line + 1, e.to_string()))?;
        if !more {
            break;
        }
        line = record.position().map_or(line + 1, |p| p.line());
        visit(parse_record(&record, dim).map_err(|reason| DataError::row(path, line, reason))?);
    }
    Ok(dim)
}

fn prediction_header_dim(path: &Path, header: &csv::StringRecord) -> Result<usize, DataError> {
    let fields: Vec<&str> = header.iter().collect();
    let fixed = PREDICTION_COLUMNS.len();
    let vector_ok = fields
        .iter()
        .skip(fixed)
        .enumerate()
        .all(|(i, f)| *f == format!("PCA_{}", i + 1));
    if fields.len() <= fixed || fields[..fixed] != PREDICTION_COLUMNS || !vector_ok {
        return Err(DataError::Header {
            path: path.to_path_buf(),
            expected: format!("{},PCA_1,...,PCA_n", PREDICTION_COLUMNS.join(",")),
            reason: "this is not a prediction log".into(),
        });
    }
    Ok(fields.len() - fixed)
}

fn parse_record(record: &csv::StringRecord, dim: usize) -> Result<PredictionRecord, String> {
    let fixed = PREDICTION_COLUMNS.len();
    if record.len() != fixed + dim {
        return Err(format!(
            "{} fields, the header has {}",
            record.len(),
            fixed + dim
        ));
    }
    let time = humantime::parse_rfc3339(&record[1]).map_err(|e| format!("time: {e}"))?;
    let duration_seconds = match &record[3] {
        "" => None,
        d => Some(d.parse().map_err(|_| format!("duration_seconds: {d:?}"))?),
    };
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&record[6]).map_err(|e| format!("probabilities: {e}"))?;
    let mut classes = Vec::with_capacity(map.len());
    let mut probabilities = Vec::with_capacity(map.len());
    for (class, p) in map {
        let p = p
            .as_f64()
            .ok_or_else(|| format!("probability of {class} is not a number"))?;
        classes.push(class);
        probabilities.push(p as f32);
    }
    let predicted = classes
        .iter()
        .position(|c| *c == record[4])
        .ok_or_else(|| format!("prediction {:?} is not among the probabilities", &record[4]))?;
    let vector = record
        .iter()
        .skip(fixed)
        .map(|v| v.parse::<f32>().ok().filter(|x| x.is_finite()))
        .collect::<Option<Vec<f32>>>()
        .ok_or("a PCA value is not a finite number")?;
    Ok(PredictionRecord {
        id: record[0]
            .parse()
            .map_err(|e| format!("prediction_id: {e}"))?,
        time,
        model_version: record[2].into(),
        duration_seconds,
        classes: classes.into(),
        probabilities: probabilities.into(),
        predicted,
        vector: vector.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn record(id: u128, v: f32) -> PredictionRecord {
        PredictionRecord {
            id: PredictionId(id),
            time: SystemTime::UNIX_EPOCH + Duration::from_millis(1_765_000_000_123),
            model_version: "v3".into(),
            duration_seconds: (v > 0.0).then_some(0.5),
            classes: vec!["a".to_string(), "b,\"c\"".to_string()].into(),
            probabilities: vec![0.25, 0.75].into(),
            predicted: 1,
            vector: vec![v, -v / 3.0].into(),
        }
    }

    fn read_all(path: &Path) -> Vec<PredictionRecord> {
        let mut out = Vec::new();
        read_predictions(path, |r| out.push(r)).unwrap();
        out
    }

    /// A log of `dim`-value vectors in a new folder (kept alive by the returned guard), rotated
    /// at 1 MiB.
    fn new_log(dim: usize, keep: usize) -> (tempfile::TempDir, PathBuf, Rotation, PredictionFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PREDICTIONS_FILE);
        let rotation = Rotation {
            max_bytes: 1 << 20,
            keep,
        };
        let log = PredictionFile::open(&path, dim, rotation).unwrap();
        (dir, path, rotation, log)
    }

    #[test]
    fn records_read_back_exactly_and_a_torn_tail_is_cut() {
        let (_dir, path, rotation, mut log) = new_log(2, 2);
        let batch = [record(1, 1.0), record(u128::MAX, -0.1)];
        log.append(&batch).unwrap();
        assert!(log.append(&[record(3, 0.0), record(4, 1.0)]).is_ok());
        let mut short = record(5, 1.0);
        short.vector = vec![1.0].into();
        assert!(log.append(&[short]).is_err(), "a short vector was logged");
        drop(log);
        let mut f = open_for_append(&path).unwrap();
        f.write_all(b"p5,2026-").unwrap();
        drop(f);
        let log = PredictionFile::open(&path, 2, rotation).unwrap();
        drop(log);
        let back = read_all(&path);
        assert_eq!(back.len(), 4);
        assert_eq!(
            back[..2],
            batch,
            "a record changed on its way through the file"
        );
        assert_eq!(
            (back[0].confidence(), back[0].prediction()),
            (0.75, "b,\"c\"")
        );
        assert_eq!(back[1].id.to_string(), "f".repeat(32));
    }

    #[test]
    fn a_logged_vector_is_the_text_a_table_row_gives_it() {
        let (_dir, path, _, mut log) = new_log(3, 1);
        let mut r = record(7, 1.0);
        r.vector = vec![1e-7, -123_456.78, 0.1].into();
        log.append(std::slice::from_ref(&r)).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let row = text.lines().nth(1).unwrap();
        let mut w = csv::Writer::from_writer(Vec::new());
        crate::rows::write_vector(&mut w, &r.vector).unwrap();
        w.write_record(None::<&[u8]>).unwrap();
        let table = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert!(
            row.ends_with(&format!(",{}", table.trim_end())),
            "{row} / {table}"
        );
    }

    #[test]
    fn the_log_rotates_at_its_cap_and_keeps_that_many_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PREDICTIONS_FILE);
        let rotation = Rotation {
            max_bytes: 600,
            keep: 2,
        };
        let mut log = PredictionFile::open(&path, 2, rotation).unwrap();
        for i in 0..20 {
            log.append(&[record(i, i as f32 + 1.0)]).unwrap();
        }
        let sizes: Vec<u64> = [PathBuf::from(&path), path.with_extension("csv.1")]
            .iter()
            .map(|p| fs::metadata(p).unwrap().len())
            .collect();
        assert!(sizes.iter().all(|&s| s <= 600), "{sizes:?}");
        assert!(path.with_extension("csv.2").exists());
        assert!(!path.with_extension("csv.3").exists(), "kept too many");
        let newest = read_all(&path);
        assert_eq!(newest.last().unwrap().id, PredictionId(19));
        let older = read_all(&path.with_extension("csv.1"));
        assert_eq!(
            older.last().unwrap().id.0 + 1,
            newest[0].id.0,
            "a row was lost at rotation"
        );
        // Another embedding's width: the old log is moved aside, not appended to.
        drop(log);
        let log = PredictionFile::open(&path, 3, rotation).unwrap();
        drop(log);
        let mut rows = 0;
        assert_eq!(read_predictions(&path, |_| rows += 1).unwrap(), 3);
        assert_eq!(rows, 0);
        assert_eq!(read_all(&path.with_extension("csv.1")).len(), newest.len());
    }
}
