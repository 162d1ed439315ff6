use converge_core::{DirTree, EntryKind};
use converge_source::{Error, GitOptions, GitSource, Reference, Source, tree_digest};

use converge_source::testing::GitFixture as Repo;

fn fixture() -> (Repo, String, String) {
    let mut repo = Repo::new();
    repo.write("deploy/base/app.yaml", "kind: ConfigMap\n")
        .write("deploy/prod/patch.yaml", "replicas: 3\n")
        .write("README.md", "# fleet\n");
    let first = repo.commit("first");
    repo.git(&["tag", "v1.0.0"]);
    repo.git(&["tag", "-a", "v1.0.1", "-m", "annotated release"]);
    repo.write("deploy/base/app.yaml", "kind: ConfigMap\ndata: {}\n");
    let second = repo.commit("second\n\nwith a body");
    (repo, first, second)
}

#[tokio::test]
async fn resolves_branches_tags_commits_and_the_default_branch() {
    let (repo, first, second) = fixture();
    let source = GitSource::new(repo.url()).expect("source");

    let head = source.fetch(&Reference::Default).await.expect("default");
    assert_eq!(head.revision.to_string(), format!("main@sha1:{second}"));

    let branch = source
        .fetch(&Reference::Branch("main".into()))
        .await
        .expect("branch");
    assert_eq!(branch.revision.to_string(), format!("main@sha1:{second}"));
    let commit = branch.commit.as_ref().expect("commit info");
    assert_eq!(commit.author, "Ada Fixture <ada@example.test>");
    assert_eq!(commit.message, "second\n\nwith a body\n");
    assert_eq!(commit.time, 1_767_225_720);

    let tag = source
        .fetch(&Reference::Tag("v1.0.0".into()))
        .await
        .expect("tag");
    assert_eq!(tag.revision.to_string(), format!("v1.0.0@sha1:{first}"));
    let annotated = source
        .fetch(&Reference::Tag("v1.0.1".into()))
        .await
        .expect("annotated");
    assert_eq!(
        annotated.revision.commit(),
        Some(first.as_str()),
        "annotated tags peel to their commit"
    );

    let by_id = source
        .fetch(&Reference::Commit(first.clone()))
        .await
        .expect("commit");
    assert_eq!(by_id.revision.to_string(), format!("sha1:{first}"));
    let short = source
        .fetch(&Reference::Commit(first[..10].to_owned()))
        .await
        .expect("short id");
    assert_eq!(short.revision.commit(), Some(first.as_str()));

    for (name, want) in [("main", &second), ("v1.0.0", &first), (&first[..], &first)] {
        let any = source
            .resolve(&Reference::Any(name.to_owned()))
            .await
            .expect("any");
        assert_eq!(any.commit(), Some(want.as_str()), "{name}");
    }
    assert_eq!(
        source
            .fetch(&Reference::Tag("v1.0.0".into()))
            .await
            .expect("tag")
            .tree
            .read("deploy/base/app.yaml")
            .expect("read"),
        b"kind: ConfigMap\n",
        "a tag's tree is the tagged commit's tree"
    );
}

#[tokio::test]
async fn reads_trees_from_the_object_database() {
    let (repo, _, second) = fixture();
    repo.write("deploy/link.yaml", "");
    std::fs::remove_file(repo.path().join("deploy/link.yaml")).expect("rm");
    std::os::unix::fs::symlink("base/app.yaml", repo.path().join("deploy/link.yaml"))
        .expect("symlink");
    std::os::unix::fs::symlink("/etc/passwd", repo.path().join("deploy/escape.yaml"))
        .expect("symlink");
    let mut repo = repo;
    repo.commit("links");

    let source = GitSource::new(repo.url()).expect("source");
    let snap = source
        .fetch(&Reference::Branch("main".into()))
        .await
        .expect("fetch");
    assert_ne!(snap.revision.commit(), Some(second.as_str()));
    let tree = snap.tree.as_ref();
    let names: Vec<_> = tree
        .list("deploy")
        .expect("list")
        .into_iter()
        .map(|e| (e.name, e.kind))
        .collect();
    assert_eq!(
        names,
        [
            ("base".to_owned(), EntryKind::Dir),
            ("link.yaml".to_owned(), EntryKind::File),
            ("prod".to_owned(), EntryKind::Dir),
        ],
        "links out of the tree are left out"
    );
    assert_eq!(
        tree.read("deploy/link.yaml").expect("link"),
        tree.read("deploy/base/app.yaml").expect("file")
    );
    assert_eq!(
        tree.kind("deploy/prod/../base").expect("kind"),
        Some(EntryKind::Dir)
    );
    assert!(matches!(
        tree.read("deploy/nope.yaml"),
        Err(converge_core::Error::NotFound { .. })
    ));
    assert!(matches!(
        tree.read("deploy"),
        Err(converge_core::Error::InvalidPath { .. })
    ));
    assert!(matches!(
        tree.read("../outside"),
        Err(converge_core::Error::InvalidPath { .. })
    ));

    // The digest is the same as a checkout's: it depends on names and contents only.
    std::fs::remove_file(repo.path().join("deploy/escape.yaml")).expect("rm");
    let checkout = DirTree::new(repo.path()).expect("tree");
    assert_eq!(
        snap.digest("deploy/base").expect("digest"),
        tree_digest(&checkout, "deploy/base").expect("digest")
    );
    assert_ne!(
        snap.digest("deploy/base").expect("a"),
        snap.digest("deploy/prod").expect("b")
    );
}

#[tokio::test]
async fn a_new_commit_is_seen_and_a_persistent_cache_is_reused() {
    let (mut repo, _, second) = fixture();
    let cache = tempfile::tempdir().expect("cache");
    let options = GitOptions::default().with_cache_dir(cache.path());
    let source = GitSource::with_options(repo.url(), options.clone()).expect("source");
    let main = Reference::Branch("main".into());
    assert_eq!(
        source.resolve(&main).await.expect("resolve").commit(),
        Some(second.as_str())
    );
    source.fetch(&main).await.expect("fetch");

    repo.write("deploy/new.yaml", "kind: Service\n");
    let third = repo.commit("third");
    assert_eq!(
        source.resolve(&main).await.expect("resolve").commit(),
        Some(third.as_str())
    );
    let snap = source.fetch(&main).await.expect("fetch");
    assert_eq!(
        snap.tree.read("deploy/new.yaml").expect("new file"),
        b"kind: Service\n"
    );

    // A second source on the same cache finds the objects already there.
    let again = GitSource::with_options(repo.url(), options).expect("source");
    assert_eq!(again.cache_path(), source.cache_path());
    assert_eq!(
        again.fetch(&main).await.expect("fetch").revision,
        snap.revision
    );

    // A corrupt cache is rebuilt.
    std::fs::write(source.cache_path().join("HEAD"), "garbage").expect("corrupt");
    std::fs::remove_dir_all(source.cache_path().join("refs")).expect("corrupt");
    assert_eq!(
        again.fetch(&main).await.expect("rebuilt").revision,
        snap.revision
    );
}

#[tokio::test]
async fn full_ref_names_are_fetched_on_demand() {
    let (mut repo, _, _) = fixture();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("feature.yaml", "x: 1\n");
    let feature = repo.commit("feature");
    repo.git(&["update-ref", "refs/pull/42/head", &feature]);
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["branch", "-D", "feature"]);

    let source = GitSource::new(repo.url()).expect("source");
    let snap = source
        .fetch(&Reference::Any("refs/pull/42/head".into()))
        .await
        .expect("pull ref");
    assert_eq!(
        snap.revision.to_string(),
        format!("refs/pull/42/head@sha1:{feature}")
    );
    assert_eq!(snap.tree.read("feature.yaml").expect("read"), b"x: 1\n");
}

#[tokio::test]
async fn unknown_references_name_the_ref_the_remote_and_near_names() {
    let (repo, _, _) = fixture();
    repo.git(&["branch", "staging"]);
    let source = GitSource::new(repo.path().to_str().expect("utf-8")).expect("plain path");
    assert!(source.url().starts_with("file:///"));

    let err = source
        .fetch(&Reference::Branch("mian".into()))
        .await
        .expect_err("unknown");
    let Error::RefNotFound { candidates, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(candidates, &["main"]);
    assert_eq!(
        err.to_string(),
        format!(
            "branch mian not found in {} (did you mean main?)",
            source.url()
        )
    );

    let err = source
        .resolve(&Reference::Tag("v9".into()))
        .await
        .expect_err("unknown tag");
    assert!(
        err.to_string().starts_with("tag v9 not found in file://"),
        "{err}"
    );

    let err = source
        .fetch(&Reference::Commit("0123456789abcdef".into()))
        .await
        .expect_err("unknown commit");
    assert!(
        err.to_string()
            .starts_with("commit 0123456789abcdef not found"),
        "{err}"
    );

    let err = source
        .fetch(&Reference::Commit("not-hex".into()))
        .await
        .expect_err("bad id");
    assert!(err.to_string().contains("not a hex commit id"), "{err}");

    let err = source
        .fetch(&Reference::Any("nothing-here".into()))
        .await
        .expect_err("unknown name");
    assert!(
        err.to_string().starts_with("nothing-here not found"),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_repository_is_a_git_error_naming_the_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}/absent.git", dir.path().display());
    let source = GitSource::new(url.clone()).expect("source");
    let err = source.fetch(&Reference::Default).await.expect_err("absent");
    assert!(matches!(err, Error::Git { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!("git: {url}: ")),
        "{err}"
    );
}
