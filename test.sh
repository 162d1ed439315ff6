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

scripts/install-oracles.sh
export CONVERGE_KUBECTL="${CONVERGE_KUBECTL:-$PWD/.cache/oracles/bin/kubectl}"
export CONVERGE_HELM="${CONVERGE_HELM:-$PWD/.cache/oracles/bin/helm}"

# The CLI contract tests run the reference binaries as a user would.
cargo build --workspace --examples --locked
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
