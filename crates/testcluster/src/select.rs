//! Label and field selectors, as list and watch requests give them.

use serde_json::Value;

use crate::status::ApiError;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A label selector: `app=web,tier!=db,env in (prod,staging),!legacy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    pub(crate) fn parse(text: &str) -> Result<LabelSelector, ApiError> {
        let bad = |why: &str| ApiError::bad_request(format!("unable to parse requirement: {why}"));
        let mut requirements = Vec::new();
        for part in split_outside_parens(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let words: Vec<&str> = part.split_whitespace().collect();
            let requirement = if let Some(key) = part.strip_prefix('!') {
                Requirement::NotExists(key.trim().to_owned())
            } else if words.len() >= 2 && (words[1] == "in" || words[1] == "notin") {
                let open = part.find('(').ok_or_else(|| bad(part))?;
                let close = part.rfind(')').ok_or_else(|| bad(part))?;
                let values: Vec<String> = part[open + 1..close]
                    .split(',')
                    .map(|v| v.trim().to_owned())
                    .collect();
                let key = words[0].to_owned();
                if words[1] == "in" {
                    Requirement::In(key, values)
                } else {
                    Requirement::NotIn(key, values)
                }
            } else if let Some((key, value)) = part.split_once("!=") {
                Requirement::NotIn(key.trim().to_owned(), vec![value.trim().to_owned()])
            } else if let Some((key, value)) = part.split_once("==") {
                Requirement::In(key.trim().to_owned(), vec![value.trim().to_owned()])
            } else if let Some((key, value)) = part.split_once('=') {
                Requirement::In(key.trim().to_owned(), vec![value.trim().to_owned()])
            } else if words.len() == 1 {
                Requirement::Exists(part.to_owned())
            } else {
                return Err(bad(part));
            };
            requirements.push(requirement);
        }
        Ok(LabelSelector(requirements))
    }

    /// Whether `object`'s labels satisfy every requirement.
    pub(crate) fn matches(&self, object: &Value) -> bool {
        let label = |key: &str| {
            object
                .pointer("/metadata/labels")
                .and_then(|l| l.get(key))
                .and_then(Value::as_str)
        };
        self.0.iter().all(|requirement| match requirement {
            Requirement::Exists(key) => label(key).is_some(),
            Requirement::NotExists(key) => label(key).is_none(),
            Requirement::In(key, values) => {
                label(key).is_some_and(|v| values.iter().any(|w| w == v))
            }
            Requirement::NotIn(key, values) => {
                label(key).is_none_or(|v| values.iter().all(|w| w != v))
            }
        })
    }
}

/// Splits at commas that are not inside parentheses.
fn split_outside_parens(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
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

/// A field selector: `metadata.name=web,status.phase!=Running`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldSelector(Vec<(String, bool, String)>);

/// The fields every kind can be selected by, and those some kinds add.
fn selectable(kind: &str, field: &str) -> bool {
    if matches!(field, "metadata.name" | "metadata.namespace") {
        return true;
    }
    match kind {
        "Pod" => matches!(
            field,
            "spec.nodeName"
                | "spec.restartPolicy"
                | "spec.schedulerName"
                | "spec.serviceAccountName"
                | "spec.hostNetwork"
                | "status.phase"
                | "status.podIP"
                | "status.nominatedNodeName"
        ),
        "Secret" => field == "type",
        "Namespace" => field == "status.phase",
        "Job" => field == "status.successful",
        "Event" => {
            field.starts_with("involvedObject.")
                || matches!(field, "reason" | "reportingComponent" | "source" | "type")
        }
        _ => false,
    }
}

impl FieldSelector {
    pub(crate) fn parse(text: &str, kind: &str) -> Result<FieldSelector, ApiError> {
        let mut terms = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{text}'; can't understand '{part}'"
                )));
            };
            let field = field.trim();
            if !selectable(kind, field) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            terms.push((field.to_owned(), equal, value.trim().to_owned()));
        }
        Ok(FieldSelector(terms))
    }

    /// Whether `object` has every selected field as asked.
    pub(crate) fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(field, equal, value)| {
            let pointer = format!("/{}", field.replace('.', "/"));
            let actual = match object.pointer(&pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (actual == *value) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selectors_match_as_kubernetes_does() {
        let object = json!({"metadata": {"labels": {"app": "web", "env": "prod"}}});
        for (selector, expected) in [
            ("app=web", true),
            ("app==web,env=prod", true),
            ("app!=web", false),
            ("tier!=db", true),
            ("env in (prod, staging)", true),
            ("env notin (prod)", false),
            ("app", true),
            ("!app", false),
            ("!tier", true),
            ("", true),
        ] {
            let parsed = LabelSelector::parse(selector).expect("parses");
            assert_eq!(parsed.matches(&object), expected, "{selector}");
        }
    }

    #[test]
    fn field_selectors_know_their_fields() {
        let pod =
            json!({"metadata": {"name": "web", "namespace": "a"}, "status": {"phase": "Running"}});
        let selector =
            FieldSelector::parse("metadata.name=web,status.phase!=Pending", "Pod").expect("parses");
        assert!(selector.matches(&pod));
        let error = FieldSelector::parse("spec.replicas=1", "Deployment").expect_err("refused");
        assert_eq!(error.message, "field label not supported: spec.replicas");
    }
}
