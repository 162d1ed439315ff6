//! `replacements`: copy a field of one resource into fields of others.

use serde_json::{Map, Value};

use super::build::{Accumulated, Builder, Failure, Loaded, Result, parse_patch};
use super::resource::{ResId, Resource};
use super::select::Selection;
use super::types::{FieldOptions, Replacement, ReplacementEntry, Selector, SourceSelector};

/// Runs one `replacements` entry (a file of replacements, or one inline).
pub(crate) fn apply_entry(
    builder: &Builder<'_>,
    loaded: &Loaded,
    acc: &mut Accumulated,
    entry: &ReplacementEntry,
) -> Result<()> {
    let file = loaded.file.as_str();
    let err = |message: String| Failure {
        file: file.to_owned(),
        message,
    };
    match entry {
        ReplacementEntry::Inline(replacement) => apply(acc, replacement).map_err(err),
        ReplacementEntry::Path { path } => {
            let bytes = builder.read_file(loaded, path)?;
            let name = builder.resolve_file(loaded, path)?;
            for document in parse_patch(&name, &bytes).map_err(err)? {
                let list = match document {
                    Value::Array(items) => items,
                    other => vec![other],
                };
                for item in list {
                    let replacement: Replacement = serde_json::from_value(item)
                        .map_err(|e| err(format!("{name}: invalid replacement: {e}")))?;
                    apply(acc, &replacement).map_err(err)?;
                }
            }
            Ok(())
        }
    }
}

/// Applies `replacement` to the accumulated resources.
pub(crate) fn apply(
    acc: &mut Accumulated,
    replacement: &Replacement,
) -> std::result::Result<(), String> {
    let encodings = replacement
        .source
        .iter()
        .filter_map(|s| s.options.as_ref())
        .chain(
            replacement
                .targets
                .iter()
                .filter_map(|t| t.options.as_ref()),
        )
        .filter_map(|o| o.encoding.as_deref());
    for encoding in encodings {
        if encoding != "none" && !encoding.is_empty() {
            return Err(format!(
                "replacement options.encoding {encoding:?} is not supported"
            ));
        }
    }
    let source = replacement
        .source
        .as_ref()
        .ok_or("a replacement needs a source")?;
    let value = source_value(&acc.resources, source)?;
    for target in &replacement.targets {
        let select = target
            .select
            .as_ref()
            .ok_or("a replacement target needs select")?;
        let selection = Selection::new(select)?;
        let rejections = target
            .reject
            .iter()
            .map(Selection::new)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if target.field_paths.is_empty() {
            return Err("a replacement target needs fieldPaths".to_owned());
        }
        let default_options = FieldOptions::default();
        let options = target.options.as_ref().unwrap_or(&default_options);
        for resource in &mut acc.resources {
            if !selection.matches(resource) || rejections.iter().any(|r| r.matches(resource)) {
                continue;
            }
            for path in &target.field_paths {
                set_path(
                    &mut resource.object,
                    &parse_field_path(path),
                    &value,
                    options,
                )
                .map_err(|e| format!("replacing {path} in {}: {e}", resource.id()))?;
            }
        }
    }
    Ok(())
}

/// The value a source selects.
fn source_value(
    resources: &[Resource],
    source: &SourceSelector,
) -> std::result::Result<Value, String> {
    let selector = Selector {
        group: source.group.clone(),
        version: source.version.clone(),
        kind: source.kind.clone(),
        name: source.name.clone(),
        namespace: source.namespace.clone(),
        label_selector: None,
        annotation_selector: None,
    };
    let exact = |want: &Option<String>, have: &str| {
        want.as_deref().is_none_or(|w| w.is_empty() || w == have)
    };
    let candidates: Vec<&Resource> = resources
        .iter()
        .filter(|r| {
            let id = r.id();
            let named = source.name.as_deref().is_none_or(|n| r.had_name(&id, n));
            exact(&selector.group, &id.group)
                && exact(&selector.version, &id.version)
                && exact(&selector.kind, &id.kind)
                && named
                && exact(&selector.namespace, &id.namespace)
        })
        .collect();
    let resource = match candidates.as_slice() {
        [one] => *one,
        [] => return Err(format!("nothing selected by {}", describe(source))),
        _ => {
            return Err(format!(
                "more than one resource selected by {}: {}",
                describe(source),
                candidates
                    .iter()
                    .map(|r| r.id().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    };
    let path = source.field_path.as_deref().unwrap_or("metadata.name");
    let found = get_path(&resource.object, &parse_field_path(path)).ok_or_else(|| {
        format!(
            "fieldPath `{path}` is missing for replacement source {}",
            resource.id()
        )
    })?;
    match source.options.as_ref().and_then(|o| o.delimiter.clone()) {
        Some(delimiter) if !delimiter.is_empty() => {
            let index = source.options.as_ref().map_or(0, |o| o.index);
            let text = found.as_str().ok_or("a delimiter needs a string source")?;
            let parts: Vec<&str> = text.split(delimiter.as_str()).collect();
            let part = usize::try_from(index)
                .ok()
                .and_then(|i| parts.get(i))
                .ok_or_else(|| {
                    format!("options.index {index} is out of bounds for value {text}")
                })?;
            Ok(Value::String((*part).to_owned()))
        }
        _ => Ok(found.clone()),
    }
}

fn describe(source: &SourceSelector) -> String {
    let id = ResId {
        group: source.group.clone().unwrap_or_default(),
        version: source.version.clone().unwrap_or_default(),
        kind: source.kind.clone().unwrap_or_default(),
        namespace: source.namespace.clone().unwrap_or_default(),
        name: source.name.clone().unwrap_or_default(),
    };
    format!("{id}")
}

/// One step of a replacement field path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    /// `[key=value]`: the list item whose `key` is `value`.
    Match(String, String),
    /// `*`: every item or field.
    All,
    Index(usize),
}

/// Parses `spec.template.spec.containers.[name=web].image`: dots separate steps, brackets
/// hold selectors or keys with dots.
fn parse_field_path(path: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut current = String::new();
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => {
                depth += 1;
                current.push(c);
            }
            ']' => {
                depth -= 1;
                current.push(c);
            }
            '.' if depth == 0 => steps.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    steps.push(current);
    steps
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s == "*" {
                return Step::All;
            }
            if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                if let Some((k, v)) = inner.split_once('=') {
                    return Step::Match(k.to_owned(), v.to_owned());
                }
                return Step::Field(inner.to_owned());
            }
            if let Ok(i) = s.parse::<usize>() {
                return Step::Index(i);
            }
            Step::Field(s)
        })
        .collect()
}

fn get_path<'v>(value: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    let Some((first, rest)) = steps.split_first() else {
        return Some(value);
    };
    let next = match (first, value) {
        (Step::Field(f), Value::Object(map)) => map.get(f),
        (Step::Index(i), Value::Array(items)) => items.get(*i),
        (Step::Match(k, v), Value::Array(items)) => {
            items.iter().find(|item| matches_item(item, k, v))
        }
        (Step::All, Value::Array(items)) => items.first(),
        _ => None,
    }?;
    get_path(next, rest)
}

fn matches_item(item: &Value, key: &str, value: &str) -> bool {
    if key.is_empty() {
        return scalar(item).as_deref() == Some(value);
    }
    item.get(key).and_then(scalar).as_deref() == Some(value)
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn set_path(
    value: &mut Value,
    steps: &[Step],
    new: &Value,
    options: &FieldOptions,
) -> std::result::Result<(), String> {
    let Some((first, rest)) = steps.split_first() else {
        return replace_value(value, new, options);
    };
    match (first, value) {
        (Step::Field(f), Value::Object(map)) => {
            if !map.contains_key(f) {
                if !options.create {
                    return Ok(());
                }
                let fresh = if rest.is_empty() {
                    Value::Null
                } else if matches!(rest.first(), Some(Step::Match(..) | Step::Index(_))) {
                    Value::Array(Vec::new())
                } else {
                    Value::Object(Map::new())
                };
                map.insert(f.clone(), fresh);
            }
            match map.get_mut(f) {
                Some(child) => set_path(child, rest, new, options),
                None => Ok(()),
            }
        }
        (Step::Index(i), Value::Array(items)) => match items.get_mut(*i) {
            Some(child) => set_path(child, rest, new, options),
            None => Ok(()),
        },
        (Step::Match(k, v), Value::Array(items)) => {
            let mut found = false;
            for item in items.iter_mut().filter(|item| matches_item(item, k, v)) {
                found = true;
                set_path(item, rest, new, options)?;
            }
            if !found && options.create && !k.is_empty() {
                let mut item = Map::new();
                item.insert(k.clone(), Value::String(v.clone()));
                let mut item = Value::Object(item);
                set_path(&mut item, rest, new, options)?;
                items.push(item);
            }
            Ok(())
        }
        (Step::All, Value::Array(items)) => {
            for item in items {
                set_path(item, rest, new, options)?;
            }
            Ok(())
        }
        (Step::All, Value::Object(map)) => {
            for (_, child) in map.iter_mut() {
                set_path(child, rest, new, options)?;
            }
            Ok(())
        }
        (Step::Field(_), Value::Null) if options.create => {
            let mut map = Value::Object(Map::new());
            set_path(&mut map, steps, new, options)?;
            Ok(())
        }
        _ => Ok(()),
    }
}

fn replace_value(
    target: &mut Value,
    new: &Value,
    options: &FieldOptions,
) -> std::result::Result<(), String> {
    match options.delimiter.as_deref().filter(|d| !d.is_empty()) {
        Some(delimiter) => {
            let current = match target {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => return Err(format!("a delimiter needs a string target, not {other}")),
            };
            let replacement = scalar(new).ok_or("a delimiter needs a scalar source")?;
            let mut parts: Vec<String> = current.split(delimiter).map(str::to_owned).collect();
            let index = options.index;
            if index < 0 {
                parts.insert(0, replacement);
            } else {
                let i = usize::try_from(index).unwrap_or(usize::MAX);
                if i >= parts.len() {
                    parts.push(replacement);
                } else {
                    parts[i] = replacement;
                }
            }
            *target = Value::String(parts.join(delimiter));
            Ok(())
        }
        None => {
            *target = new.clone();
            Ok(())
        }
    }
}
