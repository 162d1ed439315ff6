//! Resources as kustomize tracks them: the object, where it came from, and the ids it had.

use std::fmt;

use converge_core::Origin;
use serde_json::{Map, Value};

/// A resource's identity: group, version, kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub(crate) struct ResId {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ResId {
    /// The id of `object`.
    pub(crate) fn of(object: &Value) -> ResId {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (group, version) = split_api_version(api_version);
        let meta = |field: &str| {
            object
                .get("metadata")
                .and_then(|m| m.get(field))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        ResId {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: object
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            namespace: meta("namespace"),
            name: meta("name"),
        }
    }

    /// Whether the two ids name the same group and kind (versions may differ).
    pub(crate) fn same_group_kind(&self, other: &ResId) -> bool {
        self.group == other.group && self.kind == other.kind
    }
}

impl fmt::Display for ResId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = if self.group.is_empty() {
            String::new()
        } else {
            format!(".{}", self.group)
        };
        write!(f, "{}{}.{} ", self.kind, group, self.version)?;
        if self.namespace.is_empty() {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

/// A namespace as kustomize compares them: none for cluster-scoped kinds, `default` for a
/// namespaced object without one.
pub(crate) fn effective_namespace(namespace: &str, cluster: bool) -> &str {
    if cluster {
        ""
    } else if namespace.is_empty() {
        "default"
    } else {
        namespace
    }
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

/// Whether `kind` of `group` is one of Kubernetes' built-in kinds that live outside namespaces
/// (`Namespace`, `ClusterRole`, `CustomResourceDefinition`, …): kustomize's list, which is
/// what moving objects into a namespace needs when no cluster can be asked. Custom kinds are
/// never on it.
///
/// ```
/// use converge_render::is_cluster_scoped;
/// assert!(is_cluster_scoped("rbac.authorization.k8s.io", "ClusterRole"));
/// assert!(!is_cluster_scoped("apps", "Deployment"));
/// ```
pub fn is_cluster_scoped(group: &str, kind: &str) -> bool {
    const CLUSTER_SCOPED: [(&str, &str); 36] = [
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("", "ComponentStatus"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("apiregistration.k8s.io", "APIService"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("storage.k8s.io", "VolumeAttributesClass"),
        ("scheduling.k8s.io", "PriorityClass"),
        (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration",
        ),
        (
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration",
        ),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        (
            "admissionregistration.k8s.io",
            "ValidatingAdmissionPolicyBinding",
        ),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
        (
            "admissionregistration.k8s.io",
            "MutatingAdmissionPolicyBinding",
        ),
        ("node.k8s.io", "RuntimeClass"),
        ("policy", "PodSecurityPolicy"),
        ("extensions", "PodSecurityPolicy"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("certificates.k8s.io", "ClusterTrustBundle"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "IPAddress"),
        ("networking.k8s.io", "ServiceCIDR"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        ("authentication.k8s.io", "TokenReview"),
        ("authorization.k8s.io", "SelfSubjectAccessReview"),
        ("authorization.k8s.io", "SelfSubjectRulesReview"),
        ("authorization.k8s.io", "SubjectAccessReview"),
        ("resource.k8s.io", "DeviceClass"),
        ("internal.apiserver.k8s.io", "StorageVersion"),
    ];
    CLUSTER_SCOPED
        .iter()
        .any(|(g, k)| *k == kind && (*g == group || group.is_empty() && g.is_empty()))
}

/// What a generated resource does to one of the same id: kustomize's generator behaviours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Behavior {
    #[default]
    Create,
    Merge,
    Replace,
}

/// One resource of a build.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    pub object: Value,
    pub origin: Origin,
    /// The ids it had before renames, oldest first (its original id first).
    pub previous: Vec<ResId>,
    /// Generated ConfigMaps and Secrets get a content hash appended to their name.
    pub needs_hash: bool,
    pub behavior: Behavior,
    /// Prefixes and suffixes added to the name, per level (for name references).
    pub prefixes: Vec<String>,
    pub suffixes: Vec<String>,
    /// The `vars` that read a field of this resource.
    pub vars: Vec<String>,
    /// Where it came from, as `buildMetadata: [originAnnotations]` reports it: a file of the
    /// tree, or the generator that made it.
    pub source: Source,
    /// The transformers that ran while it was in the build, in order, as
    /// `buildMetadata: [transformerAnnotations]` reports them.
    pub transformations: Vec<std::sync::Arc<Transformation>>,
}

/// A transformer as `buildMetadata: [transformerAnnotations]` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Transformation {
    /// The file it is configured in (a tree path).
    pub configured_in: String,
    pub api_version: String,
    pub kind: String,
    pub name: Option<String>,
    pub namespace: Option<String>,
}

/// Where a resource came from.
#[derive(Debug, Clone, Default)]
pub(crate) enum Source {
    /// A resource file of the tree.
    #[default]
    File,
    /// A generator configured in `configured_in` (a tree path).
    Generator {
        configured_in: String,
        api_version: String,
        kind: String,
        name: Option<String>,
    },
}

impl Resource {
    pub(crate) fn new(mut object: Value, origin: Origin) -> Resource {
        // Label and annotation values are strings, however YAML typed them.
        for field in ["labels", "annotations"] {
            if let Some(Value::Object(map)) =
                object.get_mut("metadata").and_then(|m| m.get_mut(field))
            {
                for value in map.values_mut() {
                    match value {
                        Value::Bool(b) => *value = Value::String(b.to_string()),
                        Value::Number(n) => *value = Value::String(n.to_string()),
                        _ => {}
                    }
                }
            }
        }
        Resource {
            object,
            origin,
            previous: Vec::new(),
            needs_hash: false,
            behavior: Behavior::Create,
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            vars: Vec::new(),
            source: Source::File,
            transformations: Vec::new(),
        }
    }

    pub(crate) fn id(&self) -> ResId {
        ResId::of(&self.object)
    }

    /// The current id's parts, borrowed: (group, version, kind, namespace, name).
    pub(crate) fn id_parts(&self) -> (&str, &str, &str, &str, &str) {
        fn text(v: Option<&Value>) -> &str {
            v.and_then(Value::as_str).unwrap_or_default()
        }
        let (group, version) = split_api_version(text(self.object.get("apiVersion")));
        let meta = self.object.get("metadata");
        (
            group,
            version,
            text(self.object.get("kind")),
            text(meta.and_then(|m| m.get("namespace"))),
            text(meta.and_then(|m| m.get("name"))),
        )
    }

    /// The id the resource had when it was read or generated.
    pub(crate) fn original_id(&self) -> ResId {
        self.previous.first().cloned().unwrap_or_else(|| self.id())
    }

    /// Whether the resource had `name` (now or before) with the same group and kind as `id`.
    pub(crate) fn had_name(&self, id: &ResId, name: &str) -> bool {
        let current = self.id();
        (current.same_group_kind(id) && current.name == name)
            || self
                .previous
                .iter()
                .any(|p| p.same_group_kind(id) && p.name == name)
    }

    /// Records the current id before a change of name, kind or namespace.
    pub(crate) fn remember_id(&mut self) {
        let id = self.id();
        if self.previous.last() != Some(&id) {
            self.previous.push(id);
        }
    }

    pub(crate) fn metadata_mut(&mut self) -> &mut Map<String, Value> {
        let object = ensure_object(&mut self.object);
        let metadata = object
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        ensure_object(metadata)
    }

    pub(crate) fn set_name(&mut self, name: &str) {
        self.remember_id();
        self.metadata_mut()
            .insert("name".to_owned(), Value::String(name.to_owned()));
    }

    pub(crate) fn labels(&self) -> Map<String, Value> {
        self.object
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) fn annotations(&self) -> Map<String, Value> {
        self.object
            .pointer("/metadata/annotations")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }
}

/// `value` as a mapping, made one when it is not.
pub(crate) fn ensure_object(value: &mut Value) -> &mut Map<String, Value> {
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    match value {
        Value::Object(map) => map,
        _ => unreachable!("just made a mapping"),
    }
}
