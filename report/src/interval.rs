//! Parsing of `--every` intervals (`90s`, `5m`, `1h 30m`, `500ms`) with humantime.

use std::time::Duration;

use crate::error::ReportError;

/// Parses a humantime duration (`30s`, `5m`, `1h 30m`, `1.5h`, `500ms`, `2 days`); a bare number
/// is seconds, as it was before humantime parsed these.
///
/// Zero is rejected: a zero interval would spin.
pub fn parse_interval(text: &str) -> Result<Duration, ReportError> {
    let t = text.trim();
    let parsed = match t.parse::<u64>() {
        Ok(secs) => Ok(Duration::from_secs(secs)),
        Err(_) => humantime::parse_duration(t).map_err(|e| e.to_string()),
    };
    let d = parsed.map_err(|why| {
        ReportError::Parse(format!(
            "invalid interval `{text}`: {why} (expected e.g. 30s, 5m, 1h or 500ms)"
        ))
    })?;
    if d.is_zero() {
        return Err(ReportError::Parse(format!(
            "invalid interval `{text}`: must be > 0"
        )));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_interval("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_interval("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_interval("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_interval("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_interval("15").unwrap(), Duration::from_secs(15));
        assert_eq!(parse_interval(" 15 ").unwrap(), Duration::from_secs(15));
        for bad in ["", "s", "-5s", "0s", "0", "5 parsecs", "1.5.2m"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn accepts_what_humantime_reads() {
        // Rejected by the hand-written parser, read by humantime.
        assert_eq!(parse_interval("1d").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_interval("1.5m").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_interval("5 minutes").unwrap(),
            Duration::from_secs(300)
        );
        assert_eq!(parse_interval("1h 30m").unwrap(), Duration::from_secs(5400));
    }

    #[test]
    fn errors_name_the_input_and_the_cause() {
        let e = parse_interval("5 parsecs").unwrap_err().to_string();
        assert!(
            e.contains("`5 parsecs`") && e.contains("unknown time unit"),
            "{e}"
        );
        let e = parse_interval("0ms").unwrap_err().to_string();
        assert!(e.contains("must be > 0"), "{e}");
    }
}
