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

/// A `git daemon` serving a directory of repositories over `git://` on 127.0.0.1, stopped when
/// dropped. The git CLI must be on `PATH`.
///
/// ```
/// use converge_source::testing::{GitDaemon, GitFixture};
///
/// let mut repo = GitFixture::new();
/// repo.write("app.yaml", "kind: ConfigMap\n");
/// repo.commit("first");
/// let daemon = GitDaemon::serve(&repo);
/// assert!(daemon.url().starts_with("git://127.0.0.1:"));
/// ```
#[derive(Debug)]
pub struct GitDaemon {
    child: std::process::Child,
    url: String,
}

impl GitDaemon {
    /// Serves `repo` (read-only, every repository of its parent directory exported).
    ///
    /// # Panics
    /// When the daemon does not start or does not accept connections within ten seconds.
    pub fn serve(repo: &GitFixture) -> GitDaemon {
        let path = repo.path();
        let base = path.parent().expect("a fixture lives in a directory");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a UTF-8 fixture name");
        // A free port: bound, released, then given to the daemon.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port on 127.0.0.1")
            .port();
        // The daemon itself, not the `git` wrapper: killing the wrapper would leave it running.
        let exec_path = Command::new("git")
            .arg("--exec-path")
            .output()
            .expect("the git CLI runs");
        let exec_path = String::from_utf8(exec_path.stdout).expect("a UTF-8 path");
        let child = Command::new(Path::new(exec_path.trim()).join("git-daemon"))
            .args([
                "--reuseaddr",
                "--export-all",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                &format!("--base-path={}", base.display()),
            ])
            .arg(base)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("git daemon starts");
        let daemon = GitDaemon {
            child,
            url: format!("git://127.0.0.1:{port}/{name}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "git daemon did not listen on port {port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        daemon
    }

    /// The `git://` URL of the served repository.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
