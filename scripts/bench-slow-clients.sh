#!/usr/bin/env bash
# Slow and abusive clients against POST /predict, loopback only: thousands of idle connections
# and clients sending headers or bodies a byte a second, while wrk measures everyone else.
# Run with the connection guard (the default) and without it (Rocket alone), in one go.
# Usage: scripts/bench-slow-clients.sh [seconds per wrk phase, default 10] [hold seconds, default 75]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
HOLD=${2:-75}

for guard in true false; do
  echo "== connection guard: $guard"
  (
    SERVER_FLAGS="--guard $guard"
    source scripts/lib/bench-server.sh
    echo "descriptor limit of the server: $(awk '/Max open files/ {print $4}' /proc/$server/limits)"
    python3 scripts/slow-clients.py --port "$port" --pid "$server" --lua "$work/post.lua" \
      --seconds "$DURATION" --hold "$HOLD" --idle 3000 --drip 200 --body 200 || true
  )
done
