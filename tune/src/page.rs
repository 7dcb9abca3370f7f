//! The search as a self-contained HTML page: the leaderboard and a chart of score against time.

use serde::Serialize;
use tera::{Context, Tera};

use crate::search::TuneOutcome;
use crate::TuneError;

/// Rows of the page's leaderboard.
pub const LEADERBOARD_ROWS: usize = 10;

const CHART_WIDTH: f64 = 720.0;
const CHART_HEIGHT: f64 = 260.0;
const MARGIN: f64 = 40.0;

#[derive(Serialize)]
struct Row {
    score: String,
    spread: String,
    gain: String,
    clears: bool,
    accuracy: String,
    n_components: usize,
    alpha: f64,
    changes: Vec<String>,
    at: String,
}

#[derive(Serialize)]
struct ConfirmedRow {
    order: usize,
    score: String,
    gain: String,
    clears: bool,
}

#[derive(Serialize)]
struct View {
    dataset: String,
    clips: usize,
    folds: usize,
    protocol: String,
    candidates: usize,
    front_ends: usize,
    elapsed: String,
    decode: String,
    seed: u64,
    stop: &'static str,
    best: String,
    min_gain_t: f64,
    defaults: String,
    leaderboard: Vec<Row>,
    /// Fresh folds the leaders were re-scored on (0: no confirmation).
    confirmation_folds: usize,
    confirmation_defaults: String,
    confirmed: Vec<ConfirmedRow>,
    winner_confirmed: bool,
    chart: String,
}

/// Renders the page (auto-escaped: dataset names and options are data).
pub fn render(outcome: &TuneOutcome) -> Result<String, TuneError> {
    let view = View {
        dataset: outcome.dataset.clone(),
        clips: outcome.clips,
        folds: outcome.folds,
        protocol: outcome.protocol.clone(),
        candidates: outcome.candidates.len(),
        front_ends: outcome.front_ends.len(),
        elapsed: format!("{:.1}", outcome.elapsed_seconds),
        decode: format!("{:.1}", outcome.decode_seconds),
        seed: outcome.seed,
        stop: outcome.stop.describe(),
        min_gain_t: crate::search::MIN_GAIN_T,
        best: outcome
            .best()
            .map_or("-".into(), |b| format!("{:.4}", b.score)),
        defaults: outcome
            .defaults()
            .map_or("-".into(), |d| format!("{:.4}", d.score)),
        leaderboard: outcome
            .leaderboard(LEADERBOARD_ROWS)
            .into_iter()
            .map(|c| Row {
                score: format!("{:.4}", c.score),
                spread: format!("{:.4}", c.spread),
                gain: outcome
                    .gain(c)
                    .map_or("-".into(), |(g, se)| format!("{g:+.4} ± {se:.4}")),
                clears: outcome.clears_noise(c),
                accuracy: format!("{:.2} %", c.accuracy * 100.0),
                n_components: c.n_components,
                alpha: c.alpha,
                changes: c.changes.clone(),
                at: format!("{:.1}", c.at_seconds),
            })
            .collect(),
        confirmation_folds: outcome.confirmation.as_ref().map_or(0, |c| c.folds),
        confirmation_defaults: outcome
            .confirmation
            .as_ref()
            .map_or("-".into(), |c| format!("{:.4}", c.defaults.score)),
        confirmed: outcome
            .confirmation
            .iter()
            .flat_map(|conf| {
                conf.leaders.iter().map(|k| {
                    let (g, se) = conf.gain(k);
                    ConfirmedRow {
                        order: k.order,
                        score: format!("{:.4}", k.score),
                        gain: format!("{g:+.4} ± {se:.4}"),
                        clears: conf.clears_noise(k),
                    }
                })
            })
            .collect(),
        winner_confirmed: outcome.best().is_some_and(|b| outcome.is_confirmed(b)),
        chart: chart(outcome),
    };
    let context = Context::from_serialize(&view).map_err(|e| TuneError::Page(e.to_string()))?;
    let mut tera = Tera::default();
    tera.add_raw_template("tune.html", include_str!("../templates/tune.html.tera"))
        .map_err(|e| TuneError::Page(e.to_string()))?;
    tera.render("tune.html", &context)
        .map_err(|e| TuneError::Page(e.to_string()))
}

/// Score against time as inline SVG (numbers only, nothing from the data).
fn chart(outcome: &TuneOutcome) -> String {
    let points: Vec<(f64, f64)> = outcome
        .candidates
        .iter()
        .map(|c| (c.at_seconds, c.score))
        .collect();
    let t_max = outcome.elapsed_seconds.max(1e-3);
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
    let (lo, hi) = if lo < hi {
        (lo, hi)
    } else {
        (lo - 0.01, hi + 0.01)
    };
    let x = |t: f64| MARGIN + t / t_max * (CHART_WIDTH - 2.0 * MARGIN);
    let y = |s: f64| CHART_HEIGHT - MARGIN - (s - lo) / (hi - lo) * (CHART_HEIGHT - 2.0 * MARGIN);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {CHART_WIDTH} {CHART_HEIGHT}\" \
         role=\"img\" aria-label=\"macro F1 of each candidate against time\">"
    );
    svg.push_str(&format!(
        "<line x1=\"{MARGIN}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#8a93a8\"/>\
         <line x1=\"{MARGIN}\" y1=\"{MARGIN}\" x2=\"{MARGIN}\" y2=\"{b}\" stroke=\"#8a93a8\"/>\
         <text x=\"{MARGIN}\" y=\"{t}\" font-size=\"11\">{hi:.4}</text>\
         <text x=\"{MARGIN}\" y=\"{lb}\" font-size=\"11\">{lo:.4}</text>\
         <text x=\"{r}\" y=\"{lb}\" font-size=\"11\" text-anchor=\"end\">{t_max:.0} s</text>",
        b = CHART_HEIGHT - MARGIN,
        r = CHART_WIDTH - MARGIN,
        t = MARGIN - 6.0,
        lb = CHART_HEIGHT - MARGIN + 16.0,
    ));
    for &(t, s) in &points {
        svg.push_str(&format!(
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#4a6fd0\" fill-opacity=\"0.55\"/>",
            x(t),
            y(s)
        ));
    }
    let mut best = f64::NEG_INFINITY;
    let path: Vec<String> = points
        .iter()
        .map(|&(t, s)| {
            best = best.max(s);
            format!("{:.1},{:.1}", x(t), y(best))
        })
        .collect();
    svg.push_str(&format!(
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#1f8a4c\" stroke-width=\"2\"/></svg>",
        path.join(" ")
    ));
    svg
}
