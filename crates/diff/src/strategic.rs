//! Kubernetes strategic merge patch (SMP): applied, and made from two or three documents, as
//! apimachinery's `strategicpatch` package (v0.35, the code inside kubectl 1.35 and the API
//! server) does it, checked against that package's own test tables.
//!
//! A strategic merge patch is shaped like the object it patches, as a JSON merge patch is, but
//! the object's [schema](crate::schema) says how each list merges:
//!
//! - objects merge field by field; `null` deletes a field;
//! - a list with the patch strategy `merge` and a merge key (a Pod's `containers`, keyed by
//!   `name`) merges item by item: a patch item is merged into the item with the same key, or
//!   appended; a list of scalars with `merge` (`metadata.finalizers`) merges as a set;
//! - every other list is replaced whole, as is an object whose field says `replace`;
//! - where the schema knows nothing ([`TypeKind::Unknown`]: `RawExtension`, free-form JSON) the
//!   patch merges as a JSON merge patch does, with the directives below still honoured, which
//!   is what apimachinery does with a type it has no metadata for. A field the schema does not
//!   have, where its metadata would be needed (objects or lists on both sides), is an error, as
//!   it is for apimachinery (`unable to find api field`).
//!
//! Directives (keys that start with `$`) say what plain JSON cannot: `$patch: replace` and
//! `$patch: delete` on an object or a list item, `$retainKeys` (clear every field not listed,
//! for `retainKeys` fields such as a Deployment's `strategy` and a Pod's `volumes`),
//! `$deleteFromPrimitiveList/<field>` (remove scalars from a merging list) and
//! `$setElementOrder/<field>` (the order of a merging list after the patch).
//!
//! - [`apply_strategic_patch`] applies one (`StrategicMergePatch`);
//! - [`create_two_way_strategic_patch`] makes the patch from one document to another
//!   (`CreateTwoWayMergePatch`);
//! - [`create_three_way_strategic_patch`] makes the patch `kubectl apply` sends: from the
//!   last-applied configuration, the desired one and the live object
//!   (`CreateThreeWayMergePatch`), with its conflicts;
//! - [`sort_merge_lists`] sorts merging lists by key, to compare documents whose merging lists
//!   may come in any order (what apimachinery's tests compare with).
//!
//! The patches made here are those apimachinery makes (directives, their placement and the
//! order of list items included), and the results of applying them are those the API server
//! computes, except in the corner cases each function lists. Each function walks its documents
//! once. Making a patch copies only what goes into the patch; applying one copies the original
//! once (the result is a new document) and from the patch only what it adds. List items are
//! matched by key with a scan for short lists and a hash index for long ones.
//!
//! ```
//! use converge_diff::schema::Schema;
//! use converge_diff::strategic::{apply_strategic_patch, create_two_way_strategic_patch};
//! use serde_json::json;
//!
//! let deployment = Schema::kubernetes().for_kind("apps", "v1", "Deployment").expect("built in");
//! let original = json!({"spec": {"template": {"spec": {"containers": [
//!     {"name": "web", "image": "web:1"},
//!     {"name": "proxy", "image": "proxy:1"},
//! ]}}}});
//! let modified = json!({"spec": {"template": {"spec": {"containers": [
//!     {"name": "web", "image": "web:2"},
//!     {"name": "proxy", "image": "proxy:1"},
//! ]}}}});
//! let patch = create_two_way_strategic_patch(&original, &modified, deployment)?;
//! assert_eq!(patch, json!({"spec": {"template": {"spec": {
//!     "$setElementOrder/containers": [{"name": "web"}, {"name": "proxy"}],
//!     "containers": [{"name": "web", "image": "web:2"}],
//! }}}}));
//! assert_eq!(apply_strategic_patch(&original, &patch, deployment)?, modified);
//! # Ok::<(), converge_diff::Error>(())
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use serde_json::{Map, Value};

use crate::Error;
use crate::merge_patch::{document, json_kind};
use crate::pointer::Pointer;
use crate::schema::{ListStrategy, ObjectStrategy, TypeKind, TypeRef};

/// How a document that is not an object is refused.
const MADE_FROM_OBJECTS: &str = "a strategic merge patch is made from JSON objects";

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";

/// Lists up to this long are searched by a scan; longer ones get a hash index.
const SHORT: usize = 16;

static NULL: Value = Value::Null;

// ---- the public functions ---------------------------------------------------------------------

/// Applies a strategic merge patch to `original` under `schema`, as apimachinery's
/// `StrategicMergePatch` does (what the API server does with
/// `application/strategic-merge-patch+json`, and `kubectl patch --type strategic`).
///
/// `original` `null` is `{}`; a `null` patch changes nothing. Beyond the rules of the
/// [module](self):
///
/// - a merging list of objects first loses the items a `{<key>: …, $patch: delete}` item names
///   (every item with that key), then each patch item is merged into the first item with the
///   same key, or appended; the result follows the patch's order, with the items only the
///   original has kept where they were relative to it (or `$setElementOrder`'s order, when
///   given). A `$patch: replace` item makes the list the patch's items;
/// - a merging list of scalars becomes the union of both, without duplicates, in the same
///   order rule; `$deleteFromPrimitiveList/<field>` then removes every occurrence of its values
///   (from any list, merging or not). A scalar the patch both adds and deletes ends up deleted:
///   apimachinery's outcome there depends on Go's map order, except with `$setElementOrder`,
///   where it deletes too;
/// - `$retainKeys` clears the fields of the object it is in that it does not list (the patch
///   may only set listed fields);
/// - a value the patch adds where the original has none (or has another type) keeps none of
///   the patch's `null` members and none of its objects that hold a `$patch` directive (nested
///   ones included, also inside lists); a value that *replaces* another (a non-merging list, a
///   `replace` object, a list with a `$patch: replace` item) and a list item the patch appends
///   are taken as they are. Both as apimachinery does.
///
/// `$patch: merge` spells out the default; apimachinery refuses it (`unknown patch type`),
/// it is accepted here and changes nothing.
///
/// # Errors
///
/// [`Error::InvalidPatch`] when the patch is not an object or a directive is malformed: an
/// unknown `$patch` value, `$retainKeys` that does not list a field the patch sets, a patch
/// list item without its merge key, a patch list whose order `$setElementOrder` contradicts
/// (the message contains apimachinery's `doesn't match`). [`Error::Unmergeable`] when the
/// documents do not fit the schema: a field it does not have where its metadata is needed,
/// items of mixed types in a merging list, original list items without their merge key.
///
/// ```
/// use converge_diff::schema::Schema;
/// use converge_diff::strategic::apply_strategic_patch;
/// use serde_json::json;
///
/// let deployment = Schema::kubernetes().for_kind("apps", "v1", "Deployment").expect("built in");
/// let live = json!({"spec": {"template": {"spec": {"containers": [
///     {"name": "web", "image": "web:1", "env": [{"name": "A", "value": "1"}]},
///     {"name": "proxy", "image": "proxy:1"},
/// ]}}}});
/// let patch = json!({"spec": {"template": {"spec": {"containers": [
///     {"name": "web", "env": [{"name": "B", "value": "2"}]},
///     {"name": "proxy", "$patch": "delete"},
/// ]}}}});
/// let patched = apply_strategic_patch(&live, &patch, deployment)?;
/// // New items come first: the patch's order wins over the live object's (as with kubectl).
/// assert_eq!(patched, json!({"spec": {"template": {"spec": {"containers": [
///     {"name": "web", "image": "web:1", "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]},
/// ]}}}}));
/// # Ok::<(), converge_diff::Error>(())
/// ```
pub fn apply_strategic_patch(
    original: &Value,
    patch: &Value,
    schema: TypeRef<'_>,
) -> Result<Value, Error> {
    let patch = match patch {
        Value::Null => None,
        Value::Object(patch) => Some(patch),
        other => {
            return Err(Error::InvalidPatch {
                reason: format!(
                    "a strategic merge patch is a JSON object, not {}",
                    json_kind(other)
                ),
            });
        }
    };
    // The result owns every value: what the patch leaves alone is copied once, here.
    let mut result = match original {
        Value::Null => Map::new(),
        Value::Object(original) => original.clone(),
        other => {
            return Err(Error::Unmergeable {
                path: String::new(),
                reason: format!("the original is {}, not an object", json_kind(other)),
            });
        }
    };
    if let Some(patch) = patch {
        merge_map(&mut result, patch, schema, Mode::Apply).map_err(Fail::into_error)?;
    }
    Ok(Value::Object(result))
}

/// The strategic merge patch that turns `original` into `modified`, as apimachinery's
/// `CreateTwoWayMergePatch` makes it. `null` documents are `{}`.
///
/// The patch holds what `modified` adds or changes, `null` for removed fields, and for merging
/// lists: the changed and added items only (a changed item as its own patch, with its merge key),
/// `{<key>: …, $patch: delete}` for removed items, `$deleteFromPrimitiveList/<field>` for
/// removed scalars, and `$setElementOrder/<field>` (the merge keys, or the scalars, of
/// `modified`'s list) whenever the list changed or was reordered. An object under `retainKeys`
/// that changes carries `$retainKeys`, the fields `modified` keeps. Lists that do not merge are
/// sent whole when they differ. Anything `modified` adds is sent as it is, `null` members
/// included (applying the patch drops them).
///
/// `apply_strategic_patch(original, patch)` gives `modified` when `modified` has no `null`
/// members (a patch deletes them), no duplicate items in merging lists (they merge as sets, by
/// key) and a merge key on every item of a merging list.
///
/// Where apimachinery's behaviour is an accident rather than a rule, this function differs:
/// an unchanged merging list of scalars in an order that is not sorted gets no
/// `$setElementOrder` (apimachinery compares with the list it has just sorted in place, and
/// sends one); a scalar `modified` adds twice to a merging list is sent once (apimachinery
/// sends it twice, which can make a patch its own apply rejects with `doesn't match`), and a
/// scalar `original` repeats and `modified` keeps is not deleted (apimachinery deletes it, every
/// occurrence, when `modified` has it fewer times); items
/// with duplicate merge keys are paired in order (apimachinery's pairing depends on its
/// unstable sort for lists longer than twelve items). Duplicate merge keys among the objects
/// of a desired list (two `env` entries with one name) give the patch apimachinery gives, which
/// apply may refuse (`doesn't match`), as the API server does.
///
/// # Errors
///
/// [`Error::Unmergeable`] when a field the schema does not have differs between the documents
/// (as objects or lists), when an item of a merging list has no merge key, when a list mixes
/// item types or holds lists; [`Error::InvalidPatch`] when a document is not an object.
///
/// ```
/// use converge_diff::schema::Schema;
/// use converge_diff::strategic::create_two_way_strategic_patch;
/// use serde_json::json;
///
/// let deployment = Schema::kubernetes().for_kind("apps", "v1", "Deployment").expect("built in");
/// let original = json!({"metadata": {"finalizers": ["a", "b"]},
///                       "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
/// let modified = json!({"metadata": {"finalizers": ["b", "c"]},
///                       "spec": {"strategy": {"type": "Recreate"}}});
/// let patch = create_two_way_strategic_patch(&original, &modified, deployment)?;
/// assert_eq!(patch, json!({
///     "metadata": {"$setElementOrder/finalizers": ["b", "c"], "finalizers": ["c"],
///                  "$deleteFromPrimitiveList/finalizers": ["a"]},
///     "spec": {"strategy": {"type": "Recreate", "rollingUpdate": null, "$retainKeys": ["type"]}},
/// }));
/// # Ok::<(), converge_diff::Error>(())
/// ```
pub fn create_two_way_strategic_patch(
    original: &Value,
    modified: &Value,
    schema: TypeRef<'_>,
) -> Result<Value, Error> {
    let empty = Map::new();
    let original = document(MADE_FROM_OBJECTS, "original", Some(original))?.unwrap_or(&empty);
    let modified = document(MADE_FROM_OBJECTS, "modified", Some(modified))?.unwrap_or(&empty);
    let options = DiffOptions {
        set_element_order: true,
        ..DiffOptions::default()
    };
    let patch = diff_maps(original, modified, schema, options).map_err(Fail::into_error)?;
    Ok(Value::Object(patch))
}

/// The strategic merge patch of a client-side `kubectl apply`, as apimachinery's
/// `CreateThreeWayMergePatch` makes it.
///
/// - `original` is the last-applied configuration (the
///   `kubectl.kubernetes.io/last-applied-configuration` annotation), `modified` the desired
///   configuration, `current` the live object; `None` or `null` is `{}`.
/// - **Deletions** come from `original` → `modified` (fields, list items and scalars the last
///   apply set and the desired configuration drops); what only the live object has — defaults,
///   controllers' fields, other clients' changes — stays.
/// - **Changes and additions** come from `current` → `modified`, with `$setElementOrder` and
///   `$retainKeys` as [`create_two_way_strategic_patch`] makes them; the two parts are merged as
///   apimachinery merges them (which fixes the order of the items of merged lists).
/// - With `overwrite == false` the patch must not change what the live object changed since
///   `original` (the two-way patch `original` → `current`) to something else; such fields are an
///   [`Error::Conflict`] that lists all of them, as JSON Pointers into the live object (an item
///   of a merging list by its index there, or the list itself when the live object dropped the
///   item). Objects are compared field by field, merging lists item by item by key (merging
///   lists of scalars never conflict), other lists whole, and a `replace` object never
///   conflicts — the rules apimachinery's `MergingMapsHaveConflicts` applies, which stops at the
///   first. `kubectl apply` passes `overwrite == true`.
///
/// Like apimachinery, an object field whose patch strategy is `replace` (a
/// PodDisruptionBudget's `spec.selector`) is sent whenever `modified` has it, changed or not.
/// Unlike it, a field removed from a merging list of scalars both by `modified` and by the live
/// object is not an error (apimachinery fails to look up `$deleteFromPrimitiveList/<field>` in
/// the schema).
///
/// # Errors
///
/// [`Error::Conflict`] as above; [`Error::Unmergeable`] and [`Error::InvalidPatch`] as for
/// [`create_two_way_strategic_patch`].
///
/// ```
/// use converge_diff::Error;
/// use converge_diff::schema::Schema;
/// use converge_diff::strategic::{apply_strategic_patch, create_three_way_strategic_patch};
/// use serde_json::json;
///
/// let deployment = Schema::kubernetes().for_kind("apps", "v1", "Deployment").expect("built in");
/// let last_applied = json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [
///     {"name": "web", "image": "web:1"}]}}}});
/// let desired = json!({"spec": {"template": {"spec": {"containers": [
///     {"name": "web", "image": "web:2"}]}}}});
/// // The live object: defaults filled in, and a sidecar injected by a webhook.
/// let live = json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [
///     {"name": "web", "image": "web:1", "imagePullPolicy": "IfNotPresent"},
///     {"name": "mesh", "image": "mesh:1"}]}}}});
///
/// let patch = create_three_way_strategic_patch(Some(&last_applied), &desired, Some(&live), deployment, false)?;
/// assert_eq!(patch, json!({"spec": {"replicas": null, "template": {"spec": {
///     "$setElementOrder/containers": [{"name": "web"}],
///     "containers": [{"name": "web", "image": "web:2"}]}}}}));
/// let applied = apply_strategic_patch(&live, &patch, deployment)?;
/// assert_eq!(applied, json!({"spec": {"template": {"spec": {"containers": [
///     {"name": "web", "image": "web:2", "imagePullPolicy": "IfNotPresent"},
///     {"name": "mesh", "image": "mesh:1"}]}}}}));
///
/// // Someone scaled the Deployment since the last apply: removing `replicas` conflicts.
/// let mut scaled = live.clone();
/// scaled["spec"]["replicas"] = json!(5);
/// let err = create_three_way_strategic_patch(Some(&last_applied), &desired, Some(&scaled), deployment, false)
///     .expect_err("a conflict");
/// assert!(matches!(&err, Error::Conflict { paths } if paths == &["/spec/replicas"]));
/// # Ok::<(), Error>(())
/// ```
pub fn create_three_way_strategic_patch(
    original: Option<&Value>,
    modified: &Value,
    current: Option<&Value>,
    schema: TypeRef<'_>,
    overwrite: bool,
) -> Result<Value, Error> {
    let empty = Map::new();
    let original = document(MADE_FROM_OBJECTS, "original", original)?.unwrap_or(&empty);
    let modified = document(MADE_FROM_OBJECTS, "modified", Some(modified))?.unwrap_or(&empty);
    let current = document(MADE_FROM_OBJECTS, "current", current)?.unwrap_or(&empty);

    let changes = DiffOptions {
        ignore_deletions: true,
        set_element_order: true,
        ..DiffOptions::default()
    };
    let deletions = DiffOptions {
        ignore_changes: true,
        set_element_order: true,
        ..DiffOptions::default()
    };
    let made = || -> Result<Map<String, Value>, Fail> {
        let changes = diff_maps(current, modified, schema, changes)?;
        let mut patch = diff_maps(original, modified, schema, deletions)?;
        merge_map(&mut patch, &changes, schema, Mode::Merge)?;
        Ok(patch)
    };
    let patch = made().map_err(Fail::into_error)?;

    if !overwrite {
        let changed = diff_maps(original, current, schema, DiffOptions::default())
            .map_err(Fail::into_error)?;
        let mut paths = Vec::new();
        map_conflicts(
            &patch,
            &changed,
            schema,
            Some(current),
            &mut Pointer::root(),
            &mut paths,
        )
        .map_err(Fail::into_error)?;
        if !paths.is_empty() {
            return Err(Error::Conflict { paths });
        }
    }
    Ok(Value::Object(patch))
}

/// `document` with its merging lists in a canonical order, as apimachinery's tests normalise
/// documents before comparing them (`sortMergeListsByName`): merging lists of objects sorted
/// by the text of their merge key (recursively inside their items), merging lists of scalars
/// de-duplicated and sorted, `$retainKeys` and `$deleteFromPrimitiveList/<field>` sorted;
/// other lists, and everything inside them, as they are. Text order is Go's: `"10"` comes
/// before `"9"`.
///
/// Two documents that differ only in the order of their merging lists sort the same, so this
/// serves to compare objects as the API server sees them.
///
/// # Errors
///
/// [`Error::Unmergeable`] when a field with an object or a list is not in the schema, or a
/// merging list mixes item types; [`Error::InvalidPatch`] when a directive is not a list.
///
/// ```
/// use converge_diff::schema::Schema;
/// use converge_diff::strategic::sort_merge_lists;
/// use serde_json::json;
///
/// let deployment = Schema::kubernetes().for_kind("apps", "v1", "Deployment").expect("built in");
/// let object = json!({"metadata": {"finalizers": ["b", "a", "b"]},
///                     "spec": {"template": {"spec": {"containers": [{"name": "web"}, {"name": "proxy"}]}}}});
/// assert_eq!(sort_merge_lists(&object, deployment)?, json!({
///     "metadata": {"finalizers": ["a", "b"]},
///     "spec": {"template": {"spec": {"containers": [{"name": "proxy"}, {"name": "web"}]}}},
/// }));
/// # Ok::<(), converge_diff::Error>(())
/// ```
pub fn sort_merge_lists(document: &Value, schema: TypeRef<'_>) -> Result<Value, Error> {
    match document {
        Value::Object(members) => sort_map(members, schema)
            .map(Value::Object)
            .map_err(Fail::into_error),
        Value::Null => Ok(Value::Null),
        other => Err(Error::Unmergeable {
            path: String::new(),
            reason: format!("the document is {}, not an object", json_kind(other)),
        }),
    }
}

// ---- failures ---------------------------------------------------------------------------------

/// An error on its way up. The path is collected as the recursion unwinds (innermost token
/// first), so the walk pays nothing for it while nothing fails.
#[derive(Debug)]
struct Fail {
    patch: bool,
    reason: String,
    path: Vec<String>,
}

impl Fail {
    /// The patch is malformed.
    fn patch(reason: impl Into<String>) -> Self {
        Fail {
            patch: true,
            reason: reason.into(),
            path: Vec::new(),
        }
    }

    /// The documents do not fit the schema.
    fn document(reason: impl Into<String>) -> Self {
        Fail {
            patch: false,
            reason: reason.into(),
            path: Vec::new(),
        }
    }

    fn into_error(self) -> Error {
        let path = Pointer::from_tokens(self.path.into_iter().rev()).to_string();
        if self.patch {
            let reason = if path.is_empty() {
                self.reason
            } else {
                format!("{} (at {path})", self.reason)
            };
            Error::InvalidPatch { reason }
        } else {
            Error::Unmergeable {
                path,
                reason: self.reason,
            }
        }
    }
}

trait At<T> {
    /// Adds a token in front of the failure's path.
    fn at(self, token: &str) -> Result<T, Fail>;
    fn at_index(self, index: usize) -> Result<T, Fail>;
}

impl<T> At<T> for Result<T, Fail> {
    fn at(self, token: &str) -> Result<T, Fail> {
        self.map_err(|mut fail| {
            fail.path.push(token.to_owned());
            fail
        })
    }

    fn at_index(self, index: usize) -> Result<T, Fail> {
        self.map_err(|mut fail| {
            fail.path.push(index.to_string());
            fail
        })
    }
}

fn no_merge_key(item: &Value, key: &str) -> String {
    format!("map: {item} does not contain declared merge key: {key}")
}

// ---- the schema, as apimachinery looks it up --------------------------------------------------

/// What apimachinery's `LookupPatchMetadataForSlice` gives for a list field.
#[derive(Clone, Copy)]
struct ListMeta<'a> {
    items: TypeRef<'a>,
    /// Patch strategy `merge`.
    merge: bool,
    key: Option<&'a str>,
}

/// The type of a field, as apimachinery's lookups find it: anything below `Unknown` is
/// `Unknown`, a map's keys all have its value type, and a field an object does not have (or
/// any field of a list or a scalar) is `unable to find api field`.
fn field<'a>(ty: TypeRef<'a>, key: &str) -> Result<TypeRef<'a>, Fail> {
    let missing = |here: &str| Fail::document(format!("unable to find api field {key:?}{here}"));
    match ty.kind() {
        TypeKind::Unknown => Ok(ty),
        TypeKind::Object => ty.field(key).ok_or_else(|| missing("")),
        TypeKind::Map => ty.values().ok_or_else(|| missing("")),
        TypeKind::List => Err(missing(" (the schema has a list here)")),
        TypeKind::Scalar => Err(missing(" (the schema has a scalar here)")),
    }
}

/// `LookupPatchMetadataForStruct`: the type of an object field, and its patch strategy.
fn lookup_object<'a>(ty: TypeRef<'a>, key: &str) -> Result<(TypeRef<'a>, ObjectStrategy), Fail> {
    let ty = field(ty, key)?;
    let strategy = ty.object().map_or(ObjectStrategy::Merge, |o| o.strategy);
    Ok((ty, strategy))
}

/// `LookupPatchMetadataForSlice`: the item type of a list field, and how it merges.
fn lookup_list<'a>(ty: TypeRef<'a>, key: &str) -> Result<ListMeta<'a>, Fail> {
    list_meta(field(ty, key)?, key)
}

fn list_meta<'a>(ty: TypeRef<'a>, key: &str) -> Result<ListMeta<'a>, Fail> {
    let replace = |items| ListMeta {
        items,
        merge: false,
        key: None,
    };
    match ty.kind() {
        TypeKind::List => {
            let items = ty.items().unwrap_or_else(|| ty.unknown());
            Ok(match ty.list().map(|l| l.strategy) {
                Some(ListStrategy::Merge { key }) => ListMeta {
                    items,
                    merge: true,
                    key,
                },
                _ => replace(items),
            })
        }
        TypeKind::Unknown => Ok(replace(ty)),
        // A list given for a field declared as one object: a list of such objects, merged as
        // the field's markers say (apimachinery follows the reference).
        TypeKind::Object => match ty.as_list() {
            Some(list) => list_meta(list, key),
            None => Ok(replace(ty)),
        },
        TypeKind::Map | TypeKind::Scalar => Err(Fail::document(format!(
            "{key:?} holds a list, but the schema has a {} there",
            if ty.kind() == TypeKind::Map {
                "map"
            } else {
                "scalar"
            }
        ))),
    }
}

/// True when the items of a list (or an object) clear the fields a patch does not keep.
fn retains_keys(ty: TypeRef<'_>) -> bool {
    ty.object()
        .is_some_and(|o| o.strategy == ObjectStrategy::RetainKeys)
}

// ---- Go's view of JSON values -----------------------------------------------------------------

/// The Go type apimachinery's decoder gives a JSON value: integers that fit an `int64` are
/// `int64`, every other number a `float64`. Values of different types never merge.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum GoType {
    Null,
    Bool,
    Int,
    Float,
    String,
    List,
    Map,
}

fn go_type(value: &Value) -> GoType {
    match value {
        Value::Null => GoType::Null,
        Value::Bool(_) => GoType::Bool,
        Value::Number(n) if n.is_i64() => GoType::Int,
        Value::Number(_) => GoType::Float,
        Value::String(_) => GoType::String,
        Value::Array(_) => GoType::List,
        Value::Object(_) => GoType::Map,
    }
}

/// The one item type of some lists (`sliceElementType`); `None` when they are all empty.
fn element_type(lists: &[&[Value]]) -> Result<Option<GoType>, Fail> {
    let mut found = None;
    for item in lists.iter().flat_map(|list| list.iter()) {
        let ty = go_type(item);
        match found {
            _ if ty == GoType::Null => {
                return Err(Fail::document("a merging list holds a null item"));
            }
            None if ty == GoType::List => {
                return Err(Fail::document("lists of lists are not supported"));
            }
            None => found = Some(ty),
            Some(previous) if previous != ty => {
                return Err(Fail::document(format!(
                    "list element types are not identical: {previous:?} and {ty:?}"
                )));
            }
            Some(_) => {}
        }
    }
    Ok(found)
}

/// The text Go's `%v` gives a scalar: apimachinery sorts and pairs list items by it.
fn go_text(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(s) => Cow::Borrowed(s),
        Value::Bool(true) => Cow::Borrowed("true"),
        Value::Bool(false) => Cow::Borrowed("false"),
        Value::Null => Cow::Borrowed("<nil>"),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Cow::Owned(i.to_string()),
            None => Cow::Owned(go_float(n.as_f64().unwrap_or(f64::NAN))),
        },
        other => Cow::Owned(other.to_string()),
    }
}

/// `strconv.FormatFloat(f, 'g', -1, 64)` with `%v`'s exponent rule: the shortest digits, in
/// exponent form when the exponent is below -4 or at least 6 (`1e+06`, `1.5e-05`).
fn go_float(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let scientific = format!("{f:e}"); // shortest digits: "-1.2345e6"
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..6).contains(&exponent) {
        return format!("{f}");
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
}

/// Sorts scalars by their Go text, as `sortScalars` does (stably).
fn sort_scalars(values: &mut [Value]) {
    values.sort_by(|a, b| go_text(a).cmp(&go_text(b)));
}

/// apimachinery's `deduplicateScalars`: it keeps the first of equal values, but moves the last
/// one into each hole it makes, and the order it leaves shows in the patches.
fn go_dedupe(mut values: Vec<Value>) -> Vec<Value> {
    let mut i = 0;
    while i + 1 < values.len() {
        let mut j = i + 1;
        while j < values.len() {
            if values[i] == values[j] {
                values.swap_remove(j);
            } else {
                j += 1;
            }
        }
        i += 1;
    }
    values
}

/// A scalar (a merge key or an item of a list of scalars) as a hash key, equal when Go's `==`
/// would say so: numbers of different Go types differ, `-0.0` is `0.0`.
#[derive(Clone, Copy)]
struct Scalar<'v>(&'v Value);

impl PartialEq for Scalar<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for Scalar<'_> {}

impl Hash for Scalar<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self.0 {
            Value::Null => 0u8.hash(state),
            Value::Bool(b) => (1u8, b).hash(state),
            Value::String(s) => (2u8, s).hash(state),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    (3u8, u).hash(state);
                } else if let Some(i) = n.as_i64() {
                    (4u8, i).hash(state);
                } else {
                    let f = n.as_f64().unwrap_or(0.0);
                    let f = if f == 0.0 { 0.0f64 } else { f };
                    (5u8, f.to_bits()).hash(state);
                }
            }
            // Objects and arrays: equal ones must hash alike, and they never occur in practice.
            Value::Array(_) | Value::Object(_) => 6u8.hash(state),
        }
    }
}

/// The first position of each key in a list, growable: a scan while short, hashed when long.
/// `None` keys (an item without its merge key) are never found.
struct KeyIndex<'v> {
    keys: Vec<Option<&'v Value>>,
    hashed: Option<HashMap<Scalar<'v>, usize>>,
}

impl<'v> KeyIndex<'v> {
    fn new<I: IntoIterator<Item = Option<&'v Value>>>(keys: I) -> Self {
        let mut index = KeyIndex {
            keys: Vec::new(),
            hashed: None,
        };
        for key in keys {
            index.push(key);
        }
        index
    }

    fn push(&mut self, key: Option<&'v Value>) {
        let position = self.keys.len();
        self.keys.push(key);
        if let Some(hashed) = &mut self.hashed {
            if let Some(key) = key {
                hashed.entry(Scalar(key)).or_insert(position);
            }
        } else if self.keys.len() > SHORT {
            let mut hashed = HashMap::with_capacity(self.keys.len() * 2);
            for (i, key) in self.keys.iter().enumerate() {
                if let Some(key) = key {
                    hashed.entry(Scalar(key)).or_insert(i);
                }
            }
            self.hashed = Some(hashed);
        }
    }

    fn get(&self, key: &Value) -> Option<usize> {
        match &self.hashed {
            Some(hashed) => hashed.get(&Scalar(key)).copied(),
            None => self.keys.iter().position(|k| *k == Some(key)),
        }
    }
}

/// The last position of each key in a list.
struct LastIndex<'v> {
    reversed: KeyIndex<'v>,
    len: usize,
}

impl<'v> LastIndex<'v> {
    fn new(keys: &[&'v Value]) -> Self {
        LastIndex {
            reversed: KeyIndex::new(keys.iter().rev().map(|k| Some(*k))),
            len: keys.len(),
        }
    }

    fn get(&self, key: &Value) -> Option<usize> {
        self.reversed.get(key).map(|p| self.len - 1 - p)
    }
}

/// The merge key of a list item (`None` when it has none), or the item itself in a list of
/// scalars.
fn key_of<'v>(item: &'v Value, key: Option<&str>) -> Option<&'v Value> {
    match key {
        Some(key) => item.get(key),
        None => Some(item),
    }
}

// ---- ordering list items (normalizeElementOrder) ----------------------------------------------

/// A list item on its way into a merged list, with what its place depends on.
struct Item {
    value: Value,
    /// Position of its key in the order the patch asks for (the patch list, or
    /// `$setElementOrder`); `None` for items only the original has.
    order: Option<usize>,
    /// Position of its key in the original list.
    server: Option<usize>,
    /// A `$patch: delete` item (only in patches being merged): these go last.
    delete: bool,
}

/// apimachinery's `normalizeElementOrder`: the items the patch names in the patch's order, the
/// others in the original's order, then the two merged so that each item the original has keeps
/// its place relative to the original's other items where it can.
/// Orders merged items by where each stands — `(order, server, delete)`, one per item, as
/// [`Item`] holds them — with [`normalize_element_order`].
fn order_merged(
    merged: Vec<Value>,
    places: Vec<(Option<usize>, Option<usize>, bool)>,
    maps: bool,
) -> Vec<Value> {
    let items = merged
        .into_iter()
        .zip(places)
        .map(|(value, (order, server, delete))| Item {
            value,
            order,
            server,
            delete,
        })
        .collect();
    normalize_element_order(items, maps)
}

fn normalize_element_order(items: Vec<Item>, maps: bool) -> Vec<Value> {
    let (patch_items, server_only): (Vec<Item>, Vec<Item>) =
        items.into_iter().partition(|item| item.order.is_some());
    let patch_items = normalize_slice_order(patch_items, |item| item.order, maps);
    let server_only = normalize_slice_order(server_only, |item| item.server, maps);
    merge_sorted(server_only, patch_items)
}

/// `normalizeSliceOrder`: sorted by `position`, stably; `$patch: delete` items last. An item
/// without a position sorts as apimachinery's comparator lets it (it answers "less" whenever
/// either side has none), through Go's own stable sort.
fn normalize_slice_order(
    items: Vec<Item>,
    position: fn(&Item) -> Option<usize>,
    maps: bool,
) -> Vec<Item> {
    let (mut kept, deleted): (Vec<Item>, Vec<Item>) = if maps {
        items.into_iter().partition(|item| !item.delete)
    } else {
        (items, Vec::new())
    };
    if kept.iter().all(|item| position(item).is_some()) {
        kept.sort_by_key(position);
    } else {
        go_stable_sort(&mut kept, |a, b| match (position(a), position(b)) {
            (Some(a), Some(b)) => a < b,
            _ => true,
        });
    }
    kept.extend(deleted);
    kept
}

/// `mergeSortedSlice`: takes from `left` (the original's items) while its head comes before
/// the head of `right` in the original, else from `right`.
fn merge_sorted(left: Vec<Item>, right: Vec<Item>) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!((l.server, r.server), (Some(l), Some(r)) if l < r),
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next.map(|item| item.value));
    }
    out
}

/// Go's `sort.SliceStable` (insertion sort in blocks of 20, then `symMerge`), for comparators
/// that are not a strict order, where only the same algorithm gives the same result.
fn go_stable_sort<T>(data: &mut [T], less: impl Fn(&T, &T) -> bool) {
    let n = data.len();
    let mut block = 20;
    let (mut a, mut b) = (0, block);
    while b <= n {
        insertion_sort(data, a, b, &less);
        a = b;
        b += block;
    }
    insertion_sort(data, a, n, &less);
    while block < n {
        let (mut a, mut b) = (0, 2 * block);
        while b <= n {
            sym_merge(data, a, a + block, b, &less);
            a = b;
            b += 2 * block;
        }
        let m = a + block;
        if m < n {
            sym_merge(data, a, m, n, &less);
        }
        block *= 2;
    }
}

fn insertion_sort<T>(data: &mut [T], a: usize, b: usize, less: &impl Fn(&T, &T) -> bool) {
    for i in a + 1..b {
        let mut j = i;
        while j > a && less(&data[j], &data[j - 1]) {
            data.swap(j, j - 1);
            j -= 1;
        }
    }
}

fn sym_merge<T>(data: &mut [T], a: usize, m: usize, b: usize, less: &impl Fn(&T, &T) -> bool) {
    if m - a == 1 {
        let (mut i, mut j) = (m, b);
        while i < j {
            let h = (i + j) / 2;
            if less(&data[h], &data[a]) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        for k in a..i - 1 {
            data.swap(k, k + 1);
        }
        return;
    }
    if b - m == 1 {
        let (mut i, mut j) = (a, m);
        while i < j {
            let h = (i + j) / 2;
            if !less(&data[m], &data[h]) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        let mut k = m;
        while k > i {
            data.swap(k, k - 1);
            k -= 1;
        }
        return;
    }
    let mid = (a + b) / 2;
    let n = mid + m;
    let (mut start, mut r) = if m > mid { (n - b, mid) } else { (a, m) };
    let p = n - 1;
    while start < r {
        let c = (start + r) / 2;
        if !less(&data[p - c], &data[c]) {
            start = c + 1;
        } else {
            r = c;
        }
    }
    let end = n - start;
    if start < m && m < end {
        rotate(data, start, m, end);
    }
    if a < start && start < mid {
        sym_merge(data, a, start, mid, less);
    }
    if mid < end && end < b {
        sym_merge(data, mid, end, b, less);
    }
}

fn rotate<T>(data: &mut [T], a: usize, m: usize, b: usize) {
    let (mut i, mut j) = (m - a, b - m);
    while i != j {
        if i > j {
            swap_range(data, m - i, m, j);
            i -= j;
        } else {
            swap_range(data, m - i, m + j - i, i);
            j -= i;
        }
    }
    swap_range(data, m - i, m, i);
}

fn swap_range<T>(data: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        data.swap(a + i, b + i);
    }
}

// ---- merging a patch into a document (mergeMap) -----------------------------------------------

/// How [`merge_map`] treats directives and `null`s.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Applying a patch to an object: directives act, `null`s delete.
    Apply,
    /// Merging one patch into another (the two halves of a three-way patch): directives and
    /// `null`s are kept for the final patch to carry.
    Merge,
}

/// Merges `patch` into `original` in place (apimachinery's `mergeMap`).
fn merge_map(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    ty: TypeRef<'_>,
    mode: Mode,
) -> Result<(), Fail> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        match directive.as_str() {
            Some("replace") => {
                *original = patch
                    .iter()
                    .filter(|(key, _)| *key != DIRECTIVE)
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect();
                return Ok(());
            }
            Some("delete") => {
                original.clear();
                return Ok(());
            }
            Some("merge") => {}
            _ => {
                return Err(Fail::patch(format!(
                    "unknown patch type {directive} in a map"
                )))
                .at(DIRECTIVE);
            }
        }
    }
    retain_keys(original, patch, mode)?;
    let ordered = set_element_orders(original, patch, ty, mode)?;

    // Fields first, then the deletions from lists of scalars: a scalar that a patch both adds
    // and deletes is deleted. (apimachinery visits the keys in Go's random map order, so its
    // outcome varies, except when `$setElementOrder` is given: then the deletion comes last,
    // as here.)
    let fields = patch
        .iter()
        .filter(|(key, _)| !key.starts_with(DELETE_FROM_PRIMITIVE_LIST));
    let deletions = patch
        .iter()
        .filter(|(key, _)| key.starts_with(DELETE_FROM_PRIMITIVE_LIST));
    let mut removed: Vec<&str> = Vec::new();
    for (key, value) in fields.chain(deletions) {
        if key == DIRECTIVE || key == RETAIN_KEYS || key.starts_with(SET_ELEMENT_ORDER) {
            continue;
        }
        let (target, delete_list) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            if mode == Mode::Merge {
                original.insert(key.clone(), value.clone());
                continue;
            }
            let target = directive_target(key, DELETE_FROM_PRIMITIVE_LIST).at(key)?;
            (target, true)
        } else if ordered.contains(&key.as_str()) {
            continue; // merged with its `$setElementOrder`
        } else {
            (key.as_str(), false)
        };

        if value.is_null() {
            if mode == Mode::Apply {
                // Removed in one pass at the end, keeping the order of the rest.
                removed.push(target);
                continue;
            }
            original.shift_remove(target);
        }
        let Some(current) = original.get_mut(target) else {
            if !delete_list && let Some(value) = added(value, mode) {
                original.insert(target.to_owned(), value);
            }
            continue;
        };
        if go_type(current) != go_type(value) {
            if !delete_list {
                match added(value, mode) {
                    Some(value) => *current = value,
                    None => {
                        original.shift_remove(target);
                    }
                }
            }
            continue;
        }
        match (current, value) {
            (Value::Object(current), Value::Object(value)) => {
                let (ty, strategy) = lookup_object(ty, target).at(key)?;
                if strategy == ObjectStrategy::Replace {
                    current.clone_from(value);
                } else {
                    merge_map(current, value, ty, mode).at(key)?;
                }
            }
            (Value::Array(current), Value::Array(value)) => {
                let meta = lookup_list(ty, target).at(key)?;
                if meta.merge || delete_list {
                    let merged =
                        merge_list(std::mem::take(current), value, meta, delete_list, mode)
                            .at(key)?;
                    *current = merged;
                } else {
                    current.clone_from(value);
                }
            }
            (current, value) => current.clone_from(value),
        }
    }
    match removed.len() {
        0 => {}
        1 => {
            original.shift_remove(removed[0]);
        }
        _ => {
            let removed: std::collections::HashSet<&str> = removed.into_iter().collect();
            original.retain(|key, _| !removed.contains(key.as_str()));
        }
    }
    Ok(())
}

/// A value the patch adds where there was none (or something of another type), as
/// apimachinery takes it: without the `null` members of its objects when applying
/// (`discardNullValuesFromPatch`, at any depth, inside lists too; `null` list items stay), and
/// without any object that holds a `$patch` directive (`removeDirectives`: such a list item is
/// dropped, such a field left out). `None` when the value itself holds a `$patch`.
fn added(value: &Value, mode: Mode) -> Option<Value> {
    match value {
        Value::Object(members) => {
            let discard = |member: &Value| mode == Mode::Apply && member.is_null();
            if members.get(DIRECTIVE).is_some_and(|d| !discard(d)) {
                return None;
            }
            Some(Value::Object(
                members
                    .iter()
                    .filter(|(_, member)| !discard(member))
                    .filter_map(|(key, member)| Some((key.clone(), added(member, mode)?)))
                    .collect(),
            ))
        }
        Value::Array(items) => Some(Value::Array(
            items.iter().filter_map(|item| added(item, mode)).collect(),
        )),
        other => Some(other.clone()),
    }
}

/// `removeDirectives` alone: a list the patch adds under a `$setElementOrder`.
fn without_directives(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .filter_map(|item| added(item, Mode::Merge))
        .collect()
}

/// The field a `$deleteFromPrimitiveList/<field>` or `$setElementOrder/<field>` key is about.
fn directive_target<'k>(key: &'k str, prefix: &str) -> Result<&'k str, Fail> {
    match key.split_once('/') {
        Some((head, field)) if head == prefix => Ok(field),
        _ => Err(Fail::patch(format!(
            "invalid patch format of {}: {key:?}",
            if prefix == DELETE_FROM_PRIMITIVE_LIST {
                "primitive list"
            } else {
                "setElementOrder list"
            }
        ))),
    }
}

/// `applyRetainKeysDirective`.
fn retain_keys(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    mode: Mode,
) -> Result<(), Fail> {
    let Some(retained) = patch.get(RETAIN_KEYS) else {
        return Ok(());
    };
    if mode == Mode::Merge {
        match original.get(RETAIN_KEYS) {
            Some(existing) if existing != retained => {
                return Err(Fail::patch(format!(
                    "{existing} and {retained} differ: the two halves of a three-way patch disagree"
                )))
                .at(RETAIN_KEYS);
            }
            Some(_) => {}
            None => {
                original.insert(RETAIN_KEYS.to_owned(), retained.clone());
            }
        }
        return Ok(());
    }
    let Some(retained) = retained.as_array() else {
        return Err(Fail::patch(
            "invalid patch format of retainKeys: not a list",
        ))
        .at(RETAIN_KEYS);
    };
    let set: Option<std::collections::HashSet<&str>> =
        (retained.len() > SHORT).then(|| retained.iter().filter_map(Value::as_str).collect());
    let keeps = |key: &str| match &set {
        Some(set) => set.contains(key),
        None => retained.iter().any(|k| k.as_str() == Some(key)),
    };
    for (key, value) in patch {
        let directive = key == RETAIN_KEYS
            || key == DIRECTIVE
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || key.starts_with(SET_ELEMENT_ORDER);
        if !value.is_null() && !directive && !keeps(key) {
            return Err(Fail::patch(format!(
                "invalid patch format of retainKeys: the patch sets {key:?}, which $retainKeys does not list"
            )));
        }
    }
    original.retain(|key, _| keeps(key));
    Ok(())
}

/// `mergePatchIntoOriginal`: each list that has a `$setElementOrder` is merged with its patch
/// and put in that order. Returns the lists it merged, which the main loop then skips.
fn set_element_orders<'p>(
    original: &mut Map<String, Value>,
    patch: &'p Map<String, Value>,
    ty: TypeRef<'_>,
    mode: Mode,
) -> Result<Vec<&'p str>, Fail> {
    let mut ordered = Vec::new();
    for (key, order) in patch {
        if !key.starts_with(SET_ELEMENT_ORDER) {
            continue;
        }
        if mode == Mode::Merge {
            match original.get(key) {
                Some(existing) if existing != order => {
                    return Err(Fail::patch(
                        "invalid patch format of setElementOrder list: the two halves of a three-way patch disagree",
                    ))
                    .at(key);
                }
                Some(_) => {}
                None => {
                    original.insert(key.clone(), order.clone());
                }
            }
        }
        let Some(order) = order.as_array() else {
            return Err(Fail::patch("a $setElementOrder value that is not a list")).at(key);
        };
        let target = directive_target(key, SET_ELEMENT_ORDER).at(key)?;
        let original_list = match original.get(target) {
            None => None,
            Some(Value::Array(items)) => Some(items),
            Some(other) => {
                return Err(Fail::document(format!(
                    "$setElementOrder for a field that is {}, not a list",
                    json_kind(other)
                )))
                .at(target);
            }
        };
        let patch_list = match patch.get(target) {
            None => None,
            Some(Value::Array(items)) => Some(items.as_slice()),
            Some(other) => {
                return Err(Fail::patch(format!(
                    "$setElementOrder for a field that is {}, not a list",
                    json_kind(other)
                )))
                .at(target);
            }
        };
        let meta = lookup_list(ty, target).at(key)?;
        check_order(patch_list.unwrap_or(&[]), order, meta.key).at(key)?;
        if original_list.is_none() && patch_list.is_none() {
            continue;
        }
        ordered.push(target);

        let kind = element_type(&[
            original_list.map_or(&[][..], Vec::as_slice),
            patch_list.unwrap_or(&[]),
        ])
        .at(target)?;
        let maps = kind == Some(GoType::Map);
        // The original's order, by key, as apimachinery sees it after the merge.
        let mut server: Vec<Option<Value>> = original_list
            .map(|items| {
                items
                    .iter()
                    .map(|item| key_of(item, meta.key).cloned())
                    .collect()
            })
            .unwrap_or_default();
        let merged = match (original.get_mut(target), patch_list) {
            (Some(Value::Array(current)), None) => std::mem::take(current),
            (None, Some(patch_list)) => without_directives(patch_list),
            (Some(Value::Array(current)), Some(patch_list)) => {
                if meta.merge {
                    if let (true, Some(key)) = (maps, meta.key) {
                        alias_merged_order(&mut server, patch_list, key);
                    }
                    merge_list(std::mem::take(current), patch_list, meta, false, mode).at(key)?
                } else {
                    patch_list.to_vec()
                }
            }
            _ => continue,
        };
        let result = if kind.is_none() {
            merged
        } else {
            order_by(merged, order, &server, meta.key, maps).at(key)?
        };
        original.insert(target.to_owned(), Value::Array(result));
    }
    Ok(ordered)
}

/// The keys of an original list of objects as apimachinery's `mergePatchIntoOriginal` orders by
/// them after `mergeSlice` merged a patch into that list. `mergeSlice` works in the list's own
/// backing array, which the caller's slice (of the original length) still shows: a deleted item
/// shifts the ones after it to the left, and items appended by the patch land in the places
/// that frees. That view decides where the original's other items go relative to new ones.
fn alias_merged_order(server: &mut [Option<Value>], patch: &[Value], key: &str) {
    fn directive(item: &Value) -> Option<&str> {
        item.get(DIRECTIVE).and_then(Value::as_str)
    }
    if patch.iter().any(|item| directive(item) == Some("replace")) {
        return; // the merge goes on in a new list
    }
    let doomed: Vec<&Value> = patch
        .iter()
        .filter(|item| directive(item) == Some("delete"))
        .filter_map(|item| item.get(key))
        .collect();
    if doomed.is_empty() {
        return; // nothing freed: the caller sees the original as it was
    }
    // Appended items: those whose key is in neither what survives the deletions nor an earlier
    // append.
    let appended: Vec<&Value> = {
        let doomed = KeyIndex::new(doomed.iter().map(|k| Some(*k)));
        let mut known = KeyIndex::new(
            server
                .iter()
                .map(|k| k.as_ref().filter(|k| doomed.get(k).is_none())),
        );
        let mut appended = Vec::new();
        for item in patch {
            if directive(item).is_some_and(|d| d != "merge") {
                continue;
            }
            let Some(k) = item.get(key) else { continue };
            if known.get(k).is_none() {
                known.push(Some(k));
                appended.push(k);
            }
        }
        appended
    };
    if appended.is_empty() {
        // Survivors keep their relative order, which is all the caller compares.
        return;
    }
    // Go's `append(s[:i], s[i+1:]...)` for each deletion: the items after `i` move left, and
    // the last slot keeps its old value.
    let mut len = server.len();
    for doomed in doomed {
        while let Some(i) = server[..len]
            .iter()
            .position(|k| k.as_ref() == Some(doomed))
        {
            server[i..len].rotate_left(1);
            if i + 1 < len {
                server[len - 1] = server[len - 2].clone();
            }
            len -= 1;
        }
    }
    // The appended items fill the freed places, in order; the rest go to a new array the
    // caller does not see.
    for (slot, k) in server[len..].iter_mut().zip(appended) {
        *slot = Some(k.clone());
    }
}

/// Puts a merged list in the order of `order` (its keys, or its scalars), the items `order`
/// does not name where `server` (the original's keys) had them.
fn order_by(
    merged: Vec<Value>,
    order: &[Value],
    server: &[Option<Value>],
    key: Option<&str>,
    maps: bool,
) -> Result<Vec<Value>, Fail> {
    let key = match (maps, key) {
        (true, Some(key)) => Some(key),
        (true, None) => {
            return Err(Fail::patch(
                "$setElementOrder for a list of objects that has no merge key",
            ));
        }
        (false, Some(_)) if !merged.is_empty() => {
            return Err(Fail::document(
                "a list of scalars where the schema has a merge key",
            ));
        }
        (false, _) => None,
    };
    if let Some(key) = key {
        for (i, item) in order.iter().enumerate() {
            if item.get(key).is_none() {
                return Err(Fail::patch(no_merge_key(item, key))).at_index(i);
            }
        }
        if server.iter().any(Option::is_none) {
            return Err(Fail::document(format!(
                "an item of the original list does not contain declared merge key: {key}"
            )));
        }
    }
    let order_index = KeyIndex::new(order.iter().map(|item| key_of(item, key)));
    let server_index = KeyIndex::new(server.iter().map(Option::as_ref));
    let mut places = Vec::with_capacity(merged.len());
    for (i, item) in merged.iter().enumerate() {
        let Some(k) = key_of(item, key) else {
            return Err(Fail::document(no_merge_key(item, key.unwrap_or("")))).at_index(i);
        };
        places.push((order_index.get(k), server_index.get(k), is_delete(item)));
    }
    Ok(order_merged(merged, places, maps))
}

fn is_delete(item: &Value) -> bool {
    item.get(DIRECTIVE).and_then(Value::as_str) == Some("delete")
}

/// `validatePatchWithSetOrderList`: the patch's items (but deletions and other directives) must
/// come in the order `$setElementOrder` gives.
fn check_order(patch: &[Value], order: &[Value], key: Option<&str>) -> Result<(), Fail> {
    if patch.is_empty() || order.is_empty() {
        return Ok(());
    }
    let items: Vec<&Value> = if key.is_some() {
        patch.iter().filter(|item| !is_delete(item)).collect()
    } else {
        patch.iter().collect()
    };
    let (mut p, mut o) = (0, 0);
    while p < items.len() && o < order.len() {
        if items[p].get(DIRECTIVE).is_some() {
            p += 1;
            continue;
        }
        let equal = match key {
            None => items[p] == &order[o],
            Some(key) => {
                let left = items[p]
                    .get(key)
                    .ok_or_else(|| Fail::patch(no_merge_key(items[p], key)))?;
                let right = order[o]
                    .get(key)
                    .ok_or_else(|| Fail::patch(no_merge_key(&order[o], key)))?;
                left == right
            }
        };
        if equal {
            p += 1;
        }
        o += 1;
    }
    if p < items.len() && o >= order.len() {
        return Err(Fail::patch(format!(
            "the order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}",
            Value::Array(patch.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

/// Merges a merging list (or applies a `$deleteFromPrimitiveList`): apimachinery's
/// `mergeSlice`.
fn merge_list(
    original: Vec<Value>,
    patch: &[Value],
    meta: ListMeta<'_>,
    delete_list: bool,
    mode: Mode,
) -> Result<Vec<Value>, Fail> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    if element_type(&[&original, patch])? != Some(GoType::Map) {
        if mode == Mode::Apply && delete_list {
            let doomed = KeyIndex::new(patch.iter().map(Some));
            return Ok(original
                .into_iter()
                .filter(|item| doomed.get(item).is_none())
                .collect());
        }
        return Ok(merge_scalars(&original, patch));
    }
    let Some(key) = meta.key else {
        return Err(Fail::document(
            "cannot merge lists of objects without a merge key",
        ));
    };
    merge_objects(original, patch, key, meta.items, mode)
}

/// The union of two lists of scalars, without duplicates, in the patch's order with the
/// original's other items kept in place.
fn merge_scalars(original: &[Value], patch: &[Value]) -> Vec<Value> {
    let in_patch = KeyIndex::new(patch.iter().map(Some));
    let in_original = KeyIndex::new(original.iter().map(Some));
    let mut seen = KeyIndex::new(std::iter::empty());
    let mut items = Vec::with_capacity(original.len() + patch.len());
    for value in original.iter().chain(patch) {
        if seen.get(value).is_some() {
            continue;
        }
        seen.push(Some(value));
        items.push(Item {
            value: value.clone(),
            order: in_patch.get(value),
            server: in_original.get(value),
            delete: false,
        });
    }
    normalize_element_order(items, false)
}

/// Merges a list of objects by merge key: deletions and `$patch: replace` first
/// (`mergeSliceWithSpecialElements`), then each patch item into the first item with its key or
/// at the end (`mergeSliceWithoutSpecialElements`), then the order.
fn merge_objects(
    original: Vec<Value>,
    patch: &[Value],
    key: &str,
    items_ty: TypeRef<'_>,
    mode: Mode,
) -> Result<Vec<Value>, Fail> {
    let mut items: Vec<(usize, &Map<String, Value>)> = Vec::with_capacity(patch.len());
    let mut doomed: Vec<&Value> = Vec::new();
    let mut replace = false;
    for (i, item) in patch.iter().enumerate() {
        let Value::Object(members) = item else {
            unreachable!("element_type found only objects");
        };
        match members.get(DIRECTIVE) {
            None => items.push((i, members)),
            Some(directive) => match directive.as_str() {
                Some("delete") => match members.get(key) {
                    Some(value) => doomed.push(value),
                    None => return Err(Fail::patch(no_merge_key(item, key))).at_index(i),
                },
                Some("replace") => replace = true,
                Some("merge") => items.push((i, members)),
                _ => {
                    return Err(Fail::patch(format!(
                        "unknown patch type {directive} in a list item"
                    )))
                    .at_index(i);
                }
            },
        }
    }
    let mut merged = if replace {
        let replaced = items
            .iter()
            .map(|(_, m)| Value::Object((*m).clone()))
            .collect();
        items.clear();
        replaced
    } else {
        let mut kept = original;
        if !doomed.is_empty() {
            let doomed = KeyIndex::new(doomed.into_iter().map(Some));
            kept.retain(|item| item.get(key).is_none_or(|k| doomed.get(k).is_none()));
        }
        kept
    };
    for &(i, item) in &items {
        if !item.contains_key(key) {
            return Err(Fail::patch(no_merge_key(&Value::Object(item.clone()), key))).at_index(i);
        }
    }

    // Where each patch item goes: into the first item with its key (the original's, or one
    // appended before it), or at the end.
    let base = merged.len();
    let plan: Vec<Option<usize>> = {
        let mut index = KeyIndex::new(merged.iter().map(|item| item.get(key)));
        items
            .iter()
            .map(|(_, item)| {
                let k = &item[key];
                let found = index.get(k);
                if found.is_none() {
                    index.push(Some(k));
                }
                found
            })
            .collect()
    };
    for (&(i, item), target) in items.iter().zip(plan) {
        match target {
            Some(t) => {
                let Value::Object(current) = &mut merged[t] else {
                    unreachable!("element_type found only objects");
                };
                merge_map(current, item, items_ty, mode).at_index(i)?;
            }
            None => merged.push(Value::Object(item.clone())),
        }
    }

    // The order: the patch's, with the original's other items where they were.
    let places: Vec<(Option<usize>, Option<usize>, bool)> = {
        let in_patch = KeyIndex::new(items.iter().map(|(_, item)| item.get(key)));
        let in_original = KeyIndex::new(merged[..base].iter().map(|item| item.get(key)));
        let mut places = Vec::with_capacity(merged.len());
        for (i, item) in merged.iter().enumerate() {
            let Some(k) = item.get(key) else {
                return Err(Fail::document(no_merge_key(item, key))).at_index(i);
            };
            places.push((in_patch.get(k), in_original.get(k), is_delete(item)));
        }
        places
    };
    Ok(order_merged(merged, places, true))
}

// ---- making a patch (diffMaps) ----------------------------------------------------------------

#[derive(Clone, Copy, Default)]
struct DiffOptions {
    /// Leave out what `modified` adds or changes (the deletions half of a three-way patch).
    ignore_changes: bool,
    /// Leave out what `modified` removes (the changes half).
    ignore_deletions: bool,
    /// Emit `$setElementOrder` for merging lists.
    set_element_order: bool,
    /// Emit `$retainKeys` for this object (its field is `retainKeys`).
    retain_keys: bool,
}

/// The patch from `original` to `modified` (apimachinery's `diffMaps`).
fn diff_maps(
    original: &Map<String, Value>,
    modified: &Map<String, Value>,
    ty: TypeRef<'_>,
    options: DiffOptions,
) -> Result<Map<String, Value>, Fail> {
    let mut patch = Map::new();
    let mut retained: Vec<&str> = Vec::new();
    for (key, new) in modified {
        if options.retain_keys && !new.is_null() {
            retained.push(key);
        }
        let Some(old) = original.get(key) else {
            if !options.ignore_changes {
                patch.insert(key.clone(), new.clone());
            }
            continue;
        };
        if key == DIRECTIVE {
            match (old.as_str(), new.as_str()) {
                (Some(old), Some(new)) if old != new => {
                    patch.insert(key.clone(), Value::String(new.to_owned()));
                }
                (Some(_), Some(_)) => {}
                _ => {
                    return Err(Fail::document("invalid value for special key: $patch")).at(key);
                }
            }
            continue;
        }
        if go_type(old) != go_type(new) {
            if !options.ignore_changes {
                patch.insert(key.clone(), new.clone());
            }
            continue;
        }
        match (old, new) {
            (Value::Object(old), Value::Object(new)) => {
                diff_object_field(key, old, new, &mut patch, ty, options).at(key)?;
            }
            (Value::Array(old), Value::Array(new)) => {
                diff_list_field(key, old, new, &mut patch, ty, options).at(key)?;
            }
            _ => {
                if !options.ignore_changes && old != new {
                    patch.insert(key.clone(), new.clone());
                }
            }
        }
    }
    if !options.ignore_deletions {
        for key in original.keys() {
            if !modified.contains_key(key) {
                patch.insert(key.clone(), Value::Null);
            }
        }
    }
    let clears = || {
        original
            .iter()
            .any(|(key, value)| !value.is_null() && !modified.contains_key(key))
    };
    if !retained.is_empty() && (!patch.is_empty() || clears()) {
        let mut keys: Vec<Value> = retained
            .into_iter()
            .map(|key| Value::String(key.to_owned()))
            .collect();
        sort_scalars(&mut keys);
        patch.insert(RETAIN_KEYS.to_owned(), Value::Array(keys));
    }
    Ok(patch)
}

/// `handleMapDiff`.
fn diff_object_field(
    key: &str,
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    patch: &mut Map<String, Value>,
    ty: TypeRef<'_>,
    options: DiffOptions,
) -> Result<(), Fail> {
    let (ty, strategy) = match lookup_object(ty, key) {
        Ok(found) => found,
        // Without metadata only equal values can be passed over.
        Err(_) if old == new => return Ok(()),
        Err(fail) => return Err(fail),
    };
    if strategy == ObjectStrategy::Replace {
        if !options.ignore_changes {
            patch.insert(key.to_owned(), Value::Object(new.clone()));
        }
        return Ok(());
    }
    let options = DiffOptions {
        retain_keys: strategy == ObjectStrategy::RetainKeys,
        ..options
    };
    let nested = diff_maps(old, new, ty, options)?;
    if !nested.is_empty() {
        patch.insert(key.to_owned(), Value::Object(nested));
    }
    Ok(())
}

/// `handleSliceDiff`.
fn diff_list_field(
    key: &str,
    old: &[Value],
    new: &[Value],
    patch: &mut Map<String, Value>,
    ty: TypeRef<'_>,
    options: DiffOptions,
) -> Result<(), Fail> {
    let meta = match lookup_list(ty, key) {
        Ok(meta) => meta,
        Err(_) if old == new => return Ok(()),
        Err(fail) => return Err(fail),
    };
    if !meta.merge {
        if !options.ignore_changes && old != new {
            patch.insert(key.to_owned(), Value::Array(new.to_vec()));
        }
        return Ok(());
    }
    let options = DiffOptions {
        retain_keys: retains_keys(meta.items),
        ..options
    };
    let lists = diff_lists(old, new, meta, options)?;
    if !lists.order.is_empty() {
        patch.insert(
            format!("{SET_ELEMENT_ORDER}/{key}"),
            Value::Array(lists.order),
        );
    }
    if !lists.patch.is_empty() {
        patch.insert(key.to_owned(), Value::Array(lists.patch));
    }
    if !lists.deletions.is_empty() {
        patch.insert(
            format!("{DELETE_FROM_PRIMITIVE_LIST}/{key}"),
            Value::Array(lists.deletions),
        );
    }
    Ok(())
}

/// What a merging list contributes to a patch.
#[derive(Default)]
struct ListPatch {
    /// Changed, added and (for objects) deleted items.
    patch: Vec<Value>,
    /// Removed scalars (`$deleteFromPrimitiveList`).
    deletions: Vec<Value>,
    /// `$setElementOrder`.
    order: Vec<Value>,
}

/// `diffLists`.
fn diff_lists(
    old: &[Value],
    new: &[Value],
    meta: ListMeta<'_>,
    options: DiffOptions,
) -> Result<ListPatch, Fail> {
    if old.is_empty() {
        if new.is_empty() || options.ignore_changes {
            return Ok(ListPatch::default());
        }
        return Ok(ListPatch {
            patch: new.to_vec(),
            ..ListPatch::default()
        });
    }
    match element_type(&[old, new])? {
        Some(GoType::Map) => {
            let Some(key) = meta.key else {
                return Err(Fail::document(
                    "cannot merge lists of objects without a merge key",
                ));
            };
            diff_object_lists(old, new, key, meta.items, options)
        }
        _ => Ok(diff_scalar_lists(old, new, options)),
    }
}

/// `diffListsOfMaps` and what `diffLists` does with its result. Items are paired by the text of
/// their merge key (as apimachinery pairs them, walking both lists sorted by it): the n-th item
/// with a key in `old` with the n-th item with that key in `new`.
fn diff_object_lists(
    old: &[Value],
    new: &[Value],
    key: &str,
    items_ty: TypeRef<'_>,
    options: DiffOptions,
) -> Result<ListPatch, Fail> {
    let old_keys = merge_keys(old, key)?;
    let new_keys = merge_keys(new, key)?;
    let old_text: Vec<Cow<'_, str>> = old_keys.iter().map(|k| go_text(k)).collect();

    // Pair each item of `new` with the first unpaired item of `old` with the same key text.
    let mut paired = vec![false; old.len()];
    let mut pairs: Vec<Option<usize>> = Vec::with_capacity(new.len());
    if old.len() <= SHORT {
        for new_key in &new_keys {
            let text = go_text(new_key);
            let found = (0..old.len()).find(|&i| !paired[i] && old_text[i] == text);
            if let Some(i) = found {
                paired[i] = true;
            }
            pairs.push(found);
        }
    } else {
        let mut by_text: HashMap<&str, (Vec<usize>, usize)> = HashMap::new();
        for (i, text) in old_text.iter().enumerate() {
            by_text.entry(text.as_ref()).or_default().0.push(i);
        }
        for new_key in &new_keys {
            let text = go_text(new_key);
            let found = by_text.get_mut(text.as_ref()).and_then(|(list, next)| {
                let found = list.get(*next).copied();
                *next += 1;
                found
            });
            if let Some(i) = found {
                paired[i] = true;
            }
            pairs.push(found);
        }
    }

    // Changed and added items, in `new`'s order (items with one key together, at its first).
    let new_index = KeyIndex::new(new_keys.iter().map(|k| Some(*k)));
    let mut items: Vec<Item> = Vec::new();
    for (j, pair) in pairs.iter().enumerate() {
        let value = match pair {
            Some(i) => {
                let (Value::Object(old_item), Value::Object(new_item)) = (&old[*i], &new[j]) else {
                    unreachable!("element_type found only objects");
                };
                let mut nested = diff_maps(old_item, new_item, items_ty, options).at_index(j)?;
                if nested.is_empty() {
                    continue;
                }
                nested.insert(key.to_owned(), new_keys[j].clone());
                Value::Object(nested)
            }
            None if options.ignore_changes => continue,
            None => new[j].clone(),
        };
        items.push(Item {
            order: new_index.get(new_keys[j]),
            server: None,
            delete: is_delete(&value),
            value,
        });
    }
    let mut patch: Vec<Value> = normalize_slice_order(items, |item| item.order, true)
        .into_iter()
        .map(|item| item.value)
        .collect();

    // Deleted items, in the text order of their keys.
    if !options.ignore_deletions {
        let mut deleted: Vec<usize> = (0..old.len()).filter(|&i| !paired[i]).collect();
        deleted.sort_by(|&a, &b| old_text[a].cmp(&old_text[b]));
        for i in deleted {
            let mut directive = Map::new();
            directive.insert(key.to_owned(), old_keys[i].clone());
            directive.insert(DIRECTIVE.to_owned(), Value::String("delete".to_owned()));
            patch.push(Value::Object(directive));
        }
    }

    let same_order = old.len() == new.len() && old_keys.iter().zip(&new_keys).all(|(a, b)| a == b);
    let order = if options.set_element_order
        && ((!options.ignore_changes && (!patch.is_empty() || !same_order))
            || (!options.ignore_deletions && !patch.is_empty()))
    {
        new_keys
            .iter()
            .map(|k| {
                let mut item = Map::new();
                item.insert(key.to_owned(), (*k).clone());
                Value::Object(item)
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(ListPatch {
        patch,
        deletions: Vec::new(),
        order,
    })
}

/// The merge key of every item of a list of objects, each required.
fn merge_keys<'v>(list: &'v [Value], key: &str) -> Result<Vec<&'v Value>, Fail> {
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            item.get(key)
                .ok_or_else(|| Fail::document(no_merge_key(item, key)))
                .at_index(i)
        })
        .collect()
}

/// Scalars with their Go text, stably sorted by it.
fn sorted_by_text(list: &[Value]) -> Vec<(Cow<'_, str>, &Value)> {
    let mut sorted: Vec<(Cow<'_, str>, &Value)> = list.iter().map(|v| (go_text(v), v)).collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted
}

/// `diffListsOfScalars`: both lists walked sorted by Go text.
fn diff_scalar_lists(old: &[Value], new: &[Value], options: DiffOptions) -> ListPatch {
    let old_sorted = sorted_by_text(old);
    let new_sorted = sorted_by_text(new);
    let (mut o, mut n) = (0, 0);
    let mut added: Vec<&Value> = Vec::new();
    let mut deleted: Vec<Value> = Vec::new();
    while o < old_sorted.len() || n < new_sorted.len() {
        let step = match (old_sorted.get(o), new_sorted.get(n)) {
            (Some(a), Some(b)) => a.0.cmp(&b.0),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match step {
            std::cmp::Ordering::Equal => {
                o += 1;
                n += 1;
            }
            std::cmp::Ordering::Less => {
                if !options.ignore_deletions {
                    deleted.push(old_sorted[o].1.clone());
                }
                o += 1;
            }
            std::cmp::Ordering::Greater => {
                if !options.ignore_changes {
                    added.push(new_sorted[n].1);
                }
                n += 1;
            }
        }
    }
    let new_index = KeyIndex::new(new.iter().map(Some));
    added.sort_by_key(|v| new_index.get(v));
    // Each added scalar once (equal ones are adjacent now): apimachinery repeats them, which
    // can make a patch its own `$setElementOrder` check rejects.
    added.dedup();
    // A repeat `new` has fewer of is no deletion: the deletion removes every occurrence.
    deleted.retain(|v| new_index.get(v).is_none());
    let deletions = go_dedupe(deleted);
    let order = if options.set_element_order
        && ((!options.ignore_deletions && !deletions.is_empty())
            || (!options.ignore_changes && old != new))
    {
        new.to_vec()
    } else {
        Vec::new()
    };
    ListPatch {
        patch: added.into_iter().cloned().collect(),
        deletions,
        order,
    }
}

// ---- conflicts (MergingMapsHaveConflicts) -----------------------------------------------------

/// How the value at a place compares for conflicts.
#[derive(Clone, Copy)]
enum Compare<'a> {
    /// Field by field, item by item in order, scalars by value.
    Plain,
    /// An object with the patch strategy `replace`: never a conflict.
    Replace,
    /// A list, as its metadata says.
    List(ListMeta<'a>),
}

/// `mapsHaveConflicts`: every field of `patch` that `changed` also has, compared.
fn map_conflicts(
    patch: &Map<String, Value>,
    changed: &Map<String, Value>,
    ty: TypeRef<'_>,
    live: Option<&Map<String, Value>>,
    path: &mut Pointer,
    out: &mut Vec<String>,
) -> Result<(), Fail> {
    for (key, left) in patch {
        // Merging lists of scalars never conflict, and their deletions are no fields.
        if key == DIRECTIVE || key == RETAIN_KEYS || key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            continue;
        }
        let Some(right) = changed.get(key) else {
            continue;
        };
        let (ty, compare) = match left {
            Value::Array(_) => {
                let meta = lookup_list(ty, key).at(key)?;
                (meta.items, Compare::List(meta))
            }
            Value::Object(_) => {
                let (ty, strategy) = lookup_object(ty, key).at(key)?;
                let compare = if strategy == ObjectStrategy::Replace {
                    Compare::Replace
                } else {
                    Compare::Plain
                };
                (ty, compare)
            }
            _ => (ty, Compare::Plain),
        };
        path.push(key.as_str());
        let live = live.and_then(|live| live.get(key));
        value_conflicts(left, right, ty, compare, live, path, out).at(key)?;
        path.pop();
    }
    Ok(())
}

/// `mergingMapFieldsHaveConflicts`.
fn value_conflicts(
    left: &Value,
    right: &Value,
    ty: TypeRef<'_>,
    compare: Compare<'_>,
    live: Option<&Value>,
    path: &mut Pointer,
    out: &mut Vec<String>,
) -> Result<(), Fail> {
    match left {
        Value::Object(left) => {
            let Value::Object(right) = right else {
                out.push(path.to_string());
                return Ok(());
            };
            let (l, r) = (left.get(DIRECTIVE), right.get(DIRECTIVE));
            if (l.is_some() || r.is_some()) && l != r {
                out.push(path.to_string());
                return Ok(());
            }
            if matches!(compare, Compare::Replace) {
                return Ok(());
            }
            map_conflicts(left, right, ty, live.and_then(Value::as_object), path, out)
        }
        Value::Array(left) => {
            let Value::Array(right) = right else {
                out.push(path.to_string());
                return Ok(());
            };
            let meta = match compare {
                Compare::List(meta) => meta,
                _ => ListMeta {
                    items: ty,
                    merge: false,
                    key: None,
                },
            };
            list_conflicts(left, right, meta, live.and_then(Value::as_array), path, out)
        }
        scalar => {
            if scalar != right {
                out.push(path.to_string());
            }
            Ok(())
        }
    }
}

/// `slicesHaveConflicts`.
fn list_conflicts(
    left: &[Value],
    right: &[Value],
    meta: ListMeta<'_>,
    live: Option<&Vec<Value>>,
    path: &mut Pointer,
    out: &mut Vec<String>,
) -> Result<(), Fail> {
    let Some(kind) = element_type(&[left, right])? else {
        return Ok(());
    };
    if meta.merge {
        if kind != GoType::Map {
            return Ok(()); // merging lists of scalars have no conflicts
        }
        let Some(key) = meta.key else {
            return Err(Fail::document(
                "cannot merge lists of objects without a merge key",
            ));
        };
        let left_keys = merge_keys(left, key)?;
        let right_keys = merge_keys(right, key)?;
        // Items by key, the last of equal keys winning (apimachinery builds maps of them).
        let left_last = LastIndex::new(&left_keys);
        let right_last = LastIndex::new(&right_keys);
        let live_index = live.map(|items| KeyIndex::new(items.iter().map(|item| item.get(key))));
        for (i, item) in left.iter().enumerate() {
            if left_last.get(left_keys[i]) != Some(i) {
                continue;
            }
            let Some(r) = right_last.get(left_keys[i]) else {
                continue;
            };
            let at = live_index
                .as_ref()
                .and_then(|index| index.get(left_keys[i]));
            if let Some(at) = at {
                path.push(at.to_string());
            }
            let live_item = at.and_then(|at| live.and_then(|items| items.get(at)));
            value_conflicts(
                item,
                &right[r],
                meta.items,
                Compare::Plain,
                live_item,
                path,
                out,
            )
            .at_index(i)?;
            if at.is_some() {
                path.pop();
            }
        }
        return Ok(());
    }
    if left.len() != right.len() {
        out.push(path.to_string());
        return Ok(());
    }
    if kind != GoType::Map {
        let normal = |list: &[Value]| {
            let mut list = go_dedupe(list.to_vec());
            sort_scalars(&mut list);
            list
        };
        if normal(left) != normal(right) {
            out.push(path.to_string());
        }
        return Ok(());
    }
    for (i, (l, r)) in left.iter().zip(right).enumerate() {
        path.push(i.to_string());
        let live_item = live.and_then(|items| items.get(i));
        value_conflicts(l, r, meta.items, Compare::Plain, live_item, path, out).at_index(i)?;
        path.pop();
    }
    Ok(())
}

// ---- sorting merging lists (sortMergeListsByName) ---------------------------------------------

fn sort_map(members: &Map<String, Value>, ty: TypeRef<'_>) -> Result<Map<String, Value>, Fail> {
    let mut sorted = Map::new();
    for (key, value) in members {
        let value = if key == RETAIN_KEYS || key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            let Value::Array(items) = value else {
                return Err(Fail::patch(format!("{key} is not a list"))).at(key);
            };
            let mut items = items.clone();
            sort_scalars(&mut items);
            Value::Array(items)
        } else if key.starts_with(SET_ELEMENT_ORDER) {
            if !value.is_array() {
                return Err(Fail::patch(format!("{key} is not a list"))).at(key);
            }
            value.clone()
        } else if key == DIRECTIVE {
            value.clone()
        } else {
            match value {
                Value::Object(nested) => {
                    let (ty, _) = lookup_object(ty, key).at(key)?;
                    Value::Object(sort_map(nested, ty).at(key)?)
                }
                Value::Array(items) => {
                    let meta = lookup_list(ty, key).at(key)?;
                    if meta.merge {
                        Value::Array(sort_list(items, meta).at(key)?)
                    } else {
                        value.clone()
                    }
                }
                scalar => scalar.clone(),
            }
        };
        sorted.insert(key.clone(), value);
    }
    Ok(sorted)
}

fn sort_list(items: &[Value], meta: ListMeta<'_>) -> Result<Vec<Value>, Fail> {
    match element_type(&[items])? {
        None => Ok(Vec::new()),
        Some(GoType::Map) => {
            let mut sorted = items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(members) => {
                        sort_map(members, meta.items).map(Value::Object).at_index(i)
                    }
                    other => Ok(other.clone()),
                })
                .collect::<Result<Vec<Value>, Fail>>()?;
            let text = |item: &Value| {
                let key = meta.key.and_then(|key| item.get(key)).unwrap_or(&NULL);
                go_text(key).into_owned()
            };
            sorted.sort_by_cached_key(text);
            Ok(sorted)
        }
        Some(_) => {
            let mut sorted = go_dedupe(items.to_vec());
            sort_scalars(&mut sorted);
            Ok(sorted)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_text_matches_fmt_v() {
        assert_eq!(go_text(&json!(1)), "1");
        assert_eq!(go_text(&json!(-7)), "-7");
        assert_eq!(go_text(&json!(1.5)), "1.5");
        assert_eq!(go_text(&json!(1000000.0)), "1e+06");
        assert_eq!(go_text(&json!(123456.0)), "123456");
        assert_eq!(go_text(&json!(0.0001)), "0.0001");
        assert_eq!(go_text(&json!(0.00001)), "1e-05");
        assert_eq!(
            go_text(&json!(1.7976931348623157e308)),
            "1.7976931348623157e+308"
        );
        assert_eq!(go_text(&json!(null)), "<nil>");
        assert_eq!(go_text(&json!("x")), "x");
    }

    #[test]
    fn go_dedupe_moves_the_last_into_holes() {
        let values = go_dedupe(vec![json!(1), json!(1), json!(2), json!(2), json!(3)]);
        assert_eq!(values, [json!(1), json!(3), json!(2)]);
    }

    #[test]
    fn go_stable_sort_is_stable_with_a_strict_order() {
        let mut data: Vec<(u32, usize)> = (0..100).map(|i| ((i * 7919) % 13, i as usize)).collect();
        let mut expected = data.clone();
        expected.sort_by_key(|d| d.0);
        go_stable_sort(&mut data, |a, b| a.0 < b.0);
        assert_eq!(data, expected);
    }

    #[test]
    fn key_index_hashes_long_lists_alike() {
        let keys: Vec<Value> = (0..40).map(|i| json!(format!("k{}", i % 30))).collect();
        let index = KeyIndex::new(keys.iter().map(Some));
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(index.get(key), Some(i % 30));
        }
        assert_eq!(index.get(&json!("nope")), None);
        assert_eq!(KeyIndex::new([Some(&json!(1))]).get(&json!(1.0)), None);
    }
}
