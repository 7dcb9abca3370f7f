#!/usr/bin/env python3
"""Reference spectral descriptors for `core/tests/spectral_parity.rs`, computed with librosa 0.11.

Reads `STEM.signal16k.csv` from the shared librosa reference folder and writes one CSV per case
into this folder (see README.md here for the layout, versions and parameters).

    python3 generate_spectral.py [--librosa-dir DIR] [--out DIR]

`--librosa-dir` defaults to `$TYMPAN_SHARED/reference/librosa`, else `../shared/reference/librosa`
beside the repository (the same lookup as `core/tests/common/mod.rs`).
"""

import argparse
import os
import sys
from pathlib import Path

import librosa
import numpy as np
import scipy

STEMS = ["0_george_0", "3_jackson_10", "5_lucas_20", "6_yweweler_3", "9_theo_16"]

# Row order of every output CSV (one column per frame).
ROWS = (
    ["spectral_centroid", "spectral_bandwidth", "spectral_rolloff", "spectral_flatness"]
    + [f"spectral_contrast_{k}" for k in range(7)]
    + ["rms", "zero_crossing_rate"]
)


def descriptors(y, sr, n_fft, hop):
    """All rows for signal `y` (float32) declared at `sr`, librosa defaults otherwise."""
    stft = dict(y=y, n_fft=n_fft, hop_length=hop, center=True, pad_mode="constant")
    f = librosa.feature
    centroid = f.spectral_centroid(sr=sr, **stft)
    bandwidth = f.spectral_bandwidth(sr=sr, **stft)  # p=2, norm=True
    rolloff = f.spectral_rolloff(sr=sr, **stft)  # roll_percent=0.85
    flatness = f.spectral_flatness(**stft)  # power=2.0, amin=1e-10
    contrast = f.spectral_contrast(sr=sr, **stft)  # fmin=200, n_bands=6, quantile=0.02
    mag = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop, center=True, pad_mode="constant"))
    rms = f.rms(S=mag, frame_length=n_fft, hop_length=hop)
    zcr = f.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop, center=True)
    rows = np.vstack([centroid, bandwidth, rolloff, flatness, contrast, rms, zcr])
    assert rows.shape == (len(ROWS), 1 + len(y) // hop), rows.shape
    assert np.all(np.isfinite(rows))
    return rows


def write(path, rows):
    with open(path, "w") as out:
        for row in rows:
            out.write(",".join("%.9g" % v for v in row) + "\n")
    print(f"{path.name}: {rows.shape[0]} x {rows.shape[1]}")


def main():
    here = Path(__file__).resolve().parent
    repo = here.parents[2]
    shared = Path(os.environ.get("TYMPAN_SHARED", repo.parent / "shared"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--librosa-dir", type=Path, default=shared / "reference" / "librosa")
    parser.add_argument("--out", type=Path, default=here)
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, librosa {librosa.__version__}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}"
    )

    def signal(stem):
        path = args.librosa_dir / f"{stem}.signal16k.csv"
        return np.loadtxt(path, dtype=np.float32, ndmin=1)

    # The five FSDD stems at their real rate, as the MFCC parity tests use them.
    for stem in STEMS:
        write(args.out / f"{stem}.spectral.csv", descriptors(signal(stem), 16000, 512, 160))

    # The same samples declared at 44.1 kHz with a 2048-point FFT, so that bin frequencies,
    # contrast octave edges and the band/bin bookkeeping are tested off the 16 kHz grid.
    write(
        args.out / "9_theo_16.sr44100.spectral.csv",
        descriptors(signal("9_theo_16"), 44100, 2048, 441),
    )

    # 0.1 s of digital silence before and after the shortest clip: all-zero frames at both ends.
    silence = np.zeros(1600, dtype=np.float32)
    padded = np.concatenate([silence, signal("6_yweweler_3"), silence])
    write(args.out / "6_yweweler_3.silence.spectral.csv", descriptors(padded, 16000, 512, 160))


if __name__ == "__main__":
    main()
