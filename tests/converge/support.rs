//! Finding the corpus, the oracles and the example binaries; git fixtures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) use converge::source::testing::GitFixture as Repo;

/// Something a test needs is missing: under `CI=true` that fails the test, elsewhere the test
/// says loudly that it was skipped.
fn missing(what: &str, hint: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is missing ({hint}); CI=true requires it");
    }
    eprintln!("\n*** SKIPPED: {what} is missing ({hint}) ***\n");
}

/// `../shared/corpus` beside the workspace (or `$CONVERGE_SHARED/corpus`).
pub(crate) fn corpus() -> Option<PathBuf> {
    let shared = std::env::var_os("CONVERGE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let corpus = shared.join("corpus");
    if corpus.is_dir() {
        Some(corpus)
    } else {
        missing(
            &format!("the corpus at {}", corpus.display()),
            "set CONVERGE_SHARED",
        );
        None
    }
}

/// The kubectl oracle: `$CONVERGE_KUBECTL`, or the one `scripts/install-oracles.sh` installs.
pub(crate) fn kubectl() -> Option<PathBuf> {
    let path = std::env::var_os("CONVERGE_KUBECTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/oracles/bin/kubectl")
        });
    if path.is_file() {
        Some(path)
    } else {
        missing(
            &format!("the kubectl oracle at {}", path.display()),
            "run scripts/install-oracles.sh or set CONVERGE_KUBECTL",
        );
        None
    }
}

/// The helm oracle: `$CONVERGE_HELM`, or the one `scripts/install-oracles.sh` installs.
pub(crate) fn helm() -> Option<PathBuf> {
    let path = helm_path();
    if path.is_file() {
        Some(path)
    } else {
        missing(
            &format!("the helm oracle at {}", path.display()),
            "run scripts/install-oracles.sh or set CONVERGE_HELM",
        );
        None
    }
}

fn helm_path() -> PathBuf {
    std::env::var_os("CONVERGE_HELM")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/oracles/bin/helm"))
}

/// The built example binary `name`, beside this test binary's directory.
pub(crate) fn example_bin(name: &str) -> PathBuf {
    std::env::current_exe()
        .expect("test binary path")
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("examples")
        .join(name)
}

/// Runs a reference binary built by `cargo test --all-targets`.
pub(crate) fn run_example(name: &str, args: &[&str]) -> Output {
    let bin = example_bin(name);
    assert!(
        bin.is_file(),
        "{} is not built: run `cargo build --examples` before the tests (./test.sh does)",
        bin.display()
    );
    let mut command = Command::new(&bin);
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    // The binaries find helm as users' programs do; give them the oracle's.
    let helm = helm_path();
    if helm.is_file() {
        command.env("CONVERGE_HELM", helm);
    }
    let out = command.output().expect("example runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{name} panicked: {stderr}");
    out
}

/// Runs an example that must succeed (exit 0) and returns its stdout.
pub(crate) fn run_example_ok(name: &str, args: &[&str]) -> Vec<u8> {
    let out = run_example(name, args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Parses a YAML stream into its documents' values.
pub(crate) fn values(yaml: &[u8]) -> Vec<serde_json::Value> {
    converge::core::parse_documents("output.yaml", yaml)
        .expect("valid YAML")
        .into_iter()
        .map(|d| d.value)
        .collect()
}

/// An object's identity for matching outputs: apiVersion, kind, namespace and name.
pub(crate) fn identity(object: &serde_json::Value) -> String {
    let meta = &object["metadata"];
    format!(
        "{} {} {} {}",
        object["apiVersion"], object["kind"], meta["namespace"], meta["name"]
    )
}

/// Runs `kubectl kustomize DIR` and returns its objects by [`identity`].
pub(crate) fn kustomize(
    kubectl: &Path,
    dir: &Path,
) -> std::collections::HashMap<String, serde_json::Value> {
    let out = Command::new(kubectl)
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl kustomize: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    values(&out.stdout)
        .into_iter()
        .map(|v| (identity(&v), v))
        .collect()
}
