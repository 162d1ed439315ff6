//! Managed fields: the FieldsV1 sets the API server records per field manager.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::Error;
use crate::schema::{ListType, MapType, TypeKind, TypeRef};

/// A set of fields, as `metadata.managedFields[].fieldsV1` encodes it.
///
/// Path elements are kept in their FieldsV1 spelling: `f:<name>` for a field or map key,
/// `k:<json>` for an item of a keyed list, `v:<json>` for an item of a set, `i:<n>` for an item
/// by index. A node is a member of the set itself (a leaf, or `"."` beside children) or only
/// leads to members below it. Reading normalizes the JSON inside `k:` and `v:` so equal
/// elements compare equal; writing gives the API server's own encoding, keys sorted.
///
/// ```
/// use converge_diff::FieldSet;
/// use serde_json::json;
///
/// let ours = FieldSet::from_fields_v1(&json!({
///     "f:metadata": {"f:labels": {"f:app": {}}},
///     "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
///         "k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}
///     }}}},
/// }))?;
/// let theirs = FieldSet::from_fields_v1(&json!({"f:spec": {"f:replicas": {}}}))?;
/// assert_eq!(ours.intersection(&theirs).paths(), [".spec.replicas"]);
/// assert!(ours.contains(&["f:spec", "f:template", "f:spec", "f:containers", "k:{\"name\":\"web\"}"]));
/// assert_eq!(FieldSet::from_fields_v1(&ours.to_fields_v1())?, ours);
/// # Ok::<(), converge_diff::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSet {
    root: Node,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Node {
    pub(crate) member: bool,
    pub(crate) children: BTreeMap<String, Node>,
}

impl Node {
    /// The members below this one, by FieldsV1 element (`f:name`, `k:{…}`, `v:…`, `i:…`).
    pub(crate) fn children(&self) -> &BTreeMap<String, Node> {
        &self.children
    }

    pub(crate) fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    pub(crate) fn union(&mut self, other: &Node) {
        self.member |= other.member;
        for (key, child) in &other.children {
            self.children.entry(key.clone()).or_default().union(child);
        }
    }

    pub(crate) fn difference(&self, other: &Node) -> Node {
        let mut out = Node {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (key, child) in &self.children {
            let rest = match other.children.get(key) {
                Some(theirs) => child.difference(theirs),
                None => child.clone(),
            };
            if !rest.is_empty() {
                out.children.insert(key.clone(), rest);
            }
        }
        out
    }

    /// The members of `self` not in `other`, where a member of `other` also takes away
    /// everything below it (structured-merge-diff's `RecursiveDifference`).
    pub(crate) fn recursive_difference(&self, other: &Node) -> Node {
        let mut out = Node {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (key, child) in &self.children {
            let rest = match other.children.get(key) {
                Some(theirs) if theirs.member => continue,
                Some(theirs) => child.recursive_difference(theirs),
                None => child.clone(),
            };
            if !rest.is_empty() {
                out.children.insert(key.clone(), rest);
            }
        }
        out
    }

    pub(crate) fn intersection(&self, other: &Node) -> Node {
        let mut out = Node {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (key, child) in &self.children {
            if let Some(theirs) = other.children.get(key) {
                let both = child.intersection(theirs);
                if !both.is_empty() {
                    out.children.insert(key.clone(), both);
                }
            }
        }
        out
    }

    fn to_value(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".to_owned(), Value::Object(Map::new()));
        }
        let mut children: Vec<(&String, &Node)> = self.children.iter().collect();
        children.sort_by(|a, b| element_order(a.0, b.0));
        for (key, child) in children {
            map.insert(key.clone(), child.to_value());
        }
        Value::Object(map)
    }

    fn paths(&self, prefix: &mut String, out: &mut Vec<String>) {
        if self.member {
            out.push(if prefix.is_empty() {
                ".".to_owned()
            } else {
                prefix.clone()
            });
        }
        for (key, child) in &self.children {
            let len = prefix.len();
            prefix.push_str(&display_element(key));
            child.paths(prefix, out);
            prefix.truncate(len);
        }
    }
}

impl FieldSet {
    /// The set's tree, for walks alongside an object.
    pub(crate) fn root(&self) -> &Node {
        &self.root
    }

    pub(crate) fn from_root(root: Node) -> FieldSet {
        FieldSet { root }
    }

    pub(crate) fn into_root(self) -> Node {
        self.root
    }

    /// The empty set.
    pub fn new() -> FieldSet {
        FieldSet::default()
    }

    /// The fields `object` sets, as server-side apply counts them with the type `ty`: every
    /// field, map key and list item down to the leaves; items of keyed lists by their keys
    /// (`k:`), items of sets by value (`v:`), atomic lists and maps as one leaf. Without a
    /// type (`None`, or a type the schema does not know), maps are granular and lists atomic,
    /// as structured-merge-diff deduces them.
    ///
    /// ```
    /// use converge_diff::{FieldSet, schema::Schema};
    /// use serde_json::json;
    ///
    /// let deployment = Schema::kubernetes().for_kind("apps", "v1", "Deployment");
    /// let set = FieldSet::from_object(&json!({
    ///     "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:1"}]}}}
    /// }), deployment);
    /// assert!(set.contains(&["f:spec", "f:template", "f:spec", "f:containers", "k:{\"name\":\"web\"}", "f:image"]));
    /// ```
    pub fn from_object(object: &Value, ty: Option<TypeRef<'_>>) -> FieldSet {
        let mut root = Node::default();
        if let Value::Object(map) = object {
            for (key, value) in map {
                let child = root.children.entry(format!("f:{key}")).or_default();
                fill(child, value, ty.and_then(|t| t.field(key)));
            }
        }
        FieldSet { root }
    }

    /// Reads a FieldsV1 value.
    ///
    /// # Errors
    /// [`Error::InvalidPatch`] naming the element when the value is not a FieldsV1 tree (not
    /// an object, an unknown prefix, JSON inside `k:` or `v:` that does not parse).
    pub fn from_fields_v1(fields: &Value) -> Result<FieldSet, Error> {
        Ok(FieldSet {
            root: parse_node(fields, &mut Vec::new())?,
        })
    }

    /// Writes the set as FieldsV1, as the API server does.
    pub fn to_fields_v1(&self) -> Value {
        self.root.to_value()
    }

    /// True when the set has no member.
    pub fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    /// Every member and everything in `other`.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut root = self.root.clone();
        root.union(&other.root);
        FieldSet { root }
    }

    /// The members of `self` that are not members of `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet {
            root: self.root.difference(&other.root),
        }
    }

    /// The members of both.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        FieldSet {
            root: self.root.intersection(&other.root),
        }
    }

    /// Adds the member at `path` (FieldsV1 elements: `f:spec`, `k:{"name":"web"}`, …).
    pub fn insert(&mut self, path: &[&str]) {
        let node = path.iter().fold(&mut self.root, |node, element| {
            node.children.entry(canonical_element(element)).or_default()
        });
        node.member = true;
    }

    /// True when the node at `path` is a member.
    pub fn contains(&self, path: &[&str]) -> bool {
        path.iter()
            .try_fold(&self.root, |node, element| {
                node.children.get(&canonical_element(element))
            })
            .is_some_and(|node| node.member)
    }

    /// The members that have no members below them, as FieldsV1 element paths.
    pub fn leaves(&self) -> Vec<Vec<String>> {
        self.collect(|node, _| node.member && node.children.is_empty(), false)
    }

    /// The members with no member above them, as FieldsV1 element paths: owning a list item
    /// (`k:{"name":"proxy"}` with its `.` marker) covers everything in it.
    pub fn tops(&self) -> Vec<Vec<String>> {
        self.collect(|node, path| node.member && !path.is_empty(), true)
    }

    /// The paths of the nodes `pick` selects; with `stop`, nothing below a picked node.
    fn collect(&self, pick: fn(&Node, &[String]) -> bool, stop: bool) -> Vec<Vec<String>> {
        fn walk(
            node: &Node,
            path: &mut Vec<String>,
            pick: fn(&Node, &[String]) -> bool,
            stop: bool,
            out: &mut Vec<Vec<String>>,
        ) {
            if pick(node, path) {
                out.push(path.clone());
                if stop {
                    return;
                }
            }
            for (key, child) in &node.children {
                path.push(key.clone());
                walk(child, path, pick, stop, out);
                path.pop();
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut Vec::new(), pick, stop, &mut out);
        out
    }

    /// The members as paths in structured-merge-diff's notation: `.spec.replicas`,
    /// `.spec.containers[name="web"].image`, `.metadata.finalizers[="a"]`.
    pub fn paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.root.paths(&mut String::new(), &mut out);
        out
    }
}

impl fmt::Display for FieldSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.paths().join(", "))
    }
}

/// Marks `node` a member and adds what `value` holds below it, as the type `ty` structures it.
fn fill(node: &mut Node, value: &Value, ty: Option<TypeRef<'_>>) {
    node.member = true;
    let known = ty.filter(|t| t.kind() != TypeKind::Unknown);
    match value {
        Value::Object(map) => {
            let atomic = known
                .and_then(|t| t.object())
                .is_some_and(|o| o.map_type == MapType::Atomic);
            if atomic {
                return;
            }
            for (key, child) in map {
                let child_ty = known.and_then(|t| match t.kind() {
                    TypeKind::Map => t.values(),
                    _ => t.field(key),
                });
                let slot = node.children.entry(format!("f:{key}")).or_default();
                fill(slot, child, child_ty);
            }
        }
        Value::Array(items) => {
            let Some(list) = known.and_then(|t| t.list()) else {
                return; // atomic
            };
            let item_ty = known.and_then(|t| t.items());
            match list.list_type {
                ListType::Set => {
                    for item in items {
                        node.children
                            .entry(format!("v:{}", canonical_json(item)))
                            .or_default()
                            .member = true;
                    }
                }
                ListType::Map { keys } => {
                    for item in items {
                        let mut key = Map::new();
                        for field in keys {
                            if let Some(v) = item.get(field) {
                                key.insert(field.clone(), v.clone());
                            }
                        }
                        let element = format!("k:{}", canonical_json(&Value::Object(key)));
                        fill(node.children.entry(element).or_default(), item, item_ty);
                    }
                }
                _ => {} // atomic
            }
        }
        _ => {}
    }
}

fn parse_node<'a>(value: &'a Value, at: &mut Vec<&'a str>) -> Result<Node, Error> {
    // The path is only spelled out for an error.
    let invalid = |at: &[&str], reason: String| {
        let path: String = at.iter().map(|e| display_element(e)).collect();
        Error::InvalidPatch {
            reason: format!("fieldsV1 at {path:?}: {reason}"),
        }
    };
    let Value::Object(map) = value else {
        return Err(invalid(at, "expected an object".to_owned()));
    };
    let mut node = Node {
        member: map.is_empty(),
        children: BTreeMap::new(),
    };
    for (key, child) in map {
        if key == "." {
            node.member = true;
            continue;
        }
        let element = check_element(key).map_err(|reason| invalid(at, reason))?;
        at.push(key);
        let parsed = parse_node(child, at);
        at.pop();
        node.children.insert(element, parsed?);
    }
    Ok(node)
}

/// Checks a FieldsV1 element and returns it in canonical form.
fn check_element(key: &str) -> Result<String, String> {
    let (prefix, rest) = key.split_at(key.find(':').map_or(0, |i| i + 1));
    match prefix {
        "f:" => Ok(key.to_owned()),
        "i:" if rest.parse::<usize>().is_ok() => Ok(key.to_owned()),
        "k:" | "v:" => {
            let parsed: Value = serde_json::from_str(rest)
                .map_err(|e| format!("{key:?}: not JSON after {prefix}: {e}"))?;
            if prefix == "k:" && !parsed.is_object() {
                return Err(format!("{key:?}: a k: element holds an object"));
            }
            Ok(format!("{prefix}{}", canonical_json(&parsed)))
        }
        _ => Err(format!("{key:?}: unknown element (f:, k:, v:, i: or .)")),
    }
}

fn canonical_element(element: &str) -> String {
    check_element(element).unwrap_or_else(|_| element.to_owned())
}

/// The order structured-merge-diff keeps path elements in, and so writes FieldsV1 in: fields
/// by name, then list items by key, then set items by value, then items by index. Keys and
/// values compare as values do (numbers by magnitude, not as text).
pub(crate) fn element_order(a: &str, b: &str) -> Ordering {
    fn split(element: &str) -> (u8, &str) {
        let rank = match element.get(..2) {
            Some("f:") => 0,
            Some("k:") => 1,
            Some("v:") => 2,
            Some("i:") => 3,
            _ => 4,
        };
        (rank, element.get(2..).unwrap_or(""))
    }
    let ((ra, a), (rb, b)) = (split(a), split(b));
    ra.cmp(&rb).then_with(|| match ra {
        1 | 2 => match (
            serde_json::from_str::<Value>(a),
            serde_json::from_str::<Value>(b),
        ) {
            (Ok(x), Ok(y)) => value_order(&x, &y),
            _ => a.cmp(b),
        },
        3 => match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => a.cmp(b),
        },
        _ => a.cmp(b),
    })
}

/// structured-merge-diff's order of values: numbers (by magnitude), strings, booleans, lists,
/// maps (by their sorted keys, then values), null.
pub(crate) fn value_order(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Bool(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => {
                let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                x.partial_cmp(&y).unwrap_or(Ordering::Equal)
            }
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => x
            .iter()
            .zip(y)
            .map(|(x, y)| value_order(x, y))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        (Value::Object(x), Value::Object(y)) => {
            let mut xs: Vec<(&String, &Value)> = x.iter().collect();
            let mut ys: Vec<(&String, &Value)> = y.iter().collect();
            xs.sort_by(|a, b| a.0.cmp(b.0));
            ys.sort_by(|a, b| a.0.cmp(b.0));
            xs.iter()
                .zip(&ys)
                .map(|(x, y)| x.0.cmp(y.0).then_with(|| value_order(x.1, y.1)))
                .find(|o| o.is_ne())
                .unwrap_or_else(|| xs.len().cmp(&ys.len()))
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Equality as structured-merge-diff sees it: numbers by magnitude (`1` equals `1.0`), maps
/// whatever their key order.
pub(crate) fn value_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| value_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| value_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Compact JSON with object keys sorted, as structured-merge-diff writes keys and values.
pub(crate) fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::from(k.as_str()), canonical_json(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

/// One element in structured-merge-diff's path notation.
pub(crate) fn display_element(element: &str) -> String {
    let (prefix, rest) = element.split_at(element.find(':').map_or(0, |i| i + 1));
    match prefix {
        "f:" => format!(".{rest}"),
        "i:" => format!("[{rest}]"),
        "v:" => format!("[={rest}]"),
        "k:" => match serde_json::from_str::<Value>(rest) {
            Ok(Value::Object(keys)) => {
                let parts: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("[{}]", parts.join(","))
            }
            _ => format!("[{rest}]"),
        },
        _ => element.to_owned(),
    }
}

/// One entry of `metadata.managedFields`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ManagedFields {
    /// The field manager (`kubectl`, `converge`, `kube-controller-manager`).
    pub manager: String,
    /// `Apply` (server-side apply) or `Update`.
    pub operation: String,
    /// The API version the fields are expressed in.
    pub api_version: String,
    /// The subresource written (`status`), if any.
    pub subresource: Option<String>,
    /// When the manager last changed the object (RFC 3339), if recorded.
    pub time: Option<String>,
    /// The fields.
    pub fields: FieldSet,
}

/// Reads `metadata.managedFields` of a live object.
///
/// ```
/// use converge_diff::managed_fields;
/// use serde_json::json;
///
/// let live = json!({"metadata": {"managedFields": [
///     {"manager": "converge", "operation": "Apply", "apiVersion": "apps/v1",
///      "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
///     {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1",
///      "subresource": "status", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:replicas": {}}}},
/// ]}});
/// let entries = managed_fields(&live)?;
/// assert_eq!(entries[0].fields.paths(), [".spec.replicas"]);
/// assert_eq!(entries[1].subresource.as_deref(), Some("status"));
/// # Ok::<(), converge_diff::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidPatch`] when an entry is malformed.
pub fn managed_fields(object: &Value) -> Result<Vec<ManagedFields>, Error> {
    managed_entries(object)?
        .iter()
        .map(|entry| {
            let text = |field: &str| entry.get(field).and_then(Value::as_str).map(str::to_owned);
            Ok(ManagedFields {
                manager: text("manager").unwrap_or_default(),
                operation: text("operation").unwrap_or_default(),
                api_version: text("apiVersion").unwrap_or_default(),
                subresource: text("subresource").filter(|s| !s.is_empty()),
                time: text("time"),
                fields: entry_fields(entry)?,
            })
        })
        .collect()
}

/// The raw entries of `metadata.managedFields`.
fn managed_entries(object: &Value) -> Result<&[Value], Error> {
    match object.pointer("/metadata/managedFields") {
        None => Ok(&[]),
        Some(Value::Array(entries)) => Ok(entries),
        Some(_) => Err(Error::InvalidPatch {
            reason: "metadata.managedFields is not a list".to_owned(),
        }),
    }
}

fn entry_fields(entry: &Value) -> Result<FieldSet, Error> {
    match entry.get("fieldsV1") {
        Some(fields) => FieldSet::from_fields_v1(fields),
        None => Ok(FieldSet::new()),
    }
}

/// The fields `manager` owns in a live object: the union of its managedFields entries on the
/// main resource (not on subresources such as `status`).
///
/// # Errors
/// As [`managed_fields`].
pub fn owned_by(object: &Value, manager: &str) -> Result<FieldSet, Error> {
    let mut owned = FieldSet::new();
    // Only this manager's entries are read: parsing the others' fields would be wasted.
    for entry in managed_entries(object)? {
        let text = |field: &str| entry.get(field).and_then(Value::as_str).unwrap_or("");
        if text("manager") == manager && text("subresource").is_empty() {
            let fields = entry_fields(entry)?;
            if owned.is_empty() {
                owned = fields;
            } else {
                owned.root.union(&fields.root);
            }
        }
    }
    Ok(owned)
}

/// The fields a manager owns in a live object, read as cheaply as they can be.
pub(crate) enum Owned<'a> {
    /// The manager has no entry.
    Nothing,
    /// Its one entry's FieldsV1, to be walked as it stands.
    Entry(&'a Value),
    /// The union of its entries.
    Union(FieldSet),
}

/// [`owned_by`] without parsing when the manager has one entry, as it usually has.
pub(crate) fn owned_fields<'a>(object: &'a Value, manager: &str) -> Result<Owned<'a>, Error> {
    let entries = managed_entries(object)?;
    let is_ours = |entry: &&Value| {
        let text = |field: &str| entry.get(field).and_then(Value::as_str).unwrap_or("");
        text("manager") == manager && text("subresource").is_empty()
    };
    let mut ours = entries.iter().filter(is_ours);
    Ok(match (ours.next(), ours.next()) {
        (None, _) => Owned::Nothing,
        (Some(entry), None) => match entry.get("fieldsV1") {
            Some(fields) => Owned::Entry(fields),
            None => Owned::Nothing,
        },
        _ => Owned::Union(owned_by(object, manager)?),
    })
}

/// A field that applying would take from another field manager.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ManagerConflict {
    /// The field, in structured-merge-diff's notation (`.spec.replicas`).
    pub path: String,
    /// The manager that owns it now.
    pub manager: String,
    /// The owner as the API server names it in messages: `"kubectl"`, or for a manager that
    /// updated, `"kubectl-edit" using apps/v1`.
    pub owner: String,
    /// The value desired sets.
    pub desired: Value,
    /// The value live holds.
    pub live: Value,
}

impl fmt::Display for ManagerConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conflict with \"{}\": {}", self.manager, self.path)
    }
}

/// Predicts the conflicts a server-side apply of `desired` as `manager` would meet: fields
/// desired sets, to a value other than live's, that another manager owns in live. (A field
/// another manager owns with the value desired sets is shared, not a conflict.) Pass the
/// kind's type so list items are matched by their keys.
///
/// ```
/// use converge_diff::{predict_conflicts, schema::Schema};
/// use serde_json::json;
///
/// let live = json!({"spec": {"replicas": 5}, "metadata": {"managedFields": [
///     {"manager": "hpa", "operation": "Update", "apiVersion": "apps/v1",
///      "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]}});
/// let ty = Schema::kubernetes().for_kind("apps", "v1", "Deployment");
/// let conflicts = predict_conflicts(&json!({"spec": {"replicas": 2}}), &live, "converge", ty)?;
/// assert_eq!(conflicts[0].to_string(), "conflict with \"hpa\": .spec.replicas");
/// assert!(predict_conflicts(&json!({"spec": {"replicas": 5}}), &live, "converge", ty)?.is_empty());
/// # Ok::<(), converge_diff::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidPatch`] when live's managed fields are malformed.
pub fn predict_conflicts(
    desired: &Value,
    live: &Value,
    manager: &str,
    ty: Option<TypeRef<'_>>,
) -> Result<Vec<ManagerConflict>, Error> {
    let ours = FieldSet::from_object(desired, ty);
    let mut conflicts = Vec::new();
    for entry in managed_fields(live)? {
        if entry.manager == manager || entry.subresource.is_some() {
            continue;
        }
        let shared = ours.intersection(&entry.fields);
        for leaf in shared.leaves() {
            let at = |object: &Value| -> Option<Value> {
                leaf.iter()
                    .try_fold(object, |value, element| {
                        crate::drift::find_child(element, value, false).map(|(_, v)| v)
                    })
                    .cloned()
            };
            let (Some(want), Some(have)) = (at(desired), at(live)) else {
                continue;
            };
            if want != have {
                let mut path = String::new();
                for element in &leaf {
                    path.push_str(&display_element(element));
                }
                conflicts.push(ManagerConflict {
                    path,
                    owner: format!("{:?}", entry.manager),
                    manager: entry.manager.clone(),
                    desired: want,
                    live: have,
                });
            }
        }
    }
    Ok(conflicts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_v1_round_trips_with_members_beside_children() {
        let fields = json!({
            "f:metadata": {"f:finalizers": {".": {}, "v:\"a\"": {}}, "f:labels": {"f:app": {}}},
            "f:spec": {"f:ports": {"k:{\"protocol\":\"TCP\",\"port\":80}": {".": {}, "f:port": {}}}},
        });
        let set = FieldSet::from_fields_v1(&fields).expect("valid");
        assert_eq!(
            set.paths(),
            [
                ".metadata.finalizers",
                ".metadata.finalizers[=\"a\"]",
                ".metadata.labels.app",
                ".spec.ports[port=80,protocol=\"TCP\"]",
                ".spec.ports[port=80,protocol=\"TCP\"].port",
            ]
        );
        // The k: key is written in canonical order whatever order it was read in.
        let written = set.to_fields_v1().to_string();
        assert!(
            written.contains(r#"k:{\"port\":80,\"protocol\":\"TCP\"}"#),
            "{written}"
        );
        assert_eq!(
            FieldSet::from_fields_v1(&set.to_fields_v1()).expect("again"),
            set
        );
    }

    #[test]
    fn set_operations() {
        let a = FieldSet::from_fields_v1(&json!({"f:a": {}, "f:b": {"f:c": {}, "f:d": {}}}))
            .expect("a");
        let b = FieldSet::from_fields_v1(&json!({"f:b": {"f:c": {}}, "f:e": {}})).expect("b");
        assert_eq!(a.difference(&b).paths(), [".a", ".b.d"]);
        assert_eq!(a.intersection(&b).paths(), [".b.c"]);
        assert_eq!(a.union(&b).paths(), [".a", ".b.c", ".b.d", ".e"]);
        assert!(a.difference(&a).is_empty());
        assert_eq!(a.difference(&a).to_fields_v1(), json!({}));
    }

    #[test]
    fn malformed_sets_are_refused() {
        for bad in [
            json!([]),
            json!({"x:a": {}}),
            json!({"k:notjson": {}}),
            json!({"k:[1]": {}}),
            json!({"f:a": 1}),
        ] {
            assert!(FieldSet::from_fields_v1(&bad).is_err(), "{bad}");
        }
    }
}
