//! Normalization: what is taken out of objects before they are compared, and why.

use std::fmt;

use serde_json::Value;

use crate::Error;
use crate::pointer::Pointer;

/// A path into an object that can name list items by a field's value or by wildcard — what
/// Argo CD's index-only JSON pointers cannot say:
///
/// - `/spec/replicas` — a JSON Pointer (RFC 6901, `~0` and `~1` escapes; a number indexes a
///   list);
/// - `/spec/template/spec/containers[name=app]/resources` — the item of `containers` whose
///   `name` is `app` (several keys: `[containerPort=80,protocol=TCP]`);
/// - `/webhooks/*/clientConfig/caBundle` — every item of a list, or every value of a map.
///
/// ```
/// use converge_diff::FieldPath;
/// use serde_json::json;
///
/// let path: FieldPath = "/spec/containers[name=app]/image".parse()?;
/// let pod = json!({"spec": {"containers": [
///     {"name": "sidecar", "image": "proxy:1"},
///     {"name": "app", "image": "web:1"},
/// ]}});
/// let found: Vec<String> = path.resolve(&pod).iter().map(|p| p.to_string()).collect();
/// assert_eq!(found, ["/spec/containers/1/image"]);
/// # Ok::<(), converge_diff::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Segment {
    /// A map member, or a list index when the token is a number.
    Key(String),
    /// The list items whose fields have these values.
    Match(Vec<(String, String)>),
    /// Every list item or map value.
    Any,
}

impl std::str::FromStr for FieldPath {
    type Err = Error;

    fn from_str(text: &str) -> Result<FieldPath, Error> {
        let invalid = |reason: &str| Error::InvalidPatch {
            reason: format!("field path {text:?}: {reason}"),
        };
        let Some(rest) = text.strip_prefix('/') else {
            return Err(invalid("starts with /"));
        };
        let mut segments = Vec::new();
        for token in rest.split('/') {
            if token == "*" {
                segments.push(Segment::Any);
                continue;
            }
            let (name, selector) = match token.find('[') {
                Some(open) if token.ends_with(']') => {
                    (&token[..open], Some(&token[open + 1..token.len() - 1]))
                }
                Some(_) => return Err(invalid("a [ must close with ] at the end of its segment")),
                None => (token, None),
            };
            if !name.is_empty() || selector.is_none() {
                let decoded = Pointer::parse(&format!("/{name}"))
                    .map_err(|_| invalid("~ must be followed by 0 or 1"))?;
                segments.extend(decoded.tokens().iter().cloned().map(Segment::Key));
            }
            if let Some(selector) = selector {
                let pairs = selector
                    .split(',')
                    .map(|pair| {
                        pair.split_once('=')
                            .filter(|(k, _)| !k.is_empty())
                            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                            .ok_or_else(|| invalid("a selector is [field=value,…]"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                segments.push(Segment::Match(pairs));
            }
        }
        Ok(FieldPath {
            text: text.to_owned(),
            segments,
        })
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FieldPath {
    /// The concrete JSON Pointers this path names in `object`, in document order.
    pub fn resolve(&self, object: &Value) -> Vec<Pointer> {
        let mut found = Vec::new();
        let mut at = Pointer::root();
        resolve_into(&self.segments, object, &mut at, &mut found);
        found
    }
}

fn resolve_into(segments: &[Segment], value: &Value, at: &mut Pointer, found: &mut Vec<Pointer>) {
    let Some((first, rest)) = segments.split_first() else {
        found.push(at.clone());
        return;
    };
    let mut step = |token: String, child: &Value, found: &mut Vec<Pointer>| {
        at.push(token);
        resolve_into(rest, child, at, found);
        at.pop();
    };
    match (first, value) {
        (Segment::Key(key), Value::Object(map)) => {
            if let Some(child) = map.get(key) {
                step(key.clone(), child, found);
            }
        }
        (Segment::Key(key), Value::Array(items)) => {
            if let Some(i) = crate::pointer::array_index(key)
                && let Some(child) = items.get(i)
            {
                step(key.clone(), child, found);
            }
        }
        (Segment::Match(pairs), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let matches = pairs.iter().all(|(field, want)| match item.get(field) {
                    Some(Value::String(s)) => s == want,
                    Some(other @ (Value::Number(_) | Value::Bool(_))) => {
                        *want == other.to_string().as_str()
                    }
                    _ => false,
                });
                if matches {
                    step(i.to_string(), item, found);
                }
            }
        }
        (Segment::Any, Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                step(i.to_string(), item, found);
            }
        }
        (Segment::Any, Value::Object(map)) => {
            for (key, child) in map {
                step(key.clone(), child, found);
            }
        }
        _ => {}
    }
}

/// Which objects an [`IgnoreRule`] applies to; an unset field matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Selector {
    /// API group (`apps`; empty for the core group).
    pub group: Option<String>,
    /// Kind (`Deployment`).
    pub kind: Option<String>,
    /// Namespace.
    pub namespace: Option<String>,
    /// Name.
    pub name: Option<String>,
}

impl Selector {
    fn matches(&self, object: &Value) -> bool {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let meta = |field: &str| {
            object
                .get("metadata")
                .and_then(|m| m.get(field))
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        let ok = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        ok(&self.group, group)
            && ok(
                &self.kind,
                object.get("kind").and_then(Value::as_str).unwrap_or(""),
            )
            && ok(&self.namespace, meta("namespace"))
            && ok(&self.name, meta("name"))
    }
}

/// A user's rule: fields not to compare, on the objects a selector picks.
///
/// ```
/// use converge_diff::{IgnoreRule, Normalizer};
/// use serde_json::json;
///
/// let rule = IgnoreRule::new("webhook-ca", ["/webhooks/*/clientConfig/caBundle"])?
///     .for_kind("admissionregistration.k8s.io", "ValidatingWebhookConfiguration");
/// let mut object = json!({
///     "apiVersion": "admissionregistration.k8s.io/v1",
///     "kind": "ValidatingWebhookConfiguration",
///     "metadata": {"name": "policy"},
///     "webhooks": [{"name": "a", "clientConfig": {"caBundle": "LS0t"}}],
/// });
/// let hidden = Normalizer::default().with_rule(rule).normalize(&mut object);
/// assert_eq!(object["webhooks"][0]["clientConfig"], json!({}));
/// assert_eq!(hidden[0].to_string(), "/webhooks/0/clientConfig/caBundle: ignored by rule webhook-ca");
/// # Ok::<(), converge_diff::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IgnoreRule {
    /// The rule's name, shown when it hides a field.
    pub name: String,
    /// The objects it applies to.
    pub selector: Selector,
    /// The fields it hides.
    pub paths: Vec<FieldPath>,
    /// It also hides every field these field managers own in the object (its
    /// `metadata.managedFields`), like Argo CD's `managedFieldsManagers`.
    pub managers: Vec<String>,
}

impl IgnoreRule {
    /// A rule named `name` hiding, on every object, the fields that the field managers
    /// `managers` own: what an autoscaler or an operator writes is not drift.
    ///
    /// ```
    /// use converge_diff::{IgnoreRule, Normalizer};
    /// use serde_json::json;
    ///
    /// let mut live = json!({
    ///     "metadata": {"name": "web", "managedFields": [{"manager": "hpa", "operation": "Update",
    ///         "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]},
    ///     "spec": {"replicas": 7, "paused": false},
    /// });
    /// let rule = IgnoreRule::managed_by("autoscaled", ["hpa"]);
    /// let hidden = Normalizer::default().with_rule(rule).hidden(&live);
    /// assert!(hidden.iter().any(|h| h.to_string() == "/spec/replicas: ignored by rule autoscaled"));
    /// ```
    pub fn managed_by<I, S>(name: impl Into<String>, managers: I) -> IgnoreRule
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        IgnoreRule {
            name: name.into(),
            selector: Selector::default(),
            paths: Vec::new(),
            managers: managers.into_iter().map(Into::into).collect(),
        }
    }

    /// The concrete fields this rule hides in `object`, in document order.
    fn resolve(&self, object: &Value) -> Vec<Pointer> {
        let mut found: Vec<Pointer> = self.paths.iter().flat_map(|p| p.resolve(object)).collect();
        for manager in &self.managers {
            // Malformed managed fields hide nothing; comparisons then show the fields.
            let Ok(owned) = crate::managed::owned_by(object, manager) else {
                continue;
            };
            for leaf in owned.tops() {
                let mut at = Pointer::root();
                let mut value = object;
                let resolved = leaf.iter().all(|element| {
                    match crate::drift::find_child(element, value, false) {
                        Some((token, child)) => {
                            at.push(token.to_string());
                            value = child;
                            true
                        }
                        None => false,
                    }
                });
                if resolved {
                    found.push(at);
                }
            }
        }
        found.sort_by(document_order);
        found.dedup();
        found
    }
    /// A rule named `name` hiding `paths` on every object.
    ///
    /// # Errors
    /// [`Error::InvalidPatch`] when a path does not parse.
    pub fn new<I, S>(name: impl Into<String>, paths: I) -> Result<IgnoreRule, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(IgnoreRule {
            name: name.into(),
            selector: Selector::default(),
            paths: paths
                .into_iter()
                .map(|p| p.as_ref().parse())
                .collect::<Result<_, _>>()?,
            managers: Vec::new(),
        })
    }

    /// Only objects of this group and kind.
    pub fn for_kind(mut self, group: impl Into<String>, kind: impl Into<String>) -> Self {
        self.selector.group = Some(group.into());
        self.selector.kind = Some(kind.into());
        self
    }

    /// Only objects in this namespace.
    pub fn in_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.selector.namespace = Some(namespace.into());
        self
    }

    /// Only objects with this name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.selector.name = Some(name.into());
        self
    }
}

/// Why a field was left out of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HiddenBy {
    /// A field the API server sets (`metadata.uid`, `metadata.managedFields`, …).
    ServerSet,
    /// `status`, which controllers write and manifests do not own.
    Status,
    /// A user's [`IgnoreRule`], by name.
    Rule(String),
}

/// One field a [`Normalizer`] hid, and why: the engine's explanation of why something is not
/// drift.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Hidden {
    /// The field, as a JSON Pointer into the object as it was.
    pub path: Pointer,
    /// What hid it.
    pub by: HiddenBy,
}

impl fmt::Display for Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.by {
            HiddenBy::ServerSet => write!(f, "{}: set by the API server", self.path),
            HiddenBy::Status => write!(f, "{}: status is not compared", self.path),
            HiddenBy::Rule(name) => write!(f, "{}: ignored by rule {name}", self.path),
        }
    }
}

/// Metadata fields the API server sets, never compared.
pub(crate) const SERVER_SET: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// The annotation client-side apply keeps its last-applied state in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Takes out of an object what is not to be compared, and says what it took and why.
///
/// By default: the metadata fields the API server sets (`uid`, `resourceVersion`,
/// `generation`, `creationTimestamp`, `managedFields`, `selfLink`, `deletionTimestamp`,
/// `deletionGracePeriodSeconds`), the `kubectl.kubernetes.io/last-applied-configuration`
/// annotation, and `status` (keep it with [`Normalizer::with_status`]). Then every
/// [`IgnoreRule`] whose selector matches. Annotations and labels maps left empty are removed.
///
/// Normalizing twice gives the same object as normalizing once.
#[derive(Debug, Clone, Default)]
pub struct Normalizer {
    rules: Vec<IgnoreRule>,
    keep_status: bool,
}

impl Normalizer {
    /// Adds a user rule.
    pub fn with_rule(mut self, rule: IgnoreRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Compares `status` too.
    pub fn with_status(mut self, keep: bool) -> Self {
        self.keep_status = keep;
        self
    }

    /// True when `status` is compared.
    pub(crate) fn keeps_status(&self) -> bool {
        self.keep_status
    }

    /// True when `path` is, or lies below, a field hidden whatever the object: the server-set
    /// metadata, the last-applied annotation, and `status` unless kept.
    pub(crate) fn hides_server_field(&self, path: &Pointer) -> bool {
        match path.tokens() {
            [meta, field, ..] if meta == "metadata" && SERVER_SET.contains(&field.as_str()) => true,
            [meta, annotations, name, ..] => {
                meta == "metadata" && annotations == "annotations" && name == LAST_APPLIED
            }
            [status, ..] => status == "status" && !self.keep_status,
            _ => false,
        }
    }

    /// The fields the user's rules hide in `object`.
    pub(crate) fn rule_hits(&self, object: &Value) -> Vec<Pointer> {
        self.rules
            .iter()
            .filter(|r| r.selector.matches(object))
            .flat_map(|r| r.resolve(object))
            .collect()
    }

    /// What [`Normalizer::normalize`] would hide in `object`, without changing it, in document
    /// order. Comparisons use this to skip fields instead of copying objects to strip them.
    pub fn hidden(&self, object: &Value) -> Vec<Hidden> {
        let mut hidden = Vec::new();
        if let Some(meta) = object.get("metadata").and_then(Value::as_object) {
            for field in SERVER_SET {
                if meta.contains_key(*field) {
                    hidden.push(Hidden {
                        path: Pointer::from_tokens(["metadata", field]),
                        by: HiddenBy::ServerSet,
                    });
                }
            }
            if meta
                .get("annotations")
                .and_then(Value::as_object)
                .is_some_and(|a| a.contains_key(LAST_APPLIED))
            {
                hidden.push(Hidden {
                    path: Pointer::from_tokens(["metadata", "annotations", LAST_APPLIED]),
                    by: HiddenBy::ServerSet,
                });
            }
        }
        if !self.keep_status && object.get("status").is_some() {
            hidden.push(Hidden {
                path: Pointer::from_tokens(["status"]),
                by: HiddenBy::Status,
            });
        }
        for rule in self.rules.iter().filter(|r| r.selector.matches(object)) {
            hidden.extend(rule.resolve(object).into_iter().map(|path| Hidden {
                path,
                by: HiddenBy::Rule(rule.name.clone()),
            }));
        }
        hidden
    }

    /// Normalizes `object` in place and returns what was hidden, in the order it was found.
    pub fn normalize(&self, object: &mut Value) -> Vec<Hidden> {
        // Rules resolve on the object as it is: rules by field manager read managedFields,
        // which normalization removes.
        let rule_hits: Vec<(&IgnoreRule, Vec<Pointer>)> = self
            .rules
            .iter()
            .filter(|r| r.selector.matches(object))
            .map(|r| (r, r.resolve(object)))
            .collect();
        let mut hidden = Vec::new();
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            for field in SERVER_SET {
                if meta.shift_remove(*field).is_some() {
                    hidden.push(Hidden {
                        path: Pointer::from_tokens(["metadata", field]),
                        by: HiddenBy::ServerSet,
                    });
                }
            }
            if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut)
                && annotations.shift_remove(LAST_APPLIED).is_some()
            {
                hidden.push(Hidden {
                    path: Pointer::from_tokens(["metadata", "annotations", LAST_APPLIED]),
                    by: HiddenBy::ServerSet,
                });
            }
        }
        if !self.keep_status
            && let Some(map) = object.as_object_mut()
            && map.shift_remove("status").is_some()
        {
            hidden.push(Hidden {
                path: Pointer::from_tokens(["status"]),
                by: HiddenBy::Status,
            });
        }
        for (rule, pointers) in rule_hits {
            // Remove the last list items first, so the pointers still to go stay valid.
            for pointer in pointers.into_iter().rev() {
                if remove_at(object, &pointer) {
                    hidden.push(Hidden {
                        path: pointer,
                        by: HiddenBy::Rule(rule.name.clone()),
                    });
                }
            }
        }
        drop_empty_metadata_maps(object);
        hidden
    }
}

/// Orders pointers as their targets come in a document: list indexes by number.
fn document_order(a: &Pointer, b: &Pointer) -> std::cmp::Ordering {
    use crate::pointer::array_index;
    for (x, y) in a.tokens().iter().zip(b.tokens()) {
        let order = match (array_index(x), array_index(y)) {
            (Some(i), Some(j)) => i.cmp(&j),
            _ => x.cmp(y),
        };
        if order.is_ne() {
            return order;
        }
    }
    a.tokens().len().cmp(&b.tokens().len())
}

fn remove_at(object: &mut Value, pointer: &Pointer) -> bool {
    let Some((parent, last)) = pointer.split_last() else {
        return false;
    };
    match parent.get_mut(object) {
        Some(Value::Object(map)) => map.shift_remove(last).is_some(),
        Some(Value::Array(items)) => match crate::pointer::array_index(last) {
            Some(i) if i < items.len() => {
                items.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

fn drop_empty_metadata_maps(object: &mut Value) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in ["annotations", "labels"] {
            if meta
                .get(field)
                .is_some_and(|v| v.as_object().is_some_and(serde_json::Map::is_empty))
            {
                meta.shift_remove(field);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_fields_status_and_last_applied_are_hidden_and_explained() {
        let mut live = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "name": "web", "uid": "1", "resourceVersion": "42", "generation": 3,
                "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [],
                "annotations": {LAST_APPLIED: "{}"},
            },
            "spec": {"replicas": 2},
            "status": {"readyReplicas": 2},
        });
        let hidden = Normalizer::default().normalize(&mut live);
        assert_eq!(
            live,
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}})
        );
        let shown: Vec<String> = hidden.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "/metadata/uid: set by the API server",
                "/metadata/resourceVersion: set by the API server",
                "/metadata/generation: set by the API server",
                "/metadata/creationTimestamp: set by the API server",
                "/metadata/managedFields: set by the API server",
                "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration: set by the API server",
                "/status: status is not compared",
            ]
        );
        let again = live.clone();
        assert!(
            Normalizer::default().normalize(&mut live).is_empty(),
            "idempotent"
        );
        assert_eq!(live, again);
    }

    #[test]
    fn keyed_paths_and_selectors() {
        let rule = IgnoreRule::new(
            "sidecar-resources",
            [
                "/spec/template/spec/containers[name=app]/resources",
                "/spec/replicas",
            ],
        )
        .expect("rule")
        .for_kind("apps", "Deployment")
        .in_namespace("prod");
        let normalizer = Normalizer::default().with_rule(rule);
        let object = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "prod"},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [
                {"name": "app", "resources": {"limits": {"cpu": "1"}}},
                {"name": "proxy", "resources": {"limits": {"cpu": "1"}}},
            ]}}},
        });
        let mut prod = object.clone();
        let hidden = normalizer.normalize(&mut prod);
        assert_eq!(hidden.len(), 2);
        assert_eq!(
            prod["spec"],
            json!({"template": {"spec": {"containers": [
                {"name": "app"},
                {"name": "proxy", "resources": {"limits": {"cpu": "1"}}},
            ]}}})
        );
        let mut staging = object;
        staging["metadata"]["namespace"] = json!("staging");
        assert!(
            normalizer.normalize(&mut staging).is_empty(),
            "the selector picks prod only"
        );
    }

    #[test]
    fn rules_by_field_manager_hide_what_it_owns() {
        let mut live = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "managedFields": [
                {"manager": "hpa", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:spec": {"f:replicas": {}}}},
                {"manager": "istio", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                     "k:{\"name\":\"istio-proxy\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}}},
            ]},
            "spec": {"replicas": 7, "template": {"spec": {"containers": [
                {"name": "web", "image": "web:1"},
                {"name": "istio-proxy", "image": "proxy:1"},
            ]}}},
        });
        let normalizer = Normalizer::default()
            .with_rule(IgnoreRule::managed_by("autoscaled", ["hpa"]))
            .with_rule(IgnoreRule::managed_by("mesh", ["istio"]));
        let hidden: Vec<String> = normalizer
            .normalize(&mut live)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            hidden.contains(&"/spec/replicas: ignored by rule autoscaled".to_owned()),
            "{hidden:?}"
        );
        assert!(
            hidden.contains(&"/spec/template/spec/containers/1: ignored by rule mesh".to_owned()),
            "{hidden:?}"
        );
        assert_eq!(
            live["spec"],
            json!({"template": {"spec": {"containers": [{"name": "web", "image": "web:1"}]}}})
        );
    }

    #[test]
    fn field_paths_parse_and_refuse() {
        let p: FieldPath = "/spec/ports[containerPort=80,protocol=TCP]/name"
            .parse()
            .expect("valid");
        let svc = json!({"spec": {"ports": [
            {"containerPort": 80, "protocol": "UDP", "name": "a"},
            {"containerPort": 80, "protocol": "TCP", "name": "b"},
        ]}});
        assert_eq!(
            p.resolve(&svc),
            [Pointer::parse("/spec/ports/1/name").expect("p")]
        );
        let many: Vec<Value> = (0..12)
            .map(|i| json!({"name": format!("c{i}"), "x": i}))
            .collect();
        let mut object = json!({"kind": "K", "list": many});
        let rule = IgnoreRule::new("every-item", ["/list/*"]).expect("rule");
        assert_eq!(
            Normalizer::default()
                .with_rule(rule)
                .normalize(&mut object)
                .len(),
            12
        );
        assert_eq!(
            object["list"],
            json!([]),
            "items 2 and 10 both go, in the right order"
        );
        let any: FieldPath = "/data/*".parse().expect("valid");
        assert_eq!(any.resolve(&json!({"data": {"a": 1, "b": 2}})).len(), 2);
        for bad in ["spec", "/a[name=x", "/a[=x]", "/a[b]", "/a~2"] {
            assert!(bad.parse::<FieldPath>().is_err(), "{bad}");
        }
    }
}
