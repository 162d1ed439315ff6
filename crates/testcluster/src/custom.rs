//! Custom objects checked against their definition's OpenAPI v3 schema, as the API server
//! checks them: types, required fields, enums, bounds, lengths, item counts and patterns,
//! each failure a `422 Invalid` cause worded as Kubernetes words it. `null` where the schema
//! does not allow it is dropped first, as the API server drops it.
//!
//! Not evaluated: `x-kubernetes-validations` (CEL rules), `allOf`/`anyOf`/`oneOf`/`not`, and
//! `format`.

use serde_json::{Map, Value};

/// One failure: (field, reason, message), as a `Status` cause.
pub(crate) type Cause = (String, String, String);

/// The schema of `version` in a CustomResourceDefinition, if it has one.
pub(crate) fn version_schema<'a>(crd: &'a Value, version: &str) -> Option<&'a Value> {
    crd.pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v["name"] == version)?
        .pointer("/schema/openAPIV3Schema")
}

/// Checks `object` against `schema` (dropping `null`s the schema does not allow) and
/// returns every failure. `apiVersion`, `kind` and `metadata` are the API server's to check.
pub(crate) fn validate(schema: &Value, object: &mut Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Value::Object(map) = object else {
        return causes;
    };
    let properties = schema.get("properties").and_then(Value::as_object);
    for (key, value) in map.iter_mut() {
        if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        if let Some(child) = properties.and_then(|p| p.get(key)) {
            check(child, value, key, &mut causes);
        }
    }
    drop_nulls(schema, map);
    required(schema, map, "", &mut causes);
    causes
}

/// The JSON type of a value, as the validator names it.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn invalid(path: &str, value: &Value, message: String) -> Cause {
    (
        path.to_owned(),
        "FieldValueInvalid".to_owned(),
        format!("Invalid value: {value}: {message}"),
    )
}

/// Removes the `null` members of `map` whose schema is not `nullable`.
fn drop_nulls(schema: &Value, map: &mut Map<String, Value>) {
    let properties = schema.get("properties").and_then(Value::as_object);
    map.retain(|key, value| {
        !value.is_null()
            || properties
                .and_then(|p| p.get(key))
                .is_some_and(|s| s["nullable"] == Value::Bool(true))
    });
}

fn required(schema: &Value, map: &Map<String, Value>, path: &str, causes: &mut Vec<Cause>) {
    for name in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !map.contains_key(name) {
            let field = if path.is_empty() {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            };
            causes.push((
                field,
                "FieldValueRequired".to_owned(),
                "Required value".to_owned(),
            ));
        }
    }
}

fn check(schema: &Value, value: &mut Value, path: &str, causes: &mut Vec<Cause>) {
    if value.is_null() {
        return;
    }
    let int_or_string = schema["x-kubernetes-int-or-string"] == Value::Bool(true);
    let got = json_type(value);
    if int_or_string {
        if got != "integer" && got != "string" {
            causes.push(invalid(
                path,
                &Value::from(got),
                format!("{path} in body must be of type integer,string: {got:?}"),
            ));
            return;
        }
    } else if let Some(want) = schema.get("type").and_then(Value::as_str) {
        let fits = want == got || (want == "number" && got == "integer");
        if !fits {
            causes.push(invalid(
                path,
                &Value::from(got),
                format!("{path} in body must be of type {want}: {got:?}"),
            ));
            return;
        }
    }
    if let Some(choices) = schema.get("enum").and_then(Value::as_array)
        && !choices.contains(value)
    {
        let supported: Vec<String> = choices.iter().map(Value::to_string).collect();
        causes.push((
            path.to_owned(),
            "FieldValueNotSupported".to_owned(),
            format!(
                "Unsupported value: {value}: supported values: {}",
                supported.join(", ")
            ),
        ));
    }
    bounds(schema, value, path, causes);
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (key, child) in map.iter_mut() {
                let child_path = format!("{path}.{key}");
                match (properties.and_then(|p| p.get(key)), additional) {
                    (Some(child_schema), _) | (None, Some(child_schema)) => {
                        check(child_schema, child, &child_path, causes);
                    }
                    _ => {}
                }
            }
            drop_nulls(schema, map);
            required(schema, map, path, causes);
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    check(item_schema, item, &format!("{path}[{i}]"), causes);
                }
            }
        }
        _ => {}
    }
}

/// Numeric bounds, string lengths and patterns, item counts.
fn bounds(schema: &Value, value: &Value, path: &str, causes: &mut Vec<Cause>) {
    let number = |key: &str| schema.get(key).and_then(Value::as_f64);
    let flag = |key: &str| schema[key] == Value::Bool(true);
    match value {
        Value::Number(n) => {
            let n = n.as_f64().unwrap_or(0.0);
            if let Some(min) = number("minimum") {
                let (fails, words) = if flag("exclusiveMinimum") {
                    (n <= min, "greater than")
                } else {
                    (n < min, "greater than or equal to")
                };
                if fails {
                    causes.push(invalid(
                        path,
                        value,
                        format!("{path} in body should be {words} {}", show(min)),
                    ));
                }
            }
            if let Some(max) = number("maximum") {
                let (fails, words) = if flag("exclusiveMaximum") {
                    (n >= max, "less than")
                } else {
                    (n > max, "less than or equal to")
                };
                if fails {
                    causes.push(invalid(
                        path,
                        value,
                        format!("{path} in body should be {words} {}", show(max)),
                    ));
                }
            }
        }
        Value::String(text) => {
            let length = text.chars().count() as f64;
            if let Some(max) = number("maxLength")
                && length > max
            {
                causes.push((
                    path.to_owned(),
                    "FieldValueTooLong".to_owned(),
                    format!("Too long: may not be more than {} bytes", show(max)),
                ));
            }
            if let Some(min) = number("minLength")
                && length < min
            {
                causes.push(invalid(
                    path,
                    value,
                    format!("{path} in body should be at least {} chars long", show(min)),
                ));
            }
            if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
                && let Ok(re) = regex::Regex::new(pattern)
                && !re.is_match(text)
            {
                causes.push(invalid(
                    path,
                    value,
                    format!("{path} in body should match '{pattern}'"),
                ));
            }
        }
        Value::Array(items) => {
            let count = items.len() as f64;
            if let Some(max) = number("maxItems")
                && count > max
            {
                causes.push((
                    path.to_owned(),
                    "FieldValueTooMany".to_owned(),
                    format!(
                        "Too many: {}: must have at most {} items",
                        items.len(),
                        show(max)
                    ),
                ));
            }
            if let Some(min) = number("minItems")
                && count < min
            {
                causes.push(invalid(
                    path,
                    value,
                    format!("{path} in body should have at least {} items", show(min)),
                ));
            }
        }
        _ => {}
    }
}

/// A bound as the validator prints it: `3`, not `3.0`.
fn show(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn failures_are_worded_as_the_api_server_words_them() {
        let schema = json!({"type": "object", "required": ["spec"], "properties": {
            "spec": {"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "mode": {"type": "string", "enum": ["fast", "slow"]},
                "port": {"x-kubernetes-int-or-string": true},
                "tags": {"type": "array", "maxItems": 1, "items": {"type": "string"}},
                "note": {"type": "string"},
            }},
        }});
        let mut object = json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": 0, "mode": "warp", "port": true, "tags": ["a", 2], "note": null}});
        let causes = validate(&schema, &mut object);
        let shown: Vec<String> = causes
            .iter()
            .map(|(field, reason, message)| format!("{reason} {field}: {message}"))
            .collect();
        assert_eq!(
            shown,
            [
                "FieldValueInvalid spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1",
                "FieldValueNotSupported spec.mode: Unsupported value: \"warp\": supported values: \"fast\", \"slow\"",
                "FieldValueInvalid spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\"",
                "FieldValueTooMany spec.tags: Too many: 2: must have at most 1 items",
                "FieldValueInvalid spec.tags[1]: Invalid value: \"integer\": spec.tags[1] in body must be of type string: \"integer\"",
                "FieldValueRequired spec.name: Required value",
            ]
        );
        // The null went, as the API server drops it.
        assert!(object["spec"].get("note").is_none());

        let mut good = json!({"spec": {"name": "abc", "size": 3, "port": "http"}});
        assert!(validate(&schema, &mut good).is_empty());
        let mut long = json!({"spec": {"name": "Abcdef"}});
        let causes = validate(&schema, &mut long);
        assert_eq!(causes.len(), 2, "{causes:?}");
        assert_eq!(causes[0].2, "Too long: may not be more than 5 bytes");
        assert_eq!(
            causes[1].2,
            "Invalid value: \"Abcdef\": spec.name in body should match '^[a-z]+$'"
        );
    }
}
