//! Three-way diff: what `kubectl apply` (client-side) would send, and what the object would
//! become.

use serde_json::Value;

use crate::Error;
use crate::json_patch::{JsonPatch, Operation, diff};
use crate::merge_patch::{apply_merge_patch, create_three_way_merge_patch};
use crate::normalize::{LAST_APPLIED, Normalizer};
use crate::schema::{TypeKind, TypeRef};
use crate::strategic::{apply_strategic_patch, create_three_way_strategic_patch};

/// How a three-way patch is to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PatchType {
    /// `application/strategic-merge-patch+json`: built-in kinds.
    Strategic,
    /// `application/merge-patch+json` (RFC 7386): custom resources and kinds with no schema.
    Merge,
}

impl PatchType {
    /// The HTTP content type of the patch.
    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Strategic => "application/strategic-merge-patch+json",
            PatchType::Merge => "application/merge-patch+json",
        }
    }
}

/// The result of a three-way diff.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ThreeWay {
    /// The patch a client-side apply sends (it also refreshes the last-applied annotation).
    pub patch: Value,
    /// How it is sent.
    pub patch_type: PatchType,
    /// The live object as it will be once the patch is applied (before server defaulting).
    pub predicted: Value,
    /// What changes, field by field, from live to predicted: a JSON Patch on the live object,
    /// with server-set fields, status and the last-applied annotation left out.
    pub changes: JsonPatch,
}

/// The three-way diff of client-side apply: from the last-applied configuration (what the
/// previous apply sent, read from the live object's
/// `kubectl.kubernetes.io/last-applied-configuration` annotation when `last_applied` is
/// `None`), the desired object and the live object, the patch `kubectl apply` computes, the
/// object it predicts, and the field-level changes.
///
/// Fields removed from desired are deleted only if the last apply set them; fields others set
/// on live are kept. Built-in kinds (a `ty` the schema knows) get a strategic merge patch,
/// everything else a JSON merge patch. As `kubectl apply`, the desired object is recorded as
/// the new last-applied configuration, and changes made on live since the last apply are
/// overwritten (`overwrite`; with `false`, they are an [`Error::Conflict`]).
///
/// ```
/// use converge_diff::{three_way, PatchType, schema::Schema};
/// use serde_json::json;
///
/// let deployment = Schema::kubernetes().for_kind("apps", "v1", "Deployment");
/// let last = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
///     "spec": {"replicas": 2, "paused": false}});
/// let desired = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
///     "spec": {"replicas": 3}});
/// let live = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
///     "spec": {"replicas": 2, "paused": false, "revisionHistoryLimit": 10}});
///
/// let result = three_way(Some(&last), &desired, &live, deployment, true)?;
/// assert_eq!(result.patch_type, PatchType::Strategic);
/// assert_eq!(result.predicted["spec"], json!({"replicas": 3, "revisionHistoryLimit": 10}));
/// let changed: Vec<String> = result.changes.0.iter().map(|op| format!("{} {}", op.name(), op.path())).collect();
/// assert_eq!(changed, ["replace /spec/replicas", "remove /spec/paused"]);
/// # Ok::<(), converge_diff::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidPatch`] when the last-applied annotation is not JSON or a document is not
/// an object; [`Error::Conflict`] as described.
pub fn three_way(
    last_applied: Option<&Value>,
    desired: &Value,
    live: &Value,
    ty: Option<TypeRef<'_>>,
    overwrite: bool,
) -> Result<ThreeWay, Error> {
    let from_annotation = match last_applied {
        Some(_) => None,
        None => read_last_applied(live)?,
    };
    let original = last_applied.or(from_annotation.as_ref());

    // What kubectl sends as "modified" is desired carrying itself as the new last-applied
    // configuration. The annotation is left out of the patch computation and set on the
    // patch afterwards: live can then be compared as it is, with no copy to take it out (it
    // always differs from what the last apply recorded, and it is ours to overwrite, never a
    // conflict). An annotations map is kept in desired so that dropping every annotation
    // deletes them one by one, as kubectl's patch does, not the map others write to.
    let mut modified = desired.clone();
    remove_last_applied(&mut modified);
    let record = record_of(&modified);
    if let Some(meta) = modified
        .as_object_mut()
        .map(|m| {
            m.entry("metadata")
                .or_insert_with(|| Value::Object(Default::default()))
        })
        .and_then(Value::as_object_mut)
    {
        meta.entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()));
    }

    let known = ty.filter(|t| t.kind() != TypeKind::Unknown);
    let patch_type = match known {
        Some(_) => PatchType::Strategic,
        None => PatchType::Merge,
    };
    let mut patch = match known {
        Some(ty) => {
            create_three_way_strategic_patch(original, &modified, Some(live), ty, overwrite)?
        }
        None => create_three_way_merge_patch(original, &modified, Some(live), overwrite)?,
    };
    record_last_applied(&mut patch, live, record);
    let predicted = match known {
        Some(ty) => apply_strategic_patch(live, &patch, ty)?,
        None => {
            let mut predicted = live.clone();
            apply_merge_patch(&mut predicted, &patch);
            predicted
        }
    };

    let mut changes = diff(live, &predicted);
    changes.0.retain_mut(|op| shown(op, &Normalizer::default()));
    Ok(ThreeWay {
        changes,
        patch,
        patch_type,
        predicted,
    })
}

/// The last-applied configuration `kubectl apply` records for `desired` in the
/// `kubectl.kubernetes.io/last-applied-configuration` annotation: the object without that
/// annotation (its annotations map kept, even empty), as compact JSON with keys sorted, and a
/// newline — byte for byte as kubectl encodes it.
///
/// ```
/// use converge_diff::last_applied_configuration;
/// use serde_json::json;
///
/// let desired = json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "web"}});
/// assert_eq!(
///     last_applied_configuration(&desired),
///     "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"annotations\":{},\"name\":\"web\"}}\n"
/// );
/// ```
pub fn last_applied_configuration(desired: &Value) -> String {
    let mut modified = desired.clone();
    remove_last_applied(&mut modified);
    record_of(&modified)
}

/// `desired` as `kubectl apply` creates it: carrying its
/// [`last_applied_configuration`] in its annotations.
///
/// ```
/// use converge_diff::{LAST_APPLIED, with_last_applied};
/// use serde_json::json;
///
/// let created = with_last_applied(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web"}}));
/// assert!(created["metadata"]["annotations"][LAST_APPLIED].as_str().is_some_and(|a| a.ends_with("}\n")));
/// ```
pub fn with_last_applied(desired: &Value) -> Value {
    let record = last_applied_configuration(desired);
    let mut created = desired.clone();
    if let Some(meta) = created
        .as_object_mut()
        .map(|m| {
            m.entry("metadata")
                .or_insert_with(|| Value::Object(Default::default()))
        })
        .and_then(Value::as_object_mut)
        && let Some(annotations) = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()))
            .as_object_mut()
    {
        annotations.insert(LAST_APPLIED.to_owned(), Value::from(record));
    }
    created
}

/// The annotation's text for an object already without it: kubectl records the object with
/// its annotations map emptied of the record, so the map is there even when empty.
fn record_of(modified: &Value) -> String {
    let mut sorted = crate::sorted_keys(modified);
    if let Some(meta) = sorted.get_mut("metadata").and_then(Value::as_object_mut)
        && !meta.contains_key("annotations")
    {
        meta.insert("annotations".to_owned(), Value::Object(Default::default()));
        meta.sort_keys();
    }
    format!("{sorted}\n")
}

/// Sets the new last-applied configuration in `patch` unless live already records it, and
/// drops the annotations and metadata maps the patch computation may leave empty.
fn record_last_applied(patch: &mut Value, live: &Value, record: String) {
    let recorded = live
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .and_then(Value::as_str);
    let Some(root) = patch.as_object_mut() else {
        return;
    };
    let meta = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(meta) = meta.as_object_mut() {
        let annotations = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(annotations) = annotations.as_object_mut() {
            if recorded == Some(record.as_str()) {
                annotations.shift_remove(LAST_APPLIED);
            } else {
                annotations.insert(LAST_APPLIED.to_owned(), Value::from(record));
            }
            if annotations.is_empty() {
                meta.shift_remove("annotations");
            }
        }
    }
    if root
        .get("metadata")
        .and_then(Value::as_object)
        .is_some_and(|m| m.is_empty())
    {
        root.shift_remove("metadata");
    }
}

/// Keeps a change of the live object in what [`ThreeWay::changes`] shows: not a field the
/// default normalizer hides (server-set, status, the last-applied annotation), and for an
/// added or replaced map, only its members that are shown (none left: the change is dropped).
fn shown(op: &mut Operation, normalizer: &Normalizer) -> bool {
    let (path, value) = match op {
        Operation::Add { path, value } | Operation::Replace { path, value } => {
            (path.clone(), Some(value))
        }
        other => (other.path().clone(), None),
    };
    if normalizer.hides_server_field(&path) {
        return false;
    }
    let Some(value) = value.filter(|v| v.as_object().is_some_and(|m| !m.is_empty())) else {
        return true;
    };
    // Normalize the map where it stands: wrapped in its path, as in the whole object.
    let mut shell = std::mem::take(value);
    for token in path.tokens().iter().rev() {
        let mut map = serde_json::Map::new();
        map.insert(token.clone(), shell);
        shell = Value::Object(map);
    }
    normalizer.normalize(&mut shell);
    match path.get_mut(&mut shell).map(std::mem::take) {
        Some(Value::Object(map)) if map.is_empty() => false,
        Some(kept) => {
            *value = kept;
            true
        }
        None => false,
    }
}

fn read_last_applied(live: &Value) -> Result<Option<Value>, Error> {
    match live
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
    {
        Some(Value::String(text)) => {
            serde_json::from_str(text)
                .map(Some)
                .map_err(|e| Error::InvalidPatch {
                    reason: format!("the {LAST_APPLIED} annotation is not JSON: {e}"),
                })
        }
        _ => Ok(None),
    }
}

fn remove_last_applied(object: &mut Value) {
    if let Some(annotations) = object
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        annotations.shift_remove(LAST_APPLIED);
        if annotations.is_empty()
            && let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut)
        {
            meta.shift_remove("annotations");
        }
    }
}
