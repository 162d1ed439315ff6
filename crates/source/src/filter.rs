//! Views of a tree limited to a sub-path and to the files globs pick.

use std::fmt;
use std::sync::Arc;

use converge_core::{EntryKind, FileTree, TreeEntry, normalize_path, walk_all_files};

use crate::{Error, glob_match};

/// The files of a tree under one directory, seen as a tree of their own, that the include
/// globs pick (every file when there are none) and no exclude glob picks — like the `include`
/// and `ignore` rules of Flux's GitRepository. Directories with no file left are left out too.
///
/// A glob with a `/` is matched against the whole path below the sub-path, one without against
/// the file's name wherever it is (`*.md` leaves out every markdown file); `*` matches within a
/// name, `**` across directories, `?` one character ([`glob_match`]).
///
/// ```
/// use std::sync::Arc;
/// use converge_core::{DirTree, FileTree, walk_all_files};
/// use converge_source::FilteredTree;
///
/// let dir = tempfile::tempdir()?;
/// for file in ["apps/web/deploy.yaml", "apps/web/README.md", "apps/web/test/fixture.yaml", "infra/ns.yaml"] {
///     std::fs::create_dir_all(dir.path().join(file).parent().expect("parent"))?;
///     std::fs::write(dir.path().join(file), "x: 1\n")?;
/// }
/// let tree = FilteredTree::new(Arc::new(DirTree::new(dir.path())?), "apps")?
///     .exclude("*.md")
///     .exclude("web/test/**");
/// assert_eq!(walk_all_files(&tree, "")?, ["web/deploy.yaml"]);
/// assert!(tree.read("web/README.md").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct FilteredTree {
    inner: Arc<dyn FileTree>,
    root: String,
    include: Vec<String>,
    exclude: Vec<String>,
}

impl fmt::Debug for FilteredTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilteredTree")
            .field("root", &self.root)
            .field("include", &self.include)
            .field("exclude", &self.exclude)
            .finish_non_exhaustive()
    }
}

impl FilteredTree {
    /// The files of `inner` under the directory `root` (`""` for all of them).
    ///
    /// # Errors
    /// [`Error::Tree`] when `root` is not a directory of `inner` or is not a valid path.
    pub fn new(inner: Arc<dyn FileTree>, root: &str) -> Result<FilteredTree, Error> {
        let root = normalize_path(root)?;
        match inner.kind(&root)? {
            Some(EntryKind::Dir) => Ok(FilteredTree {
                inner,
                root,
                include: Vec::new(),
                exclude: Vec::new(),
            }),
            None => Err(converge_core::Error::NotFound { path: root }.into()),
            Some(_) => Err(converge_core::Error::InvalidPath {
                path: root,
                reason: "is not a directory".to_owned(),
            }
            .into()),
        }
    }

    /// Keeps only files `glob` picks (with other include globs: files any of them picks).
    pub fn include(mut self, glob: impl Into<String>) -> Self {
        self.include.push(glob.into());
        self
    }

    /// Leaves out the files `glob` picks.
    pub fn exclude(mut self, glob: impl Into<String>) -> Self {
        self.exclude.push(glob.into());
        self
    }

    /// True when the file at `path` (relative to the root) is in the view.
    fn picks(&self, path: &str) -> bool {
        let name = path.rsplit('/').next().unwrap_or(path);
        let hits = |glob: &String| {
            if glob.contains('/') {
                glob_match(glob.trim_start_matches('/'), path)
            } else {
                glob_match(glob, name)
            }
        };
        (self.include.is_empty() || self.include.iter().any(hits)) && !self.exclude.iter().any(hits)
    }

    fn inner_path(&self, path: &str) -> Result<(String, String), converge_core::Error> {
        let path = normalize_path(path)?;
        let inner = match (self.root.is_empty(), path.is_empty()) {
            (true, _) => path.clone(),
            (false, true) => self.root.clone(),
            (false, false) => format!("{}/{path}", self.root),
        };
        Ok((path, inner))
    }

    /// True when the directory `inner` (a path of the inner tree) holds a file of the view.
    fn dir_has_files(&self, inner: &str) -> Result<bool, converge_core::Error> {
        let prefix = if self.root.is_empty() {
            0
        } else {
            self.root.len() + 1
        };
        Ok(walk_all_files(self.inner.as_ref(), inner)?
            .iter()
            .any(|file| self.picks(file.get(prefix..).unwrap_or_default())))
    }
}

impl FileTree for FilteredTree {
    fn kind(&self, path: &str) -> Result<Option<EntryKind>, converge_core::Error> {
        let (path, inner) = self.inner_path(path)?;
        Ok(match self.inner.kind(&inner)? {
            Some(EntryKind::File) if self.picks(&path) => Some(EntryKind::File),
            Some(EntryKind::Dir) if path.is_empty() || self.dir_has_files(&inner)? => {
                Some(EntryKind::Dir)
            }
            _ => None,
        })
    }

    fn list(&self, path: &str) -> Result<Vec<TreeEntry>, converge_core::Error> {
        let (path, inner) = self.inner_path(path)?;
        if !path.is_empty() && self.kind(&path)? != Some(EntryKind::Dir) {
            return Err(converge_core::Error::NotFound { path });
        }
        let mut kept = Vec::new();
        for entry in self.inner.list(&inner)? {
            let child = if path.is_empty() {
                entry.name.clone()
            } else {
                format!("{path}/{}", entry.name)
            };
            let keep = match entry.kind {
                EntryKind::File => self.picks(&child),
                EntryKind::Dir if inner.is_empty() => self.dir_has_files(&entry.name)?,
                EntryKind::Dir => self.dir_has_files(&format!("{inner}/{}", entry.name))?,
                _ => false,
            };
            if keep {
                kept.push(entry);
            }
        }
        Ok(kept)
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, converge_core::Error> {
        let (path, inner) = self.inner_path(path)?;
        if self.inner.kind(&inner)? == Some(EntryKind::File) && !self.picks(&path) {
            return Err(converge_core::Error::NotFound { path });
        }
        self.inner.read(&inner)
    }

    fn content_id(&self, path: &str) -> Option<String> {
        let (path, inner) = self.inner_path(path).ok()?;
        if self.picks(&path) {
            self.inner.content_id(&inner)
        } else {
            None
        }
    }
}
