#!/usr/bin/env bash
# The whole test suite: formatting, lints, every crate's unit and end-to-end tests (librosa
# parity, format variants, the HTTP service, the browser), then the container stack when a Docker
# engine answers. What the tests need is installed first when missing (as root; otherwise the
# missing packages are named), and the two real datasets are fetched.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== test dependencies"
scripts/install-test-deps.sh
echo "== datasets"
scripts/fetch-fsdd.sh
scripts/fetch-drums.sh
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
