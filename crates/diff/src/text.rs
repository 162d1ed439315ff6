//! Unified text diffs of objects, as `kubectl diff` prints them.

use std::fmt::Write as _;

use serde_json::{Map, Value};
use similar::{Algorithm, TextDiff};

use converge_core::ObjectRef;

use crate::{Action, Entry, Error, mask_secret_values};

/// How [`unified_diff`] labels and sizes its output.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TextDiffOptions {
    /// The directory-like label of the base side (`kubectl diff` uses `LIVE-…`).
    pub base_label: String,
    /// The label of the head side (`kubectl diff` uses `MERGED-…`).
    pub head_label: String,
    /// Lines of context around each change (3, as `diff -u`).
    pub context: usize,
}

impl Default for TextDiffOptions {
    fn default() -> Self {
        TextDiffOptions {
            base_label: "base".to_owned(),
            head_label: "head".to_owned(),
            context: 3,
        }
    }
}

impl TextDiffOptions {
    /// Sets the labels of both sides, as the revisions or states they stand for.
    pub fn with_labels(mut self, base: impl Into<String>, head: impl Into<String>) -> Self {
        self.base_label = base.into();
        self.head_label = head.into();
        self
    }

    /// Sets the lines of context around each change.
    pub fn with_context(mut self, lines: usize) -> Self {
        self.context = lines;
        self
    }
}

/// The unified diff of one entry, headed as `kubectl diff` heads each object:
///
/// ```text
/// diff -u -N base/apps.v1.Deployment.prod.web head/apps.v1.Deployment.prod.web
/// --- base/apps.v1.Deployment.prod.web
/// +++ head/apps.v1.Deployment.prod.web
/// @@ -10,7 +10,7 @@
/// ```
///
/// Both sides are written as YAML with keys sorted (as `kubectl` prints objects), so the order
/// an author wrote keys in never shows up as a change. Secret values are masked with
/// [`mask_secret_values`]. An unchanged entry gives an empty string; an added or removed one
/// diffs against nothing (`@@ -0,0 +1,12 @@`).
///
/// ```
/// use converge_core::{Manifest, Origin};
/// use converge_diff::{compare, unified_diff, TextDiffOptions};
/// use serde_json::json;
///
/// let cm = |v: &str| Manifest::new(
///     json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web", "namespace": "prod"}, "data": {"color": v}}),
///     Origin::default(),
/// );
/// let diff = compare(vec![cm("blue")?], vec![cm("green")?])?;
/// let text = unified_diff(&diff.entries[0], &TextDiffOptions::default())?;
/// assert_eq!(text, "\
/// diff -u -N base/v1.ConfigMap.prod.web head/v1.ConfigMap.prod.web
/// --- base/v1.ConfigMap.prod.web
/// +++ head/v1.ConfigMap.prod.web
/// @@ -1,6 +1,6 @@
///  apiVersion: v1
///  data:
/// -  color: blue
/// +  color: green
///  kind: ConfigMap
///  metadata:
///    name: web
/// ");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::Encode`] if an object cannot be written as YAML.
pub fn unified_diff(entry: &Entry, options: &TextDiffOptions) -> Result<String, Error> {
    if entry.action == Action::Unchanged {
        return Ok(String::new());
    }
    let mut base = entry.base.as_ref().map(|m| sorted_keys(m.object()));
    let mut head = entry.head.as_ref().map(|m| sorted_keys(m.object()));
    mask_secret_values(base.as_mut(), head.as_mut());
    let encode = |value: Option<Value>| -> Result<String, Error> {
        value.map_or(Ok(String::new()), |v| {
            converge_core::to_yaml(&v).map_err(|source| Error::Encode {
                id: entry.id.to_string(),
                source,
            })
        })
    };
    let (old, new) = (encode(base)?, encode(head)?);
    Ok(unified_text(&entry.id, &old, &new, options))
}

/// The unified diff of two objects already prepared for display (keys sorted, secrets masked).
pub(crate) fn unified(
    id: &ObjectRef,
    old: &Value,
    new: &Value,
    options: &TextDiffOptions,
) -> Result<String, Error> {
    let encode = |value: &Value| {
        converge_core::to_yaml(value).map_err(|source| Error::Encode {
            id: id.to_string(),
            source,
        })
    };
    Ok(unified_text(id, &encode(old)?, &encode(new)?, options))
}

fn unified_text(id: &ObjectRef, old: &str, new: &str, options: &TextDiffOptions) -> String {
    let name = id.file_name();
    let old_name = format!("{}/{name}", options.base_label);
    let new_name = format!("{}/{name}", options.head_label);
    let mut out = format!("diff -u -N {old_name} {new_name}\n");
    let diff = TextDiff::configure()
        .algorithm(Algorithm::Histogram)
        .diff_lines(old, new);
    let _ = write!(
        out,
        "{}",
        diff.unified_diff()
            .context_radius(options.context)
            .header(&old_name, &new_name)
    );
    out
}

/// A copy of `value` with the keys of every mapping sorted, as `kubectl` prints objects.
///
/// ```
/// let v = serde_json::json!({"b": 1, "a": {"d": 2, "c": 3}});
/// assert_eq!(converge_diff::sorted_keys(&v).to_string(), r#"{"a":{"c":3,"d":2},"b":1}"#);
/// ```
pub fn sorted_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut sorted = Map::with_capacity(map.len());
            for key in keys {
                sorted.insert(key.clone(), sorted_keys(&map[key]));
            }
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted_keys).collect()),
        other => other.clone(),
    }
}

/// Colours a unified diff for a terminal: removed lines red, added lines green, hunk headers
/// cyan, file headers bold. Use it only when output goes to a terminal.
///
/// ```
/// let coloured = converge_diff::colorize("--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n");
/// assert!(coloured.contains("\u{1b}[31m-x\u{1b}[0m"));
/// ```
pub fn colorize(unified: &str) -> String {
    let mut out = String::with_capacity(unified.len() + unified.len() / 4);
    for line in unified.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        let style =
            if body.starts_with("diff ") || body.starts_with("--- ") || body.starts_with("+++ ") {
                "\u{1b}[1m"
            } else if body.starts_with("@@") {
                "\u{1b}[36m"
            } else if body.starts_with('-') {
                "\u{1b}[31m"
            } else if body.starts_with('+') {
                "\u{1b}[32m"
            } else {
                ""
            };
        if style.is_empty() {
            out.push_str(line);
        } else {
            out.push_str(style);
            out.push_str(body);
            out.push_str("\u{1b}[0m");
            out.push_str(newline);
        }
    }
    out
}
