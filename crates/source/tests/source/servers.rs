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

#[tokio::test]
async fn smart_http_from_git_http_backend() {
    let mut repo = GitFixture::new();
    repo.write("deploy/app.yaml", "kind: ConfigMap\n");
    let first = repo.commit("first");
    let server = converge_source::testing::GitHttpServer::serve(&repo, None);
    let source = GitSource::new(server.url()).expect("source");
    let snapshot = source
        .fetch(&Reference::Default)
        .await
        .expect("fetch over smart HTTP");
    assert_eq!(snapshot.revision.to_string(), format!("main@sha1:{first}"));
    assert_eq!(
        snapshot.tree.read("deploy/app.yaml").expect("read"),
        b"kind: ConfigMap\n"
    );
}

#[tokio::test]
async fn smart_http_credentials_are_never_sent_in_clear_text() {
    let mut repo = GitFixture::new();
    repo.write("deploy/app.yaml", "kind: ConfigMap\n");
    repo.commit("first");
    let server = converge_source::testing::GitHttpServer::serve(&repo, Some(("ci", "s3cret")));

    // Without credentials the server's 401 is the error; no helper or prompt is asked.
    let anonymous = GitSource::new(server.url()).expect("source");
    let err = anonymous
        .resolve(&Reference::Default)
        .await
        .expect_err("the server wants credentials");
    assert!(err.to_string().contains(server.url()), "{err}");

    // Over plain http the credentials stay home: HTTPS is needed to send them.
    let source = GitSource::with_options(
        server.url(),
        GitOptions::default().with_basic_auth("ci", "s3cret"),
    )
    .expect("source");
    let err = source
        .resolve(&Reference::Default)
        .await
        .expect_err("no basic auth over http");
    let message = err.to_string();
    assert!(message.contains("clear text"), "{message}");
    assert!(!message.contains("s3cret") && !format!("{source:?}").contains("s3cret"));
}
