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
