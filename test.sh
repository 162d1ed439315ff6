#!/usr/bin/env bash
# The one command that runs every test of Converge. It installs what the tests need first:
#   - the git CLI (tests build real repositories with it), from Debian if missing;
#   - kubectl v1.35 and helm v4, the reference oracles, into .cache/oracles/bin.
# Then it runs the unit, integration, example, benchmark (once each, in test mode) and doc tests.
# With CI=true a missing oracle or corpus fails the run instead of skipping a test.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v git >/dev/null 2>&1; then
    echo "test.sh: installing git"
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq git >/dev/null
    else
        sudo apt-get update -qq && sudo apt-get install -y -qq git >/dev/null
    fi
fi

if ! scripts/install-oracles.sh; then
    if [ "${CI:-}" = true ]; then
        echo "test.sh: the kubectl and helm oracles are required when CI=true" >&2
        exit 1
    fi
    echo "*** test.sh: the kubectl/helm oracles could not be installed; tests that need them will say SKIPPED ***" >&2
fi
export CONVERGE_KUBECTL="${CONVERGE_KUBECTL:-$PWD/.cache/oracles/bin/kubectl}"
export CONVERGE_HELM="${CONVERGE_HELM:-$PWD/.cache/oracles/bin/helm}"

# The CLI contract tests run the reference binaries as a user would.
cargo build --workspace --examples --locked
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
