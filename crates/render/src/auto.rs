//! The renderer chosen by what the path holds.

use async_trait::async_trait;
use converge_core::{EntryKind, FileTree, Manifest, normalize_path};

use crate::{Error, Helm, Kustomize, PlainYaml, Renderer};

/// What a path holds, as [`Auto`] tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TreeKind {
    /// A directory with a kustomization file: rendered with [`Kustomize`].
    Kustomization,
    /// A directory with a `Chart.yaml`: rendered with [`Helm`].
    HelmChart,
    /// Anything else: plain YAML and JSON, rendered with [`PlainYaml`].
    Plain,
}

/// Renders a path with the renderer its content calls for, as Flux's kustomize-controller and
/// Argo CD decide: a kustomization file makes it an overlay ([`Kustomize`]), a `Chart.yaml` a
/// Helm chart ([`Helm`]), anything else plain manifests ([`PlainYaml`]).
///
/// ```
/// use converge_core::DirTree;
/// use converge_render::{Auto, Renderer, TreeKind};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// std::fs::create_dir(dir.path().join("overlay"))?;
/// std::fs::write(dir.path().join("overlay/kustomization.yaml"), "namePrefix: dev-\nresources: [app.yaml]\n")?;
/// std::fs::write(dir.path().join("overlay/app.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n")?;
/// let tree = DirTree::new(dir.path())?;
/// assert_eq!(Auto::detect(&tree, "overlay")?, TreeKind::Kustomization);
/// assert_eq!(Auto::detect(&tree, "")?, TreeKind::Plain);
/// let manifests = Auto::new().render(&tree, "overlay").await?;
/// assert_eq!(manifests[0].id().to_string(), "v1 ConfigMap dev-app");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Auto {
    kustomize: Kustomize,
    helm: Helm,
    plain: PlainYaml,
}

impl Default for Auto {
    fn default() -> Self {
        Auto {
            kustomize: Kustomize::new().with_helm(Helm::new()),
            helm: Helm::new(),
            plain: PlainYaml::new(),
        }
    }
}

impl Auto {
    /// Kustomize (with `helmCharts` rendered by helm), Helm and plain YAML with their
    /// defaults.
    pub fn new() -> Auto {
        Auto::default()
    }

    /// Renders kustomizations with `kustomize` (give it a [`ParseCache`](crate::ParseCache)
    /// with [`Kustomize::with_cache`] to re-render cheaply).
    pub fn with_kustomize(mut self, kustomize: Kustomize) -> Auto {
        self.kustomize = kustomize;
        self
    }

    /// Renders charts with `helm`.
    pub fn with_helm(mut self, helm: Helm) -> Auto {
        self.helm = helm;
        self
    }

    /// What `path` in `tree` holds.
    ///
    /// # Errors
    /// [`Error::Core`] for a path that leaves the tree or cannot be read.
    pub fn detect(tree: &dyn FileTree, path: &str) -> Result<TreeKind, Error> {
        let dir = normalize_path(path)?;
        if tree.kind(&dir)? != Some(EntryKind::Dir) {
            return Ok(TreeKind::Plain);
        }
        if Kustomize::detects(tree, &dir) {
            return Ok(TreeKind::Kustomization);
        }
        let chart = if dir.is_empty() {
            "Chart.yaml".to_owned()
        } else {
            format!("{dir}/Chart.yaml")
        };
        if tree.kind(&chart)? == Some(EntryKind::File) {
            return Ok(TreeKind::HelmChart);
        }
        Ok(TreeKind::Plain)
    }
}

#[async_trait]
impl Renderer for Auto {
    async fn render(&self, tree: &dyn FileTree, path: &str) -> Result<Vec<Manifest>, Error> {
        match Auto::detect(tree, path)? {
            TreeKind::Kustomization => self.kustomize.render(tree, path).await,
            TreeKind::HelmChart => self.helm.render(tree, path).await,
            TreeKind::Plain => self.plain.render(tree, path).await,
        }
    }
}
