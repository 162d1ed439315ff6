//! The crate's error.

/// What can go wrong running a cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server could not bind or serve.
    #[error("testcluster: {0}")]
    Io(#[source] std::io::Error),
    /// The saved state could not be read or written.
    #[error("testcluster state {path}: {message}")]
    State {
        /// The state file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The certificates for HTTPS could not be made.
    #[error("testcluster TLS: {0}")]
    Tls(String),
}
