#!/usr/bin/env bash
# The label flood of issue 17 against a release server on FSDD, loopback only: N feedbacks
# (default 1,500), each a different FSDD clip with a target and a client `prediction` of its own,
# then M rows (default 1,000) of the new classes that got in; then times GET /report and
# POST /admin/retrain. Prints the status codes, the labels stored, report sizes and times, the
# retraining time and the server's peak RSS.
# Usage: scripts/bench-label-flood.sh [N] [M]   (SERVER_FLAGS adds server flags)
set -euo pipefail
cd "$(dirname "$0")/.."
FLOOD=${1:-1500}
MORE=${2:-1000}
TOKEN=bench-label-flood
SERVER_FLAGS="--admin-token $TOKEN ${SERVER_FLAGS:-}"

source scripts/lib/bench-server.sh

url="http://127.0.0.1:$port"
mapfile -t clips < <(find "$FSDD" -name '*.wav' | sort | head -n $((FLOOD + MORE)))

# One feedback per line of stdin ("clip target prediction"), 4 at a time; prints the status codes.
send() {
  xargs -P 4 -L 1 sh -c 'curl -s -o /dev/null -w "%{http_code}\n" -F "file=@$0" -F "target=$1" \
    -F "prediction=$2" '"$url/feedback"
}

start=$(date +%s.%N)
codes=$(for i in $(seq 0 $((FLOOD - 1))); do echo "${clips[$i]} flood-$i claimed-$i"; done | send)
echo "flood: $FLOOD feedbacks in $(echo "$(date +%s.%N) - $start" | bc) s:" \
  "$(sort <<<"$codes" | uniq -c | awk '{printf "%s x %s  ", $1, $2}')"
admitted=$(tail -n +2 "$work/data/prod_data.csv" | awk -F, '{print $(NF-1)}' | sort -u)
n_admitted=$(wc -l <<<"$admitted")
codes=$(for i in $(seq 0 $((MORE - 1))); do
  echo "${clips[$((FLOOD + i))]} $(sed -n "$((i % n_admitted + 1))p" <<<"$admitted") claimed"
done | send)
echo "then $MORE feedbacks of the $n_admitted admitted classes:" \
  "$(sort <<<"$codes" | uniq -c | awk '{printf "%s x %s  ", $1, $2}')"
echo "stored: $(tail -n +2 "$work/data/prod_data.csv" | wc -l) rows," \
  "$(tail -n +2 "$work/data/prod_data.csv" | awk -F, '{print $(NF-1)}' | sort -u | wc -l) targets," \
  "$(tail -n +2 "$work/data/prod_data.csv" | awk -F, '{print $NF}' | sort -u | wc -l) predictions," \
  "$(grep -c claimed "$work/data/prod_data.csv" || true) claimed predictions"

for path in report report.json; do
  curl -s -o "$work/out" -w "GET /$path: %{http_code}, %{size_download} bytes, %{time_total} s\n" \
    -H 'Accept: text/html' "$url/$path"
done
curl -s -X POST -H "Authorization: Bearer $TOKEN" -o "$work/retrain.json" \
  -w "POST /admin/retrain: %{http_code} in %{time_total} s" "$url/admin/retrain"
echo " ($(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); d=r["decision"]; print(f"train rows {d['train_rows']}, promoted {d['promoted']}")' "$work/retrain.json"))"
echo "server RSS: peak $(awk '/VmHWM/ {print $2, $3}' /proc/$server/status)"
