use converge_source::{Error, LocalDir, Reference, Source};

#[tokio::test]
async fn local_dir_revision_is_its_content_digest() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.yaml"), "a: 1\n").expect("write");
    let source = LocalDir::new(dir.path());
    let first = source.fetch(&Reference::Default).await.expect("fetch");
    assert_eq!(
        first.revision,
        source.resolve(&Reference::Default).await.expect("resolve")
    );
    assert_eq!(first.revision.id(), first.digest("").expect("digest"));
    assert!(first.commit.is_none());

    std::fs::write(dir.path().join("a.yaml"), "a: 2\n").expect("write");
    let second = source.resolve(&Reference::Default).await.expect("resolve");
    assert_ne!(
        first.revision, second,
        "a change of content is a new revision"
    );
}

#[tokio::test]
async fn local_dir_refuses_git_references_and_missing_dirs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = LocalDir::new(dir.path());
    let err = source
        .fetch(&Reference::Branch("main".into()))
        .await
        .expect_err("unsupported");
    assert!(
        matches!(
            err,
            Error::Unsupported {
                implementation: "LocalDir",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.to_string(), "LocalDir does not support branch main");

    let missing = LocalDir::new(dir.path().join("nope"));
    let err = missing
        .fetch(&Reference::Default)
        .await
        .expect_err("missing");
    assert!(err.to_string().contains("nope"), "{err}");
}
