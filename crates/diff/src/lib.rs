#![doc = include_str!("../README.md")]

mod error;
mod mask;
mod set;
mod text;

pub use error::Error;
pub use mask::mask_secret_values;
pub use set::{Action, Entry, SetDiff, Summary, compare};
pub use text::{TextDiffOptions, sorted_keys, unified_diff};
