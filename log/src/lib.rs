//! `tympan-log`: sets up the process's log stream, and nothing else.
//!
//! Every Tympan binary calls [`init`] first (through [`LogArgs`], its `--log-format` flag): log
//! lines go to stderr, as text for a person or as one JSON object a line for a collector, and
//! `RUST_LOG` filters them (`tracing-subscriber`'s env-filter syntax). stdout stays the
//! binaries' own output (summaries, tables, JSON for machines). Crates that log through the
//! `log` crate (Rocket) are routed into the same stream, so there is one format per process.

#![warn(missing_docs)]

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use tracing::{Level, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, the event's fields at the top level.
    Json,
}

/// The `--log-format` flag every binary flattens into its arguments.
#[derive(Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogArgs {
    /// Log lines (on stderr) as text or JSON, one object a line; RUST_LOG filters them
    /// (e.g. RUST_LOG=debug, RUST_LOG=tympan_serve=debug).
    #[arg(
        long,
        env = "TYMPAN_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
        global = true
    )]
    pub log_format: LogFormat,
}

impl LogArgs {
    /// [`init`] with this format and `info` unless `RUST_LOG` says otherwise.
    pub fn init(&self) -> Result<(), InitError> {
        init(self.log_format, Level::INFO)
    }

    /// A command's whole life: the log stream set up, `command` run, its outcome turned into the
    /// exit code by [`LogArgs::exit_code`].
    pub fn run<E: std::fmt::Display>(&self, command: impl FnOnce() -> Result<(), E>) -> ExitCode {
        if let Err(e) = self.init() {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
        self.exit_code(command())
    }

    /// The exit code of a command that ended with `outcome`. A failure is said on stderr in the
    /// stream's format: `error: CAUSE` as text (an anyhow chain joined by `: `), an `error` event
    /// in JSON, so that a collector parses every line a failed run leaves.
    pub fn exit_code<E: std::fmt::Display>(&self, outcome: Result<(), E>) -> ExitCode {
        let Err(e) = outcome else {
            return ExitCode::SUCCESS;
        };
        let cause = format!("{e:#}");
        match self.log_format {
            LogFormat::Text => eprintln!("error: {cause}"),
            LogFormat::Json => tracing::error!(error = %cause, "command failed"),
        }
        ExitCode::FAILURE
    }
}

/// Why the log stream could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// `RUST_LOG` is not a valid filter.
    #[error("RUST_LOG: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    /// A log stream (or a `log` logger) was already installed in this process.
    #[error("setting up the log stream: {0}")]
    Install(#[from] tracing_subscriber::util::TryInitError),
}

/// Directives added to the default filter. Rocket logs its whole route table at launch and an
/// error line for every unknown URL; the server's own request and startup lines say both, so
/// only Rocket's real errors stay. Symphonia notes every chunk it skips in every file (a line per
/// clip of a whole dataset: `PAD ` chunks of WAV files); its warnings stay. `RUST_LOG` replaces
/// all of it.
const QUIETED: &[&str] = &["rocket=error", "rocket::server=off", "symphonia=warn"];

/// The filter: `rust_log` when given (the value of `RUST_LOG`), else `default_level` with
/// [`QUIETED`].
fn filter(rust_log: Option<&str>, default_level: Level) -> Result<EnvFilter, InitError> {
    let directives = match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        Some(given) => given.to_string(),
        None => std::iter::once(default_level.as_str().to_ascii_lowercase())
            .chain(QUIETED.iter().map(|d| d.to_string()))
            .collect::<Vec<_>>()
            .join(","),
    };
    Ok(EnvFilter::builder().parse(directives)?)
}

/// The subscriber writing `format` lines to `writer` (a function so tests can capture them).
fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.finish()),
        LogFormat::Json => Box::new(builder.json().flatten_event(true).finish()),
    }
}

/// Sets up the process's log stream: `format` lines on stderr, filtered by `RUST_LOG` or, when
/// it is unset, at `default_level`; `log` records are routed into it. In JSON, a panic is logged
/// as an `error` event too, so that every line of the stream parses.
pub fn init(format: LogFormat, default_level: Level) -> Result<(), InitError> {
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref(), default_level)?;
    subscriber(format, filter, std::io::stderr).try_init()?;
    if format == LogFormat::Json {
        std::panic::set_hook(Box::new(|info| {
            let backtrace = std::backtrace::Backtrace::capture();
            tracing::error!(
                location = info.location().map(|l| l.to_string()),
                backtrace = %backtrace,
                "panic: {}",
                panic_message(info.payload())
            );
        }));
    }
    Ok(())
}

/// The text a panic was raised with (`panic!` gives a `&str` or a `String`).
fn panic_message(payload: &dyn std::any::Any) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use clap::Parser;

    use super::*;

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    fn lines(format: LogFormat, rust_log: Option<&str>, emit: impl FnOnce()) -> Vec<String> {
        let out = Captured::default();
        let filter = filter(rust_log, Level::INFO).unwrap();
        tracing::subscriber::with_default(subscriber(format, filter, out.clone()), emit);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn json_lines_carry_the_fields_at_the_top_level() {
        let got = lines(LogFormat::Json, None, || {
            tracing::info!(status = 201, route = "/feedback", "request");
            tracing::debug!("not at info");
        });
        assert_eq!(got.len(), 1, "{got:?}");
        let v: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["message"], "request");
        assert_eq!(v["status"], 201);
        assert_eq!(v["route"], "/feedback");
        assert!(v["timestamp"].is_string());
    }

    #[test]
    fn text_lines_name_level_message_and_fields() {
        let got = lines(LogFormat::Text, None, || {
            tracing::warn!(reason = "invalid_label", "request refused")
        });
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("WARN"), "{}", got[0]);
        assert!(
            got[0].contains("request refused reason=\"invalid_label\""),
            "{}",
            got[0]
        );
    }

    #[test]
    fn rocket_is_quieted_by_default_and_rust_log_replaces_the_default() {
        let emit = || {
            tracing::info!(target: "rocket::launch", "Routes:");
            tracing::error!(target: "rocket::server::_", "No matching routes");
            tracing::error!(target: "rocket::config", "a real Rocket error");
            tracing::debug!(target: "tympan_serve", "detail");
        };
        let default = lines(LogFormat::Text, None, emit);
        assert_eq!(default.len(), 1, "{default:?}");
        assert!(default[0].contains("a real Rocket error"));
        let debug = lines(LogFormat::Text, Some("tympan_serve=debug"), emit);
        assert_eq!(debug.len(), 1, "{debug:?}");
        assert!(debug[0].contains("detail"));
        assert!(matches!(
            filter(Some("tympan=loud"), Level::INFO),
            Err(InitError::Filter(_))
        ));
    }

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        log: LogArgs,
    }

    #[test]
    fn the_flag_takes_text_or_json() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).map(|c| c.log.log_format);
        assert_eq!(
            parse(&["x", "--log-format", "json"]).unwrap(),
            LogFormat::Json
        );
        assert_eq!(
            parse(&["x", "--log-format", "text"]).unwrap(),
            LogFormat::Text
        );
        assert!(parse(&["x", "--log-format", "xml"]).is_err());
    }

    #[test]
    fn a_panic_message_is_read_from_either_payload() {
        assert_eq!(panic_message(&"plain"), "plain");
        assert_eq!(panic_message(&String::from("formatted 3")), "formatted 3");
        assert_eq!(panic_message(&3_u8), "(no message)");
    }
}
