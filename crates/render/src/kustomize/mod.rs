//! Kustomize-compatible overlays, rendered natively.

mod build;
mod config;
mod fieldspec;
mod generate;
mod incremental;
mod nameref;
mod order;
mod patch;
mod plugins;
mod replace;
mod resource;
mod select;
mod transform;
mod types;
mod vars;

pub use resource::is_cluster_scoped;

use async_trait::async_trait;
use converge_core::{FileTree, Manifest, index_by_key, normalize_path};

use crate::cache::RenderKind;
use crate::{Error, Renderer};

/// Renders a kustomization as `kubectl kustomize` (kustomize v5.7) does, without kustomize:
/// resources, components, generators, patches and the built-in transformers, with the patch
/// algebra of `converge-diff`.
///
/// `path` is the directory holding the kustomization file (`kustomization.yaml`,
/// `kustomization.yml` or `Kustomization`). The output is in kustomize's legacy kind order
/// (Namespaces and CRDs first) unless the kustomization asks for `sortOptions: {order: fifo}`.
/// Remote resources and exec and Go plugins are refused with a clear error; `helmCharts` are
/// rendered with helm when [`Kustomize::with_helm`] enables them.
///
/// ```
/// use converge_core::DirTree;
/// use converge_render::{Kustomize, Renderer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("kustomization.yaml"), "\
/// namePrefix: prod-
/// namespace: shop
/// resources: [web.yaml]
/// configMapGenerator:
/// - name: settings
///   literals: [color=blue]
/// ")?;
/// std::fs::write(dir.path().join("web.yaml"), "\
/// apiVersion: v1
/// kind: Pod
/// metadata: {name: web}
/// spec:
///   containers:
///   - name: web
///     image: nginx
///     envFrom: [{configMapRef: {name: settings}}]
/// ")?;
/// let manifests = Kustomize::new().render(&DirTree::new(dir.path())?, "").await?;
/// let ids: Vec<String> = manifests.iter().map(|m| m.id().to_string()).collect();
/// assert_eq!(ids, ["v1 ConfigMap shop/prod-settings-747dfcb89d", "v1 Pod shop/prod-web"]);
/// // The reference follows the generated name.
/// assert_eq!(
///     manifests[1].object()["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"],
///     "prod-settings-747dfcb89d"
/// );
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Kustomize {
    load_restrictor: LoadRestrictor,
    helm: Option<crate::Helm>,
    cache: Option<crate::ParseCache>,
}

/// Which files a kustomization may read, as kustomize's `--load-restrictor`: the tree the
/// renderer is given bounds them either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadRestrictor {
    /// Patches, generator sources, configurations and resource files must lie in or below
    /// the directory of the kustomization that names them (kustomize's default).
    #[default]
    RootOnly,
    /// Any file of the tree (kustomize's `LoadRestrictionsNone`).
    None,
}

impl Kustomize {
    /// The kustomize renderer.
    pub fn new() -> Kustomize {
        Kustomize::default()
    }

    /// Renders `helmCharts` (charts vendored in the chart home, `charts/` by default) with
    /// `helm`, as `kubectl kustomize --enable-helm` does; without it they are refused.
    ///
    /// ```
    /// use converge_render::{Helm, Kustomize};
    /// let renderer = Kustomize::new().with_helm(Helm::new());
    /// # let _ = renderer;
    /// ```
    pub fn with_helm(mut self, helm: crate::Helm) -> Kustomize {
        self.helm = Some(helm);
        self
    }

    /// Keeps parsed resource files in `cache` (shared with other renderers it is given to):
    /// a re-render parses only the files that changed.
    pub fn with_cache(mut self, cache: crate::ParseCache) -> Kustomize {
        self.cache = Some(cache);
        self
    }

    /// Sets which files kustomizations may read.
    ///
    /// ```
    /// use converge_render::{Kustomize, LoadRestrictor};
    /// let renderer = Kustomize::new().with_load_restrictor(LoadRestrictor::None);
    /// # let _ = renderer;
    /// ```
    pub fn with_load_restrictor(mut self, restrictor: LoadRestrictor) -> Kustomize {
        self.load_restrictor = restrictor;
        self
    }

    /// Whether `dir` in `tree` holds a kustomization file.
    pub fn detects(tree: &dyn FileTree, dir: &str) -> bool {
        types::FILE_NAMES.iter().any(|name| {
            tree.kind(&build::join(dir, name))
                .ok()
                .flatten()
                .is_some_and(|k| k == converge_core::EntryKind::File)
        })
    }

    /// Renders synchronously; [`Renderer::render`] runs this.
    ///
    /// # Errors
    /// [`Error::Kustomize`] naming the kustomization file and what in it failed.
    pub fn render_sync(&self, tree: &dyn FileTree, path: &str) -> Result<Vec<Manifest>, Error> {
        let dir = normalize_path(path)?;
        let Some(cache) = &self.cache else {
            let resources = self.builder(tree).build(&dir).map_err(failure)?;
            return finish(resources);
        };
        let key = format!(
            "kustomize\0{:?}\0{}\0{dir}",
            self.load_restrictor,
            self.helm.is_some()
        );
        let plan = cache
            .plan(&key)
            .and_then(|plan| plan.downcast::<incremental::Plan>().ok());
        if let Some(plan) = plan {
            match plan.check(tree) {
                incremental::Outcome::Unchanged(manifests) => {
                    cache.count(RenderKind::Unchanged);
                    return Ok(manifests);
                }
                incremental::Outcome::Changed(changed) => {
                    if let Some(manifests) = self.rebuild_changed(tree, &dir, &plan, changed) {
                        let (manifests, next) = manifests;
                        cache.keep_plan(&key, std::sync::Arc::new(next));
                        cache.count(RenderKind::Incremental);
                        return Ok(manifests);
                    }
                }
                incremental::Outcome::Rebuild => {}
            }
        }
        cache.count(RenderKind::Full);
        let recorder = incremental::Recorder::new(tree);
        let mut builder = self.builder(&recorder).recording(&recorder);
        let built = builder.build(&dir);
        let (local, inflated) = (builder.local, builder.inflated);
        drop(builder);
        let built = built.map_err(failure).and_then(|resources| {
            let manifests = finish(resources.clone())?;
            Ok((resources, manifests))
        });
        let (resources, manifests) = match built {
            Ok(built) => built,
            Err(e) => {
                cache.drop_plan(&key);
                return Err(e);
            }
        };
        if inflated {
            cache.drop_plan(&key);
        } else {
            let plan = incremental::Plan::new(recorder, local, &resources, &manifests);
            cache.keep_plan(&key, std::sync::Arc::new(plan));
        }
        Ok(manifests)
    }

    fn builder<'t>(&'t self, tree: &'t dyn FileTree) -> build::Builder<'t> {
        let restricted = self.load_restrictor == LoadRestrictor::RootOnly;
        build::Builder::new(tree, restricted, self.helm.as_ref(), self.cache.as_ref())
    }

    /// Re-renders after only resource files changed (see `incremental`): the output and the
    /// next plan, or `None` when a full build is needed.
    fn rebuild_changed(
        &self,
        tree: &dyn FileTree,
        dir: &str,
        plan: &incremental::Plan,
        changed: std::collections::HashMap<String, Vec<u8>>,
    ) -> Option<(Vec<Manifest>, incremental::Plan)> {
        let cache = self.cache.as_ref()?;
        for (path, bytes) in &changed {
            let resources: Vec<resource::Resource> = cache
                .parse(path, bytes)
                .ok()?
                .into_iter()
                .map(|m| {
                    let origin = m.origin().clone();
                    resource::Resource::new(m.into_object(), origin)
                })
                .collect();
            if !plan.same_ids(path, &resources) {
                return None;
            }
        }
        let changed: std::collections::HashSet<String> = changed.into_keys().collect();
        let skip = plan
            .files()
            .filter(|path| !changed.contains(*path))
            .cloned()
            .collect();
        // `check` has just read every resource file.
        let recorder = incremental::Recorder::knowing(tree, plan.files().cloned().collect());
        let reduced = self
            .builder(&recorder)
            .recording(&recorder)
            .reduced(skip, plan.ghosts(&changed))
            .build(dir)
            .ok()?;
        plan.splice(recorder, reduced, &changed)
    }
}

/// The build failure as the renderer's error.
fn failure(f: build::Failure) -> Error {
    Error::Kustomize {
        file: if f.file.is_empty() {
            ".".to_owned()
        } else {
            f.file
        },
        message: f.message,
    }
}

/// The built resources as manifests, refusing two with one key.
fn finish(resources: Vec<resource::Resource>) -> Result<Vec<Manifest>, Error> {
    let manifests = resources
        .into_iter()
        .map(|r| Manifest::new(r.object, r.origin))
        .collect::<Result<Vec<_>, _>>()?;
    index_by_key(&manifests)?;
    Ok(manifests)
}

#[async_trait]
impl Renderer for Kustomize {
    async fn render(&self, tree: &dyn FileTree, path: &str) -> Result<Vec<Manifest>, Error> {
        self.render_sync(tree, path)
    }
}
