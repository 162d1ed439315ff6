//! Read-only file trees: a directory on disk, or (from `converge-source`) a git tree.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::Error;

/// What a path in a tree is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryKind {
    /// A regular file (or a symbolic link to one inside the tree).
    File,
    /// A directory.
    Dir,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TreeEntry {
    /// The entry's own name (no `/`).
    pub name: String,
    /// File or directory.
    pub kind: EntryKind,
}

impl TreeEntry {
    /// An entry named `name` (no `/`) of kind `kind`.
    pub fn new(name: impl Into<String>, kind: EntryKind) -> Self {
        TreeEntry {
            name: name.into(),
            kind,
        }
    }
}

/// A read-only tree of files, addressed by relative paths with `/` separators.
///
/// Paths are relative to the tree's root: `""` (or `"."`) is the root itself, `"base/web.yaml"`
/// a file in it. Implementations normalize paths with [`normalize_path`] and refuse absolute
/// paths and paths that climb out of the root with `..`.
///
/// Implementations are cheap to share (`Send + Sync`), and every method is a pure read: calling
/// it twice gives the same answer for the same tree.
///
/// ```
/// use converge_core::{DirTree, EntryKind, FileTree};
///
/// let dir = tempfile::tempdir()?;
/// std::fs::create_dir(dir.path().join("base"))?;
/// std::fs::write(dir.path().join("base/web.yaml"), "kind: ConfigMap\n")?;
///
/// let tree = DirTree::new(dir.path())?;
/// assert_eq!(tree.kind("base")?, Some(EntryKind::Dir));
/// assert_eq!(tree.list("base")?[0].name, "web.yaml");
/// assert_eq!(tree.read("base/web.yaml")?, b"kind: ConfigMap\n");
/// assert_eq!(tree.kind("missing.yaml")?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait FileTree: Send + Sync + fmt::Debug {
    /// What `path` is, or `None` when it does not exist.
    ///
    /// # Errors
    /// [`Error::InvalidPath`] for a path outside the tree; [`Error::Io`] when the tree cannot
    /// be read.
    fn kind(&self, path: &str) -> Result<Option<EntryKind>, Error>;

    /// The entries of the directory `path`, sorted by name.
    ///
    /// # Errors
    /// [`Error::NotFound`] when `path` does not exist, [`Error::InvalidPath`] when it is not a
    /// directory or lies outside the tree, [`Error::Io`] when it cannot be read.
    fn list(&self, path: &str) -> Result<Vec<TreeEntry>, Error>;

    /// The contents of the file `path`.
    ///
    /// # Errors
    /// [`Error::NotFound`] when `path` does not exist, [`Error::InvalidPath`] when it is a
    /// directory or lies outside the tree, [`Error::Io`] when it cannot be read.
    fn read(&self, path: &str) -> Result<Vec<u8>, Error>;

    /// A name for the contents of the file `path` that changes whenever they do, when the
    /// tree knows one without reading the file (a git tree knows its blob ids); `None`
    /// otherwise, and for anything that is not a file. Caches use it to skip reading files
    /// they have seen.
    fn content_id(&self, path: &str) -> Option<String> {
        let _ = path;
        None
    }
}

/// Normalizes a relative tree path: drops `.` components, empty components and a trailing `/`,
/// resolves `..` against earlier components, and refuses absolute paths and paths that would
/// climb above the root.
///
/// ```
/// use converge_core::normalize_path;
/// assert_eq!(normalize_path("./base//web.yaml")?, "base/web.yaml");
/// assert_eq!(normalize_path("overlays/prod/../../base/")?, "base");
/// assert_eq!(normalize_path(".")?, "");
/// assert!(normalize_path("../outside").is_err());
/// assert!(normalize_path("/etc/passwd").is_err());
/// # Ok::<(), converge_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidPath`] as described.
pub fn normalize_path(path: &str) -> Result<String, Error> {
    if path.starts_with('/') || path.contains('\\') || path.contains('\0') {
        return Err(Error::InvalidPath {
            path: path.to_owned(),
            reason: "must be a relative path with / separators".to_owned(),
        });
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(Error::InvalidPath {
                        path: path.to_owned(),
                        reason: "climbs out of the tree's root".to_owned(),
                    });
                }
            }
            other => parts.push(other),
        }
    }
    Ok(parts.join("/"))
}

/// Every file under `path` (a directory or a single file), recursively, as tree paths in
/// lexicographic order. Directories and files whose name starts with `.` (`.git`, `.github`)
/// are skipped: this is the walk renderers use.
///
/// # Errors
/// [`Error::NotFound`] when `path` does not exist, and whatever the tree reports.
pub fn walk_files(tree: &dyn FileTree, path: &str) -> Result<Vec<String>, Error> {
    walk(tree, path, |name| name.starts_with('.'))
}

/// Every file under `path`, recursively, in lexicographic order, skipping only `.git`
/// directories: the walk that content digests use, so that a change to any file counts.
///
/// # Errors
/// As [`walk_files`].
pub fn walk_all_files(tree: &dyn FileTree, path: &str) -> Result<Vec<String>, Error> {
    walk(tree, path, |name| name == ".git")
}

fn walk(tree: &dyn FileTree, path: &str, skip: fn(&str) -> bool) -> Result<Vec<String>, Error> {
    let root = normalize_path(path)?;
    match tree.kind(&root)? {
        None => Err(Error::NotFound { path: root }),
        Some(EntryKind::File) => Ok(vec![root]),
        Some(EntryKind::Dir) => {
            let mut out = Vec::new();
            walk_dir(tree, &root, skip, &mut out)?;
            out.sort_unstable();
            Ok(out)
        }
    }
}

fn walk_dir(
    tree: &dyn FileTree,
    dir: &str,
    skip: fn(&str) -> bool,
    out: &mut Vec<String>,
) -> Result<(), Error> {
    for entry in tree.list(dir)? {
        if skip(&entry.name) {
            continue;
        }
        let path = join(dir, &entry.name);
        match entry.kind {
            EntryKind::File => out.push(path),
            EntryKind::Dir => walk_dir(tree, &path, skip, out)?,
        }
    }
    Ok(())
}

/// Joins a tree path and a name.
fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// A [`FileTree`] over a directory on disk.
///
/// Symbolic links are followed while they stay inside the directory; a link that leads out of
/// it is refused, so a repository cannot make Converge read `/etc/shadow`. A link to one of
/// its own parent directories is left out of listings (it would make walks endless), and so
/// are FIFOs, sockets and devices: only regular files and directories are read.
///
/// The tree is live: it reads the directory as it is at each call.
#[derive(Debug, Clone)]
pub struct DirTree {
    root: PathBuf,
}

impl DirTree {
    /// A tree rooted at the directory `root`.
    ///
    /// # Errors
    /// [`Error::NotFound`] when `root` does not exist, [`Error::InvalidPath`] when it is not a
    /// directory.
    pub fn new(root: impl AsRef<Path>) -> Result<Self, Error> {
        let given = root.as_ref();
        let shown = given.display().to_string();
        let root = given
            .canonicalize()
            .map_err(|source| io_error(&shown, source))?;
        if !root.is_dir() {
            return Err(Error::InvalidPath {
                path: shown,
                reason: "is not a directory".to_owned(),
            });
        }
        Ok(DirTree { root })
    }

    /// The directory this tree reads (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves a tree path to a path on disk, following links only while they stay inside,
    /// with its metadata. `Ok(None)` when it does not exist.
    fn resolve(&self, path: &str) -> Result<Option<(String, PathBuf, std::fs::Metadata)>, Error> {
        let rel = normalize_path(path)?;
        let joined = if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(&rel)
        };
        // Without links on the way (the common case), the joined path is the real one: one
        // lstat per component below the (canonical) root instead of a full realpath.
        let mut walked = self.root.clone();
        let mut last = None;
        for component in rel.split('/').filter(|c| !c.is_empty()) {
            walked.push(component);
            match std::fs::symlink_metadata(&walked) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    last = None;
                    break;
                }
                Ok(meta) => last = Some(meta),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(io_error(&rel, e)),
            }
        }
        if let Some(meta) = last {
            return Ok(Some((rel, joined, meta)));
        }
        match joined.canonicalize() {
            Ok(real) if real.starts_with(&self.root) => {
                let meta = std::fs::metadata(&real).map_err(|e| io_error(&rel, e))?;
                Ok(Some((rel, real, meta)))
            }
            Ok(_) => Err(Error::InvalidPath {
                path: rel,
                reason: "is a link that leads out of the tree".to_owned(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&rel, e)),
        }
    }
}

/// File or directory; `None` for FIFOs, sockets and devices, which are never read.
fn entry_kind(meta: &std::fs::Metadata) -> Option<EntryKind> {
    if meta.is_dir() {
        Some(EntryKind::Dir)
    } else if meta.is_file() {
        Some(EntryKind::File)
    } else {
        None
    }
}

fn not_regular(path: String) -> Error {
    Error::InvalidPath {
        path,
        reason: "is not a regular file or a directory".to_owned(),
    }
}

fn io_error(path: &str, source: std::io::Error) -> Error {
    if source.kind() == std::io::ErrorKind::NotFound {
        Error::NotFound {
            path: path.to_owned(),
        }
    } else {
        Error::Io {
            path: path.to_owned(),
            source,
        }
    }
}

impl FileTree for DirTree {
    fn kind(&self, path: &str) -> Result<Option<EntryKind>, Error> {
        let Some((rel, _, meta)) = self.resolve(path)? else {
            return Ok(None);
        };
        entry_kind(&meta).map(Some).ok_or_else(|| not_regular(rel))
    }

    fn list(&self, path: &str) -> Result<Vec<TreeEntry>, Error> {
        let Some((rel, real, _)) = self.resolve(path)? else {
            return Err(Error::NotFound {
                path: normalize_path(path)?,
            });
        };
        let reader = std::fs::read_dir(&real).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotADirectory {
                Error::InvalidPath {
                    path: rel.clone(),
                    reason: "is not a directory".to_owned(),
                }
            } else {
                io_error(&rel, e)
            }
        })?;
        let mut entries = Vec::new();
        for entry in reader {
            let entry = entry.map_err(|e| io_error(&rel, e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue; // names that are not UTF-8 cannot be addressed by tree paths
            };
            let child = join(&rel, &name);
            // A dangling link, one leading out of the tree or to a parent directory, and
            // anything that is neither a file nor a directory, is not listed.
            match self.resolve(&child) {
                Ok(Some((_, real_child, _))) if !real.starts_with(&real_child) => {
                    let meta = std::fs::metadata(&real_child).map_err(|e| io_error(&child, e))?;
                    if let Some(kind) = entry_kind(&meta) {
                        entries.push(TreeEntry { name, kind });
                    }
                }
                Ok(_) | Err(Error::InvalidPath { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, Error> {
        let Some((rel, real, meta)) = self.resolve(path)? else {
            return Err(Error::NotFound {
                path: normalize_path(path)?,
            });
        };
        match entry_kind(&meta) {
            Some(EntryKind::File) => std::fs::read(&real).map_err(|e| io_error(&rel, e)),
            Some(EntryKind::Dir) => Err(Error::InvalidPath {
                path: rel,
                reason: "is a directory, not a file".to_owned(),
            }),
            None => Err(not_regular(rel)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_handles_dots_and_refuses_escapes() {
        assert_eq!(normalize_path("a/./b/../c").expect("ok"), "a/c");
        assert_eq!(normalize_path("").expect("ok"), "");
        assert!(matches!(
            normalize_path("a/../../b"),
            Err(Error::InvalidPath { .. })
        ));
        assert!(matches!(
            normalize_path("a\\b"),
            Err(Error::InvalidPath { .. })
        ));
    }

    #[test]
    fn dir_tree_reads_lists_and_refuses_links_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("secret"), "s").expect("write");
        std::fs::create_dir_all(dir.path().join("a/b")).expect("mkdir");
        std::fs::write(dir.path().join("a/b/x.yaml"), "x").expect("write");
        std::fs::write(dir.path().join("a/.hidden.yaml"), "h").expect("write");
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("a/leak"))
            .expect("symlink");
        std::os::unix::fs::symlink("b/x.yaml", dir.path().join("a/inside.yaml")).expect("symlink");
        std::os::unix::fs::symlink(".", dir.path().join("a/b/loop")).expect("symlink");
        std::os::unix::fs::symlink("..", dir.path().join("a/b/up")).expect("symlink");
        std::os::unix::fs::symlink("b", dir.path().join("a/dir-link")).expect("symlink");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).expect("symlink");
        let fifo = std::process::Command::new("mkfifo")
            .arg(dir.path().join("a/pipe.yaml"))
            .status()
            .expect("mkfifo runs");
        assert!(fifo.success());

        let tree = DirTree::new(dir.path()).expect("tree");
        let names: Vec<_> = tree
            .list("a")
            .expect("list")
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, [".hidden.yaml", "b", "dir-link", "inside.yaml"]);
        assert!(matches!(
            tree.read("a/pipe.yaml"),
            Err(Error::InvalidPath { .. })
        ));
        assert!(matches!(
            tree.kind("a/pipe.yaml"),
            Err(Error::InvalidPath { .. })
        ));
        assert_eq!(tree.read("a/inside.yaml").expect("read"), b"x");
        assert!(matches!(
            tree.read("a/leak"),
            Err(Error::InvalidPath { .. })
        ));
        assert!(matches!(tree.read("a"), Err(Error::InvalidPath { .. })));
        // A link part-way along the path is followed too, and refused when it leads out.
        assert_eq!(tree.read("a/dir-link/x.yaml").expect("read"), b"x");
        assert!(matches!(
            tree.read("out/secret"),
            Err(Error::InvalidPath { .. })
        ));
        assert_eq!(tree.kind("a/dir-link/none").expect("kind"), None);
        assert!(matches!(tree.read("nope"), Err(Error::NotFound { .. })));
        assert!(matches!(
            tree.list("a/b/x.yaml"),
            Err(Error::InvalidPath { .. })
        ));
        assert_eq!(
            walk_files(&tree, "").expect("walk"),
            ["a/b/x.yaml", "a/dir-link/x.yaml", "a/inside.yaml"],
            "links to parent directories are not followed, links to other directories are"
        );
        assert_eq!(
            walk_all_files(&tree, "a").expect("walk"),
            [
                "a/.hidden.yaml",
                "a/b/x.yaml",
                "a/dir-link/x.yaml",
                "a/inside.yaml"
            ]
        );
        assert_eq!(
            walk_files(&tree, "a/b/x.yaml").expect("walk"),
            ["a/b/x.yaml"]
        );
        assert!(matches!(
            walk_files(&tree, "zzz"),
            Err(Error::NotFound { .. })
        ));
    }
}
