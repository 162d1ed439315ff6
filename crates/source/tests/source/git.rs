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

#[tokio::test]
async fn credentials_never_show_in_debug_or_url() {
    let source =
        GitSource::new("https://alice:s3cr3t@git.example.invalid/fleet.git").expect("source");
    assert_eq!(source.url(), "https://git.example.invalid/fleet.git");
    let shown = format!("{source:?}");
    assert!(
        !shown.contains("s3cr3t") && !shown.contains("alice"),
        "{shown}"
    );
    let err = source
        .fetch(&Reference::Default)
        .await
        .expect_err("no such host here");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
}

#[tokio::test]
async fn the_default_branch_is_whatever_head_points_at() {
    let (repo, _, _) = fixture();
    repo.git(&["branch", "-m", "main", "trunk"]);
    let source = GitSource::new(repo.url()).expect("source");
    let snap = source.fetch(&Reference::Default).await.expect("default");
    assert!(
        snap.revision.to_string().starts_with("trunk@sha1:"),
        "{}",
        snap.revision
    );

    // A detached HEAD on a commit no branch holds: fetched and named HEAD.
    let mut repo = repo;
    repo.git(&["checkout", "-q", "--detach"]);
    repo.write("detached.yaml", "x: 1\n");
    let detached = repo.commit("on a detached HEAD");
    let revision = source.resolve(&Reference::Default).await.expect("resolve");
    assert_eq!(revision.to_string(), format!("HEAD@sha1:{detached}"));
    let snap = source.fetch(&Reference::Default).await.expect("fetch");
    assert_eq!(snap.revision, revision, "resolve and fetch agree");
    assert_eq!(snap.tree.read("detached.yaml").expect("read"), b"x: 1\n");
    let any = source
        .fetch(&Reference::Any("HEAD".into()))
        .await
        .expect("HEAD by name");
    assert_eq!(any.revision.commit(), Some(detached.as_str()));
}

#[tokio::test]
async fn names_resolve_in_git_rev_parse_order() {
    let (mut repo, first, second) = fixture();
    repo.git(&["branch", "v1", &second]);
    repo.git(&["tag", "v1", &first]);
    repo.git(&["update-ref", "refs/remotes/origin/main", &first]);
    repo.write("later.yaml", "x: 1\n");
    let _ = repo.commit("later");
    let source = GitSource::new(repo.url()).expect("source");

    // git rev-parse takes the tag before the branch of the same name.
    let v1 = source
        .resolve(&Reference::Any("v1".into()))
        .await
        .expect("v1");
    assert_eq!(v1.commit(), Some(first.as_str()));
    assert_eq!(
        repo.git(&["rev-parse", "v1^{commit}"]),
        first,
        "as git does"
    );
    let branch = source
        .fetch(&Reference::Branch("v1".into()))
        .await
        .expect("branch v1");
    assert_eq!(branch.revision.commit(), Some(second.as_str()));

    // Remote-tracking branches, as a pull request's checkout has them.
    let tracking = source
        .fetch(&Reference::Any("origin/main".into()))
        .await
        .expect("origin/main");
    assert_eq!(
        tracking.revision.to_string(),
        format!("origin/main@sha1:{first}")
    );
}

#[tokio::test]
async fn a_tag_of_a_tree_is_refused_by_name() {
    let (repo, _, _) = fixture();
    repo.git(&["tag", "tree-tag", "HEAD^{tree}"]);
    let source = GitSource::new(repo.url()).expect("source");
    let err = source
        .fetch(&Reference::Tag("tree-tag".into()))
        .await
        .expect_err("a tree");
    assert!(matches!(err, Error::NotACommit { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "tag tree-tag in {} points at a tree, not a commit",
            source.url()
        )
    );
}

#[tokio::test]
async fn a_half_created_cache_is_rebuilt_and_a_known_commit_moves_nothing() {
    let (repo, _, second) = fixture();
    let cache = tempfile::tempdir().expect("cache");
    let source = GitSource::with_options(
        repo.url(),
        GitOptions::default().with_cache_dir(cache.path()),
    )
    .expect("source");
    std::fs::create_dir_all(source.cache_path().join("objects/junk")).expect("half-created");
    let main = Reference::Branch("main".into());
    let snap = source.fetch(&main).await.expect("rebuilt");
    assert_eq!(snap.revision.commit(), Some(second.as_str()));

    let packs = || {
        let mut names: Vec<_> = std::fs::read_dir(source.cache_path().join("objects/pack"))
            .expect("packs")
            .map(|e| e.expect("entry").file_name())
            .collect();
        names.sort();
        names
    };
    let before = packs();
    assert!(!before.is_empty());
    source.fetch(&main).await.expect("again");
    source
        .fetch(&Reference::Commit(second.clone()))
        .await
        .expect("by id");
    assert_eq!(
        packs(),
        before,
        "a commit already in the cache moves no objects"
    );
}

#[tokio::test]
async fn directory_links_read_as_in_a_checkout() {
    let (mut repo, _, _) = fixture();
    std::os::unix::fs::symlink("base", repo.path().join("deploy/current")).expect("symlink");
    std::os::unix::fs::symlink("current", repo.path().join("deploy/chained")).expect("symlink");
    std::os::unix::fs::symlink(".", repo.path().join("deploy/self")).expect("symlink");
    repo.commit("links to directories");
    let source = GitSource::new(repo.url()).expect("source");
    let snap = source.fetch(&Reference::Default).await.expect("fetch");
    let tree = snap.tree.as_ref();
    for link in ["deploy/current", "deploy/chained"] {
        assert_eq!(
            tree.kind(link).expect("kind"),
            Some(EntryKind::Dir),
            "{link}"
        );
        assert_eq!(
            tree.list(link).expect("list"),
            tree.list("deploy/base").expect("list")
        );
        assert_eq!(
            tree.read(&format!("{link}/app.yaml")).expect("read"),
            tree.read("deploy/base/app.yaml").expect("read")
        );
    }
    assert_eq!(
        tree.kind("deploy/self").expect("kind"),
        None,
        "a link to its own parent is left out"
    );
    let checkout = DirTree::new(repo.path()).expect("tree");
    assert_eq!(
        converge_core::walk_files(tree, "deploy").expect("walk"),
        converge_core::walk_files(&checkout, "deploy").expect("walk"),
        "the same files as a checkout"
    );
}

#[tokio::test]
async fn a_semver_range_takes_the_highest_release_tag_in_it() {
    let mut repo = Repo::new();
    let mut ids = std::collections::HashMap::new();
    for (i, tag) in ["v1.2.0", "v1.10.0", "v1.11.0-rc.1", "2.0.0", "nightly"]
        .into_iter()
        .enumerate()
    {
        repo.write("app.yaml", &format!("kind: ConfigMap\n# {i}\n"));
        ids.insert(tag, repo.commit(tag));
        if tag == "v1.10.0" {
            // An annotated tag peels to its commit, like a lightweight one.
            repo.git(&["tag", "-a", tag, "-m", "release"]);
        } else {
            repo.git(&["tag", tag]);
        }
    }
    let source = GitSource::new(repo.url()).expect("source");
    for (range, tag) in [
        (">=1.0.0 <2.0.0", "v1.10.0"),
        ("^1.2", "v1.10.0"),
        ("~1.2", "v1.2.0"),
        (">=1.11.0-0 <2", "v1.11.0-rc.1"),
        ("*", "2.0.0"),
    ] {
        let snapshot = source
            .fetch(&Reference::Semver(range.to_owned()))
            .await
            .unwrap_or_else(|e| panic!("{range}: {e}"));
        assert_eq!(
            snapshot.revision.to_string(),
            format!("{tag}@sha1:{}", ids[tag]),
            "{range}"
        );
    }

    let none = source
        .resolve(&Reference::Semver(">=3".to_owned()))
        .await
        .expect_err("no tag in range");
    assert!(matches!(none, Error::RefNotFound { .. }), "{none:?}");
    let message = none.to_string();
    assert!(
        message.starts_with("a tag in semver range >=3 not found in "),
        "{message}"
    );
    assert!(
        message.contains("2.0.0"),
        "the highest versions are offered: {message}"
    );

    let bad = source
        .resolve(&Reference::Semver(">=1.x.2".to_owned()))
        .await
        .expect_err("invalid range");
    assert_eq!(
        bad.to_string(),
        "invalid reference semver range >=1.x.2: \">=1.x.2\" is not a valid range: 1.x.2: a number after a wildcard"
    );
}

#[tokio::test]
async fn branches_are_listed_by_glob_with_their_head_commits() {
    let mut repo = Repo::new();
    repo.write("app.yaml", "kind: ConfigMap\n");
    let main = repo.commit("main");
    let mut heads = Vec::new();
    for branch in [
        "preview/feature-1",
        "preview/feature-2",
        "preview/team/deep",
        "release-1.4",
    ] {
        repo.git(&["checkout", "-q", "-b", branch, "main"]);
        repo.write("app.yaml", &format!("kind: ConfigMap\n# {branch}\n"));
        heads.push((branch, repo.commit(branch)));
        repo.git(&["checkout", "-q", "main"]);
    }
    let source = GitSource::new(repo.url()).expect("source");
    let listed = |pattern: &'static str| {
        let source = source.clone();
        async move {
            source
                .branches(pattern)
                .await
                .expect("branches")
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        }
    };
    let revision = |branch: &str| {
        let id = &heads.iter().find(|(b, _)| *b == branch).expect("branch").1;
        format!("{branch}@sha1:{id}")
    };
    assert_eq!(
        listed("preview/*").await,
        [revision("preview/feature-1"), revision("preview/feature-2")]
    );
    assert_eq!(listed("preview/**").await.len(), 3);
    assert_eq!(listed("release-?.?").await, [revision("release-1.4")]);
    assert_eq!(listed("main").await, [format!("main@sha1:{main}")]);
    assert!(listed("nothing/*").await.is_empty());

    let dir = tempfile::tempdir().expect("tempdir");
    let err = converge_source::LocalDir::new(dir.path())
        .branches("preview/*")
        .await
        .expect_err("a directory has no branches");
    assert_eq!(
        err.to_string(),
        "LocalDir does not support listing branches (preview/*)"
    );
}

#[tokio::test]
async fn a_snapshot_limited_to_a_sub_path_and_globs_holds_only_those_files() {
    let mut repo = Repo::new();
    for (path, content) in [
        ("apps/web/deploy.yaml", "kind: Deployment\n"),
        ("apps/web/README.md", "# web\n"),
        ("apps/web/test/fixture.yaml", "kind: Fixture\n"),
        ("apps/api/deploy.yaml", "kind: Deployment\n"),
        ("infra/ns.yaml", "kind: Namespace\n"),
    ] {
        repo.write(path, content);
    }
    repo.commit("apps");
    let source = GitSource::new(repo.url()).expect("source");
    let snapshot = source.fetch(&Reference::Default).await.expect("fetch");

    let apps = snapshot
        .limited("apps", &[], &["*.md", "web/test/**"])
        .expect("a directory");
    assert_eq!(apps.revision, snapshot.revision);
    let files = converge_core::walk_all_files(apps.tree.as_ref(), "").expect("walk");
    assert_eq!(files, ["api/deploy.yaml", "web/deploy.yaml"]);
    assert!(apps.tree.read("web/README.md").is_err(), "excluded");
    assert!(
        apps.tree.kind("web/test").expect("kind").is_none(),
        "emptied directory"
    );

    // The view digests as the same files do in a plain directory.
    let plain = tempfile::tempdir().expect("tempdir");
    for file in &files {
        let target = plain.path().join(file);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::write(target, apps.tree.read(file).expect("read")).expect("write");
    }
    assert_eq!(
        apps.digest("").expect("digest"),
        tree_digest(&DirTree::new(plain.path()).expect("dir"), "").expect("digest")
    );

    let only_web = snapshot
        .limited("apps", &["web/**"], &[])
        .expect("a directory");
    assert_eq!(
        converge_core::walk_all_files(only_web.tree.as_ref(), "").expect("walk"),
        ["web/README.md", "web/deploy.yaml", "web/test/fixture.yaml"]
    );
    let err = snapshot
        .limited("infra/ns.yaml", &[], &[])
        .expect_err("a file");
    assert!(err.to_string().contains("infra/ns.yaml"), "{err}");
    assert!(snapshot.limited("nowhere", &[], &[]).is_err());
}

#[tokio::test]
async fn a_corrupt_cache_is_rebuilt_from_the_remote() {
    let (repo, _first, second) = fixture();
    let cache = tempfile::tempdir().expect("tempdir");
    let options = || GitOptions::default().with_cache_dir(cache.path());
    let source = GitSource::with_options(repo.url(), options()).expect("source");
    source
        .fetch(&Reference::Default)
        .await
        .expect("first fetch");

    // Garble every object file the fetch wrote, keeping the names.
    let mut garbled = 0;
    let mut dirs = vec![source.cache_path().join("objects")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("objects") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_none_or(|e| e != "idx") {
                let len = std::fs::metadata(&path).expect("metadata").len() as usize;
                std::fs::write(&path, vec![0x5a; len]).expect("garble");
                garbled += 1;
            }
        }
    }
    assert!(garbled > 0, "the fetch wrote objects");

    let again = GitSource::with_options(repo.url(), options()).expect("source");
    let snapshot = again
        .fetch(&Reference::Default)
        .await
        .expect("a corrupt cache is rebuilt");
    assert_eq!(snapshot.revision.commit(), Some(second.as_str()));
    assert_eq!(
        snapshot.tree.read("deploy/base/app.yaml").expect("read"),
        b"kind: ConfigMap\ndata: {}\n"
    );
}

#[tokio::test]
async fn a_blob_the_cache_garbled_is_an_error_and_the_next_fetch_rebuilds() {
    let (repo, _first, second) = fixture();
    let cache = tempfile::tempdir().expect("tempdir");
    let source = GitSource::with_options(
        repo.url(),
        GitOptions::default().with_cache_dir(cache.path()),
    )
    .expect("source");
    let snapshot = source
        .fetch(&Reference::Default)
        .await
        .expect("first fetch");

    // Garble the compressed data of one blob inside the cache's pack, where only reading
    // that file notices.
    let blob = repo.git(&["rev-parse", "HEAD:deploy/base/app.yaml"]);
    let pack_dir = source.cache_path().join("objects/pack");
    let mut garbled = false;
    for entry in std::fs::read_dir(&pack_dir).expect("packs") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "idx") {
            continue;
        }
        let listing = repo.git(&["verify-pack", "-v", path.to_str().expect("utf-8")]);
        for line in listing.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.first() == Some(&blob.as_str()) {
                let (in_pack, offset): (u64, u64) = (
                    fields[3].parse().expect("size in pack"),
                    fields[4].parse().expect("offset"),
                );
                use std::io::{Seek, SeekFrom, Write};
                let mut pack = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path.with_extension("pack"))
                    .expect("the pack");
                pack.seek(SeekFrom::Start(offset + 2)).expect("seek");
                pack.write_all(&vec![0xff; (in_pack - 2) as usize])
                    .expect("garble");
                garbled = true;
            }
        }
    }
    assert!(garbled, "the blob is in a pack");

    let err = snapshot
        .tree
        .read("deploy/base/app.yaml")
        .expect_err("a garbled blob");
    let mut message = err.to_string();
    let mut cause = std::error::Error::source(&err);
    while let Some(inner) = cause {
        message.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    assert!(message.contains("deploy/base/app.yaml"), "{message}");
    assert!(message.contains("the next fetch rebuilds it"), "{message}");

    let again = source
        .fetch(&Reference::Default)
        .await
        .expect("the cache is rebuilt");
    assert_eq!(again.revision.commit(), Some(second.as_str()));
    assert_eq!(
        again.tree.read("deploy/base/app.yaml").expect("read"),
        b"kind: ConfigMap\ndata: {}\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_sharing_a_cache_take_turns() {
    let (repo, _first, second) = fixture();
    let cache = tempfile::tempdir().expect("tempdir");
    // Separate sources, as separate processes would be: only the file lock orders them.
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let source = GitSource::with_options(
                repo.url(),
                GitOptions::default().with_cache_dir(cache.path()),
            )
            .expect("source");
            tokio::spawn(async move { source.fetch(&Reference::Default).await })
        })
        .collect();
    for task in tasks {
        let snapshot = task.await.expect("task").expect("fetch");
        assert_eq!(snapshot.revision.commit(), Some(second.as_str()));
    }
    let lock = std::fs::read_dir(cache.path())
        .expect("cache dir")
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().ends_with(".git.lock"));
    assert!(lock, "the lock file lives beside the cache");
}

#[tokio::test]
async fn fetches_are_shallow_and_deepened_for_an_older_commit() {
    let mut repo = Repo::new();
    let mut commits = Vec::new();
    for i in 0..3 {
        repo.write("app.yaml", &format!("kind: ConfigMap\n# {i}\n"));
        commits.push(repo.commit(&format!("commit {i}")));
    }
    let cache = tempfile::tempdir().expect("tempdir");
    let source = GitSource::with_options(
        repo.url(),
        GitOptions::default().with_cache_dir(cache.path()),
    )
    .expect("source");
    let head = source.fetch(&Reference::Default).await.expect("fetch");
    assert_eq!(head.revision.commit(), Some(commits[2].as_str()));

    let has = |id: &str| {
        std::process::Command::new("git")
            .args(["cat-file", "-e", id])
            .current_dir(source.cache_path())
            .status()
            .expect("git runs")
            .success()
    };
    assert!(
        source.cache_path().join("shallow").is_file(),
        "a branch is fetched at depth 1"
    );
    assert!(!has(&commits[0]), "older history stays on the remote");

    let old = source
        .fetch(&Reference::Commit(commits[0].clone()))
        .await
        .expect("an older commit deepens the cache");
    assert_eq!(old.revision.commit(), Some(commits[0].as_str()));
    assert_eq!(
        old.tree.read("app.yaml").expect("read"),
        b"kind: ConfigMap\n# 0\n"
    );
    assert!(has(&commits[0]));
}
