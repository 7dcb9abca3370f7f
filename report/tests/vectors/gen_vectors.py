#!/usr/bin/env python3
"""Reference values for tympan-report's statistics, computed with SciPy,
scikit-learn and (when installed) Evidently's legacy stat tests.

Usage:  PYTHONHASHSEED=0 python3 gen_vectors.py   # rewrites vectors.json beside this file

(Evidently iterates over Python sets of labels, so without a fixed hash seed
the last digit of a few sums may change from run to run.)

Samples are drawn from the same xorshift64* generator as
`tympan_testkit::synth::Rng`, using only exact IEEE operations (+, *, floor),
so the Rust tests regenerate bit-identical inputs instead of storing them.
The small end-to-end CSV files are written beside this script.
"""

import csv
import json
import math
import os
import sys

import numpy as np
import scipy
import sklearn
from scipy import stats
from scipy.spatial import distance
from scipy.special import smirnov
from sklearn import metrics

HERE = os.path.dirname(os.path.abspath(__file__))
MASK = (1 << 64) - 1


class Rng:
    """xorshift64*; mirror of tympan_testkit::synth::Rng."""

    def __init__(self, seed):
        self.state = (seed ^ 0x9E3779B97F4A7C15) & MASK
        if self.state == 0:
            self.state = 1

    def next_u64(self):
        x = self.state
        x ^= x >> 12
        x ^= (x << 25) & MASK
        x ^= x >> 27
        self.state = x
        return (x * 0x2545F4914F6CDD1D) & MASK

    def uniform(self):
        return float(self.next_u64() >> 11) * (1.0 / 9007199254740992.0)

    def normalish(self):
        # Irwin-Hall(4), rescaled to unit variance: exact in both languages.
        s = self.uniform()
        s = s + self.uniform()
        s = s + self.uniform()
        s = s + self.uniform()
        return (s - 2.0) * 1.7320508075688772

    def below(self, n):
        return self.next_u64() % n


def sample(seed, n, shift=0.0, scale=1.0, quantum=None):
    """`n` values of normalish()*scale+shift, optionally floored to `quantum`."""
    rng = Rng(seed)
    out = []
    for _ in range(n):
        v = rng.normalish() * scale + shift
        if quantum is not None:
            v = math.floor(v / quantum) * quantum
        out.append(v)
    return out


def spec(seed, n, shift=0.0, scale=1.0, quantum=None):
    return {"seed": seed, "n": n, "shift": shift, "scale": scale, "quantum": quantum}


def from_spec(s):
    return sample(s["seed"], s["n"], s["shift"], s["scale"], s["quantum"])


def ks_cases():
    cases = []
    pairs = [
        # (a, b) chosen to hit each branch of scipy's ks_2samp(method='auto')
        (spec(1, 8), spec(2, 6, shift=0.8)),  # exact, unequal, tiny
        (spec(3, 40), spec(4, 40, shift=0.5)),  # exact, n1 == n2
        (spec(5, 300), spec(6, 200, shift=0.1)),  # exact, inside method
        (spec(7, 1000), spec(8, 700, quantum=0.1)),  # exact with ties
        (spec(9, 1000), spec(10, 1000)),  # exact, same distribution
        (spec(11, 9000), spec(12, 10000, shift=0.03)),  # exact, large
        (spec(13, 12000), spec(14, 800, shift=0.1)),  # asymptotic (kstwo)
        (spec(15, 20000), spec(16, 15000, shift=0.01)),  # asymptotic, small d
        (spec(17, 30000), spec(18, 200, shift=1.5)),  # asymptotic, tiny p
        (spec(19, 5), spec(20, 4, shift=10.0)),  # complete separation
    ]
    for a, b in pairs:
        r = stats.ks_2samp(from_spec(a), from_spec(b))
        cases.append({"a": a, "b": b, "statistic": float(r.statistic), "pvalue": float(r.pvalue)})
    return cases


def ks_grid_cases():
    """Many small random size pairs: every exact-path corner (n = 1, ties, n1 == n2)."""
    rng = Rng(2024)
    cases = []
    for i in range(80):
        n1 = 1 + rng.below(60)
        n2 = n1 if i % 7 == 0 else 1 + rng.below(60)
        shift = float(rng.below(8)) * 0.25
        quantum = 0.5 if i % 3 == 0 else None
        a = spec(3000 + i, n1, quantum=quantum)
        b = spec(4000 + i, n2, shift=shift, quantum=quantum)
        r = stats.ks_2samp(from_spec(a), from_spec(b))
        cases.append({"a": a, "b": b, "statistic": float(r.statistic), "pvalue": float(r.pvalue)})
    return cases


def kstwo_cases():
    out = []
    grid = [
        (5, 0.05), (5, 0.15), (5, 0.3), (5, 0.45), (5, 0.55), (5, 0.9),
        (20, 0.1), (20, 0.19), (20, 0.3), (20, 0.5), (20, 0.7),
        (100, 0.05), (100, 0.08), (100, 0.12), (100, 0.2), (100, 0.3),
        (140, 0.07), (141, 0.07), (141, 0.2),
        (500, 0.02), (500, 0.05), (500, 0.08), (500, 0.1),
        (5000, 0.005), (5000, 0.01), (5000, 0.02), (5000, 0.03),
        (90909, 0.001), (90909, 0.003), (90909, 0.005), (90909, 0.008),
        (500000, 0.0005), (500000, 0.001), (500000, 0.0025),
        (2000000, 0.0005), (2000000, 0.0012),
    ]
    for n, x in grid:
        out.append({"n": n, "x": x, "sf": float(stats.kstwo.sf(x, n))})
    return out


def smirnov_cases():
    out = []
    for n, x in [(3, 0.2), (10, 0.05), (10, 0.3), (10, 0.95), (50, 0.1), (200, 0.1),
                 (1000, 0.05), (90909, 0.006), (1500000, 0.001)]:
        out.append({"n": n, "x": x, "sf": float(smirnov(n, x))})
    return out


def chisquare_cases():
    out = []
    for obs, exp in [
        ([10, 20, 30], [20, 20, 20]),
        ([5, 0, 12, 3], [4.5, 1.5, 10.0, 4.0]),
        ([100, 120, 95, 85, 110], [102.0, 102.0, 102.0, 102.0, 102.0]),
        ([1000, 1500, 500], [1100.0, 1300.0, 600.0]),
    ]:
        r = stats.chisquare(obs, exp)
        out.append({"observed": obs, "expected": exp, "statistic": float(r.statistic),
                    "pvalue": float(r.pvalue)})
    return out


def counts_to_series(counts):
    vals = []
    for k, c in counts.items():
        vals.extend([k] * c)
    return vals


def evidently_tests():
    """Evidently's own implementations, when Evidently is importable."""
    try:
        import pandas as pd
        from evidently.legacy.calculations.stattests.chisquare_stattest import _chi_stat_test
        from evidently.legacy.calculations.stattests.jensenshannon import _jensenshannon
        from evidently.legacy.calculations.stattests.psi import _psi
        from evidently.legacy.calculations.stattests.wasserstein_distance_norm import (
            _wasserstein_distance_norm,
        )
        from evidently.legacy.calculations.stattests.z_stattest import _z_stat_test
        from evidently.legacy.core import ColumnType
        import evidently
    except Exception as exc:  # pragma: no cover - optional
        print(f"evidently unavailable ({exc}); skipping its vectors", file=sys.stderr)
        return None, None

    cat = ColumnType.Categorical
    num = ColumnType.Numerical
    out = {"chisquare": [], "z": [], "jensenshannon_cat": [], "psi_cat": [],
           "jensenshannon_num": [], "psi_num": [], "wasserstein": []}
    cat_pairs = [
        ({"a": 30, "b": 50, "c": 20}, {"a": 25, "b": 40, "c": 35}),
        ({"dog": 300, "cat": 250, "bird": 450}, {"dog": 100, "cat": 80, "bird": 120, "fox": 5}),
        ({"x": 10, "y": 10, "z": 10}, {"x": 10, "y": 10, "z": 10}),
        ({"x": 1000, "y": 1, "z": 999}, {"x": 40, "w": 3, "z": 57}),
    ]
    for ref, cur in cat_pairs:
        r = pd.Series(counts_to_series(ref))
        c = pd.Series(counts_to_series(cur))
        p, _ = _chi_stat_test(r, c, cat, 0.05)
        out["chisquare"].append({"ref": ref, "cur": cur, "value": float(p)})
        js, _ = _jensenshannon(r, c, cat, 0.1)
        out["jensenshannon_cat"].append({"ref": ref, "cur": cur, "value": float(js)})
        psi, _ = _psi(r, c, cat, 0.1)
        out["psi_cat"].append({"ref": ref, "cur": cur, "value": float(psi)})
    for ref, cur in [
        ({"yes": 60, "no": 40}, {"yes": 45, "no": 55}),
        ({"yes": 600, "no": 400}, {"yes": 590, "no": 410}),
        ({"only": 20}, {"only": 30}),
        ({"a": 20}, {"b": 30}),
        ({"a": 50, "b": 1}, {"a": 10}),
    ]:
        p, _ = _z_stat_test(pd.Series(counts_to_series(ref)), pd.Series(counts_to_series(cur)), cat, 0.05)
        out["z"].append({"ref": ref, "cur": cur, "value": float(p)})
    num_pairs = [
        (spec(31, 2500), spec(32, 500, shift=0.3)),
        (spec(33, 2500), spec(34, 500)),
        (spec(35, 1500, quantum=0.5), spec(36, 400, shift=0.2, quantum=0.5)),  # <= 20 uniques
        (spec(37, 3000, scale=0.0001), spec(38, 800, scale=0.0001, shift=0.00002)),
        (spec(39, 1200), spec(40, 300, shift=4.0)),  # empty bins, feel_zeroes
    ]
    for a, b in num_pairs:
        ra, cb = pd.Series(from_spec(a)), pd.Series(from_spec(b))
        out["jensenshannon_num"].append({"a": a, "b": b, "value": float(_jensenshannon(ra, cb, num, 0.1)[0])})
        out["psi_num"].append({"a": a, "b": b, "value": float(_psi(ra, cb, num, 0.1)[0])})
        out["wasserstein"].append({
            "a": a, "b": b,
            "normed": float(_wasserstein_distance_norm(ra, cb, num, 0.1)[0]),
            "raw": float(stats.wasserstein_distance(from_spec(a), from_spec(b))),
        })
    return out, evidently.__version__


def classification_cases():
    cases = [
        (["cat", "dog", "dog", "bird", "cat", "cat", "dog", "bird"],
         ["cat", "dog", "cat", "bird", "cat", "dog", "dog", "cat"]),
        # label only in predictions ("fox"), label only in truth ("owl")
        (["cat", "dog", "owl", "cat", "dog", "dog"], ["cat", "fox", "cat", "cat", "dog", "fox"]),
        # a single predicted class
        (["a", "b", "c", "a", "b", "c", "a"], ["a"] * 7),
        # binary, labels that need HTML escaping
        (["<script>", "x&y", "<script>", "x&y"], ["<script>", "<script>", "<script>", "x&y"]),
    ]
    rng = Rng(99)
    labels = ["c%d" % i for i in range(7)]
    yt = [labels[rng.below(7)] for _ in range(500)]
    yp = [t if rng.uniform() < 0.6 else labels[rng.below(7)] for t in yt]
    cases.append((yt, yp))
    out = []
    import warnings
    for yt, yp in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            labs = sorted(set(yt) | set(yp))
            p, r, f, s = metrics.precision_recall_fscore_support(yt, yp, labels=labs, zero_division="warn")
            out.append({
                "y_true": yt, "y_pred": yp, "labels": labs,
                "accuracy": metrics.accuracy_score(yt, yp),
                "balanced_accuracy": metrics.balanced_accuracy_score(yt, yp),
                "precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(),
                "support": s.tolist(),
                "macro_precision": metrics.precision_score(yt, yp, average="macro"),
                "macro_recall": metrics.recall_score(yt, yp, average="macro"),
                "macro_f1": metrics.f1_score(yt, yp, average="macro"),
                "weighted_precision": metrics.precision_score(yt, yp, average="weighted"),
                "weighted_recall": metrics.recall_score(yt, yp, average="weighted"),
                "weighted_f1": metrics.f1_score(yt, yp, average="weighted"),
                "confusion_matrix": metrics.confusion_matrix(yt, yp, labels=labs).tolist(),
            })
    return out


def write_e2e_csv(path, rows, n_pca, with_prediction):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        header = ["PCA_%d" % (i + 1) for i in range(n_pca)] + ["target"]
        if with_prediction:
            header.append("prediction")
        w.writerow(header)
        for row in rows:
            w.writerow([repr(v) if isinstance(v, float) else v for v in row])


def e2e_dataset(seed, n, shift, classes, class_weights, acc):
    rng = Rng(seed)
    rows = []
    for _ in range(n):
        a = rng.normalish() + shift  # drifts with `shift`
        b = rng.normalish()  # never drifts
        c = float(rng.below(3))  # 3 values -> chi-square / JS
        d = float(rng.below(2)) if shift == 0 else float(rng.uniform() < 0.8)  # 2 values -> z
        u = rng.uniform()
        acc_w = 0.0
        t = classes[-1]
        for cls, wgt in zip(classes, class_weights):
            acc_w += wgt
            if u < acc_w:
                t = cls
                break
        p = t if rng.uniform() < acc else classes[rng.below(len(classes))]
        rows.append([a, b, c, d, t, p])
    return rows


def e2e_cases(ev_available):
    out = []
    classes = ["dog", "cat", "bird, small", "<script>"]
    configs = [
        ("small", 300, 200),   # reference <= 1000: KS / chi-square / z
        ("large", 1500, 400),  # reference > 1000: Wasserstein / Jensen-Shannon
    ]
    for name, n_ref, n_cur in configs:
        ref = e2e_dataset(100 + n_ref, n_ref, 0.0, classes, [0.4, 0.3, 0.2, 0.1], 0.8)
        cur = e2e_dataset(200 + n_cur, n_cur, 0.7, classes, [0.2, 0.3, 0.3, 0.2], 0.7)
        ref_path = os.path.join(HERE, f"e2e_{name}_ref.csv")
        cur_path = os.path.join(HERE, f"e2e_{name}_prod.csv")
        write_e2e_csv(ref_path, [r[:5] for r in ref], 4, False)
        write_e2e_csv(cur_path, cur, 4, True)
        case = {"name": name, "ref": os.path.basename(ref_path), "prod": os.path.basename(cur_path)}
        if ev_available:
            case["columns"] = evidently_columns(ref, cur)
        out.append(case)
    return out


def evidently_columns(ref, cur):
    import pandas as pd
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.core import ColumnType

    cols = []
    names = ["PCA_1", "PCA_2", "PCA_3", "PCA_4", "target", "prediction"]
    for i, name in enumerate(names):
        if name == "prediction":
            r = pd.Series([row[4] for row in ref])
            c = pd.Series([row[5] for row in cur])
            kind = ColumnType.Categorical
        else:
            r = pd.Series([row[i] for row in ref])
            c = pd.Series([row[i] for row in cur])
            kind = ColumnType.Categorical if name == "target" else ColumnType.Numerical
        test = get_stattest(r, c, kind, None)
        res = test(r, c, kind, None)
        cols.append({"column": name, "test": test.name, "score": float(res.drift_score),
                     "threshold": float(res.actual_threshold), "drifted": bool(res.drifted)})
    return cols


def main():
    ev, ev_version = evidently_tests()
    doc = {
        "generated_by": "report/tests/vectors/gen_vectors.py",
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__, "scipy": scipy.__version__,
                     "scikit-learn": sklearn.__version__, "evidently": ev_version},
        "ks_2samp": ks_cases(),
        "ks_2samp_grid": ks_grid_cases(),
        "kstwo_sf": kstwo_cases(),
        "smirnov_sf": smirnov_cases(),
        "chisquare": chisquare_cases(),
        "evidently": ev,
        "classification": classification_cases(),
        "e2e": e2e_cases(ev is not None),
    }
    with open(os.path.join(HERE, "vectors.json"), "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
