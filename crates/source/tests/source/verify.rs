//! Signature verification: SSH and OpenPGP signatures on commits and annotated tags.

use converge_source::testing::{GitFixture, GpgKey, SshKey};
use converge_source::{Error, GitOptions, GitSource, Reference, Source, Verification, VerifyMode};

fn source(repo: &GitFixture, verification: Verification) -> GitSource {
    GitSource::with_options(
        repo.url(),
        GitOptions::default().with_verification(verification),
    )
    .expect("source")
}

fn refusal(err: Error) -> (String, String) {
    match err {
        Error::Verification { object, reason, .. } => (object, reason),
        other => panic!("expected a verification error, got {other}"),
    }
}

#[tokio::test]
async fn ssh_signed_commits_are_accepted_and_others_refused() {
    let trusted = SshKey::generate(None);
    let stranger = SshKey::generate(None);
    let mut repo = GitFixture::new();
    repo.write("app.yaml", "kind: ConfigMap\n");
    let signed = repo.commit_signed("signed", &trusted.git_config());
    let source = source(
        &repo,
        Verification::new(VerifyMode::Head).with_ssh_key(&trusted.public_key),
    );
    let main = Reference::Branch("main".into());
    let snapshot = source.fetch(&main).await.expect("a trusted signature");
    assert_eq!(snapshot.revision.to_string(), format!("main@sha1:{signed}"));

    repo.write("app.yaml", "kind: ConfigMap\ndata: {}\n");
    let unsigned = repo.commit("unsigned");
    let err = source.fetch(&main).await.expect_err("an unsigned commit");
    let message = err.to_string();
    assert!(message.contains("branch main"), "{message}");
    let (object, reason) = refusal(err);
    assert_eq!(object, format!("commit {unsigned}"));
    assert_eq!(reason, "it is not signed");
    // Polling still answers: verification guards snapshots, not ref listings.
    let polled = source.resolve(&main).await.expect("resolve");
    assert_eq!(polled.to_string(), format!("main@sha1:{unsigned}"));

    repo.write("app.yaml", "kind: ConfigMap\ndata: {a: b}\n");
    let foreign = repo.commit_signed("signed by a stranger", &stranger.git_config());
    let (object, reason) = refusal(source.fetch(&main).await.expect_err("an untrusted key"));
    assert_eq!(object, format!("commit {foreign}"));
    assert!(reason.contains("not from a trusted key"), "{reason}");

    // A commit asked for by id is verified the same way.
    let by_id = source
        .fetch(&Reference::Commit(signed.clone()))
        .await
        .expect("the signed commit by id");
    assert_eq!(by_id.revision.to_string(), format!("sha1:{signed}"));
}

#[tokio::test]
async fn gpg_signed_commits_are_accepted_and_others_refused() {
    let trusted = GpgKey::generate();
    let stranger = GpgKey::generate();
    let ssh = SshKey::generate(None);
    let mut repo = GitFixture::new();
    repo.write("app.yaml", "kind: ConfigMap\n");
    let signed = repo.commit_signed("signed", &trusted.git_config());
    let source = source(
        &repo,
        Verification::new(VerifyMode::Head).with_gpg_keys(&trusted.public_key),
    );
    let main = Reference::Branch("main".into());
    let snapshot = source.fetch(&main).await.expect("a trusted signature");
    assert_eq!(snapshot.revision.to_string(), format!("main@sha1:{signed}"));

    repo.write("app.yaml", "kind: ConfigMap\ndata: {}\n");
    let foreign = repo.commit_signed("signed by a stranger", &stranger.git_config());
    let (object, reason) = refusal(source.fetch(&main).await.expect_err("an untrusted key"));
    assert_eq!(object, format!("commit {foreign}"));
    assert!(reason.contains("not from a trusted key"), "{reason}");

    repo.write("app.yaml", "kind: ConfigMap\ndata: {c: d}\n");
    repo.commit_signed("signed with ssh", &ssh.git_config());
    let (_, reason) = refusal(
        source
            .fetch(&main)
            .await
            .expect_err("no SSH key is trusted"),
    );
    assert_eq!(reason, "it is signed with SSH and no SSH key is trusted");
}

#[tokio::test]
async fn a_tampered_signature_does_not_verify() {
    let trusted = SshKey::generate(None);
    let mut repo = GitFixture::new();
    repo.write("app.yaml", "kind: ConfigMap\n");
    repo.commit_signed("signed", &trusted.git_config());
    // The same signature over different content: rewrite the commit's message.
    let raw = repo.git(&["cat-file", "commit", "HEAD"]);
    let forged = raw.replace("signed", "forged") + "\n";
    std::fs::write(repo.path().join("forged"), forged).expect("write");
    let id = repo.git(&["hash-object", "-t", "commit", "-w", "forged"]);
    repo.git(&["update-ref", "refs/heads/main", &id]);

    let source = source(
        &repo,
        Verification::new(VerifyMode::Head).with_ssh_key(&trusted.public_key),
    );
    let (object, reason) = refusal(
        source
            .fetch(&Reference::Branch("main".into()))
            .await
            .expect_err("a signature over other content"),
    );
    assert_eq!(object, format!("commit {id}"));
    assert!(reason.contains("does not match"), "{reason}");
}

#[tokio::test]
async fn tags_are_verified_in_tag_modes() {
    let trusted = SshKey::generate(None);
    let mut repo = GitFixture::new();
    repo.write("app.yaml", "kind: ConfigMap\n");
    repo.commit("unsigned commit");
    repo.tag_annotated("v1.0.0", &trusted.git_config());
    repo.tag_annotated("v1.1.0", &[]);
    repo.git(&["tag", "v1.2.0"]);
    let verification = |mode| Verification::new(mode).with_ssh_key(trusted.public_key.clone());

    let tag_mode = source(&repo, verification(VerifyMode::Tag));
    tag_mode
        .fetch(&Reference::Tag("v1.0.0".into()))
        .await
        .expect("a signed tag");
    let (object, reason) = refusal(
        tag_mode
            .fetch(&Reference::Tag("v1.1.0".into()))
            .await
            .expect_err("an unsigned tag"),
    );
    assert!(object.starts_with("tag object "), "{object}");
    assert_eq!(reason, "it is not signed");
    for lightweight in [
        Reference::Tag("v1.2.0".into()),
        Reference::Branch("main".into()),
    ] {
        let (_, reason) = refusal(
            tag_mode
                .fetch(&lightweight)
                .await
                .expect_err("no annotated tag"),
        );
        assert!(reason.contains("needs an annotated tag"), "{reason}");
    }
    // The highest tag in a range is a tag too.
    let semver = tag_mode
        .fetch(&Reference::Semver("~1.0".into()))
        .await
        .expect("a signed tag by range");
    assert!(semver.revision.to_string().starts_with("v1.0.0@"));

    // TagAndHead: the signed tag is not enough when its commit is unsigned.
    let both = source(&repo, verification(VerifyMode::TagAndHead));
    let (object, _) = refusal(
        both.fetch(&Reference::Tag("v1.0.0".into()))
            .await
            .expect_err("an unsigned commit under a signed tag"),
    );
    assert!(object.starts_with("commit "), "{object}");
}

#[test]
fn verification_needs_usable_keys() {
    for (verification, expected) in [
        (Verification::new(VerifyMode::Head), "at least one trusted"),
        (
            Verification::new(VerifyMode::Head).with_ssh_key("not-a-key"),
            "trusted SSH key 1",
        ),
        (
            Verification::new(VerifyMode::Head)
                .with_gpg_keys("-----BEGIN PGP PUBLIC KEY BLOCK-----\ngarbage\n"),
            "OpenPGP keys",
        ),
    ] {
        let err = GitSource::with_options(
            "file:///nowhere",
            GitOptions::default().with_verification(verification),
        )
        .expect_err("unusable keys");
        assert!(err.to_string().contains(expected), "{err}");
    }
}
