//! Label selectors in their string form, as `kubectl -l`, list requests and kustomize's
//! `labelSelector` write them.

use serde_json::{Map, Value};

use crate::Error;

/// A Kubernetes label selector: `a=b,c!=d,e in (x,y),f notin (z),g,!h`.
///
/// ```
/// use converge_core::LabelSelector;
/// use serde_json::json;
///
/// let selector = LabelSelector::parse("app=web,env in (prod, staging),!legacy")?;
/// let labels = json!({"app": "web", "env": "prod"});
/// assert!(selector.matches(labels.as_object().expect("a map")));
/// assert!(LabelSelector::parse("env in prod").is_err());
/// # Ok::<(), converge_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

impl LabelSelector {
    /// Parses a selector; the empty selector selects everything.
    ///
    /// # Errors
    /// [`Error::InvalidSelector`] naming the requirement that cannot be read.
    pub fn parse(text: &str) -> Result<LabelSelector, Error> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let bad = || Error::InvalidSelector {
                selector: text.to_owned(),
                reason: format!("cannot parse {part:?}"),
            };
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
            } else if part.contains(char::is_whitespace) {
                return Err(bad());
            } else {
                Requirement::Exists(part.to_owned())
            };
            requirements.push(requirement);
        }
        Ok(LabelSelector { requirements })
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
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
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_match_as_kubernetes_does() {
        let labels = json!({"app": "web", "env": "prod"});
        let labels = labels.as_object().expect("map");
        for (selector, expected) in [
            ("app=web", true),
            ("app==web,env=prod", true),
            ("app!=web", false),
            ("tier!=db", true),
            ("env in (prod, staging)", true),
            ("env notin (prod)", false),
            ("tier notin (db)", true),
            ("app", true),
            ("!app", false),
            ("!tier", true),
            ("", true),
        ] {
            let parsed = LabelSelector::parse(selector).expect("parses");
            assert_eq!(parsed.matches(labels), expected, "{selector}");
        }
        assert!(LabelSelector::parse("a in b").is_err());
        assert!(LabelSelector::parse("a b").is_err());
    }
}
