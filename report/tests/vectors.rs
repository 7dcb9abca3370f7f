//! Compares the statistics with reference values from SciPy, scikit-learn
//! and Evidently (`tests/vectors/vectors.json`, produced by
//! `tests/vectors/gen_vectors.py`). Samples are regenerated with the same
//! xorshift generator on both sides instead of being stored.

use std::path::PathBuf;

use serde_json::Value;
use tympan_data::metrics as classification;
use tympan_report::drift::CategoryCounts;
use tympan_report::{ks, stattest, JsBase, Report, ReportConfig, StatTest};
use tympan_testkit::synth::sample;

fn vectors() -> Value {
    let path = vectors_dir().join("vectors.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("vectors.json")).expect("valid JSON")
}

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// Relative tolerance plus a tiny absolute floor for p-values near 0 that
/// SciPy itself computes as `1 - cdf`.
fn assert_close(what: &str, got: f64, want: f64, rel: f64) {
    let ok = (got - want).abs() <= rel * want.abs() + 2e-15 || (got == want);
    assert!(
        ok,
        "{what}: got {got:e}, want {want:e} (rel err {:e})",
        ((got - want) / want).abs()
    );
}

fn sorted_sample(spec: &Value) -> Vec<f64> {
    let mut v = sample(
        spec["seed"].as_u64().unwrap(),
        spec["n"].as_u64().unwrap() as usize,
        spec["shift"].as_f64().unwrap(),
        spec["scale"].as_f64().unwrap(),
        spec["quantum"].as_f64(),
    );
    v.sort_by(f64::total_cmp);
    v
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn counts(refc: &Value, cur: &Value) -> CategoryCounts {
    let r: Vec<(&str, u64)> = refc
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_u64().unwrap()))
        .collect();
    let c: Vec<(&str, u64)> = cur
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_u64().unwrap()))
        .collect();
    CategoryCounts::from_counts(r, c)
}

#[test]
fn ks_2samp_matches_scipy() {
    let v = vectors();
    let cases = v["ks_2samp"].as_array().unwrap();
    assert!(cases.len() >= 8);
    let mut asymptotic = 0;
    for (i, case) in cases.iter().enumerate() {
        let a = sorted_sample(&case["a"]);
        let b = sorted_sample(&case["b"]);
        let r = ks::ks_2samp(&a, &b);
        assert_close(
            &format!("case {i} statistic"),
            r.statistic,
            f(&case["statistic"]),
            1e-12,
        );
        assert_close(
            &format!("case {i} p-value ({:?})", r.method),
            r.p_value,
            f(&case["pvalue"]),
            1e-9,
        );
        if r.method == ks::KsMethod::Asymptotic {
            asymptotic += 1;
            assert!(a.len().max(b.len()) > 10_000);
        }
    }
    assert!(asymptotic >= 2, "asymptotic branch not exercised");
}

#[test]
fn ks_2samp_small_random_sizes_match_scipy() {
    let v = vectors();
    let cases = v["ks_2samp_grid"].as_array().unwrap();
    assert_eq!(cases.len(), 80);
    for (i, case) in cases.iter().enumerate() {
        let a = sorted_sample(&case["a"]);
        let b = sorted_sample(&case["b"]);
        let r = ks::ks_2samp(&a, &b);
        let what = format!("grid {i} (n1={}, n2={})", a.len(), b.len());
        assert_eq!(r.method, ks::KsMethod::Exact, "{what}");
        assert_close(
            &format!("{what} statistic"),
            r.statistic,
            f(&case["statistic"]),
            1e-12,
        );
        assert_close(
            &format!("{what} p-value"),
            r.p_value,
            f(&case["pvalue"]),
            1e-9,
        );
    }
}

#[test]
fn kstwo_sf_matches_scipy_in_every_regime() {
    let v = vectors();
    for case in v["kstwo_sf"].as_array().unwrap() {
        let n = case["n"].as_u64().unwrap();
        let x = f(&case["x"]);
        assert_close(
            &format!("kstwo.sf({x}, {n})"),
            ks::kolmogorov_sf(n, x),
            f(&case["sf"]),
            1e-9,
        );
    }
}

#[test]
fn smirnov_matches_scipy() {
    let v = vectors();
    for case in v["smirnov_sf"].as_array().unwrap() {
        let n = case["n"].as_u64().unwrap();
        let x = f(&case["x"]);
        assert_close(
            &format!("smirnov({n}, {x})"),
            ks::smirnov_sf(n, x),
            f(&case["sf"]),
            1e-9,
        );
    }
}

#[test]
fn chisquare_matches_scipy() {
    let v = vectors();
    for case in v["chisquare"].as_array().unwrap() {
        let obs: Vec<f64> = case["observed"].as_array().unwrap().iter().map(f).collect();
        let exp: Vec<f64> = case["expected"].as_array().unwrap().iter().map(f).collect();
        let (s, p) = stattest::chi_square(&obs, &exp);
        assert_close("chi2 statistic", s, f(&case["statistic"]), 1e-12);
        assert_close("chi2 p-value", p, f(&case["pvalue"]), 1e-9);
    }
}

#[test]
fn evidently_stat_tests_match() {
    let v = vectors();
    let ev = &v["evidently"];
    assert!(
        ev.is_object(),
        "vectors.json was generated without Evidently"
    );
    for case in ev["chisquare"].as_array().unwrap() {
        let c = counts(&case["ref"], &case["cur"]);
        let (_, p) = stattest::chi_square_drift(&c.reference, &c.current);
        assert_close("evidently chisquare", p, f(&case["value"]), 1e-9);
    }
    for case in ev["z"].as_array().unwrap() {
        let c = counts(&case["ref"], &case["cur"]);
        let (_, p) = stattest::z_test_drift(&c.reference, &c.current);
        assert_close(&format!("evidently z {case}"), p, f(&case["value"]), 1e-9);
    }
    for case in ev["jensenshannon_cat"].as_array().unwrap() {
        let c = counts(&case["ref"], &case["cur"]);
        let b = stattest::binned_categorical(&c.reference, &c.current);
        assert_close(
            "evidently js (cat)",
            stattest::jensen_shannon(&b, JsBase::Natural),
            f(&case["value"]),
            1e-12,
        );
    }
    for case in ev["psi_cat"].as_array().unwrap() {
        let c = counts(&case["ref"], &case["cur"]);
        let b = stattest::binned_categorical(&c.reference, &c.current);
        assert_close(
            "evidently psi (cat)",
            stattest::psi(&b),
            f(&case["value"]),
            1e-12,
        );
    }
    for case in ev["jensenshannon_num"].as_array().unwrap() {
        let (a, b) = (sorted_sample(&case["a"]), sorted_sample(&case["b"]));
        let binned = stattest::binned_numeric(&a, &b);
        assert_close(
            "evidently js (num)",
            stattest::jensen_shannon(&binned, JsBase::Natural),
            f(&case["value"]),
            1e-12,
        );
    }
    for case in ev["psi_num"].as_array().unwrap() {
        let (a, b) = (sorted_sample(&case["a"]), sorted_sample(&case["b"]));
        assert_close(
            "evidently psi (num)",
            stattest::psi(&stattest::binned_numeric(&a, &b)),
            f(&case["value"]),
            1e-12,
        );
    }
    for case in ev["wasserstein"].as_array().unwrap() {
        let (a, b) = (sorted_sample(&case["a"]), sorted_sample(&case["b"]));
        assert_close(
            "scipy wasserstein",
            stattest::wasserstein(&a, &b),
            f(&case["raw"]),
            1e-12,
        );
        assert_close(
            "evidently wasserstein normed",
            stattest::wasserstein_normed(&a, &b),
            f(&case["normed"]),
            1e-12,
        );
    }
}

#[test]
fn classification_matches_sklearn() {
    let v = vectors();
    for (i, case) in v["classification"].as_array().unwrap().iter().enumerate() {
        let strs = |k: &str| -> Vec<String> {
            case[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect()
        };
        let c = classification::classify_str(&strs("y_true"), &strs("y_pred"));
        assert_eq!(c.labels, strs("labels"), "case {i}");
        let tol = 1e-12;
        assert_close("accuracy", c.accuracy, f(&case["accuracy"]), tol);
        assert_close(
            "balanced accuracy",
            c.balanced_accuracy,
            f(&case["balanced_accuracy"]),
            tol,
        );
        assert_close(
            "macro precision",
            c.macro_avg.precision,
            f(&case["macro_precision"]),
            tol,
        );
        assert_close(
            "macro recall",
            c.macro_avg.recall,
            f(&case["macro_recall"]),
            tol,
        );
        assert_close("macro f1", c.macro_avg.f1, f(&case["macro_f1"]), tol);
        assert_close(
            "weighted precision",
            c.weighted_avg.precision,
            f(&case["weighted_precision"]),
            tol,
        );
        assert_close(
            "weighted recall",
            c.weighted_avg.recall,
            f(&case["weighted_recall"]),
            tol,
        );
        assert_close(
            "weighted f1",
            c.weighted_avg.f1,
            f(&case["weighted_f1"]),
            tol,
        );
        for (k, m) in c.per_class.iter().enumerate() {
            assert_close("precision", m.precision, f(&case["precision"][k]), tol);
            assert_close("recall", m.recall, f(&case["recall"][k]), tol);
            assert_close("f1", m.f1, f(&case["f1"][k]), tol);
            assert_eq!(m.support, case["support"][k].as_u64().unwrap());
        }
        let cm: Vec<Vec<u64>> = serde_json::from_value(case["confusion_matrix"].clone()).unwrap();
        assert_eq!(c.confusion_matrix, cm, "case {i}");
    }
}

#[test]
fn end_to_end_decisions_match_evidently() {
    let v = vectors();
    for case in v["e2e"].as_array().unwrap() {
        let dir = vectors_dir();
        let r = Report::compute(
            &ReportConfig::default(),
            &dir.join(case["ref"].as_str().unwrap()),
            &dir.join(case["prod"].as_str().unwrap()),
        )
        .unwrap();
        let cols = case["columns"]
            .as_array()
            .expect("generated with Evidently");
        assert_eq!(cols.len(), r.drift.columns.len());
        for (want, got) in cols.iter().zip(&r.drift.columns) {
            let name = want["column"].as_str().unwrap();
            assert_eq!(got.column, name);
            let test: StatTest = want["test"].as_str().unwrap().parse().unwrap();
            assert_eq!(got.test, test, "{name}");
            assert_close(&format!("{name} score"), got.score, f(&want["score"]), 1e-9);
            assert_close(
                &format!("{name} threshold"),
                got.threshold,
                f(&want["threshold"]),
                0.0,
            );
            assert_eq!(got.drifted, want["drifted"].as_bool().unwrap(), "{name}");
        }
    }
}
