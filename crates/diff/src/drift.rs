//! Drift: how a live object differs from what is desired of it.

use std::fmt;

use serde_json::Value;

use crate::managed::FieldSet;
use crate::normalize::{Hidden, Normalizer};
use crate::pointer::Pointer;
use crate::quantity::Quantity;
use crate::schema::{ListType, TypeKind, TypeRef};

/// What happened to one field between desired and live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChangeKind {
    /// Desired sets it; live does not have it.
    Missing,
    /// Both have it, with different values.
    Changed,
    /// We own it in live (managed fields or last-applied), desired no longer sets it.
    Removed,
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FieldChange {
    /// The field, as a JSON Pointer into the live object (into desired for missing fields).
    pub path: Pointer,
    /// What differs.
    pub kind: ChangeKind,
    /// The desired value (`None` when removed).
    pub desired: Option<Value>,
    /// The live value (`None` when missing).
    pub live: Option<Value>,
}

impl fmt::Display for FieldChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ChangeKind::Missing => "missing",
            ChangeKind::Changed => "changed",
            ChangeKind::Removed => "removed",
        };
        write!(f, "{}: {kind}", self.path)
    }
}

/// The drift of one object, with the explanation of what was not compared.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Drift {
    /// The fields that differ, in document order.
    pub changes: Vec<FieldChange>,
    /// What normalization hid from the live object, and why.
    pub hidden: Vec<Hidden>,
}

impl Drift {
    /// True when live holds everything desired says.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Compares what is desired of an object with the object live in the cluster.
///
/// Only what `desired` says is compared: a field live has and desired does not set — a
/// server default (`imagePullPolicy`, `terminationMessagePath`, a Service's `clusterIP`), a
/// field another manager owns — is not drift. List items are compared in order, each item as
/// a subset, so defaults inside items (a container's `terminationMessagePolicy`) are not drift
/// either; with the kind's type (`ty`), items of keyed lists are matched by their keys
/// (`containers` by `name`, `ports` by `containerPort` and `protocol`, a defaulted key field
/// matching its default), so order does not matter there, and sets by value. Numbers and quantity strings compare by value (`"500m"` and `0.5`, `"1Gi"` and
/// `"1024Mi"`). Both sides are normalized first (see [`Normalizer`]).
///
/// Fields removed from desired count only when we own them: pass `owned`, the fields our
/// field manager owns in live ([`owned_by`](crate::owned_by)), or the fields of the
/// last-applied configuration; any of them that desired no longer sets is
/// [`ChangeKind::Removed`].
///
/// ```
/// use converge_diff::{drift, ChangeKind, Normalizer};
/// use serde_json::json;
///
/// let desired = json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [
///     {"name": "web", "image": "web:2", "resources": {"limits": {"cpu": "500m"}}}]}}}});
/// let live = json!({
///     "metadata": {"resourceVersion": "7"},
///     "spec": {"replicas": 2, "revisionHistoryLimit": 10, "template": {"spec": {"containers": [
///         {"name": "web", "image": "web:1", "imagePullPolicy": "IfNotPresent",
///          "resources": {"limits": {"cpu": 0.5}}}]}}},
///     "status": {"replicas": 2},
/// });
/// let d = drift(&desired, &live, None, &Normalizer::default(), None);
/// let changed: Vec<String> = d.changes.iter().map(ToString::to_string).collect();
/// assert_eq!(changed, ["/spec/template/spec/containers/0/image: changed"]);
/// assert_eq!(d.hidden.len(), 2); // resourceVersion and status, with the reason for each
/// ```
pub fn drift(
    desired: &Value,
    live: &Value,
    owned: Option<&FieldSet>,
    normalizer: &Normalizer,
    ty: Option<TypeRef<'_>>,
) -> Drift {
    // Hidden fields are skipped where they are met, rather than stripped from copies.
    let hidden = normalizer.hidden(live);
    let skip = Skip {
        paths: hidden
            .iter()
            .map(|h| h.path.clone())
            .chain(normalizer.hidden(desired).into_iter().map(|h| h.path))
            .collect(),
    };
    let mut changes = Vec::new();
    let mut at = Pointer::root();
    subset(desired, live, ty, &skip, &mut at, &mut changes);
    if let Some(owned) = owned {
        removed(owned, desired, live, &skip, &mut changes);
    }
    Drift { changes, hidden }
}

/// The fields a comparison does not look at.
struct Skip {
    paths: Vec<Pointer>,
}

impl Skip {
    fn covers(&self, at: &Pointer) -> bool {
        self.paths.iter().any(|p| at.starts_with(p))
    }
}

fn subset(
    desired: &Value,
    live: &Value,
    ty: Option<TypeRef<'_>>,
    skip: &Skip,
    at: &mut Pointer,
    changes: &mut Vec<FieldChange>,
) {
    let ty = ty.filter(|t| t.kind() != TypeKind::Unknown);
    match (desired, live) {
        (Value::Object(want), Value::Object(have)) => {
            for (key, value) in want {
                let child_ty = ty.and_then(|t| match t.kind() {
                    TypeKind::Map => t.values(),
                    _ => t.field(key),
                });
                at.push(key.as_str());
                if skip.covers(at) {
                    at.pop();
                    continue;
                }
                match have.get(key) {
                    Some(current) => subset(value, current, child_ty, skip, at, changes),
                    // An explicit null in desired asks for the field to be absent.
                    None if value.is_null() => {}
                    None => changes.push(FieldChange {
                        path: at.clone(),
                        kind: ChangeKind::Missing,
                        desired: Some(value.clone()),
                        live: None,
                    }),
                }
                at.pop();
            }
        }
        (Value::Array(want), Value::Array(have)) if keyed_or_set(ty).is_some() => {
            let keys = keyed_or_set(ty).unwrap_or_default();
            list_items(
                want,
                have,
                keys,
                ty.and_then(|t| t.items()),
                skip,
                at,
                changes,
            );
        }
        (Value::Array(want), Value::Array(have))
            if keyed_or_set(ty).is_none() && want.len() == have.len() =>
        {
            for (i, (value, current)) in want.iter().zip(have).enumerate() {
                at.push(i.to_string());
                if !skip.covers(at) {
                    subset(
                        value,
                        current,
                        ty.and_then(|t| t.items()),
                        skip,
                        at,
                        changes,
                    );
                }
                at.pop();
            }
        }
        _ if same_value(desired, live) => {}
        _ => changes.push(FieldChange {
            path: at.clone(),
            kind: ChangeKind::Changed,
            desired: Some(desired.clone()),
            live: Some(live.clone()),
        }),
    }
}

/// The key fields of a keyed list (`Some(keys)`), or `Some(&[])` for a set; `None` for lists
/// compared by position.
fn keyed_or_set<'a>(ty: Option<TypeRef<'a>>) -> Option<&'a [String]> {
    match ty?.list()?.list_type {
        ListType::Map { keys } => Some(keys),
        ListType::Set => Some(&[]),
        _ => None,
    }
}

/// Compares a keyed list (or a set, when `keys` is empty) item by item: each desired item
/// against the live item with its key (a desired item may leave out a defaulted key field),
/// wherever it stands; a desired item with no live counterpart is missing.
fn list_items(
    want: &[Value],
    have: &[Value],
    keys: &[String],
    item_ty: Option<TypeRef<'_>>,
    skip: &Skip,
    at: &mut Pointer,
    changes: &mut Vec<FieldChange>,
) {
    for (i, item) in want.iter().enumerate() {
        let found = if keys.is_empty() {
            have.iter()
                .position(|h| same_value(item, h))
                .map(|j| (j, None))
        } else {
            // Prefer the counterpart that holds the item as it is; else the first with its key.
            let candidates: Vec<usize> = (0..have.len())
                .filter(|&j| {
                    keys.iter().all(|k| match (item.get(k), have[j].get(k)) {
                        (Some(a), Some(b)) => same_value(a, b),
                        (None, _) => true,
                        (Some(_), None) => false,
                    })
                })
                .collect();
            let clean = candidates.iter().copied().find(|&j| {
                let mut inner = Vec::new();
                let mut here = at.child(j.to_string());
                subset(item, &have[j], item_ty, skip, &mut here, &mut inner);
                inner.is_empty()
            });
            clean.or(candidates.first().copied()).map(|j| (j, Some(j)))
        };
        match found {
            Some((_, None)) => {}
            Some((j, Some(_))) => {
                at.push(j.to_string());
                subset(item, &have[j], item_ty, skip, at, changes);
                at.pop();
            }
            None => {
                at.push(i.to_string());
                changes.push(FieldChange {
                    path: at.clone(),
                    kind: ChangeKind::Missing,
                    desired: Some(item.clone()),
                    live: None,
                });
                at.pop();
            }
        }
    }
}

/// Equal, or the same number or quantity spelled differently.
fn same_value(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (a, b) {
        (Value::Number(_) | Value::String(_), Value::Number(_) | Value::String(_)) => {
            matches!((Quantity::from_json(a), Quantity::from_json(b)), (Some(x), Some(y)) if x == y)
        }
        _ => false,
    }
}

/// Members of `owned` present in live but absent from desired.
fn removed(
    owned: &FieldSet,
    desired: &Value,
    live: &Value,
    skip: &Skip,
    changes: &mut Vec<FieldChange>,
) {
    let owned = owned.to_fields_v1();
    let mut at = Pointer::root();
    walk_owned(&owned, Some(desired), live, skip, &mut at, changes);
}

fn walk_owned(
    owned: &Value,
    desired: Option<&Value>,
    live: &Value,
    skip: &Skip,
    at: &mut Pointer,
    changes: &mut Vec<FieldChange>,
) {
    let Some(owned) = owned.as_object() else {
        return;
    };
    for (element, below) in owned {
        if element == "." {
            continue;
        }
        let Some((token, live_child)) = find_child(element, live, false) else {
            continue; // not in live: nothing to remove
        };
        let desired_child = desired
            .and_then(|d| find_child(element, d, true))
            .map(|(_, v)| v);
        at.push(token);
        if skip.covers(at) {
            at.pop();
            continue;
        }
        match desired_child {
            None => changes.push(FieldChange {
                path: at.clone(),
                kind: ChangeKind::Removed,
                desired: None,
                live: Some(live_child.clone()),
            }),
            Some(desired_child) => {
                walk_owned(below, Some(desired_child), live_child, skip, at, changes)
            }
        }
        at.pop();
    }
}

/// The child a FieldsV1 element names in `value`, with its pointer token. With `defaulted`,
/// an item that leaves out a key field still matches: the API server fills defaulted key
/// fields (a port's `protocol: TCP`), so desired items often omit them.
pub(crate) fn find_child<'a>(
    element: &str,
    value: &'a Value,
    defaulted: bool,
) -> Option<(String, &'a Value)> {
    let (prefix, rest) = element.split_at(element.find(':').map_or(0, |i| i + 1));
    match (prefix, value) {
        ("f:", Value::Object(map)) => map.get(rest).map(|v| (rest.to_owned(), v)),
        ("i:", Value::Array(items)) => {
            let i: usize = rest.parse().ok()?;
            items.get(i).map(|v| (i.to_string(), v))
        }
        ("v:", Value::Array(items)) => {
            let want: Value = serde_json::from_str(rest).ok()?;
            items
                .iter()
                .position(|item| *item == want)
                .map(|i| (i.to_string(), &items[i]))
        }
        ("k:", Value::Array(items)) => {
            let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(rest) else {
                return None;
            };
            items
                .iter()
                .position(|item| {
                    keys.iter().all(|(k, v)| match item.get(k) {
                        Some(have) => have == v,
                        None => defaulted,
                    })
                })
                .map(|i| (i.to_string(), &items[i]))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn owned_fields_that_left_desired_are_removals() {
        let owned = FieldSet::from_fields_v1(&json!({
            "f:metadata": {"f:labels": {"f:team": {}, "f:app": {}}},
            "f:spec": {"f:ports": {"k:{\"port\":80}": {".": {}, "f:port": {}}, "k:{\"port\":443}": {".": {}, "f:port": {}}}},
        }))
        .expect("set");
        let live = json!({
            "metadata": {"labels": {"team": "a", "app": "web", "other": "x"}},
            "spec": {"ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}]},
        });
        let desired =
            json!({"metadata": {"labels": {"app": "web"}}, "spec": {"ports": [{"port": 80}]}});
        let d = drift(&desired, &live, Some(&owned), &Normalizer::default(), None);
        let shown: Vec<String> = d.changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "/spec/ports: changed",
                "/metadata/labels/team: removed",
                "/spec/ports/1: removed"
            ]
        );
        // Without ownership, a field that left desired is not ours to judge.
        let d = drift(
            &json!({"metadata": {"labels": {"app": "web"}}}),
            &live,
            None,
            &Normalizer::default(),
            None,
        );
        assert!(d.is_empty());
    }

    #[test]
    fn keyed_lists_match_by_key_whatever_the_order() {
        let ty = crate::schema::Schema::kubernetes().for_kind("apps", "v1", "Deployment");
        let desired = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "ports": [{"containerPort": 80}], "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]},
        ]}}}});
        let live = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "sidecar", "image": "proxy"},
            {"name": "web", "ports": [{"containerPort": 80, "protocol": "TCP"}],
             "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
        ]}}}});
        assert!(drift(&desired, &live, None, &Normalizer::default(), ty).is_empty());
        let changed = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "ports": [{"containerPort": 80, "protocol": "TCP"}], "env": [{"name": "A", "value": "9"}]},
        ]}}}});
        let shown: Vec<String> = drift(&desired, &changed, None, &Normalizer::default(), ty)
            .changes
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            shown,
            [
                "/spec/template/spec/containers/0/env/0: missing",
                "/spec/template/spec/containers/0/env/0/value: changed",
            ]
        );
    }

    #[test]
    fn quantities_and_numbers_compare_by_value() {
        let desired = json!({"r": {"cpu": "1", "memory": "1Gi", "gpu": 2}});
        let live = json!({"r": {"cpu": 1, "memory": "1024Mi", "gpu": "2"}});
        assert!(drift(&desired, &live, None, &Normalizer::default(), None).is_empty());
        let live = json!({"r": {"cpu": "1001m", "memory": "1Gi", "gpu": 2}});
        assert_eq!(
            drift(&desired, &live, None, &Normalizer::default(), None)
                .changes
                .len(),
            1
        );
    }
}
