#!/usr/bin/env bash
# Installs the npm peers of benches/diff_engine.rs (package-lock.json, exact versions) into
# .cache/bench-peers/node_modules at the workspace root, where the benchmark looks for them.
# Usage: bash benches/peers/install.sh   (needs node and npm; the benchmark skips the peer without them)
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
dest="$here/../../.cache/bench-peers"
mkdir -p "$dest"
cp "$here/package.json" "$here/package-lock.json" "$dest/"
npm ci --prefix "$dest" --no-audit --no-fund --loglevel=error
echo "fast-json-patch $(node -p "require('$dest/node_modules/fast-json-patch/package.json').version") installed in $(cd "$dest" && pwd)/node_modules"
