//! Keeping Secret values out of diffs.

use serde_json::{Map, Value};

const MASK: &str = "***";
const BEFORE: &str = "*** (before)";
const AFTER: &str = "*** (after)";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Replaces the values of a Secret's `data` and `stringData` with masks, the way `kubectl diff`
/// does, so that a diff shows which keys changed and never what they hold.
///
/// A key present on both sides with equal values becomes `***` on both; with different values,
/// `*** (before)` and `*** (after)`; present on one side only, `***`. The
/// `kubectl.kubernetes.io/last-applied-configuration` annotation, which carries the values
/// too, is masked the same way. Objects that are not core/v1 Secrets are left alone; pass
/// `None` for a side that does not exist.
///
/// ```
/// use converge_diff::mask_secret_values;
/// use serde_json::json;
///
/// let mut base = json!({"apiVersion": "v1", "kind": "Secret", "data": {"user": "YWRtaW4=", "pass": "czNjcjN0"}});
/// let mut head = json!({"apiVersion": "v1", "kind": "Secret", "data": {"user": "YWRtaW4=", "pass": "bjN3"}});
/// mask_secret_values(Some(&mut base), Some(&mut head));
/// assert_eq!(base["data"], json!({"user": "***", "pass": "*** (before)"}));
/// assert_eq!(head["data"], json!({"user": "***", "pass": "*** (after)"}));
/// ```
pub fn mask_secret_values(base: Option<&mut Value>, head: Option<&mut Value>) {
    let mut base = base.filter(|v| is_secret(v));
    let mut head = head.filter(|v| is_secret(v));
    for field in ["data", "stringData"] {
        mask_maps(
            base.as_deref_mut().and_then(|v| child_map(v, &[field])),
            head.as_deref_mut().and_then(|v| child_map(v, &[field])),
            |_| true,
        );
    }
    let annotations = ["metadata", "annotations"];
    mask_maps(
        base.and_then(|v| child_map(v, &annotations)),
        head.and_then(|v| child_map(v, &annotations)),
        |key| key == LAST_APPLIED,
    );
}

fn is_secret(value: &Value) -> bool {
    value.get("kind").and_then(Value::as_str) == Some("Secret")
        && value.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

fn child_map<'a>(object: &'a mut Value, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    path.iter()
        .try_fold(object, |v, key| v.get_mut(*key))
        .and_then(Value::as_object_mut)
}

/// Masks the values under the keys `selected` picks, comparing the two sides key by key.
fn mask_maps(
    mut base: Option<&mut Map<String, Value>>,
    mut head: Option<&mut Map<String, Value>>,
    selected: impl Fn(&str) -> bool,
) {
    if let Some(base) = base.as_deref_mut() {
        for (key, old) in base.iter_mut().filter(|(k, v)| selected(k) && !v.is_null()) {
            match head.as_deref_mut().and_then(|h| h.get_mut(key)) {
                Some(new) if new == old => {
                    *old = Value::from(MASK);
                    *new = Value::from(MASK);
                }
                Some(new) if !new.is_null() => {
                    *old = Value::from(BEFORE);
                    *new = Value::from(AFTER);
                }
                _ => *old = Value::from(MASK),
            }
        }
    }
    if let Some(head) = head {
        for (key, new) in head.iter_mut().filter(|(k, v)| selected(k) && !v.is_null()) {
            let in_base = base
                .as_deref()
                .and_then(|b| b.get(key))
                .is_some_and(|v| !v.is_null());
            if !in_base {
                *new = Value::from(MASK);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_added_removed_and_last_applied() {
        let mut base = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "annotations": {"team": "a", LAST_APPLIED: "{\"data\":{\"old\":\"c2VjcmV0\"}}"}},
            "data": {"old": "c2VjcmV0", "same": "eA=="},
        });
        let mut head = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "annotations": {"team": "b", LAST_APPLIED: "{\"data\":{\"new\":\"bmV3\"}}"}},
            "data": {"same": "eA==", "new": "bmV3"},
            "stringData": {"plain": "hunter2"},
        });
        mask_secret_values(Some(&mut base), Some(&mut head));
        assert_eq!(base["data"], json!({"old": "***", "same": "***"}));
        assert_eq!(head["data"], json!({"same": "***", "new": "***"}));
        assert_eq!(head["stringData"], json!({"plain": "***"}));
        assert_eq!(
            base["metadata"]["annotations"],
            json!({"team": "a", LAST_APPLIED: "*** (before)"})
        );
        assert_eq!(
            head["metadata"]["annotations"],
            json!({"team": "b", LAST_APPLIED: "*** (after)"})
        );
        let text = format!("{base}{head}");
        for secret in ["c2VjcmV0", "bmV3", "hunter2", "eA=="] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }

    #[test]
    fn one_sided_secrets_and_other_kinds() {
        let mut added = json!({"apiVersion": "v1", "kind": "Secret", "stringData": {"k": "v"}});
        mask_secret_values(None, Some(&mut added));
        assert_eq!(added["stringData"], json!({"k": "***"}));

        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}});
        mask_secret_values(Some(&mut cm), None);
        assert_eq!(cm["data"], json!({"k": "v"}));
    }
}
