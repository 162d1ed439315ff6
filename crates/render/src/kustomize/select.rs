//! Target selectors of patches and replacements: group, version, kind, name and namespace as
//! anchored regular expressions, and label and annotation selectors.

use regex::Regex;
use serde_json::{Map, Value};

use super::resource::Resource;
use super::types::Selector;

/// A compiled [`Selector`].
#[derive(Debug)]
pub(crate) struct Selection {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Option<LabelSelector>,
    annotations: Option<LabelSelector>,
}

impl Selection {
    pub(crate) fn new(selector: &Selector) -> Result<Selection, String> {
        let anchored = |field: &str, pattern: &Option<String>| -> Result<Option<Regex>, String> {
            match pattern.as_deref() {
                None | Some("") => Ok(None),
                Some(pattern) => Regex::new(&format!("^(?:{pattern})$"))
                    .map(Some)
                    .map_err(|e| {
                        format!("target {field} {pattern:?} is not a regular expression: {e}")
                    }),
            }
        };
        Ok(Selection {
            group: anchored("group", &selector.group)?,
            version: anchored("version", &selector.version)?,
            kind: anchored("kind", &selector.kind)?,
            name: anchored("name", &selector.name)?,
            namespace: anchored("namespace", &selector.namespace)?,
            labels: selector
                .label_selector
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(LabelSelector::parse)
                .transpose()?,
            annotations: selector
                .annotation_selector
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(LabelSelector::parse)
                .transpose()?,
        })
    }

    /// Whether `resource` (by its current id, or any earlier name) is selected.
    pub(crate) fn matches(&self, resource: &Resource) -> bool {
        let id = resource.id();
        let fits =
            |re: &Option<Regex>, value: &str| re.as_ref().is_none_or(|re| re.is_match(value));
        let names_fit = self.name.as_ref().is_none_or(|re| {
            re.is_match(&id.name) || resource.previous.iter().any(|p| re.is_match(&p.name))
        });
        fits(&self.group, &id.group)
            && fits(&self.version, &id.version)
            && fits(&self.kind, &id.kind)
            && names_fit
            && fits(&self.namespace, &id.namespace)
            && self
                .labels
                .as_ref()
                .is_none_or(|s| s.matches(&resource.labels()))
            && self
                .annotations
                .as_ref()
                .is_none_or(|s| s.matches(&resource.annotations()))
    }
}

/// A Kubernetes label selector in its string form: `a=b,c!=d,e in (x,y),f notin (z),g,!h`.
#[derive(Debug)]
pub(crate) struct LabelSelector {
    requirements: Vec<Requirement>,
}

#[derive(Debug)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

impl LabelSelector {
    pub(crate) fn parse(text: &str) -> Result<LabelSelector, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let bad = || format!("invalid selector {text:?}: cannot parse {part:?}");
            let requirement = if let Some(rest) = part.strip_prefix('!') {
                Requirement::NotExists(rest.trim().to_owned())
            } else if let Some((key, values)) = split_set(part, " notin ") {
                Requirement::NotIn(key, values.ok_or_else(bad)?)
            } else if let Some((key, values)) = split_set(part, " in ") {
                Requirement::In(key, values.ok_or_else(bad)?)
            } else if let Some((key, value)) = part.split_once("!=") {
                Requirement::NotEquals(key.trim().to_owned(), value.trim().to_owned())
            } else if let Some((key, value)) = part.split_once("==") {
                Requirement::Equals(key.trim().to_owned(), value.trim().to_owned())
            } else if let Some((key, value)) = part.split_once('=') {
                Requirement::Equals(key.trim().to_owned(), value.trim().to_owned())
            } else {
                Requirement::Exists(part.to_owned())
            };
            requirements.push(requirement);
        }
        Ok(LabelSelector { requirements })
    }

    pub(crate) fn matches(&self, labels: &Map<String, Value>) -> bool {
        let get = |key: &str| labels.get(key).and_then(Value::as_str);
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::NotExists(k) => !labels.contains_key(k),
        })
    }
}

/// Splits at commas outside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// `key in (a, b)` → (`key`, [`a`, `b`]); `None` values when the parentheses are missing.
fn split_set(part: &str, operator: &str) -> Option<(String, Option<Vec<String>>)> {
    let (key, rest) = part.split_once(operator)?;
    let values = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .map(|inner| {
            inner
                .split(',')
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .collect()
        });
    Some((key.trim().to_owned(), values))
}
