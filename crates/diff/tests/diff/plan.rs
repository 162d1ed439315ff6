//! Plans over realistic objects: server defaults are not drift, owned fields that left git
//! are, secrets never show.

use converge_core::{Manifest, ObjectRef, Origin, parse_manifests};
use converge_diff::{IgnoreRule, Normalizer, PlanAction, PlanOptions, plan};
use serde_json::{Value, json};

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: web:1
        ports:
        - containerPort: 8080
        resources:
          limits: {cpu: 500m, memory: 1Gi}
";

/// The Deployment as an API server returns it: defaults filled, server fields set, status.
fn live_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": "web", "namespace": "prod", "labels": {"app": "web"},
            "uid": "6b1c", "resourceVersion": "4812", "generation": 3,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "annotations": {"deployment.kubernetes.io/revision": "3"},
            "managedFields": [{
                "manager": "converge", "operation": "Apply", "apiVersion": "apps/v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {
                    "f:replicas": {}, "f:selector": {}, "f:template": {"f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}},
                        "f:resources": {"f:limits": {"f:cpu": {}, "f:memory": {}}}}}}}}}
            }],
        },
        "spec": {
            "replicas": 2, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "name": "web", "image": "web:1", "imagePullPolicy": "IfNotPresent",
                        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                        "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}},
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File",
                    }],
                    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                    "securityContext": {}, "terminationGracePeriodSeconds": 30,
                },
            },
        },
        "status": {"replicas": 2, "readyReplicas": 2, "observedGeneration": 3},
    })
}

fn desired(yaml: &str) -> Vec<Manifest> {
    parse_manifests("desired.yaml", yaml.as_bytes()).expect("valid YAML")
}

fn web() -> ObjectRef {
    ObjectRef::new("apps", "v1", "Deployment", Some("prod"), "web")
}

#[test]
fn server_defaults_and_server_fields_are_not_drift() {
    let options = PlanOptions::default()
        .with_field_manager("converge")
        .with_explanations(true);
    let (desired, live, inventory) = (desired(DEPLOYMENT), [live_deployment()], [web()]);
    let p = plan(&desired, &live, &inventory, &options).expect("plan");
    assert_eq!(p.entries.len(), 1);
    assert_eq!(
        p.entries[0].action,
        PlanAction::Unchanged,
        "{:?}",
        p.entries[0].drift.changes
    );
    let hidden: Vec<String> = p.entries[0]
        .drift
        .hidden
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        hidden.contains(&"/metadata/managedFields: set by the API server".to_owned()),
        "{hidden:?}"
    );
    assert!(hidden.contains(&"/status: status is not compared".to_owned()));
    assert!(p.is_noop());
    assert_eq!(
        p.to_markdown().expect("md"),
        "**Plan:** 0 to create, 0 to update, 0 to prune, 1 unchanged\n\nNo changes.\n"
    );
}

#[test]
fn a_new_image_and_a_dropped_limit_are_an_update_with_a_diff() {
    let changed = DEPLOYMENT
        .replace("web:1", "web:2")
        .replace("limits: {cpu: 500m, memory: 1Gi}", "limits: {cpu: 500m}");
    let options = PlanOptions::default().with_field_manager("converge");
    let (desired, live, inventory) = (desired(&changed), [live_deployment()], [web()]);
    let p = plan(&desired, &live, &inventory, &options).expect("plan");
    let entry = &p.entries[0];
    assert_eq!(entry.action, PlanAction::Update);
    let changes: Vec<String> = entry
        .drift
        .changes
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        changes,
        [
            "/spec/template/spec/containers/0/image: changed",
            "/spec/template/spec/containers/0/resources/limits/memory: removed",
        ]
    );
    let text = p.entry_diff(entry, &Default::default()).expect("diff");
    assert!(
        text.contains("-      - image: web:1\n+      - image: web:2\n"),
        "{text}"
    );
    assert!(text.contains("-            memory: 1Gi\n"), "{text}");
    assert!(!text.contains("resourceVersion"), "normalized: {text}");

    let md = p.to_markdown().expect("md");
    assert!(
        md.starts_with("**Plan:** 0 to create, 1 to update, 0 to prune, 0 unchanged\n"),
        "{md}"
    );
    assert!(
        md.contains("| update | `apps/v1 Deployment prod/web` |"),
        "{md}"
    );
    assert!(md.contains("```diff\ndiff -u -N live/apps.v1.Deployment.prod.web desired/apps.v1.Deployment.prod.web\n"), "{md}");

    let machine = p.to_json();
    assert_eq!(
        machine["summary"],
        json!({"create": 0, "update": 1, "prune": 0, "unchanged": 0})
    );
    assert_eq!(
        machine["entries"][0]["changes"][0],
        json!({
            "path": "/spec/template/spec/containers/0/image", "desired": "web:2", "live": "web:1"
        })
    );
}

#[test]
fn ignore_rules_hide_drift_and_say_so() {
    let scaled = live_deployment();
    let mut scaled = scaled;
    scaled["spec"]["replicas"] = json!(5); // an autoscaler scaled it
    let rule = IgnoreRule::new("hpa-owns-replicas", ["/spec/replicas"])
        .expect("rule")
        .for_kind("apps", "Deployment");
    let options = PlanOptions::default()
        .with_normalizer(Normalizer::default().with_rule(rule))
        .with_explanations(true);
    let (desired, live) = (desired(DEPLOYMENT), [scaled]);
    let p = plan(&desired, &live, &[], &options).expect("plan");
    assert_eq!(p.entries[0].action, PlanAction::Unchanged);
    assert!(
        p.entries[0]
            .drift
            .hidden
            .iter()
            .any(|h| h.to_string() == "/spec/replicas: ignored by rule hpa-owns-replicas")
    );
    let p = plan(&desired, &live, &[], &PlanOptions::default()).expect("plan");
    assert_eq!(
        p.entries[0].action,
        PlanAction::Update,
        "without the rule it is drift"
    );
    assert!(
        p.entries[0].drift.hidden.is_empty(),
        "explanations are only gathered on request"
    );
}

#[test]
fn order_is_apply_order_and_prunes_only_touch_the_inventory() {
    let yaml = format!(
        "{DEPLOYMENT}---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n"
    );
    let old_cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old", "namespace": "prod"}});
    let old_ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "legacy"}});
    let foreign = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "not-ours", "namespace": "prod"}});
    let inventory = vec![
        ObjectRef::new("", "v1", "ConfigMap", Some("prod"), "old"),
        ObjectRef::new("", "v1", "Namespace", None, "legacy"),
        ObjectRef::new("", "v1", "ConfigMap", Some("prod"), "already-deleted"),
    ];
    let (desired, live) = (desired(&yaml), [old_cm, old_ns, foreign]);
    let p = plan(&desired, &live, &inventory, &PlanOptions::default()).expect("plan");
    let steps: Vec<String> = p
        .entries
        .iter()
        .map(|e| format!("{} {}", e.action, e.id))
        .collect();
    assert_eq!(
        steps,
        [
            "create v1 Namespace prod",
            "create apiextensions.k8s.io/v1 CustomResourceDefinition widgets.example.com",
            "create apps/v1 Deployment prod/web",
            "prune v1 ConfigMap prod/old",
            "prune v1 Namespace legacy",
        ],
        "namespaces last when pruning; never what the inventory does not hold"
    );
    assert_eq!(
        p.summary(),
        "3 to create, 0 to update, 2 to prune, 0 unchanged"
    );
}

#[test]
fn secrets_never_show_in_plans() {
    let secret = |v: &str| json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "prod"}, "data": {"password": v}});
    let desired = vec![Manifest::new(secret("bmV3LXBhc3M="), Origin::default()).expect("manifest")];
    let live = [secret("b2xkLXBhc3M=")];
    let p = plan(&desired, &live, &[], &PlanOptions::default()).expect("plan");
    assert_eq!(p.entries[0].action, PlanAction::Update);
    let everything = format!(
        "{}{}{}",
        p.to_json(),
        p.to_markdown().expect("md"),
        p.entry_diff(&p.entries[0], &Default::default())
            .expect("diff")
    );
    assert!(
        !everything.contains("bmV3") && !everything.contains("b2xk"),
        "{everything}"
    );
    assert!(everything.contains("*** (before)"), "{everything}");
}

#[test]
fn removals_are_read_from_every_entry_of_the_field_manager() {
    // Apply and Update entries of one manager: what either owns counts.
    let mut live = live_deployment();
    live["metadata"]["managedFields"]
        .as_array_mut()
        .expect("entries")
        .push(
            json!({"manager": "converge", "operation": "Update", "apiVersion": "apps/v1",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:revisionHistoryLimit": {}}}}),
        );
    let options = PlanOptions::default().with_field_manager("converge");
    let (desired, live) = (desired(DEPLOYMENT), [live]);
    let p = plan(&desired, &live, &[], &options).expect("plan");
    let changes: Vec<String> = p.entries[0]
        .drift
        .changes
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(changes, ["/spec/revisionHistoryLimit: removed"]);
}

#[test]
fn malformed_fields_of_the_field_manager_are_refused() {
    let mut live = live_deployment();
    live["metadata"]["managedFields"][0]["fieldsV1"] = json!({"f:spec": {"x:replicas": {}}});
    let options = PlanOptions::default().with_field_manager("converge");
    let (desired, live) = (desired(DEPLOYMENT), [live]);
    let err = plan(&desired, &live, &[], &options).expect_err("malformed");
    assert!(
        err.to_string().contains("\"x:replicas\": unknown element"),
        "{err}"
    );
    // Another manager's fields are not ours to read.
    let p = plan(
        &desired,
        &live,
        &[],
        &PlanOptions::default().with_field_manager("other"),
    )
    .expect("plan");
    assert_eq!(p.entries[0].action, PlanAction::Unchanged);
}
