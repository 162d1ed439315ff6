//! The error type of `converge-source`.

/// Everything that can go wrong when resolving or fetching a revision.
///
/// URLs in messages never carry credentials: user names and passwords are removed before a URL
/// is shown.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The reference does not exist on the remote (or in the directory).
    #[error("{reference} not found in {url}{}", candidates_hint(.candidates))]
    RefNotFound {
        /// The reference, as [`Reference`](crate::Reference) displays it.
        reference: String,
        /// The remote, without credentials.
        url: String,
        /// Names that do exist and look close, best first.
        candidates: Vec<String>,
    },
    /// The reference points at something that is not a commit (a tag of a tree, say).
    #[error("{reference} in {url} points at a {kind}, not a commit")]
    NotACommit {
        /// The reference.
        reference: String,
        /// The remote, without credentials.
        url: String,
        /// What it points at (`tree`, `blob`).
        kind: String,
    },
    /// The reference cannot be read: a semver range that does not parse.
    #[error("invalid reference {reference}: {reason}")]
    InvalidReference {
        /// The reference, as [`Reference`](crate::Reference) displays it.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// This source cannot serve this kind of request.
    #[error("{implementation} does not support {operation}")]
    Unsupported {
        /// What was asked (`branch main`).
        operation: String,
        /// The source implementation (`LocalDir`).
        implementation: &'static str,
    },
    /// Talking to the remote or reading the repository failed.
    #[error("git: {url}: {message}")]
    Git {
        /// The remote, without credentials.
        url: String,
        /// What failed, with its causes.
        message: String,
    },
    /// The local cache could not be created or used.
    #[error("cache {path}: {message}")]
    Cache {
        /// The cache directory.
        path: String,
        /// What failed.
        message: String,
    },
    /// The revision is not signed as the source requires: no signature, a bad one, or one from
    /// a key that is not trusted. Nothing is returned from it.
    #[error("{reference} in {url}: {object} is refused: {reason}")]
    Verification {
        /// The reference.
        reference: String,
        /// The remote, without credentials.
        url: String,
        /// The object whose signature failed (`commit <id>`, `tag object <id>`).
        object: String,
        /// Why it failed.
        reason: String,
    },
    /// The source's configuration is unusable: a credential file that cannot be read, CA
    /// certificates that do not parse.
    #[error("configuration: {message}")]
    Config {
        /// What is wrong, without any secret.
        message: String,
    },
    /// Reading the tree failed (a missing path, an unreadable file).
    #[error(transparent)]
    Tree(#[from] converge_core::Error),
}

fn candidates_hint(candidates: &[String]) -> String {
    if candidates.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", candidates.join(", "))
    }
}
