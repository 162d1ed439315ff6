//! Git fixtures made with the git CLI, with pinned identities and dates.

use std::path::Path;
use std::process::Command;

/// A work tree repository made with `git init`, committed to with fixed dates.
pub(crate) struct Repo {
    pub(crate) dir: tempfile::TempDir,
    clock: u32,
}

impl Repo {
    pub(crate) fn new() -> Repo {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repo { dir, clock: 0 };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn url(&self) -> String {
        format!("file://{}", self.path().display())
    }

    pub(crate) fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(self.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Ada Fixture")
            .env("GIT_AUTHOR_EMAIL", "ada@example.test")
            .env("GIT_COMMITTER_NAME", "Ada Fixture")
            .env("GIT_COMMITTER_EMAIL", "ada@example.test")
            .env(
                "GIT_AUTHOR_DATE",
                format!("2026-01-01T00:{:02}:00Z", self.clock),
            )
            .env(
                "GIT_COMMITTER_DATE",
                format!("2026-01-01T00:{:02}:00Z", self.clock),
            )
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    pub(crate) fn write(&self, path: &str, content: &str) -> &Self {
        let full = self.path().join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, content).expect("write");
        self
    }

    /// Commits everything and returns the commit id.
    pub(crate) fn commit(&mut self, message: &str) -> String {
        self.clock += 1;
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}
