#!/usr/bin/env bash
# Build the structured-merge-diff oracle: tools/smd-oracle/build.sh OUT_BINARY
#
# Fully offline, from Debian's Go sources in /usr/share/gocode/src (packages golang-go and
# golang-k8s-sigs-structured-merge-diff-dev, which pulls in its Go dependencies). Debian installs
# SMD without the /v4 folder its module path ends in, and the dependencies lack some go.mod files,
# so `replace` directives do not work. Instead the build runs in a temporary module whose vendor/
# folder is made of symlinks into /usr/share/gocode/src, with a vendor/modules.txt written here.
# Nothing is written next to this script; the binary replaces OUT_BINARY atomically.
set -euo pipefail

die() {
    echo "smd-oracle/build.sh: $*" >&2
    exit 1
}

[[ $# -eq 1 ]] || die "usage: $0 OUT_BINARY"
OUT="$1"
HERE="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
GOCODE="${GOCODE:-/usr/share/gocode/src}"

command -v go >/dev/null 2>&1 || die "go not found (Debian package golang-go)"

# Module path, version, go directive of its go.mod ("-" when Debian ships none), source folder
# and the packages the build uses. Versions are those Debian bookworm ships; in vendor mode they
# are only labels, but they must agree between go.mod and vendor/modules.txt.
MODULES=(
    "github.com/json-iterator/go|v1.1.12|1.12|github.com/json-iterator/go|github.com/json-iterator/go"
    "github.com/modern-go/concurrent|v0.0.0-20180306012644-bacd9c7ef1dd|-|github.com/modern-go/concurrent|github.com/modern-go/concurrent"
    "github.com/modern-go/reflect2|v1.0.2|1.12|github.com/modern-go/reflect2|github.com/modern-go/reflect2"
    "gopkg.in/yaml.v2|v2.4.0|1.15|gopkg.in/yaml.v2|gopkg.in/yaml.v2"
    "sigs.k8s.io/structured-merge-diff/v4|v4.1.2|1.13|sigs.k8s.io/structured-merge-diff|sigs.k8s.io/structured-merge-diff/v4/fieldpath sigs.k8s.io/structured-merge-diff/v4/merge sigs.k8s.io/structured-merge-diff/v4/schema sigs.k8s.io/structured-merge-diff/v4/typed sigs.k8s.io/structured-merge-diff/v4/value"
)

for m in "${MODULES[@]}"; do
    IFS='|' read -r _ _ _ dir _ <<<"$m"
    [[ -d "$GOCODE/$dir" ]] ||
        die "$GOCODE/$dir is missing (Debian package golang-k8s-sigs-structured-merge-diff-dev and its dependencies)"
done

WORK=""
cleanup() {
    [[ -n "$WORK" ]] && rm -rf -- "$WORK"
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
WORK="$(mktemp -d "${TMPDIR:-/tmp}/smd-oracle-build.XXXXXX")"

cp "$HERE/main.go" "$WORK/main.go"
{
    echo "module converge.dev/tools/smd-oracle"
    echo
    echo "go 1.19"
    echo
    echo "require ("
    for m in "${MODULES[@]}"; do
        IFS='|' read -r path version _ _ _ <<<"$m"
        echo "	$path $version"
    done
    echo ")"
} >"$WORK/go.mod"
{
    for m in "${MODULES[@]}"; do
        IFS='|' read -r path version gover dir pkgs <<<"$m"
        echo "# $path $version"
        if [[ "$gover" == - ]]; then
            echo "## explicit"
        else
            echo "## explicit; go $gover"
        fi
        for p in $pkgs; do echo "$p"; done
        mkdir -p "$WORK/vendor/$(dirname -- "$path")"
        ln -s "$GOCODE/$dir" "$WORK/vendor/$path"
    done
} >"$WORK/modules.txt"
mv "$WORK/modules.txt" "$WORK/vendor/modules.txt"

mkdir -p -- "$(dirname -- "$OUT")"
OUT_DIR="$(cd -- "$(dirname -- "$OUT")" && pwd)"
TMP_OUT="$(mktemp "$OUT_DIR/.smd-oracle.XXXXXX")"
trap 'rm -f -- "$TMP_OUT"; cleanup' EXIT

# Go needs a build cache; without $HOME or $XDG_CACHE_HOME it has no default.
if [[ -z "${GOCACHE:-}" && -z "${XDG_CACHE_HOME:-}" && -z "${HOME:-}" ]]; then
    export GOCACHE="$WORK/gocache"
fi

(
    cd "$WORK"
    GO111MODULE=on GOFLAGS=-mod=vendor GOPROXY=off GOSUMDB=off GOWORK=off GOTOOLCHAIN=local \
        go build -buildvcs=false -o "$TMP_OUT" .
) || die "go build failed"
chmod 755 "$TMP_OUT"
mv -f -- "$TMP_OUT" "$OUT"
