//! A conformance suite for [`Source`] implementations: what Converge's pipeline relies on a
//! source to do, checked against any implementation — `LocalDir` and `GitSource` run it, and
//! so can a user's own source.
//!
//! The implementation under test is reached through [`Publish`]: given a set of files, make
//! them the content of the source's default revision. [`check`] then publishes two contents in
//! turn and checks, for each, that:
//!
//! - the snapshot of the default revision holds exactly the published files, with their bytes
//!   (binary too), directories listed in name order, and missing or escaping paths refused;
//! - `resolve` names the revision `fetch` takes, and fetching again gives the same revision;
//! - the content digest is the one the same files give in a plain directory (whatever the
//!   source, the same files give the same digest), for the whole tree and for a sub-path;
//! - a new content is a new revision with a new digest;
//! - a reference the source does not have is an error, not a panic or an empty snapshot;
//! - branch listing either answers or says it is unsupported.
//!
//! Failures panic with a message that says what was expected: run it from a test.
//!
//! ```
//! use converge_source::testing::conformance::{self, Publish};
//! use converge_source::LocalDir;
//!
//! struct Dir(tempfile::TempDir);
//!
//! impl Publish for Dir {
//!     type Source = LocalDir;
//!     fn publish(&mut self, files: &[(&str, &[u8])]) -> LocalDir {
//!         conformance::replace_dir_content(self.0.path(), files);
//!         LocalDir::new(self.0.path())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! conformance::check(&mut Dir(tempfile::tempdir().expect("tempdir"))).await;
//! # }
//! ```

use std::path::Path;

use converge_core::{DirTree, EntryKind, walk_all_files};

use crate::{Error, Reference, Source, tree_digest};

/// An implementation under test, and how to give it content.
pub trait Publish {
    /// The source implementation.
    type Source: Source;

    /// Makes exactly `files` (path, content) the content of the source's default revision —
    /// files of an earlier call that are not listed are gone — and returns the source serving
    /// it. Returning the same source each time (one cache, one remote) is allowed.
    fn publish(&mut self, files: &[(&str, &[u8])]) -> Self::Source;
}

/// Replaces everything in `dir` with `files`, except a `.git` directory (a work tree stays a
/// repository): a helper for directory- and work-tree-backed implementations.
///
/// # Panics
/// When the directory cannot be written.
pub fn replace_dir_content(dir: &Path, files: &[(&str, &[u8])]) {
    for entry in std::fs::read_dir(dir).expect("read the directory") {
        let path = entry.expect("a directory entry").path();
        if path.file_name().is_some_and(|name| name == ".git") {
            continue;
        }
        if path.is_dir() {
            std::fs::remove_dir_all(&path).expect("remove a directory");
        } else {
            std::fs::remove_file(&path).expect("remove a file");
        }
    }
    for (path, content) in files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).expect("create a directory");
        }
        std::fs::write(&target, content).expect("write a file");
    }
}

const FIRST: &[(&str, &[u8])] = &[
    ("README.md", b"# fleet\n"),
    (
        "deploy/base/app.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n",
    ),
    ("deploy/base/kustomization.yaml", b"resources: [app.yaml]\n"),
    ("deploy/prod/kustomization.yaml", b"resources: [../base]\n"),
    (
        "assets/logo.bin",
        &[0x00, 0x9f, 0x92, 0x96, 0xff, 0x00, b'\n'],
    ),
];

const SECOND: &[(&str, &[u8])] = &[
    ("README.md", b"# fleet\n"),
    (
        "deploy/base/app.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata: {}\n",
    ),
    ("deploy/base/kustomization.yaml", b"resources: [app.yaml]\n"),
    (
        "deploy/staging/kustomization.yaml",
        b"resources: [../base]\n",
    ),
];

/// Runs the suite against `subject`.
///
/// # Panics
/// At the first check that fails, saying what was expected and what the source did.
pub async fn check<P: Publish>(subject: &mut P) {
    let source = subject.publish(FIRST);
    let first = check_content(&source, FIRST, "the first content").await;

    let missing = source
        .fetch(&Reference::Branch("no-such-branch-of-the-suite".into()))
        .await;
    match missing {
        Ok(snapshot) => panic!(
            "a branch the source does not have gave a snapshot ({})",
            snapshot.revision
        ),
        Err(err) => assert!(!err.to_string().is_empty(), "an error says what went wrong"),
    }
    match source.branches("*").await {
        Ok(_) | Err(Error::Unsupported { .. }) => {}
        Err(other) => panic!("listing branches failed: {other}"),
    }

    let source = subject.publish(SECOND);
    let second = check_content(&source, SECOND, "the second content").await;
    assert_ne!(first.0, second.0, "a new content is a new revision");
    assert_ne!(first.1, second.1, "a new content has a new digest");
}

/// Checks the default revision of `source` against `files`; returns its revision and digest.
async fn check_content(
    source: &impl Source,
    files: &[(&str, &[u8])],
    what: &str,
) -> (crate::Revision, String) {
    let snapshot = source
        .fetch(&Reference::Default)
        .await
        .unwrap_or_else(|e| panic!("{what}: fetching the default revision failed: {e}"));
    let tree = snapshot.tree.as_ref();

    let mut want: Vec<&str> = files.iter().map(|(path, _)| *path).collect();
    want.sort_unstable();
    let have = walk_all_files(tree, "").unwrap_or_else(|e| panic!("{what}: walking: {e}"));
    assert_eq!(have, want, "{what}: the snapshot holds exactly the files");
    for (path, content) in files {
        let read = tree
            .read(path)
            .unwrap_or_else(|e| panic!("{what}: reading {path}: {e}"));
        assert_eq!(&read[..], *content, "{what}: the bytes of {path}");
    }
    assert_eq!(
        tree.kind("deploy").ok().flatten(),
        Some(EntryKind::Dir),
        "{what}: deploy is a directory"
    );
    let names: Vec<String> = tree
        .list("deploy")
        .unwrap_or_else(|e| panic!("{what}: listing deploy: {e}"))
        .into_iter()
        .map(|entry| entry.name)
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "{what}: entries are listed by name");
    assert!(
        tree.read("deploy/no-such-file.yaml").is_err(),
        "{what}: a missing file is an error"
    );
    assert!(
        tree.read("../outside").is_err(),
        "{what}: a path above the root is refused"
    );

    let resolved = source
        .resolve(&Reference::Default)
        .await
        .unwrap_or_else(|e| panic!("{what}: resolving the default revision failed: {e}"));
    assert_eq!(
        resolved, snapshot.revision,
        "{what}: resolve names the revision fetch takes"
    );
    let again = source
        .fetch(&Reference::Default)
        .await
        .unwrap_or_else(|e| panic!("{what}: fetching again failed: {e}"));
    assert_eq!(again.revision, snapshot.revision, "{what}: fetching again");

    // The same files in a plain directory give the same digests.
    let plain = tempfile::tempdir().expect("a temporary directory");
    replace_dir_content(plain.path(), files);
    let plain = DirTree::new(plain.path()).expect("a directory tree");
    for path in ["", "deploy/base"] {
        let digest = snapshot
            .digest(path)
            .unwrap_or_else(|e| panic!("{what}: digest of {path:?}: {e}"));
        assert_eq!(
            digest,
            tree_digest(&plain, path).expect("the digest of a directory"),
            "{what}: the digest of {path:?} is the same files' digest anywhere"
        );
    }
    let digest = snapshot.digest("").expect("checked above");
    (snapshot.revision, digest)
}
