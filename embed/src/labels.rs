//! Where labels come from: sub-folder names, a file-name pattern, or a manifest CSV.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use regex::Regex;
use tympan_data::validate_label;

use crate::run::Skipped;
use crate::EmbedCommandError;

/// File extensions treated as audio when walking a dataset.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "flac", "mp3", "ogg", "oga", "m4a", "mp4", "aac", "aif", "aiff", "aifc", "caf",
    "mka", "webm",
];

/// FSDD's file names: `{digit}_{speaker}_{take}.wav`.
pub const DEFAULT_PATTERN: &str = "{label}_{speaker}_{take}";

/// One audio file of the dataset with its label and group values (e.g. the speaker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clip {
    /// The file.
    pub path: PathBuf,
    /// Its label.
    pub label: String,
    /// Values of the pattern's other fields, in the order of [`Dataset::group_names`].
    pub groups: Vec<String>,
}

/// A labelled dataset, in a deterministic order (sorted by path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// Names of the group columns (fields of the pattern other than `label`).
    pub group_names: Vec<String>,
    /// The clips.
    pub clips: Vec<Clip>,
}

/// How to label the files.
#[derive(Debug, Clone)]
pub enum LabelSource {
    /// `DIR/<label>/<file>`.
    Folders,
    /// A template over the file stem, e.g. `{label}_{speaker}_{take}`.
    Pattern(FilePattern),
    /// A CSV `path,label` (paths relative to the dataset folder or absolute).
    Manifest(PathBuf),
}

/// A file-stem template with `{name}` fields; `{label}` is required, other fields become group
/// columns.
#[derive(Debug, Clone)]
pub struct FilePattern {
    regex: Regex,
    group_names: Vec<String>,
}

impl FilePattern {
    /// Compiles a template such as `{label}_{speaker}_{take}`.
    pub fn new(template: &str) -> Result<Self, EmbedCommandError> {
        let bad =
            |why: &str| EmbedCommandError::Usage(format!("label pattern {template:?}: {why}"));
        let field = Regex::new(r"\{([A-Za-z_][A-Za-z0-9_]*)\}").expect("static regex");
        let mut re = String::from("^");
        let mut names = Vec::new();
        let mut last = 0;
        for cap in field.captures_iter(template) {
            let whole = cap.get(0).expect("match");
            re.push_str(&regex::escape(&template[last..whole.start()]));
            let name = cap[1].to_string();
            if names.contains(&name) {
                return Err(bad("a field appears twice"));
            }
            re.push_str(&format!("(?P<{name}>.+?)"));
            names.push(name);
            last = whole.end();
        }
        re.push_str(&regex::escape(&template[last..]));
        re.push('$');
        if !names.iter().any(|n| n == "label") {
            return Err(bad("needs a {label} field"));
        }
        let regex = Regex::new(&re).map_err(|e| bad(&e.to_string()))?;
        let group_names = names.into_iter().filter(|n| n != "label").collect();
        Ok(Self { regex, group_names })
    }

    /// Label and group values of a file stem, or `None` when it does not match.
    pub fn apply(&self, stem: &str) -> Option<(String, Vec<String>)> {
        let caps = self.regex.captures(stem)?;
        let label = caps["label"].to_string();
        let groups = self
            .group_names
            .iter()
            .map(|n| caps[n.as_str()].to_string())
            .collect();
        Some((label, groups))
    }
}

fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> EmbedCommandError + '_ {
    move |e| EmbedCommandError::Io(format!("{}: {e}", path.display()))
}

/// The entries of `dir` whose type (symbolic links followed) passes `keep`. The type comes from
/// the directory listing itself where the file system gives it, so a folder of thousands of
/// clips costs no `stat` per file.
fn entries(
    dir: &Path,
    keep: fn(&std::fs::FileType) -> bool,
) -> Result<Vec<PathBuf>, EmbedCommandError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let mut kind = entry.file_type().map_err(io_err(dir))?;
        if kind.is_symlink() {
            match std::fs::metadata(entry.path()) {
                Ok(target) => kind = target.file_type(),
                Err(_) => continue, // a dangling link is neither a clip nor a folder
            }
        }
        if keep(&kind) {
            out.push(entry.path());
        }
    }
    Ok(out)
}

fn audio_files(dir: &Path) -> Result<Vec<PathBuf>, EmbedCommandError> {
    let mut files = entries(dir, std::fs::FileType::is_file)?;
    files.retain(|p| is_audio(p));
    files.sort();
    Ok(files)
}

fn sub_folders(dir: &Path) -> Result<Vec<PathBuf>, EmbedCommandError> {
    let mut dirs = entries(dir, std::fs::FileType::is_dir)?;
    dirs.sort();
    Ok(dirs)
}

/// The command-line options that say how a dataset's files are labelled (one of them, or the
/// folder layout / FSDD's pattern found by [`auto_source`]).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct LabelArgs {
    /// Label files by a template over the file name, e.g. "{label}_{speaker}_{take}"; fields
    /// other than {label} are groups (columns of the side file beside --out, e.g.
    /// ref_data.meta.csv; the folds of `tympan tune`).
    #[arg(long, conflicts_with_all = ["manifest", "folders"])]
    pub label_pattern: Option<String>,
    /// Label files from a CSV manifest with columns path,label.
    #[arg(long, conflicts_with = "folders")]
    pub manifest: Option<PathBuf>,
    /// Label files by their sub-folder name.
    #[arg(long)]
    pub folders: bool,
}

impl LabelArgs {
    /// The label source these options name for the dataset in `dir`.
    pub fn source(&self, dir: &Path) -> Result<LabelSource, EmbedCommandError> {
        if let Some(t) = &self.label_pattern {
            Ok(LabelSource::Pattern(FilePattern::new(t)?))
        } else if let Some(m) = &self.manifest {
            Ok(LabelSource::Manifest(m.clone()))
        } else if self.folders {
            Ok(LabelSource::Folders)
        } else {
            auto_source(dir)
        }
    }
}

/// Picks folders when sub-folders hold audio, the default file pattern otherwise.
pub fn auto_source(dir: &Path) -> Result<LabelSource, EmbedCommandError> {
    for sub in sub_folders(dir)? {
        if !audio_files(&sub)?.is_empty() {
            return Ok(LabelSource::Folders);
        }
    }
    Ok(LabelSource::Pattern(FilePattern::new(DEFAULT_PATTERN)?))
}

/// Lists and labels the clips of `dir`. Files whose label cannot be used (no rule matches, the
/// name is not UTF-8, the label fails [`validate_label`]) are returned as skipped, with the
/// reason, rather than failing the run.
pub fn discover(
    dir: &Path,
    source: &LabelSource,
) -> Result<(Dataset, Vec<Skipped>), EmbedCommandError> {
    if !dir.is_dir() {
        return Err(EmbedCommandError::Usage(format!(
            "{} is not a folder",
            dir.display()
        )));
    }
    let (group_names, candidates) = match source {
        LabelSource::Folders => (vec![], folder_labels(dir)?),
        LabelSource::Pattern(pattern) => {
            (pattern.group_names.clone(), pattern_labels(dir, pattern)?)
        }
        LabelSource::Manifest(manifest) => (vec![], read_manifest(dir, manifest)?),
    };
    let mut clips = Vec::with_capacity(candidates.len());
    let mut skipped = Vec::new();
    for (path, labelled) in candidates {
        match labelled.and_then(|clip| {
            validate_label(&clip.0)
                .map(|_| clip)
                .map_err(|e| e.to_string())
        }) {
            Ok((label, groups)) => clips.push(Clip {
                path,
                label,
                groups,
            }),
            Err(reason) => skipped.push(Skipped { path, reason }),
        }
    }
    clips.sort_by(|a, b| a.path.cmp(&b.path));
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((Dataset { group_names, clips }, skipped))
}

/// A file and its label and group values, or why it has none.
type Candidate = (PathBuf, Result<(String, Vec<String>), String>);

fn folder_labels(dir: &Path) -> Result<Vec<Candidate>, EmbedCommandError> {
    let mut out = Vec::new();
    for sub in sub_folders(dir)? {
        // A lossy conversion would silently store a different label than the folder's name.
        let label = sub
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
            .ok_or_else(|| "folder name is not valid UTF-8".to_string());
        for path in audio_files(&sub)? {
            out.push((path, label.clone().map(|l| (l, vec![]))));
        }
    }
    Ok(out)
}

fn pattern_labels(dir: &Path, pattern: &FilePattern) -> Result<Vec<Candidate>, EmbedCommandError> {
    let mut out = Vec::new();
    for path in audio_files(dir)? {
        let labelled = match path.file_stem().and_then(|s| s.to_str()) {
            None => Err("file name is not valid UTF-8".to_string()),
            Some(stem) => pattern
                .apply(stem)
                .ok_or_else(|| "file name does not match the label pattern".to_string()),
        };
        out.push((path, labelled));
    }
    Ok(out)
}

fn read_manifest(dir: &Path, manifest: &Path) -> Result<Vec<Candidate>, EmbedCommandError> {
    let mut reader = csv::Reader::from_path(manifest)
        .map_err(|e| EmbedCommandError::Io(format!("{}: {e}", manifest.display())))?;
    let mut out = Vec::new();
    // Byte records, so one non-UTF-8 label skips its row instead of failing the whole manifest.
    for record in reader.byte_records() {
        let record =
            record.map_err(|e| EmbedCommandError::Io(format!("{}: {e}", manifest.display())))?;
        let line = record.position().map_or(0, |p| p.line());
        let (Some(path), Some(label)) = (record.get(0), record.get(1)) else {
            return Err(EmbedCommandError::Io(format!(
                "{}:{line}: expected path,label",
                manifest.display()
            )));
        };
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(path));
        let path = if path.is_absolute() {
            path
        } else {
            dir.join(path)
        };
        let label = std::str::from_utf8(label)
            .map(|l| (l.to_string(), vec![]))
            .map_err(|_| format!("{}:{line}: label is not valid UTF-8", manifest.display()));
        out.push((path, label));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsdd_pattern_extracts_label_and_speaker() {
        let p = FilePattern::new(DEFAULT_PATTERN).unwrap();
        assert_eq!(
            p.apply("7_jackson_32"),
            Some((
                "7".to_string(),
                vec!["jackson".to_string(), "32".to_string()]
            ))
        );
        assert_eq!(p.apply("noise"), None);
        assert!(FilePattern::new("{speaker}").is_err());
    }

    #[test]
    fn folders_win_when_they_hold_audio() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("dog")).unwrap();
        std::fs::write(dir.path().join("dog/a.wav"), b"x").unwrap();
        std::fs::write(dir.path().join("dog/readme.txt"), b"x").unwrap();
        let source = auto_source(dir.path()).unwrap();
        assert!(matches!(source, LabelSource::Folders));
        let (ds, _) = discover(dir.path(), &source).unwrap();
        assert_eq!(ds.clips.len(), 1);
        assert_eq!(ds.clips[0].label, "dog");
    }
}
