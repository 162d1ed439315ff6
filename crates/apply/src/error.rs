//! The error type of `converge-apply`.

use std::fmt;

/// Everything that can go wrong applying an object. Each error names the object.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API server refused a request, or could not be reached.
    #[error("{object}: {}", describe(.source))]
    Api {
        /// The object, as `apps/v1 Deployment prod/web`.
        object: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },
    /// The object's patch could not be computed (a malformed last-applied annotation, a list
    /// item without its merge key).
    #[error("{object}: {source}")]
    Diff {
        /// The object.
        object: String,
        /// What the object algebra found.
        #[source]
        source: Box<converge_diff::Error>,
    },
    /// Objects of a sync failed: every error, each naming its object. When they failed their
    /// dry run, nothing was written.
    #[error("{}", list(.errors))]
    Failed {
        /// The errors, in apply order.
        errors: Vec<Error>,
        /// What the sync did before it stopped, the failures counted.
        summary: crate::Summary,
    },
    /// Objects did not become healthy: degraded, or still progressing when the wait ended.
    #[error("{} {}", if *.timed_out { "timed out waiting for" } else { "unhealthy:" }, .objects.join(", "))]
    Unhealthy {
        /// Each object with its state: `apps/v1 Deployment prod/web (1 of 2 replicas available)`.
        objects: Vec<String>,
        /// True when the wait ran out; false when an object failed (degraded).
        timed_out: bool,
        /// What the sync did before it stopped.
        summary: crate::Summary,
    },
    /// The sync ran out of its time ([`SyncOptions::timeout`](crate::SyncOptions::timeout)):
    /// what it did so far stays done, the rest is left for the next sync.
    #[error("the sync was given up after {after:?}")]
    TimedOut {
        /// The limit.
        after: std::time::Duration,
    },
    /// The sync was refused before anything was done.
    #[error("refused: {reason}")]
    Refused {
        /// Why.
        reason: String,
    },
    /// The object cannot be applied as it is: no name, no kind, not an object.
    #[error("{object}: {reason}")]
    Invalid {
        /// The object, as far as it can be named.
        object: String,
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    /// The API server's `Status`, when the server answered with one.
    pub fn status(&self) -> Option<&kube::core::Status> {
        match self {
            Error::Api { source, .. } => match &**source {
                kube::Error::Api(status) => Some(status),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Several errors, one per line.
fn list(errors: &[Error]) -> String {
    match errors {
        [one] => one.to_string(),
        _ => {
            let mut text = format!("{} objects failed:", errors.len());
            for e in errors {
                text.push_str(&format!("\n- {e}"));
            }
            text
        }
    }
}

/// A client error as a reader wants it: the server's message and reason, not the client's
/// wrapping.
fn describe(error: &kube::Error) -> impl fmt::Display + '_ {
    struct Describe<'a>(&'a kube::Error);
    impl fmt::Display for Describe<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self.0 {
                kube::Error::Api(status) => {
                    write!(f, "{} ({} {})", status.message, status.code, status.reason)
                }
                other => write!(f, "{other}"),
            }
        }
    }
    Describe(error)
}
