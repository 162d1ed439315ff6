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

#[tokio::test]
async fn a_server_dying_mid_fetch_is_an_error_and_leaves_the_cache_usable() {
    let mut repo = GitFixture::new();
    repo.write("deploy/app.yaml", "kind: ConfigMap\n");
    // Content large enough that half a pack is a real break.
    let blob: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    repo.write("deploy/big.txt", &blob);
    let first = repo.commit("first");
    let cache = tempfile::tempdir().expect("tempdir");
    let options = || GitOptions::default().with_cache_dir(cache.path());

    let dying = converge_source::testing::GitHttpServer::serve_breaking_off(&repo);
    let source = GitSource::with_options(dying.url(), options()).expect("source");
    let err = source
        .fetch(&Reference::Default)
        .await
        .expect_err("half a pack is no snapshot");
    assert!(err.to_string().contains(dying.url()), "{err}");
    // Resolving needs no pack: it still works.
    let resolved = source
        .resolve(&Reference::Default)
        .await
        .expect("ref listing");
    assert_eq!(resolved.commit(), Some(first.as_str()));

    // The same cache, a healthy server: the fetch completes.
    let healthy = converge_source::testing::GitHttpServer::serve(&repo, None);
    let again = GitSource::with_options(healthy.url(), options()).expect("source");
    let snapshot = again.fetch(&Reference::Default).await.expect("fetch");
    assert_eq!(snapshot.revision.commit(), Some(first.as_str()));
    assert_eq!(
        snapshot.tree.read("deploy/big.txt").expect("read"),
        blob.as_bytes()
    );
}
