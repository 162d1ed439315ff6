#!/usr/bin/env bash
# The one command that runs every test of Converge. It installs what the tests need first:
#   - git, openssh (client and server), gnupg, procps, Go and structured-merge-diff's Go sources,
#     from Debian if missing;
#   - kubectl v1.35 and helm v4, the reference oracles, into .cache/oracles/bin;
#   - smd-oracle (tools/smd-oracle, built offline with Debian's Go), the server-side apply
#     oracle, into .cache/oracles/bin, rebuilt only when its sources change.
# Then it runs the unit, integration, example, benchmark (once each, in test mode) and doc tests.
# With CI=true a missing oracle or corpus fails the run instead of skipping a test.
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the tests run: git (repositories are built with it), ssh-keygen and sshd
# (an SSH git server on 127.0.0.1, SSH-signed commits), gpg (GPG-signed commits), kill; go and
# structured-merge-diff 4.1.2 to build the server-side apply oracle.
missing=()
command -v git >/dev/null 2>&1 || missing+=(git)
command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v gpg >/dev/null 2>&1 || missing+=(gnupg)
# kill(1) itself, not the shell builtin: the testcluster example is interrupted as Ctrl-C does.
[ -x /usr/bin/kill ] || [ -x /bin/kill ] || missing+=(procps)
command -v go >/dev/null 2>&1 || missing+=(golang-go)
[ -d /usr/share/gocode/src/sigs.k8s.io/structured-merge-diff ] || missing+=(golang-k8s-sigs-structured-merge-diff-dev)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "test.sh: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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

if ! scripts/install-smd-oracle.sh; then
    if [ "${CI:-}" = true ]; then
        echo "test.sh: the structured-merge-diff oracle is required when CI=true" >&2
        exit 1
    fi
    echo "*** test.sh: the structured-merge-diff oracle could not be built; tests that need it will say SKIPPED ***" >&2
fi
export CONVERGE_SMD_ORACLE="${CONVERGE_SMD_ORACLE:-$PWD/.cache/oracles/bin/smd-oracle}"

# The CLI contract tests run the reference binaries as a user would.
cargo build --workspace --examples --locked
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
