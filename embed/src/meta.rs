//! Writing the side file beside a table (`ref_data.meta.csv`, see [`tympan_data::groups`]): one
//! line per row with the source file and the group values (e.g. the speaker). Written by the
//! embed run, read by evaluation and training.

use std::path::Path;

use tympan_data::groups::meta_path;

use crate::labels::Clip;
use crate::EmbedCommandError;

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

#[cfg(test)]
mod tests {
    use super::*;
    use tympan_data::groups::{calibration_groups, default_calibration_groups, read_group_column};

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

    #[test]
    fn the_calibration_groups_are_the_source_column_not_a_take_or_a_constant() {
        let dir = tempfile::tempdir().unwrap();
        let table = dir.path().join("ref_data.csv");
        assert_eq!(default_calibration_groups(&table, 9), None);
        assert!(calibration_groups(&table, 9, "speaker").is_err());
        let clips: Vec<Clip> = (0..9)
            .map(|i| Clip {
                path: dir.path().join(format!("{i}.wav")),
                label: "a".into(),
                groups: vec!["studio".into(), format!("take{i}"), format!("s{}", i % 3)],
            })
            .collect();
        let refs: Vec<&Clip> = clips.iter().collect();
        let names = ["room".into(), "take".into(), "speaker".into()];
        write_meta(&table, &names, &refs).unwrap();
        let chosen = default_calibration_groups(&table, 9).unwrap();
        assert_eq!(chosen.name, "speaker");
        assert_eq!(chosen.values[..4], ["s0", "s1", "s2", "s0"]);
        let named = calibration_groups(&table, 9, "take").unwrap();
        assert_eq!(named.values[8], "take8");
        // A side file that does not match the table: no groups rather than a failure.
        assert_eq!(default_calibration_groups(&table, 8), None);
    }
}
