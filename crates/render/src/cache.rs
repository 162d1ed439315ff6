//! Parsed files by content, so that a re-render parses only what changed.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use converge_core::{Manifest, parse_manifests};
use sha2::{Digest, Sha256};

/// A bounded cache of parsed manifest files, keyed by path and content (SHA-256), shared by
/// every renderer it is given to and safe to use from several renders at once.
///
/// A controller re-renders the same tree after every commit, and most files did not change:
/// with a cache, a re-render reads every file but parses only the changed ones. When the
/// cache holds `capacity` files, the oldest entries make room.
///
/// ```
/// use converge_core::DirTree;
/// use converge_render::{Kustomize, ParseCache};
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("kustomization.yaml"), "resources: [a.yaml, b.yaml]\n")?;
/// std::fs::write(dir.path().join("a.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")?;
/// std::fs::write(dir.path().join("b.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")?;
/// let cache = ParseCache::new(1_000);
/// let renderer = Kustomize::new().with_cache(cache.clone());
/// renderer.render_sync(&DirTree::new(dir.path())?, "")?;
/// std::fs::write(dir.path().join("b.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")?;
/// renderer.render_sync(&DirTree::new(dir.path())?, "")?;
/// assert_eq!(cache.stats(), (1, 3)); // a.yaml came from the cache; b.yaml was parsed twice
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
}

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
            })),
        }
    }

    /// How many files came from the cache, and how many were parsed, since it was made.
    pub fn stats(&self) -> (u64, u64) {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (inner.hits, inner.misses)
    }

    /// The manifests of `bytes`, read from `file`: from the cache, or parsed and kept.
    ///
    /// # Errors
    /// As [`parse_manifests`]; errors are not kept.
    pub fn parse(&self, file: &str, bytes: &[u8]) -> Result<Vec<Manifest>, converge_core::Error> {
        let mut hasher = Sha256::new();
        hasher.update(file.as_bytes());
        hasher.update([0]);
        hasher.update(bytes);
        let key: [u8; 32] = hasher.finalize().into();
        {
            let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(found) = inner.entries.get(&key).cloned() {
                inner.hits += 1;
                return Ok(found);
            }
        }
        // Parse outside the lock: other renders go on meanwhile.
        let manifests = parse_manifests(file, bytes)?;
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.misses += 1;
        if inner.entries.insert(key, manifests.clone()).is_none() {
            inner.order.push_back(key);
        }
        while inner.entries.len() > inner.capacity {
            match inner.order.pop_front() {
                Some(oldest) => {
                    inner.entries.remove(&oldest);
                }
                None => break,
            }
        }
        Ok(manifests)
    }
}
