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
        // `commit` stages the removals too.
        conformance::replace_dir_content(self.repo.path(), files);
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
