#!/usr/bin/env python3
"""Evidently 0.7's embedding-drift methods on the vectors of tympan-report's FSDD live test,
for `report/tests/evidently_embeddings.rs`.

Regenerate (from the workspace root):

    # 1. the vectors (real FSDD embeddings; rewrites tests/evidently/*.csv)
    cargo test -p tympan-report --test live_drift -- --ignored write_evidently_vectors
    # 2. Evidently 0.7 in a throwaway venv. evidently 0.7.23 declares pandas>=1.3.5 but does
    #    not import under pandas 3 (pandas.core.dtypes.common.infer_dtype_from_object is gone),
    #    hence the pin.
    python3 -m venv /tmp/evvenv
    /tmp/evvenv/bin/pip install 'evidently==0.7.*' 'pandas<3'
    # 3. this script (rewrites expected.json beside it)
    /tmp/evvenv/bin/python report/tests/evidently/gen_embedding_drift.py

Each window (new_speaker, held_out, held_out_small) is compared with reference.csv by
`EmbeddingsDriftMetric` with each of Evidently's four drift methods at their defaults:
model() (SGD logistic classifier on a 50/50 split, ROC AUC > 0.55), mmd() (unbiased squared
MMD, RBF kernel of median width, > 0.015), ratio() (normed Wasserstein per component > 0.1,
share of drifted components > 0.2) and distance() (euclidean distance of the means > 0.2).
The metric is run through Evidently's legacy Report (the one that exposes the decision,
`drift_detected`); the new API's `evidently.metrics.EmbeddingsDrift` wraps the same metric and
only reports the score, which is checked equal.

Two non-default variants are recorded for the Rust test's exact checks: ratio() with
Kolmogorov-Smirnov per component at 0.05 (Tympan's share method) and mmd() with its bootstrap.
"""

import json
import os
import platform

import numpy as np
import pandas as pd
import scipy
import sklearn

import evidently
from evidently import DataDefinition
from evidently import Dataset
from evidently import Report
from evidently.legacy.metrics import EmbeddingsDriftMetric
from evidently.legacy.metrics.data_drift.embedding_drift_methods import distance
from evidently.legacy.metrics.data_drift.embedding_drift_methods import mmd
from evidently.legacy.metrics.data_drift.embedding_drift_methods import model
from evidently.legacy.metrics.data_drift.embedding_drift_methods import ratio
from evidently.legacy.pipeline.column_mapping import ColumnMapping
from evidently.legacy.report import Report as LegacyReport
from evidently.metrics import EmbeddingsDrift

HERE = os.path.dirname(os.path.abspath(__file__))
WINDOWS = ["new_speaker", "held_out", "held_out_small"]
NAME = "pca"


def read(name):
    return pd.read_csv(os.path.join(HERE, f"{name}.csv"), dtype=np.float64)


def legacy(reference, window, method):
    """Score and decision of EmbeddingsDriftMetric through the legacy Report."""
    columns = list(reference.columns)
    report = LegacyReport(metrics=[EmbeddingsDriftMetric(NAME, drift_method=method)])
    report.run(
        reference_data=reference,
        current_data=window,
        column_mapping=ColumnMapping(embeddings={NAME: columns}),
    )
    result = report.as_dict()["metrics"][0]["result"]
    assert result["method_name"] in ("model", "mmd", "ratio", "distance"), result
    return float(result["drift_score"]), bool(result["drift_detected"]), result["method_name"]


def new_api_score(reference, window, method):
    """Score of evidently.metrics.EmbeddingsDrift (the new 0.7 API)."""
    definition = DataDefinition(
        numerical_columns=list(reference.columns), embeddings={NAME: list(reference.columns)}
    )
    snapshot = Report([EmbeddingsDrift(embeddings_name=NAME, drift_method=method)]).run(
        current_data=Dataset.from_pandas(window, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    (metric,) = snapshot.dict()["metrics"]
    return float(metric["value"])


def main():
    reference = read("reference")
    methods = {
        "model": model,
        "mmd": mmd,
        "ratio": ratio,
        "distance": distance,
    }
    variants = {
        # Tympan's share method: a KS test per component at alpha 0.05, share > 0.2.
        "ratio_ks": lambda: ratio(component_stattest="ks", component_stattest_threshold=0.05),
        # MMD against the 5 % quantile of 100 bootstrap draws of the reference.
        "mmd_bootstrap": lambda: mmd(bootstrap=True),
    }
    out = {
        "versions": {
            "evidently": evidently.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "scikit-learn": sklearn.__version__,
            "scipy": scipy.__version__,
            "python": platform.python_version(),
        },
        "reference_rows": len(reference),
        "components": reference.shape[1],
        "windows": {},
    }
    for name in WINDOWS:
        window = read(name)
        assert list(window.columns) == list(reference.columns)
        figures = {"rows": len(window)}
        for method, make in {**methods, **variants}.items():
            score, drift, method_name = legacy(reference, window, make())
            entry = {"score": score, "drift": drift}
            if method in methods:
                assert method_name == method
                new = new_api_score(reference, window, make())
                assert abs(new - score) <= 1e-12 * max(1.0, abs(score)), (method, new, score)
            figures[method] = entry
            print(f"{name:>15} {method:>13}: score {score:.4f} drift {drift}")
        out["windows"][name] = figures
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(out, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
