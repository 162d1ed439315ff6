//! Parsed files by content, so that a re-render parses only what changed.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use converge_core::{Manifest, parse_manifests};
use sha2::{Digest, Sha256};

/// A bounded cache of parsed files and of what the last renders built, keyed by path and
/// content (SHA-256), shared by every renderer it is given to and safe to use from several
/// renders at once.
///
/// A controller re-renders the same tree after every commit, and most files did not change.
/// With a cache, a re-render reads every file but parses only the changed ones; and
/// [`Kustomize`](crate::Kustomize) keeps what its last build of each kustomization read and
/// built, so that when only resource files changed, only their documents go through the
/// build again (see [`Renders`]). When the cache holds `capacity` parsed files, the oldest
/// make room; it keeps the builds of the 16 kustomizations rendered last.
///
/// ```
/// use converge_core::DirTree;
/// use converge_render::{Kustomize, ParseCache};
///
/// let dir = tempfile::tempdir()?;
/// let cm = |name: &str, color: &str| {
///     format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{color: {color}}}\n")
/// };
/// std::fs::write(dir.path().join("kustomization.yaml"), "resources: [a.yaml, b.yaml]\nnamePrefix: dev-\n")?;
/// std::fs::write(dir.path().join("a.yaml"), cm("a", "red"))?;
/// std::fs::write(dir.path().join("b.yaml"), cm("b", "red"))?;
/// let cache = ParseCache::new(1_000);
/// let renderer = Kustomize::new().with_cache(cache.clone());
/// renderer.render_sync(&DirTree::new(dir.path())?, "")?;
/// std::fs::write(dir.path().join("b.yaml"), cm("b", "blue"))?;
/// let manifests = renderer.render_sync(&DirTree::new(dir.path())?, "")?;
/// assert_eq!(manifests[1].object()["data"]["color"], "blue");
/// assert_eq!(manifests[1].id().name, "dev-b");
/// // a.yaml was neither parsed nor built again.
/// assert_eq!(cache.renders().incremental, 1);
/// assert_eq!(cache.stats(), (1, 3)); // b.yaml's new text was parsed once, then found
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ParseCache {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    capacity: usize,
    entries: HashMap<[u8; 32], Vec<Manifest>>,
    order: VecDeque<[u8; 32]>,
    hits: u64,
    misses: u64,
    /// What renderers recorded about their last builds, by renderer, options and path.
    plans: HashMap<String, Arc<dyn Any + Send + Sync>>,
    plan_order: VecDeque<String>,
    renders: Renders,
    /// Other parsed files (kustomizations, patches), by what they were parsed as and content.
    memos: HashMap<[u8; 32], Arc<dyn Any + Send + Sync>>,
    memo_order: VecDeque<[u8; 32]>,
}

/// How the renders given a [`ParseCache`] were done, counted since it was made.
///
/// A controller can export these as metrics: most re-renders of an unchanged or slightly
/// changed tree should not be `full`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Renders {
    /// Nothing the render reads had changed: the previous output was reused.
    pub unchanged: u64,
    /// Only resource files changed: only their documents went through the build again.
    pub incremental: u64,
    /// Built from scratch (the first render, or a change that needed it).
    pub full: u64,
}

/// Which way a render went, for [`Renders`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum RenderKind {
    Unchanged,
    Incremental,
    Full,
}

/// How many build plans a cache keeps (each holds one render's output).
const PLAN_CAPACITY: usize = 16;

impl ParseCache {
    /// A cache holding at most `capacity` parsed files.
    pub fn new(capacity: usize) -> ParseCache {
        ParseCache {
            inner: Arc::new(Mutex::new(Inner {
                capacity: capacity.max(1),
                entries: HashMap::new(),
                order: VecDeque::new(),
                hits: 0,
                misses: 0,
                plans: HashMap::new(),
                plan_order: VecDeque::new(),
                renders: Renders::default(),
                memos: HashMap::new(),
                memo_order: VecDeque::new(),
            })),
        }
    }

    /// How many files came from the cache, and how many were parsed, since it was made.
    pub fn stats(&self) -> (u64, u64) {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (inner.hits, inner.misses)
    }

    /// How the renders given this cache were done.
    pub fn renders(&self) -> Renders {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).renders
    }

    /// Counts a render.
    pub(crate) fn count(&self, kind: RenderKind) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let renders = &mut inner.renders;
        match kind {
            RenderKind::Unchanged => renders.unchanged += 1,
            RenderKind::Incremental => renders.incremental += 1,
            RenderKind::Full => renders.full += 1,
        }
    }

    /// `parse()` of `bytes` read from `file`, as a `T` (`what` tells one kind of parse from
    /// another): from the cache, or parsed and kept. Errors are not kept.
    pub(crate) fn memo<T: Any + Send + Sync, E>(
        &self,
        what: &str,
        file: &str,
        bytes: &[u8],
        parse: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        let mut hasher = Sha256::new();
        for part in [what.as_bytes(), file.as_bytes()] {
            hasher.update(part);
            hasher.update([0]);
        }
        hasher.update(bytes);
        let key: [u8; 32] = hasher.finalize().into();
        {
            let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(found) = inner.memos.get(&key).cloned()
                && let Ok(found) = found.downcast::<T>()
            {
                return Ok(found);
            }
        }
        let parsed = Arc::new(parse()?);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let shared: Arc<dyn Any + Send + Sync> = parsed.clone();
        if inner.memos.insert(key, shared).is_none() {
            inner.memo_order.push_back(key);
        }
        while inner.memos.len() > inner.capacity {
            match inner.memo_order.pop_front() {
                Some(oldest) => {
                    inner.memos.remove(&oldest);
                }
                None => break,
            }
        }
        Ok(parsed)
    }

    /// The plan a renderer kept under `key`.
    pub(crate) fn plan(&self, key: &str) -> Option<Arc<dyn Any + Send + Sync>> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.plans.get(key).cloned()
    }

    /// Keeps `plan` under `key`, forgetting the oldest plan when there are too many.
    pub(crate) fn keep_plan(&self, key: &str, plan: Arc<dyn Any + Send + Sync>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.plans.insert(key.to_owned(), plan).is_none() {
            inner.plan_order.push_back(key.to_owned());
        }
        while inner.plans.len() > PLAN_CAPACITY {
            match inner.plan_order.pop_front() {
                Some(oldest) => {
                    inner.plans.remove(&oldest);
                }
                None => break,
            }
        }
    }

    /// Forgets the plan kept under `key`.
    pub(crate) fn drop_plan(&self, key: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.plans.remove(key).is_some() {
            inner.plan_order.retain(|k| k != key);
        }
    }

    /// The manifests of `bytes`, read from `file`: from the cache, or parsed and kept.
    ///
    /// # Errors
    /// As [`parse_manifests`]; errors are not kept.
    pub fn parse(&self, file: &str, bytes: &[u8]) -> Result<Vec<Manifest>, converge_core::Error> {
        self.parse_identified(file, None, bytes)
    }

    fn key(parts: &[&[u8]]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update(part);
            hasher.update([0]);
        }
        hasher.finalize().into()
    }

    /// The manifests of `file` whose contents the tree names `id` (see
    /// [`FileTree::content_id`](converge_core::FileTree::content_id)), if they were parsed
    /// before: no need to read the file.
    pub(crate) fn by_id(&self, file: &str, id: &str) -> Option<Vec<Manifest>> {
        let key = ParseCache::key(&[b"id", file.as_bytes(), id.as_bytes()]);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let found = inner.entries.get(&key).cloned()?;
        inner.hits += 1;
        Some(found)
    }

    /// As [`parse`](ParseCache::parse), also keeping the result under the tree's `id` for the
    /// contents when it has one.
    pub(crate) fn parse_identified(
        &self,
        file: &str,
        id: Option<&str>,
        bytes: &[u8],
    ) -> Result<Vec<Manifest>, converge_core::Error> {
        let key = ParseCache::key(&[file.as_bytes(), bytes]);
        let found = {
            let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            let found = inner.entries.get(&key).cloned();
            if found.is_some() {
                inner.hits += 1;
            }
            found
        };
        let manifests = match found {
            Some(found) => found,
            None => {
                // Parse outside the lock: other renders go on meanwhile.
                let parsed = parse_manifests(file, bytes)?;
                let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
                inner.misses += 1;
                inner.keep(key, &parsed);
                parsed
            }
        };
        if let Some(id) = id {
            let by_id = ParseCache::key(&[b"id", file.as_bytes(), id.as_bytes()]);
            self.inner
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .keep(by_id, &manifests);
        }
        Ok(manifests)
    }
}

impl Inner {
    /// Keeps `manifests` under `key`, the oldest entries making room.
    fn keep(&mut self, key: [u8; 32], manifests: &[Manifest]) {
        if self.entries.insert(key, manifests.to_vec()).is_none() {
            self.order.push_back(key);
        }
        while self.entries.len() > self.capacity {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.entries.remove(&oldest);
                }
                None => break,
            }
        }
    }
}
