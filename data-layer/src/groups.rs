//! The side file beside a table (`ref_data.meta.csv`): one line per row of the table with the
//! clip's file name and its group values (the speaker, the kit, the take), so that group-wise
//! evaluation and the calibration's held-out groups need no extra column in the table itself.
//! `tympan embed` writes it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::monitoring::MIN_CALIBRATION_GROUPS;
use crate::DataError;

/// Where the side file of `table` is.
pub fn meta_path(table: &Path) -> PathBuf {
    let stem = table
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    table.with_file_name(format!("{stem}.meta.csv"))
}

/// The column `name` of the side file of `table`, which must have `rows` lines.
pub fn read_group_column(table: &Path, name: &str, rows: usize) -> Result<Vec<String>, DataError> {
    read_group_columns(table, rows)?
        .into_iter()
        .find(|(column, _)| column == name)
        .map(|(_, values)| values)
        .ok_or_else(|| DataError::Header {
            path: meta_path(table),
            expected: format!("file,...,{name},..."),
            reason: format!("no column {name:?}"),
        })
}

/// Every group column of the side file of `table` (name and values, in the file's order),
/// which must have `rows` lines.
fn read_group_columns(table: &Path, rows: usize) -> Result<Vec<(String, Vec<String>)>, DataError> {
    let path = meta_path(table);
    let row_error = |line: u64, reason: String| DataError::Row {
        path: path.clone(),
        line,
        reason,
    };
    let csv_error = |e: csv::Error| {
        let line = e.position().map_or(0, |p| p.line());
        row_error(line, e.to_string())
    };
    let file = std::fs::File::open(&path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => DataError::NotFound { path: path.clone() },
        _ => DataError::Io {
            path: path.clone(),
            source,
        },
    })?;
    let mut reader = csv::Reader::from_reader(std::io::BufReader::new(file));
    let names: Vec<String> = reader
        .headers()
        .map_err(csv_error)?
        .iter()
        .skip(1)
        .map(str::to_string)
        .collect();
    let mut columns: Vec<Vec<String>> = vec![Vec::with_capacity(rows); names.len()];
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        for (k, column) in columns.iter_mut().enumerate() {
            column.push(record.get(k + 1).unwrap_or_default().to_string());
        }
    }
    let lines = columns.first().map_or(rows, Vec::len);
    if lines != rows {
        let reason = format!("{lines} rows, {} has {rows}", table.display());
        return Err(row_error(lines.min(rows) as u64 + 2, reason));
    }
    Ok(names.into_iter().zip(columns).collect())
}

/// The groups a model's calibration holds out (see
/// `tympan_core::monitoring::out_of_group_predictions`): a column of the side file of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalibrationGroups {
    /// The column's name.
    pub name: String,
    /// Its value for each row of the table.
    pub values: Vec<String>,
}

/// The calibration groups of `table` (which has `rows` rows) in its side file's column `name`.
pub fn calibration_groups(
    table: &Path,
    rows: usize,
    name: &str,
) -> Result<CalibrationGroups, DataError> {
    let values = read_group_column(table, name, rows)?;
    let name = name.to_string();
    Ok(CalibrationGroups { name, values })
}

/// The calibration groups of `table` (which has `rows` rows) when none is named: the group
/// column with the fewest distinct values among those with at least [`MIN_CALIBRATION_GROUPS`],
/// since the source of a recording (a speaker, a kit, a machine) has fewer values than a take
/// number or a file id. `None` when there is no side file or no column qualifies, and when the
/// side file cannot be read or does not match the table (logged): it only refines the accuracy
/// estimate, so a stale one is no reason to fail a training or a start.
pub fn default_calibration_groups(table: &Path, rows: usize) -> Option<CalibrationGroups> {
    if !meta_path(table).is_file() {
        return None;
    }
    let columns = match read_group_columns(table, rows) {
        Ok(columns) => columns,
        Err(e) => {
            tracing::warn!(error = %e, "no calibration groups");
            return None;
        }
    };
    let chosen = columns
        .into_iter()
        .map(|(name, values)| (values.iter().collect::<BTreeSet<_>>().len(), name, values))
        .filter(|(distinct, _, _)| *distinct >= MIN_CALIBRATION_GROUPS)
        .min_by_key(|(distinct, _, _)| *distinct)
        .map(|(_, name, values)| CalibrationGroups { name, values });
    if let Some(groups) = &chosen {
        tracing::info!(column = %groups.name, "calibration groups");
    }
    chosen
}
