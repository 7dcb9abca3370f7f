#!/usr/bin/env bash
# Scale-out figures (docs/scale-out.md), loopback only, in one run so the ratios share the
# machine's noise:
#   1. POST /predict req/s of one replica on PostgreSQL vs one server on the CSV store (audio
#      clip, concurrency 8), alternating, ROUNDS rounds: medians and their ratio;
#   2. POST /feedback req/s and p50/p99 at concurrency 32, CSV store vs one PostgreSQL replica;
#   3. how long a promotion takes to reach all 3 replicas (`tympan models promote`, then /model
#      polled every 2 ms on each), over 10 promotions.
# A throwaway PostgreSQL cluster (initdb + pg_ctl, as the `postgres` user when run as root) is
# started on a free loopback port and removed at exit.
# Usage: scripts/bench-scale-out.sh [seconds per run, default 10]   (ROUNDS=3)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
ROUNDS=${ROUNDS:-3}

source scripts/lib/bench-server.sh
csv_port=$port
tympan=$PWD/target/release/tympan

# --- PostgreSQL --------------------------------------------------------------------------------
pgbin=$(pg_config --bindir 2>/dev/null || true)
[ -x "$pgbin/pg_ctl" ] || pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pgdir=$(mktemp -d)
chmod 777 "$pgdir"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pgport=$((40000 + RANDOM % 20000))
as_pg "$pgbin/initdb" -D "$pgdir/db" -A trust -U tympan -E UTF8 >/dev/null
as_pg "$pgbin/pg_ctl" -D "$pgdir/db" -l "$pgdir/pg.log" -w \
  -o "-p $pgport -k $pgdir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
replicas=()
cleanup() {
  kill "$server" "${replicas[@]}" 2>/dev/null || true
  as_pg "$pgbin/pg_ctl" -D "$pgdir/db" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work" "$pgdir"
}
trap cleanup EXIT
"$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U tympan tympan
export TYMPAN_DATABASE_URL="postgres://tympan@127.0.0.1:$pgport/tympan"
( cd "$work" && "$tympan" import ) >/dev/null
# A second version to promote back and forth.
"$tympan" train --database-url "$TYMPAN_DATABASE_URL" --no-promote >/dev/null

pg_ports=()
for i in 0 1 2; do
  p=$((port + 1 + i))
  mkdir -p "$work/replica-$i"
  ( cd "$work/replica-$i" && exec "$SERVER_BIN" --address 127.0.0.1 --port "$p" --retrain-every 0 \
      --replica "replica-$i" ) >"$work/replica-$i.log" 2>&1 &
  replicas+=($!)
  pg_ports+=("$p")
done
for p in "${pg_ports[@]}"; do
  for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$p/ready" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fs "http://127.0.0.1:$p/ready" >/dev/null
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
rps() { awk '/Requests\/sec/ {print $2}'; }

# --- 1. /predict ---------------------------------------------------------------------------------
echo "1. POST /predict, $(basename "$CLIP"), concurrency 8, ${DURATION}s x $ROUNDS rounds"
: >"$work/csv.rps"; : >"$work/pg.rps"
for _ in $(seq 1 "$ROUNDS"); do
  wrk -t2 -c8 -d"${DURATION}s" -s "$work/post.lua" "http://127.0.0.1:$csv_port/predict" | rps >>"$work/csv.rps"
  wrk -t2 -c8 -d"${DURATION}s" -s "$work/post.lua" "http://127.0.0.1:${pg_ports[0]}/predict" | rps >>"$work/pg.rps"
done
csv=$(median <"$work/csv.rps"); pg=$(median <"$work/pg.rps")
echo "   CSV store: $(tr '\n' ' ' <"$work/csv.rps")-> median $csv req/s"
echo "   PostgreSQL replica: $(tr '\n' ' ' <"$work/pg.rps")-> median $pg req/s"
echo "   ratio PostgreSQL / CSV: $(awk -v a="$pg" -v b="$csv" 'BEGIN {printf "%.2f", a / b}')"

# --- 2. /feedback --------------------------------------------------------------------------------
# A reference row as the feedback vector; each request a new Idempotency-Key (a row each).
row=$(sed -n 2p "$work/data/ref_data.csv")
vector="[${row%,*}]"; target=${row##*,}
cat >"$work/feedback.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"vector": $vector, "target": "$target"}'
local n = 0
request = function()
  n = n + 1
  wrk.headers["Idempotency-Key"] = string.format("bench-%d-%d-%d", os.time(), math.random(1e9), n)
  return wrk.format()
end
LUA
echo "2. POST /feedback, concurrency 32, ${DURATION}s each"
printf "   %-22s %9s %9s %9s %7s\n" store req/s p50 p99 non-2xx
for target_port in "$csv_port" "${pg_ports[0]}"; do
  name=$([ "$target_port" = "$csv_port" ] && echo "CSV (fsync per row)" || echo "PostgreSQL (1 replica)")
  out=$(wrk -t2 -c32 -d"${DURATION}s" --latency -s "$work/feedback.lua" "http://127.0.0.1:$target_port/feedback")
  printf "   %-22s %9s %9s %9s %7s\n" "$name" "$(rps <<<"$out")" "$(awk '$1=="50%" {print $2}' <<<"$out")" \
    "$(awk '$1=="99%" {print $2}' <<<"$out")" "$(awk '/Non-2xx/ {print $NF}' <<<"$out" | grep . || echo 0)"
done

# --- 3. promotion reaching every replica ---------------------------------------------------------
echo "3. promotion -> all 3 replicas serve it (10 promotions)"
python3 - "$tympan" "${pg_ports[@]}" <<'PY'
import json, statistics, subprocess, sys, time, urllib.request
tympan, ports = sys.argv[1], sys.argv[2:]
def served(p):
    with urllib.request.urlopen(f"http://127.0.0.1:{p}/model", timeout=5) as r:
        return json.load(r)["version"]
times = []
for i in range(10):
    version = "v0002" if i % 2 == 0 else "v0001"
    subprocess.run([tympan, "models", "promote", version], check=True, capture_output=True)
    t0 = time.monotonic()
    while not all(served(p) == version for p in ports):
        if time.monotonic() - t0 > 10:
            sys.exit(f"replicas did not follow {version}")
        time.sleep(0.002)
    times.append((time.monotonic() - t0) * 1000)
print("   ms after `tympan models promote` returned: " + " ".join(f"{t:.0f}" for t in times))
print(f"   median {statistics.median(times):.0f} ms, max {max(times):.0f} ms")
PY
