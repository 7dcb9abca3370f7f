#!/usr/bin/env bash
# Expensive but well-formed uploads against a release server, loopback only, bounded in time:
# how short predictions and /health fare while they arrive, and what each attack costs.
#
# For each attack: one request alone (answer, wall time, server CPU, memory added), then
# CLIENTS clients looping it while a probe asks /health every 50 ms on a new connection
# (scripts/lib/health-probe.py) for SECONDS, then while wrk posts a real 0.5 s clip to /predict
# at concurrency 4 for SECONDS (medians and p99 printed), and the server's peak RSS over both
# phases (VmHWM, reset before them).
#   speech60: a real 60 s 16 kHz WAV (FSDD recordings joined), 4 clients
#   flac384:  60 s of 8-channel silence at 384 kHz as FLAC (accepted), 4 clients
#   flac655:  the same at 655,350 Hz (refused: rate), 30 clients
#   ogg4ghz:  10 min of Ogg Vorbis silence whose header claims 4 GHz (refused: rate), 6 clients
# Usage: scripts/bench-heavy-uploads.sh [seconds per phase, default 10] [attacks...]
# ATTACKER_NICE=10 lowers the attacking clients' CPU priority (default 0).
# SERVER_BIN=path/to/tympan-serve measures another build (see scripts/lib/bench-server.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_PHASE=${1:-10}
shift || true
ATTACKS=${*:-speech60 flac384 flac655 ogg4ghz}
# The attacking clients' own processes (a curl started per upload) run at this nice value: on a
# deployment they are on other machines, while here they share the server's two cores. 0 puts
# them level with the server.
ATTACKER_NICE=${ATTACKER_NICE:-0}
command -v sox >/dev/null || { echo "needs sox" >&2; exit 1; }

source scripts/lib/bench-server.sh

# The attack files, made here (digital silence without dither compresses to almost nothing).
sox -D -n -r 384000 -c 8 -b 16 "$work/flac384.flac" trim 0 60
sox -D -n -r 655350 -c 8 -b 16 "$work/flac655.flac" trim 0 60
sox -D -n -r 48000 -c 1 "$work/silence.ogg" trim 0 600
python3 - "$work/silence.ogg" "$work/ogg4ghz.ogg" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
i = d.find(b"\x01vorbis")
d[i + 12:i + 16] = (4_000_000_000).to_bytes(4, "little")
end = 27 + d[26] + sum(d[27:27 + d[26]])
d[22:26] = bytes(4)
crc = 0
for b in d[:end]:
    crc ^= b << 24
    for _ in range(8):
        crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
d[22:26] = crc.to_bytes(4, "little")
open(sys.argv[2], "wb").write(d)
PY
sox -R $(printf "$FSDD/3_theo_%s.wav " 20 21 22 23 24 25 26 27 28 29) -r 16000 "$work/speech60.wav" \
  repeat 20 trim 0 60
declare -A FILE=([speech60]=speech60.wav [flac384]=flac384.flac [flac655]=flac655.flac [ogg4ghz]=ogg4ghz.ogg)
declare -A CLIENTS=([speech60]=4 [flac384]=4 [flac655]=30 [ogg4ghz]=6)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
rss_kb() { awk "/$1/ {print \$2}" "/proc/$server/status"; }
# Median and p99 (ms) of a file of seconds, one a line.
percentiles() {
  sort -g "$1" | awk '{ v[NR] = $1 * 1000 } END {
    if (NR == 0) { print "-"; exit }
    i = int(NR * 0.99); if (i < 1) i = 1
    printf "p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d)", v[int((NR + 1) / 2)], v[i], v[NR], NR }'
}
small_load() {
  wrk -t2 -c4 -d"${SECONDS_PER_PHASE}s" --latency -s "$work/post.lua" "http://127.0.0.1:$port/predict" |
    awk '/Requests\/sec/ {rps=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} /Non-2xx/ {e=$NF}
         END {printf "%s req/s, p50 %s, p99 %s, non-2xx %s", rps, p50, p99, e ? e : 0}'
}
probe_health() { python3 scripts/lib/health-probe.py "$port" "$SECONDS_PER_PHASE" >"$1"; }
loop_upload() {
  local until=$((SECONDS + 2 * SECONDS_PER_PHASE + 1))
  while [ $SECONDS -lt $until ]; do
    curl -s -o /dev/null -m 60 -w '%{http_code}\n' -H 'Content-Type: application/octet-stream' \
      --data-binary "@$1" "http://127.0.0.1:$port/predict" || echo 000
  done
}

echo "without attack:"
probe_health "$work/health.idle"
echo "  /health: $(percentiles "$work/health.idle")"
echo "  short /predict: $(small_load)"

for attack in $ATTACKS; do
  f="$work/${FILE[$attack]}"
  echo "== $attack: $(stat -c %s "$f") bytes, ${CLIENTS[$attack]} clients"
  echo 5 >"/proc/$server/clear_refs"
  rss0=$(rss_kb VmRSS); cpu0=$(cpu_ticks)
  one=$(curl -s -o "$work/one.json" -w '%{http_code} %{time_total}' \
    -H 'Content-Type: application/octet-stream' --data-binary "@$f" "http://127.0.0.1:$port/predict")
  echo "  one request: HTTP ${one% *} in ${one#* } s, server CPU $(( ($(cpu_ticks) - cpu0) * 10 )) ms," \
    "peak RSS +$(( ($(rss_kb VmHWM) - rss0) / 1024 )) MB: $(head -c 160 "$work/one.json")"
  echo 5 >"/proc/$server/clear_refs"
  # Two phases under the same attack: the /health probe alone, then the short-/predict load
  # (wrk keeps both cores busy by itself, so a probe beside it measures the load generator).
  pids=()
  for i in $(seq 1 "${CLIENTS[$attack]}"); do
    ( renice -n "$ATTACKER_NICE" -p "$BASHPID" >/dev/null; loop_upload "$f" ) >"$work/codes.$i" &
    pids+=($!)
  done
  sleep 1
  probe_health "$work/health.$attack"
  echo "  /health meanwhile: $(percentiles "$work/health.$attack")"
  echo "  short /predict meanwhile: $(small_load)"
  wait "${pids[@]}"
  echo "  attack answers: $(cat "$work"/codes.* | sort | uniq -c | awk '{printf "%s x %s  ", $1, $2}')"
  echo "  server peak RSS during the phase: $(( $(rss_kb VmHWM) / 1024 )) MB, threads $(awk '/Threads/ {print $2}' "/proc/$server/status")"
  rm -f "$work"/codes.*
done
