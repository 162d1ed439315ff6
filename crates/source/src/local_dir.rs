//! A directory as a source.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use converge_core::DirTree;

use crate::{Error, Reference, Revision, Snapshot, Source, tree_digest};

/// A directory on disk as a source: its one revision is its current content, identified by
/// its [`tree_digest`] (`sha256:…`).
///
/// Only [`Reference::Default`] is served; asking a directory for a branch, tag or commit is
/// [`Error::Unsupported`] (use a [`GitSource`](crate::GitSource) on the repository instead).
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    /// A source reading the directory `root`. It need not exist yet: it must exist when
    /// resolved or fetched.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalDir { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn check(&self, reference: &Reference) -> Result<(), Error> {
        match reference {
            Reference::Default => Ok(()),
            other => Err(Error::Unsupported {
                operation: other.to_string(),
                implementation: "LocalDir",
            }),
        }
    }
}

#[async_trait]
impl Source for LocalDir {
    async fn resolve(&self, reference: &Reference) -> Result<Revision, Error> {
        Ok(self.fetch(reference).await?.revision)
    }

    async fn fetch(&self, reference: &Reference) -> Result<Snapshot, Error> {
        self.check(reference)?;
        let tree = DirTree::new(&self.root)?;
        let digest = tree_digest(&tree, "")?;
        Ok(Snapshot::new(
            Revision::new(None, digest),
            Arc::new(tree),
            None,
        ))
    }
}
