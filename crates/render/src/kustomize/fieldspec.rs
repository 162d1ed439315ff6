//! Field specs: which fields of which kinds a transformer touches.

use serde_json::{Map, Value};

use super::resource::{ResId, ensure_object};
use super::types::FieldSpecArgs;

/// A path in objects of some kinds (empty group, version or kind: any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldSpec {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub path: Vec<String>,
    pub create: bool,
}

impl FieldSpec {
    /// `path` for kind `kind` (any kind when empty) in `group`.
    pub(crate) fn new(group: &str, kind: &str, path: &str, create: bool) -> FieldSpec {
        FieldSpec {
            group: group.to_owned(),
            version: String::new(),
            kind: kind.to_owned(),
            path: split_path(path),
            create,
        }
    }

    pub(crate) fn from_args(args: &FieldSpecArgs) -> FieldSpec {
        FieldSpec {
            group: args.group.clone(),
            version: args.version.clone(),
            kind: args.kind.clone(),
            path: split_path(&args.path),
            create: args.create,
        }
    }

    /// Whether the spec applies to objects with id `id`.
    pub(crate) fn applies_to(&self, id: &ResId) -> bool {
        (self.group.is_empty() || self.group == id.group)
            && (self.version.is_empty() || self.version == id.version)
            && (self.kind.is_empty() || self.kind == id.kind)
    }

    /// The path as written (`spec/template/metadata/labels`).
    pub(crate) fn path_string(&self) -> String {
        self.path
            .iter()
            .map(|s| s.replace('/', "\\/"))
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// Splits `a/b\/c/d` into `a`, `b/c`, `d`.
pub(crate) fn split_path(path: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                current.push('/');
                chars.next();
            }
            '/' => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    parts.retain(|p| !p.is_empty());
    parts
}

/// Calls `visit` with every value at `path` in `value`, walking into each item of a list met
/// on the way. With `create`, missing mappings on the way (and the field itself, as `null`)
/// are created.
pub(crate) fn walk<E>(
    value: &mut Value,
    path: &[String],
    create: bool,
    visit: &mut dyn FnMut(&mut Value) -> Result<(), E>,
) -> Result<(), E> {
    if let Value::Array(items) = value {
        for item in items {
            walk(item, path, create, visit)?;
        }
        return Ok(());
    }
    let Some((first, rest)) = path.split_first() else {
        return visit(value);
    };
    let (name, each) = match first.strip_suffix("[]") {
        Some(name) => (name, true),
        None => (first.as_str(), false),
    };
    let Value::Object(map) = value else {
        return Ok(());
    };
    if !map.contains_key(name) {
        // A list segment (`containers[]`) is never created.
        if !create || each {
            return Ok(());
        }
        let fresh = if rest.is_empty() {
            Value::Null
        } else if each {
            Value::Array(Vec::new())
        } else {
            Value::Object(Map::new())
        };
        map.insert(name.to_owned(), fresh);
    }
    let Some(child) = map.get_mut(name) else {
        return Ok(());
    };
    if child.is_null() && !rest.is_empty() {
        if !create {
            return Ok(());
        }
        if each {
            *child = Value::Array(Vec::new());
        } else {
            ensure_object(child);
        }
    }
    walk(child, rest, create, visit)
}

/// Applies `visit` at every spec of `specs` that applies to the object.
pub(crate) fn apply_specs<E>(
    object: &mut Value,
    specs: &[FieldSpec],
    visit: &mut dyn FnMut(&FieldSpec, &mut Value) -> Result<(), E>,
) -> Result<(), E> {
    let id = ResId::of(object);
    let mut seen: Vec<&Vec<String>> = Vec::new();
    for spec in specs.iter().filter(|s| s.applies_to(&id)) {
        // The same path listed twice (for a kind and for any kind) is visited once.
        if seen.contains(&&spec.path) {
            continue;
        }
        seen.push(&spec.path);
        walk(object, &spec.path, spec.create, &mut |v| visit(spec, v))?;
    }
    Ok(())
}
