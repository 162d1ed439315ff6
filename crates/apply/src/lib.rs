#![doc = include_str!("../README.md")]

mod applier;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod strategies;

pub use applier::{Applied, Applier, ApplyRequest, Outcome};
pub use error::Error;
pub use strategies::{ClientSideApply, CreateOnly, Replace, ServerSideApply};
