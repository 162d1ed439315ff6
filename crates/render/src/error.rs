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
    /// The path holds no YAML or JSON file at all.
    #[error("{path}: no .yaml, .yml or .json files to render")]
    NothingToRender {
        /// The path that was rendered.
        path: String,
    },
}
