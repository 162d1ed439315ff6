//! GitSource against real servers on 127.0.0.1.

use converge_source::testing::{GitDaemon, GitFixture};
use converge_source::{GitOptions, GitSource, Reference, Source};

#[tokio::test]
async fn git_protocol_from_git_daemon() {
    let mut repo = GitFixture::new();
    repo.write("deploy/app.yaml", "kind: ConfigMap\n");
    let first = repo.commit("first");
    repo.git(&["tag", "v1.0.0"]);
    let daemon = GitDaemon::serve(&repo);
    let cache = tempfile::tempdir().expect("tempdir");
    let source = GitSource::with_options(
        daemon.url(),
        GitOptions::default().with_cache_dir(cache.path()),
    )
    .expect("source");

    let snapshot = source
        .fetch(&Reference::Default)
        .await
        .expect("fetch over git://");
    assert_eq!(snapshot.revision.to_string(), format!("main@sha1:{first}"));
    assert_eq!(
        snapshot.tree.read("deploy/app.yaml").expect("read"),
        b"kind: ConfigMap\n"
    );
    let tag = source
        .fetch(&Reference::Semver("^1".into()))
        .await
        .expect("semver over git://");
    assert_eq!(tag.revision.to_string(), format!("v1.0.0@sha1:{first}"));

    repo.write("deploy/app.yaml", "kind: ConfigMap\ndata: {}\n");
    let second = repo.commit("second");
    let polled = source.resolve(&Reference::Default).await.expect("poll");
    assert_eq!(polled.to_string(), format!("main@sha1:{second}"));

    drop(daemon);
    let err = source
        .resolve(&Reference::Default)
        .await
        .expect_err("the server is gone");
    let message = err.to_string();
    assert!(
        message.contains("git://127.0.0.1:"),
        "names the remote: {message}"
    );
}
