//! The error type of `converge-core`.

/// Everything that can go wrong when reading trees and decoding manifests.
///
/// Each variant names the file (and line, where there is one) or the path it is about, so an
/// error can be shown to a user as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A label selector that cannot be read.
    #[error("invalid label selector {selector:?}: {reason}")]
    InvalidSelector {
        /// The selector as given.
        selector: String,
        /// What in it is wrong.
        reason: String,
    },
    /// A document is not valid YAML or JSON.
    #[error("{file}:{line}:{column}: invalid {format}: {message}")]
    Syntax {
        /// The file, relative to the tree it was read from.
        file: String,
        /// 1-based line of the error (0 when the parser could not tell).
        line: u64,
        /// 1-based column of the error (0 when the parser could not tell).
        column: u64,
        /// `YAML` or `JSON`.
        format: &'static str,
        /// What the parser said.
        message: String,
    },
    /// A document parsed, but is not a Kubernetes object (no `apiVersion`, `kind` or
    /// `metadata.name`, or not a mapping at all).
    #[error("{file}:{line}: document {document} is not a Kubernetes object: {reason}")]
    NotAnObject {
        /// The file, relative to the tree it was read from.
        file: String,
        /// 1-based line where the document starts.
        line: u64,
        /// 0-based index of the document in the file (empty documents not counted).
        document: usize,
        /// What is missing or wrong.
        reason: String,
    },
    /// A `kind: List` (or other `*List`) document is malformed.
    #[error("{file}:{line}: {reason}")]
    InvalidList {
        /// The file holding the list.
        file: String,
        /// 1-based line of the list document.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// Two manifests describe the same object (same group, kind, namespace and name).
    #[error("{id} is defined twice: in {first} and in {second}")]
    Duplicate {
        /// The object, as `ObjectKey` displays it.
        id: String,
        /// Where it is defined first (`file:line`).
        first: String,
        /// Where it is defined again (`file:line`).
        second: String,
    },
    /// A path does not exist in the tree.
    #[error("{path}: no such file or directory")]
    NotFound {
        /// The path that was asked for.
        path: String,
    },
    /// A path is not acceptable: absolute, escaping the tree's root with `..`, or of the wrong
    /// kind (a directory where a file was expected, say).
    #[error("{path}: {reason}")]
    InvalidPath {
        /// The path that was given.
        path: String,
        /// Why it was refused.
        reason: String,
    },
    /// Reading from the file system failed.
    #[error("{path}: cannot read")]
    Io {
        /// The path that failed.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A value could not be written as YAML or JSON.
    #[error("cannot encode {what}: {message}")]
    Encode {
        /// What was being written.
        what: String,
        /// What the encoder said.
        message: String,
    },
}
