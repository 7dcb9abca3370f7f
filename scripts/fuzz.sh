#!/usr/bin/env bash
# Bounded fuzzing of every cargo-fuzz target in fuzz/, benchmark-style: it takes minutes and
# needs nightly, so neither CI nor scripts/test.sh runs it.
#
#   bash scripts/fuzz.sh [seconds-per-target] [target...]     (default: 120 s, all targets)
#
# Seeds come from FSDD (plus sox/ffmpeg re-encodings when those tools exist), small valid CSVs
# written here and the saved regression inputs. Any crash, timeout or out-of-memory input is
# copied into the target's regression folder, which `cargo test` replays (see
# docs/reliability.md, "Fuzzing"). Needs `cargo install cargo-fuzz --locked` and a nightly
# toolchain. Exits 1 if any target found a failing input.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS="${1:-120}"
shift || true
ALL_TARGETS=(decode_embed read_table feedback_log)
if [ "$#" -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi

command -v cargo-fuzz >/dev/null || {
  echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
  exit 2
}

regression_dir() {
  case "$1" in
    decode_embed) echo "core/tests/fuzz-regressions/$1" ;;
    *) echo "data-layer/tests/fuzz-regressions/$1" ;;
  esac
}

max_len() {
  case "$1" in
    decode_embed) echo 65536 ;;
    *) echo 4096 ;;
  esac
}

dict() {
  case "$1" in
    decode_embed) echo fuzz/audio.dict ;;
    *) echo fuzz/csv.dict ;;
  esac
}

# ---- seeds -------------------------------------------------------------------------------------
SEEDS=fuzz/seeds
rm -rf "$SEEDS"
mkdir -p "$SEEDS"/{decode_embed,read_table,feedback_log}

fsdd="${TYMPAN_FSDD:-}"
for candidate in datasets/fsdd/recordings ../shared/datasets/fsdd/recordings; do
  if [ -z "$fsdd" ] && [ -d "$candidate" ]; then fsdd="$candidate"; fi
done
if [ -n "$fsdd" ] && [ -d "$fsdd" ]; then
  # Every 250th recording: 12 clips across digits and speakers.
  find "$fsdd" -maxdepth 1 -name '*.wav' | sort | awk 'NR % 250 == 1' | while read -r f; do
    cp "$f" "$SEEDS/decode_embed/"
  done
  first="$(find "$SEEDS/decode_embed" -name '*.wav' | sort | head -n 3)"
  for f in $first; do
    base="$SEEDS/decode_embed/$(basename "$f" .wav)"
    if command -v sox >/dev/null; then
      sox -R "$f" "$base.flac" 2>/dev/null || true
      sox -R "$f" -C 32 "$base.mp3" 2>/dev/null || true
      sox -R "$f" "$base.ogg" 2>/dev/null || true
      sox -R "$f" "$base.aiff" 2>/dev/null || true
      sox -R "$f" -r 11025 -c 2 -b 24 "$base-stereo24.wav" 2>/dev/null || true
    fi
    if command -v ffmpeg >/dev/null; then
      ffmpeg -loglevel error -y -i "$f" -c:a aac -b:a 32k "$base.m4a" 2>/dev/null || true
    fi
  done
else
  echo "warning: FSDD not found (scripts/fetch-fsdd.sh or TYMPAN_FSDD); decode_embed starts from regression inputs only" >&2
fi

csv_seed() { printf '%b' "$2" >"$1"; }
csv_seed "$SEEDS/read_table/ref.csv" 'PCA_1,PCA_2,target\n0.5,-1.25,7\n1e-3,2,3\n'
csv_seed "$SEEDS/read_table/ref-quoted.csv" '\xef\xbb\xbfPCA_1,target\r\n-0,"a, ""b"""\r\n\r\n3.5E+2,c\r\n'
csv_seed "$SEEDS/read_table/prod.csv" 'PCA_1,PCA_2,PCA_3,target,prediction\n1,2,3,a,b\n-1,-2,-3,b,b\n'
csv_seed "$SEEDS/read_table/bad-row.csv" 'PCA_1,target\n1,a\nNaN,b\n'
csv_seed "$SEEDS/feedback_log/prod.csv" 'PCA_1,PCA_2,target,prediction\n0.5,-1,"say ""7""",7\n1,2,3,3\n'
csv_seed "$SEEDS/feedback_log/torn.csv" 'PCA_1,PCA_2,target,prediction\n0.5,-1,7,7\n1,2,3'
csv_seed "$SEEDS/feedback_log/header-only.csv" 'PCA_1,target,prediction\n'
csv_seed "$SEEDS/feedback_log/crlf.csv" 'PCA_1,target,prediction\r\n1,a,b\r\n'
for t in "${ALL_TARGETS[@]}"; do
  reg="$(regression_dir "$t")"
  if [ -d "$reg" ]; then cp "$reg"/* "$SEEDS/$t/" 2>/dev/null || true; fi
done

# ---- build and run -----------------------------------------------------------------------------
echo "== cargo +nightly fuzz build -O"
cargo +nightly fuzz build -O
BIN="fuzz/target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"

# The feedback-log target writes and fsyncs a file per input: use memory-backed storage if any.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi

LOGS=fuzz/logs
mkdir -p "$LOGS"
failed=0
summary=()
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  # Artifacts of earlier runs were copied into the regression folder already.
  find "fuzz/artifacts/$t" -type f -delete
  log="$LOGS/$t.log"
  echo "== $t: ${SECS} s, max_len $(max_len "$t"), $(find "$SEEDS/$t" -type f | wc -l) seeds"
  start=$(date +%s)
  rc=0
  nice "$BIN/$t" "fuzz/corpus/$t" "$SEEDS/$t" \
    -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
    -dict="$(dict "$t")" -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" \
    >"$log" 2>&1 || rc=$?
  elapsed=$(($(date +%s) - start))
  stat() { grep -o "stat::$1: *[0-9]*" "$log" | tail -n 1 | grep -o '[0-9]*$' || echo "?"; }
  last="$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)"
  cov="$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || echo "?")"
  ft="$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || echo "?")"
  corp="$(echo "$last" | grep -o 'corp: [0-9]*' | grep -o '[0-9]*' || echo "?")"
  found=0
  reg="$(regression_dir "$t")"
  for a in "fuzz/artifacts/$t"/crash-* "fuzz/artifacts/$t"/timeout-* "fuzz/artifacts/$t"/oom-* "fuzz/artifacts/$t"/leak-*; do
    [ -f "$a" ] || continue
    mkdir -p "$reg"
    if [ ! -f "$reg/$(basename "$a")" ]; then
      cp "$a" "$reg/"
      echo "   new failing input: $reg/$(basename "$a")"
    fi
    found=$((found + 1))
  done
  if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
    failed=1
    grep -E 'ERROR: libFuzzer|panicked at|SUMMARY' "$log" | head -n 5 || true
  fi
  line="$t: ${elapsed} s, $(stat number_of_executed_units) execs, $(stat average_exec_per_sec) exec/s (mean), cov $cov, ft $ft, corpus $corp, peak RSS $(stat peak_rss_mb) MB, failing inputs $found (exit $rc)"
  echo "   $line"
  summary+=("$line")
done

echo
echo "== summary (logs in $LOGS/)"
printf '%s\n' "${summary[@]}"
exit "$failed"
