//! The plain renderer: YAML and JSON files as they are.

use async_trait::async_trait;
use converge_core::{
    EntryKind, FileTree, Manifest, index_by_key, normalize_path, parse_manifests, walk_files,
};

use crate::{Error, Renderer};

/// Renders plain YAML and JSON files, as `kubectl apply -f DIR -R` reads them.
///
/// - `path` may be a file or a directory; directories are read recursively, files and
///   directories whose name starts with `.` are skipped.
/// - Files ending in `.yaml`, `.yml` or `.json` are read (any name, when `path` is a file);
///   others are ignored.
/// - Files are read in lexicographic path order, documents in file order, so the output order
///   is stable.
/// - Every non-empty document must be a Kubernetes object (`apiVersion`, `kind`,
///   `metadata.name`); a document that is not is an error naming file, document and line —
///   this catches templates and configuration files that do not belong in a manifest tree.
/// - `kind: List` and other `*List` kinds with an `items` list are flattened into their items.
/// - Two documents for one object (same group, kind, namespace and name) are an error that
///   names both files.
///
/// ```
/// use converge_core::DirTree;
/// use converge_render::{PlainYaml, Renderer};
///
/// # tokio_test();
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn tokio_test() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("app.yaml"), "\
/// apiVersion: v1
/// kind: List
/// items:
/// - apiVersion: v1
///   kind: ConfigMap
///   metadata: {name: settings}
/// - apiVersion: v1
///   kind: Service
///   metadata: {name: web}
/// ")?;
/// let manifests = PlainYaml::new().render(&DirTree::new(dir.path())?, "").await?;
/// let ids: Vec<String> = manifests.iter().map(|m| m.id().to_string()).collect();
/// assert_eq!(ids, ["v1 ConfigMap settings", "v1 Service web"]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PlainYaml {}

impl PlainYaml {
    /// The plain renderer.
    pub fn new() -> Self {
        PlainYaml {}
    }

    /// Renders synchronously; [`Renderer::render`] runs this.
    ///
    /// # Errors
    /// As [`Renderer::render`].
    pub fn render_sync(&self, tree: &dyn FileTree, path: &str) -> Result<Vec<Manifest>, Error> {
        let root = normalize_path(path)?;
        let single_file = tree.kind(&root)? == Some(EntryKind::File);
        let files = walk_files(tree, &root)?;
        let mut manifests = Vec::new();
        let mut read_any = false;
        for file in files.iter().filter(|f| single_file || is_manifest_file(f)) {
            read_any = true;
            manifests.extend(parse_manifests(file, &tree.read(file)?)?);
        }
        if !read_any {
            return Err(Error::NothingToRender {
                path: if root.is_empty() {
                    ".".to_owned()
                } else {
                    root
                },
            });
        }
        index_by_key(&manifests)?;
        Ok(manifests)
    }
}

#[async_trait]
impl Renderer for PlainYaml {
    async fn render(&self, tree: &dyn FileTree, path: &str) -> Result<Vec<Manifest>, Error> {
        self.render_sync(tree, path)
    }
}

fn is_manifest_file(path: &str) -> bool {
    [".yaml", ".yml", ".json"]
        .iter()
        .any(|ext| path.ends_with(ext))
}
