//! Patch metadata: the built-in Kubernetes 1.35 table on real kinds, the graph's own
//! consistency, and `Schema::from_crd` on real CustomResourceDefinitions from the corpus.

use crate::support::corpus;
use std::collections::HashSet;

use converge_core::parse_manifests;
use converge_diff::schema::{
    ListSemantics, ListStrategy, ListType, MapType, ObjectStrategy, Schema, TypeKind, TypeRef,
};
use serde_json::{Value, json};

fn kind(group: &str, version: &str, kind: &str) -> TypeRef<'static> {
    Schema::kubernetes()
        .for_kind(group, version, kind)
        .unwrap_or_else(|| panic!("{group}/{version} {kind} is not in the table"))
}

fn at<'a>(root: TypeRef<'a>, pointer: &str) -> TypeRef<'a> {
    root.pointer(pointer)
        .unwrap_or_else(|| panic!("{pointer} is not in {root:?}"))
}

fn list<'a>(root: TypeRef<'a>, pointer: &str) -> ListSemantics<'a> {
    at(root, pointer)
        .list()
        .unwrap_or_else(|| panic!("{pointer} is not a list"))
}

fn map_keys<'a>(list: &ListSemantics<'a>) -> Vec<&'a str> {
    match list.list_type {
        ListType::Map { keys } => keys.iter().map(String::as_str).collect(),
        other => panic!("not a list-map: {other:?}"),
    }
}

fn merge(key: &str) -> ListStrategy<'_> {
    ListStrategy::Merge { key: Some(key) }
}

// ---- the built-in table --------------------------------------------------------------------

#[test]
fn deployment_containers_merge_by_name() {
    let deployment = kind("apps", "v1", "Deployment");
    let pod_spec = at(deployment, "/spec/template/spec");
    assert_eq!(pod_spec.name(), Some("io.k8s.api.core.v1.PodSpec"));
    for field in ["containers", "initContainers", "ephemeralContainers"] {
        let containers = list(pod_spec, &format!("/{field}"));
        assert_eq!(containers.strategy, merge("name"), "{field}");
        assert_eq!(map_keys(&containers), ["name"], "{field}");
    }
    let container = at(pod_spec, "/containers").items().expect("items");
    assert_eq!(container.kind(), TypeKind::Object);
    assert_eq!(container.name(), Some("io.k8s.api.core.v1.Container"));
    // Field by field and by pointer reach the same place.
    let image = deployment
        .field("spec")
        .and_then(|t| t.field("template"))
        .and_then(|t| t.field("spec"))
        .and_then(|t| t.field("containers"))
        .and_then(|t| t.items())
        .and_then(|t| t.field("image"))
        .expect("image");
    assert_eq!(image.kind(), TypeKind::Scalar);
    assert_eq!(
        at(deployment, "/spec/template/spec/containers/-/image").kind(),
        TypeKind::Scalar
    );
}

#[test]
fn container_lists_have_their_own_keys() {
    let container = at(kind("", "v1", "Pod"), "/spec/containers/0");

    // SSA keys ports by port and protocol; SMP only knows `containerPort`.
    let ports = list(container, "/ports");
    assert_eq!(ports.strategy, merge("containerPort"));
    assert_eq!(map_keys(&ports), ["containerPort", "protocol"]);

    let env = list(container, "/env");
    assert_eq!(env.strategy, merge("name"));
    assert_eq!(map_keys(&env), ["name"]);
    assert_eq!(
        at(container, "/env/0/valueFrom/configMapKeyRef")
            .object()
            .expect("an object")
            .map_type,
        MapType::Atomic
    );

    let mounts = list(container, "/volumeMounts");
    assert_eq!(mounts.strategy, merge("mountPath"));
    assert_eq!(map_keys(&mounts), ["mountPath"]);
    assert_eq!(
        list(container, "/volumeDevices").strategy,
        merge("devicePath")
    );

    for atomic in ["/envFrom", "/command", "/args", "/resizePolicy"] {
        let semantics = list(container, atomic);
        assert_eq!(semantics.strategy, ListStrategy::Replace, "{atomic}");
        assert_eq!(semantics.list_type, ListType::Atomic, "{atomic}");
    }
}

#[test]
fn pod_volumes_retain_keys_on_each_volume() {
    let pod_spec = at(kind("", "v1", "Pod"), "/spec");
    let volumes = at(pod_spec, "/volumes");
    let semantics = volumes.list().expect("a list");
    assert_eq!(semantics.strategy, merge("name"));
    assert_eq!(map_keys(&semantics), ["name"]);
    let volume = volumes.items().expect("items").object().expect("an object");
    assert_eq!(volume.strategy, ObjectStrategy::RetainKeys);
    assert_eq!(volume.map_type, MapType::Granular);

    // A Pod's resource claims are `merge,retainKeys` too.
    let claims = at(pod_spec, "/resourceClaims").items().expect("items");
    assert_eq!(
        claims.object().map(|o| o.strategy),
        Some(ObjectStrategy::RetainKeys)
    );
    // And the volume source inside a volume merges as usual.
    assert_eq!(
        at(pod_spec, "/volumes/0/configMap")
            .object()
            .map(|o| o.strategy),
        Some(ObjectStrategy::Merge)
    );
    // Containers are not `retainKeys`.
    assert_eq!(
        at(pod_spec, "/containers/0").object().map(|o| o.strategy),
        Some(ObjectStrategy::Merge)
    );
}

#[test]
fn deployment_strategy_retains_keys_but_its_type_does_not() {
    let deployment = kind("apps", "v1", "Deployment");
    let strategy = at(deployment, "/spec/strategy");
    assert_eq!(
        strategy.name(),
        Some("io.k8s.api.apps.v1.DeploymentStrategy")
    );
    assert_eq!(
        strategy.object().map(|o| o.strategy),
        Some(ObjectStrategy::RetainKeys)
    );
    // Under rollingUpdate, ordinary merging again.
    assert_eq!(
        at(deployment, "/spec/strategy/rollingUpdate")
            .object()
            .map(|o| o.strategy),
        Some(ObjectStrategy::Merge)
    );
    // A DaemonSet's updateStrategy has no marker.
    assert_eq!(
        at(kind("apps", "v1", "DaemonSet"), "/spec/updateStrategy")
            .object()
            .map(|o| o.strategy),
        Some(ObjectStrategy::Merge)
    );
}

#[test]
fn metadata_finalizers_owner_references_labels() {
    let metadata = at(kind("apps", "v1", "Deployment"), "/metadata");
    assert_eq!(
        metadata.name(),
        Some("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    );

    let finalizers = list(metadata, "/finalizers");
    assert_eq!(finalizers.strategy, ListStrategy::Merge { key: None });
    assert_eq!(finalizers.list_type, ListType::Set);
    assert_eq!(at(metadata, "/finalizers/0").kind(), TypeKind::Scalar);

    let owners = list(metadata, "/ownerReferences");
    assert_eq!(owners.strategy, merge("uid"));
    assert_eq!(map_keys(&owners), ["uid"]);
    // An OwnerReference is atomic for SSA.
    assert_eq!(
        at(metadata, "/ownerReferences/0")
            .object()
            .map(|o| o.map_type),
        Some(MapType::Atomic)
    );

    let managed = list(metadata, "/managedFields");
    assert_eq!(managed.strategy, ListStrategy::Replace);
    assert_eq!(managed.list_type, ListType::Atomic);
    assert_eq!(
        at(metadata, "/managedFields/0/fieldsV1").kind(),
        TypeKind::Unknown
    );

    for map in ["labels", "annotations"] {
        let labels = at(metadata, &format!("/{map}"));
        assert_eq!(labels.kind(), TypeKind::Map, "{map}");
        assert_eq!(
            labels.object(),
            at(metadata, "/labels").object(),
            "labels and annotations merge alike"
        );
        assert_eq!(labels.object().map(|o| o.map_type), Some(MapType::Granular));
        assert_eq!(labels.values().map(|v| v.kind()), Some(TypeKind::Scalar));
        assert!(
            labels.field("app").is_none(),
            "a map has values, not fields"
        );
        assert!(labels.items().is_none());
    }
    assert_eq!(
        at(metadata, "/labels/app.kubernetes.io~1name").kind(),
        TypeKind::Scalar
    );
    assert_eq!(at(metadata, "/creationTimestamp").kind(), TypeKind::Scalar);
}

#[test]
fn service_ports_are_keyed_by_port_and_protocol() {
    let service = kind("", "v1", "Service");
    let ports = list(service, "/spec/ports");
    assert_eq!(ports.strategy, merge("port"));
    assert_eq!(map_keys(&ports), ["port", "protocol"]);
    let target_port = at(service, "/spec/ports/0/targetPort");
    assert_eq!(target_port.kind(), TypeKind::Scalar);
    assert_eq!(
        target_port.name(),
        Some("io.k8s.apimachinery.pkg.util.intstr.IntOrString")
    );
    // The selector is a plain string map, atomic for SSA.
    let selector = at(service, "/spec/selector");
    assert_eq!(selector.kind(), TypeKind::Map);
    assert_eq!(selector.object().map(|o| o.map_type), Some(MapType::Atomic));
}

#[test]
fn config_map_data_is_a_map_of_strings() {
    let config_map = kind("", "v1", "ConfigMap");
    for field in ["data", "binaryData"] {
        let data = config_map.field(field).expect(field);
        assert_eq!(data.kind(), TypeKind::Map, "{field}");
        assert_eq!(data.values().map(|v| v.kind()), Some(TypeKind::Scalar));
        assert_eq!(data.object().map(|o| o.map_type), Some(MapType::Granular));
    }
    assert_eq!(at(config_map, "/immutable").kind(), TypeKind::Scalar);
    assert_eq!(
        at(kind("", "v1", "Secret"), "/stringData").kind(),
        TypeKind::Map
    );
}

#[test]
fn unknown_kinds_versions_and_fields_are_none() {
    let schema = Schema::kubernetes();
    assert!(schema.for_kind("", "v1", "Deployment").is_none());
    assert!(schema.for_kind("apps", "v1beta2", "Deployment").is_none());
    assert!(
        schema
            .for_kind("extensions", "v1beta1", "Ingress")
            .is_none()
    );
    assert!(schema.for_kind("apps", "v1", "deployment").is_none());
    assert!(
        schema
            .for_kind("monitoring.coreos.com", "v1", "ServiceMonitor")
            .is_none()
    );

    let deployment = kind("apps", "v1", "Deployment");
    assert!(deployment.field("nonsense").is_none());
    assert!(deployment.pointer("/spec/template/spec/nonsense").is_none());
    assert!(deployment.pointer("/spec/replicas/0").is_none());
    assert!(deployment.items().is_none() && deployment.values().is_none());
    assert!(deployment.list().is_none());
    let replicas = at(deployment, "/spec/replicas");
    assert!(replicas.object().is_none() && replicas.list().is_none());
    assert!(replicas.field("x").is_none());
}

#[test]
fn free_form_values_are_unknown_all_the_way_down() {
    let data = at(kind("apps", "v1", "ControllerRevision"), "/data");
    assert_eq!(data.kind(), TypeKind::Unknown);
    assert_eq!(
        data.name(),
        Some("io.k8s.apimachinery.pkg.runtime.RawExtension")
    );
    assert!(data.list().is_none() && data.object().is_none());
    let deep = at(data, "/spec/template/0/anything");
    assert_eq!(deep.kind(), TypeKind::Unknown);
    assert_eq!(data.items().map(|t| t.kind()), Some(TypeKind::Unknown));
    assert_eq!(data.values().map(|t| t.kind()), Some(TypeKind::Unknown));

    // A CRD's own schema is JSONSchemaProps, whose `default` and `example` are free JSON.
    let crd = kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition");
    let props = at(crd, "/spec/versions/0/schema/openAPIV3Schema");
    assert_eq!(
        props.name(),
        Some("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps")
    );
    assert_eq!(at(props, "/default").kind(), TypeKind::Unknown);
    // The schema is recursive: properties hold more JSONSchemaProps.
    assert_eq!(
        at(props, "/properties/spec/properties/replicas").name(),
        props.name()
    );
}

#[test]
fn smp_and_ssa_disagree_where_the_api_says_so() {
    // SMP merges a Job's conditions by type; SSA treats them as one value.
    let conditions = list(kind("batch", "v1", "Job"), "/status/conditions");
    assert_eq!(conditions.strategy, merge("type"));
    assert_eq!(conditions.list_type, ListType::Atomic);

    let host_ips = list(kind("", "v1", "Pod"), "/status/hostIPs");
    assert_eq!(host_ips.strategy, merge("ip"));
    assert_eq!(host_ips.list_type, ListType::Atomic);

    // SSA keys resource claims by name; SMP replaces the list.
    let claims = list(kind("", "v1", "Pod"), "/spec/containers/0/resources/claims");
    assert_eq!(claims.strategy, ListStrategy::Replace);
    assert_eq!(map_keys(&claims), ["name"]);

    // Two SSA keys, one SMP key.
    let spread = list(kind("", "v1", "Pod"), "/spec/topologySpreadConstraints");
    assert_eq!(spread.strategy, merge("topologyKey"));
    assert_eq!(map_keys(&spread), ["topologyKey", "whenUnsatisfiable"]);

    // A set of strings merged by SMP.
    let cidrs = list(kind("", "v1", "Node"), "/spec/podCIDRs");
    assert_eq!(cidrs.strategy, ListStrategy::Merge { key: None });
    assert_eq!(cidrs.list_type, ListType::Set);

    // Tolerations have no marker for SMP and are atomic for SSA.
    let tolerations = list(kind("", "v1", "Pod"), "/spec/tolerations");
    assert_eq!(tolerations.strategy, ListStrategy::Replace);
    assert_eq!(tolerations.list_type, ListType::Atomic);
}

#[test]
fn object_markers_follow_the_field_that_holds_them() {
    // LabelSelector is atomic wherever it is used.
    for (k, pointer) in [
        (kind("apps", "v1", "Deployment"), "/spec/selector"),
        (
            kind("networking.k8s.io", "v1", "NetworkPolicy"),
            "/spec/podSelector",
        ),
    ] {
        let selector = at(k, pointer).object().expect("an object");
        assert_eq!(selector.map_type, MapType::Atomic, "{pointer}");
        assert_eq!(selector.strategy, ObjectStrategy::Merge, "{pointer}");
    }
    // A PodDisruptionBudget's selector is replaced whole by SMP.
    let pdb = at(
        kind("policy", "v1", "PodDisruptionBudget"),
        "/spec/selector",
    );
    assert_eq!(
        pdb.object().map(|o| o.strategy),
        Some(ObjectStrategy::Replace)
    );

    // ObjectReference is atomic, except as a PersistentVolume's claimRef.
    let pv = kind("", "v1", "PersistentVolume");
    let claim_ref = at(pv, "/spec/claimRef");
    assert_eq!(claim_ref.name(), Some("io.k8s.api.core.v1.ObjectReference"));
    assert_eq!(
        claim_ref.object().map(|o| o.map_type),
        Some(MapType::Granular)
    );
    let reference = at(kind("", "v1", "Event"), "/involvedObject");
    assert_eq!(reference.name(), claim_ref.name());
    assert_eq!(
        reference.object().map(|o| o.map_type),
        Some(MapType::Atomic)
    );
    // A field's override does not leak into the type's fields.
    assert_eq!(at(claim_ref, "/name").kind(), TypeKind::Scalar);
}

#[test]
fn the_table_covers_the_workload_kinds() {
    let schema = Schema::kubernetes();
    let kinds: HashSet<String> = schema
        .kinds()
        .map(|k| format!("{}/{} {}", k.group, k.version, k.kind))
        .collect();
    for expected in [
        "/v1 Pod",
        "/v1 Service",
        "/v1 ConfigMap",
        "/v1 Secret",
        "/v1 Namespace",
        "/v1 ServiceAccount",
        "/v1 PersistentVolumeClaim",
        "apps/v1 Deployment",
        "apps/v1 StatefulSet",
        "apps/v1 DaemonSet",
        "batch/v1 CronJob",
        "networking.k8s.io/v1 Ingress",
        "rbac.authorization.k8s.io/v1 ClusterRole",
        "autoscaling/v2 HorizontalPodAutoscaler",
        "apiextensions.k8s.io/v1 CustomResourceDefinition",
        "admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration",
    ] {
        assert!(kinds.contains(expected), "{expected} missing");
    }
    assert_eq!(kinds.len(), schema.kinds().count(), "a kind listed twice");
    assert_eq!(kinds.len(), 305);
    let listed: Vec<_> = schema.kinds().collect();
    assert!(
        listed
            .windows(2)
            .all(|w| (w[0].kind, w[0].group, w[0].version) < (w[1].kind, w[1].group, w[1].version)),
        "kinds() is sorted by kind, group, version"
    );
}

/// Every kind resolves, and across the whole graph every list says how it merges and its
/// keys are fields of its elements.
#[test]
fn every_kind_resolves_and_every_list_key_is_a_field() {
    let schema = Schema::kubernetes();
    let mut seen = HashSet::new();
    let mut problems = Vec::new();
    let mut lists = 0;
    for k in schema.kinds() {
        let root = schema
            .for_kind(k.group, k.version, k.kind)
            .unwrap_or_else(|| panic!("{k:?} does not resolve"));
        assert_eq!(root.kind(), TypeKind::Object, "{k:?}");
        if !k.kind.ends_with("List") && !matches!(k.kind, "DeleteOptions" | "WatchEvent") {
            for field in ["apiVersion", "kind"] {
                assert_eq!(
                    root.field(field).map(|t| t.kind()),
                    Some(TypeKind::Scalar),
                    "{k:?} {field}"
                );
            }
        }
        let mut stack = vec![(format!("{}/{} {}", k.group, k.version, k.kind), root)];
        while let Some((path, node)) = stack.pop() {
            // Named types are walked once; inline lists and maps each time they are met.
            if let Some(name) = node.name()
                && !seen.insert((name, format!("{:?}", node.object())))
            {
                continue;
            }
            match node.kind() {
                TypeKind::Object => {
                    for (name, field) in node.fields() {
                        stack.push((format!("{path}.{name}"), field));
                    }
                }
                TypeKind::Map => {
                    stack.push((format!("{path}{{}}"), node.values().expect("values")))
                }
                TypeKind::List => {
                    lists += 1;
                    let semantics = node.list().expect("a list has semantics");
                    let items = node.items().expect("a list has items");
                    let mut keys: Vec<&str> = match semantics.list_type {
                        ListType::Map { keys } => keys.iter().map(String::as_str).collect(),
                        _ => Vec::new(),
                    };
                    if let ListStrategy::Merge { key: Some(key) } = semantics.strategy {
                        keys.push(key);
                    }
                    for key in keys {
                        if items.field(key).map(|t| t.kind()) != Some(TypeKind::Scalar) {
                            problems.push(format!("{path}: key {key} is not a scalar field"));
                        }
                    }
                    if semantics.list_type == ListType::Set && items.kind() != TypeKind::Scalar {
                        problems.push(format!("{path}: a set of {:?}", items.kind()));
                    }
                    stack.push((format!("{path}[]"), items));
                }
                TypeKind::Scalar | TypeKind::Unknown => {}
                other => problems.push(format!("{path}: new kind {other:?}")),
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(seen.len() > 700, "only {} named types reached", seen.len());
    assert!(lists > 400, "only {lists} lists walked");
}

/// The table is data, not code: it must parse as the generator's documented format.
#[test]
fn the_committed_table_is_sorted_and_one_entry_per_line() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/kubernetes-1.35.json");
    let text = std::fs::read_to_string(&path).expect("the table");
    let table: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(
        table["source"]["package"],
        json!("kubernetes-validate==1.37.0")
    );
    let types = table["types"].as_object().expect("types");
    let kinds = table["kinds"].as_object().expect("kinds");
    // One line per kind and per type, plus the frame: reviews diff type by type.
    assert_eq!(text.lines().count(), kinds.len() + types.len() + 5);
    let names: Vec<_> = types.keys().collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "types are sorted");
    // Descriptions are stripped: `description` remains only as a field name (JSONSchemaProps).
    assert_eq!(
        text.matches("\"description\":").count(),
        text.matches("\"description\":\"scalar\"").count()
    );
}

// ---- CustomResourceDefinitions -------------------------------------------------------------

fn crd_schema(name: &str) -> Option<Schema> {
    let path = corpus(&format!("kube-prometheus-v0.17.0/manifests/setup/{name}"))?;
    let bytes = std::fs::read(&path).expect("read");
    let mut manifests = parse_manifests(name, &bytes).expect("YAML");
    assert_eq!(manifests.len(), 1, "{name}");
    let crd = manifests.remove(0).into_object();
    Some(Schema::from_crd(&crd).unwrap_or_else(|e| panic!("{name}: {e}")))
}

#[test]
fn service_monitor_crd_keys_its_lists() {
    let Some(schema) = crd_schema("0servicemonitorCustomResourceDefinition.yaml") else {
        return;
    };
    let kinds: Vec<_> = schema.kinds().collect();
    assert_eq!(kinds.len(), 1);
    assert_eq!(
        (kinds[0].group, kinds[0].version, kinds[0].kind),
        ("monitoring.coreos.com", "v1", "ServiceMonitor")
    );
    let monitor = schema
        .for_kind("monitoring.coreos.com", "v1", "ServiceMonitor")
        .expect("served");
    assert_eq!(
        monitor.name(),
        Some("com.coreos.monitoring.v1.ServiceMonitor")
    );
    assert!(
        schema
            .for_kind("monitoring.coreos.com", "v1alpha1", "ServiceMonitor")
            .is_none()
    );
    assert!(schema.for_kind("", "v1", "Pod").is_none());

    let bindings = list(monitor, "/status/bindings");
    assert_eq!(
        map_keys(&bindings),
        ["group", "resource", "name", "namespace"]
    );
    assert_eq!(
        bindings.strategy,
        ListStrategy::Replace,
        "CRDs carry no SMP strategy"
    );
    assert_eq!(
        map_keys(&list(monitor, "/status/bindings/0/conditions")),
        ["type"]
    );
    assert_eq!(
        list(monitor, "/spec/scrapeProtocols").list_type,
        ListType::Set
    );
    let endpoints = list(monitor, "/spec/endpoints");
    assert_eq!(endpoints.list_type, ListType::Atomic, "no marker: atomic");
    assert_eq!(
        list(monitor, "/spec/selector/matchExpressions").list_type,
        ListType::Atomic
    );
    assert_eq!(
        at(monitor, "/spec/selector").object().map(|o| o.map_type),
        Some(MapType::Atomic)
    );
    assert_eq!(
        at(monitor, "/spec/namespaceSelector")
            .object()
            .map(|o| o.map_type),
        Some(MapType::Granular)
    );
    // int-or-string is a scalar.
    assert_eq!(
        at(monitor, "/spec/endpoints/0/targetPort").kind(),
        TypeKind::Scalar
    );
    assert_eq!(
        at(monitor, "/spec/selector/matchLabels").kind(),
        TypeKind::Map
    );
    // An undeclared field of a schema that does not preserve unknown fields.
    assert!(monitor.pointer("/spec/nonsense").is_none());
}

#[test]
fn custom_resource_metadata_is_object_meta() {
    let Some(schema) = crd_schema("0servicemonitorCustomResourceDefinition.yaml") else {
        return;
    };
    let monitor = schema
        .for_kind("monitoring.coreos.com", "v1", "ServiceMonitor")
        .expect("served");
    // The CRD says `metadata: {type: object}`; the API server uses ObjectMeta.
    let metadata = at(monitor, "/metadata");
    assert_eq!(
        metadata.name(),
        Some("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    );
    let finalizers = list(metadata, "/finalizers");
    assert_eq!(finalizers.list_type, ListType::Set);
    assert_eq!(
        map_keys(&list(monitor, "/metadata/ownerReferences")),
        ["uid"]
    );
    assert_eq!(at(monitor, "/metadata/labels").kind(), TypeKind::Map);
    assert_eq!(at(monitor, "/apiVersion").kind(), TypeKind::Scalar);
    assert_eq!(at(monitor, "/kind").kind(), TypeKind::Scalar);
}

#[test]
fn prometheus_crd_containers_are_atomic_but_their_lists_keyed() {
    let Some(schema) = crd_schema("0prometheusCustomResourceDefinition.yaml") else {
        return;
    };
    let prometheus = schema
        .for_kind("monitoring.coreos.com", "v1", "Prometheus")
        .expect("served");
    // The operator's `containers` field carries no marker, so unlike a Pod's it is atomic
    // for SSA: applying it takes the whole list.
    let containers = list(prometheus, "/spec/containers");
    assert_eq!(containers.list_type, ListType::Atomic);
    assert_ne!(
        containers.list_type,
        list(kind("", "v1", "Pod"), "/spec/containers").list_type
    );
    // The markers inside a container come from the built-in type, so they agree with a Pod's.
    let pod = kind("", "v1", "Pod");
    for (pointer, keys) in [
        ("/containers/0/ports", &["containerPort", "protocol"][..]),
        ("/containers/0/env", &["name"][..]),
        ("/containers/0/volumeMounts", &["mountPath"][..]),
    ] {
        let custom = list(prometheus, &format!("/spec{pointer}"));
        assert_eq!(map_keys(&custom), keys, "{pointer}");
        assert_eq!(
            custom.list_type,
            list(pod, &format!("/spec{pointer}")).list_type,
            "{pointer}"
        );
    }
}

#[test]
fn alertmanager_config_routes_preserve_unknown_fields() {
    let Some(schema) = crd_schema("0alertmanagerConfigCustomResourceDefinition.yaml") else {
        return;
    };
    let config = schema
        .for_kind("monitoring.coreos.com", "v1alpha1", "AlertmanagerConfig")
        .expect("served");
    let routes = at(config, "/spec/route/routes");
    assert_eq!(routes.list().map(|l| l.list_type), Some(ListType::Atomic));
    let route = routes.items().expect("items");
    assert_eq!(route.kind(), TypeKind::Unknown);
    assert_eq!(at(route, "/matchers/0/name").kind(), TypeKind::Unknown);
    assert_eq!(
        map_keys(&list(config, "/spec/receivers")),
        ["name"],
        "receivers are keyed by name"
    );
}

fn widget_crd(versions: Value) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "versions": versions
        }
    })
}

#[test]
fn from_crd_reads_every_served_version_and_the_structural_markers() {
    let v1 = json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": true,
                "properties": {
                    "size": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                    "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                    "limits": {"type": "object", "additionalProperties": {"type": "string"}, "x-kubernetes-map-type": "atomic"},
                    "template": {
                        "type": "object",
                        "x-kubernetes-embedded-resource": true,
                        "x-kubernetes-preserve-unknown-fields": true
                    },
                    "raw": {"x-kubernetes-preserve-unknown-fields": true},
                    "empty": {"type": "object"}
                }
            }
        }
    });
    let crd = widget_crd(json!([
        {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": v1}},
        {"name": "v1beta1", "served": true, "storage": false, "schema": {"openAPIV3Schema": {"type": "object"}}},
        {"name": "v1alpha1", "served": false, "storage": false, "schema": {"openAPIV3Schema": {"type": "object"}}}
    ]));
    let schema = Schema::from_crd(&crd).expect("valid");
    let versions: Vec<_> = schema.kinds().map(|k| k.version).collect();
    assert_eq!(versions, ["v1", "v1beta1"], "only served versions");
    assert!(
        schema
            .for_kind("example.com", "v1alpha1", "Widget")
            .is_none()
    );
    let beta = schema
        .for_kind("example.com", "v1beta1", "Widget")
        .expect("served");
    assert!(beta.field("spec").is_none());
    assert_eq!(
        at(beta, "/metadata").name(),
        Some("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    );

    let widget = schema
        .for_kind("example.com", "v1", "Widget")
        .expect("served");
    assert_eq!(widget.name(), Some("com.example.v1.Widget"));
    let spec = at(widget, "/spec");
    assert_eq!(spec.kind(), TypeKind::Object);
    // Declared fields keep their types; others are unknown but present.
    assert_eq!(at(spec, "/size").kind(), TypeKind::Scalar);
    assert_eq!(at(spec, "/undeclared").kind(), TypeKind::Unknown);
    assert_eq!(list(spec, "/tags").list_type, ListType::Set);
    let limits = at(spec, "/limits");
    assert_eq!(limits.kind(), TypeKind::Map);
    assert_eq!(limits.object().map(|o| o.map_type), Some(MapType::Atomic));
    assert_eq!(at(spec, "/raw").kind(), TypeKind::Unknown);
    let empty = at(spec, "/empty");
    assert_eq!(empty.kind(), TypeKind::Object);
    assert!(empty.field("x").is_none(), "pruned: no field survives");

    // An embedded resource has apiVersion, kind and ObjectMeta.
    let template = at(spec, "/template");
    assert_eq!(template.kind(), TypeKind::Object);
    assert_eq!(at(template, "/kind").kind(), TypeKind::Scalar);
    assert_eq!(
        map_keys(&list(template, "/metadata/ownerReferences")),
        ["uid"]
    );
    assert_eq!(at(template, "/spec/replicas").kind(), TypeKind::Unknown);
}

#[test]
fn from_crd_refuses_what_is_not_a_valid_crd() {
    let error = |crd: &Value| Schema::from_crd(crd).expect_err("refused").to_string();
    assert_eq!(
        error(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})),
        "invalid CustomResourceDefinition x: not an apiextensions.k8s.io/v1 CustomResourceDefinition"
    );
    let mut no_group = widget_crd(json!([]));
    no_group["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("group");
    assert_eq!(
        error(&no_group),
        "invalid CustomResourceDefinition widgets.example.com: spec.group is missing"
    );
    assert_eq!(
        error(&widget_crd(json!([{"name": "v1", "served": true}]))),
        "invalid CustomResourceDefinition widgets.example.com: spec.versions[v1].schema.openAPIV3Schema is missing"
    );
    let keyless = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "items": {"type": "object"}}
    }}}});
    assert_eq!(
        error(&widget_crd(
            json!([{"name": "v1", "served": true, "schema": {"openAPIV3Schema": keyless}}])
        )),
        "invalid CustomResourceDefinition widgets.example.com: spec.versions[v1].schema.openAPIV3Schema.properties.spec.properties.ports: list type map without list-map-keys"
    );
    let odd = json!({"type": "object", "properties": {"mode": {"type": "object", "x-kubernetes-map-type": "sometimes"}}});
    assert!(
        error(&widget_crd(
            json!([{"name": "v1", "served": true, "schema": {"openAPIV3Schema": odd}}])
        ))
        .ends_with(".properties.mode: map type Some(\"sometimes\")")
    );
}
