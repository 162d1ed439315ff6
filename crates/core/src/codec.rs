//! The multi-document YAML/JSON codec: the one place where manifests are parsed and written.
//!
//! JSON is parsed as JSON (several times faster than YAML), YAML with `serde-saphyr` set up the
//! way `kubectl kustomize` reads YAML (checked against it in the tests): `true`/`false` are the
//! only booleans (`yes`, `on`, `y` stay strings), `0644` and `0o644` are octal (420), `0x1F`
//! and `1_000` are numbers, merge keys are merged, duplicate keys are an error, and floats
//! without a fraction are integers (`1.0` is `1`).
//!
//! One known difference: kustomize turns an unquoted date (`2024-01-01`) into a timestamp
//! string (`"2024-01-01T00:00:00Z"`); Converge keeps the text as written.

use serde_json::Value;
use serde_saphyr::{DuplicateKeyPolicy, SerializerOptions, Spanned};

use crate::{Error, Manifest, Origin};

/// How a document was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// YAML (any number of `---`-separated documents).
    Yaml,
    /// JSON (one value, or several values one after another).
    Json,
}

/// One parsed document.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Document {
    /// The document's value.
    pub value: Value,
    /// 0-based index among the file's non-empty documents.
    pub index: usize,
    /// 1-based line where the document's content starts.
    pub line: u64,
    /// The syntax it was written in.
    pub format: Format,
}

/// Parses every non-empty document of `bytes`; `file` names errors and tells the format.
///
/// A `.json` file is read as JSON and must be JSON. Other content that starts with `{` or `[`
/// is tried as JSON first (the fast path) and read as YAML when it turns out to be YAML flow
/// style; everything else is YAML. Empty documents and documents that are only `null` are skipped, as `kubectl`
/// does.
///
/// ```
/// use converge_core::{parse_documents, Format};
///
/// let docs = parse_documents("two.yaml", b"a: 1\n---\n---\nb: yes\nmode: 0644\n")?;
/// assert_eq!(docs.len(), 2);
/// assert_eq!(docs[1].line, 4);
/// assert_eq!(docs[1].value["b"], "yes");
/// assert_eq!(docs[1].value["mode"], 420);
///
/// let json = parse_documents("one.json", br#"{"kind": "List", "items": []}"#)?;
/// assert_eq!(json[0].format, Format::Json);
///
/// let err = parse_documents("bad.yaml", b"a: 1\nb: [unclosed\n").unwrap_err();
/// assert!(err.to_string().starts_with("bad.yaml:"), "{err}");
/// # Ok::<(), converge_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::Syntax`] with the file, line and column of the first syntax error (including
/// duplicate keys and input that is not UTF-8).
pub fn parse_documents(file: &str, bytes: &[u8]) -> Result<Vec<Document>, Error> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let looks_like_json = matches!(
        bytes.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    );
    let is_json_file = file.ends_with(".json");
    if is_json_file || looks_like_json {
        match parse_json(file, bytes) {
            Ok(docs) => return Ok(docs),
            Err(err) if is_json_file => return Err(err),
            Err(_) => {} // YAML flow style such as `{a: b}`: read it as YAML below.
        }
    }
    parse_yaml(file, bytes)
}

/// Parses every document of `bytes` and checks that each is a Kubernetes object; a list
/// (`kind: List`, or any `*List` kind with an `items` list, as `kubectl get -o yaml` writes
/// them) stands for its items, as `kubectl` and `kustomize` read it. Items keep the origin of
/// their list.
///
/// ```
/// let manifests = converge_core::parse_manifests(
///     "web.yaml",
///     b"apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n",
/// )?;
/// assert_eq!(manifests[0].id().to_string(), "v1 Service web");
/// assert_eq!(manifests[0].origin().line, 1);
/// # Ok::<(), converge_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::Syntax`] as [`parse_documents`]; [`Error::NotAnObject`] naming the file, document
/// and line of the first document (or list item) that is not a Kubernetes object;
/// [`Error::InvalidList`] for a list whose `items` is not a list, or holds another list.
pub fn parse_manifests(file: &str, bytes: &[u8]) -> Result<Vec<Manifest>, Error> {
    let mut manifests = Vec::new();
    let mut item_lines: Option<Vec<Vec<u64>>> = None;
    for doc in parse_documents(file, bytes)? {
        let origin = Origin::new(file, doc.index, doc.line);
        let format = doc.format;
        match list_items(doc.value, &origin)? {
            Ok(object) => manifests.push(Manifest::new(object, origin)?),
            Err(items) => {
                // Each item is known by its own line, so errors and duplicates point at it.
                let lines = match format {
                    Format::Yaml => item_lines
                        .get_or_insert_with(|| list_item_lines(bytes))
                        .get(doc.index)
                        .cloned()
                        .unwrap_or_default(),
                    Format::Json => Vec::new(),
                };
                for (i, item) in items.into_iter().enumerate() {
                    let line = lines.get(i).copied().unwrap_or(origin.line);
                    manifests.push(Manifest::new(item, Origin::new(file, doc.index, line))?);
                }
            }
        }
    }
    Ok(manifests)
}

/// For every non-empty YAML document of `bytes`, the lines its `items` start on (empty for
/// documents without a list of items). Only called for files that hold a list, which are
/// already known to parse.
fn list_item_lines(bytes: &[u8]) -> Vec<Vec<u64>> {
    let Ok(text) = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)) else {
        return Vec::new();
    };
    serde_saphyr::from_multiple_with_options::<ItemLines>(text, yaml_options())
        .map(|docs| docs.into_iter().map(|d| d.0).collect())
        .unwrap_or_default()
}

/// The lines of a document's `items`, read without building the items.
struct ItemLines(Vec<u64>);

impl<'de> serde::Deserialize<'de> for ItemLines {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, Visitor};

        struct Lines;
        impl<'de> Visitor<'de> for Lines {
            type Value = ItemLines;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any YAML document")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ItemLines, A::Error> {
                let mut lines = Vec::new();
                while let Some(key) = map.next_key::<serde_json::Value>()? {
                    if key == "items" {
                        let items: Option<Vec<Spanned<IgnoredAny>>> = map.next_value()?;
                        lines = items
                            .unwrap_or_default()
                            .iter()
                            .map(|item| item.referenced.line())
                            .collect();
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(ItemLines(lines))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ItemLines, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ItemLines(Vec::new()))
            }
            fn visit_bool<E>(self, _: bool) -> Result<ItemLines, E> {
                Ok(ItemLines(Vec::new()))
            }
            fn visit_i64<E>(self, _: i64) -> Result<ItemLines, E> {
                Ok(ItemLines(Vec::new()))
            }
            fn visit_u64<E>(self, _: u64) -> Result<ItemLines, E> {
                Ok(ItemLines(Vec::new()))
            }
            fn visit_f64<E>(self, _: f64) -> Result<ItemLines, E> {
                Ok(ItemLines(Vec::new()))
            }
            fn visit_str<E>(self, _: &str) -> Result<ItemLines, E> {
                Ok(ItemLines(Vec::new()))
            }
            fn visit_unit<E>(self) -> Result<ItemLines, E> {
                Ok(ItemLines(Vec::new()))
            }
        }
        deserializer.deserialize_any(Lines)
    }
}

/// `Ok(Err(items))` when `value` is a list kind, `Ok(Ok(value))` when it is not.
fn list_items(value: Value, origin: &Origin) -> Result<Result<Value, Vec<Value>>, Error> {
    if !is_list(&value) {
        return Ok(Ok(value));
    }
    let invalid = |reason: &str| Error::InvalidList {
        file: origin.file.clone(),
        line: origin.line,
        reason: reason.to_owned(),
    };
    let Value::Object(mut map) = value else {
        return Err(invalid("a List must be a mapping"));
    };
    let items = match map.remove("items") {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => Vec::new(), // `items:` with nothing under it
        Some(_) => return Err(invalid("items of a List must be a list")),
    };
    if items.iter().any(is_list) {
        return Err(invalid("a List inside a List is not allowed"));
    }
    Ok(Err(items))
}

fn is_list(value: &Value) -> bool {
    value
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|kind| kind.ends_with("List"))
        && value.get("apiVersion").is_some()
        && value.get("items").is_some()
}

fn parse_json(file: &str, bytes: &[u8]) -> Result<Vec<Document>, Error> {
    let mut docs = Vec::new();
    let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<StrictJson>();
    let mut offset = 0;
    let mut line = 1;
    loop {
        let start = offset
            + bytes[offset..]
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
        let Some(next) = stream.next() else { break };
        line += count_lines(&bytes[offset..start]);
        let StrictJson(value) = next.map_err(|e| Error::Syntax {
            file: file.to_owned(),
            line: e.line() as u64,
            column: e.column() as u64,
            format: "JSON",
            message: json_message(&e),
        })?;
        offset = stream.byte_offset();
        let doc_line = line;
        line += count_lines(&bytes[start..offset]);
        if !value.is_null() {
            let mut value = value;
            integral_floats_to_integers(&mut value);
            docs.push(Document {
                value,
                index: docs.len(),
                line: doc_line,
                format: Format::Json,
            });
        }
    }
    Ok(docs)
}

/// A JSON value read like serde_json's own, except that a key repeated in one object is an
/// error, as it is in YAML and for kubectl (serde_json would keep the last one silently).
struct StrictJson(Value);

impl<'de> serde::Deserialize<'de> for StrictJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictJson)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(StrictJson(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let StrictJson(value) = map.next_value()?;
            if let Some(key) = object.insert(key.clone(), value).map(|_| key) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate key {key:?}"
                )));
            }
        }
        Ok(Value::Object(object))
    }
}

fn count_lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// serde_json's message without its trailing " at line L column C" (we report those apart).
fn json_message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

fn yaml_options() -> serde_saphyr::Options {
    yaml_options_with(DuplicateKeys::Error)
}

fn yaml_options_with(duplicates: DuplicateKeys) -> serde_saphyr::Options {
    let policy = match duplicates {
        DuplicateKeys::Error => DuplicateKeyPolicy::Error,
        DuplicateKeys::LastWins => DuplicateKeyPolicy::LastWins,
    };
    serde_saphyr::options! {
        duplicate_keys: policy,
        legacy_octal_numbers: true,
        strict_booleans: true,
        with_snippet: false,
    }
}

/// What the YAML reader does with a key written twice in one mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DuplicateKeys {
    /// A syntax error naming the key: the rule for manifests.
    Error,
    /// The later value stands, as Go's YAML-to-JSON readers (kustomize's, for one) have it.
    LastWins,
}

/// Parses every non-empty document of `bytes` as YAML, whatever `file` is called (JSON is
/// YAML too), with `duplicates` as the rule for repeated keys: for configuration files that
/// other tools read leniently, such as kustomizations and patches.
///
/// ```
/// use converge_core::{parse_yaml_documents, DuplicateKeys};
///
/// let docs = parse_yaml_documents("patch.json", b"a: 1\na: 2\n", DuplicateKeys::LastWins)?;
/// assert_eq!(docs[0].value["a"], 2);
/// assert!(parse_yaml_documents("x.yaml", b"a: 1\na: 2\n", DuplicateKeys::Error).is_err());
/// # Ok::<(), converge_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::Syntax`] with the file, line and column of the first syntax error.
pub fn parse_yaml_documents(
    file: &str,
    bytes: &[u8],
    duplicates: DuplicateKeys,
) -> Result<Vec<Document>, Error> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    parse_yaml_with(file, bytes, yaml_options_with(duplicates))
}

fn parse_yaml(file: &str, bytes: &[u8]) -> Result<Vec<Document>, Error> {
    parse_yaml_with(file, bytes, yaml_options())
}

fn parse_yaml_with(
    file: &str,
    bytes: &[u8],
    options: serde_saphyr::Options,
) -> Result<Vec<Document>, Error> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let valid = &bytes[..e.valid_up_to()];
        let line = count_lines(valid) + 1;
        let column = valid.iter().rev().take_while(|&&b| b != b'\n').count() as u64 + 1;
        Error::Syntax {
            file: file.to_owned(),
            line,
            column,
            format: "YAML",
            message: "not valid UTF-8".to_owned(),
        }
    })?;
    let docs: Vec<Spanned<Value>> = serde_saphyr::from_multiple_with_options(text, options)
        .map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            Error::Syntax {
                file: file.to_owned(),
                line,
                column,
                format: "YAML",
                message: yaml_message(&e),
            }
        })?;
    let mut docs = docs;
    if !text.ends_with('\n') && !text.trim_end().ends_with(['"', '\'', ']', '}']) {
        // A block scalar at the very end of a file without a final line break has no line
        // break to keep (YAML 1.2, 8.1.1.2): the parser adds one, which Go's YAML (and so
        // kubectl and kustomize) do not.
        if let Some(last) = docs.last_mut() {
            strip_final_break(&mut last.value);
        }
    }
    Ok(docs
        .into_iter()
        .filter(|doc| !doc.value.is_null())
        .enumerate()
        .map(|(index, mut doc)| {
            integral_floats_to_integers(&mut doc.value);
            Document {
                line: doc.referenced.line(),
                value: doc.value,
                index,
                format: Format::Yaml,
            }
        })
        .collect())
}

/// Removes one trailing line break from the last scalar of `value` (in document order).
fn strip_final_break(value: &mut Value) {
    match value {
        Value::String(text) if text.ends_with('\n') => {
            text.pop();
        }
        Value::Array(items) => {
            if let Some(last) = items.last_mut() {
                strip_final_break(last);
            }
        }
        Value::Object(map) => {
            if let Some((_, last)) = map.iter_mut().next_back() {
                strip_final_break(last);
            }
        }
        _ => {}
    }
}

/// Writes floats without a fractional part as integers (`1.0` and `1e3` become `1` and
/// `1000`), as kubectl and kustomize do: they read manifests into JSON numbers, and JSON has
/// one number type. Without this, `replicas: 1.0` in one revision and `replicas: 1` in the
/// next would be a change.
fn integral_floats_to_integers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e18
            {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_to_integers),
        Value::Object(map) => map.values_mut().for_each(integral_floats_to_integers),
        _ => {}
    }
}

/// The parser's message on one line, without the location it also reports.
fn yaml_message(err: &serde_saphyr::Error) -> String {
    let text = err.to_string();
    let first = text.lines().next().unwrap_or_default();
    let first = match first.rfind(" at line ") {
        Some(at) => &first[..at],
        None => first,
    };
    first.trim().to_owned()
}

fn yaml_writer_options() -> SerializerOptions {
    let mut options = SerializerOptions::default();
    options.indent_step = 2;
    options.compact_list_indent = true;
    options.prefer_block_scalars = true;
    // Multi-line strings become `|` blocks; long single-line strings stay on one line.
    options.folded_wrap_chars = usize::MAX;
    options
}

/// Writes one value as a YAML document (no leading `---`), keeping key order, with lists
/// indented as `kubectl` and `kustomize` print them and multi-line strings as `|` blocks.
///
/// ```
/// let v = serde_json::json!({"kind": "ConfigMap", "data": {"a": "x\ny\n", "b": "on"}, "l": [1, 2]});
/// assert_eq!(
///     converge_core::to_yaml(&v)?,
///     "kind: ConfigMap\ndata:\n  a: |\n    x\n    y\n  b: \"on\"\nl:\n- 1\n- 2\n",
/// );
/// # Ok::<(), converge_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::Encode`] when the value cannot be written (it always can for JSON values; the
/// error exists for the writer's own limits).
pub fn to_yaml(value: &Value) -> Result<String, Error> {
    serde_saphyr::to_string_with_options(value, yaml_writer_options()).map_err(|e| Error::Encode {
        what: "YAML".to_owned(),
        message: e.to_string(),
    })
}

/// Writes manifests as one multi-document YAML stream, `---` between documents, like
/// `kustomize build`.
///
/// # Errors
/// As [`to_yaml`].
pub fn to_yaml_stream<'a>(values: impl IntoIterator<Item = &'a Value>) -> Result<String, Error> {
    let mut out = String::new();
    for (i, value) in values.into_iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_yaml(value)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_block_scalar_ending_the_file_keeps_only_the_breaks_it_has() {
        let value = |text: &[u8]| {
            parse_documents("f.yaml", text).expect("parse")[0]
                .value
                .clone()
        };
        assert_eq!(value(b"a: |\n  x\n  y"), json!({"a": "x\ny"}));
        assert_eq!(value(b"a: |\n  x\n  y\n"), json!({"a": "x\ny\n"}));
        assert_eq!(value(b"a: [\"x\\n\"]"), json!({"a": ["x\n"]}));
        assert_eq!(
            value(b"b: |\n  x\na: |\n  y"),
            json!({"b": "x\n", "a": "y"}),
            "only the last scalar of the file"
        );
    }

    #[test]
    fn yaml_documents_carry_lines_and_skip_empty_ones() {
        let text = b"# leading comment\napiVersion: v1\nkind: A\n---\n# only a comment\n---\n\n\nkind: B\n...\n";
        let docs = parse_documents("m.yaml", text).expect("parse");
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[0].index, docs[0].line), (0, 2));
        assert_eq!((docs[1].index, docs[1].line), (1, 9));
        assert_eq!(docs[1].value, json!({"kind": "B"}));
    }

    #[test]
    fn yaml_scalars_read_as_kubectl_kustomize_reads_them() {
        // Each value is what `kubectl kustomize` (v1.35) prints for the same input.
        let docs = parse_documents(
            "k.yaml",
            b"a: yes
b: on
c: 0644
d: 1e3
e: 0o644
f: 1_000
g: y
h: 0x1F
i: 1.0
j: True
k: 012345678
l: .5
m: +12
n: ~
o: off
p: -0.0
q: 1.5e300
",
        )
        .expect("parse");
        assert_eq!(
            docs[0].value,
            json!({
                "a": "yes", "b": "on", "c": 420, "d": 1000, "e": 420, "f": 1000, "g": "y",
                "h": 31, "i": 1, "j": true, "k": 12_345_678, "l": 0.5, "m": 12, "n": null,
                "o": "off", "p": 0, "q": 1.5e300,
            })
        );
    }

    #[test]
    fn yaml_follows_kubectl_scalars() {
        let docs = parse_documents(
            "s.yaml",
            b"octal: 0644\nyes_: yes\noff_: off\nquoted: '0644'\nfloat: 1.5\nbig: 9007199254740993\nenum:\n- =\nempty:\ntilde: ~\n",
        )
        .expect("parse");
        let v = &docs[0].value;
        assert_eq!(v["octal"], 420);
        assert_eq!(v["yes_"], "yes");
        assert_eq!(v["off_"], "off");
        assert_eq!(v["quoted"], "0644");
        assert_eq!(v["float"], 1.5);
        assert_eq!(v["big"], 9_007_199_254_740_993_u64);
        assert_eq!(v["enum"], json!(["="]));
        assert_eq!(v["empty"], Value::Null);
        assert_eq!(v["tilde"], Value::Null);
    }

    #[test]
    fn yaml_key_order_is_kept() {
        let docs = parse_documents("o.yaml", b"z: 1\na: 2\nm: 3\n").expect("parse");
        let keys: Vec<_> = docs[0]
            .value
            .as_object()
            .expect("map")
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn yaml_errors_name_file_line_and_column() {
        let err = parse_documents("bad.yaml", b"a: 1\nb:\n  - x\n  y: z\n").expect_err("invalid");
        let Error::Syntax {
            file, line, format, ..
        } = &err
        else {
            panic!("expected a syntax error, got {err:?}")
        };
        assert_eq!((file.as_str(), *format), ("bad.yaml", "YAML"));
        assert_eq!(*line, 4, "{err}");

        let err = parse_documents("dup.yaml", b"a: 1\nb: 2\na: 3\n").expect_err("duplicate");
        assert!(matches!(err, Error::Syntax { line: 3, .. }), "{err}");

        let err = parse_documents("bin.yaml", b"a: 1\nb: \xff\n").expect_err("not utf-8");
        assert!(
            matches!(
                err,
                Error::Syntax {
                    line: 2,
                    column: 4,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn json_streams_are_parsed_as_json() {
        let text = b"\n{\"kind\": \"A\",\n \"n\": 1}\n\n{\"kind\": \"B\"}\nnull\n";
        let docs = parse_documents("s.json", text).expect("parse");
        assert_eq!(docs.len(), 2);
        assert!(docs.iter().all(|d| d.format == Format::Json));
        assert_eq!((docs[0].line, docs[1].line), (2, 5));

        let err = parse_documents(
            "dup.json",
            b"{\"metadata\": {\"name\": \"a\",\n \"name\": \"b\"}}",
        )
        .expect_err("duplicate");
        assert!(
            matches!(
                err,
                Error::Syntax {
                    line: 2,
                    format: "JSON",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("duplicate key \"name\""), "{err}");
        let err = parse_documents("dup.yaml", b"{\"a\": 1, \"a\": 2}").expect_err("duplicate");
        assert!(err.to_string().contains("dup.yaml:1:"), "{err}");

        let err = parse_documents("bad.json", b"{\n  \"a\": 1,\n  \"b\" 2\n}\n").expect_err("bad");
        assert!(
            matches!(
                err,
                Error::Syntax {
                    line: 3,
                    format: "JSON",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn flow_yaml_that_looks_like_json_falls_back_to_yaml() {
        let docs =
            parse_documents("flow.yaml", b"{kind: A, metadata: {name: a}}\n").expect("parse");
        assert_eq!(docs[0].format, Format::Yaml);
        assert_eq!(docs[0].value["metadata"]["name"], "a");
    }

    #[test]
    fn yaml_round_trips_through_the_writer() {
        let v = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "x", "labels": {}},
            "data": {"script": "#!/bin/sh\necho hi\n", "flag": "true", "n": "0644", "long": "a ".repeat(100)},
            "list": [{"name": "a", "ports": [80, 443]}, []],
        });
        let text = to_yaml(&v).expect("yaml");
        let back = parse_documents("rt.yaml", text.as_bytes()).expect("parse");
        assert_eq!(back[0].value, v, "{text}");
        let stream = to_yaml_stream([&v, &v]).expect("stream");
        assert_eq!(
            parse_documents("rt.yaml", stream.as_bytes())
                .expect("parse")
                .len(),
            2
        );
    }
}
