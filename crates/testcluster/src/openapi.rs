//! `/openapi/v3`: the OpenAPI documents of every served group version, as kube-apiserver
//! publishes them — paths with their operations and parameters (kubectl reads
//! `fieldValidation` there to know the server validates fields itself), and the component
//! schemas of the kinds with everything they refer to (what `kubectl explain` reads). Built-in
//! schemas are Kubernetes 1.35's (`data/openapi-1.35.json`, see `tools/gen-openapi`); a
//! custom kind's come from its definition.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::kinds::Kind;

/// The Kubernetes 1.35 component schemas, by definition name.
static SCHEMAS: LazyLock<Map<String, Value>> = LazyLock::new(|| {
    let document: Value =
        serde_json::from_str(include_str!("../data/openapi-1.35.json")).unwrap_or(Value::Null);
    match document.get("schemas") {
        Some(Value::Object(schemas)) => schemas.clone(),
        _ => Map::new(),
    }
});

/// The built-in definition of each group/version/kind.
static KIND_SCHEMAS: LazyLock<BTreeMap<(String, String, String), String>> = LazyLock::new(|| {
    let mut kinds = BTreeMap::new();
    for (name, schema) in SCHEMAS.iter() {
        for gvk in schema
            .get("x-kubernetes-group-version-kind")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let text = |field: &str| gvk[field].as_str().unwrap_or_default().to_owned();
            kinds.insert((text("group"), text("version"), text("kind")), name.clone());
        }
    }
    kinds
});

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// The path of a group version's document: `api/v1`, `apis/apps/v1`.
fn relative(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `GET /openapi/v3`: where each group version's document is, with a hash that changes when
/// the document does.
pub(crate) fn root(kinds: &[Kind], crd: &dyn Fn(&Kind) -> Option<Value>) -> Value {
    let mut versions: BTreeMap<String, Vec<&Kind>> = BTreeMap::new();
    for kind in kinds {
        versions
            .entry(relative(&kind.group, &kind.version))
            .or_default()
            .push(kind);
    }
    let mut paths = Map::new();
    for (path, kinds) in versions {
        let mut hasher = Sha256::new();
        for kind in kinds {
            hasher.update(format!("{kind:?}"));
            if let Some(schema) = crd(kind) {
                hasher.update(schema.to_string());
            }
        }
        let hash: String = hasher
            .finalize()
            .iter()
            .take(16)
            .map(|b| format!("{b:02X}"))
            .collect();
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}),
        );
    }
    json!({"paths": paths})
}

/// `GET /openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>`, or `None` when nothing
/// is served there. `crd` gives a custom kind's schema (its definition's `openAPIV3Schema`).
pub(crate) fn document(
    kinds: &[Kind],
    group: &str,
    version: &str,
    crd: &dyn Fn(&Kind) -> Option<Value>,
) -> Option<Value> {
    let served: Vec<&Kind> = kinds
        .iter()
        .filter(|k| k.group == group && k.version == version)
        .collect();
    if served.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    for kind in &served {
        let key = (kind.group.clone(), kind.version.clone(), kind.kind.clone());
        let name = match KIND_SCHEMAS.get(&key) {
            Some(name) => {
                wanted.insert(name.clone());
                name.clone()
            }
            None => {
                let name = custom_name(kind);
                schemas.insert(name.clone(), custom_schema(kind, crd(kind)));
                wanted.insert(OBJECT_META.to_owned());
                name
            }
        };
        operations(kind, &name, &mut paths);
    }
    // Everything the kinds refer to, so that the document stands alone.
    let mut queue: Vec<String> = wanted.iter().cloned().collect();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    while let Some(name) = queue.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(schema) = SCHEMAS.get(&name) else {
            continue;
        };
        let mut refs = Vec::new();
        references(schema, &mut refs);
        queue.extend(refs.into_iter().filter(|r| !seen.contains(r)));
        schemas.insert(name, schema.clone());
    }
    let mut sorted: Vec<(String, Value)> = schemas.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.35.0"},
        "paths": paths,
        "components": {"schemas": Map::from_iter(sorted)},
    }))
}

/// The definitions `schema` refers to (`#/components/schemas/<name>`).
fn references(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "$ref"
                    && let Some(name) = value
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/components/schemas/"))
                {
                    out.push(name.to_owned());
                } else {
                    references(value, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, out)),
        _ => {}
    }
}

/// A custom kind's definition name, as kube-apiserver names it: `com.example.v1.Widget`.
fn custom_name(kind: &Kind) -> String {
    let reversed: Vec<&str> = kind.group.split('.').rev().collect();
    format!("{}.{}.{}", reversed.join("."), kind.version, kind.kind)
}

/// A custom kind's schema: its definition's, with `apiVersion`, `kind` and `metadata`
/// described as the API server describes them, and its group/version/kind.
fn custom_schema(kind: &Kind, schema: Option<Value>) -> Value {
    let mut schema = match schema {
        Some(Value::Object(map)) => Value::Object(map),
        _ => json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
    };
    let builtin = |field: &str| {
        SCHEMAS
            .get("io.k8s.apimachinery.pkg.apis.meta.v1.PartialObjectMetadata")
            .and_then(|s| s.pointer(&format!("/properties/{field}")))
            .cloned()
            .unwrap_or_else(|| json!({"type": "string"}))
    };
    if let Some(properties) = schema
        .as_object_mut()
        .map(|m| m.entry("properties").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
    {
        properties.insert("apiVersion".to_owned(), builtin("apiVersion"));
        properties.insert("kind".to_owned(), builtin("kind"));
        properties.insert(
            "metadata".to_owned(),
            json!({"allOf": [{"$ref": format!("#/components/schemas/{OBJECT_META}")}],
                "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}),
        );
    }
    schema["x-kubernetes-group-version-kind"] =
        json!([{"group": kind.group, "version": kind.version, "kind": kind.kind}]);
    schema
}

/// A query parameter of the API, as the documents declare it.
fn parameter(name: &str, description: &str, ty: &str) -> Value {
    json!({"name": name, "in": "query", "description": description,
        "schema": {"type": ty, "uniqueItems": true}})
}

fn write_parameters(apply: bool) -> Vec<Value> {
    let mut parameters = vec![
        parameter(
            "dryRun",
            "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed",
            "string",
        ),
        parameter(
            "fieldManager",
            "fieldManager is a name associated with the actor or entity that is making these changes.",
            "string",
        ),
        parameter(
            "fieldValidation",
            "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: - Ignore - Warn (the default) - Strict",
            "string",
        ),
    ];
    if apply {
        parameters.push(parameter(
            "force",
            "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
            "boolean",
        ));
    }
    parameters
}

/// The operations on a kind's paths: list, create and delete the collection; get, replace,
/// patch and delete one object; and its status, when it has one.
fn operations(kind: &Kind, schema: &str, paths: &mut Map<String, Value>) {
    let gvk = json!({"group": kind.group, "version": kind.version, "kind": kind.kind});
    let base = if kind.group.is_empty() {
        format!("/api/{}", kind.version)
    } else {
        format!("/apis/{}/{}", kind.group, kind.version)
    };
    let collection = if kind.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}", kind.plural)
    } else {
        format!("{base}/{}", kind.plural)
    };
    let object =
        json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}});
    let operation = |action: &str, verb: &str, parameters: Vec<Value>, body: bool| {
        let id = format!(
            "{verb}{}{}{}",
            capitalize(&kind.group.replace('.', "")),
            capitalize(&kind.version),
            kind.kind
        );
        let mut op = json!({
            "operationId": id,
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
            "parameters": parameters,
            "responses": {"200": {"description": "OK", "content": object}},
        });
        if body {
            op["requestBody"] = json!({"content": object, "required": true});
        }
        op
    };
    let mut patch = operation("patch", "patch", write_parameters(true), false);
    patch["requestBody"] = json!({"required": true, "content": {
        "application/apply-patch+yaml": {"schema": {"type": "object"}},
        "application/json-patch+json": {"schema": {"type": "object"}},
        "application/merge-patch+json": {"schema": {"type": "object"}},
        "application/strategic-merge-patch+json": {"schema": {"type": "object"}},
    }});
    paths.insert(
        collection.clone(),
        json!({
            "get": operation("list", "list", Vec::new(), false),
            "post": operation("post", "create", write_parameters(false), true),
            "delete": operation("deletecollection", "deleteCollection", Vec::new(), false),
        }),
    );
    paths.insert(
        format!("{collection}/{{name}}"),
        json!({
            "get": operation("get", "read", Vec::new(), false),
            "put": operation("put", "replace", write_parameters(false), true),
            "patch": patch.clone(),
            "delete": operation("delete", "delete", Vec::new(), false),
        }),
    );
    if kind.status {
        paths.insert(
            format!("{collection}/{{name}}/status"),
            json!({
                "get": operation("get", "read", Vec::new(), false),
                "put": operation("put", "replace", write_parameters(false), true),
                "patch": patch,
            }),
        );
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
