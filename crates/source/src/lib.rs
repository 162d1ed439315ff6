#![doc = include_str!("../README.md")]

mod digest;
mod error;
mod filter;
mod git;
mod local_dir;
mod reference;
pub mod semver;
#[cfg(feature = "test-util")]
pub mod testing;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use converge_core::FileTree;

pub use digest::tree_digest;
pub use error::Error;
pub use filter::FilteredTree;
pub use git::{GitOptions, GitSource, GitTree, SshAuth, Verification, VerifyMode};
pub use local_dir::LocalDir;
pub use reference::Reference;

/// Where manifests come from: a git remote, a directory, or a user's own store.
///
/// A source is asked for a [`Reference`] (a branch, a tag, a commit, …) and answers with the
/// [`Revision`] it points at now ([`Source::resolve`]) or with a whole [`Snapshot`] of it
/// ([`Source::fetch`]). An implementation guarantees:
/// - **consistency**: `fetch(r).revision` is what `resolve(r)` answered at the same moment, and
///   one revision always has the same content;
/// - **cheap resolve**: `resolve` costs no more than a ref listing (or a directory walk), so a
///   controller can poll it on an interval;
/// - **clear refusals**: a reference kind it cannot serve is [`Error::Unsupported`] naming the
///   operation and the implementation, never a silent fallback to something else;
/// - **cancel safety**: dropping a future leaves any cache it keeps usable.
///
/// The trait is object-safe: hold an `Arc<dyn Source>`.
///
/// ```
/// use converge_source::{LocalDir, Reference, Source};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("ns.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n")?;
/// let source: std::sync::Arc<dyn Source> = std::sync::Arc::new(LocalDir::new(dir.path()));
/// let snapshot = source.fetch(&Reference::Default).await?;
/// assert!(snapshot.revision.to_string().starts_with("sha256:"));
/// assert_eq!(snapshot.tree.read("ns.yaml")?.len(), 54);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait Source: Send + Sync + fmt::Debug {
    /// The revision `reference` points at now.
    ///
    /// # Errors
    /// [`Error::RefNotFound`] when the reference does not exist, [`Error::Unsupported`] when
    /// this source has no such kind of reference, and transport or storage errors.
    async fn resolve(&self, reference: &Reference) -> Result<Revision, Error>;

    /// A snapshot of the revision `reference` points at now.
    ///
    /// # Errors
    /// As [`Source::resolve`].
    async fn fetch(&self, reference: &Reference) -> Result<Snapshot, Error>;

    /// The branches whose names match the glob `pattern`, with the commit each points at now,
    /// sorted by name: what a controller needs to give each `preview/*` branch its own
    /// environment. In the pattern, `*` matches within one `/`-separated part of a name, `**`
    /// across parts, `?` one character; everything else matches itself.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for a source without branches (the default), and transport or
    /// storage errors.
    async fn branches(&self, pattern: &str) -> Result<Vec<Revision>, Error> {
        Err(Error::Unsupported {
            operation: format!("listing branches ({pattern})"),
            implementation: std::any::type_name::<Self>()
                .rsplit("::")
                .next()
                .unwrap_or("this source"),
        })
    }
}

/// True when `name` matches the glob `pattern`: `*` within one `/`-separated part, `**`
/// across parts, `?` one character other than `/`.
///
/// ```
/// use converge_source::glob_match;
/// assert!(glob_match("preview/*", "preview/feature-1"));
/// assert!(!glob_match("preview/*", "preview/team/feature-2"));
/// assert!(glob_match("preview/**", "preview/team/feature-2"));
/// assert!(glob_match("release-1.?", "release-1.4"));
/// assert!(!glob_match("main", "maintenance"));
/// ```
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p {
            [] => n.is_empty(),
            [b'*', b'*', rest @ ..] => (0..=n.len()).any(|i| go(rest, &n[i..])),
            [b'*', rest @ ..] => {
                let part = n.iter().position(|&c| c == b'/').unwrap_or(n.len());
                (0..=part).any(|i| go(rest, &n[i..]))
            }
            [b'?', rest @ ..] => n.first().is_some_and(|&c| c != b'/') && go(rest, &n[1..]),
            [c, rest @ ..] => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// A revision of a source, shown as Flux shows them: `main@sha1:<40 hex>` for a branch,
/// `v1.2.0@sha1:…` for a tag, `sha1:…` for a bare commit, `sha256:<64 hex>` for a directory's
/// content.
///
/// ```
/// use converge_source::Revision;
/// let r = Revision::new(Some("main".into()), "sha1:1f3c0e0b27b0d0e2c5d8b1fb5c7a0f3d7f2a4b11");
/// assert_eq!(r.to_string(), "main@sha1:1f3c0e0b27b0d0e2c5d8b1fb5c7a0f3d7f2a4b11");
/// assert_eq!(r.id(), "sha1:1f3c0e0b27b0d0e2c5d8b1fb5c7a0f3d7f2a4b11");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Revision {
    name: Option<String>,
    id: String,
}

impl Revision {
    /// A revision `id` (`sha1:<hex>`, `sha256:<hex>`), reached through the reference `name`
    /// (a branch, tag or ref name) if there was one.
    pub fn new(name: Option<String>, id: impl Into<String>) -> Self {
        Revision {
            name,
            id: id.into(),
        }
    }

    /// The branch, tag or ref name this revision was reached through, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The content identity: `sha1:<hex>` for a git commit, `sha256:<hex>` for a digest.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The commit id alone (the hex after `sha1:`), for git revisions.
    pub fn commit(&self) -> Option<&str> {
        self.id.strip_prefix("sha1:")
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name}@{}", self.id),
            None => f.write_str(&self.id),
        }
    }
}

/// Metadata of the commit a git revision points at.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommitInfo {
    /// Author, as `Name <email>`.
    pub author: String,
    /// Author time, seconds since the Unix epoch.
    pub time: i64,
    /// The full commit message.
    pub message: String,
}

impl CommitInfo {
    /// A commit by `author` (`Name <email>`) at `time` (seconds since the Unix epoch) with
    /// `message`.
    pub fn new(author: impl Into<String>, time: i64, message: impl Into<String>) -> Self {
        CommitInfo {
            author: author.into(),
            time,
            message: message.into(),
        }
    }
}

/// One revision of a source: what it is, and its files.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Snapshot {
    /// The revision.
    pub revision: Revision,
    /// The files, read-only. For git, read straight from the object database (no checkout).
    pub tree: Arc<dyn FileTree>,
    /// The commit, for git revisions.
    pub commit: Option<CommitInfo>,
}

impl Snapshot {
    /// A snapshot of `tree` at `revision`.
    pub fn new(revision: Revision, tree: Arc<dyn FileTree>, commit: Option<CommitInfo>) -> Self {
        Snapshot {
            revision,
            tree,
            commit,
        }
    }

    /// This snapshot limited to the files under the directory `path` that the `include` globs
    /// pick (all when none) and no `exclude` glob picks, seen from `path` (see
    /// [`FilteredTree`]). The revision stays; the tree and its digests are the view's.
    ///
    /// # Errors
    /// [`Error::Tree`] when `path` is not a directory of the snapshot.
    pub fn limited(
        &self,
        path: &str,
        include: &[&str],
        exclude: &[&str],
    ) -> Result<Snapshot, Error> {
        let view = include.iter().fold(
            FilteredTree::new(Arc::clone(&self.tree), path)?,
            |view, glob| view.include(*glob),
        );
        let view = exclude.iter().fold(view, |view, glob| view.exclude(*glob));
        Ok(Snapshot {
            revision: self.revision.clone(),
            tree: Arc::new(view),
            commit: self.commit.clone(),
        })
    }

    /// The content digest of the snapshot's files under `path`: see [`tree_digest`].
    ///
    /// # Errors
    /// When the tree cannot be read.
    pub fn digest(&self, path: &str) -> Result<String, Error> {
        tree_digest(self.tree.as_ref(), path)
    }
}
