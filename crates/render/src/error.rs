//! The error type of `converge-render`.

/// Everything that can stop a render.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or decoding the tree failed: a missing path, a syntax error, a document that is
    /// not a Kubernetes object, or an object defined twice. The inner error names the file and
    /// line.
    #[error(transparent)]
    Core(#[from] converge_core::Error),
    /// A `${VAR}` substitution failed: a variable with neither a value nor a default in
    /// strict mode, or a reference that does not parse.
    #[error("{object}: substitution: {message}")]
    Substitution {
        /// The object (`kind namespace/name`) or file whose text was being substituted.
        object: String,
        /// What failed.
        message: String,
    },
    /// Rendering a Helm chart failed: `helm` is missing or failed, or printed something that
    /// is not manifests.
    #[error("helm chart {chart}: {message}")]
    Helm {
        /// The chart's path in the tree.
        chart: String,
        /// What failed, with helm's own message when it has one.
        message: String,
    },
    /// A kustomization could not be built: the file named, and what in it failed.
    #[error("{file}: {message}")]
    Kustomize {
        /// The kustomization file (or the directory that lacks one).
        file: String,
        /// What failed: the entry, the resource, the reason.
        message: String,
    },
    /// The path holds no YAML or JSON file at all.
    #[error("{path}: no .yaml, .yml or .json files to render")]
    NothingToRender {
        /// The path that was rendered.
        path: String,
    },
}
