#!/usr/bin/env bash
# Load benchmark of POST /predict: a real 0.5 s FSDD clip at concurrency 1, 8 and 32, loopback
# only, bounded in time. Prints requests/s, latency percentiles and the server's peak RSS.
# Usage: scripts/bench-load.sh [seconds per level, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p tympan-serve

FSDD=${TYMPAN_FSDD:-}
for d in "$FSDD" datasets/fsdd/recordings ../shared/datasets/fsdd/recordings; do
  [ -n "$d" ] && [ -d "$d" ] && FSDD=$d && break
done
FSDD=$(cd "$FSDD" && pwd)
CLIP="$FSDD/0_george_45.wav"   # 3,997 samples at 8 kHz: 0.50 s
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

# Embed and train first in a separate process, so the server's memory is that of serving.
( cd "$work" && TYMPAN_DATASET="$FSDD" "$OLDPWD/target/release/tympan-serve" bootstrap ) >"$work/bootstrap.log" 2>&1
( cd "$work" && TYMPAN_DATASET="$FSDD" exec "$OLDPWD/target/release/tympan-serve" \
    --address 127.0.0.1 --port "$port" --retrain-every 0 ) >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 300); do
  curl -fs "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$port/ready" >/dev/null || { cat "$work/server.log" >&2; exit 1; }

cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "audio/wav"
local f = io.open("$CLIP", "rb"); wrk.body = f:read("*all"); f:close()
LUA

echo "clip: $(basename "$CLIP"), $(stat -c %s "$CLIP") bytes; ${DURATION}s per level"
printf "%-6s %10s %9s %9s %9s %9s\n" conc req/s p50 p90 p99 errors
for c in 1 8 32; do
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
