//! The pipeline: source → render → diff (→ apply, with `converge-apply`).

use std::path::Path;
use std::sync::Arc;

use converge_core::Manifest;
use converge_diff::{Normalizer, SetDiff};
use converge_render::Renderer;
use converge_source::{GitOptions, GitSource, LocalDir, Reference, Revision, Source};

/// Everything that can stop a pipeline, saying which stage failed; the stage's own error,
/// naming the file, line or ref, is the [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The source could not resolve or fetch a reference.
    #[error("cannot fetch {reference}")]
    Source {
        /// The reference asked for.
        reference: String,
        /// What the source said.
        #[source]
        source: Box<converge_source::Error>,
    },
    /// Rendering a revision failed.
    #[error("cannot render {path} at {revision}")]
    Render {
        /// The path rendered (`.` for the root).
        path: String,
        /// The revision rendered.
        revision: String,
        /// What the renderer said.
        #[source]
        source: Box<converge_render::Error>,
    },
    /// Comparing two revisions failed.
    #[error("cannot compare {base} with {head}")]
    Diff {
        /// The base revision.
        base: String,
        /// The head revision.
        head: String,
        /// What the diff engine said.
        #[source]
        source: Box<converge_diff::Error>,
    },
}

/// One rendered revision.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Rendered {
    /// The revision that was rendered.
    pub revision: Revision,
    /// Its manifests, in the renderer's order.
    pub manifests: Vec<Manifest>,
}

/// Two revisions compared object by object.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RevisionDiff {
    /// The base revision.
    pub base: Revision,
    /// The head revision.
    pub head: Revision,
    /// Every object of either revision with what happened to it.
    pub diff: SetDiff,
}

/// Wires a [`Source`] and a [`Renderer`]: fetch a revision, render a path of it, compare two
/// revisions. (Applying to a cluster joins with `converge-apply`.)
///
/// ```
/// use converge::Pipeline;
/// use converge::render::PlainYaml;
/// use converge::source::{LocalDir, Reference};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// std::fs::create_dir(dir.path().join("deploy"))?;
/// std::fs::write(dir.path().join("deploy/ns.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n")?;
///
/// let pipeline = Pipeline::new(LocalDir::new(dir.path()), PlainYaml::new()).with_path("deploy");
/// let rendered = pipeline.render(&Reference::Default).await?;
/// assert_eq!(rendered.manifests[0].id().to_string(), "v1 Namespace prod");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Pipeline {
    source: Arc<dyn Source>,
    renderer: Arc<dyn Renderer>,
    path: String,
    normalizer: Normalizer,
}

impl Pipeline {
    /// A pipeline rendering the whole tree of `source` with `renderer`.
    pub fn new(source: impl Source + 'static, renderer: impl Renderer + 'static) -> Self {
        Pipeline::from_shared(Arc::new(source), Arc::new(renderer))
    }

    /// A pipeline over a source and a renderer that are shared with other pipelines.
    pub fn from_shared(source: Arc<dyn Source>, renderer: Arc<dyn Renderer>) -> Self {
        Pipeline {
            source,
            renderer,
            path: String::new(),
            normalizer: Normalizer::default(),
        }
    }

    /// Renders only `path` (a directory or a file) of each revision.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Compares revisions after `normalizer` (by default: server-set fields and `status` are
    /// not compared).
    pub fn with_normalizer(mut self, normalizer: Normalizer) -> Self {
        self.normalizer = normalizer;
        self
    }

    /// The source.
    pub fn source(&self) -> &Arc<dyn Source> {
        &self.source
    }

    /// Fetches `reference` and renders it.
    ///
    /// # Errors
    /// [`Error::Source`] when the reference cannot be fetched, [`Error::Render`] when the
    /// revision does not render.
    pub async fn render(&self, reference: &Reference) -> Result<Rendered, Error> {
        self.render_revision(reference, false).await
    }

    /// Fetches and renders `reference`; with `missing_is_empty`, a revision that lacks the
    /// path renders to nothing instead of failing.
    async fn render_revision(
        &self,
        reference: &Reference,
        missing_is_empty: bool,
    ) -> Result<Rendered, Error> {
        let snapshot = self
            .source
            .fetch(reference)
            .await
            .map_err(|source| Error::Source {
                reference: reference.to_string(),
                source: Box::new(source),
            })?;
        let render_error = |source| Error::Render {
            path: if self.path.is_empty() {
                ".".to_owned()
            } else {
                self.path.clone()
            },
            revision: snapshot.revision.to_string(),
            source: Box::new(source),
        };
        let absent = snapshot
            .tree
            .kind(&self.path)
            .map_err(|e| render_error(e.into()))?
            .is_none();
        let manifests = if missing_is_empty && absent {
            Vec::new()
        } else {
            self.renderer
                .render(snapshot.tree.as_ref(), &self.path)
                .await
                .map_err(render_error)?
        };
        Ok(Rendered {
            revision: snapshot.revision,
            manifests,
        })
    }

    /// Renders `base` and `head` and compares them object by object.
    ///
    /// A revision that does not have the path at all renders to no objects, so a change that
    /// adds (or removes) a whole environment shows as every object added (or removed). The path
    /// must exist in at least one of the two.
    ///
    /// # Errors
    /// As [`Pipeline::render`] for either revision.
    pub async fn diff(&self, base: &Reference, head: &Reference) -> Result<RevisionDiff, Error> {
        let old = self.render_revision(base, true).await?;
        let new = self.render_revision(head, true).await?;
        if old.manifests.is_empty() && new.manifests.is_empty() {
            // Neither side has anything: say why when the path is missing on both.
            self.render(head).await?;
        }
        let diff =
            converge_diff::compare(old.manifests, new.manifests).map_err(|source| Error::Diff {
                base: old.revision.to_string(),
                head: new.revision.to_string(),
                source: Box::new(source),
            })?;
        Ok(RevisionDiff {
            base: old.revision,
            head: new.revision,
            diff,
        })
    }
}

/// The source a command line means by `location`: a git URL (`file://`, `https://`,
/// `ssh://`, `git://`, `user@host:path`) is a [`GitSource`]; a directory is read as it is
/// ([`LocalDir`]) unless `needs_revisions` asks for branches, tags or commits, when the
/// directory is opened as a git repository.
///
/// `cache_dir` keeps the git cache across runs.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let plain = converge::source_for(dir.path().to_str().unwrap(), false, None)?;
/// assert!(format!("{plain:?}").starts_with("LocalDir"));
/// let git = converge::source_for("file:///srv/git/fleet.git", true, None)?;
/// assert!(format!("{git:?}").starts_with("GitSource"));
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`Error::Source`] when the git cache cannot be set up.
pub fn source_for(
    location: &str,
    needs_revisions: bool,
    cache_dir: Option<&Path>,
) -> Result<Arc<dyn Source>, Error> {
    let is_url = location.contains("://")
        || (location.contains('@') && location.contains(':') && !Path::new(location).exists());
    if !is_url && !needs_revisions {
        return Ok(Arc::new(LocalDir::new(location)));
    }
    let mut options = GitOptions::default();
    if let Some(dir) = cache_dir {
        options = options.with_cache_dir(dir);
    }
    let source = GitSource::with_options(location, options).map_err(|source| Error::Source {
        reference: location.to_owned(),
        source: Box::new(source),
    })?;
    Ok(Arc::new(source))
}
