#!/usr/bin/env python3
"""Reference pooled statistics for `core/tests/pooling_parity.rs`, computed with librosa 0.11.

Reads librosa's MFCC frames `STEM.mfcc.csv` (20 rows = coefficients, one column per frame) from
the shared librosa reference folder and writes `STEM.pooling.csv` into this folder: one row per
statistic, its label in the first column, then the 20 per-coefficient values (see POOLING.md here
for the layout, versions and exact calls).

    python3 generate_pooling.py [LIBROSA_DIR] [--out DIR] [--check-nearest]

`LIBROSA_DIR` defaults to `$TYMPAN_SHARED/reference/librosa`, else `../shared/reference/librosa`
beside the repository (the same lookup as `core/tests/common/mod.rs`). `--check-nearest` writes
nothing and prints how far the delta statistics move when librosa's `mode='interp'` edges are
replaced by border-frame repetition (`mode='nearest'`), the error the parity test must catch.
"""

import argparse
import os
import sys
from pathlib import Path

import librosa
import numpy as np
import scipy
import scipy.stats

STEMS = ["0_george_0", "3_jackson_10", "5_lucas_20", "6_yweweler_3", "9_theo_16"]

# Row labels, in output order.
ROWS = [
    "delta_mean",
    "delta_std",
    "delta2_mean",
    "delta2_std",
    "min",
    "max",
    "p10",
    "p90",
    "skewness",
    "kurtosis",
]


def deltas(mfcc, order, mode="interp"):
    return librosa.feature.delta(mfcc, width=5, order=order, mode=mode, axis=-1)


def statistics(mfcc, mode="interp"):
    """All rows for `mfcc` (float64, coefficients x frames), each a vector of 20 values."""
    d1 = deltas(mfcc, 1, mode)
    d2 = deltas(mfcc, 2, mode)
    rows = {
        "delta_mean": d1.mean(axis=1),
        "delta_std": d1.std(axis=1),  # ddof=0
        "delta2_mean": d2.mean(axis=1),
        "delta2_std": d2.std(axis=1),
        "min": mfcc.min(axis=1),
        "max": mfcc.max(axis=1),
        "p10": np.percentile(mfcc, 10, axis=1),  # method='linear'
        "p90": np.percentile(mfcc, 90, axis=1),
        "skewness": scipy.stats.skew(mfcc, axis=1, bias=True),
        "kurtosis": scipy.stats.kurtosis(mfcc, axis=1, fisher=True, bias=True),
    }
    for name, row in rows.items():
        assert row.shape == (mfcc.shape[0],), (name, row.shape)
        assert np.all(np.isfinite(row)), name
    return rows


def read_mfcc(librosa_dir, stem):
    frames = np.loadtxt(librosa_dir / f"{stem}.mfcc.csv", delimiter=",", dtype=np.float32, ndmin=2)
    assert frames.shape[0] == 20, frames.shape
    return frames.astype(np.float64)


def write(path, rows):
    with open(path, "w") as out:
        for name in ROWS:
            out.write(name + "," + ",".join("%.9g" % v for v in rows[name]) + "\n")
    print(f"{path.name}: {len(ROWS)} statistics x {len(rows[ROWS[0]])}")


def check_nearest(librosa_dir):
    """Largest difference, per delta statistic, between mode='interp' and mode='nearest'."""
    worst = {name: 0.0 for name in ROWS[:4]}
    for stem in STEMS:
        mfcc = read_mfcc(librosa_dir, stem)
        interp = statistics(mfcc, "interp")
        nearest = statistics(mfcc, "nearest")
        for name in worst:
            diff = float(np.max(np.abs(interp[name] - nearest[name])))
            worst[name] = max(worst[name], diff)
            print(f"{stem} {name}: max |interp - nearest| = {diff:.6g}")
    for name, diff in worst.items():
        print(f"worst {name}: {diff:.6g}")


def main():
    here = Path(__file__).resolve().parent
    repo = here.parents[2]
    shared = Path(os.environ.get("TYMPAN_SHARED", repo.parent / "shared"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "librosa_dir", type=Path, nargs="?", default=shared / "reference" / "librosa"
    )
    parser.add_argument("--out", type=Path, default=here)
    parser.add_argument("--check-nearest", action="store_true")
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, librosa {librosa.__version__}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}"
    )
    if args.check_nearest:
        check_nearest(args.librosa_dir)
        return
    for stem in STEMS:
        write(args.out / f"{stem}.pooling.csv", statistics(read_mfcc(args.librosa_dir, stem)))


if __name__ == "__main__":
    main()
