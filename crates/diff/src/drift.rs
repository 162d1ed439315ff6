//! Drift: how a live object differs from what is desired of it.

use std::fmt;

use serde_json::Value;

use crate::managed::{FieldSet, Node};
use crate::normalize::{Hidden, LAST_APPLIED, Normalizer, SERVER_SET};
use crate::pointer::{Pointer, Token, pointer};
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
/// Only what `desired` says is compared, so what the API server fills in or rewrites is not
/// drift. These are the server defaults and rewrites the comparison allows for:
///
/// - **Defaults of fields desired leaves out**: any field live has and desired does not set —
///   `imagePullPolicy`, `terminationMessagePath`, `revisionHistoryLimit`, `strategy`, a
///   Service's `clusterIP`, `type` and `sessionAffinity`, a port's `targetPort`, `dnsPolicy`,
///   `schedulerName`, `securityContext: {}`, or a field another manager owns — is not
///   compared. Inside list items too: each item is compared as a subset.
/// - **Defaulted key fields**: with the kind's type (`ty`), items of keyed lists are matched by
///   their keys wherever they stand (`containers` by `name`, `ports` by `containerPort` and
///   `protocol`), and a key field desired leaves out matches its default (`protocol: TCP`);
///   sets are matched by value.
/// - **Zero values the server drops**: Kubernetes omits empty optional fields when it writes
///   an object, so `false`, `0`, `""`, `[]`, `{}` and `null` in desired match a field live
///   does not have (`hostNetwork: false`, an env var's `value: ""`, `args: []`, a template's
///   `creationTimestamp: null`).
/// - **Quantities and numbers** compare by value (`"500m"` and `0.5`, `"1Gi"` and
///   `"1024Mi"`, `1.0` and `1`).
/// - **Secret `stringData`**: the API server moves it into `data`, base64-encoded; desired's
///   `stringData` is compared as `data`.
/// - **Server-set metadata and status**, the last-applied annotation and what the user's
///   rules hide: skipped (see [`Normalizer`]); [`Drift::hidden`] says which and why.
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
    let Ok(mut drift) = compare(desired, live, owned.map(FieldSet::root), normalizer, ty);
    drift.hidden = normalizer.hidden(live);
    drift
}

/// A tree of owned fields to look for removals in: a parsed [`FieldSet`], or a FieldsV1
/// document as `metadata.managedFields` holds it, walked as it stands.
pub(crate) trait OwnedFields {
    /// Malformed trees are refused with this.
    type Error;

    /// Calls `visit` with each member below this one, by FieldsV1 element (`f:name`, …).
    fn each_member<'s>(
        &'s self,
        visit: &mut dyn FnMut(&'s str, &'s Self) -> Result<(), Self::Error>,
    ) -> Result<(), Self::Error>;
}

impl OwnedFields for Node {
    type Error = std::convert::Infallible;

    fn each_member<'s>(
        &'s self,
        visit: &mut dyn FnMut(&'s str, &'s Node) -> Result<(), Self::Error>,
    ) -> Result<(), Self::Error> {
        for (element, below) in self.children() {
            visit(element, below)?;
        }
        Ok(())
    }
}

impl OwnedFields for Value {
    type Error = crate::Error;

    fn each_member<'s>(
        &'s self,
        visit: &mut dyn FnMut(&'s str, &'s Value) -> Result<(), Self::Error>,
    ) -> Result<(), Self::Error> {
        let invalid = |reason: String| crate::Error::InvalidPatch {
            reason: format!("fieldsV1: {reason}"),
        };
        let Value::Object(members) = self else {
            return Err(invalid(format!("expected an object, found {self}")));
        };
        for (element, below) in members {
            match element.get(..2) {
                _ if element == "." => {}
                Some("f:" | "k:" | "v:" | "i:") => visit(element, below)?,
                _ => {
                    return Err(invalid(format!(
                        "{element:?}: unknown element (f:, k:, v:, i: or .)"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// [`drift`] without the explanation: the changes only, `hidden` left empty.
pub(crate) fn compare<T: OwnedFields + ?Sized>(
    desired: &Value,
    live: &Value,
    owned: Option<&T>,
    normalizer: &Normalizer,
    ty: Option<TypeRef<'_>>,
) -> Result<Drift, T::Error> {
    // The API server moves a Secret's stringData into data: compare it there.
    let moved = secret_string_data(desired);
    let desired = moved.as_ref().unwrap_or(desired);
    // Hidden fields are skipped where they are met, rather than stripped from copies.
    let skip = Skip::new(normalizer, desired, live);
    let mut walk = Walk {
        skip: &skip,
        path: Vec::with_capacity(16),
        changes: Vec::new(),
        first_only: false,
    };
    walk.subset(desired, live, ty);
    if let Some(owned) = owned {
        walk.removed(owned, desired, live)?;
    }
    Ok(Drift {
        changes: walk.changes,
        hidden: Vec::new(),
    })
}

/// The fields a comparison does not look at: the server-set metadata and `status` (by name,
/// at no cost), and what the user's rules resolve to in either object.
struct Skip {
    status: bool,
    rules: Vec<Pointer>,
}

impl Skip {
    fn new(normalizer: &Normalizer, desired: &Value, live: &Value) -> Skip {
        let mut rules = normalizer.rule_hits(live);
        rules.extend(normalizer.rule_hits(desired));
        Skip {
            status: !normalizer.keeps_status(),
            rules,
        }
    }

    /// True when the field at `path` is not compared. Walks check each step as they take it,
    /// so a path below a skipped one is never reached and equality is enough.
    fn covers(&self, path: &[Token<'_>]) -> bool {
        let fixed = match path {
            [Token::Key("metadata"), Token::Key(field)] => SERVER_SET.contains(field),
            [
                Token::Key("metadata"),
                Token::Key("annotations"),
                Token::Key(LAST_APPLIED),
            ] => true,
            [Token::Key("status")] => self.status,
            _ => false,
        };
        fixed
            || self.rules.iter().any(|rule| {
                rule.tokens().len() == path.len()
                    && path.iter().zip(rule.tokens()).all(|(t, r)| t.matches(r))
            })
    }
}

/// A comparison in progress: where it is, and what it found.
struct Walk<'s, 'a> {
    skip: &'s Skip,
    path: Vec<Token<'a>>,
    changes: Vec<FieldChange>,
    /// Stop at the first change: only whether there is one matters.
    first_only: bool,
}

impl<'a> Walk<'_, 'a> {
    fn done(&self) -> bool {
        self.first_only && !self.changes.is_empty()
    }

    /// Steps to `token`; false (and no step) when the field there is not compared.
    fn enter(&mut self, token: Token<'a>) -> bool {
        self.path.push(token);
        if self.skip.covers(&self.path) {
            self.path.pop();
            return false;
        }
        true
    }

    fn leave(&mut self) {
        self.path.pop();
    }

    fn record(&mut self, kind: ChangeKind, desired: Option<&Value>, live: Option<&Value>) {
        self.changes.push(FieldChange {
            path: pointer(&self.path),
            kind,
            desired: desired.cloned(),
            live: live.cloned(),
        });
    }

    fn subset(&mut self, desired: &'a Value, live: &'a Value, ty: Option<TypeRef<'_>>) {
        let ty = ty.filter(|t| t.kind() != TypeKind::Unknown);
        match (desired, live) {
            (Value::Object(want), Value::Object(have)) => {
                let mut cursor = 0;
                for (key, value) in want {
                    if self.done() {
                        return;
                    }
                    if !self.enter(Token::Key(key)) {
                        continue;
                    }
                    match member_near(have, key, &mut cursor) {
                        Some(current) => {
                            let child_ty = ty.and_then(|t| match t.kind() {
                                TypeKind::Map => t.values(),
                                _ => t.field(key),
                            });
                            self.subset(value, current, child_ty);
                        }
                        // The server drops empty optional fields; an explicit null asks
                        // for the field to be absent.
                        None if is_zero(value) => {}
                        None => self.record(ChangeKind::Missing, Some(value), None),
                    }
                    self.leave();
                }
            }
            (Value::Array(want), Value::Array(have)) => match keyed_or_set(ty) {
                Some(keys) => self.list_items(want, have, keys, ty.and_then(|t| t.items())),
                None if want.len() == have.len() => {
                    let item_ty = ty.and_then(|t| t.items());
                    for (i, (value, current)) in want.iter().zip(have).enumerate() {
                        if self.done() {
                            return;
                        }
                        if self.enter(Token::Index(i)) {
                            self.subset(value, current, item_ty);
                            self.leave();
                        }
                    }
                }
                None => self.record(ChangeKind::Changed, Some(desired), Some(live)),
            },
            _ if same_value(desired, live) => {}
            _ => self.record(ChangeKind::Changed, Some(desired), Some(live)),
        }
    }

    /// Compares a keyed list (or a set, when `keys` is empty) item by item: each desired item
    /// against the live item with its key (a desired item may leave out a defaulted key
    /// field), wherever it stands; a desired item with no live counterpart is missing.
    fn list_items(
        &mut self,
        want: &'a [Value],
        have: &'a [Value],
        keys: &[String],
        item_ty: Option<TypeRef<'_>>,
    ) {
        for (i, item) in want.iter().enumerate() {
            if self.done() {
                return;
            }
            if keys.is_empty() {
                if !have.iter().any(|h| same_value(item, h)) {
                    self.missing_item(i, item);
                }
                continue;
            }
            // Key values on the stack: lists have one or two key fields.
            let mut on_stack: [Option<&Value>; 4] = [None; 4];
            let mut on_heap = Vec::new();
            let wanted: &mut [Option<&Value>] = match on_stack.get_mut(..keys.len()) {
                Some(slots) => slots,
                None => {
                    on_heap.resize(keys.len(), None);
                    &mut on_heap
                }
            };
            for (slot, k) in wanted.iter_mut().zip(keys) {
                *slot = item.as_object().and_then(|m| member(m, k));
            }
            let has_key = |j: &usize| {
                let Some(candidate) = have[*j].as_object() else {
                    return false;
                };
                keys.iter().zip(wanted.iter()).all(|(k, want)| match want {
                    Some(want) => member(candidate, k) == Some(*want),
                    None => true,
                })
            };
            let chosen = if wanted.iter().all(Option::is_some) {
                // A whole key names one item; items are usually where they were, so look
                // there first.
                let here = Some(i).filter(|j| *j < have.len() && has_key(j));
                match here.or_else(|| (0..have.len()).find(has_key)) {
                    Some(j) => j,
                    None => {
                        self.missing_item(i, item);
                        continue;
                    }
                }
            } else {
                // A defaulted key field left out may match several items: prefer the one that
                // holds the item as it is, else the first.
                let candidates: Vec<usize> = (0..have.len()).filter(has_key).collect();
                match candidates.first() {
                    None => {
                        self.missing_item(i, item);
                        continue;
                    }
                    Some(&first) => candidates
                        .iter()
                        .copied()
                        .find(|&j| candidates.len() == 1 || self.holds(j, item, &have[j], item_ty))
                        .unwrap_or(first),
                }
            };
            if self.enter(Token::Index(chosen)) {
                self.subset(item, &have[chosen], item_ty);
                self.leave();
            }
        }
    }

    /// True when live item `j` holds everything `item` says.
    fn holds(&self, j: usize, item: &'a Value, live: &'a Value, ty: Option<TypeRef<'_>>) -> bool {
        let mut probe = Walk {
            skip: self.skip,
            path: self.path.clone(),
            changes: Vec::new(),
            first_only: true,
        };
        if !probe.enter(Token::Index(j)) {
            return true;
        }
        probe.subset(item, live, ty);
        probe.changes.is_empty()
    }

    fn missing_item(&mut self, i: usize, item: &'a Value) {
        self.path.push(Token::Index(i));
        self.record(ChangeKind::Missing, Some(item), None);
        self.path.pop();
    }

    /// Members of `owned` present in live but absent from desired.
    fn removed<T: OwnedFields + ?Sized>(
        &mut self,
        owned: &'a T,
        desired: &'a Value,
        live: &'a Value,
    ) -> Result<(), T::Error> {
        owned.each_member(&mut |element, below| {
            let Some((token, live_child)) = find_child(element, live, false) else {
                return Ok(()); // not in live: nothing to remove
            };
            if !self.enter(token) {
                return Ok(());
            }
            let found = match find_child(element, desired, true) {
                None => {
                    self.record(ChangeKind::Removed, None, Some(live_child));
                    Ok(())
                }
                Some((_, desired_child)) => self.removed(below, desired_child, live_child),
            };
            self.leave();
            found
        })
    }
}

/// The member `key` of `map`. Objects in manifests are small: comparing a few keys costs
/// less than hashing one, so small maps are scanned.
pub(crate) fn member<'v>(map: &'v serde_json::Map<String, Value>, key: &str) -> Option<&'v Value> {
    if map.len() <= 8 {
        map.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    } else {
        map.get(key)
    }
}

/// [`member`] for a walk over the members of another map: objects of one kind list their
/// fields in much the same order, so the search starts after the member found last.
fn member_near<'v>(
    map: &'v serde_json::Map<String, Value>,
    key: &str,
    cursor: &mut usize,
) -> Option<&'v Value> {
    if map.len() > 16 {
        return map.get(key);
    }
    let start = (*cursor).min(map.len());
    let (i, value) = map
        .iter()
        .enumerate()
        .skip(start)
        .chain(map.iter().enumerate().take(start))
        .find(|(_, (k, _))| *k == key)
        .map(|(i, (_, v))| (i, v))?;
    *cursor = i + 1;
    Some(value)
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

/// A value Kubernetes leaves out when it writes an object (Go's `omitempty`), or `null`.
fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
    }
}

/// A core/v1 Secret with `stringData`, as the API server stores it: each entry moved into
/// `data`, base64-encoded, over any `data` entry of the same key. `None` for anything else.
fn secret_string_data(desired: &Value) -> Option<Value> {
    let is_secret = desired.get("apiVersion").and_then(Value::as_str) == Some("v1")
        && desired.get("kind").and_then(Value::as_str) == Some("Secret");
    let string_data = desired.get("stringData")?.as_object()?;
    if !is_secret {
        return None;
    }
    let mut stored = desired.clone();
    let object = stored.as_object_mut()?;
    object.shift_remove("stringData");
    let data = object
        .entry("data")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if !data.is_object() {
        *data = Value::Object(serde_json::Map::new());
    }
    if let Some(data) = data.as_object_mut() {
        for (key, value) in string_data {
            if let Some(text) = value.as_str() {
                data.insert(
                    key.clone(),
                    Value::from(converge_core::base64(text.as_bytes())),
                );
            }
        }
    }
    Some(stored)
}

/// Equal, or the same number or quantity spelled differently.
fn same_value(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    // Quantities start with a sign, a digit or a point; anything else differs as it is.
    let numeric = |v: &Value| match v {
        Value::Number(_) => true,
        Value::String(s) => s
            .bytes()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.')),
        _ => false,
    };
    numeric(a)
        && numeric(b)
        && matches!((Quantity::from_json(a), Quantity::from_json(b)), (Some(x), Some(y)) if x == y)
}

/// The child a FieldsV1 element names in `value`, with its path token. With `defaulted`, an
/// item that leaves out a key field still matches: the API server fills defaulted key fields
/// (a port's `protocol: TCP`), so desired items often omit them.
pub(crate) fn find_child<'e, 'v>(
    element: &'e str,
    value: &'v Value,
    defaulted: bool,
) -> Option<(Token<'e>, &'v Value)> {
    let (prefix, rest) = element.split_at(element.find(':').map_or(0, |i| i + 1));
    match (prefix, value) {
        ("f:", Value::Object(map)) => map.get(rest).map(|v| (Token::Key(rest), v)),
        ("i:", Value::Array(items)) => {
            let i: usize = rest.parse().ok()?;
            items.get(i).map(|v| (Token::Index(i), v))
        }
        ("v:", Value::Array(items)) => {
            let want: Value = serde_json::from_str(rest).ok()?;
            items
                .iter()
                .position(|item| *item == want)
                .map(|i| (Token::Index(i), &items[i]))
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
                .map(|i| (Token::Index(i), &items[i]))
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
    fn zero_values_the_server_drops_are_not_drift() {
        let ty = crate::schema::Schema::kubernetes().for_kind("apps", "v1", "Deployment");
        let desired = json!({"spec": {"template": {
        "metadata": {"creationTimestamp": null},
        "spec": {"hostNetwork": false, "containers": [
            {"name": "web", "args": [], "env": [{"name": "EMPTY", "value": ""}], "securityContext": {}},
        ]}}}});
        let live = json!({"spec": {"template": {"metadata": {}, "spec": {"containers": [
            {"name": "web", "env": [{"name": "EMPTY"}], "imagePullPolicy": "Always"},
        ]}}}});
        let d = drift(&desired, &live, None, &Normalizer::default(), ty);
        assert!(d.is_empty(), "{:?}", d.changes);
        // A zero value against another live value is drift.
        let live = json!({"spec": {"template": {"spec": {"hostNetwork": true}}}});
        let desired = json!({"spec": {"template": {"spec": {"hostNetwork": false}}}});
        assert_eq!(
            drift(&desired, &live, None, &Normalizer::default(), ty)
                .changes
                .len(),
            1
        );
    }

    #[test]
    fn secret_string_data_is_compared_as_data() {
        let desired = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
            "stringData": {"user": "admin", "password": "s3cr3t!"}, "data": {"user": "b2xk"}});
        let live = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
            "type": "Opaque", "data": {"user": "YWRtaW4=", "password": "czNjcjN0IQ=="}});
        let d = drift(&desired, &live, None, &Normalizer::default(), None);
        assert!(d.is_empty(), "{:?}", d.changes);
        let rotated = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
            "data": {"user": "YWRtaW4=", "password": "b2xk"}});
        let shown: Vec<String> = drift(&desired, &rotated, None, &Normalizer::default(), None)
            .changes
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["/data/password: changed"]);
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
