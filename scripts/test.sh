#!/usr/bin/env bash
# The whole test suite: formatting, lints, every crate's unit and end-to-end tests (librosa
# parity, format variants, the HTTP service, the browser), then the container stack when a Docker
# engine answers.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
if [ -x scripts/test-containers.sh ]; then
  echo "== containers"
  scripts/test-containers.sh
fi
