//! Content digests of trees.

use converge_core::{FileTree, normalize_path, walk_all_files};
use sha2::{Digest, Sha256};

use crate::Error;

/// The content digest of the files under `path`: `sha256:<64 hex>`.
///
/// It covers every file under `path` except `.git` directories ([`walk_all_files`]), in
/// lexicographic path order:
/// for each file, its path relative to `path`, a NUL byte, its length as 8 big-endian bytes,
/// then its content. The digest depends only on names and contents, so the same files give the
/// same digest whether they come from a directory, a clone or another clone of the same commit —
/// like the artifact checksum of Flux's source-controller.
///
/// ```
/// use converge_core::DirTree;
/// use converge_source::tree_digest;
///
/// let a = tempfile::tempdir()?;
/// let b = tempfile::tempdir()?;
/// for dir in [&a, &b] {
///     std::fs::write(dir.path().join("x.yaml"), "x: 1\n")?;
/// }
/// let da = tree_digest(&DirTree::new(a.path())?, "")?;
/// assert_eq!(da, tree_digest(&DirTree::new(b.path())?, "")?);
/// assert_eq!(da.len(), "sha256:".len() + 64);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::Tree`] when `path` does not exist or a file cannot be read.
pub fn tree_digest(tree: &dyn FileTree, path: &str) -> Result<String, Error> {
    let root = normalize_path(path)?;
    // Paths are hashed relative to `root`, so a sub-path digests the same wherever it sits.
    let prefix_len = if root.is_empty() { 0 } else { root.len() + 1 };
    let files = walk_all_files(tree, &root)?;
    let mut hasher = Sha256::new();
    for file in &files {
        let content = tree.read(file)?;
        hasher.update(file.get(prefix_len..).unwrap_or_default().as_bytes());
        hasher.update([0]);
        hasher.update((content.len() as u64).to_be_bytes());
        hasher.update(&content);
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    Ok(out)
}
