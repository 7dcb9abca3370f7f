//! Hand-written inline SVG charts (no JavaScript, no external assets).
//!
//! Coordinates are printed with one decimal: charts stay crisp and the HTML
//! stays small.

use std::fmt::Write as _;

use crate::drift::CategoryCounts;
use crate::html::escape;

/// Reference colour (neutral grey).
pub const REF_COLOR: &str = "#9aa5b1";
/// Production colour.
pub const CUR_COLOR: &str = "#d9480f";

/// Overlaid reference/production histogram of per-bin shares.
pub fn histogram(reference: &[u64], current: &[u64], width: f64, height: f64) -> String {
    let r = shares(reference);
    let c = shares(current);
    let max = r
        .iter()
        .chain(&c)
        .cloned()
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let k = r.len().max(1) as f64;
    let bw = width / k;
    let mut s = open(width, height, "reference vs production histogram");
    for (i, (&rv, &cv)) in r.iter().zip(&c).enumerate() {
        let x = i as f64 * bw;
        let rh = rv / max * (height - 1.0);
        let ch = cv / max * (height - 1.0);
        if rh > 0.0 {
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{REF_COLOR}"/>"#,
                Fixed(x),
                Fixed(height - rh),
                Fixed((bw - 0.5).max(0.5)),
                Fixed(rh)
            );
        }
        if ch > 0.0 {
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{CUR_COLOR}" fill-opacity=".45"/>"#,
                Fixed(x),
                Fixed(height - ch),
                Fixed((bw - 0.5).max(0.5)),
                Fixed(ch)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// Paired bars per category (top `max_bars` by pooled count, the rest, with the categories the
/// counts summed already, as one "other" bar).
pub fn category_bars(counts: &CategoryCounts, width: f64, height: f64, max_bars: usize) -> String {
    let CategoryCounts {
        labels,
        reference,
        current,
        other,
    } = counts;
    let mut idx: Vec<usize> = (0..labels.len()).collect();
    idx.sort_by_key(|&i| std::cmp::Reverse(reference[i] + current[i]));
    let mut items: Vec<(String, u64, u64)> = idx
        .iter()
        .take(max_bars)
        .map(|&i| (labels[i].clone(), reference[i], current[i]))
        .collect();
    let rest = idx.get(max_bars..).unwrap_or_default();
    let summed = other.map_or((0, 0, 0), |o| (o.labels, o.reference, o.current));
    if rest.len() + summed.0 > 0 {
        items.push((
            format!("{} other labels", rest.len() + summed.0),
            rest.iter().map(|&i| reference[i]).sum::<u64>() + summed.1,
            rest.iter().map(|&i| current[i]).sum::<u64>() + summed.2,
        ));
    }
    let rt: u64 = items.iter().map(|i| i.1).sum::<u64>().max(1);
    let ct: u64 = items.iter().map(|i| i.2).sum::<u64>().max(1);
    let max = items
        .iter()
        .map(|(_, r, c)| (*r as f64 / rt as f64).max(*c as f64 / ct as f64))
        .fold(1e-12f64, f64::max);
    let gw = width / items.len().max(1) as f64;
    let bw = (gw / 2.0 - 0.5).max(0.5);
    let mut s = open(width, height, "reference vs production category shares");
    for (i, (label, r, c)) in items.iter().enumerate() {
        let x = i as f64 * gw;
        let rs = *r as f64 / rt as f64;
        let cs = *c as f64 / ct as f64;
        let rh = rs / max * (height - 1.0);
        let ch = cs / max * (height - 1.0);
        let _ = write!(
            s,
            r#"<g><title>{}: reference {:.1}%, production {:.1}%</title><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{REF_COLOR}"/><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{CUR_COLOR}"/></g>"#,
            escape(label),
            Fixed(rs * 100.0),
            Fixed(cs * 100.0),
            Fixed(x),
            Fixed(height - rh),
            Fixed(bw),
            Fixed(rh),
            Fixed(x + bw),
            Fixed(height - ch),
            Fixed(bw),
            Fixed(ch)
        );
    }
    s.push_str("</svg>");
    s
}

/// Confusion matrix heat map; colour = share of the true class (row), text = count.
pub fn heatmap(labels: &[String], matrix: &[Vec<u64>]) -> String {
    let k = labels.len();
    let cell = if k <= 12 {
        36.0
    } else if k <= 30 {
        22.0
    } else {
        12.0
    };
    let show_text = k <= 30;
    let margin = 110.0;
    let size = margin + cell * k as f64;
    let mut s = String::with_capacity(k * k * 64 + 1024);
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="heat" width="{size:.0}" height="{size:.0}" viewBox="0 0 {size:.0} {size:.0}" role="img" aria-label="confusion matrix"><text x="{:.1}" y="12" font-size="11" text-anchor="middle">predicted</text><text x="10" y="{:.1}" font-size="11" text-anchor="middle" transform="rotate(-90 10 {:.1})">true</text>"#,
        margin + cell * k as f64 / 2.0,
        margin + cell * k as f64 / 2.0,
        margin + cell * k as f64 / 2.0
    );
    let font = (cell * 0.38).clamp(7.0, 11.0);
    for (i, l) in labels.iter().enumerate() {
        let short = shorten(l, 14);
        let c = Fixed(margin + cell * (i as f64 + 0.5));
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{c:.1}" font-size="{font:.0}" text-anchor="end" dominant-baseline="middle">{}</text><text x="{c:.1}" y="{:.1}" font-size="{font:.0}" text-anchor="start" transform="rotate(-60 {c:.1} {:.1})">{}</text>"#,
            Fixed(margin - 4.0),
            escape(&short),
            Fixed(margin - 4.0),
            Fixed(margin - 4.0),
            escape(&short)
        );
    }
    for (i, row) in matrix.iter().enumerate() {
        let total: u64 = row.iter().sum();
        for (j, &v) in row.iter().enumerate() {
            let share = if total == 0 {
                0.0
            } else {
                v as f64 / total as f64
            };
            let (x, y) = (margin + cell * j as f64, margin + cell * i as f64);
            let _ = write!(
                s,
                r#"<rect x="{:.0}" y="{:.0}" width="{:.0}" height="{:.0}" fill="{}"/>"#,
                Fixed(x),
                Fixed(y),
                Fixed(cell),
                Fixed(cell),
                blue(share)
            );
            if show_text && v > 0 {
                let _ = write!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" font-size="{font:.0}" text-anchor="middle" dominant-baseline="middle" fill="{}">{v}</text>"#,
                    Fixed(x + cell / 2.0),
                    Fixed(y + cell / 2.0),
                    if share > 0.55 { "#fff" } else { "#222" }
                );
            }
        }
    }
    s.push_str("</svg>");
    s
}

/// One series of a line chart.
pub struct Series<'a> {
    /// Legend text (escaped when rendered).
    pub name: &'a str,
    /// CSS colour.
    pub color: &'a str,
    /// `(x, y)` points, x ascending.
    pub points: Vec<(f64, f64)>,
}

/// Options of [`line_chart`].
pub struct LineChart<'a> {
    /// Title above the chart (escaped).
    pub title: &'a str,
    /// Lines to draw.
    pub series: Vec<Series<'a>>,
    /// Fixed y range, or `None` to fit the data (from 0).
    pub y_range: Option<(f64, f64)>,
    /// Horizontal dashed reference line (e.g. a drift-share threshold).
    pub threshold: Option<f64>,
    /// Vertical markers `(x, label)`, e.g. model version changes.
    pub markers: Vec<(f64, String)>,
    /// Labels of the first and last x position.
    pub x_labels: (String, String),
}

/// A line chart with axes, optional threshold and vertical markers.
pub fn line_chart(c: &LineChart<'_>) -> String {
    let (w, h) = (720.0, 190.0);
    let (ml, mr, mt, mb) = (48.0, 12.0, 26.0, 22.0);
    let pw = w - ml - mr;
    let ph = h - mt - mb;
    let xs = c.series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (xmin, xmax) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let (xmin, xmax) = if xmin.is_finite() && xmax > xmin {
        (xmin, xmax)
    } else if xmin.is_finite() {
        (xmin - 1.0, xmin + 1.0)
    } else {
        (0.0, 1.0)
    };
    let (ymin, ymax) = c.y_range.unwrap_or_else(|| {
        let m = c
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(0.0f64, f64::max);
        (0.0, if m > 0.0 { m * 1.1 } else { 1.0 })
    });
    let sx = |x: f64| ml + (x - xmin) / (xmax - xmin) * pw;
    let sy = |y: f64| mt + ph - (y - ymin) / (ymax - ymin) * ph;
    let mut s = String::with_capacity(4096);
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="line" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" role="img" aria-label="{t}"><text x="{ml:.0}" y="16" font-size="13" font-weight="600">{t}</text><rect x="{ml:.0}" y="{mt:.0}" width="{pw:.0}" height="{ph:.0}" fill="#fafafa" stroke="#ddd"/>"##,
        t = escape(c.title)
    );
    for i in 0..=4 {
        let y = ymin + (ymax - ymin) * i as f64 / 4.0;
        let py = sy(y);
        let _ = write!(
            s,
            r##"<line x1="{ml:.0}" x2="{:.0}" y1="{py:.1}" y2="{py:.1}" stroke="#eee"/><text x="{:.0}" y="{py:.1}" font-size="10" text-anchor="end" dominant-baseline="middle">{}</text>"##,
            ml + pw,
            ml - 4.0,
            axis_num(y)
        );
    }
    if let Some(t) = c.threshold {
        let py = sy(t);
        let _ = write!(
            s,
            r##"<line x1="{ml:.0}" x2="{:.0}" y1="{py:.1}" y2="{py:.1}" stroke="#c92a2a" stroke-dasharray="4 3"/>"##,
            ml + pw
        );
    }
    for (x, label) in &c.markers {
        let px = sx(*x);
        // Labels near the right edge go to the left of their line.
        let (tx, anchor) = if px > ml + pw - 60.0 {
            (px - 2.0, "end")
        } else {
            (px + 2.0, "start")
        };
        let _ = write!(
            s,
            r##"<g><title>{l}</title><line x1="{px:.1}" x2="{px:.1}" y1="{mt:.0}" y2="{:.0}" stroke="#5c7cfa" stroke-dasharray="2 3"/><text x="{tx:.1}" y="{:.0}" font-size="9" fill="#3b5bdb" text-anchor="{anchor}">{}</text></g>"##,
            mt + ph,
            mt + 9.0,
            escape(&shorten(label, 16)),
            l = escape(label)
        );
    }
    for series in &c.series {
        if series.points.is_empty() {
            continue;
        }
        s.push_str(r#"<polyline fill="none" stroke-width="1.6" stroke=""#);
        s.push_str(series.color);
        s.push_str(r#"" points=""#);
        for (x, y) in &series.points {
            let _ = write!(s, "{:.1},{:.1} ", Fixed(sx(*x)), Fixed(sy(*y)));
        }
        s.push_str(r#""/>"#);
        if series.points.len() <= 60 {
            for (x, y) in &series.points {
                let _ = write!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="2" fill="{}"/>"#,
                    Fixed(sx(*x)),
                    Fixed(sy(*y)),
                    series.color
                );
            }
        }
    }
    let mut lx = ml + pw;
    for series in c.series.iter().rev() {
        let tw = 7.0 * series.name.chars().count() as f64 + 18.0;
        lx -= tw;
        let _ = write!(
            s,
            r#"<rect x="{lx:.0}" y="8" width="10" height="3" fill="{}"/><text x="{:.0}" y="13" font-size="10">{}</text>"#,
            series.color,
            lx + 13.0,
            escape(series.name)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{ml:.0}" y="{:.0}" font-size="10">{}</text><text x="{:.0}" y="{:.0}" font-size="10" text-anchor="end">{}</text></svg>"#,
        h - 6.0,
        escape(&c.x_labels.0),
        ml + pw,
        h - 6.0,
        escape(&c.x_labels.1)
    );
    s
}

/// A number printed as `{:.N}` prints it (for `N` up to 3), without the bignum slow path that
/// float formatting takes for most coordinates (it was most of the time of a report page).
///
/// Rounding `|v| * 10^N` gives the digits `{:.N}` gives (the exact binary value rounded half to
/// even) unless the product lies near a tie: below 1e9 it is within 1e-7 of the exact product,
/// so away from a tie both round the same way. Near a tie, beyond 1e9, non-finite values and
/// any width or sign flag take the standard formatting.
struct Fixed(f64);

impl std::fmt::Display for Fixed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.0;
        let Some(digits) = f.precision().filter(|&p| p <= 3) else {
            return std::fmt::Display::fmt(&v, f);
        };
        let scaled = v.abs() * 10f64.powi(digits as i32);
        let near_tie = (scaled - scaled.floor() - 0.5).abs() < 1e-6;
        if scaled.is_nan() || scaled >= 1e9 || near_tie || f.width().is_some() || f.sign_plus() {
            return std::fmt::Display::fmt(&v, f);
        }
        // Digits from the right, into a buffer long enough for 1e9 with 3 decimals and a sign:
        // cheaper than formatting the integer and fraction through `write!`.
        let mut rest = scaled.round() as u64;
        let mut buf = [0u8; 24];
        let mut at = buf.len();
        for place in 0.. {
            if place == digits && digits > 0 {
                at -= 1;
                buf[at] = b'.';
            }
            at -= 1;
            buf[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 && place >= digits {
                break;
            }
        }
        if v.is_sign_negative() {
            at -= 1;
            buf[at] = b'-';
        }
        f.write_str(std::str::from_utf8(&buf[at..]).expect("ASCII digits"))
    }
}

fn open(width: f64, height: f64, label: &str) -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="{label}"><rect width="{width:.0}" height="{height:.0}" fill="#fafafa"/>"##
    )
}

fn shares(counts: &[u64]) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    counts
        .iter()
        .map(|&c| {
            if total == 0 {
                0.0
            } else {
                c as f64 / total as f64
            }
        })
        .collect()
}

fn blue(share: f64) -> String {
    // White to #1c4587, linear in each channel.
    let t = share.clamp(0.0, 1.0);
    let ch = |from: f64, to: f64| (from + (to - from) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        ch(255.0, 28.0),
        ch(255.0, 69.0),
        ch(255.0, 135.0)
    )
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(max - 1).collect::<String>())
    }
}

fn axis_num(v: f64) -> String {
    if v.abs() >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_labels() {
        let labels = vec!["<script>".to_owned(), "a&b".to_owned()];
        let h = heatmap(&labels, &[vec![1, 0], vec![0, 1]]);
        assert!(!h.contains("<script>"));
        assert!(h.contains("&lt;script&gt;"));
        let counts = CategoryCounts::from_counts([("<script>", 1), ("a&b", 2)], [("a&b", 1)]);
        let b = category_bars(&counts, 100.0, 30.0, 8);
        assert!(b.contains("a&amp;b") && !b.contains("<script>"));
    }

    #[test]
    fn category_bars_add_the_summed_categories_to_the_other_bar() {
        let mut counts = CategoryCounts::from_counts(
            (0..30)
                .map(|i| (["a", "b", "c"][i % 3], 1))
                .chain([("d", 1)]),
            [("a", 5), ("e", 2)],
        );
        counts.keep_top(2);
        assert_eq!(counts.labels, ["a", "b"]);
        let b = category_bars(&counts, 100.0, 30.0, 1);
        // "a" is drawn; "b" (this chart's cut) and "c", "d", "e" (summed already) are one bar.
        assert_eq!(b.matches("<g>").count(), 2);
        assert!(b.contains("<title>4 other labels: reference 67.7%, production 28.6%</title>"));
    }

    #[test]
    fn fixed_prints_what_float_formatting_prints() {
        let mut values = vec![
            0.0,
            -0.0,
            0.05,
            0.15,
            0.25,
            2.25,
            -2.25,
            10.75,
            0.449_999_999,
            1e9,
            3e12,
            -0.04,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
        ];
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for i in 0..200_000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let unit = (rng >> 11) as f64 / (1u64 << 53) as f64;
            // Coordinates, quarter steps (exact ties) and wide magnitudes.
            values.push(match i % 3 {
                0 => unit * 800.0 - 100.0,
                1 => (unit * 4000.0).floor() / 4.0,
                _ => unit * 10f64.powi((rng % 24) as i32 - 8),
            });
        }
        for v in values {
            assert_eq!(format!("{:.0}", Fixed(v)), format!("{v:.0}"), "{v:e}");
            assert_eq!(format!("{:.1}", Fixed(v)), format!("{v:.1}"), "{v:e}");
            assert_eq!(format!("{:.3}", Fixed(v)), format!("{v:.3}"), "{v:e}");
        }
    }

    #[test]
    fn blue_scale_ends() {
        assert_eq!(blue(0.0), "#ffffff");
        assert_eq!(blue(1.0), "#1c4587");
    }
}
