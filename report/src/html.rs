//! HTML rendering of the report and of the history dashboard.
//!
//! Pages are single self-contained files: inline CSS, inline SVG, no
//! JavaScript and nothing fetched from the network. Every string that comes
//! from data or the command line goes through [`escape`].

use std::fmt::Write as _;

use crate::drift::{ColumnDrift, ColumnKind, Distribution};
use crate::report::Report;
use crate::snapshot::{History, Snapshot};
use crate::svg;

/// Escapes text for HTML element content and attribute values (`& < > " '`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = "body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1f2328;margin:0;background:#f6f7f9}\
main{max-width:1100px;margin:0 auto;padding:20px}h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}\
h3{font-size:15px;margin:18px 0 8px}.meta{color:#57606a;margin:0}code{font-size:12px;background:#eef0f3;padding:1px 4px;border-radius:3px;word-break:break-all}\
.verdict{border-radius:8px;padding:12px 16px;margin:16px 0;border:1px solid}.verdict h2{margin:0 0 4px}\
.bad{background:#fff4e6;border-color:#ffa94d}.good{background:#ebfbee;border-color:#69db7c}\
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:10px 14px;min-width:130px}\
.card b{display:block;font-size:20px}.card span{color:#57606a;font-size:12px}\
table{border-collapse:collapse;background:#fff;width:100%;font-size:13px}th,td{border-bottom:1px solid #e5e7eb;padding:5px 8px;text-align:left;vertical-align:middle}\
th{background:#f1f3f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.yes{color:#c92a2a;font-weight:600}.no{color:#2b8a3e}.warn{color:#8a5a00}.legend i{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}\
svg{display:block}.scroll{overflow-x:auto;background:#fff;padding:8px;border:1px solid #d0d7de;border-radius:8px}footer{color:#57606a;font-size:12px;margin-top:30px}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{CSS}</style></head><body><main>{body}</main></body></html>\n",
        escape(title)
    )
}

/// Compact number for tables: 4 significant digits, scientific when tiny or huge.
pub fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        "n/a".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "∞" } else { "-∞" }.to_owned()
    } else if v == 0.0 {
        "0".to_owned()
    } else if v.abs() < 1e-3 || v.abs() >= 1e6 {
        format!("{v:.3e}")
    } else {
        let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
        format!("{v:.digits$}")
    }
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// Renders the full report page (see [`Report::to_html`]).
pub fn render_report(r: &Report) -> String {
    let mut b = String::with_capacity(64 * 1024);
    let d = &r.drift;
    let c = &r.classification;
    let _ = write!(
        b,
        "<header><h1>Tympan report</h1><p class=\"meta\">Generated {} by {}{}</p><p class=\"meta\">Reference <code>{}</code> ({} rows) · production <code>{}</code> ({} rows) · {} PCA columns</p></header>",
        escape(&r.generated_at),
        escape(&r.generator),
        r.model_version
            .as_deref()
            .map(|v| format!(" · model version <code>{}</code>", escape(v)))
            .unwrap_or_default(),
        escape(&r.reference.path),
        r.reference.rows,
        escape(&r.production.path),
        r.production.rows,
        r.pca_columns
    );
    let _ = write!(
        b,
        "<section class=\"verdict {}\"><h2>{}</h2><p>{} of {} columns drifted ({}); the dataset is declared drifted at ≥ {}.</p></section>",
        if d.dataset_drift { "bad" } else { "good" },
        if d.dataset_drift { "Dataset drift detected" } else { "No dataset drift" },
        d.drifted_columns,
        d.columns.len(),
        pct(d.share),
        pct(d.drift_share)
    );
    b.push_str("<section class=\"cards\">");
    for (label, value) in [
        ("accuracy", pct(c.accuracy)),
        ("balanced accuracy", pct(c.balanced_accuracy)),
        ("macro F1", fmt_num(c.macro_avg.f1)),
        ("weighted F1", fmt_num(c.weighted_avg.f1)),
        ("production rows", c.rows.to_string()),
    ] {
        let _ = write!(
            b,
            "<div class=\"card\"><b>{value}</b><span>{label}</span></div>"
        );
    }
    b.push_str("</section>");

    let _ = write!(
        b,
        "<h2>Data drift</h2><p class=\"legend\">Distributions:<i style=\"background:{}\"></i>reference<i style=\"background:{}\"></i>production. Prediction drift compares production predictions with reference targets.</p><div class=\"scroll\"><table><thead><tr><th>Column</th><th>Type</th><th>Test</th><th>Statistic</th><th>p-value</th><th>Threshold</th><th>Drift</th><th>Reference vs production</th></tr></thead><tbody>",
        svg::REF_COLOR,
        svg::CUR_COLOR
    );
    for col in &d.columns {
        drift_row(&mut b, col);
    }
    b.push_str("</tbody></table></div>");

    b.push_str("<h2>Classification quality (production)</h2><div class=\"scroll\"><table><thead><tr><th>Class</th><th>Precision</th><th>Recall</th><th>F1</th><th>Support</th><th>Predicted</th></tr></thead><tbody>");
    for m in &c.per_class {
        let _ = write!(
            b,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&m.label),
            fmt_num(m.precision),
            fmt_num(m.recall),
            fmt_num(m.f1),
            m.support,
            m.predicted
        );
    }
    for (name, a) in [
        ("macro avg", &c.macro_avg),
        ("weighted avg", &c.weighted_avg),
    ] {
        let _ = write!(
            b,
            "<tr><th>{name}</th><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td></td></tr>",
            fmt_num(a.precision),
            fmt_num(a.recall),
            fmt_num(a.f1),
            c.rows
        );
    }
    let _ = write!(
        b,
        "<tr><th>accuracy</th><td></td><td></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td></td></tr><tr><th>balanced accuracy</th><td></td><td></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td></td></tr></tbody></table></div>",
        fmt_num(c.accuracy),
        c.rows,
        fmt_num(c.balanced_accuracy),
        c.rows
    );
    let _ = write!(
        b,
        "<h3>Confusion matrix</h3><p class=\"meta\">Rows: true class; columns: predicted class; colour: share of the true class.</p><div class=\"scroll\">{}</div>",
        svg::heatmap(&c.labels, &c.confusion_matrix)
    );
    if !c.warnings.is_empty() {
        b.push_str("<h3>Warnings</h3><ul>");
        for w in &c.warnings {
            let _ = write!(b, "<li class=\"warn\">{}</li>", escape(w));
        }
        b.push_str("</ul>");
    }
    b.push_str("<footer>Drift tests follow Evidently's defaults: with ≤ 1000 reference rows, two-sample Kolmogorov–Smirnov for numeric columns with more than 5 distinct values, chi-square (3+ categories) or two-proportion Z-test (2) otherwise; with more rows, Wasserstein distance normed by the reference standard deviation (numeric) and Jensen–Shannon distance (categorical). Classification metrics follow scikit-learn (undefined ratios count as 0).</footer>");
    page("Tympan report", &b)
}

fn drift_row(b: &mut String, col: &ColumnDrift) {
    let chart = match &col.distribution {
        Distribution::Numeric {
            reference, current, ..
        } => svg::histogram(reference, current, 180.0, 36.0),
        Distribution::Categorical(cc) => {
            svg::category_bars(&cc.labels, &cc.reference, &cc.current, 180.0, 36.0, 8)
        }
    };
    let kind = match col.kind {
        ColumnKind::Numeric => "num",
        ColumnKind::Categorical => "cat",
    };
    let method = col
        .ks_method
        .map(|m| {
            format!(
                " ({})",
                if m == crate::ks::KsMethod::Exact {
                    "exact"
                } else {
                    "asymptotic"
                }
            )
        })
        .unwrap_or_default();
    let _ = write!(
        b,
        "<tr><td>{}</td><td>{kind}</td><td>{}{method}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"{}\">{}</td><td>{chart}</td></tr>",
        escape(&col.column),
        escape(col.test.display_name()),
        fmt_num(col.statistic),
        col.p_value.map(fmt_num).unwrap_or_else(|| "–".to_owned()),
        fmt_num(col.threshold),
        if col.drifted { "yes" } else { "no" },
        if col.drifted { "drift" } else { "ok" }
    );
}

/// Most points drawn per line; older points are thinned, version changes kept.
const MAX_POINTS: usize = 800;

/// Renders the history dashboard: drift share, quality and volume over time,
/// with a marker wherever the model version changes (a retraining).
pub fn render_dashboard(history: &History) -> String {
    let snaps = &history.snapshots;
    let mut b = String::with_capacity(32 * 1024);
    let _ = write!(
        b,
        "<header><h1>Tympan dashboard</h1><p class=\"meta\">{} reports{}</p></header>",
        snaps.len(),
        snaps
            .last()
            .map(|s| format!(", latest {}", escape(&s.timestamp)))
            .unwrap_or_default()
    );
    if !history.skipped_lines.is_empty() {
        let _ = write!(
            b,
            "<p class=\"warn\">Skipped {} unreadable history line(s).</p>",
            history.skipped_lines.len()
        );
    }
    if snaps.is_empty() {
        b.push_str("<p>No report yet.</p>");
        return page("Tympan dashboard", &b);
    }
    let changes = version_changes(snaps);
    let keep = thin(snaps.len(), &changes);
    let use_time = snaps.first().map(|s| s.unix_ms) != snaps.last().map(|s| s.unix_ms);
    let x = |i: usize| {
        if use_time {
            snaps[i].unix_ms as f64
        } else {
            i as f64
        }
    };
    let markers: Vec<(f64, String)> = changes
        .iter()
        .map(|&i| {
            (
                x(i),
                snaps[i]
                    .model_version
                    .clone()
                    .unwrap_or_else(|| "(none)".to_owned()),
            )
        })
        .collect();
    let x_labels = (
        snaps[0].timestamp.clone(),
        snaps[snaps.len() - 1].timestamp.clone(),
    );
    let series = |f: &dyn Fn(&Snapshot) -> f64| {
        keep.iter()
            .map(|&i| (x(i), f(&snaps[i])))
            .collect::<Vec<_>>()
    };
    let latest = &snaps[snaps.len() - 1];
    b.push_str("<section class=\"cards\">");
    for (label, value) in [
        ("drift share", pct(latest.drift_share)),
        (
            "dataset drift",
            if latest.dataset_drift { "yes" } else { "no" }.to_owned(),
        ),
        ("macro F1", fmt_num(latest.macro_f1)),
        ("balanced accuracy", pct(latest.balanced_accuracy)),
        ("production rows", latest.rows_prod.to_string()),
        (
            "model version",
            escape(latest.model_version.as_deref().unwrap_or("–")),
        ),
    ] {
        let _ = write!(
            b,
            "<div class=\"card\"><b>{value}</b><span>{label}</span></div>"
        );
    }
    b.push_str("</section>");
    let charts = [
        svg::LineChart {
            title: "Share of drifted columns",
            series: vec![svg::Series {
                name: "drift share",
                color: "#d9480f",
                points: series(&|s| s.drift_share),
            }],
            y_range: Some((0.0, 1.0)),
            threshold: Some(latest.drift_share_threshold),
            markers: markers.clone(),
            x_labels: x_labels.clone(),
        },
        svg::LineChart {
            title: "Classification quality",
            series: vec![
                svg::Series {
                    name: "macro F1",
                    color: "#1971c2",
                    points: series(&|s| s.macro_f1),
                },
                svg::Series {
                    name: "balanced accuracy",
                    color: "#2f9e44",
                    points: series(&|s| s.balanced_accuracy),
                },
                svg::Series {
                    name: "accuracy",
                    color: "#868e96",
                    points: series(&|s| s.accuracy),
                },
            ],
            y_range: Some((0.0, 1.0)),
            threshold: None,
            markers: markers.clone(),
            x_labels: x_labels.clone(),
        },
        svg::LineChart {
            title: "Production rows",
            series: vec![svg::Series {
                name: "rows",
                color: "#7048e8",
                points: series(&|s| s.rows_prod as f64),
            }],
            y_range: None,
            threshold: None,
            markers,
            x_labels,
        },
    ];
    b.push_str("<h2>Trends</h2><p class=\"meta\">Dashed blue lines mark model version changes (retrainings); the dashed red line is the dataset drift threshold.</p>");
    for c in &charts {
        let _ = write!(b, "<div class=\"scroll\">{}</div>", svg::line_chart(c));
    }
    b.push_str("<h2>Model versions</h2><div class=\"scroll\"><table><thead><tr><th>From</th><th>Model version</th><th>Reports</th><th>Note</th></tr></thead><tbody>");
    let mut bounds = changes.clone();
    bounds.push(snaps.len());
    for w in bounds.windows(2) {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            escape(&snaps[w[0]].timestamp),
            escape(snaps[w[0]].model_version.as_deref().unwrap_or("–")),
            w[1] - w[0],
            escape(snaps[w[0]].note.as_deref().unwrap_or(""))
        );
    }
    b.push_str("</tbody></table></div><h2>Latest reports</h2><div class=\"scroll\"><table><thead><tr><th>Time</th><th>Model</th><th>Ref rows</th><th>Prod rows</th><th>Drift share</th><th>Dataset drift</th><th>Accuracy</th><th>Macro F1</th><th>Balanced acc.</th><th>Note</th></tr></thead><tbody>");
    for s in snaps.iter().rev().take(30) {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"{}\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            escape(&s.timestamp),
            escape(s.model_version.as_deref().unwrap_or("–")),
            s.rows_ref,
            s.rows_prod,
            pct(s.drift_share),
            if s.dataset_drift { "yes" } else { "no" },
            if s.dataset_drift { "yes" } else { "no" },
            fmt_num(s.accuracy),
            fmt_num(s.macro_f1),
            fmt_num(s.balanced_accuracy),
            escape(s.note.as_deref().unwrap_or(""))
        );
    }
    b.push_str("</tbody></table></div>");
    page("Tympan dashboard", &b)
}

/// Indices where a new model version starts (always includes 0).
fn version_changes(snaps: &[Snapshot]) -> Vec<usize> {
    let mut out = vec![0];
    for i in 1..snaps.len() {
        if snaps[i].model_version != snaps[i - 1].model_version {
            out.push(i);
        }
    }
    out
}

/// Evenly spaced indices (at most about `MAX_POINTS`), plus the change points and the last.
fn thin(n: usize, changes: &[usize]) -> Vec<usize> {
    let stride = n.div_ceil(MAX_POINTS).max(1);
    let mut keep: Vec<usize> = (0..n).filter(|i| i % stride == 0).collect();
    keep.extend(changes.iter().copied());
    keep.extend(changes.iter().filter(|&&i| i > 0).map(|&i| i - 1));
    keep.push(n - 1);
    keep.sort_unstable();
    keep.dedup();
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape(r#"<script>alert("x&y")</script>'"#),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;"
        );
        assert_eq!(escape("plain é"), "plain é");
    }

    #[test]
    fn number_format() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(0.123456), "0.1235");
        assert_eq!(fmt_num(12.5), "12.50");
        assert_eq!(fmt_num(1.5e-7), "1.500e-7");
        assert_eq!(fmt_num(f64::INFINITY), "∞");
    }

    #[test]
    fn thinning_keeps_changes_and_ends() {
        let k = thin(10_000, &[0, 5_001]);
        assert!(k.len() < 1_000);
        assert!(k.contains(&0) && k.contains(&5_001) && k.contains(&5_000) && k.contains(&9_999));
    }
}
