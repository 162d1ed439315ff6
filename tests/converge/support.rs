//! Finding the corpus, the oracles and the example binaries; git fixtures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

/// Runs a reference binary built by `cargo test --all-targets`.
pub(crate) fn run_example(name: &str, args: &[&str]) -> Output {
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("examples")
        .join(name);
    assert!(
        bin.is_file(),
        "{} is not built: run `cargo build --examples` before the tests (./test.sh does)",
        bin.display()
    );
    let out = Command::new(&bin)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("example runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{name} panicked: {stderr}");
    out
}

/// A git repository made with the git CLI, with pinned identities and dates.
pub(crate) struct Repo {
    pub(crate) dir: tempfile::TempDir,
    clock: u32,
}

impl Repo {
    pub(crate) fn new() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().expect("tempdir"),
            clock: 0,
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub(crate) fn path(&self) -> &str {
        self.dir.path().to_str().expect("utf-8 path")
    }

    pub(crate) fn git(&self, args: &[&str]) -> String {
        let date = format!("2026-02-01T00:{:02}:00Z", self.clock);
        let out = Command::new("git")
            .args(args)
            .current_dir(self.dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Ada Fixture")
            .env("GIT_AUTHOR_EMAIL", "ada@example.test")
            .env("GIT_COMMITTER_NAME", "Ada Fixture")
            .env("GIT_COMMITTER_EMAIL", "ada@example.test")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    pub(crate) fn write(&self, path: &str, content: &str) -> &Self {
        let full = self.dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, content).expect("write");
        self
    }

    pub(crate) fn commit(&mut self, message: &str) -> String {
        self.clock += 1;
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}

/// Parses a YAML stream into its documents' values.
pub(crate) fn values(yaml: &[u8]) -> Vec<serde_json::Value> {
    converge::core::parse_documents("output.yaml", yaml)
        .expect("valid YAML")
        .into_iter()
        .map(|d| d.value)
        .collect()
}
