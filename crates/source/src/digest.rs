//! Content digests of trees.

use converge_core::{EntryKind, FileTree, normalize_path};
use sha2::{Digest, Sha256};

use crate::Error;

/// The content digest of the files under `path`: `sha256:<64 hex>`.
///
/// It covers every file under `path` except `.git` directories, in lexicographic path order:
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
    let mut files = Vec::new();
    match tree.kind(&root)? {
        None => return Err(converge_core::Error::NotFound { path: root }.into()),
        Some(EntryKind::File) => files.push((root.clone(), String::new())),
        Some(_) => collect(tree, &root, "", &mut files)?,
    }
    files.sort_by(|a, b| a.1.cmp(&b.1));
    let mut hasher = Sha256::new();
    for (full, relative) in &files {
        let content = tree.read(full)?;
        hasher.update(relative.as_bytes());
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

/// Collects `(tree path, path relative to the digest root)` of every file under `dir`.
fn collect(
    tree: &dyn FileTree,
    dir: &str,
    relative: &str,
    out: &mut Vec<(String, String)>,
) -> Result<(), Error> {
    for entry in tree.list(dir)? {
        if entry.name == ".git" {
            continue;
        }
        let full = join(dir, &entry.name);
        let rel = join(relative, &entry.name);
        match entry.kind {
            EntryKind::Dir => collect(tree, &full, &rel, out)?,
            _ => out.push((full, rel)),
        }
    }
    Ok(())
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}
