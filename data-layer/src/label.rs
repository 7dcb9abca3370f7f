//! What a class label may be, and the one order labels are listed in.

use crate::DataError;

/// Longest accepted label, in bytes.
pub const MAX_LABEL_BYTES: usize = 128;

/// Checks a label: 1 to 128 bytes, no control characters, no surrounding spaces, and not starting
/// like a spreadsheet formula (`=`, `+`, `@`, or `-` unless the whole label is a negative number).
pub fn validate_label(label: &str) -> Result<(), DataError> {
    let reason = if label.is_empty() {
        Some("empty".to_string())
    } else if label.len() > MAX_LABEL_BYTES {
        Some(format!(
            "{} bytes, the limit is {MAX_LABEL_BYTES}",
            label.len()
        ))
    } else if label.chars().any(char::is_control) {
        Some("contains control characters".to_string())
    } else if label.trim() != label {
        Some("has leading or trailing spaces".to_string())
    } else if starts_like_formula(label) {
        Some("starts like a spreadsheet formula (=, +, @, -)".to_string())
    } else {
        None
    };
    match reason {
        Some(r) => Err(DataError::Label(r)),
        None => Ok(()),
    }
}

fn starts_like_formula(label: &str) -> bool {
    match label.as_bytes().first() {
        Some(b'=' | b'+' | b'@') => true,
        // A spreadsheet evaluates `-2+3` or `-1+cmd|...`; only a plain number such as `-1` or
        // `-0.5` is safe.
        Some(b'-') => !is_plain_decimal(&label[1..]),
        _ => false,
    }
}

/// Digits with at most one inner decimal point (`12`, `0.5`), nothing else.
fn is_plain_decimal(s: &str) -> bool {
    let mut parts = s.splitn(2, '.');
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    parts.next().is_some_and(digits) && parts.next().is_none_or(digits)
}

/// Sorts labels numerically when every label is a number (as pandas would
/// have parsed them), otherwise by Unicode code points (Python's `sorted`).
pub fn sort_labels<S: AsRef<str>>(labels: &mut [S]) {
    let numeric: Option<Vec<f64>> = labels
        .iter()
        .map(|l| {
            l.as_ref()
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
        })
        .collect();
    if numeric.is_some() {
        labels.sort_by(|a, b| {
            let x: f64 = a.as_ref().trim().parse().unwrap_or(0.0);
            let y: f64 = b.as_ref().trim().parse().unwrap_or(0.0);
            x.total_cmp(&y).then_with(|| a.as_ref().cmp(b.as_ref()))
        });
    } else {
        labels.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_checked() {
        assert!(validate_label("7").is_ok());
        assert!(validate_label("-1").is_ok());
        assert!(validate_label("-0.25").is_ok());
        assert!(validate_label("<script>").is_ok());
        for bad in ["", "=1+1", "@x", "-x", "a\nb", " a", &"x".repeat(129)] {
            assert!(validate_label(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn numbers_sort_as_numbers_and_text_as_text() {
        let mut digits = vec!["10", "2", "1"];
        sort_labels(&mut digits);
        assert_eq!(digits, ["1", "2", "10"]);
        let mut mixed = vec!["b", "10", "2", "a"];
        sort_labels(&mut mixed);
        assert_eq!(mixed, ["10", "2", "a", "b"]);
    }
}
