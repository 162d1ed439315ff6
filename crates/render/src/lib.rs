#![doc = include_str!("../README.md")]

mod auto;
mod cache;
mod error;
mod helm;
mod kustomize;
mod plain;
mod substitute;

pub use auto::{Auto, TreeKind};
pub use cache::{ParseCache, Renders};
pub use error::Error;
pub use helm::Helm;
pub use kustomize::{Kustomize, LoadRestrictor, is_cluster_scoped};
pub use plain::PlainYaml;
pub use substitute::{SUBSTITUTE_ANNOTATION, Substitute, substitute_manifests, substitute_text};

use async_trait::async_trait;
use converge_core::{FileTree, Manifest};

/// Turns the files of a tree into Kubernetes manifests.
///
/// `path` is a directory or a file inside `tree` (`""` is its root). An implementation
/// guarantees:
/// - **deterministic output**: the same tree and path give the same manifests in the same
///   order;
/// - **all or nothing**: an error means no manifests, never a partial set a caller might apply
///   (and prune against);
/// - **no duplicates**: no two manifests share an [`ObjectKey`](converge_core::ObjectKey); a
///   second definition is an error naming both origins;
/// - **origins**: every manifest's [`Origin`](converge_core::Origin) names the file (and line,
///   where there is one) it came from.
///
/// Renderers do not touch the network or the cluster. They may read the tree synchronously
/// (the plain renderer does): for trees on slow storage, run the pipeline where blocking a
/// runtime thread is acceptable, or on a multi-threaded runtime. The trait is object-safe, so pipelines
/// hold an `Arc<dyn Renderer>`; write your own for a templating tool Converge does not know:
///
/// ```
/// use async_trait::async_trait;
/// use converge_core::{FileTree, Manifest, Origin};
/// use converge_render::{Error, Renderer};
///
/// /// Renders one ConfigMap holding the file names it was given.
/// #[derive(Debug)]
/// struct Inventory;
///
/// #[async_trait]
/// impl Renderer for Inventory {
///     async fn render(&self, tree: &dyn FileTree, path: &str) -> Result<Vec<Manifest>, Error> {
///         let files = converge_core::walk_files(tree, path)?;
///         let object = serde_json::json!({
///             "apiVersion": "v1", "kind": "ConfigMap",
///             "metadata": {"name": "inventory"},
///             "data": {"files": files.join(",")},
///         });
///         Ok(vec![Manifest::new(object, Origin::new(path, 0, 0))?])
///     }
/// }
/// ```
#[async_trait]
pub trait Renderer: Send + Sync + std::fmt::Debug {
    /// Renders the manifests under `path` in `tree`.
    ///
    /// # Errors
    /// Whatever stops a full, unambiguous render: a missing path, a file that does not parse
    /// (naming file and line), a document that is not a Kubernetes object, an object defined
    /// twice.
    async fn render(&self, tree: &dyn FileTree, path: &str) -> Result<Vec<Manifest>, Error>;
}
