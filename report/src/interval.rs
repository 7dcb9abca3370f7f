//! Parsing of `--every` intervals (`90s`, `5m`, `1h`) without a dependency.

use std::time::Duration;

use crate::error::ReportError;

/// Parses `<number><unit>` with unit `ms`, `s`, `m` or `h` (a bare number is seconds).
///
/// Zero is rejected: a zero interval would spin.
pub fn parse_interval(text: &str) -> Result<Duration, ReportError> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || {
        ReportError::Parse(format!(
            "invalid interval `{text}`: expected e.g. 30s, 5m, 1h or 500ms"
        ))
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
        "h" => Duration::from_secs(n.checked_mul(3600).ok_or_else(bad)?),
        _ => return Err(bad()),
    };
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
        for bad in ["", "s", "1d", "-5s", "1.5m", "0s", "5 minutes"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }
}
