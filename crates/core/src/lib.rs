#![doc = include_str!("../README.md")]

mod base64;
mod codec;
mod error;
mod manifest;
mod object_ref;
mod selector;
mod time;
mod tree;

pub use base64::base64;
pub use codec::{
    Document, DuplicateKeys, Format, parse_documents, parse_manifests, parse_yaml_documents,
    to_yaml, to_yaml_stream,
};
pub use error::Error;
pub use manifest::{Manifest, Origin, index_by_key};
pub use object_ref::{ObjectKey, ObjectRef};
pub use selector::LabelSelector;
pub use time::{rfc3339, rfc3339_micros, since_epoch};
pub use tree::{
    DirTree, EntryKind, FileTree, TreeEntry, normalize_path, walk_all_files, walk_files,
};

/// The JSON value every stage passes objects around as (`serde_json::Value`, key order kept).
pub use serde_json::Value;
