#!/usr/bin/env bash
# Installs what the test suite needs when it is missing: sox and ffmpeg (re-encoded clips),
# PostgreSQL's server (scale-out tests),
# Chromium and its driver (browser tests), promtool (alert rules), schemathesis (the API contract
# test, from PyPI, pinned, in a venv of its own), clippy and rustfmt. As root it installs them;
# otherwise it names the Debian packages and stops (a missing schemathesis only gets a warning:
# its test is skipped outside CI).
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5
SCHEMATHESIS_VENV=/opt/tympan-schemathesis

need=()
# A bare `sox` package reads and writes WAV only; the MP3 and Ogg variants need its format
# handlers (libsox-fmt-all), so check for the handler, not the command.
sox -h 2>/dev/null | grep -q "AUDIO FILE FORMATS:.* mp3" || need+=(sox libsox-fmt-all)
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v promtool >/dev/null || need+=(prometheus)
# The scale-out tests start throwaway PostgreSQL clusters: initdb and pg_ctl, which Debian keeps
# off PATH (pg_config --bindir, or /usr/lib/postgresql/<major>/bin).
pg_server_ok() {
  local bindir
  bindir=$(pg_config --bindir 2>/dev/null || true)
  [ -x "$bindir/initdb" ] && [ -x "$bindir/pg_ctl" ] && return 0
  compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null
}
pg_server_ok || need+=(postgresql)
schemathesis_ok() {
  schemathesis --version 2>/dev/null | grep -qx "schemathesis, version $SCHEMATHESIS_VERSION"
}
if ! schemathesis_ok && [ "$(id -u)" -eq 0 ]; then
  command -v python3 >/dev/null || need+=(python3)
  python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "the tests need these Debian packages: ${need[*]}" >&2
    echo "install them (sudo apt-get install ${need[*]}) or run this script as root" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! schemathesis_ok; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "warning: schemathesis $SCHEMATHESIS_VERSION is missing: the API contract test will be" \
      "skipped (run this script as root to install it)" >&2
  else
    # A venv: Debian's own Python refuses pip installs into the system (PEP 668).
    rm -rf "$SCHEMATHESIS_VENV"
    python3 -m venv "$SCHEMATHESIS_VENV"
    "$SCHEMATHESIS_VENV/bin/pip" install -q --disable-pip-version-check \
      "schemathesis==$SCHEMATHESIS_VERSION"
    ln -sf "$SCHEMATHESIS_VENV/bin/schemathesis" /usr/local/bin/schemathesis
    schemathesis_ok
  fi
fi
if command -v rustup >/dev/null; then
  rustup component add clippy rustfmt >/dev/null 2>&1 || true
fi
