//! Plugin-style subcommands: `tympan embed ...` runs `tympan-embed ...`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::ValueEnum;

const PREFIX: &str = "tympan-";

/// Folders searched for `tympan-<sub>`: this executable's own folder first, then `PATH`.
fn search_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        dirs.push(dir);
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Finds the binary of subcommand `name`.
fn find(name: &str) -> Option<PathBuf> {
    search_dirs()
        .into_iter()
        .map(|d| d.join(format!("{PREFIX}{name}")))
        .find(|p| is_executable(p))
}

/// Names of every `tympan-<name>` binary that can be run, sorted and without duplicates.
pub fn find_plugins() -> Vec<String> {
    let mut names: Vec<String> = search_dirs()
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let sub = name.strip_prefix(PREFIX)?.to_string();
            // Skip build artefacts such as `tympan-embed.d` or `tympan-serve-<hash>`.
            let plain = !sub.is_empty() && sub.chars().all(|c| c.is_ascii_alphanumeric());
            (plain && is_executable(&e.path())).then_some(sub)
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Runs `tympan-<args[0]>` with the remaining arguments and returns its exit status. The
/// subcommand logs in this command's format (`tympan --log-format json embed ...`) unless its
/// own arguments say otherwise.
pub fn run_external(args: &[String], log: tympan_log::LogArgs) -> ExitCode {
    let Some((name, rest)) = args.split_first() else {
        return ExitCode::FAILURE;
    };
    let Some(binary) = find(name) else {
        eprintln!(
            "error: no such subcommand `{name}` (no tympan-{name} next to tympan or on PATH)"
        );
        let plugins = find_plugins();
        if !plugins.is_empty() {
            eprintln!("available: train, evaluate, models, {}", plugins.join(", "));
        }
        return ExitCode::FAILURE;
    };
    let format = log
        .log_format
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default();
    let status = Command::new(&binary)
        .args(rest)
        .env("TYMPAN_LOG_FORMAT", format)
        .status();
    match status {
        Ok(status) => match status.code() {
            Some(0) => ExitCode::SUCCESS,
            Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            None => ExitCode::FAILURE,
        },
        Err(e) => {
            eprintln!("error: cannot run {}: {e}", binary.display());
            ExitCode::FAILURE
        }
    }
}
