//! A git tree as a [`FileTree`], read straight from the object database.

use std::collections::HashMap;
use std::path::PathBuf;

use converge_core::{EntryKind, Error, FileTree, TreeEntry, normalize_path};
use gix::bstr::ByteSlice;
use gix::objs::tree::EntryKind as GitKind;

/// A commit's tree, indexed once, with blobs read on demand from the object database.
///
/// Symbolic links to a file or a directory inside the tree read as their target, as they do in
/// a checkout; links that lead out of the tree or nowhere, and submodules, are left out.
#[derive(Debug)]
pub struct GitTree {
    repo: gix::ThreadSafeRepository,
    nodes: HashMap<String, Node>,
    /// Written when a blob cannot be read: the next fetch rebuilds the cache.
    damage_marker: PathBuf,
}

#[derive(Debug, Clone)]
enum Node {
    File(gix::ObjectId),
    Dir(Vec<TreeEntry>),
}

impl GitTree {
    pub(crate) fn new(
        repo: gix::ThreadSafeRepository,
        tree: gix::ObjectId,
        damage_marker: PathBuf,
    ) -> Result<Self, gix::Error> {
        let local = repo.to_thread_local();
        let mut recorder = gix::traverse::tree::Recorder::default();
        local
            .find_tree(tree)?
            .traverse()
            .breadthfirst(&mut recorder)?;

        let mut nodes: HashMap<String, Node> = HashMap::new();
        nodes.insert(String::new(), Node::Dir(Vec::new()));
        let mut links = Vec::new();
        for entry in recorder.records {
            let Ok(path) = entry.filepath.to_str() else {
                continue;
            };
            let path = path.to_owned();
            match entry.mode.kind() {
                GitKind::Tree => {
                    nodes.insert(path, Node::Dir(Vec::new()));
                }
                GitKind::Blob | GitKind::BlobExecutable => {
                    nodes.insert(path, Node::File(entry.oid));
                }
                GitKind::Link => links.push((path, entry.oid)),
                GitKind::Commit => {}
            }
        }
        resolve_links(&local, &mut nodes, links)?;
        // Fill in directory listings.
        let mut children: HashMap<String, Vec<TreeEntry>> = HashMap::new();
        for (path, node) in &nodes {
            if path.is_empty() {
                continue;
            }
            let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
            let kind = match node {
                Node::File(_) => EntryKind::File,
                Node::Dir(_) => EntryKind::Dir,
            };
            children
                .entry(parent.to_owned())
                .or_default()
                .push(TreeEntry::new(name, kind));
        }
        for (parent, mut entries) in children {
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            if let Some(Node::Dir(list)) = nodes.get_mut(&parent) {
                *list = entries;
            }
        }
        Ok(GitTree {
            repo,
            nodes,
            damage_marker,
        })
    }

    fn node(&self, path: &str) -> Result<(String, Option<&Node>), Error> {
        let path = normalize_path(path)?;
        let node = self.nodes.get(&path);
        Ok((path, node))
    }
}

impl FileTree for GitTree {
    fn kind(&self, path: &str) -> Result<Option<EntryKind>, Error> {
        Ok(self.node(path)?.1.map(|node| match node {
            Node::File(_) => EntryKind::File,
            Node::Dir(_) => EntryKind::Dir,
        }))
    }

    fn list(&self, path: &str) -> Result<Vec<TreeEntry>, Error> {
        match self.node(path)? {
            (_, Some(Node::Dir(entries))) => Ok(entries.clone()),
            (path, Some(Node::File(_))) => Err(Error::InvalidPath {
                path,
                reason: "is not a directory".to_owned(),
            }),
            (path, None) => Err(Error::NotFound { path }),
        }
    }

    fn content_id(&self, path: &str) -> Option<String> {
        match self.node(path).ok()?.1? {
            Node::File(oid) => Some(format!("git-blob:{oid}")),
            Node::Dir(_) => None,
        }
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, Error> {
        match self.node(path)? {
            (path, Some(Node::File(oid))) => {
                let repo = self.repo.to_thread_local();
                repo.find_object(*oid)
                    .map(|object| object.detach().data)
                    .map_err(|e| {
                        // The tree names the blob, so the cache lost or garbled it: have the
                        // next fetch start again from the remote.
                        let _ = std::fs::write(&self.damage_marker, oid.to_string());
                        Error::Io {
                            path,
                            source: std::io::Error::other(format!(
                                "{e} (the git cache is damaged; the next fetch rebuilds it)"
                            )),
                        }
                    })
            }
            (path, Some(Node::Dir(_))) => Err(Error::InvalidPath {
                path,
                reason: "is a directory, not a file".to_owned(),
            }),
            (path, None) => Err(Error::NotFound { path }),
        }
    }
}

/// Replaces each link by what it points at inside the tree: a file, or a directory with all
/// that is below it. Links to links resolve over several rounds; links out of the tree, to
/// nothing, or in a cycle stay out.
fn resolve_links(
    repo: &gix::Repository,
    nodes: &mut HashMap<String, Node>,
    links: Vec<(String, gix::ObjectId)>,
) -> Result<(), gix::Error> {
    let mut pending = Vec::with_capacity(links.len());
    for (path, oid) in links {
        let data = repo.find_object(oid)?.detach().data;
        let Ok(target) = data.to_str() else { continue };
        if target.starts_with('/') {
            continue;
        }
        let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
        let joined = if dir.is_empty() {
            target.to_owned()
        } else {
            format!("{dir}/{target}")
        };
        if let Ok(target) = normalize_path(&joined) {
            pending.push((path, target));
        }
    }
    // Each round resolves the links whose target is known; a chain of n links takes n rounds.
    for _ in 0..MAX_LINK_DEPTH {
        let before = pending.len();
        pending.retain(|(path, target)| {
            let inside_itself = path == target || path.starts_with(&format!("{target}/"));
            match nodes.get(target).cloned() {
                Some(node @ Node::File(_)) => {
                    nodes.insert(path.clone(), node);
                    false
                }
                Some(Node::Dir(_)) if !inside_itself => {
                    let prefix = format!("{target}/");
                    let below: Vec<(String, Node)> = nodes
                        .iter()
                        .filter_map(|(p, n)| {
                            p.strip_prefix(&prefix)
                                .map(|rest| (format!("{path}/{rest}"), n.clone()))
                        })
                        .collect();
                    nodes.insert(path.clone(), Node::Dir(Vec::new()));
                    nodes.extend(below);
                    false
                }
                Some(Node::Dir(_)) => false, // a link to its own ancestor: a cycle
                None => true,
            }
        });
        if pending.len() == before {
            break;
        }
    }
    Ok(())
}

/// How many links deep a chain of links may go, as `MAXSYMLINKS` bounds it on Linux.
const MAX_LINK_DEPTH: usize = 40;
