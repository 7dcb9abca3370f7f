#!/usr/bin/env bash
# Fetches the Free Spoken Digit Dataset (CC BY-SA 4.0, Zohar Jackson and contributors) at a pinned
# commit into datasets/fsdd/, unless a copy is already found. Tympan looks for the recordings at
# datasets/fsdd/recordings, then ../shared/datasets/fsdd/recordings, or wherever TYMPAN_DATASET /
# TYMPAN_FSDD point.
set -euo pipefail
cd "$(dirname "$0")/.."

COMMIT=26eb9aaf76e81b692f806f9140c2d2777410d7a1
REPO=https://github.com/Jakobovski/free-spoken-digit-dataset.git

for dir in "${TYMPAN_FSDD:-}" datasets/fsdd/recordings ../shared/datasets/fsdd/recordings; do
  if [ -n "$dir" ] && [ -d "$dir" ] && [ "$(ls "$dir" | grep -c '\.wav$')" -ge 3000 ]; then
    echo "FSDD found at $dir"
    exit 0
  fi
done

echo "fetching FSDD at $COMMIT into datasets/fsdd ..."
rm -rf datasets/fsdd.tmp
git init -q datasets/fsdd.tmp
git -C datasets/fsdd.tmp remote add origin "$REPO"
git -C datasets/fsdd.tmp fetch -q --depth 1 origin "$COMMIT"
git -C datasets/fsdd.tmp checkout -q FETCH_HEAD
rm -rf datasets/fsdd
mv datasets/fsdd.tmp datasets/fsdd
echo "FSDD: $(ls datasets/fsdd/recordings | wc -l) files in datasets/fsdd/recordings"
