//! The side file beside a table (`ref_data.meta.csv`): one line per row with the source file
//! and the group values (e.g. the speaker), so group-wise evaluation needs no extra column in the
//! table itself. Written by the embed run, read by evaluation.

use std::path::{Path, PathBuf};

use crate::labels::Clip;
use crate::EmbedCommandError;

/// Where the side file of `table` is.
pub fn meta_path(table: &Path) -> PathBuf {
    let stem = table
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    table.with_file_name(format!("{stem}.meta.csv"))
}

/// Writes the side file of `table`: the file name and group values of each row's clip.
pub(crate) fn write_meta(
    table: &Path,
    group_names: &[String],
    clips: &[&Clip],
) -> Result<(), EmbedCommandError> {
    let path = meta_path(table);
    tympan_data::durable::write_atomic_with(&path, |file| {
        let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
        let mut header = vec!["file".to_string()];
        header.extend(group_names.iter().cloned());
        w.write_record(&header)?;
        for clip in clips {
            let name = clip
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut record = vec![name];
            record.extend(clip.groups.iter().cloned());
            w.write_record(&record)?;
        }
        w.flush()?;
        Ok(())
    })
    .map_err(|e| EmbedCommandError::Io(format!("{}: {e}", path.display())))
}

/// The column `name` of the side file of `table`, which must have `rows` lines.
pub fn read_group_column(
    table: &Path,
    name: &str,
    rows: usize,
) -> Result<Vec<String>, EmbedCommandError> {
    let path = meta_path(table);
    let fail = |reason: String| EmbedCommandError::Io(format!("{}: {reason}", path.display()));
    let mut reader = csv::Reader::from_path(&path).map_err(|e| fail(e.to_string()))?;
    let headers = reader.headers().map_err(|e| fail(e.to_string()))?;
    let col = headers
        .iter()
        .position(|h| h == name)
        .ok_or_else(|| fail(format!("no column {name:?}")))?;
    let values = reader
        .records()
        .map(|r| {
            r.map(|r| r.get(col).unwrap_or_default().to_string())
                .map_err(|e| fail(e.to_string()))
        })
        .collect::<Result<Vec<String>, _>>()?;
    if values.len() != rows {
        return Err(fail(format!(
            "{} rows, {} has {rows}",
            values.len(),
            table.display()
        )));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_side_file_reads_back_by_column_and_checks_its_length() {
        let dir = tempfile::tempdir().unwrap();
        let table = dir.path().join("ref_data.csv");
        let clips: Vec<Clip> = ["george", "lucas"]
            .iter()
            .enumerate()
            .map(|(i, speaker)| Clip {
                path: dir.path().join(format!("{i}_{speaker}_0.wav")),
                label: i.to_string(),
                groups: vec![speaker.to_string(), "0".into()],
            })
            .collect();
        let refs: Vec<&Clip> = clips.iter().collect();
        write_meta(&table, &["speaker".into(), "take".into()], &refs).unwrap();
        assert_eq!(meta_path(&table), dir.path().join("ref_data.meta.csv"));
        let speakers = read_group_column(&table, "speaker", 2).unwrap();
        assert_eq!(speakers, ["george", "lucas"]);
        let e = read_group_column(&table, "speaker", 3)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("2 rows") && e.contains("ref_data.meta.csv"),
            "{e}"
        );
        assert!(read_group_column(&table, "kit", 2).is_err());
    }
}
