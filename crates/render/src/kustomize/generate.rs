//! ConfigMap and Secret generators, and kustomize's content hash for their names.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::types::{GeneratorArgs, GeneratorOptions};

/// What a generator reads from the tree: the file at a path relative to the kustomization.
pub(crate) type ReadFile<'a> = dyn FnMut(&str) -> Result<Vec<u8>, String> + 'a;

/// The object a `configMapGenerator` (`secret == false`) or `secretGenerator` entry makes,
/// with the options that apply to it.
pub(crate) fn generate(
    args: &GeneratorArgs,
    global: Option<&GeneratorOptions>,
    secret: bool,
    read: &mut ReadFile<'_>,
) -> Result<(Value, bool), String> {
    let name = args
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or("a configmap must have a name")?;
    let mut data: BTreeMap<String, String> = BTreeMap::new();
    let mut binary: BTreeMap<String, String> = BTreeMap::new();
    let mut add = |key: String, bytes: Vec<u8>, data: &mut BTreeMap<String, String>| {
        if data.contains_key(&key) || binary.contains_key(&key) {
            return Err(format!(
                "{} {name} illegally repeats the key `{key}`",
                if secret { "secret" } else { "configmap" }
            ));
        }
        match String::from_utf8(bytes) {
            Ok(text) if !secret => {
                data.insert(key, text);
            }
            Ok(text) => {
                data.insert(key, wrapped_base64(text.as_bytes()));
            }
            Err(e) if secret => {
                data.insert(key, wrapped_base64(e.as_bytes()));
            }
            Err(e) => {
                binary.insert(key, converge_core::base64(e.as_bytes()));
            }
        }
        Ok(())
    };
    let env_files = args.envs.iter().chain(args.env.iter());
    for file in env_files {
        let bytes = read(file)?;
        let text = String::from_utf8(bytes).map_err(|_| format!("{file}: not UTF-8 text"))?;
        for (key, value) in parse_env(&text, file)? {
            add(key, value.into_bytes(), &mut data)?;
        }
    }
    for literal in &args.literals {
        let (key, value) = literal
            .split_once('=')
            .filter(|(key, _)| !key.is_empty())
            .ok_or_else(|| format!("invalid literal source {literal}, expected key=value"))?;
        add(
            key.to_owned(),
            unquote(value).as_bytes().to_vec(),
            &mut data,
        )?;
    }
    for file in &args.files {
        let (key, path) = match file.split_once('=') {
            Some((_, path)) if path.contains('=') => {
                return Err(format!(
                    "source \"{file}\" key name or file path contains '='"
                ));
            }
            Some(("", path)) => {
                return Err(format!(
                    "missing key name for file path \"{path}\" in source \"{file}\""
                ));
            }
            Some((key, "")) => {
                return Err(format!(
                    "missing file path for key name \"{key}\" in source \"{file}\""
                ));
            }
            Some((key, path)) => (key.to_owned(), path),
            None => (
                file.rsplit('/').next().unwrap_or(file).to_owned(),
                file.as_str(),
            ),
        };
        let bytes = read(path)?;
        add(key, bytes, &mut data)?;
    }

    let options = merged_options(global, args.options.as_ref());
    let mut metadata = Map::new();
    metadata.insert("name".to_owned(), json!(name));
    if let Some(namespace) = args.namespace.as_ref().filter(|n| !n.is_empty()) {
        metadata.insert("namespace".to_owned(), json!(namespace));
    }
    if let Some(labels) = options.labels.as_ref().filter(|l| !l.is_empty()) {
        metadata.insert("labels".to_owned(), json!(labels));
    }
    if let Some(annotations) = options.annotations.as_ref().filter(|a| !a.is_empty()) {
        metadata.insert("annotations".to_owned(), json!(annotations));
    }
    let mut object = Map::new();
    object.insert("apiVersion".to_owned(), json!("v1"));
    object.insert(
        "kind".to_owned(),
        json!(if secret { "Secret" } else { "ConfigMap" }),
    );
    object.insert("metadata".to_owned(), Value::Object(metadata));
    if secret {
        object.insert(
            "type".to_owned(),
            json!(args.kind.clone().unwrap_or_else(|| "Opaque".to_owned())),
        );
    }
    if !data.is_empty() {
        object.insert("data".to_owned(), json!(data));
    }
    if !binary.is_empty() {
        object.insert("binaryData".to_owned(), json!(binary));
    }
    if options.immutable == Some(true) {
        object.insert("immutable".to_owned(), json!(true));
    }
    let hash = options.disable_name_suffix_hash != Some(true);
    Ok((Value::Object(object), hash))
}

/// Base64 as kustomize writes Secret data: 70 characters a line (each line ending in a
/// newline) once it is that long.
fn wrapped_base64(bytes: &[u8]) -> String {
    let encoded = converge_core::base64(bytes);
    if encoded.len() < 70 {
        return encoded;
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 70 + 1);
    for chunk in encoded.as_bytes().chunks(70) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// The entry's options over the kustomization's `generatorOptions`: labels and annotations
/// merged, flags from the entry when it sets them.
fn merged_options(
    global: Option<&GeneratorOptions>,
    local: Option<&GeneratorOptions>,
) -> GeneratorOptions {
    let mut out = local.cloned().unwrap_or_default();
    if let Some(global) = global {
        for (mine, theirs) in [
            (&mut out.labels, &global.labels),
            (&mut out.annotations, &global.annotations),
        ] {
            if let Some(theirs) = theirs {
                let map = mine.get_or_insert_with(BTreeMap::new);
                for (k, v) in theirs {
                    map.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
        if global.disable_name_suffix_hash == Some(true) {
            out.disable_name_suffix_hash = Some(true);
        }
        if global.immutable == Some(true) {
            out.immutable = Some(true);
        }
    }
    out
}

/// A literal's value without one pair of surrounding quotes.
fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(quote) && value.ends_with(quote) {
            return &value[1..value.len() - 1];
        }
    }
    value
}

/// The `KEY=VALUE` lines of an env file; blank lines and `#` comments are skipped.
fn parse_env(text: &str, file: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_start_matches('\u{feff}');
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match trimmed.split_once('=') {
            Some((key, value)) => {
                if key.trim().is_empty() || key.contains(char::is_whitespace) {
                    return Err(format!(
                        "{file}:{}: {key:?} is not a valid key name",
                        number + 1
                    ));
                }
                pairs.push((key.to_owned(), value.to_owned()));
            }
            None => {
                // A bare name takes its value from the environment in kubectl; kustomize
                // builds must not depend on it: an empty value.
                pairs.push((trimmed.trim_end().to_owned(), String::new()));
            }
        }
    }
    Ok(pairs)
}

/// kustomize's name suffix for a generated ConfigMap or Secret: ten characters derived from
/// the SHA-256 of a JSON encoding of its kind, name and content.
pub(crate) fn content_hash(object: &Value) -> String {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // kustomize's hasher finds no name on the objects it hashes: it is always empty.
    let name = "";
    let data = object.get("data").cloned().unwrap_or_else(|| json!(""));
    let mut fields = Map::new();
    fields.insert("kind".to_owned(), json!(kind));
    fields.insert("name".to_owned(), json!(name));
    fields.insert("data".to_owned(), data);
    match kind {
        "ConfigMap" => {
            if let Some(binary @ Value::Object(_)) = object.get("binaryData") {
                fields.insert("binaryData".to_owned(), binary.clone());
            }
        }
        "Secret" => {
            fields.insert(
                "type".to_owned(),
                json!(
                    object
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                ),
            );
            if let Some(string_data @ Value::Object(_)) = object.get("stringData") {
                fields.insert("stringData".to_owned(), string_data.clone());
            }
        }
        _ => return encode_hash(&go_json(object)),
    }
    encode_hash(&go_json(&Value::Object(fields)))
}

fn encode_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex.chars()
        .take(10)
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

/// Compact JSON as Go's `encoding/json` writes it: map keys sorted, `<`, `>` and `&` escaped.
pub(crate) fn go_json(value: &Value) -> String {
    let mut out = String::new();
    write_go_json(value, &mut out);
    out
}

fn write_go_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_go_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(key, out);
                out.push(':');
                write_go_json(&map[key.as_str()], out);
            }
            out.push('}');
        }
    }
}

fn write_go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}
