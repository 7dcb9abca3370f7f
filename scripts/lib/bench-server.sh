# Sourced by the load scripts: builds tympan-serve, bootstraps a temporary folder on FSDD and
# starts a server on a random loopback port. Sets FSDD, CLIP, work, port, server and an EXIT trap.
# Extra server flags can be given in SERVER_FLAGS; a shell prefix (e.g. "prlimit --nofile=512")
# in SERVER_PREFIX; another build of the server (e.g. an older one, to compare) in SERVER_BIN.

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
if [ -z "${SERVER_BIN:-}" ]; then
  cargo build --release -q -p tympan-serve
  SERVER_BIN=$PWD/target/release/tympan-serve
fi
SERVER_BIN=$(cd "$(dirname "$SERVER_BIN")" && pwd)/$(basename "$SERVER_BIN")
# The first model comes from `tympan bootstrap` (an older server binary serves it as well).
cargo build --release -q -p tympan-cli

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
( cd "$work" && TYMPAN_DATASET="$FSDD" "$OLDPWD/target/release/tympan" bootstrap ) >"$work/bootstrap.log" 2>&1
# shellcheck disable=SC2086
( cd "$work" && exec ${SERVER_PREFIX:-} "$SERVER_BIN" \
    --address 127.0.0.1 --port "$port" --retrain-every 0 ${SERVER_FLAGS:-} ) >"$work/server.log" 2>&1 &
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
