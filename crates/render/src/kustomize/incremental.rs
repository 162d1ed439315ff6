//! Re-rendering a kustomization after a few resource files changed, without redoing the rest.
//!
//! A cold build records everything it asked of the tree (a [`Recorder`]) and keeps, in a
//! [`Plan`], that record, its output and, for each resource file, the ids and metadata of the
//! documents it held. A re-render first reads the resource files again:
//!
//! - nothing changed, and every other file, listing and lookup answers as before: the recorded
//!   output is the answer;
//! - some resource files changed but kept their documents' ids, and the build is *local* (no
//!   transformer reads one resource to change another: no `vars`, `replacements`, plugin
//!   configurations, generators merging into resources, Helm charts): the build runs again on
//!   the changed files alone. Each transformer changes each resource on its own, so their
//!   documents come out as from a full build; the one step that looks across resources, name
//!   references, also sees the *ghosts* of every other object read from a file (final id,
//!   earlier ids, prefixes and suffixes), which is all it asks of them. Every other output is
//!   the recorded one;
//! - anything else (a kustomization, patch or generator input changed, a file appeared or went,
//!   an id changed, the reduced run failed or came out in another shape): a full build.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use converge_core::{EntryKind, Error as CoreError, FileTree, Manifest, TreeEntry};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::resource::{ResId, Resource, Source};

/// One question asked of the tree, and a digest of its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Access {
    op: Op,
    path: String,
    answer: [u8; 32],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Kind,
    List,
    Read,
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn error_digest(error: &CoreError) -> [u8; 32] {
    digest(format!("error: {error}").as_bytes())
}

fn kind_digest(answer: &Result<Option<EntryKind>, CoreError>) -> [u8; 32] {
    match answer {
        Ok(kind) => digest(format!("{kind:?}").as_bytes()),
        Err(e) => error_digest(e),
    }
}

fn list_digest(answer: &Result<Vec<TreeEntry>, CoreError>) -> [u8; 32] {
    match answer {
        Ok(entries) => {
            let mut hasher = Sha256::new();
            for entry in entries {
                hasher.update(format!("{:?} {}\0", entry.kind, entry.name).as_bytes());
            }
            hasher.finalize().into()
        }
        Err(e) => error_digest(e),
    }
}

fn read_digest(answer: &Result<Vec<u8>, CoreError>) -> [u8; 32] {
    match answer {
        Ok(bytes) => digest(bytes),
        Err(e) => error_digest(e),
    }
}

/// A tree that records what a build asks of it. Resource files are read through
/// [`Recorder::read_resource`] and recorded apart, with their documents' stubs.
#[derive(Debug)]
pub(crate) struct Recorder<'t> {
    tree: &'t dyn FileTree,
    log: Mutex<Log>,
    /// Files just read whole: asked what they are, they are files, without asking the tree.
    files: HashSet<String>,
}

#[derive(Debug, Default)]
struct Log {
    accesses: Vec<Access>,
    files: HashMap<String, FilePlan>,
}

/// A resource file as the last build read it: digests of its contents and of its documents'
/// ids.
#[derive(Debug, Clone)]
pub(crate) struct FilePlan {
    digest: [u8; 32],
    ids: [u8; 32],
    /// The tree's name for the contents (a git blob id), when it has one: an unchanged name
    /// means unchanged contents, without reading them.
    content_id: Option<String>,
}

/// A digest of the ids of `resources`, in order.
fn ids_digest(resources: &[Resource]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for resource in resources {
        hasher.update(format!("{}\0", resource.id()).as_bytes());
    }
    hasher.finalize().into()
}

impl<'t> Recorder<'t> {
    pub(crate) fn new(tree: &'t dyn FileTree) -> Recorder<'t> {
        Recorder {
            tree,
            log: Mutex::new(Log::default()),
            files: HashSet::new(),
        }
    }

    /// A recorder that knows `files` are files (they were just read).
    pub(crate) fn knowing(tree: &'t dyn FileTree, files: HashSet<String>) -> Recorder<'t> {
        Recorder {
            files,
            ..Recorder::new(tree)
        }
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, op: Op, path: &str, answer: [u8; 32]) {
        self.log().accesses.push(Access {
            op,
            path: path.to_owned(),
            answer,
        });
    }

    /// Reads a resource file, recorded apart from the other reads.
    pub(crate) fn read_resource(&self, path: &str) -> Result<Vec<u8>, CoreError> {
        let answer = self.tree.read(path);
        match &answer {
            Ok(bytes) => {
                self.log().files.insert(
                    path.to_owned(),
                    FilePlan {
                        digest: digest(bytes),
                        ids: [0; 32],
                        content_id: self.tree.content_id(path),
                    },
                );
            }
            Err(e) => self.record(Op::Read, path, error_digest(e)),
        }
        answer
    }

    /// Records a resource file the cache knew by the tree's `id` for its contents, unread.
    pub(crate) fn resource_known(&self, path: &str, id: &str) {
        self.log().files.insert(
            path.to_owned(),
            FilePlan {
                // Not the contents' digest: should the id change, the contents count as
                // changed, which they are.
                digest: digest(id.as_bytes()),
                ids: [0; 32],
                content_id: Some(id.to_owned()),
            },
        );
    }

    /// Notes the resources read from the resource file `path`.
    pub(crate) fn resources_read(&self, path: &str, resources: &[Resource]) {
        if let Some(file) = self.log().files.get_mut(path) {
            file.ids = ids_digest(resources);
        }
    }

    fn into_log(self) -> Log {
        self.log.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

impl FileTree for Recorder<'_> {
    fn kind(&self, path: &str) -> Result<Option<EntryKind>, CoreError> {
        let answer = if self.files.contains(path) {
            Ok(Some(EntryKind::File))
        } else {
            self.tree.kind(path)
        };
        self.record(Op::Kind, path, kind_digest(&answer));
        answer
    }

    fn list(&self, path: &str) -> Result<Vec<TreeEntry>, CoreError> {
        let answer = self.tree.list(path);
        self.record(Op::List, path, list_digest(&answer));
        answer
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, CoreError> {
        let answer = self.tree.read(path);
        self.record(Op::Read, path, read_digest(&answer));
        answer
    }

    fn content_id(&self, path: &str) -> Option<String> {
        self.tree.content_id(path)
    }
}

/// The ghost of an output resource: its final id, the ids it had and the prefixes and
/// suffixes it was given, which is what fixing name references asks of the other resources.
fn ghost(resource: &Resource) -> Arc<(ResId, Resource)> {
    let mut metadata = Map::new();
    if let Some(meta) = resource.object.get("metadata") {
        for field in ["name", "namespace"] {
            if let Some(value) = meta.get(field) {
                metadata.insert(field.to_owned(), value.clone());
            }
        }
    }
    let mut object = Map::new();
    for field in ["apiVersion", "kind"] {
        if let Some(value) = resource.object.get(field) {
            object.insert(field.to_owned(), value.clone());
        }
    }
    object.insert("metadata".to_owned(), Value::Object(metadata));
    let mut ghost = Resource::new(Value::Object(object), resource.origin.clone());
    ghost.previous = resource.previous.clone();
    ghost.prefixes = resource.prefixes.clone();
    ghost.suffixes = resource.suffixes.clone();
    Arc::new((ghost.id(), ghost))
}

/// One output object of the recorded build.
#[derive(Debug)]
struct Entry {
    manifest: Arc<Manifest>,
    /// For an object read from a resource file, its ghost and the ghost's id.
    ghost: Option<Arc<(ResId, Resource)>>,
}

impl Entry {
    /// The resource file and document it came from, when it came from one.
    fn file(&self) -> Option<(&str, usize)> {
        self.ghost
            .as_ref()
            .map(|g| (g.1.origin.file.as_str(), g.1.origin.document))
    }
}

/// What a build of one kustomization recorded, to re-render it cheaply.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Everything asked of the tree but the resource files' contents, in order.
    accesses: Vec<Access>,
    /// The resource files by path.
    files: HashMap<String, FilePlan>,
    /// Whether changed resources may be built alone (see the module's documentation).
    local: bool,
    output: Vec<Entry>,
}

impl Plan {
    /// The plan of a build that read through `recorder` and built `resources`, given as
    /// `manifests`.
    pub(crate) fn new(
        recorder: Recorder<'_>,
        local: bool,
        resources: &[Resource],
        manifests: &[Manifest],
    ) -> Plan {
        let log = recorder.into_log();
        let output = resources
            .iter()
            .zip(manifests)
            .map(|(resource, manifest)| Entry {
                manifest: Arc::new(manifest.clone()),
                ghost: matches!(resource.source, Source::File).then(|| ghost(resource)),
            })
            .collect();
        Plan {
            accesses: log.accesses,
            files: log.files,
            local,
            output,
        }
    }
}

/// What a re-render found.
pub(crate) enum Outcome {
    /// Nothing changed: the recorded output.
    Unchanged(Vec<Manifest>),
    /// These resource files changed (path → contents), each keeping its documents' ids; every
    /// other resource file is as recorded.
    Changed(HashMap<String, Vec<u8>>),
    /// Needs a full build.
    Rebuild,
}

impl Plan {
    /// Compares the tree with the recorded one, reading every resource file.
    pub(crate) fn check(&self, tree: &dyn FileTree) -> Outcome {
        // Reading and hashing thousands of files is most of a re-render: two threads share it.
        let files: Vec<(&String, &FilePlan)> = self.files.iter().collect();
        let compare = |part: &[(&String, &FilePlan)]| -> Option<Vec<(String, Vec<u8>)>> {
            let mut changed = Vec::new();
            for (path, file) in part {
                if file.content_id.is_some() && tree.content_id(path) == file.content_id {
                    continue;
                }
                let bytes = tree.read(path).ok()?;
                if digest(&bytes) != file.digest {
                    changed.push(((*path).clone(), bytes));
                }
            }
            Some(changed)
        };
        let results = if files.len() < 64 {
            vec![compare(&files)]
        } else {
            let (first, second) = files.split_at(files.len() / 2);
            std::thread::scope(|scope| {
                let other = scope.spawn(|| compare(second));
                let mine = compare(first);
                vec![mine, other.join().unwrap_or(None)]
            })
        };
        let mut changed = HashMap::new();
        for result in results {
            let Some(part) = result else {
                return Outcome::Rebuild;
            };
            changed.extend(part);
        }
        if !changed.is_empty() {
            return if self.local {
                Outcome::Changed(changed)
            } else {
                Outcome::Rebuild
            };
        }
        let same = self.accesses.iter().all(|access| {
            let answer = match access.op {
                Op::Kind => kind_digest(&tree.kind(&access.path)),
                Op::List => list_digest(&tree.list(&access.path)),
                Op::Read => read_digest(&tree.read(&access.path)),
            };
            answer == access.answer
        });
        if same {
            Outcome::Unchanged(
                self.output
                    .iter()
                    .map(|e| Manifest::clone(&e.manifest))
                    .collect(),
            )
        } else {
            Outcome::Rebuild
        }
    }

    /// The paths of the resource files.
    pub(crate) fn files(&self) -> impl Iterator<Item = &String> {
        self.files.keys()
    }

    /// Whether `resources`, read from the changed file `path`, have the recorded ids.
    pub(crate) fn same_ids(&self, path: &str, resources: &[Resource]) -> bool {
        self.files
            .get(path)
            .is_some_and(|file| file.ids == ids_digest(resources))
    }

    /// The ghosts of every object read from a resource file that did not change.
    pub(crate) fn ghosts(&self, changed: &HashSet<String>) -> Vec<(&ResId, &Resource)> {
        self.output
            .iter()
            .filter_map(|e| e.ghost.as_deref())
            .filter(|(_, g)| !changed.contains(&g.origin.file))
            .map(|(id, g)| (id, g))
            .collect()
    }

    /// Completes a reduced build (the `changed` resource files read, the others left out)
    /// that read through `recorder` and built `reduced`: the new output and plan, or `None`
    /// when the reduced build asked other questions or built other objects.
    pub(crate) fn splice(
        &self,
        recorder: Recorder<'_>,
        reduced: Vec<Resource>,
        changed: &HashSet<String>,
    ) -> Option<(Vec<Manifest>, Plan)> {
        let log = recorder.into_log();
        if log.accesses != self.accesses {
            return None;
        }
        // What the changed files' documents became, by file and document.
        let mut rebuilt: HashMap<(String, usize), Resource> = reduced
            .into_iter()
            .filter(|r| matches!(r.source, Source::File) && changed.contains(&r.origin.file))
            .map(|r| ((r.origin.file.clone(), r.origin.document), r))
            .collect();
        let mut output = Vec::with_capacity(self.output.len());
        for entry in &self.output {
            match entry.file() {
                Some((file, document)) if changed.contains(file) => {
                    let resource = rebuilt.remove(&(file.to_owned(), document))?;
                    let ghost = ghost(&resource);
                    let manifest = Manifest::new(resource.object, resource.origin).ok()?;
                    // Same ids as before: no two objects can have come to share one.
                    if manifest.id() != entry.manifest.id() {
                        return None;
                    }
                    output.push(Entry {
                        manifest: Arc::new(manifest),
                        ghost: Some(ghost),
                    });
                }
                _ => output.push(Entry {
                    manifest: Arc::clone(&entry.manifest),
                    ghost: entry.ghost.clone(),
                }),
            }
        }
        if !rebuilt.is_empty() {
            return None;
        }
        let mut files = self.files.clone();
        for (path, file) in log.files {
            if changed.contains(&path) {
                files.insert(path, file);
            }
        }
        // Only its digests were recorded again: the ids are the recorded ones.
        let manifests = output
            .iter()
            .map(|e| Manifest::clone(&e.manifest))
            .collect();
        let plan = Plan {
            accesses: log.accesses,
            files,
            local: self.local,
            output,
        };
        Some((manifests, plan))
    }
}
