#!/usr/bin/env bash
# Load benchmark of POST /predict: a real 0.5 s FSDD clip at concurrency 1, 8 and 32, loopback
# only, bounded in time. Prints requests/s, latency percentiles and the server's peak RSS.
# Usage: scripts/bench-load.sh [seconds per level, default 10]   (LEVELS="8 32" picks concurrencies)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}

source scripts/lib/bench-server.sh

echo "clip: $(basename "$CLIP"), $(stat -c %s "$CLIP") bytes; ${DURATION}s per level"
printf "%-6s %10s %9s %9s %9s %9s\n" conc req/s p50 p90 p99 errors
for c in ${LEVELS:-1 8 32}; do
  t=$(( c < 2 ? 1 : 2 ))
  out=$(wrk -t"$t" -c"$c" -d"${DURATION}s" --latency -s "$work/post.lua" "http://127.0.0.1:$port/predict")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p90=$(awk '$1=="90%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); errs=${errs:-0}
  printf "%-6s %10s %9s %9s %9s %9s\n" "$c" "$rps" "$p50" "$p90" "$p99" "$errs"
done
echo "server RSS: peak $(awk '/VmHWM/ {print $2, $3}' /proc/$server/status), now $(awk '/VmRSS/ {print $2, $3}' /proc/$server/status)"
