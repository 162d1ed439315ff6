#![doc = include_str!("../README.md")]

mod applier;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod engine;
mod error;
pub mod health;
mod inventory;
mod strategies;

pub use applier::{Applied, Applier, ApplyRequest, Outcome};
pub use engine::{Engine, Event, Summary, SyncOptions};
pub use error::Error;
pub use inventory::{
    APPLYSET_CONTAINS, APPLYSET_ID, APPLYSET_PART_OF, APPLYSET_TOOLING, Inventory, PRUNE_ANNOTATION,
};
pub use strategies::{ClientSideApply, CreateOnly, Replace, ServerSideApply};
