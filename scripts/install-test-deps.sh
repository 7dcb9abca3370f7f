#!/usr/bin/env bash
# Installs what the test suite needs when it is missing: sox and ffmpeg (re-encoded clips),
# Chromium and its driver (browser tests), promtool (alert rules), clippy and rustfmt. As root it
# installs them with apt; otherwise it names the packages and stops.
set -euo pipefail

need=()
command -v sox >/dev/null || need+=(sox libsox-fmt-all)
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v promtool >/dev/null || need+=(prometheus)
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
if command -v rustup >/dev/null; then
  rustup component add clippy rustfmt >/dev/null 2>&1 || true
fi
