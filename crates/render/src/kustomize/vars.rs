//! The legacy `vars`: `$(NAME)` in the configured fields, replaced by a field of a resource.

use serde_json::Value;

use super::config::Config;
use super::fieldspec::apply_specs;
use super::resource::{Resource, split_api_version};
use super::types::Var;

/// Replaces `$(NAME)` references of `vars` in every resource's var-reference fields.
pub(crate) fn resolve(
    resources: &mut [Resource],
    vars: &[(Var, String)],
    config: &Config,
) -> Result<(), String> {
    if vars.is_empty() {
        return Ok(());
    }
    let mut values = Vec::new();
    for (var, file) in vars {
        let value = var_value(resources, var).map_err(|e| format!("{e} (in {file})"))?;
        values.push((var.name.clone(), value));
    }
    let specs = config.var_reference.clone();
    for resource in resources.iter_mut() {
        apply_specs(&mut resource.object, &specs, &mut |_, value| {
            expand(value, &values);
            Ok::<(), String>(())
        })?;
    }
    Ok(())
}

fn expand(value: &mut Value, values: &[(String, Value)]) {
    match value {
        Value::String(text) => {
            if !text.contains("$(") {
                return;
            }
            // A field that is only the reference takes the value with its type.
            if let Some(name) = text.strip_prefix("$(").and_then(|t| t.strip_suffix(')'))
                && let Some((_, v)) = values.iter().find(|(n, _)| n == name)
            {
                *value = v.clone();
                return;
            }
            let mut out = String::with_capacity(text.len());
            let mut rest = text.as_str();
            while let Some(start) = rest.find("$(") {
                out.push_str(&rest[..start]);
                let after = &rest[start + 2..];
                match after.find(')') {
                    Some(end) => {
                        let name = &after[..end];
                        match values.iter().find(|(n, _)| n == name) {
                            Some((_, Value::String(v))) => out.push_str(v),
                            Some((_, v)) => out.push_str(&v.to_string()),
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        rest = &after[end + 1..];
                    }
                    None => {
                        out.push_str(&rest[start..]);
                        rest = "";
                    }
                }
            }
            out.push_str(rest);
            *text = out;
        }
        Value::Array(items) => {
            for item in items {
                expand(item, values);
            }
        }
        Value::Object(map) => {
            for (_, v) in map.iter_mut() {
                expand(v, values);
            }
        }
        _ => {}
    }
}

/// The resources `var`'s object reference names, by any id they had.
pub(crate) fn matching(resources: &[Resource], var: &Var) -> Vec<usize> {
    let target = &var.obj_ref;
    let (group, version) = if target.api_version.is_empty() {
        (target.group.as_str(), target.version.as_str())
    } else {
        split_api_version(&target.api_version)
    };
    resources
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            let current = r.id();
            std::iter::once(&current)
                .chain(r.previous.iter())
                .any(|id| {
                    (target.kind.is_empty() || id.kind == target.kind)
                        && (group.is_empty() || current.group == group)
                        && (version.is_empty() || current.version == version)
                        && id.name == target.name
                        && (target.namespace.is_empty() || id.namespace == target.namespace)
                })
        })
        .map(|(i, _)| i)
        .collect()
}

/// The value of `var`, read from the resource that holds it.
fn var_value(resources: &[Resource], var: &Var) -> Result<Value, String> {
    let resource = resources
        .iter()
        .find(|r| r.vars.contains(&var.name))
        .ok_or_else(|| {
            format!(
                "var '{}' cannot be mapped to a field in the set of known resources",
                var.name
            )
        })?;
    let path = var
        .field_ref
        .as_ref()
        .map(|f| f.field_path.as_str())
        .filter(|p| !p.is_empty())
        .unwrap_or("metadata.name");
    let found = lookup(&resource.object, path).ok_or_else(|| {
        format!(
            "field specified in var '{}' not found in corresponding resource",
            var.name
        )
    })?;
    Ok(found.clone())
}

/// `spec.containers[0].image`, `metadata.labels.app`.
fn lookup<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    let mut current = value;
    for part in path.split('.') {
        let (field, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !field.is_empty() {
            current = current.get(field)?;
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            let index = index.trim_end_matches(']');
            current = match index.parse::<usize>() {
                Ok(i) => current.get(i)?,
                Err(_) => {
                    let (k, v) = index.split_once('=')?;
                    current
                        .as_array()?
                        .iter()
                        .find(|item| item.get(k).and_then(Value::as_str) == Some(v))?
                }
            };
        }
    }
    Some(current)
}
