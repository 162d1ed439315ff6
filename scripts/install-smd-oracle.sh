#!/usr/bin/env bash
# Build the structured-merge-diff oracle (tools/smd-oracle) into $ROOT/.cache/oracles/bin
# (git-ignored). Needs Debian's golang-go and golang-k8s-sigs-structured-merge-diff-dev; the
# build is offline (see tools/smd-oracle/build.sh).
#
# Idempotent: the binary is rebuilt only when it is missing or older than main.go or build.sh.
set -euo pipefail

ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/tools/smd-oracle"
BIN_REL=".cache/oracles/bin"
OUT="$ROOT/$BIN_REL/smd-oracle"

if [[ -x "$OUT" && ! "$SRC/main.go" -nt "$OUT" && ! "$SRC/build.sh" -nt "$OUT" ]]; then
    echo "oracles: smd-oracle, structured-merge-diff 4.1.2 (cached in $BIN_REL)"
    exit 0
fi
echo "install-smd-oracle: building tools/smd-oracle..." >&2
if ! "$SRC/build.sh" "$OUT"; then
    # A stale binary would stand in for sources that no longer build: remove it.
    rm -f -- "$OUT"
    exit 1
fi
echo "oracles: smd-oracle, structured-merge-diff 4.1.2 (built into $BIN_REL)"
