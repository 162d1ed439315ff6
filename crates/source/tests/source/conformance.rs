//! Both built-in sources pass the conformance suite every `Source` implementation can run.

use converge_source::testing::GitFixture;
use converge_source::testing::conformance::{self, Publish};
use converge_source::{GitOptions, GitSource, LocalDir};

struct Dir(tempfile::TempDir);

impl Publish for Dir {
    type Source = LocalDir;

    fn publish(&mut self, files: &[(&str, &[u8])]) -> LocalDir {
        conformance::replace_dir_content(self.0.path(), files);
        LocalDir::new(self.0.path())
    }
}

/// A repository committed to with each content, served through one `GitSource` with a kept
/// cache, so the second content is an incremental fetch.
struct Repo {
    repo: GitFixture,
    cache: tempfile::TempDir,
    commits: usize,
}

impl Publish for Repo {
    type Source = GitSource;

    fn publish(&mut self, files: &[(&str, &[u8])]) -> GitSource {
        // Empty the work tree (not .git); `commit` stages the removals too.
        for entry in std::fs::read_dir(self.repo.path()).expect("work tree") {
            let path = entry.expect("entry").path();
            if path.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if path.is_dir() {
                std::fs::remove_dir_all(&path).expect("rm -r");
            } else {
                std::fs::remove_file(&path).expect("rm");
            }
        }
        for (path, content) in files {
            let target = self.repo.path().join(path);
            std::fs::create_dir_all(target.parent().expect("a parent")).expect("mkdir");
            std::fs::write(target, content).expect("write");
        }
        self.commits += 1;
        self.repo.commit(&format!("content {}", self.commits));
        GitSource::with_options(
            self.repo.url(),
            GitOptions::default().with_cache_dir(self.cache.path()),
        )
        .expect("a git source")
    }
}

#[tokio::test]
async fn local_dir_passes_the_conformance_suite() {
    conformance::check(&mut Dir(tempfile::tempdir().expect("tempdir"))).await;
}

#[tokio::test]
async fn git_source_passes_the_conformance_suite() {
    conformance::check(&mut Repo {
        repo: GitFixture::new(),
        cache: tempfile::tempdir().expect("tempdir"),
        commits: 0,
    })
    .await;
}
