//! Patches as kustomize applies them: strategic merge the way kustomize's YAML merge does it
//! (the patch's list items first, in its order, then the items it does not name), with the
//! merge keys of the Kubernetes schema, and RFC 6902 JSON patches.

use converge_diff::json_patch::JsonPatch;
use converge_diff::schema::{ListStrategy, Schema, TypeKind, TypeRef};
use serde_json::{Map, Value};

use super::resource::ResId;

/// Why a merge failed.
pub(crate) type MergeError = String;

/// The schema of `id`'s kind: from the `openapi` schemas (the last that has it), else the
/// built-in Kubernetes one.
pub(crate) fn schema_for<'s>(
    id: &ResId,
    custom: &'s [std::sync::Arc<Schema>],
) -> Option<TypeRef<'s>> {
    custom
        .iter()
        .rev()
        .find_map(|s| s.for_kind(&id.group, &id.version, &id.kind))
        .or_else(|| Schema::kubernetes().for_kind(&id.group, &id.version, &id.kind))
}

/// Whether a strategic merge patch deletes the whole object (`$patch: delete` at its top).
pub(crate) fn deletes_object(patch: &Value) -> bool {
    patch.get("$patch").and_then(Value::as_str) == Some("delete")
}

/// Merges `patch` into `target` as kustomize's strategic merge does.
/// With `infer`, lists of kinds without a schema merge by a key every item has (`name`,
/// `containerPort`, …), as kustomize's `patches` do; its `patchesStrategicMerge` replace them.
pub(crate) fn strategic_merge(
    target: &mut Value,
    patch: &Value,
    infer: bool,
    custom: &[std::sync::Arc<Schema>],
) -> Result<(), MergeError> {
    let schema = schema_for(&ResId::of(target), custom);
    // Kinds without a schema: mappings merge, lists are replaced (or merged by an inferred
    // key, with `infer`).
    let (Value::Object(dest), Value::Object(src)) = (&mut *target, patch) else {
        return Err("a strategic merge patch must be a mapping".to_owned());
    };
    merge_map(dest, src, schema, infer)
}

fn merge_map(
    dest: &mut Map<String, Value>,
    src: &Map<String, Value>,
    schema: Option<TypeRef<'_>>,
    infer: bool,
) -> Result<(), MergeError> {
    match src.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            *dest = strip_directives(src);
            return Ok(());
        }
        Some("delete") => {
            dest.clear();
            return Ok(());
        }
        Some("merge") | None => {}
        Some(other) => return Err(format!("unknown $patch directive {other:?}")),
    }
    let retain: Option<Vec<String>> =
        src.get("$retainKeys")
            .and_then(Value::as_array)
            .map(|keys| {
                keys.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            });
    for (key, value) in src {
        if key.starts_with('$') {
            continue;
        }
        if let Some(field) = key.strip_prefix("$setElementOrder/") {
            let _ = field;
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Value::Array(gone)) = (dest.get_mut(field), value) {
                items.retain(|item| !gone.contains(item));
            }
            continue;
        }
        let child_schema = schema.and_then(|s| field_type(s, key));
        if value.is_null() {
            dest.remove(key);
            continue;
        }
        match (dest.get_mut(key), value) {
            (Some(Value::Object(d)), Value::Object(s)) => {
                if s.get("$patch").and_then(Value::as_str) == Some("delete") {
                    dest.remove(key);
                } else {
                    merge_map(d, s, child_schema, infer)?;
                }
            }
            (Some(Value::Array(d)), Value::Array(s)) => merge_list(d, s, child_schema, infer)?,
            (_, value) => {
                let cleaned = clean(value);
                if let Some(v) = cleaned {
                    dest.insert(key.clone(), v);
                }
            }
        }
    }
    if let Some(keys) = retain {
        dest.retain(|k, _| keys.contains(k));
    }
    Ok(())
}

fn field_type<'a>(schema: TypeRef<'a>, key: &str) -> Option<TypeRef<'a>> {
    match schema.kind() {
        TypeKind::Object => schema.field(key),
        TypeKind::Map => schema.values(),
        _ => None,
    }
}

fn merge_list(
    dest: &mut Vec<Value>,
    src: &[Value],
    schema: Option<TypeRef<'_>>,
    infer: bool,
) -> Result<(), MergeError> {
    let semantics = schema.and_then(|s| s.list());
    let items = schema.and_then(|s| s.items());
    // `$patch: replace` as an item replaces the whole list.
    if src
        .iter()
        .any(|item| item.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *dest = src
            .iter()
            .filter(|item| item.get("$patch").is_none())
            .filter_map(clean)
            .collect();
        return Ok(());
    }
    match semantics.map(|s| s.strategy) {
        Some(ListStrategy::Merge { key: Some(key) }) => merge_keyed(dest, src, key, items, infer),
        Some(ListStrategy::Merge { key: None }) => {
            // A set of scalars: add what is missing, at the end.
            for item in src {
                if !dest.contains(item) {
                    dest.push(item.clone());
                }
            }
            Ok(())
        }
        None if schema.is_none() && infer => merge_inferred(dest, src),
        _ => {
            *dest = src.iter().filter_map(clean).collect();
            Ok(())
        }
    }
}

/// Keys kustomize's YAML merge takes as a list's merge key when no schema gives one and
/// every item has it.
const ASSOCIATIVE_KEYS: [&str; 7] = [
    "mountPath",
    "devicePath",
    "ip",
    "type",
    "topologyKey",
    "name",
    "containerPort",
];

/// A list of a kind without schema: merged by an inferred key (see [`merge_keyed`]), or
/// replaced.
fn merge_inferred(dest: &mut Vec<Value>, src: &[Value]) -> Result<(), MergeError> {
    let key = ASSOCIATIVE_KEYS.iter().find(|key| {
        !src.is_empty()
            && dest.iter().chain(src).all(|item| {
                item.get(**key)
                    .is_some_and(|v| !v.is_object() && !v.is_array())
            })
    });
    match key {
        Some(key) => merge_keyed(dest, src, key, None, true),
        None => {
            *dest = src.iter().filter_map(clean).collect();
            Ok(())
        }
    }
}

/// Merges a list keyed by `key`: the patch's items first, in its order (each merged into the
/// item with the same key, or removed by `$patch: delete`), then the items the patch does not
/// name, as kustomize orders them.
fn merge_keyed(
    dest: &mut Vec<Value>,
    src: &[Value],
    key: &str,
    items: Option<TypeRef<'_>>,
    infer: bool,
) -> Result<(), MergeError> {
    let mut remaining: Vec<Value> = std::mem::take(dest);
    let mut merged = Vec::with_capacity(remaining.len() + src.len());
    for item in src {
        let Value::Object(patch_item) = item else {
            return Err(format!("a list merged by {key:?} holds a non-mapping item"));
        };
        let wanted = patch_item.get(key);
        let found = remaining
            .iter()
            .position(|d| wanted.is_some() && d.get(key) == wanted);
        let delete = patch_item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (found, delete) {
            (Some(i), true) => {
                remaining.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => {
                let mut base = remaining.remove(i);
                if let Value::Object(d) = &mut base {
                    merge_map(d, patch_item, items, infer)?;
                }
                merged.push(base);
            }
            (None, false) => merged.extend(clean(item)),
        }
    }
    merged.extend(remaining);
    *dest = merged;
    Ok(())
}

/// `value` without patch directives; `None` when it is a `$patch: delete` item.
fn clean(value: &Value) -> Option<Value> {
    match value {
        Value::Object(map) => {
            if map.get("$patch").and_then(Value::as_str) == Some("delete") {
                return None;
            }
            Some(Value::Object(strip_directives(map)))
        }
        Value::Array(items) => Some(Value::Array(items.iter().filter_map(clean).collect())),
        other => Some(other.clone()),
    }
}

fn strip_directives(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .filter_map(|(k, v)| clean(v).map(|v| (k.clone(), v)))
        .collect()
}

/// Applies an RFC 6902 patch (given as YAML or JSON list) to `target`.
pub(crate) fn json_patch(target: &mut Value, patch: &Value) -> Result<(), String> {
    let patch = JsonPatch::from_value(patch).map_err(|e| e.to_string())?;
    patch.apply(target).map_err(|e| e.to_string())
}
