//! HTML rendering of the report and of the history dashboard.
//!
//! Pages are single self-contained files (inline CSS, inline SVG, no JavaScript and nothing
//! fetched from the network), rendered from the tera templates in `report/templates/`, which are
//! compiled into the binary. Auto-escaping is on: every string that comes from data or the
//! command line goes through [`escape`]; only the SVG charts of [`crate::svg`], which escape
//! their own text, are inserted as they are.

use std::sync::LazyLock;

use serde::Serialize;
use tera::{Context, Tera};

use crate::drift::{ColumnDrift, ColumnKind, Distribution};
use crate::ks::KsMethod;
use crate::live::{LivePoint, LiveSection};
use crate::report::Report;
use crate::snapshot::{History, Snapshot};
use crate::svg;

/// Escapes text for HTML element content and attribute values (`& < > " '`).
///
/// It is also the templates' escape function: shorter than tera's own (which writes `'` as
/// `&#x27;` and escapes `/` too), so paths and labels do not grow the page.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut plain = 0;
    for (i, byte) in s.bytes().enumerate() {
        let entity = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        // The escaped bytes are ASCII, so the slices end on character boundaries.
        out.push_str(&s[plain..i]);
        out.push_str(entity);
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
    out
}

/// The page templates, parsed once; `.html` names turn auto-escaping on.
static TEMPLATES: LazyLock<Tera> = LazyLock::new(|| {
    let mut tera = Tera::default();
    tera.add_raw_templates([
        ("page.html", include_str!("../templates/page.html.tera")),
        ("cards.html", include_str!("../templates/cards.html.tera")),
        ("report.html", include_str!("../templates/report.html.tera")),
        (
            "dashboard.html",
            include_str!("../templates/dashboard.html.tera"),
        ),
        ("live.html", include_str!("../templates/live.html.tera")),
        (
            "live_page.html",
            include_str!("../templates/live_page.html.tera"),
        ),
    ])
    .expect("the page templates compile (checked by the unit tests)");
    tera.set_escape_fn(escape);
    tera
});

/// Renders template `name` with the fields of `view` into a buffer of `size_hint` bytes.
///
/// The views are plain structs of strings and numbers that the templates were written for (the
/// unit tests render both pages), so a failure here is a bug, not a data problem. The hint spares
/// the page the copies of a buffer grown from tera's default size.
fn render(name: &str, view: &impl Serialize, size_hint: usize) -> String {
    let context = Context::from_serialize(view).expect("a page view serialises to an object");
    let mut page = Vec::with_capacity(size_hint);
    TEMPLATES
        .render_to(name, &context, &mut page)
        .unwrap_or_else(|e| panic!("template {name} failed: {e:?}"));
    String::from_utf8(page).expect("templates and their values are UTF-8")
}

/// Room for a page's fixed text, its table rows and its `charts` (pre-built SVG).
fn page_size<'a>(rows: usize, charts: impl IntoIterator<Item = &'a String>) -> usize {
    16 * 1024 + 256 * rows + charts.into_iter().map(String::len).sum::<usize>()
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

/// A headline figure: `(label, value)`, drawn as a card.
type Card = (&'static str, String);

/// What `report.html` shows, with every number already formatted.
#[derive(Serialize)]
struct ReportView<'a> {
    generated_at: &'a str,
    generator: &'a str,
    model_version: Option<&'a str>,
    reference: &'a crate::report::DataSummary,
    production: &'a crate::report::DataSummary,
    pca_columns: usize,
    dataset_drift: bool,
    drifted_columns: usize,
    share: String,
    drift_share: String,
    cards: Vec<Card>,
    ref_color: &'static str,
    cur_color: &'static str,
    columns: Vec<DriftRow<'a>>,
    classes: Vec<ClassRow<'a>>,
    /// The classes not listed, summed (see [`tympan_data::metrics::OtherClasses`]).
    other: Option<OtherRow>,
    /// How many classes there are in all, when not all are listed.
    all_classes: Option<usize>,
    averages: [AverageRow; 2],
    rows: u64,
    accuracy: String,
    balanced_accuracy: String,
    heatmap: String,
    warnings: &'a [String],
    /// The live-traffic section, when the caller has one.
    #[serde(flatten)]
    live: Option<&'a LiveView>,
    has_live: bool,
}

/// One row of the drift table.
#[derive(Serialize)]
struct DriftRow<'a> {
    column: &'a str,
    kind: &'static str,
    test: &'static str,
    ks_method: Option<&'static str>,
    statistic: String,
    p_value: String,
    threshold: String,
    drifted: bool,
    /// Built by [`crate::svg`], which escapes its labels: inserted unescaped.
    chart: String,
}

/// One class of the quality table.
#[derive(Serialize)]
struct ClassRow<'a> {
    label: &'a str,
    precision: String,
    recall: String,
    f1: String,
    support: u64,
    predicted: u64,
}

/// The row of the quality table that sums the classes not listed.
#[derive(Serialize)]
struct OtherRow {
    label: String,
    f1: String,
    support: u64,
    predicted: u64,
}

impl OtherRow {
    fn new(o: &tympan_data::metrics::OtherClasses) -> Self {
        Self {
            label: other_label(o.classes),
            f1: fmt_num(o.mean_f1),
            support: o.support,
            predicted: o.predicted,
        }
    }
}

/// The name of the "other" row and column.
fn other_label(classes: usize) -> String {
    format!("{classes} other classes")
}

/// The macro or weighted average row of the quality table.
#[derive(Serialize)]
struct AverageRow {
    name: &'static str,
    precision: String,
    recall: String,
    f1: String,
}

impl AverageRow {
    fn new(name: &'static str, a: &tympan_data::metrics::Averages) -> Self {
        Self {
            name,
            precision: fmt_num(a.precision),
            recall: fmt_num(a.recall),
            f1: fmt_num(a.f1),
        }
    }
}

/// Renders the full report page (see [`Report::to_html`]), with the live-traffic section when
/// there is one.
pub fn render_report(r: &Report, live: Option<&LiveView>) -> String {
    let d = &r.drift;
    let c = &r.classification;
    let view = ReportView {
        generated_at: &r.generated_at,
        generator: &r.generator,
        model_version: r.model_version.as_deref(),
        reference: &r.reference,
        production: &r.production,
        pca_columns: r.pca_columns,
        dataset_drift: d.dataset_drift,
        drifted_columns: d.drifted_columns,
        share: pct(d.share),
        drift_share: pct(d.drift_share),
        cards: vec![
            ("accuracy", pct(c.accuracy)),
            ("balanced accuracy", pct(c.balanced_accuracy)),
            ("macro F1", fmt_num(c.macro_avg.f1)),
            ("weighted F1", fmt_num(c.weighted_avg.f1)),
            ("production rows", c.rows.to_string()),
        ],
        ref_color: svg::REF_COLOR,
        cur_color: svg::CUR_COLOR,
        columns: d.columns.iter().map(drift_row).collect(),
        classes: c
            .per_class
            .iter()
            .map(|m| ClassRow {
                label: &m.label,
                precision: fmt_num(m.precision),
                recall: fmt_num(m.recall),
                f1: fmt_num(m.f1),
                support: m.support,
                predicted: m.predicted,
            })
            .collect(),
        other: c.other.as_ref().map(OtherRow::new),
        all_classes: c.other.is_some().then_some(c.classes),
        averages: [
            AverageRow::new("macro avg", &c.macro_avg),
            AverageRow::new("weighted avg", &c.weighted_avg),
        ],
        rows: c.rows,
        accuracy: fmt_num(c.accuracy),
        balanced_accuracy: fmt_num(c.balanced_accuracy),
        heatmap: heatmap(c),
        warnings: &c.warnings,
        live,
        has_live: live.is_some(),
    };
    let charts = view.columns.iter().map(|c| &c.chart);
    let size = page_size(
        view.columns.len() + view.classes.len(),
        charts.chain([&view.heatmap]),
    );
    render("report.html", &view, size)
}

/// The confusion matrix, with the "other" row and column when classes are summed.
fn heatmap(c: &tympan_data::metrics::Classification) -> String {
    let mut labels = c.labels.clone();
    labels.extend(c.other.as_ref().map(|o| other_label(o.classes)));
    svg::heatmap(&labels, &c.confusion_matrix)
}

fn drift_row(col: &ColumnDrift) -> DriftRow<'_> {
    let chart = match &col.distribution {
        Distribution::Numeric {
            reference, current, ..
        } => svg::histogram(reference, current, 180.0, 36.0),
        Distribution::Categorical(cc) => svg::category_bars(cc, 180.0, 36.0, 8),
    };
    DriftRow {
        column: &col.column,
        kind: match col.kind {
            ColumnKind::Numeric => "num",
            ColumnKind::Categorical => "cat",
        },
        test: col.test.display_name(),
        ks_method: col.ks_method.map(|m| match m {
            KsMethod::Exact => "exact",
            KsMethod::Asymptotic => "asymptotic",
        }),
        statistic: fmt_num(col.statistic),
        p_value: col.p_value.map(fmt_num).unwrap_or_else(|| "–".to_owned()),
        threshold: fmt_num(col.threshold),
        drifted: col.drifted,
        chart,
    }
}

/// Most points drawn per line; older points are thinned, version changes kept.
const MAX_POINTS: usize = 800;

/// Shown for a report without a model version.
const NO_VERSION: &str = "–";

/// What `dashboard.html` shows, with every number already formatted.
#[derive(Serialize)]
struct DashboardView<'a> {
    reports: usize,
    latest_timestamp: Option<&'a str>,
    skipped_lines: usize,
    cards: Vec<Card>,
    /// Built by [`crate::svg::line_chart`], which escapes its labels: inserted unescaped.
    charts: Vec<String>,
    versions: Vec<VersionRow<'a>>,
    latest: Vec<SnapshotRow<'a>>,
    /// The live-traffic section, when the caller has one.
    #[serde(flatten)]
    live: Option<&'a LiveView>,
    has_live: bool,
}

/// The first report of one model version.
#[derive(Serialize)]
struct VersionRow<'a> {
    from: &'a str,
    model_version: &'a str,
    reports: usize,
    note: &'a str,
}

/// One report of the history table.
#[derive(Serialize)]
struct SnapshotRow<'a> {
    timestamp: &'a str,
    model_version: &'a str,
    rows_ref: usize,
    rows_prod: usize,
    drift_share: String,
    dataset_drift: bool,
    accuracy: String,
    macro_f1: String,
    balanced_accuracy: String,
    note: &'a str,
}

impl<'a> SnapshotRow<'a> {
    fn new(s: &'a Snapshot) -> Self {
        Self {
            timestamp: &s.timestamp,
            model_version: s.model_version.as_deref().unwrap_or(NO_VERSION),
            rows_ref: s.rows_ref,
            rows_prod: s.rows_prod,
            drift_share: pct(s.drift_share),
            dataset_drift: s.dataset_drift,
            accuracy: fmt_num(s.accuracy),
            macro_f1: fmt_num(s.macro_f1),
            balanced_accuracy: fmt_num(s.balanced_accuracy),
            note: s.note.as_deref().unwrap_or(""),
        }
    }
}

/// Renders the history dashboard: drift share, quality and volume over time,
/// with a marker wherever the model version changes (a retraining).
pub fn render_dashboard(history: &History) -> String {
    render_dashboard_with_live(history, None)
}

/// [`render_dashboard`] with the live-traffic section on top.
pub fn render_dashboard_with_live(history: &History, live: Option<&LiveView>) -> String {
    let snaps = &history.snapshots;
    let mut view = DashboardView {
        reports: snaps.len(),
        latest_timestamp: snaps.last().map(|s| s.timestamp.as_str()),
        skipped_lines: history.skipped_lines.len(),
        cards: Vec::new(),
        charts: Vec::new(),
        versions: Vec::new(),
        latest: Vec::new(),
        live,
        has_live: live.is_some(),
    };
    if let Some(latest) = snaps.last() {
        let changes = version_changes(snaps);
        view.cards = dashboard_cards(latest);
        view.charts = trend_charts(snaps, &changes);
        view.versions = version_rows(snaps, &changes);
        view.latest = snaps.iter().rev().take(30).map(SnapshotRow::new).collect();
    }
    let size = page_size(view.versions.len() + view.latest.len(), &view.charts);
    render("dashboard.html", &view, size)
}

fn dashboard_cards(latest: &Snapshot) -> Vec<Card> {
    vec![
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
            latest
                .model_version
                .as_deref()
                .unwrap_or(NO_VERSION)
                .to_owned(),
        ),
    ]
}

/// One row per model version, from the indices where each starts.
fn version_rows<'a>(snaps: &'a [Snapshot], changes: &[usize]) -> Vec<VersionRow<'a>> {
    let ends = changes[1..].iter().copied().chain([snaps.len()]);
    changes
        .iter()
        .zip(ends)
        .map(|(&start, end)| VersionRow {
            from: &snaps[start].timestamp,
            model_version: snaps[start].model_version.as_deref().unwrap_or(NO_VERSION),
            reports: end - start,
            note: snaps[start].note.as_deref().unwrap_or(""),
        })
        .collect()
}

/// The drift share, quality and volume charts of a non-empty history.
fn trend_charts(snaps: &[Snapshot], changes: &[usize]) -> Vec<String> {
    let keep = thin(snaps.len(), changes);
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
    charts.iter().map(svg::line_chart).collect()
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

/// The live-traffic section with every number formatted, ready for `live.html` (inside the
/// report and the dashboard) or a page of its own ([`render_live_page`]).
#[derive(Debug, Clone, Serialize)]
pub struct LiveView {
    live_rows: usize,
    live_from: String,
    live_to: String,
    live_computed_at: String,
    live_versions: String,
    live_drift: bool,
    live_votes: (&'static str, &'static str, &'static str),
    live_cards: Vec<Card>,
    /// Built by [`crate::svg::line_chart`], which escapes its labels: inserted unescaped.
    live_charts: Vec<String>,
    live_calibrated: bool,
    live_novelty_aware: bool,
}

impl LiveView {
    /// The view of `section`, computed at `computed_at`, with the plot of `history` (oldest
    /// first; the latest point included).
    pub fn new(section: &LiveSection, computed_at: &str, history: &[LivePoint]) -> Self {
        let e = &section.embedding;
        let verdict = |d: bool| if d { "drift" } else { "no drift" };
        let mut cards: Vec<Card> = vec![
            ("domain classifier AUC", fmt_num(e.domain_auc)),
            ("MMD p-value", fmt_num(e.mmd_p_value)),
            ("drifted components", pct(e.drifted_share)),
            (
                "predicted labels p-value",
                fmt_num(section.predictions.p_value),
            ),
            ("estimated accuracy", pct(section.estimate.accuracy)),
            ("estimated macro F1", fmt_num(section.estimate.macro_f1)),
        ];
        if let Some(u) = section.unusual {
            cards.push(("unusual clips", format!("{} ({})", u.unusual, pct(u.rate))));
        }
        if let Some(r) = section.realised {
            cards.push((
                "realised accuracy",
                format!("{} of {}", pct(r.accuracy), r.rows),
            ));
        }
        Self {
            live_rows: section.window_rows,
            live_from: section.from.clone(),
            live_to: section.to.clone(),
            live_computed_at: computed_at.to_owned(),
            live_versions: section.model_versions.join(", "),
            live_drift: e.drift,
            live_votes: (
                verdict(e.domain_drift),
                verdict(e.mmd_drift),
                verdict(e.share_drift),
            ),
            live_cards: cards,
            live_charts: live_charts(history),
            live_calibrated: section.estimate.calibrated,
            live_novelty_aware: section.estimate.novelty_aware,
        }
    }
}

/// The live section alone, as a page (`tympan report --live` writes it as `live.html`).
pub fn render_live_page(live: &LiveView) -> String {
    render("live_page.html", live, page_size(0, &live.live_charts))
}

/// Quality and unusual share over time, and the domain classifier's AUC against its threshold.
fn live_charts(history: &[LivePoint]) -> Vec<String> {
    let (Some(first), Some(last)) = (history.first(), history.last()) else {
        return Vec::new();
    };
    let series = |f: &dyn Fn(&LivePoint) -> Option<f64>| -> Vec<(f64, f64)> {
        history
            .iter()
            .filter_map(|p| f(p).map(|y| (p.unix_ms as f64, y)))
            .collect()
    };
    let x_labels = (first.time.clone(), last.time.clone());
    let mut quality = vec![
        svg::Series {
            name: "est. accuracy",
            color: "#1971c2",
            points: series(&|p| Some(p.estimated_accuracy)),
        },
        svg::Series {
            name: "est. macro F1",
            color: "#7048e8",
            points: series(&|p| Some(p.estimated_macro_f1)),
        },
    ];
    let realised = series(&|p| p.realised_accuracy);
    if !realised.is_empty() {
        quality.push(svg::Series {
            name: "realised acc.",
            color: "#2f9e44",
            points: realised,
        });
    }
    let unusual = series(&|p| p.unusual_rate);
    if !unusual.is_empty() {
        quality.push(svg::Series {
            name: "unusual",
            color: "#d9480f",
            points: unusual,
        });
    }
    [
        svg::LineChart {
            title: "Live quality",
            series: quality,
            y_range: Some((0.0, 1.0)),
            threshold: None,
            markers: Vec::new(),
            x_labels: x_labels.clone(),
        },
        svg::LineChart {
            title: "Domain classifier AUC (dashed: drift)",
            series: vec![svg::Series {
                name: "domain AUC",
                color: "#1971c2",
                points: series(&|p| Some(p.domain_auc)),
            }],
            y_range: Some((0.0, 1.0)),
            threshold: Some(crate::embedding_drift::EmbeddingDriftConfig::default().auc_threshold),
            markers: Vec::new(),
            x_labels,
        },
    ]
    .iter()
    .map(svg::line_chart)
    .collect()
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

    fn snapshot(model_version: Option<&str>, note: Option<&str>) -> Snapshot {
        Snapshot {
            timestamp: "2024-06-15T12:34:56.123Z".into(),
            unix_ms: 1_718_454_896_123,
            rows_ref: 10,
            rows_prod: 5,
            columns: 3,
            drifted_columns: 1,
            drift_share: 1.0 / 3.0,
            drift_share_threshold: 0.5,
            dataset_drift: false,
            accuracy: 0.8,
            macro_f1: 0.75,
            balanced_accuracy: f64::NAN,
            model_version: model_version.map(Into::into),
            note: note.map(Into::into),
        }
    }

    #[test]
    fn dashboard_escapes_versions_and_notes() {
        let history = History {
            snapshots: vec![
                snapshot(Some("v1 <script>alert('x')</script>"), Some("a \"b\" & c")),
                snapshot(None, None),
            ],
            skipped_lines: vec![3],
        };
        let page = render_dashboard(&history);
        assert!(!page.contains("<script>"), "raw markup on the dashboard");
        assert!(page.contains("v1 &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(page.contains("<td>a &quot;b&quot; &amp; c</td>"));
        assert!(page.contains("Skipped 1 unreadable history line(s)."));
        // A report without a version shows a dash; a NaN ratio shows as n/a.
        assert!(page.contains("<td>–</td>") && page.contains(">n/a<"));
        assert_eq!(page.matches("<svg").count(), 3);
        assert!(page.starts_with("<!DOCTYPE html>\n<html lang=\"en\"><head>"));
        assert!(page.ends_with("</main></body></html>\n"));
    }

    #[test]
    fn empty_dashboard_says_so_without_charts() {
        let page = render_dashboard(&History::default());
        assert!(
            page.contains("<p class=\"meta\">0 reports</p></header><p>No report yet.</p></main>")
        );
        assert!(!page.contains("<svg") && !page.contains("class=\"cards\""));
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
