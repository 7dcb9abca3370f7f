#!/usr/bin/env bash
# Times the tympan-report binary on a large synthetic workload:
# 100,000 reference rows x 1,000,000 production rows of 16 PCA columns.
#
#   report/benches/large.sh                 # defaults below
#   RUNS=3 PROD_ROWS=200000 report/benches/large.sh
#   CARGO_FLAGS=--offline report/benches/large.sh
#   DECIMALS=full report/benches/large.sh   # full-precision floats, as pandas writes them
#   CLASSES=3000 PROD_ROWS=100000 report/benches/large.sh   # thousands of labels
#
# Prints each run's wall time and peak RSS (from /usr/bin/time), then the medians.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
RUNS=${RUNS:-5}
REF_ROWS=${REF_ROWS:-100000}
PROD_ROWS=${PROD_ROWS:-1000000}
COLS=${COLS:-16}
DECIMALS=${DECIMALS:-6}
CLASSES=${CLASSES:-10}
EXTRA_ARGS=${EXTRA_ARGS:-}

cd "$ROOT"
# shellcheck disable=SC2086
cargo build --release ${CARGO_FLAGS:-} -p tympan-report --bin tympan-report --example gen_data

DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
"$TARGET/release/examples/gen_data" "$DIR" "$REF_ROWS" "$PROD_ROWS" "$COLS" 0.1 42 "$DECIMALS" "$CLASSES" >/dev/null
echo "data: $(du -h "$DIR/ref_data.csv" | cut -f1) reference, $(du -h "$DIR/prod_data.csv" | cut -f1) production ($REF_ROWS x $PROD_ROWS rows, $COLS columns, $CLASSES classes)"

for i in $(seq "$RUNS"); do
    # shellcheck disable=SC2086
    /usr/bin/time -f "%e %M" -o "$DIR/time.$i" \
        "$TARGET/release/tympan-report" --ref "$DIR/ref_data.csv" --prod "$DIR/prod_data.csv" \
        --out "$DIR/out" --model-version bench $EXTRA_ARGS >/dev/null
    read -r secs kb <"$DIR/time.$i"
    echo "run $i: ${secs}s, peak RSS $((kb / 1024)) MiB"
    echo "$secs $kb" >>"$DIR/times"
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "median: $(cut -d' ' -f1 "$DIR/times" | median)s wall, peak RSS $(( $(cut -d' ' -f2 "$DIR/times" | median | cut -d. -f1) / 1024 )) MiB"
for f in report.html report.json dashboard.html; do
    echo "$f: $(stat -c %s "$DIR/out/$f") bytes"
done
