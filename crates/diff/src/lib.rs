#![doc = include_str!("../README.md")]

mod drift;
mod error;
pub mod json_patch;
mod managed;
mod mask;
pub mod merge_patch;
mod normalize;
mod plan;
pub mod pointer;
mod quantity;
pub mod schema;
mod set;
pub mod ssa;
pub mod strategic;
mod text;
mod three_way;

pub use drift::{ChangeKind, Drift, FieldChange, drift};
pub use error::Error;
pub use managed::{
    FieldSet, ManagedFields, ManagerConflict, managed_fields, owned_by, predict_conflicts,
};
pub use mask::mask_secret_values;
pub use normalize::{FieldPath, Hidden, HiddenBy, IgnoreRule, LAST_APPLIED, Normalizer, Selector};
pub use plan::{
    LEGACY_ORDER_FIRST, LEGACY_ORDER_LAST, Plan, PlanAction, PlanEntry, PlanOptions, apply_rank,
    plan,
};
pub use quantity::{Quantity, QuantityError};
pub use set::{Action, Entry, SetDiff, Summary, compare};
pub use text::{TextDiffOptions, colorize, sorted_keys, unified_diff};
pub use three_way::{
    PatchType, ThreeWay, last_applied_configuration, three_way, with_last_applied,
};
