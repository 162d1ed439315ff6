//! Kubernetes `Status` objects: how the API server reports failures.

use serde_json::{Value, json};

/// A failed request, as the API server answers it: an HTTP code, a reason and a message,
/// with details naming the object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, name: &str, group: &str, kind: &str) -> ApiError {
        let mut details = json!({"name": name, "kind": kind});
        if !group.is_empty() {
            details["group"] = json!(group);
        }
        self.details = Some(details);
        self
    }

    /// `404 NotFound`: `configmaps "web" not found`.
    pub(crate) fn not_found(group: &str, plural: &str, name: &str) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(group, plural)),
        )
        .with_details(name, group, plural)
    }

    /// `409 AlreadyExists`.
    pub(crate) fn already_exists(group: &str, plural: &str, name: &str) -> ApiError {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(group, plural)),
        )
        .with_details(name, group, plural)
    }

    /// `409 Conflict`: the object changed since the writer read it.
    pub(crate) fn conflict(group: &str, plural: &str, name: &str) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                qualified(group, plural)
            ),
        )
        .with_details(name, group, plural)
    }

    /// `422 Invalid` with one cause per field: `Deployment.apps "web" is invalid: …`.
    pub(crate) fn invalid(
        group: &str,
        kind: &str,
        name: &str,
        causes: Vec<(String, String, String)>,
    ) -> ApiError {
        let summary: Vec<String> = causes
            .iter()
            .map(|(field, _, message)| format!("{field}: {message}"))
            .collect();
        let qualified_kind = if group.is_empty() {
            kind.to_owned()
        } else {
            format!("{kind}.{group}")
        };
        let message = format!(
            "{qualified_kind} \"{name}\" is invalid: {}",
            if summary.len() == 1 {
                summary[0].clone()
            } else {
                format!("[{}]", summary.join(", "))
            }
        );
        let mut error = ApiError::new(422, "Invalid", message).with_details(name, group, kind);
        if let Some(details) = &mut error.details {
            details["causes"] = causes
                .into_iter()
                .map(|(field, reason, message)| {
                    json!({"reason": reason, "message": message, "field": field})
                })
                .collect();
        }
        error
    }

    /// `400 BadRequest`.
    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    /// `403 Forbidden`.
    pub(crate) fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "Forbidden", message)
    }

    /// `405 MethodNotAllowed`.
    pub(crate) fn method_not_allowed() -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    /// `415 UnsupportedMediaType`.
    pub(crate) fn unsupported_media_type(content_type: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (not {content_type})"
            ),
        )
    }

    /// `404 NotFound` for a path that names no resource.
    pub(crate) fn no_route() -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// The answer of an injected fault: `code` with the reason Kubernetes gives it.
    pub(crate) fn injected(code: u16, retry_after: Option<u64>) -> ApiError {
        let reason = match code {
            409 => "Conflict",
            429 => "TooManyRequests",
            500 => "InternalError",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            404 => "NotFound",
            403 => "Forbidden",
            401 => "Unauthorized",
            _ => "Unknown",
        };
        let mut error = ApiError::new(code, reason, format!("injected fault: {reason}"));
        if let Some(seconds) = retry_after {
            error.details = Some(json!({"retryAfterSeconds": seconds}));
        }
        error
    }

    /// `409 Conflict` from a server-side apply: one `FieldManagerConflict` cause per field,
    /// and no object details, as the API server reports it.
    pub(crate) fn apply_conflict(
        message: String,
        conflicts: &[converge_diff::ManagerConflict],
    ) -> ApiError {
        let mut error = ApiError::new(409, "Conflict", message);
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|c| {
                json!({
                    "reason": "FieldManagerConflict",
                    "message": format!("conflict with {}", c.owner),
                    "field": c.path,
                })
            })
            .collect();
        error.details = Some(json!({"causes": causes}));
        error
    }

    /// `401 Unauthorized`: a request with no credentials the cluster knows.
    pub(crate) fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    /// `500 InternalError`.
    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "InternalError", message)
    }

    /// The `Status` object of this error.
    pub(crate) fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

fn qualified(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_owned()
    } else {
        format!("{plural}.{group}")
    }
}
