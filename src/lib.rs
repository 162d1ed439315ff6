#![doc = include_str!("../README.md")]

pub mod api;
pub mod leader;
mod pipeline;
pub mod preview;
pub mod receiver;

pub use pipeline::{Error, Pipeline, Rendered, RevisionDiff, source_for};

/// Shared types: object identity, manifests, file trees, the YAML/JSON codec.
pub use converge_core as core;
/// The object algebra: comparing manifest sets, unified diffs, secret masking.
pub use converge_diff as diff;
/// Renderers: the `Renderer` trait and the plain YAML renderer.
pub use converge_render as render;
/// Sources: the `Source` trait, `GitSource` and `LocalDir`.
pub use converge_source as source;
