//! GitSource against real servers on 127.0.0.1.

use converge_source::testing::{
    GitDaemon, GitFixture, GitHttpServer, GitSshServer, HttpAuth, SshKey,
};
use converge_source::{GitOptions, GitSource, Reference, Source, SshAuth};

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

/// Whether the SSH tests can run: sshd is installed (required when `CI=true`).
fn sshd_available() -> bool {
    if GitSshServer::available() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "sshd is required when CI=true"
    );
    eprintln!("*** SKIPPED: no sshd (package openssh-server) ***");
    false
}

fn fixture() -> (GitFixture, String) {
    let mut repo = GitFixture::new();
    repo.write("deploy/app.yaml", "kind: ConfigMap\n");
    let first = repo.commit("first");
    (repo, first)
}

#[tokio::test]
async fn https_with_a_private_ca_and_basic_auth() {
    let (repo, first) = fixture();
    let server = GitHttpServer::serve_https(&repo, Some(HttpAuth::Basic("ci", "s3cret")));
    let ca = server.ca_certificate().expect("a CA").to_owned();

    let source = GitSource::with_options(
        server.url(),
        GitOptions::default()
            .with_ca_certificates(ca.clone())
            .with_basic_auth("ci", "s3cret"),
    )
    .expect("source");
    let snapshot = source
        .fetch(&Reference::Default)
        .await
        .expect("fetch over HTTPS with basic auth");
    assert_eq!(snapshot.revision.to_string(), format!("main@sha1:{first}"));
    assert_eq!(
        snapshot.tree.read("deploy/app.yaml").expect("read"),
        b"kind: ConfigMap\n"
    );

    // The server's CA is not among the system's roots.
    let untrusted = GitSource::with_options(
        server.url(),
        GitOptions::default().with_basic_auth("ci", "s3cret"),
    )
    .expect("source");
    let err = untrusted
        .resolve(&Reference::Default)
        .await
        .expect_err("an unknown CA is refused");
    let message = err.to_string();
    assert!(message.contains(server.url()), "{message}");
    assert!(message.to_lowercase().contains("certificate"), "{message}");

    let wrong = GitSource::with_options(
        server.url(),
        GitOptions::default()
            .with_ca_certificates(ca)
            .with_basic_auth("ci", "wr0ng-s3cret"),
    )
    .expect("source");
    let err = wrong
        .fetch(&Reference::Default)
        .await
        .expect_err("wrong credentials");
    let message = err.to_string();
    assert!(message.contains(server.url()), "{message}");
    assert!(!message.contains("wr0ng"), "{message}");
    assert!(!format!("{wrong:?}").contains("wr0ng"));
}

#[tokio::test]
async fn https_with_a_bearer_token() {
    let (repo, first) = fixture();
    let server = GitHttpServer::serve_https(&repo, Some(HttpAuth::Bearer("ghs_t0ken")));
    let ca = server.ca_certificate().expect("a CA").to_owned();
    let cache = tempfile::tempdir().expect("tempdir");
    let options = || {
        GitOptions::default()
            .with_cache_dir(cache.path())
            .with_ca_certificates(ca.clone())
    };

    let source = GitSource::with_options(server.url(), options().with_bearer_token("ghs_t0ken"))
        .expect("source");
    let snapshot = source
        .fetch(&Reference::Branch("main".into()))
        .await
        .expect("fetch with a bearer token");
    assert_eq!(snapshot.revision.to_string(), format!("main@sha1:{first}"));
    assert!(!format!("{source:?}").contains("t0ken"));

    for options in [options(), options().with_bearer_token("ghs_wr0ng")] {
        let refused = GitSource::with_options(server.url(), options).expect("source");
        let err = refused
            .fetch(&Reference::Branch("main".into()))
            .await
            .expect_err("no or a wrong token");
        let message = err.to_string();
        assert!(message.contains(server.url()), "{message}");
        assert!(message.contains("HTTP 401"), "{message}");
        assert!(
            !message.contains("t0ken") && !message.contains("wr0ng"),
            "{message}"
        );
    }
    // The refused attempts left the shared cache as it was.
    let again = source
        .fetch(&Reference::Branch("main".into()))
        .await
        .expect("the cache is still usable");
    assert_eq!(again.revision, snapshot.revision);
    assert_eq!(
        again.tree.read("deploy/app.yaml").expect("read"),
        b"kind: ConfigMap\n"
    );
}

#[tokio::test]
async fn a_bad_ca_bundle_is_a_configuration_error() {
    let err = GitSource::with_options(
        "https://localhost:1/repo.git",
        GitOptions::default().with_ca_certificates("not a certificate"),
    )
    .expect_err("no certificate in the bundle");
    assert!(err.to_string().contains("CA certificates"), "{err}");
}

#[tokio::test]
async fn ssh_with_a_key_and_known_hosts() {
    if !sshd_available() {
        return;
    }
    let (mut repo, first) = fixture();
    let key = SshKey::generate(None);
    let server = GitSshServer::serve(&repo, &[&key.public_key]);
    let cache = tempfile::tempdir().expect("tempdir");
    let auth = SshAuth::new(key.private_key.clone()).with_known_hosts(server.known_hosts());
    let source = GitSource::with_options(
        server.url(),
        GitOptions::default()
            .with_cache_dir(cache.path())
            .with_ssh(auth),
    )
    .expect("source");
    let snapshot = source
        .fetch(&Reference::Default)
        .await
        .expect("fetch over SSH");
    assert_eq!(snapshot.revision.to_string(), format!("main@sha1:{first}"));
    assert_eq!(
        snapshot.tree.read("deploy/app.yaml").expect("read"),
        b"kind: ConfigMap\n"
    );
    assert!(!format!("{source:?}").contains("PRIVATE KEY"));

    repo.write("deploy/app.yaml", "kind: ConfigMap\ndata: {}\n");
    let second = repo.commit("second");
    let polled = source.resolve(&Reference::Default).await.expect("poll");
    assert_eq!(polled.to_string(), format!("main@sha1:{second}"));

    // A key the server does not know.
    let stranger = SshKey::generate(None);
    let refused = GitSource::with_options(
        server.url(),
        GitOptions::default()
            .with_ssh(SshAuth::new(stranger.private_key).with_known_hosts(server.known_hosts())),
    )
    .expect("source");
    let err = refused
        .resolve(&Reference::Default)
        .await
        .expect_err("an unknown key is refused");
    let message = err.to_string();
    assert!(message.contains("Permission denied"), "{message}");
    assert!(!message.contains("PRIVATE KEY"), "{message}");
}

#[tokio::test]
async fn ssh_refuses_a_host_whose_key_is_not_known() {
    if !sshd_available() {
        return;
    }
    let (repo, _) = fixture();
    let key = SshKey::generate(None);
    let server = GitSshServer::serve(&repo, &[&key.public_key]);
    let impostor = SshKey::generate(None);
    let (kind, public) = impostor
        .public_key
        .split_once(' ')
        .expect("a public key line");
    let port = server
        .url()
        .split(':')
        .nth(2)
        .and_then(|rest| rest.split('/').next());
    let wrong_hosts = format!(
        "[127.0.0.1]:{} {kind} {}\n",
        port.expect("a port"),
        public.split(' ').next().expect("a key")
    );
    let cache = tempfile::tempdir().expect("tempdir");
    for known_hosts in [wrong_hosts, String::new()] {
        let source = GitSource::with_options(
            server.url(),
            GitOptions::default()
                .with_cache_dir(cache.path())
                .with_ssh(SshAuth::new(key.private_key.clone()).with_known_hosts(known_hosts)),
        )
        .expect("source");
        let err = source
            .fetch(&Reference::Default)
            .await
            .expect_err("the host key is not trusted");
        let message = err.to_string();
        assert!(
            message.contains("Host key verification failed"),
            "{message}"
        );
        assert!(message.contains("127.0.0.1"), "{message}");
    }
}

#[tokio::test]
async fn ssh_with_an_encrypted_key() {
    if !sshd_available() {
        return;
    }
    let (repo, first) = fixture();
    let key = SshKey::generate(Some("correct horse"));
    let server = GitSshServer::serve(&repo, &[&key.public_key]);
    let auth = || SshAuth::new(key.private_key.clone()).with_known_hosts(server.known_hosts());

    let source = GitSource::with_options(
        server.url(),
        GitOptions::default().with_ssh(auth().with_passphrase("correct horse")),
    )
    .expect("source");
    let snapshot = source
        .fetch(&Reference::Default)
        .await
        .expect("fetch with an encrypted key");
    assert_eq!(snapshot.revision.to_string(), format!("main@sha1:{first}"));
    assert!(!format!("{source:?}").contains("horse"));

    for auth in [auth(), auth().with_passphrase("battery staple")] {
        let refused = GitSource::with_options(server.url(), GitOptions::default().with_ssh(auth))
            .expect("source");
        let err = refused
            .resolve(&Reference::Default)
            .await
            .expect_err("no or a wrong passphrase");
        let message = err.to_string();
        assert!(message.contains("127.0.0.1"), "{message}");
        assert!(
            !message.contains("horse") && !message.contains("staple"),
            "{message}"
        );
    }
}
