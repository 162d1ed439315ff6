//! Test support: git repositories made with the git CLI, for the tests of Converge and of
//! the controllers built on it. Enabled by the `test-util` feature.

pub mod conformance;

use std::path::Path;
use std::process::Command;

/// A git repository with a work tree, made with `git init` in a temporary directory and
/// committed to with a fixed author, committer and clock, so commit ids are the same on every
/// run. The git CLI must be on `PATH`; the user's and system's git configuration is ignored.
///
/// Methods panic when git fails: this is for tests.
///
/// ```
/// use converge_source::testing::GitFixture;
///
/// let mut repo = GitFixture::new();
/// repo.write("deploy/app.yaml", "kind: ConfigMap\n");
/// let first = repo.commit("first");
/// repo.git(&["tag", "v1"]);
/// assert_eq!(repo.git(&["rev-parse", "v1"]), first);
/// assert!(repo.url().starts_with("file:///"));
/// ```
#[derive(Debug)]
pub struct GitFixture {
    dir: tempfile::TempDir,
    clock: u32,
}

impl Default for GitFixture {
    fn default() -> Self {
        GitFixture::new()
    }
}

impl GitFixture {
    /// An empty repository whose first branch is `main`.
    pub fn new() -> GitFixture {
        let fixture = GitFixture {
            dir: tempfile::tempdir().expect("a temporary directory for the fixture"),
            clock: 0,
        };
        fixture.git(&["init", "-q", "-b", "main"]);
        fixture
    }

    /// The work tree.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The work tree as a string (test directories are UTF-8).
    pub fn path_str(&self) -> &str {
        self.path()
            .to_str()
            .expect("temporary directories have UTF-8 paths")
    }

    /// The repository as a `file://` URL.
    pub fn url(&self) -> String {
        format!("file://{}", self.path().display())
    }

    /// Runs git in the work tree and returns its trimmed standard output.
    pub fn git(&self, args: &[&str]) -> String {
        let date = format!("2026-01-01T00:{:02}:00Z", self.clock);
        let out = Command::new("git")
            .args(args)
            .current_dir(self.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Ada Fixture")
            .env("GIT_AUTHOR_EMAIL", "ada@example.test")
            .env("GIT_COMMITTER_NAME", "Ada Fixture")
            .env("GIT_COMMITTER_EMAIL", "ada@example.test")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("the git CLI runs");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("git prints UTF-8 here")
            .trim()
            .to_owned()
    }

    /// Writes a file in the work tree, creating its directories.
    pub fn write(&self, path: &str, content: &str) -> &Self {
        let full = self.path().join(path);
        std::fs::create_dir_all(full.parent().expect("a file has a parent directory"))
            .expect("directories of the fixture file");
        std::fs::write(full, content).expect("the fixture file");
        self
    }

    /// Stages everything, commits it one minute after the previous commit, and returns the
    /// commit id.
    pub fn commit(&mut self, message: &str) -> String {
        self.clock += 1;
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}
