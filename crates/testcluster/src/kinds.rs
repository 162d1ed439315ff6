//! The kinds the cluster serves: the built-ins a GitOps tool meets, and those that
//! CustomResourceDefinitions add.

/// A kind the cluster serves, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Kind {
    /// API group; empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// The resource name in URLs (`deployments`).
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    /// Whether writes to the object leave `status` alone (it has a status subresource).
    pub status: bool,
    /// Whether `metadata.generation` counts changes of everything but metadata and status.
    pub generation: bool,
}

impl Kind {
    /// `apps/v1`, or `v1` for the core group.
    pub(crate) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// The verbs every kind here serves.
pub(crate) const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// A built-in kind: group, version, kind, plural, namespaced, short names, status
/// subresource, generation.
type BuiltIn = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
    bool,
    bool,
);

/// The built-in kinds.
#[rustfmt::skip]
const BUILT_IN: &[BuiltIn] = &[
    ("", "v1", "Namespace", "namespaces", false, &["ns"], true, false),
    ("", "v1", "ConfigMap", "configmaps", true, &["cm"], false, false),
    ("", "v1", "Secret", "secrets", true, &[], false, false),
    ("", "v1", "Service", "services", true, &["svc"], true, false),
    ("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"], false, false),
    ("", "v1", "Pod", "pods", true, &["po"], true, false),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, &["pvc"], true, false),
    ("", "v1", "PersistentVolume", "persistentvolumes", false, &["pv"], true, false),
    ("", "v1", "Event", "events", true, &["ev"], false, false),
    ("", "v1", "Endpoints", "endpoints", true, &["ep"], false, false),
    ("", "v1", "LimitRange", "limitranges", true, &["limits"], false, false),
    ("", "v1", "ResourceQuota", "resourcequotas", true, &["quota"], true, false),
    ("apps", "v1", "Deployment", "deployments", true, &["deploy"], true, true),
    ("apps", "v1", "StatefulSet", "statefulsets", true, &["sts"], true, true),
    ("apps", "v1", "DaemonSet", "daemonsets", true, &["ds"], true, true),
    ("apps", "v1", "ReplicaSet", "replicasets", true, &["rs"], true, true),
    ("apps", "v1", "ControllerRevision", "controllerrevisions", true, &[], false, false),
    ("batch", "v1", "Job", "jobs", true, &[], true, true),
    ("batch", "v1", "CronJob", "cronjobs", true, &["cj"], true, true),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", true, &[], false, false),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true, &[], false, false),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false, &[], false, false),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false, &[], false, false),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", true, &["ing"], true, true),
    ("networking.k8s.io", "v1", "IngressClass", "ingressclasses", false, &[], false, false),
    ("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true, &["netpol"], false, true),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, &["pdb"], true, true),
    ("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true, &["hpa"], true, false),
    ("coordination.k8s.io", "v1", "Lease", "leases", true, &[], false, false),
    ("storage.k8s.io", "v1", "StorageClass", "storageclasses", false, &["sc"], false, false),
    ("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", false, &["pc"], false, false),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false, &["crd", "crds"], true, true),
    ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", false, &[], false, true),
    ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", false, &[], false, true),
    ("apiregistration.k8s.io", "v1", "APIService", "apiservices", false, &[], true, false),
];

/// The built-in kinds.
pub(crate) fn built_in() -> Vec<Kind> {
    BUILT_IN
        .iter()
        .map(
            |&(group, version, kind, plural, namespaced, short, status, generation)| Kind {
                group: group.to_owned(),
                version: version.to_owned(),
                kind: kind.to_owned(),
                plural: plural.to_owned(),
                singular: kind.to_lowercase(),
                namespaced,
                short_names: short.iter().map(|s| (*s).to_owned()).collect(),
                status,
                generation,
            },
        )
        .collect()
}
