//! The error type of `converge-diff`.

/// Everything that can go wrong when comparing manifests.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// One side of a comparison defines an object twice.
    #[error("the {side} set defines an object twice")]
    Duplicate {
        /// Which side: the label of the base or head set.
        side: String,
        /// The duplicate, with both origins.
        #[source]
        source: converge_core::Error,
    },
    /// A patch document is malformed (not a list of operations, an unknown op, a bad pointer).
    #[error("invalid patch: {reason}")]
    InvalidPatch {
        /// What is wrong with it.
        reason: String,
    },
    /// A well-formed patch does not apply to the document: a path that does not exist, a
    /// failed `test`, an index out of range. The document is left as it was.
    #[error("patch operation {index} ({op} {path}) failed: {reason}")]
    PatchFailed {
        /// 0-based index of the failing operation.
        index: usize,
        /// The operation (`add`, `remove`, …).
        op: String,
        /// Its target path.
        path: String,
        /// Why it failed.
        reason: String,
    },
    /// A three-way patch would overwrite changes made to the live object by someone else.
    #[error("the live object changed {} that the patch also changes: {}", if .paths.len() == 1 { "a field" } else { "fields" }, .paths.join(", "))]
    Conflict {
        /// The conflicting fields, as JSON Pointers.
        paths: Vec<String>,
    },
    /// A server-side apply would change fields other managers own, and was not forced.
    #[error("{message}")]
    ApplyConflict {
        /// The message, worded as the API server (or structured-merge-diff) words it.
        message: String,
        /// Each conflicting field with its owner.
        conflicts: Vec<crate::ManagerConflict>,
    },
    /// A CustomResourceDefinition's schema cannot be read.
    #[error("invalid CustomResourceDefinition {crd}: {reason}")]
    InvalidSchema {
        /// `metadata.name` of the definition, or `(unnamed)`.
        crd: String,
        /// What is wrong, with the path of the schema node where it is.
        reason: String,
    },
    /// An OpenAPI document's definitions cannot be read as a schema.
    #[error("invalid OpenAPI document: {reason}")]
    InvalidOpenApi {
        /// What is wrong, with the name of the definition and the path inside it.
        reason: String,
    },
    /// Two documents, or a document and a strategic merge patch, cannot be merged or compared
    /// under their schema: a field the schema does not have where its patch metadata is needed
    /// (apimachinery's `unable to find api field`), an object where the schema has a list, items
    /// of a merging list without their merge key, a list of lists.
    #[error("cannot merge {}: {reason}", if .path.is_empty() { "the document" } else { .path.as_str() })]
    Unmergeable {
        /// Where, as a JSON Pointer into the document (or the patch, when applying one).
        path: String,
        /// Why.
        reason: String,
    },
    /// An object could not be written as text for display.
    #[error("cannot show {id} as YAML")]
    Encode {
        /// The object.
        id: String,
        /// The codec's error.
        #[source]
        source: converge_core::Error,
    },
}
