//! Managed fields and server-side apply: every write records its field manager in
//! `metadata.managedFields`, and `application/apply-patch+yaml` patches merge as
//! kube-apiserver merges them (converge-diff's [`FieldManager`]).

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{HeaderMap, header};
use converge_diff::FieldSet;
use converge_diff::schema::{Schema, TypeRef};
use converge_diff::ssa::FieldManager;
use serde_json::Value;

use crate::kinds::Kind;
use crate::server::Query;
use crate::status::ApiError;

/// Who writes: the field manager of an update, or nobody for a write whose managed fields a
/// server-side apply already computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Writer {
    /// An update (create, replace, a non-apply patch) by this manager.
    Manager(String),
    /// A server-side apply: `metadata.managedFields` is already right.
    Applied,
}

impl Default for Writer {
    fn default() -> Writer {
        Writer::Manager("kube-apiserver".to_owned())
    }
}

/// The longest field manager name the API server accepts.
const MAX_MANAGER: usize = 128;

/// The field manager the request names (`fieldManager`), checked as the API server checks it.
pub(crate) fn manager(query: &Query) -> Result<Option<String>, ApiError> {
    if let Some(name) = query.get("fieldManager") {
        if name.len() > MAX_MANAGER {
            return Err(options_invalid(
                "fieldManager",
                "FieldValueTooLong",
                &format!("Too long: may not be more than {MAX_MANAGER} bytes"),
            ));
        }
        if name.chars().any(|c| c.is_control()) {
            return Err(options_invalid(
                "fieldManager",
                "FieldValueInvalid",
                &format!("Invalid value: {name:?}: must only contain printable characters"),
            ));
        }
        if !name.is_empty() {
            return Ok(Some(name.to_owned()));
        }
    }
    Ok(None)
}

/// The manager an update is recorded under when the request names none: the client's user
/// agent up to its first `/` (`kubectl/v1.35.0 (linux/amd64)` → `kubectl`).
pub(crate) fn user_agent_manager(headers: &HeaderMap) -> String {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let prefix = agent.split('/').next().unwrap_or_default();
    prefix.chars().take(MAX_MANAGER).collect()
}

/// `PatchOptions.meta.k8s.io "" is invalid: <field>: <message>`, as the API server refuses
/// the options of a patch.
pub(crate) fn options_invalid(field: &str, reason: &str, message: &str) -> ApiError {
    ApiError::invalid(
        "meta.k8s.io",
        "PatchOptions",
        "",
        vec![(field.to_owned(), reason.to_owned(), message.to_owned())],
    )
}

/// The schemas of custom kinds, read from their CustomResourceDefinitions, kept while the
/// definition's resourceVersion stays the same.
#[derive(Debug, Default)]
pub(crate) struct Schemas {
    crds: HashMap<String, (String, Arc<Schema>)>,
}

/// The schema a kind's objects are merged with.
pub(crate) enum KindSchema {
    /// A built-in kind.
    BuiltIn(TypeRef<'static>),
    /// A custom kind, with its definition's schema.
    Custom(Arc<Schema>),
    /// No schema: every map granular, every list atomic.
    None,
}

impl Schemas {
    /// The schema of `kind`; `crd` is its CustomResourceDefinition when it has one.
    pub(crate) fn of(&mut self, kind: &Kind, crd: Option<&Value>) -> KindSchema {
        if let Some(ty) = Schema::kubernetes().for_kind(&kind.group, &kind.version, &kind.kind) {
            return KindSchema::BuiltIn(ty);
        }
        let Some(crd) = crd else {
            return KindSchema::None;
        };
        let name = crate::store::text(crd, "/metadata/name").to_owned();
        let version = crate::store::text(crd, "/metadata/resourceVersion").to_owned();
        if let Some((seen, schema)) = self.crds.get(&name)
            && *seen == version
        {
            return KindSchema::Custom(schema.clone());
        }
        match Schema::from_crd(crd) {
            Ok(schema) => {
                let schema = Arc::new(schema);
                self.crds.insert(name, (version, schema.clone()));
                KindSchema::Custom(schema)
            }
            Err(_) => KindSchema::None,
        }
    }
}

/// The field manager for writes of `kind` through `subresource`, with the fields that
/// endpoint resets: a kind with a status subresource ignores `status` on the main resource,
/// and `spec` on `status`.
pub(crate) fn field_manager<'s>(
    kind: &Kind,
    schema: &'s KindSchema,
    subresource: Option<&str>,
) -> FieldManager<'s> {
    let ty = match schema {
        KindSchema::BuiltIn(ty) => Some(*ty),
        KindSchema::Custom(schema) => schema.for_kind(&kind.group, &kind.version, &kind.kind),
        KindSchema::None => None,
    };
    let manager = FieldManager::new(ty, kind.api_version());
    let mut reset = FieldSet::new();
    match subresource {
        Some(name) => {
            reset.insert(&["f:spec"]);
            manager.for_subresource(name).with_reset_fields(reset)
        }
        None if kind.status => {
            reset.insert(&["f:status"]);
            manager.with_reset_fields(reset)
        }
        None => manager,
    }
}

/// A server-side apply that failed, as the API server answers it: conflicts are `409
/// Conflict` with one `FieldManagerConflict` cause per field; a configuration that is not an
/// object of the kind is `400`; one that does not fit the schema is a `500`, as the API
/// server's own typed conversion fails.
pub(crate) fn apply_error(kind: &Kind, name: &str, error: converge_diff::Error) -> ApiError {
    match error {
        converge_diff::Error::ApplyConflict { message, conflicts } => {
            ApiError::apply_conflict(message, &conflicts)
        }
        converge_diff::Error::InvalidPatch { reason }
            if reason.starts_with("failed to create typed patch object") =>
        {
            let detail = reason
                .strip_prefix("failed to create typed patch object: ")
                .unwrap_or(&reason);
            ApiError::internal(format!(
                "failed to create typed patch object ({}, Kind={} {name}): {detail}",
                kind.api_version(),
                kind.kind
            ))
        }
        converge_diff::Error::InvalidPatch { reason } => ApiError::bad_request(reason),
        other => ApiError::internal(other.to_string()),
    }
}

/// `fieldValidation`: what a write does with fields its kind's schema does not declare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them, and say so in a `Warning` header (the API server's default).
    #[default]
    Warn,
    /// Refuse the write with `400 BadRequest`.
    Strict,
}

impl FieldValidation {
    /// The request's `fieldValidation` parameter.
    pub(crate) fn from_query(query: &Query) -> Result<FieldValidation, ApiError> {
        match query.get("fieldValidation") {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation must be one of Ignore, Warn or Strict, not {other:?}"
            ))),
        }
    }
}

/// Removes from `object` the fields its type does not declare, and returns their paths as
/// the API server names them (`spec.template.spec.containers[0].colour`). Free-form parts
/// (`x-kubernetes-preserve-unknown-fields`, `RawExtension`) keep everything.
pub(crate) fn drop_unknown_fields(ty: TypeRef<'_>, object: &mut Value) -> Vec<String> {
    let mut found = Vec::new();
    walk(ty, object, &mut String::new(), &mut found);
    found
}

fn walk(ty: TypeRef<'_>, value: &mut Value, path: &mut String, found: &mut Vec<String>) {
    use converge_diff::schema::TypeKind;
    match (ty.kind(), value) {
        (TypeKind::Object, Value::Object(map)) => {
            let mut unknown = Vec::new();
            for (key, child) in map.iter_mut() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                match ty.field(key) {
                    Some(field) => walk(field, child, path, found),
                    None => {
                        found.push(path.clone());
                        unknown.push(key.clone());
                    }
                }
                path.truncate(len);
            }
            for key in unknown {
                map.remove(&key);
            }
        }
        (TypeKind::Map, Value::Object(map)) => {
            if let Some(values) = ty.values() {
                for (key, child) in map.iter_mut() {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                    walk(values, child, path, found);
                    path.truncate(len);
                }
            }
        }
        (TypeKind::List, Value::Array(items)) => {
            if let Some(item_ty) = ty.items() {
                for (i, item) in items.iter_mut().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(item_ty, item, path, found);
                    path.truncate(len);
                }
            }
        }
        _ => {}
    }
}
