//! Label and field selectors, as list and watch requests give them.

use serde_json::Value;

use crate::status::ApiError;

/// A label selector, as list requests give one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LabelSelector(converge_core::LabelSelector);

impl LabelSelector {
    pub(crate) fn parse(text: &str) -> Result<LabelSelector, ApiError> {
        converge_core::LabelSelector::parse(text)
            .map(LabelSelector)
            .map_err(|e| ApiError::bad_request(e.to_string()))
    }

    /// Whether `object`'s labels satisfy the selector.
    pub(crate) fn matches(&self, object: &Value) -> bool {
        let empty = serde_json::Map::new();
        let labels = object
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        self.0.matches(labels)
    }
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
    fn label_selectors_read_the_object_labels() {
        let object = json!({"metadata": {"labels": {"app": "web"}}});
        assert!(
            LabelSelector::parse("app=web")
                .expect("parses")
                .matches(&object)
        );
        assert!(
            !LabelSelector::parse("app")
                .expect("parses")
                .matches(&json!({}))
        );
        let error = LabelSelector::parse("app in web").expect_err("refused");
        assert_eq!(error.code, 400);
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
