//! structured-merge-diff's typed operations over JSON values: merge, compare, the set of
//! fields a value holds, and the removal of items. The control flow follows the library's
//! walkers step by step, because server-side apply's results depend on their details: when an
//! empty map counts as a leaf, when a container left empty becomes `null`, which list items
//! come first after a merge.

use serde_json::{Map, Value};

use crate::managed::{Node, canonical_json, value_equal};
use crate::schema::{ListType, MapType, TypeKind, TypeRef};

/// What the schema says a node is, before its value is looked at.
#[derive(Clone, Copy)]
pub(crate) enum Declared<'s> {
    /// A scalar, or a struct, map or list the schema declares.
    Typed(Atom<'s>),
    /// No schema (`x-kubernetes-preserve-unknown-fields`): maps are granular with deduced
    /// values, lists atomic; which one a node is comes from its value.
    Deduced,
}

/// How a node is walked.
#[derive(Clone, Copy)]
pub(crate) enum Atom<'s> {
    Scalar,
    Map {
        /// The struct or map type; `None` for a deduced map.
        ty: Option<TypeRef<'s>>,
        atomic: bool,
    },
    List {
        ty: Option<TypeRef<'s>>,
        list_type: ListType<'s>,
    },
}

impl Atom<'_> {
    fn same(&self, other: &Atom<'_>) -> bool {
        matches!(
            (self, other),
            (Atom::Scalar, Atom::Scalar)
                | (Atom::Map { .. }, Atom::Map { .. })
                | (Atom::List { .. }, Atom::List { .. })
        )
    }
}

/// Free-form types the API server treats as one opaque value rather than as deduced JSON.
const ATOMIC_UNTYPED: &[&str] = &[
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
];

pub(crate) fn declared(ty: Option<TypeRef<'_>>) -> Declared<'_> {
    let Some(ty) = ty else {
        return Declared::Deduced;
    };
    let atomic_map = |t: &TypeRef<'_>| t.object().is_some_and(|o| o.map_type == MapType::Atomic);
    match ty.kind() {
        TypeKind::Scalar => Declared::Typed(Atom::Scalar),
        TypeKind::Object | TypeKind::Map => Declared::Typed(Atom::Map {
            ty: Some(ty),
            atomic: atomic_map(&ty),
        }),
        TypeKind::List => Declared::Typed(Atom::List {
            ty: Some(ty),
            list_type: ty.list().map_or(ListType::Atomic, |l| l.list_type),
        }),
        TypeKind::Unknown if ty.name().is_some_and(|n| ATOMIC_UNTYPED.contains(&n)) => {
            Declared::Typed(Atom::Map {
                ty: None,
                atomic: true,
            })
        }
        _ => Declared::Deduced,
    }
}

/// The atom a value is walked as. A deduced node with no value (or `null`) is a map, as the
/// library's atom handler tries maps first.
fn deduce<'s>(declared: Declared<'s>, value: Option<&Value>) -> Atom<'s> {
    match declared {
        Declared::Typed(Atom::Map {
            ty: None,
            atomic: true,
        }) => match value {
            Some(Value::Array(_)) => Atom::List {
                ty: None,
                list_type: ListType::Atomic,
            },
            Some(Value::Object(_)) | None | Some(Value::Null) => Atom::Map {
                ty: None,
                atomic: true,
            },
            Some(_) => Atom::Scalar,
        },
        Declared::Typed(atom) => atom,
        Declared::Deduced => match value {
            Some(Value::Array(_)) => Atom::List {
                ty: None,
                list_type: ListType::Atomic,
            },
            Some(Value::Object(_)) | Some(Value::Null) | None => Atom::Map {
                ty: None,
                atomic: false,
            },
            Some(_) => Atom::Scalar,
        },
    }
}

/// The declared type of a map's entry: the struct's field, or the map's values. A field the
/// struct does not declare is deduced.
fn entry_type<'s>(map: Option<TypeRef<'s>>, key: &str) -> Declared<'s> {
    let Some(ty) = map else {
        return Declared::Deduced;
    };
    match ty.kind() {
        TypeKind::Map => declared(ty.values()),
        _ => declared(ty.field(key)),
    }
}

/// True when `key` is a field the struct type declares (not a key of a map).
fn is_named_field(map: Option<TypeRef<'_>>, key: &str) -> bool {
    map.is_some_and(|ty| ty.kind() == TypeKind::Object && ty.fields().any(|(name, _)| name == key))
}

fn items_type(list: Option<TypeRef<'_>>) -> Declared<'_> {
    match list {
        Some(ty) => declared(ty.items()),
        None => Declared::Deduced,
    }
}

/// The defaults Kubernetes declares for list-map key fields (`+default="TCP"` on the
/// `protocol` of container and service ports), used when an item leaves its key out.
fn key_default(field: &str) -> Option<Value> {
    (field == "protocol").then(|| Value::from("TCP"))
}

/// The path element of a list item: `k:{…}` by its keys, `v:…` by its value, or `i:n`.
pub(crate) fn item_element(
    list_type: ListType<'_>,
    index: usize,
    item: &Value,
) -> Result<String, String> {
    match list_type {
        ListType::Map { keys } => {
            let Value::Object(fields) = item else {
                return Err(if item.is_null() {
                    "associative list with keys may not have a null element".to_owned()
                } else {
                    "associative list with keys may not have non-map elements".to_owned()
                });
            };
            let mut key = Map::new();
            for name in keys {
                match fields.get(name).cloned().or_else(|| key_default(name)) {
                    Some(value) => {
                        key.insert(name.clone(), value);
                    }
                    None => {
                        return Err(format!(
                            "associative list with keys has an element that omits key field {name:?} (and doesn't have default value)"
                        ));
                    }
                }
            }
            Ok(format!("k:{}", canonical_json(&Value::Object(key))))
        }
        ListType::Set => match item {
            Value::Object(_) => {
                Err("associative list without keys has an element that's a map type".to_owned())
            }
            Value::Array(_) => {
                Err("not supported: associative list with lists as elements".to_owned())
            }
            Value::Null => Err(
                "associative list without keys has an element that's an explicit null".to_owned(),
            ),
            _ => Ok(format!("v:{}", canonical_json(item))),
        },
        _ => Ok(format!("i:{index}")),
    }
}

fn empty_map(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Object(map)) => map.is_empty(),
        _ => true,
    }
}

fn empty_list(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Array(items)) => items.is_empty(),
        _ => true,
    }
}

/// The three sets a comparison of two values gives.
#[derive(Debug, Default, Clone)]
pub(crate) struct Diff {
    pub(crate) added: Node,
    pub(crate) removed: Node,
    pub(crate) modified: Node,
}

impl Diff {
    pub(crate) fn is_same(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.modified.is_empty()
    }
}

/// Inserts the member at `path` (no-op for the root).
fn insert(set: &mut Node, path: &[String]) {
    if path.is_empty() {
        return;
    }
    let node = path.iter().fold(set, |node, element| {
        node.children.entry(element.clone()).or_default()
    });
    node.member = true;
}

/// The walker that merges two values (`Some` output) or compares them (`diff`).
struct Walker<'d> {
    diff: Option<&'d mut Diff>,
    errors: Vec<String>,
}

impl Walker<'_> {
    fn error(&mut self, path: &[String], message: String) {
        let at: String = path
            .iter()
            .map(|e| crate::managed::display_element(e))
            .collect();
        self.errors.push(if at.is_empty() {
            message
        } else {
            format!("{at}: {message}")
        });
    }

    /// Walks one node present on either side (or both) and returns its merged value.
    fn node(
        &mut self,
        path: &mut Vec<String>,
        lhs: Option<&Value>,
        rhs: Option<&Value>,
        ty: Declared<'_>,
    ) -> Option<Value> {
        let (left, right) = (deduce(ty, lhs), deduce(ty, rhs));
        if self.diff.is_some() && !left.same(&right) {
            // The library walks a node whose sides disagree once as each side's atom. The
            // first pass only records; its output is dropped.
            let mut ignored = false;
            self.handle(left, path, lhs, rhs, &mut ignored);
        }
        let mut leaf = false;
        let out = self.handle(right, path, lhs, rhs, &mut leaf);
        if !leaf && let Some(diff) = self.diff.as_deref_mut() {
            if lhs.is_none() {
                insert(&mut diff.added, path);
            } else if rhs.is_none() {
                insert(&mut diff.removed, path);
            }
        }
        out
    }

    fn leaf(
        &mut self,
        path: &[String],
        lhs: Option<&Value>,
        rhs: Option<&Value>,
        leaf: &mut bool,
    ) -> Option<Value> {
        *leaf = true;
        match self.diff.as_deref_mut() {
            Some(diff) => {
                match (lhs, rhs) {
                    (None, _) => insert(&mut diff.added, path),
                    (_, None) => insert(&mut diff.removed, path),
                    (Some(l), Some(r)) if !value_equal(l, r) => insert(&mut diff.modified, path),
                    _ => {}
                }
                None
            }
            None => rhs.or(lhs).cloned(),
        }
    }

    fn handle(
        &mut self,
        atom: Atom<'_>,
        path: &mut Vec<String>,
        lhs: Option<&Value>,
        rhs: Option<&Value>,
        leaf: &mut bool,
    ) -> Option<Value> {
        match atom {
            Atom::Scalar => self.leaf(path, lhs, rhs, leaf),
            Atom::Map { ty, atomic } => {
                if atomic || (empty_map(lhs) && empty_map(rhs)) {
                    return self.leaf(path, lhs, rhs, leaf);
                }
                let (l, r) = (
                    lhs.and_then(Value::as_object),
                    rhs.and_then(Value::as_object),
                );
                let mut out = Map::new();
                let keys = l.into_iter().flat_map(|m| m.keys()).chain(
                    r.into_iter()
                        .flat_map(|m| m.keys())
                        .filter(|k| !l.is_some_and(|l| l.contains_key(*k))),
                );
                for key in keys {
                    path.push(format!("f:{key}"));
                    let merged = self.node(
                        path,
                        l.and_then(|m| m.get(key)),
                        r.and_then(|m| m.get(key)),
                        entry_type(ty, key),
                    );
                    path.pop();
                    if let Some(value) = merged {
                        out.insert(key.clone(), value);
                    }
                }
                (!out.is_empty()).then_some(Value::Object(out))
            }
            Atom::List { ty, list_type } => {
                if list_type == ListType::Atomic || (empty_list(lhs) && empty_list(rhs)) {
                    return self.leaf(path, lhs, rhs, leaf);
                }
                self.items(path, ty, list_type, lhs, rhs)
            }
        }
    }

    fn items(
        &mut self,
        path: &mut Vec<String>,
        ty: Option<TypeRef<'_>>,
        list_type: ListType<'_>,
        lhs: Option<&Value>,
        rhs: Option<&Value>,
    ) -> Option<Value> {
        let item_ty = items_type(ty);
        let empty = Vec::new();
        let l = lhs.and_then(Value::as_array).unwrap_or(&empty);
        let r = rhs.and_then(Value::as_array).unwrap_or(&empty);
        let mut right: Vec<(String, &Value)> = Vec::with_capacity(r.len());
        for (i, item) in r.iter().enumerate() {
            match item_element(list_type, i, item) {
                Ok(element) => {
                    if right.iter().any(|(e, _)| *e == element) {
                        let shown = crate::managed::display_element(&element);
                        self.error(path, format!("rhs: duplicate entries for key {shown}"));
                    }
                    right.push((element, item));
                }
                Err(e) => self.error(path, format!("rhs: element {i}: {e}")),
            }
        }
        let mut out = Vec::with_capacity(l.len().max(r.len()));
        let mut seen: Vec<String> = Vec::with_capacity(l.len());
        for (i, item) in l.iter().enumerate() {
            let element = match item_element(list_type, i, item) {
                Ok(element) => element,
                Err(e) => {
                    self.error(path, format!("lhs: element {i}: {e}"));
                    continue;
                }
            };
            if seen.contains(&element) {
                let shown = crate::managed::display_element(&element);
                self.error(path, format!("lhs: duplicate entries for key {shown}"));
                continue;
            }
            let matched = right.iter().find(|(e, _)| *e == element).map(|(_, v)| *v);
            path.push(element.clone());
            let merged = self.node(path, Some(item), matched, item_ty);
            path.pop();
            out.extend(merged);
            seen.push(element);
        }
        for (element, item) in &right {
            if seen.contains(element) {
                continue;
            }
            path.push(element.clone());
            let merged = self.node(path, None, Some(item), item_ty);
            path.pop();
            out.extend(merged);
        }
        (!out.is_empty()).then_some(Value::Array(out))
    }

    fn finish(self) -> Result<(), String> {
        match self.errors.is_empty() {
            true => Ok(()),
            false => Err(self.errors.join("\n")),
        }
    }
}

/// Merges `rhs` into `lhs`: what server-side apply does with a configuration and the live
/// object before pruning.
pub(crate) fn merge(lhs: &Value, rhs: &Value, ty: Declared<'_>) -> Result<Value, String> {
    let mut walker = Walker {
        diff: None,
        errors: Vec::new(),
    };
    let out = walker.node(&mut Vec::new(), Some(lhs), Some(rhs), ty);
    walker.finish()?;
    Ok(out.unwrap_or(Value::Null))
}

/// What changed from `lhs` to `rhs`: every node of an added or removed subtree, and the
/// leaves whose values differ.
pub(crate) fn compare(lhs: &Value, rhs: &Value, ty: Declared<'_>) -> Result<Diff, String> {
    let mut diff = Diff::default();
    let mut walker = Walker {
        diff: Some(&mut diff),
        errors: Vec::new(),
    };
    walker.node(&mut Vec::new(), Some(lhs), Some(rhs), ty);
    walker.finish()?;
    Ok(diff)
}

/// The fields `value` sets: its leaves, list items, map keys, atomic lists and maps, and
/// struct fields that hold `null` or an empty map — but not struct fields that only lead to
/// other members.
pub(crate) fn field_set(value: &Value, ty: Declared<'_>) -> Node {
    let mut root = Node::default();
    fill(&mut root, value, ty);
    root
}

fn fill(node: &mut Node, value: &Value, ty: Declared<'_>) {
    match deduce(ty, Some(value)) {
        Atom::Scalar => node.member = true,
        Atom::List { ty, list_type } => {
            if list_type == ListType::Atomic {
                node.member = true;
                return;
            }
            let Value::Array(items) = value else {
                return;
            };
            let item_ty = items_type(ty);
            for (i, item) in items.iter().enumerate() {
                // Items were checked when the value was merged or compared.
                let Ok(element) = item_element(list_type, i, item) else {
                    continue;
                };
                let child = node.children.entry(element).or_default();
                fill(child, item, item_ty);
                child.member = true;
            }
        }
        Atom::Map { ty, atomic } => {
            if atomic {
                node.member = true;
                return;
            }
            let Value::Object(map) = value else {
                return;
            };
            for (key, child_value) in map {
                let mut child = Node::default();
                fill(&mut child, child_value, entry_type(ty, key));
                let empty = match child_value {
                    Value::Null => true,
                    Value::Object(m) => m.is_empty(),
                    _ => false,
                };
                if empty || !is_named_field(ty, key) {
                    child.member = true;
                }
                if !child.is_empty() {
                    node.children.insert(format!("f:{key}"), child);
                }
            }
        }
    }
}

/// `value` without the map entries and list items that are members of `set` (and, below
/// them, without what `set`'s children name). A map or list left with nothing becomes
/// `null`, as the library leaves it.
pub(crate) fn remove_items(value: &Value, set: &Node, ty: Declared<'_>) -> Value {
    match deduce(ty, Some(value)) {
        Atom::Scalar => value.clone(),
        Atom::List { ty, list_type } => {
            let Value::Array(items) = value else {
                return Value::Null;
            };
            if items.is_empty() || list_type == ListType::Atomic {
                return Value::Null;
            }
            let item_ty = items_type(ty);
            let mut kept = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let sub = item_element(list_type, i, item)
                    .ok()
                    .and_then(|e| set.children.get(&e));
                match sub {
                    Some(sub) if sub.member => {}
                    Some(sub) if !sub.children.is_empty() => {
                        kept.push(remove_items(item, sub, item_ty));
                    }
                    _ => kept.push(item.clone()),
                }
            }
            match kept.is_empty() {
                true => Value::Null,
                false => Value::Array(kept),
            }
        }
        Atom::Map { ty, atomic } => {
            let Value::Object(map) = value else {
                return Value::Null;
            };
            if map.is_empty() || atomic {
                return Value::Null;
            }
            let mut kept = Map::new();
            for (key, child) in map {
                match set.children.get(&format!("f:{key}")) {
                    Some(sub) if sub.member => {}
                    Some(sub) if !sub.children.is_empty() => {
                        kept.insert(key.clone(), remove_items(child, sub, entry_type(ty, key)));
                    }
                    _ => {
                        kept.insert(key.clone(), child.clone());
                    }
                }
            }
            match kept.is_empty() {
                true => Value::Null,
                false => Value::Object(kept),
            }
        }
    }
}

/// `set` with every struct field on its paths made a member too, so that removing items by
/// it removes the fields themselves ("a.b.c" also owns "a" when "a" is a struct field).
pub(crate) fn ensure_named_fields(set: &Node, ty: Declared<'_>) -> Node {
    // Only the schema is consulted here, never a value: a deduced node is a map.
    let (map_ty, list_ty, is_map, is_list) = match ty {
        Declared::Typed(Atom::Map { ty, .. }) => (ty, None, true, false),
        Declared::Typed(Atom::List { ty, .. }) => (None, ty, false, true),
        Declared::Typed(Atom::Scalar) => (None, None, false, false),
        Declared::Deduced => (None, None, true, true),
    };
    let mut out = Node {
        member: set.member,
        children: Default::default(),
    };
    for (element, child) in &set.children {
        let (child_ty, named) = if let Some(name) = element.strip_prefix("f:")
            && is_map
        {
            (entry_type(map_ty, name), is_named_field(map_ty, name))
        } else if element.starts_with("k:") && is_list {
            (items_type(list_ty), false)
        } else {
            (Declared::Typed(Atom::Scalar), false)
        };
        let mut ensured = ensure_named_fields(child, child_ty);
        ensured.member |= named;
        out.children.insert(element.clone(), ensured);
    }
    out
}

/// Checks that `value` has the shapes its type declares: maps where maps are declared, lists
/// where lists are, scalars elsewhere; list items with their keys, sets of scalars, no item
/// twice. Returns every problem found, each with its path.
pub(crate) fn validate(value: &Value, ty: Declared<'_>) -> Vec<String> {
    let mut errors = Vec::new();
    check(value, ty, &mut Vec::new(), &mut errors);
    errors
}

fn check(value: &Value, ty: Declared<'_>, path: &mut Vec<String>, errors: &mut Vec<String>) {
    let mut fail = |path: &[String], message: String| {
        let at: String = path
            .iter()
            .map(|e| crate::managed::display_element(e))
            .collect();
        errors.push(if at.is_empty() {
            message
        } else {
            format!("{at}: {message}")
        });
    };
    let shape = |v: &Value| match v {
        Value::Object(_) => "map",
        Value::Array(_) => "list",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Null => "null",
    };
    if value.is_null() {
        return;
    }
    match (deduce(ty, Some(value)), value) {
        (Atom::Scalar, Value::Object(_) | Value::Array(_)) => {
            fail(path, format!("expected scalar, got {}", shape(value)));
        }
        (Atom::Scalar, _) => {}
        (Atom::Map { .. }, Value::Object(_)) | (Atom::List { .. }, Value::Array(_)) => {}
        (Atom::Map { .. }, _) => fail(path, format!("expected map, got {}", shape(value))),
        (Atom::List { .. }, _) => fail(path, format!("expected list, got {}", shape(value))),
    }
    let mut nested: Vec<(String, &Value, Declared<'_>)> = Vec::new();
    match (deduce(ty, Some(value)), value) {
        (Atom::Map { ty, atomic }, Value::Object(map)) if !atomic => {
            for (key, child) in map {
                nested.push((format!("f:{key}"), child, entry_type(ty, key)));
            }
        }
        (Atom::List { ty, list_type }, Value::Array(items)) if list_type != ListType::Atomic => {
            let item_ty = items_type(ty);
            let mut seen: Vec<String> = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item_element(list_type, i, item) {
                    Ok(element) if seen.contains(&element) => {
                        let shown = crate::managed::display_element(&element);
                        fail(path, format!("duplicate entries for key {shown}"));
                    }
                    Ok(element) => {
                        seen.push(element.clone());
                        nested.push((element, item, item_ty));
                    }
                    Err(e) => fail(path, format!("element {i}: {e}")),
                }
            }
        }
        _ => {}
    }
    for (element, child, child_ty) in nested {
        path.push(element);
        check(child, child_ty, path, errors);
        path.pop();
    }
}
