//! The field specs of the built-in transformers: kustomize's defaults, extended by
//! `configurations` files and `crds`.

use serde_json::Value;

use super::fieldspec::FieldSpec;
use super::types::{NameBackReferences, TransformerConfig};

/// The kinds one referenced kind is named from, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NameReference {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub referrers: Vec<FieldSpec>,
}

/// kustomize's built-in field specs, made once.
static DEFAULTS: std::sync::LazyLock<Config> = std::sync::LazyLock::new(Config::built_in);

/// Field specs per transformer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Config {
    pub name_prefix: Vec<FieldSpec>,
    pub name_suffix: Vec<FieldSpec>,
    pub namespace: Vec<FieldSpec>,
    pub common_labels: Vec<FieldSpec>,
    pub template_labels: Vec<FieldSpec>,
    pub common_annotations: Vec<FieldSpec>,
    /// Extra label fields from `configurations` (`labels:`), for every labels transformer.
    pub labels: Vec<FieldSpec>,
    pub name_reference: Vec<NameReference>,
    pub var_reference: Vec<FieldSpec>,
    pub images: Vec<FieldSpec>,
    pub replicas: Vec<FieldSpec>,
    /// (group, kind) of custom kinds known to be cluster-scoped.
    pub cluster_scoped_kinds: Vec<(String, String)>,
}

fn spec(group: &str, version: &str, kind: &str, path: &str, create: bool) -> FieldSpec {
    let mut spec = FieldSpec::new(group, kind, path, create);
    spec.version = version.to_owned();
    spec
}

/// Workload kinds and where their pod spec lives.
const POD_SPECS: [(&str, &str, &str, &str); 7] = [
    ("", "v1", "Pod", "spec"),
    ("", "", "PodTemplate", "template/spec"),
    ("", "", "Deployment", "spec/template/spec"),
    ("", "", "ReplicaSet", "spec/template/spec"),
    ("", "", "DaemonSet", "spec/template/spec"),
    ("", "", "StatefulSet", "spec/template/spec"),
    ("", "", "Job", "spec/template/spec"),
];

const CRON_JOB: (&str, &str, &str, &str) =
    ("", "", "CronJob", "spec/jobTemplate/spec/template/spec");

impl Config {
    /// kustomize's default field specs.
    pub(crate) fn defaults() -> Config {
        DEFAULTS.clone()
    }

    /// kustomize's built-in field specs.
    fn built_in() -> Config {
        let any = |path: &str, create: bool| spec("", "", "", path, create);
        let mut c = Config {
            name_prefix: vec![any("metadata/name", false)],
            name_suffix: vec![any("metadata/name", false)],
            ..Config::default()
        };
        c.namespace = vec![
            spec("", "v1", "Namespace", "metadata/name", true),
            spec(
                "apiregistration.k8s.io",
                "",
                "APIService",
                "spec/service/namespace",
                true,
            ),
            spec(
                "apiextensions.k8s.io",
                "",
                "CustomResourceDefinition",
                "spec/conversion/webhook/clientConfig/service/namespace",
                false,
            ),
        ];

        // Labels.
        let mut template = vec![any("metadata/labels", true)];
        for (g, v, k) in [
            ("", "v1", "ReplicationController"),
            ("", "", "Deployment"),
            ("", "", "ReplicaSet"),
            ("", "", "DaemonSet"),
            ("apps", "", "StatefulSet"),
            ("batch", "", "Job"),
        ] {
            template.push(spec(g, v, k, "spec/template/metadata/labels", true));
        }
        template.push(spec(
            "apps",
            "",
            "StatefulSet",
            "spec/volumeClaimTemplates[]/metadata/labels",
            true,
        ));
        template.push(spec(
            "batch",
            "",
            "CronJob",
            "spec/jobTemplate/metadata/labels",
            true,
        ));
        template.push(spec(
            "batch",
            "",
            "CronJob",
            "spec/jobTemplate/spec/template/metadata/labels",
            true,
        ));
        c.template_labels = template.clone();

        let affinity = [
            "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
            "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
        ];
        let mut labels = template;
        labels.extend([
            spec("", "v1", "Service", "spec/selector", true),
            spec("", "v1", "ReplicationController", "spec/selector", true),
            spec("", "", "Deployment", "spec/selector/matchLabels", true),
            spec("", "", "ReplicaSet", "spec/selector/matchLabels", true),
            spec("", "", "DaemonSet", "spec/selector/matchLabels", true),
            spec("apps", "", "StatefulSet", "spec/selector/matchLabels", true),
            spec("batch", "", "Job", "spec/selector/matchLabels", false),
            spec(
                "batch",
                "",
                "CronJob",
                "spec/jobTemplate/spec/selector/matchLabels",
                false,
            ),
            spec(
                "policy",
                "",
                "PodDisruptionBudget",
                "spec/selector/matchLabels",
                false,
            ),
            spec(
                "networking.k8s.io",
                "",
                "NetworkPolicy",
                "spec/podSelector/matchLabels",
                false,
            ),
            spec(
                "networking.k8s.io",
                "",
                "NetworkPolicy",
                "spec/ingress/from/podSelector/matchLabels",
                false,
            ),
            spec(
                "networking.k8s.io",
                "",
                "NetworkPolicy",
                "spec/egress/to/podSelector/matchLabels",
                false,
            ),
        ]);
        for kind in ["Deployment", "StatefulSet"] {
            for path in affinity {
                labels.push(spec("apps", "", kind, path, false));
            }
        }
        c.common_labels = labels;

        let mut annotations = vec![any("metadata/annotations", true)];
        for (g, v, k) in [
            ("", "v1", "ReplicationController"),
            ("", "", "Deployment"),
            ("", "", "ReplicaSet"),
            ("", "", "DaemonSet"),
            ("", "", "StatefulSet"),
            ("batch", "", "Job"),
        ] {
            annotations.push(spec(g, v, k, "spec/template/metadata/annotations", true));
        }
        annotations.push(spec(
            "batch",
            "",
            "CronJob",
            "spec/jobTemplate/metadata/annotations",
            true,
        ));
        annotations.push(spec(
            "batch",
            "",
            "CronJob",
            "spec/jobTemplate/spec/template/metadata/annotations",
            true,
        ));
        c.common_annotations = annotations;

        c.images = vec![
            any("spec/containers[]/image", false),
            any("spec/initContainers[]/image", false),
            any("spec/template/spec/containers[]/image", false),
            any("spec/template/spec/initContainers[]/image", false),
        ];
        c.replicas = [
            "Deployment",
            "ReplicationController",
            "ReplicaSet",
            "StatefulSet",
        ]
        .iter()
        .map(|k| spec("", "", k, "spec/replicas", true))
        .collect();

        // Vars.
        let mut vars = Vec::new();
        for (g, v, k, prefix) in POD_SPECS.iter().chain([CRON_JOB].iter()) {
            if *k == "PodTemplate" {
                continue;
            }
            for containers in ["containers", "initContainers"] {
                for field in ["args", "command", "env/value", "volumeMounts/mountPath"] {
                    vars.push(spec(
                        g,
                        v,
                        k,
                        &format!("{prefix}/{containers}/{field}"),
                        false,
                    ));
                }
            }
            if *k != "StatefulSet" {
                vars.push(spec(
                    g,
                    v,
                    k,
                    &format!("{prefix}/volumes/nfs/server"),
                    false,
                ));
            }
        }
        vars.extend([
            spec(
                "",
                "",
                "StatefulSet",
                "spec/volumeClaimTemplates/spec/nfs/server",
                false,
            ),
            // kustomize's table has this CronJob path without its `spec`, and inputs follow it.
            spec(
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/volumes/nfs/server",
                false,
            ),
            spec("", "", "Ingress", "spec/rules/host", false),
            spec("", "", "Ingress", "spec/tls/hosts", false),
            spec("", "", "Ingress", "spec/tls/secretName", false),
            spec("", "", "Service", "spec/ports/port", false),
            spec("", "", "Service", "spec/ports/targetPort", false),
            spec("", "", "PersistentVolume", "spec/nfs/server", false),
            any("metadata/labels", false),
            any("metadata/annotations", false),
        ]);
        // What commonAnnotations writes into pod templates is resolved too.
        vars.extend(c.common_annotations.iter().skip(1).map(|s| {
            let mut s = s.clone();
            s.create = false;
            s
        }));
        c.var_reference = vars;
        c.name_reference = default_name_references();
        c
    }

    /// Merges `other` in as kustomize does: a new spec replaces an existing one for the same
    /// path whose kind filter covers it (so a spec for one kind narrows a spec for every kind);
    /// others are added.
    pub(crate) fn merge(&mut self, other: &Config) -> Result<(), String> {
        if other == &*DEFAULTS && self == other {
            // The defaults merged into themselves (the most common merge) stay as they are.
            return Ok(());
        }
        fn add(into: &mut Vec<FieldSpec>, from: &[FieldSpec]) -> Result<(), String> {
            for spec in from {
                let covering = into.iter().position(|existing| {
                    existing.path == spec.path
                        && (existing.group.is_empty() || existing.group == spec.group)
                        && (existing.version.is_empty() || existing.version == spec.version)
                        && (existing.kind.is_empty() || existing.kind == spec.kind)
                });
                match covering {
                    Some(i) if into[i] == *spec => {}
                    Some(i)
                        if into[i].group == spec.group
                            && into[i].version == spec.version
                            && into[i].kind == spec.kind
                            && into[i].create != spec.create =>
                    {
                        return Err(format!(
                            "conflicting fieldspecs: {} for {} is created in one configuration and not in another",
                            spec.path_string(),
                            if spec.kind.is_empty() {
                                "every kind"
                            } else {
                                &spec.kind
                            }
                        ));
                    }
                    Some(i) => into[i] = spec.clone(),
                    None => into.push(spec.clone()),
                }
            }
            Ok(())
        }
        add(&mut self.name_prefix, &other.name_prefix)?;
        add(&mut self.name_suffix, &other.name_suffix)?;
        add(&mut self.namespace, &other.namespace)?;
        add(&mut self.common_labels, &other.common_labels)?;
        add(&mut self.template_labels, &other.template_labels)?;
        add(&mut self.common_annotations, &other.common_annotations)?;
        add(&mut self.labels, &other.labels)?;
        add(&mut self.var_reference, &other.var_reference)?;
        add(&mut self.images, &other.images)?;
        add(&mut self.replicas, &other.replicas)?;
        for reference in &other.name_reference {
            match self.name_reference.iter_mut().find(|r| {
                r.group == reference.group
                    && r.version == reference.version
                    && r.kind == reference.kind
            }) {
                Some(existing) => {
                    for spec in &reference.referrers {
                        if !existing.referrers.contains(spec) {
                            existing.referrers.push(spec.clone());
                        }
                    }
                }
                None => self.name_reference.push(reference.clone()),
            }
        }
        for kind in &other.cluster_scoped_kinds {
            if !self.cluster_scoped_kinds.contains(kind) {
                self.cluster_scoped_kinds.push(kind.clone());
            }
        }
        Ok(())
    }

    /// A `configurations` file.
    pub(crate) fn from_yaml(file: &str, bytes: &[u8]) -> Result<Config, String> {
        let docs = converge_core::parse_yaml_documents(
            file,
            bytes,
            converge_core::DuplicateKeys::LastWins,
        )
        .map_err(|e| e.to_string())?;
        let mut config = Config::default();
        for mut doc in docs {
            super::types::canonical_keys(&mut doc.value);
            let parsed: TransformerConfig = serde_json::from_value(doc.value)
                .map_err(|e| format!("{file}: invalid transformer configuration: {e}"))?;
            let specs = |args: &[super::types::FieldSpecArgs]| -> Vec<FieldSpec> {
                args.iter().map(FieldSpec::from_args).collect()
            };
            let mut c = Config {
                name_prefix: specs(&parsed.name_prefix),
                name_suffix: specs(&parsed.name_suffix),
                namespace: specs(&parsed.namespace),
                common_labels: specs(&parsed.common_labels),
                template_labels: specs(&parsed.template_labels),
                common_annotations: specs(&parsed.common_annotations),
                var_reference: specs(&parsed.var_reference),
                images: specs(&parsed.images),
                replicas: specs(&parsed.replicas),
                ..Config::default()
            };
            c.labels = specs(&parsed.labels);
            c.name_reference = parsed
                .name_reference
                .iter()
                .map(|r: &NameBackReferences| NameReference {
                    group: r.group.clone(),
                    version: r.version.clone(),
                    kind: r.kind.clone(),
                    referrers: specs(&r.field_specs),
                })
                .collect();
            config.merge(&c)?;
        }
        Ok(config)
    }

    /// A `crds` file: a map of OpenAPI definitions by type name, as kube-openapi writes them
    /// (`{"<package>.<Kind>": {"Schema": {…}, "Dependencies": […]}}`) or as plain schemas
    /// with `x-kubernetes-group-version-kind`. Below each definition that looks like a
    /// Kubernetes type (with `kind`, `apiVersion` and `metadata`), properties marked
    /// `x-kubernetes-object-ref-kind` (with `-api-version` and `-name-key`) become name
    /// references, `x-kubernetes-annotation` annotation fields, `x-kubernetes-label-selector`
    /// label fields and `x-kubernetes-identity` name fields, following `$ref`s.
    pub(crate) fn add_crds(&mut self, file: &str, bytes: &[u8]) -> Result<(), String> {
        let docs = converge_core::parse_documents(file, bytes).map_err(|e| e.to_string())?;
        for doc in docs {
            let Value::Object(definitions) = doc.value else {
                return Err(format!(
                    "{file}: a crds file is a map of OpenAPI definitions"
                ));
            };
            for (name, definition) in &definitions {
                let schema = definition.get("Schema").unwrap_or(definition);
                let (group, version, kind) = match definition
                    .pointer("/x-kubernetes-group-version-kind/0")
                    .or_else(|| definition.get("x-kubernetes-group-version-kind"))
                {
                    Some(gvk) => {
                        let text = |k: &str| {
                            gvk.get(k)
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned()
                        };
                        (text("group"), text("version"), text("kind"))
                    }
                    None => {
                        let properties = schema.get("properties");
                        let has = |p: &str| properties.and_then(|ps| ps.get(p)).is_some();
                        if !(has("kind") && has("apiVersion") && has("metadata")) {
                            continue;
                        }
                        // The type name's last part is the kind.
                        let kind = name.rsplit('.').next().unwrap_or(name);
                        (String::new(), String::new(), kind.to_owned())
                    }
                };
                let mut found = Config::default();
                let referrer =
                    |path: &[String]| spec(&group, &version, &kind, &path.join("/"), false);
                collect_crd_fields(
                    schema,
                    &mut Vec::new(),
                    &referrer,
                    &mut found,
                    &definitions,
                    0,
                );
                self.merge(&found)?;
            }
        }
        Ok(())
    }
}

/// The definition a `$ref` names in `all`: by the whole reference, or by its last part after
/// `#/definitions/`.
fn lookup<'a>(all: &'a serde_json::Map<String, Value>, reference: &str) -> Option<&'a Value> {
    let found = all
        .get(reference)
        .or_else(|| all.get(reference.trim_start_matches("#/definitions/")))?;
    Some(found.get("Schema").unwrap_or(found))
}

/// Adds to `config` the fields the `x-kubernetes-*` extensions mark below `schema` (at
/// `path`), following `$ref`s into `all`.
fn collect_crd_fields(
    schema: &Value,
    path: &mut Vec<String>,
    referrer: &dyn Fn(&[String]) -> FieldSpec,
    config: &mut Config,
    all: &serde_json::Map<String, Value>,
    depth: usize,
) {
    if depth > 20 {
        return;
    }
    let Some(Value::Object(properties)) = schema.get("properties") else {
        return;
    };
    for (name, property) in properties {
        path.push(name.clone());
        let marked = |key: &str| property.get(key).is_some();
        if marked("x-kubernetes-annotation") {
            config.common_annotations.push(referrer(path));
        }
        if marked("x-kubernetes-label-selector") {
            config.common_labels.push(referrer(path));
        }
        if marked("x-kubernetes-identity") {
            config.name_prefix.push(referrer(path));
            config.name_suffix.push(referrer(path));
        }
        let text = |key: &str| property.get(key).and_then(Value::as_str);
        if let (Some(api_version), Some(kind)) = (
            text("x-kubernetes-object-ref-api-version"),
            text("x-kubernetes-object-ref-kind"),
        ) {
            let (group, _) = api_version.rsplit_once('/').unwrap_or(("", api_version));
            let mut at = path.clone();
            at.push(
                text("x-kubernetes-object-ref-name-key")
                    .unwrap_or("name")
                    .to_owned(),
            );
            config.name_reference.push(NameReference {
                group: group.to_owned(),
                version: String::new(),
                kind: kind.to_owned(),
                referrers: vec![referrer(&at)],
            });
        }
        if let Some(target) = property
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| lookup(all, r))
        {
            collect_crd_fields(target, path, referrer, config, all, depth + 1);
        }
        // Inline schemas too (kube-openapi writes `$ref`s; hand-written schemas nest).
        collect_crd_fields(property, path, referrer, config, all, depth + 1);
        path.pop();
    }
}

/// kustomize's default name-reference table.
fn default_name_references() -> Vec<NameReference> {
    let mut refs = Vec::new();
    let mut add = |group: &str, version: &str, kind: &str, referrers: Vec<FieldSpec>| {
        refs.push(NameReference {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
            referrers,
        });
    };
    let hpa = |path: &str| spec("", "", "HorizontalPodAutoscaler", path, false);
    for kind in [
        "Deployment",
        "ReplicationController",
        "ReplicaSet",
        "StatefulSet",
    ] {
        add("", "", kind, vec![hpa("spec/scaleTargetRef/name")]);
    }

    let pod_paths = |suffixes: &[&str]| -> Vec<FieldSpec> {
        let mut specs = Vec::new();
        for (g, v, k, prefix) in POD_SPECS.iter().chain([CRON_JOB].iter()) {
            for suffix in suffixes {
                specs.push(spec(g, v, k, &format!("{prefix}/{suffix}"), false));
            }
        }
        specs
    };
    let mut config_map = pod_paths(&[
        "volumes/configMap/name",
        "containers/env/valueFrom/configMapKeyRef/name",
        "initContainers/env/valueFrom/configMapKeyRef/name",
        "containers/envFrom/configMapRef/name",
        "initContainers/envFrom/configMapRef/name",
        "volumes/projected/sources/configMap/name",
    ]);
    config_map.extend([
        spec("", "", "Node", "spec/configSource/configMap", false),
        spec("", "", "Role", "rules/resourceNames", false),
        spec("", "", "ClusterRole", "rules/resourceNames", false),
        spec(
            "",
            "",
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap",
            false,
        ),
        spec(
            "serving.knative.dev",
            "v1",
            "Service",
            "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name",
            false,
        ),
        spec(
            "serving.knative.dev",
            "v1",
            "Service",
            "spec/template/spec/containers/envFrom/configMapRef/name",
            false,
        ),
    ]);
    add("", "v1", "ConfigMap", config_map);

    let mut secret = pod_paths(&[
        "volumes/secret/secretName",
        "containers/env/valueFrom/secretKeyRef/name",
        "initContainers/env/valueFrom/secretKeyRef/name",
        "containers/envFrom/secretRef/name",
        "initContainers/envFrom/secretRef/name",
        "imagePullSecrets/name",
        "volumes/projected/sources/secret/name",
    ]);
    secret.extend([
        spec("", "", "Ingress", "spec/tls/secretName", false),
        spec(
            "",
            "",
            "Ingress",
            "metadata/annotations/ingress.kubernetes.io\\/auth-secret",
            false,
        ),
        spec(
            "",
            "",
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret",
            false,
        ),
        spec(
            "",
            "",
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret",
            false,
        ),
        spec("", "", "ServiceAccount", "imagePullSecrets/name", false),
        spec("", "", "StorageClass", "parameters/secretName", false),
        spec("", "", "StorageClass", "parameters/adminSecretName", false),
        spec("", "", "StorageClass", "parameters/userSecretName", false),
        spec("", "", "StorageClass", "parameters/secretRef", false),
        spec("", "", "Role", "rules/resourceNames", false),
        spec("", "", "ClusterRole", "rules/resourceNames", false),
        spec(
            "serving.knative.dev",
            "v1",
            "Service",
            "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            false,
        ),
        spec(
            "",
            "",
            "PersistentVolume",
            "spec/azureFile/secretName",
            false,
        ),
    ]);
    add("", "v1", "Secret", secret);

    add(
        "",
        "v1",
        "Service",
        vec![
            spec("apps", "", "StatefulSet", "spec/serviceName", false),
            spec(
                "",
                "",
                "Ingress",
                "spec/rules/http/paths/backend/serviceName",
                false,
            ),
            spec("", "", "Ingress", "spec/backend/serviceName", false),
            spec(
                "",
                "",
                "Ingress",
                "spec/rules/http/paths/backend/service/name",
                false,
            ),
            spec("", "", "Ingress", "spec/defaultBackend/service/name", false),
            spec(
                "apiregistration.k8s.io",
                "",
                "APIService",
                "spec/service/name",
                false,
            ),
            spec(
                "admissionregistration.k8s.io",
                "",
                "ValidatingWebhookConfiguration",
                "webhooks/clientConfig/service",
                false,
            ),
            spec(
                "admissionregistration.k8s.io",
                "",
                "MutatingWebhookConfiguration",
                "webhooks/clientConfig/service",
                false,
            ),
        ],
    );
    let rbac = "rbac.authorization.k8s.io";
    add(
        "rbac.authorization.k8s.io",
        "",
        "Role",
        vec![spec(rbac, "", "RoleBinding", "roleRef/name", false)],
    );
    add(
        "rbac.authorization.k8s.io",
        "",
        "ClusterRole",
        vec![
            spec(rbac, "", "RoleBinding", "roleRef/name", false),
            spec(rbac, "", "ClusterRoleBinding", "roleRef/name", false),
        ],
    );
    let workloads = [
        "StatefulSet",
        "Deployment",
        "ReplicationController",
        "Job",
        "DaemonSet",
    ];
    let mut service_account = vec![
        spec(rbac, "", "RoleBinding", "subjects", false),
        spec(rbac, "", "ClusterRoleBinding", "subjects", false),
        spec("", "", "Pod", "spec/serviceAccountName", false),
        spec(
            "",
            "",
            "CronJob",
            "spec/jobTemplate/spec/template/spec/serviceAccountName",
            false,
        ),
    ];
    service_account.extend(
        workloads
            .iter()
            .map(|k| spec("", "", k, "spec/template/spec/serviceAccountName", false)),
    );
    add("", "v1", "ServiceAccount", service_account);
    let mut claim = vec![
        spec(
            "",
            "",
            "Pod",
            "spec/volumes/persistentVolumeClaim/claimName",
            false,
        ),
        spec(
            "",
            "",
            "CronJob",
            "spec/jobTemplate/spec/template/spec/volumes/persistentVolumeClaim/claimName",
            false,
        ),
    ];
    claim.extend(workloads.iter().map(|k| {
        spec(
            "",
            "",
            k,
            "spec/template/spec/volumes/persistentVolumeClaim/claimName",
            false,
        )
    }));
    add("", "v1", "PersistentVolumeClaim", claim);
    add(
        "",
        "v1",
        "PersistentVolume",
        vec![
            spec("", "", "PersistentVolumeClaim", "spec/volumeName", false),
            spec("", "", "ClusterRole", "rules/resourceNames", false),
        ],
    );
    add(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        vec![
            spec("", "", "PersistentVolume", "spec/storageClassName", false),
            spec(
                "",
                "",
                "PersistentVolumeClaim",
                "spec/storageClassName",
                false,
            ),
            spec(
                "",
                "",
                "StatefulSet",
                "spec/volumeClaimTemplates/spec/storageClassName",
                false,
            ),
        ],
    );
    let mut priority = vec![
        spec("", "", "Pod", "spec/priorityClassName", false),
        spec(
            "",
            "",
            "CronJob",
            "spec/jobTemplate/spec/template/spec/priorityClassName",
            false,
        ),
    ];
    priority.extend(
        workloads
            .iter()
            .map(|k| spec("", "", k, "spec/template/spec/priorityClassName", false)),
    );
    add("scheduling.k8s.io", "v1", "PriorityClass", priority);
    let admission = "admissionregistration.k8s.io";
    add(
        admission,
        "",
        "ValidatingAdmissionPolicy",
        vec![spec(
            admission,
            "",
            "ValidatingAdmissionPolicyBinding",
            "spec/policyName",
            false,
        )],
    );
    add(
        admission,
        "",
        "MutatingAdmissionPolicy",
        vec![spec(
            admission,
            "",
            "MutatingAdmissionPolicyBinding",
            "spec/policyName",
            false,
        )],
    );
    refs
}

#[cfg(test)]
mod merge_tests {
    use super::*;

    #[test]
    fn the_defaults_merged_into_themselves_stay_as_they_are() {
        let mut merged = Config::built_in();
        // The general path, not the shortcut: `merged` is not compared with the defaults
        // until after.
        merged.cluster_scoped_kinds.push(("x".into(), "Y".into()));
        let mut other = Config::built_in();
        other.cluster_scoped_kinds.push(("x".into(), "Y".into()));
        merged.merge(&other).expect("merge");
        assert_eq!(merged, other);
    }
}
