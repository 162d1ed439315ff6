//! JSON Merge Patch (RFC 7386, obsoleted by RFC 7396 with the same algorithm), and the
//! three-way merge patch `kubectl apply` sends for objects without a strategic-merge schema.
//!
//! A merge patch is a JSON document shaped like the target: an object member sets a field, a
//! `null` member deletes one, nested objects merge recursively, and anything else — arrays
//! included — replaces what was there. A patch that is not an object replaces the whole
//! document.
//!
//! - [`apply_merge_patch`] applies one (RFC 7396 `MergePatch`, exactly).
//! - [`create_merge_patch`] makes the smallest patch that turns one document into another.
//! - [`create_three_way_merge_patch`] makes the patch of a client-side apply from the
//!   last-applied configuration, the desired configuration and the live object, as apimachinery's
//!   `jsonmergepatch.CreateThreeWayJSONMergePatch` does for custom resources
//!   (`application/merge-patch+json`).
//!
//! Two limits come with the format. A merge patch cannot set a field to `null` (a `null` member
//! deletes it), so a document whose object members are `null` does not round-trip. And values
//! are compared as [`serde_json::Value`]s: `1` and `1.0` are different numbers here, where Go,
//! which decodes every number as a `float64`, sees one.
//!
//! ```
//! use converge_diff::merge_patch::{apply_merge_patch, create_merge_patch};
//! use serde_json::json;
//!
//! let original = json!({"spec": {"replicas": 2, "paused": true}, "tags": ["a", "b"]});
//! let modified = json!({"spec": {"replicas": 3}, "tags": ["a"]});
//! let patch = create_merge_patch(&original, &modified);
//! assert_eq!(patch, json!({"spec": {"replicas": 3, "paused": null}, "tags": ["a"]}));
//!
//! let mut doc = original.clone();
//! apply_merge_patch(&mut doc, &patch);
//! assert_eq!(doc, modified);
//! ```

use serde_json::{Map, Value};

use crate::Error;
use crate::pointer::Pointer;

/// Applies a JSON merge patch to `target` in place (RFC 7396 section 2, `MergePatch`).
///
/// - A patch that is not an object (an array, a scalar, `null`) replaces the whole target.
/// - An object patch turns a target that is not an object into `{}` first, then, member by
///   member: `null` deletes the member (if present), an object merges into the member
///   recursively, anything else replaces it. Arrays are never merged, only replaced.
/// - A member that is added whole keeps none of the patch's nested `null` members, as the RFC
///   prescribes (`{"a": {"b": null}}` on `{}` gives `{"a": {}}`); `null`s inside arrays stay.
///
/// Key order is kept: members that exist stay where they are and new ones go at the end.
/// Merge patches cannot fail: every JSON value is one.
///
/// ```
/// use converge_diff::merge_patch::apply_merge_patch;
/// use serde_json::json;
///
/// let mut doc = json!({"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"},
///                      "tags": ["example", "sample"]});
/// apply_merge_patch(&mut doc, &json!({"title": "Hello!", "author": {"familyName": null},
///                                      "tags": ["example"], "phoneNumber": "+01-123-456-7890"}));
/// assert_eq!(doc, json!({"title": "Hello!", "author": {"givenName": "John"}, "tags": ["example"],
///                        "phoneNumber": "+01-123-456-7890"}));
///
/// // A patch that is not an object replaces the document.
/// apply_merge_patch(&mut doc, &json!(["c"]));
/// assert_eq!(doc, json!(["c"]));
/// ```
pub fn apply_merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(members) = patch else {
        *target = patch.clone();
        return;
    };
    if let Value::Object(target) = target {
        merge_into(target, members);
    } else {
        *target = without_null_members(patch);
    }
}

/// The object case of [`apply_merge_patch`].
fn merge_into(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    let mut deletes = false;
    for (key, value) in patch {
        if value.is_null() {
            deletes = true;
        } else if let Some(member) = target.get_mut(key) {
            apply_merge_patch(member, value);
        } else {
            target.insert(key.clone(), without_null_members(value));
        }
    }
    if deletes {
        // One pass that keeps the order of what stays (a `shift_remove` per key would be one
        // pass per deleted key).
        target.retain(|key, _| !patch.get(key).is_some_and(Value::is_null));
    }
}

/// `MergePatch({}, value)`: the value a patch member adds where there was nothing, which is the
/// member without its nested `null` members (arrays are values and stay as they are).
fn without_null_members(value: &Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .iter()
                .filter(|(_, member)| !member.is_null())
                .map(|(key, member)| (key.clone(), without_null_members(member)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The smallest merge patch that turns `original` into `modified`.
///
/// When both are objects the patch holds, recursively, the members `modified` adds or changes,
/// `null` for the members it removes, and nothing for what is unchanged; objects on both sides
/// are diffed member by member, anything else that differs (arrays included) is sent whole.
/// When either side is not an object the patch is `modified` itself.
///
/// The walk visits each pair of members once and copies only what goes into the patch.
/// `apply_merge_patch(original, patch)` gives `modified` whenever `modified` has no `null`
/// object members, which no merge patch can set (a `null` member in `modified` becomes a
/// deletion). Keys come in `modified`'s order, then the deletions in `original`'s.
///
/// ```
/// use converge_diff::merge_patch::create_merge_patch;
/// use serde_json::json;
///
/// let original = json!({"a": "b", "c": {"d": "e", "f": "g"}, "list": [1, 2]});
/// let modified = json!({"a": "z", "c": {"d": "e"}, "list": [1, 2]});
/// assert_eq!(create_merge_patch(&original, &modified), json!({"a": "z", "c": {"f": null}}));
/// assert_eq!(create_merge_patch(&original, &original), json!({}));
/// assert_eq!(create_merge_patch(&original, &json!([1])), json!([1]));
/// ```
pub fn create_merge_patch(original: &Value, modified: &Value) -> Value {
    match (original, modified) {
        (Value::Object(original), Value::Object(modified)) => {
            Value::Object(diff_objects(original, modified))
        }
        _ => modified.clone(),
    }
}

/// The object case of [`create_merge_patch`].
fn diff_objects(
    original: &Map<String, Value>,
    modified: &Map<String, Value>,
) -> Map<String, Value> {
    let mut patch = Map::new();
    for (key, new) in modified {
        match (original.get(key), new) {
            (Some(Value::Object(old)), Value::Object(new)) => {
                let nested = diff_objects(old, new);
                if !nested.is_empty() {
                    patch.insert(key.clone(), Value::Object(nested));
                }
            }
            (Some(old), new) if old == new => {}
            _ => {
                patch.insert(key.clone(), new.clone());
            }
        }
    }
    for key in original.keys() {
        if !modified.contains_key(key) {
            patch.insert(key.clone(), Value::Null);
        }
    }
    patch
}

/// The merge patch of a client-side apply: what `kubectl apply` sends for an object without a
/// strategic-merge schema (custom resources), as apimachinery's
/// `jsonmergepatch.CreateThreeWayJSONMergePatch` makes it.
///
/// - `original` is the last-applied configuration (the
///   `kubectl.kubernetes.io/last-applied-configuration` annotation), `modified` the desired
///   configuration, `current` the live object. `None` or `null` means no document and acts as
///   `{}`.
/// - **Deletions** come from `original` → `modified`: a field is deleted only when it was in
///   the last-applied configuration and is gone from (or `null` in) the desired one. Fields only
///   the live object has — set by the server, by controllers, by other clients — are left alone.
/// - **Additions and changes** come from `current` → `modified`: every field of `modified` that
///   the live object lacks or holds with another value. Lists are atomic and sent whole.
/// - With `overwrite == false` the patch must not change anything the live object changed since
///   `original` (the diff `original` → `current`, deletions included) to a different value;
///   such fields are an [`Error::Conflict`] listing their JSON Pointers. Objects on both sides
///   are compared member by member, lists as wholes. With `overwrite == true` the patch wins,
///   which is what `kubectl apply` does (apimachinery's function has no such check).
///
/// Like apimachinery, the patch treats a `null` member of `modified` as a deletion (sent as
/// `null` unless `original` had it `null` too), sends an explicitly empty object `{}` as a
/// value when the live object lacks it, and drops the `null` members of objects inside the
/// lists it sends (evanphx/json-patch prunes them when it merges the deletions with the
/// changes); `null` items of lists stay.
///
/// # Errors
/// [`Error::InvalidPatch`] when a document is not a JSON object (or `null`);
/// [`Error::Conflict`] as above, only when `overwrite` is false.
///
/// ```
/// use converge_diff::Error;
/// use converge_diff::merge_patch::{apply_merge_patch, create_three_way_merge_patch};
/// use serde_json::json;
///
/// let last_applied = json!({"spec": {"replicas": 2, "paused": true}});
/// let desired = json!({"spec": {"replicas": 3}});
/// let mut live = json!({"spec": {"replicas": 2, "paused": true, "selector": "app=web"},
///                       "status": {"ready": 2}});
///
/// let patch = create_three_way_merge_patch(Some(&last_applied), &desired, Some(&live), false)?;
/// assert_eq!(patch, json!({"spec": {"replicas": 3, "paused": null}}));
/// apply_merge_patch(&mut live, &patch);
/// assert_eq!(live, json!({"spec": {"replicas": 3, "selector": "app=web"}, "status": {"ready": 2}}));
///
/// // An autoscaler moved the replicas since the last apply: without overwrite, that is a conflict.
/// let scaled = json!({"spec": {"replicas": 5, "paused": true}});
/// let err = create_three_way_merge_patch(Some(&last_applied), &desired, Some(&scaled), false)
///     .expect_err("the live object changed /spec/replicas");
/// assert!(matches!(&err, Error::Conflict { paths } if paths == &["/spec/replicas"]));
/// // With overwrite the desired value wins.
/// let patch = create_three_way_merge_patch(Some(&last_applied), &desired, Some(&scaled), true)?;
/// assert_eq!(patch, json!({"spec": {"replicas": 3, "paused": null}}));
/// # Ok::<(), Error>(())
/// ```
pub fn create_three_way_merge_patch(
    original: Option<&Value>,
    modified: &Value,
    current: Option<&Value>,
    overwrite: bool,
) -> Result<Value, Error> {
    let empty = Map::new();
    const WHAT: &str = "a three-way merge patch needs JSON objects";
    let original = document(WHAT, "original", original)?.unwrap_or(&empty);
    let modified = document(WHAT, "modified", Some(modified))?.unwrap_or(&empty);
    let current = document(WHAT, "current", current)?.unwrap_or(&empty);

    let patch = three_way_objects(Some(original), modified, Some(current));
    if !overwrite {
        let mut paths = Vec::new();
        collect_conflicts(
            &patch,
            Some(original),
            Some(current),
            &mut Pointer::root(),
            &mut paths,
        );
        if !paths.is_empty() {
            return Err(Error::Conflict { paths });
        }
    }
    Ok(Value::Object(patch))
}

/// A patch input as an object: `None` and `null` are no document; anything else is refused
/// with "`what`, but `role` is a string", say.
pub(crate) fn document<'a>(
    what: &str,
    role: &str,
    value: Option<&'a Value>,
) -> Result<Option<&'a Map<String, Value>>, Error> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(members)) => Ok(Some(members)),
        Some(other) => Err(Error::InvalidPatch {
            reason: format!("{what}, but {role} is {}", json_kind(other)),
        }),
    }
}

/// "a string", "an array", … for error messages.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

// How the three-way patch is made. Upstream computes two merge patches and merges them:
//
//   changes   = the members of createMergePatch(current, modified) that are not null,
//               recursively (an object left empty by that is dropped, unless it was `{}`);
//   deletions = the members of createMergePatch(original, modified) that lead to a null;
//   patch     = MergePatch(deletions, changes), which also prunes the null members of objects
//               inside the lists of `changes` (evanphx/json-patch's pruneNulls).
//
// Its check that `changes` and `deletions` do not conflict can never fire: a null in
// `deletions` means the member is absent or null in `modified`, so `changes` has nothing
// there, and an object in `deletions` means `modified` has an object there too.
//
// The walk below makes the same patch in one pass over `modified`, with `original` and
// `current` alongside; `None` for either means "absent, or not an object" at that level, where
// the whole of `modified`'s value counts as added (for `changes`) and its null paths as deleted
// (for `deletions`).

/// The three-way patch of the members of one object.
fn three_way_objects(
    original: Option<&Map<String, Value>>,
    modified: &Map<String, Value>,
    current: Option<&Map<String, Value>>,
) -> Map<String, Value> {
    let mut patch = Map::new();
    for (key, new) in modified {
        let old = original.and_then(|members| members.get(key));
        let live = current.and_then(|members| members.get(key));
        if let Some(value) = three_way_member(old, new, live) {
            patch.insert(key.clone(), value);
        }
    }
    if let Some(original) = original {
        for key in original.keys() {
            if !modified.contains_key(key) {
                patch.insert(key.clone(), Value::Null);
            }
        }
    }
    patch
}

/// The three-way patch of one member that `modified` has.
fn three_way_member(old: Option<&Value>, new: &Value, live: Option<&Value>) -> Option<Value> {
    match new {
        // A deletion, unless it was already null in `original`; never a change.
        Value::Null => (!matches!(old, Some(Value::Null))).then_some(Value::Null),
        Value::Object(members) => {
            let live = live.and_then(Value::as_object);
            let nested = three_way_objects(old.and_then(Value::as_object), members, live);
            if !nested.is_empty() {
                Some(Value::Object(nested))
            } else if members.is_empty() && live.is_none() {
                // An explicitly empty object is a value, not an empty patch.
                Some(Value::Object(Map::new()))
            } else {
                None
            }
        }
        // Scalars and lists: a change when the live value differs; never a deletion.
        _ if live == Some(new) => None,
        _ => {
            let mut value = new.clone();
            prune_nulls_in_lists(&mut value);
            Some(value)
        }
    }
}

/// Removes the `null` members of the objects inside the lists of `value` (at any depth),
/// keeping `null` list items.
fn prune_nulls_in_lists(value: &mut Value) {
    if let Value::Array(items) = value {
        for item in items {
            prune_null_members(item);
        }
    }
}

fn prune_null_members(value: &mut Value) {
    match value {
        Value::Object(members) => {
            members.retain(|_, member| !member.is_null());
            members.values_mut().for_each(prune_null_members);
        }
        Value::Array(items) => items.iter_mut().for_each(prune_null_members),
        _ => {}
    }
}

/// The fields where `patch` sets something other than what the live object changed to since
/// `original`. `original`/`current` are `None` where they are absent or not objects.
fn collect_conflicts(
    patch: &Map<String, Value>,
    original: Option<&Map<String, Value>>,
    current: Option<&Map<String, Value>>,
    path: &mut Pointer,
    out: &mut Vec<String>,
) {
    for (key, sent) in patch {
        let old = original.and_then(|members| members.get(key));
        let live = current.and_then(|members| members.get(key));
        path.push(key.as_str());
        match (sent, old, live) {
            // Objects on all sides: compare member by member.
            (Value::Object(sent), Some(Value::Object(old)), Some(Value::Object(live))) => {
                collect_conflicts(sent, Some(old), Some(live), path, out);
            }
            // The live object changed members inside it, and the patch replaces or deletes it.
            (_, Some(Value::Object(old)), Some(Value::Object(live))) => {
                if old != live {
                    out.push(path.to_string());
                }
            }
            // Unchanged since the last apply: nothing to conflict with.
            _ if old == live => {}
            // The live object added the object (or made it one): compare with all of it.
            (Value::Object(sent), _, Some(Value::Object(live))) => {
                collect_conflicts(sent, None, Some(live), path, out);
            }
            // Changed to `live`, or deleted when `live` is absent.
            _ => {
                if sent != live.unwrap_or(&Value::Null) {
                    out.push(path.to_string());
                }
            }
        }
        path.pop();
    }
}
