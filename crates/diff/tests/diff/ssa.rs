//! Server-side apply against structured-merge-diff itself: the same sequences of applies and
//! updates run through [`Updater`] and through the Go library (`tools/smd-oracle`), and every
//! step must leave the same object, the same managers with the same FieldsV1 (byte for byte)
//! and the same conflicts.
//!
//! Both sides use one schema: the Kubernetes 1.35 types of `Schema::kubernetes()` (and a
//! CustomResourceDefinition's), written out in structured-merge-diff's schema language.
//!
//! Known differences between structured-merge-diff 4.1.2 (the oracle) and the library in
//! current Kubernetes, which `Updater` follows 4.1.2 on and the sequences here do not hide:
//! - after a merge, a keyed list keeps the live order with new items appended (current
//!   Kubernetes follows the applied order);
//! - a live list with two items of one key is refused (Kubernetes 1.29+ tolerates it).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use converge_diff::Error;
use converge_diff::schema::{ListType, MapType, Schema, TypeKind, TypeRef};
use converge_diff::ssa::{ManagedSets, Updater};
use serde_json::{Value, json};

/// The oracle binary, from `CONVERGE_SMD_ORACLE` (test.sh builds it). Under `CI=true` a
/// missing oracle fails the test; elsewhere the test says it was skipped.
fn oracle() -> Option<PathBuf> {
    let path = std::env::var_os("CONVERGE_SMD_ORACLE").map(PathBuf::from);
    if let Some(path) = path.filter(|p| p.is_file()) {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CONVERGE_SMD_ORACLE is not set to a built tools/smd-oracle; CI=true requires it");
    }
    eprintln!("\n*** SKIPPED: the structured-merge-diff oracle is missing (run test.sh) ***\n");
    None
}

/// Writes types in structured-merge-diff's schema language (as JSON, which its YAML parser
/// reads). Named struct types become named entries; maps, lists and atomic structs are
/// written inline where they are used.
#[derive(Default)]
struct SmdSchema {
    types: BTreeMap<String, Value>,
}

impl SmdSchema {
    fn root(&mut self, name: &str, ty: TypeRef<'_>) {
        let map = self.struct_map(ty);
        self.types
            .insert(name.to_owned(), json!({"name": name, "map": map}));
    }

    fn struct_map(&mut self, ty: TypeRef<'_>) -> Value {
        let fields: Vec<Value> = ty
            .fields()
            .map(|(name, field)| {
                let mut entry = json!({"name": name, "type": self.type_ref(field)});
                if name == "protocol" {
                    entry["default"] = json!("TCP");
                }
                entry
            })
            .collect();
        json!({"fields": fields})
    }

    fn type_ref(&mut self, ty: TypeRef<'_>) -> Value {
        let atomic = ty.object().is_some_and(|o| o.map_type == MapType::Atomic);
        match ty.kind() {
            TypeKind::Scalar => json!({"scalar": "untyped"}),
            TypeKind::Object | TypeKind::Map if atomic => json!({"map": {
                "elementType": {"namedType": "__untyped_atomic_"},
                "elementRelationship": "atomic",
            }}),
            TypeKind::Map => {
                let values = ty
                    .values()
                    .map_or(json!({"namedType": "__untyped_deduced_"}), |v| {
                        self.type_ref(v)
                    });
                json!({"map": {"elementType": values}})
            }
            TypeKind::Object => match ty.name() {
                Some(name) => {
                    if !self.types.contains_key(name) {
                        self.types.insert(name.to_owned(), Value::Null);
                        let map = self.struct_map(ty);
                        self.types
                            .insert(name.to_owned(), json!({"name": name, "map": map}));
                    }
                    json!({"namedType": name})
                }
                None => json!({"map": self.struct_map(ty)}),
            },
            TypeKind::List => {
                let items = ty
                    .items()
                    .map_or(json!({"namedType": "__untyped_atomic_"}), |i| {
                        self.type_ref(i)
                    });
                match ty.list().map(|l| l.list_type) {
                    Some(ListType::Map { keys }) => json!({"list": {
                        "elementType": items, "elementRelationship": "associative", "keys": keys,
                    }}),
                    Some(ListType::Set) => json!({"list": {
                        "elementType": items, "elementRelationship": "associative",
                    }}),
                    _ => json!({"list": {"elementType": items, "elementRelationship": "atomic"}}),
                }
            }
            _ => match ty.name() {
                Some(
                    "io.k8s.apimachinery.pkg.runtime.RawExtension"
                    | "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
                ) => json!({"namedType": "__untyped_atomic_"}),
                _ => json!({"namedType": "__untyped_deduced_"}),
            },
        }
    }

    fn text(&self) -> String {
        let mut types: Vec<Value> = self.types.values().cloned().collect();
        types.push(json!({"name": "__untyped_atomic_", "scalar": "untyped",
            "list": {"elementType": {"namedType": "__untyped_atomic_"}, "elementRelationship": "atomic"},
            "map": {"elementType": {"namedType": "__untyped_atomic_"}, "elementRelationship": "atomic"}}));
        types.push(json!({"name": "__untyped_deduced_", "scalar": "untyped",
            "list": {"elementType": {"namedType": "__untyped_atomic_"}, "elementRelationship": "atomic"},
            "map": {"elementType": {"namedType": "__untyped_deduced_"}, "elementRelationship": "separable"}}));
        json!({"types": types}).to_string()
    }
}

#[derive(Clone, Debug)]
enum Step {
    Apply {
        manager: &'static str,
        object: Value,
        force: bool,
    },
    Update {
        manager: &'static str,
        object: Value,
    },
}

struct Case {
    name: String,
    /// The type's name in the written schema.
    type_name: &'static str,
    steps: Vec<Step>,
}

/// The types the sequences use, by their name in the written schema.
fn types() -> (BTreeMap<&'static str, TypeRef<'static>>, String) {
    let k8s = Schema::kubernetes();
    let crd: &'static Schema = Box::leak(Box::new(
        Schema::from_crd(&crd_definition()).expect("the CRD's schema"),
    ));
    let mut types = BTreeMap::new();
    types.insert(
        "deployment",
        k8s.for_kind("apps", "v1", "Deployment")
            .expect("Deployment"),
    );
    types.insert(
        "service",
        k8s.for_kind("", "v1", "Service").expect("Service"),
    );
    types.insert(
        "configmap",
        k8s.for_kind("", "v1", "ConfigMap").expect("ConfigMap"),
    );
    types.insert(
        "widget",
        crd.for_kind("example.com", "v1", "Widget").expect("Widget"),
    );
    let mut schema = SmdSchema::default();
    for (name, ty) in &types {
        schema.root(name, *ty);
    }
    (types, schema.text())
}

fn crd_definition() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "spec": {"type": "object", "properties": {
                        "size": {"type": "integer"},
                        "owners": {"type": "array", "items": {"type": "string"},
                            "x-kubernetes-list-type": "set"},
                        "slots": {"type": "array", "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["zone", "index"],
                            "items": {"type": "object", "required": ["zone", "index"], "properties": {
                                "zone": {"type": "string"}, "index": {"type": "integer"},
                                "weight": {"type": "integer"}}}},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                            "properties": {"a": {"type": "string"}, "b": {"type": "string"}}},
                        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    }},
                    "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
                }}}}]},
    })
}

/// One result of the oracle's for a step.
fn run_oracle(oracle: &PathBuf, schema: &str, cases: &[Case]) -> Vec<Vec<Value>> {
    let input = json!({
        "schema": schema,
        "cases": cases.iter().map(|case| json!({
            "name": case.name,
            "type": case.type_name,
            "live": null,
            "steps": case.steps.iter().map(|step| match step {
                Step::Apply { manager, object, force } => json!({
                    "op": "apply", "manager": manager, "apiVersion": "v1", "object": object, "force": force,
                }),
                Step::Update { manager, object } => json!({
                    "op": "update", "manager": manager, "apiVersion": "v1", "object": object,
                }),
            }).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    let mut child = Command::new(oracle)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the oracle");
    let mut stdin = child.stdin.take().expect("stdin");
    let text = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let output = child.wait_with_output().expect("the oracle");
    writer
        .join()
        .expect("writer")
        .expect("write the oracle's input");
    assert!(
        output.status.success(),
        "the oracle failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).expect("the oracle's JSON");
    answer["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|case| case["steps"].as_array().expect("steps").clone())
        .collect()
}

/// Runs a case through `Updater` and checks each step against the oracle's answer.
fn check_case(case: &Case, ty: TypeRef<'_>, answers: &[Value]) {
    let updater = Updater::new(Some(ty));
    let mut live = json!({});
    let mut managers = ManagedSets::new();
    for (i, (step, want)) in case.steps.iter().zip(answers).enumerate() {
        let at = format!("{} step {i} ({step:?})", case.name);
        let result = match step {
            Step::Apply {
                manager,
                object,
                force,
            } => updater
                .apply(&live, object, "v1", &mut managers, manager, *force)
                .map(|new| {
                    let noop = new.is_none();
                    if let Some(new) = new {
                        live = new;
                    }
                    noop
                }),
            Step::Update { manager, object } => updater
                .update(&live, object, "v1", &mut managers, manager)
                .map(|()| {
                    live = object.clone();
                    false
                }),
        };
        match result {
            Ok(noop) => {
                assert!(
                    want.get("error").is_none(),
                    "{at}: the oracle failed: {want}"
                );
                if let Some(expected) = want.get("noop") {
                    assert_eq!(Value::Bool(noop), *expected, "{at}: no-op");
                }
                assert_eq!(live, want["object"], "{at}: object");
                let ours: BTreeMap<&String, Value> = managers
                    .iter()
                    .map(|(name, vs)| {
                        (
                            name,
                            json!({
                                "fieldsV1": vs.fields.to_fields_v1().to_string(),
                                "apiVersion": vs.api_version,
                                "applied": vs.applied,
                            }),
                        )
                    })
                    .collect();
                let theirs: BTreeMap<&String, Value> = want["managers"]
                    .as_object()
                    .expect("managers")
                    .iter()
                    .map(|(name, vs)| {
                        (
                            name,
                            json!({
                                "fieldsV1": vs["fieldsV1"].to_string(),
                                "apiVersion": vs["apiVersion"],
                                "applied": vs["applied"],
                            }),
                        )
                    })
                    .collect();
                assert_eq!(ours, theirs, "{at}: managers");
            }
            Err(Error::ApplyConflict { message, conflicts }) => {
                let mut ours: Vec<(String, String)> = conflicts
                    .iter()
                    .map(|c| (c.manager.clone(), c.path.clone()))
                    .collect();
                let mut theirs: Vec<(String, String)> = want["conflicts"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{at}: we conflict ({message}), the oracle: {want}"))
                    .iter()
                    .map(|c| {
                        (
                            c["manager"].as_str().expect("manager").to_owned(),
                            c["path"].as_str().expect("path").to_owned(),
                        )
                    })
                    .collect();
                // The library lists the managers in map order; the paths of one manager keep
                // its order.
                ours.sort_by(|a, b| a.0.cmp(&b.0));
                theirs.sort_by(|a, b| a.0.cmp(&b.0));
                assert_eq!(ours, theirs, "{at}: conflicts");
                assert_eq!(message, want["error"].as_str().expect("error"), "{at}");
            }
            Err(other) => {
                let theirs = want.get("error").unwrap_or_else(|| {
                    panic!("{at}: we fail ({other}), the oracle does not: {want}")
                });
                assert!(
                    want.get("conflicts").is_none(),
                    "{at}: the oracle conflicts: {theirs}"
                );
            }
        }
    }
}

fn run(cases: &[Case]) {
    let Some(oracle) = oracle() else {
        return;
    };
    let (types, schema) = types();
    let answers = run_oracle(&oracle, &schema, cases);
    assert_eq!(answers.len(), cases.len());
    for (case, answer) in cases.iter().zip(&answers) {
        check_case(case, types[case.type_name], answer);
    }
}

fn deployment(spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": spec})
}

fn apply(manager: &'static str, object: Value) -> Step {
    Step::Apply {
        manager,
        object,
        force: false,
    }
}

fn force(manager: &'static str, object: Value) -> Step {
    Step::Apply {
        manager,
        object,
        force: true,
    }
}

fn container(name: &str, image: &str) -> Value {
    json!({"name": name, "image": image})
}

/// The sequences the issue names, written out.
#[test]
fn apply_sequences_match_structured_merge_diff() {
    let web = |replicas: i64, containers: Value| {
        deployment(json!({"replicas": replicas, "template": {"spec": {"containers": containers}}}))
    };
    let cases = vec![
        Case {
            name: "two managers, a conflict, then force".into(),
            type_name: "deployment",
            steps: vec![
                apply("a", web(1, json!([container("web", "web:1")]))),
                apply("b", deployment(json!({"replicas": 2}))),
                force("b", deployment(json!({"replicas": 2}))),
                apply("a", web(1, json!([container("web", "web:2")]))),
            ],
        },
        Case {
            name: "a shared field, same value".into(),
            type_name: "deployment",
            steps: vec![
                apply("a", deployment(json!({"replicas": 3, "paused": false}))),
                apply("b", deployment(json!({"replicas": 3}))),
                // Both own replicas: when a stops applying it, b keeps it.
                apply("a", deployment(json!({"paused": false}))),
                apply("b", deployment(json!({}))),
            ],
        },
        Case {
            name: "three managers and containers merged by name".into(),
            type_name: "deployment",
            steps: vec![
                apply("a", web(1, json!([container("web", "web:1")]))),
                apply(
                    "b",
                    deployment(json!({"template": {"spec": {"containers": [
                        {"name": "proxy", "image": "envoy:1", "ports": [{"containerPort": 9901}]}
                    ]}}})),
                ),
                apply(
                    "c",
                    deployment(json!({"template": {"spec": {"containers": [
                        {"name": "web", "env": [{"name": "LOG", "value": "debug"}]}
                    ]}}})),
                ),
                // c changes an env value a did not set: no conflict; then a sets it too.
                apply(
                    "a",
                    web(
                        1,
                        json!([{"name": "web", "image": "web:1", "env": [{"name": "LOG", "value": "info"}]}]),
                    ),
                ),
                force(
                    "a",
                    web(
                        1,
                        json!([{"name": "web", "image": "web:1", "env": [{"name": "LOG", "value": "info"}]}]),
                    ),
                ),
                // b drops its container: it alone owned it, so it goes.
                apply("b", deployment(json!({}))),
            ],
        },
        Case {
            name: "a field dropped by its sole owner".into(),
            type_name: "deployment",
            steps: vec![
                apply(
                    "a",
                    deployment(
                        json!({"replicas": 2, "minReadySeconds": 5, "strategy": {"type": "Recreate"}}),
                    ),
                ),
                apply("a", deployment(json!({"replicas": 2}))),
                Step::Update {
                    manager: "kubectl-edit",
                    object: deployment(json!({"replicas": 2, "minReadySeconds": 10})),
                },
                // minReadySeconds now belongs to the updater: the applier's drop keeps it.
                apply("a", deployment(json!({}))),
            ],
        },
        Case {
            name: "ports keyed by port and protocol, with the protocol defaulted".into(),
            type_name: "service",
            steps: vec![
                apply(
                    "a",
                    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                        "spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}}),
                ),
                apply(
                    "b",
                    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                        "spec": {"ports": [{"port": 80, "protocol": "TCP", "name": "http"}, {"port": 53, "protocol": "TCP"}]}}),
                ),
                apply(
                    "a",
                    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                        "spec": {"ports": [{"port": 80, "targetPort": 8080}]}}),
                ),
            ],
        },
        Case {
            name: "sets, atomic structs and deduced fields of a custom resource".into(),
            type_name: "widget",
            steps: vec![
                apply(
                    "a",
                    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                        "spec": {"owners": ["x", "y"], "selector": {"a": "1"}, "tags": ["t1"],
                            "extra": {"deep": {"k": 1}, "list": [1, 2]},
                            "slots": [{"zone": "a", "index": 0, "weight": 1}]}}),
                ),
                apply(
                    "b",
                    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                        "spec": {"owners": ["y", "z"], "selector": {"a": "1"},
                            "extra": {"deep": {"j": 2}},
                            "slots": [{"zone": "a", "index": 1, "weight": 2}]}}),
                ),
                apply(
                    "b",
                    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                        "spec": {"selector": {"b": "2"}, "tags": ["t2"]}}),
                ),
                force(
                    "b",
                    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                        "spec": {"selector": {"b": "2"}, "tags": ["t2"], "extra": {"list": [3]}}}),
                ),
                apply(
                    "a",
                    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                        "spec": {"owners": ["x"]}}),
                ),
            ],
        },
        Case {
            name: "labels and annotations, map keys owned one by one".into(),
            type_name: "configmap",
            steps: vec![
                apply(
                    "a",
                    json!({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "c", "labels": {"app": "web", "tier": "front"}},
                        "data": {"a": "1", "b": "2"}}),
                ),
                Step::Update {
                    manager: "kubectl-label",
                    object: json!({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "c", "labels": {"app": "web", "tier": "front", "team": "x"}},
                        "data": {"a": "1", "b": "2"}}),
                },
                apply(
                    "a",
                    json!({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "c", "labels": {"app": "web"}}, "data": {"b": "2"}}),
                ),
                apply(
                    "a",
                    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
                ),
            ],
        },
    ];
    run(&cases);
}

/// A small deterministic generator (xorshift), so the sequences are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn subset<'a, T>(&mut self, items: &'a [T]) -> Vec<&'a T> {
        items.iter().filter(|_| self.chance(50)).collect()
    }
}

fn pick(rng: &mut Rng, items: &[&'static str]) -> &'static str {
    items[rng.below(items.len() as u64) as usize]
}

/// A random Deployment configuration from a pool of fields with every kind of semantics:
/// scalars, granular and atomic maps, keyed lists inside keyed lists, sets, atomic lists.
fn random_deployment(rng: &mut Rng) -> Value {
    let mut metadata = json!({"name": "web"});
    let mut spec = serde_json::Map::new();
    if rng.chance(40) {
        let labels: serde_json::Map<String, Value> = rng
            .subset(&["app", "tier", "team"])
            .into_iter()
            .map(|k| ((*k).to_owned(), json!(pick(rng, &["x", "y"]))))
            .collect();
        metadata["labels"] = Value::Object(labels);
    }
    if rng.chance(30) {
        let finalizers: Vec<&&str> = rng.subset(&["f1", "f2", "f3"]);
        metadata["finalizers"] = json!(finalizers);
    }
    if rng.chance(50) {
        spec.insert("replicas".into(), json!(rng.below(3) + 1));
    }
    if rng.chance(20) {
        spec.insert("paused".into(), json!(rng.chance(50)));
    }
    if rng.chance(30) {
        spec.insert(
            "selector".into(),
            json!({"matchLabels": {"app": pick(rng, &["web", "api"])}}),
        );
    }
    if rng.chance(25) {
        spec.insert(
            "strategy".into(),
            match rng.below(2) {
                0 => json!({"type": "Recreate"}),
                _ => json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": rng.below(3)}}),
            },
        );
    }
    let mut pod = serde_json::Map::new();
    if rng.chance(70) {
        let mut containers = Vec::new();
        for name in rng.subset(&["web", "proxy", "log"]) {
            let mut c = json!({"name": name});
            if rng.chance(70) {
                c["image"] = json!(format!("{name}:{}", rng.below(2) + 1));
            }
            if rng.chance(40) {
                let env: Vec<Value> = rng
                    .subset(&["A", "B"])
                    .into_iter()
                    .map(|e| json!({"name": e, "value": format!("{}", rng.below(2))}))
                    .collect();
                c["env"] = json!(env);
            }
            if rng.chance(30) {
                let ports: Vec<Value> = rng
                    .subset(&[
                        json!({"containerPort": 80}),
                        json!({"containerPort": 443, "protocol": "TCP"}),
                        json!({"containerPort": 53, "protocol": "UDP"}),
                    ])
                    .into_iter()
                    .cloned()
                    .collect();
                c["ports"] = json!(ports);
            }
            if rng.chance(20) {
                c["args"] = json!(["--v", format!("{}", rng.below(3))]);
            }
            containers.push(c);
        }
        pod.insert("containers".into(), json!(containers));
    }
    if rng.chance(20) {
        pod.insert(
            "tolerations".into(),
            json!([{"key": "k", "operator": "Exists", "effect": pick(rng, &["NoSchedule", "NoExecute"])}]),
        );
    }
    if rng.chance(20) {
        pod.insert(
            "nodeSelector".into(),
            json!({"zone": pick(rng, &["a", "b"])}),
        );
    }
    if !pod.is_empty() {
        spec.insert("template".into(), json!({"spec": pod}));
    }
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec})
}

/// A random Widget (the custom resource): a set, a list keyed by two fields, an atomic
/// struct and list, and a subtree without schema.
fn random_widget(rng: &mut Rng) -> Value {
    let mut spec = serde_json::Map::new();
    if rng.chance(40) {
        spec.insert("size".into(), json!(rng.below(3)));
    }
    if rng.chance(50) {
        spec.insert("owners".into(), json!(rng.subset(&["x", "y", "z"])));
    }
    if rng.chance(50) {
        let slots: Vec<Value> = rng
            .subset(&[("a", 0), ("a", 1), ("b", 0)])
            .into_iter()
            .map(|(zone, index)| {
                let mut slot = json!({"zone": zone, "index": index});
                if rng.chance(60) {
                    slot["weight"] = json!(rng.below(3));
                }
                slot
            })
            .collect();
        spec.insert("slots".into(), json!(slots));
    }
    if rng.chance(30) {
        spec.insert("tags".into(), json!(rng.subset(&["t1", "t2"])));
    }
    if rng.chance(30) {
        spec.insert("selector".into(), json!({"a": pick(rng, &["1", "2"])}));
    }
    if rng.chance(50) {
        let mut extra = serde_json::Map::new();
        for key in rng.subset(&["p", "q"]) {
            let value = match rng.below(3) {
                0 => json!(rng.below(2)),
                1 => json!({"deep": pick(rng, &["u", "v"]), "other": rng.below(2)}),
                _ => json!([rng.below(2)]),
            };
            extra.insert((*key).to_owned(), value);
        }
        spec.insert("extra".into(), Value::Object(extra));
    }
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec})
}

/// Random sequences of applies (three managers, some forced) and updates over one
/// Deployment and one custom resource: every step agrees with structured-merge-diff.
#[test]
fn random_apply_sequences_match_structured_merge_diff() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let cases: Vec<Case> = (0..600)
        .map(|n| Case {
            name: format!("random sequence {n}"),
            type_name: if n % 3 == 2 { "widget" } else { "deployment" },
            steps: (0..10)
                .map(|_| {
                    let object = if n % 3 == 2 {
                        random_widget(&mut rng)
                    } else {
                        random_deployment(&mut rng)
                    };
                    match rng.below(10) {
                        0 | 1 => Step::Update {
                            manager: "editor",
                            object,
                        },
                        k => Step::Apply {
                            manager: ["a", "b", "c"][(k % 3) as usize],
                            object,
                            force: rng.chance(30),
                        },
                    }
                })
                .collect(),
        })
        .collect();
    run(&cases);
}

mod field_manager {
    //! The API server's layer around the algorithm: names, metadata, times, caps.

    use converge_diff::Error;
    use converge_diff::managed_fields;
    use converge_diff::schema::Schema;
    use converge_diff::ssa::FieldManager;
    use converge_diff::{FieldSet, ManagerConflict};
    use serde_json::{Value, json};

    const T0: &str = "2026-01-01T00:00:00Z";
    const T1: &str = "2026-01-01T00:01:00Z";

    fn configmaps() -> FieldManager<'static> {
        FieldManager::new(Schema::kubernetes().for_kind("", "v1", "ConfigMap"), "v1")
    }

    fn deployments() -> FieldManager<'static> {
        FieldManager::new(
            Schema::kubernetes().for_kind("apps", "v1", "Deployment"),
            "apps/v1",
        )
    }

    fn entries(object: &Value) -> Vec<Value> {
        object["metadata"]["managedFields"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn a_create_is_an_update_entry_without_server_metadata() {
        let created = configmaps()
            .update(
                None,
                &json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "c", "namespace": "default", "labels": {"app": "web"}},
                    "data": {"a": "1"}}),
                "kubectl-create",
                T0,
            )
            .expect("create");
        assert_eq!(
            entries(&created),
            [json!({
                "manager": "kubectl-create", "operation": "Update", "apiVersion": "v1",
                "time": T0, "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
            })]
        );
    }

    #[test]
    fn an_apply_owns_what_it_sends_and_entries_are_sorted() {
        let fields = configmaps();
        let config = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "default"}, "data": {"a": "1"}});
        let live = fields
            .update(None, &config, "kubectl-create", T0)
            .expect("create");
        let live = fields
            .apply(Some(&live), &config, "converge", false, T1)
            .expect("apply");
        let shown: Vec<(String, String, Value)> = entries(&live)
            .iter()
            .map(|e| {
                (
                    e["manager"].as_str().expect("manager").to_owned(),
                    e["operation"].as_str().expect("operation").to_owned(),
                    e["fieldsV1"].clone(),
                )
            })
            .collect();
        // Apply entries come before Update ones. The value was already there, so the apply
        // changed nothing: it shares the field and its entry has no time.
        assert_eq!(
            shown,
            [
                (
                    "converge".to_owned(),
                    "Apply".to_owned(),
                    json!({"f:data": {"f:a": {}}})
                ),
                (
                    "kubectl-create".to_owned(),
                    "Update".to_owned(),
                    json!({"f:data": {".": {}, "f:a": {}}})
                ),
            ]
        );
        assert!(entries(&live)[0].get("time").is_none());
        assert_eq!(live["data"], json!({"a": "1"}));
    }

    #[test]
    fn a_conflict_names_the_manager_as_the_api_server_does() {
        let fields = deployments();
        let live = fields
            .update(
                None,
                &json!({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "web"}, "spec": {"replicas": 1, "paused": false}}),
                "kubectl-client-side-apply",
                T0,
            )
            .expect("create");
        let config = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"}, "spec": {"replicas": 3, "paused": true}});
        let err = fields
            .apply(Some(&live), &config, "kubectl", false, T1)
            .expect_err("conflict");
        assert_eq!(
            err.to_string(),
            "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using apps/v1:\n- .spec.paused\n- .spec.replicas"
        );
        let Error::ApplyConflict { conflicts, .. } = err else {
            panic!("not a conflict");
        };
        let ManagerConflict {
            path,
            manager,
            owner,
            desired,
            live: was,
            ..
        } = &conflicts[1];
        assert_eq!(
            (path.as_str(), manager.as_str(), owner.as_str()),
            (
                ".spec.replicas",
                "kubectl-client-side-apply",
                "\"kubectl-client-side-apply\" using apps/v1"
            )
        );
        assert_eq!((desired, was), (&json!(3), &json!(1)));
        // Forced, the applier takes both fields.
        let live = fields
            .apply(Some(&live), &config, "kubectl", true, T1)
            .expect("forced");
        let owners = managed_fields(&live).expect("entries");
        assert_eq!(owners[0].manager, "kubectl");
        assert_eq!(owners[0].fields.paths(), [".spec.paused", ".spec.replicas"]);
        // The updater keeps `.spec` itself: an update owns every node it added.
        assert_eq!(owners[1].manager, "kubectl-client-side-apply");
        assert_eq!(owners[1].fields.paths(), [".spec"]);
    }

    #[test]
    fn fields_held_before_the_first_apply_belong_to_before_first_apply() {
        let fields = configmaps();
        let untracked = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "uid": "u-1"}, "data": {"old": "1"}});
        let live = fields
            .apply(
                Some(&untracked),
                &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                    "data": {"new": "2"}}),
                "converge",
                false,
                T1,
            )
            .expect("apply");
        let owners = managed_fields(&live).expect("entries");
        let by: Vec<(&str, Vec<String>)> = owners
            .iter()
            .map(|e| (e.manager.as_str(), e.fields.paths()))
            .collect();
        assert_eq!(
            by,
            [
                ("converge", vec![".data.new".to_owned()]),
                (
                    "before-first-apply",
                    vec![".data".to_owned(), ".data.old".to_owned()]
                ),
            ]
        );
        assert_eq!(live["data"], json!({"old": "1", "new": "2"}));
    }

    #[test]
    fn clearing_managed_fields_stops_tracking_until_the_next_apply() {
        let fields = configmaps();
        let config = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c"}, "data": {"a": "1"}});
        let mut live = fields.update(None, &config, "create", T0).expect("create");
        live["metadata"]["uid"] = json!("u-1");
        let mut cleared = live.clone();
        cleared["metadata"]["managedFields"] = json!([{}]);
        let live = fields
            .update(Some(&live), &cleared, "cleaner", T1)
            .expect("clear");
        assert!(live["metadata"].get("managedFields").is_none());
        let mut changed = live.clone();
        changed["data"]["a"] = json!("2");
        let live = fields
            .update(Some(&live), &changed, "editor", T1)
            .expect("untracked update");
        assert!(live["metadata"].get("managedFields").is_none());
    }

    #[test]
    fn reset_fields_are_owned_by_nobody() {
        let mut status = FieldSet::new();
        status.insert(&["f:status"]);
        let fields = deployments().with_reset_fields(status);
        let live = fields
            .apply(
                None,
                &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                    "spec": {"replicas": 1}, "status": {"replicas": 9}}),
                "converge",
                false,
                T0,
            )
            .expect("apply");
        let owners = managed_fields(&live).expect("entries");
        assert_eq!(owners[0].fields.paths(), [".spec.replicas"]);
    }

    #[test]
    fn update_managers_past_ten_merge_into_ancient_changes() {
        let fields = configmaps();
        let mut live = fields
            .update(
                None,
                &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
                "create",
                "2026-01-01T00:00:00Z",
            )
            .expect("create");
        for i in 0..12 {
            let mut next = live.clone();
            next["data"][format!("k{i}")] = json!("v");
            let at = format!("2026-01-01T00:{:02}:00Z", i + 1);
            live = fields
                .update(Some(&live), &next, &format!("m{i:02}"), &at)
                .expect("update");
        }
        let owners = managed_fields(&live).expect("entries");
        let names: Vec<&str> = owners.iter().map(|e| e.manager.as_str()).collect();
        assert_eq!(owners.len(), 10, "{names:?}");
        assert_eq!(names[0], "ancient-changes");
        // The first manager merged takes the bucket's place; each one after it makes one
        // entry fewer: m00, m01 and m02 go, m03 to m11 stay.
        assert_eq!(
            owners[0].fields.paths(),
            [".data", ".data.k0", ".data.k1", ".data.k2"]
        );
        assert_eq!(names[9], "m11");
    }

    #[test]
    fn bad_apply_configurations_are_refused() {
        let fields = deployments();
        for (config, want) in [
            (
                json!({"apiVersion": "apps/v1beta1", "kind": "Deployment", "metadata": {"name": "web"}}),
                "Incorrect version specified in apply patch",
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "web", "managedFields": []}}),
                "metadata.managedFields must be nil",
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                    "spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
                ".spec.template.spec.containers: element 0: associative list with keys has an element that omits key field \"name\"",
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                    "spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}}}),
                "duplicate entries for key [name=\"a\"]",
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                    "spec": {"replicas": {"a": 1}}}),
                ".spec.replicas: expected scalar, got map",
            ),
        ] {
            let err = fields
                .apply(None, &config, "converge", false, T0)
                .expect_err("refused");
            assert!(err.to_string().contains(want), "{err} (wanted {want})");
        }
    }
}

mod kubectl_upgrade {
    //! `kubectl apply --server-side` after `kubectl apply`: what the API server lets kubectl
    //! take over, and the annotation it keeps.

    use converge_diff::schema::Schema;
    use converge_diff::ssa::FieldManager;
    use converge_diff::{LAST_APPLIED, managed_fields};
    use serde_json::{Value, json};

    const T0: &str = "2026-01-01T00:00:00Z";

    fn deployments() -> FieldManager<'static> {
        FieldManager::new(
            Schema::kubernetes().for_kind("apps", "v1", "Deployment"),
            "apps/v1",
        )
    }

    /// A Deployment as `kubectl apply` (client-side) leaves it: the update by
    /// `kubectl-client-side-apply`, the configuration in the annotation.
    fn client_side(replicas: i64) -> Value {
        let config = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"}, "spec": {"replicas": replicas, "paused": false}});
        let mut object = config.clone();
        object["metadata"]["annotations"] = json!({ LAST_APPLIED: format!("{}\n", config) });
        deployments()
            .update(None, &object, "kubectl-client-side-apply", T0)
            .expect("create")
    }

    fn server_side(replicas: i64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"}, "spec": {"replicas": replicas, "paused": false}})
    }

    #[test]
    fn kubectl_takes_over_what_its_client_side_apply_set() {
        let live = client_side(1);
        let applied = deployments()
            .apply(Some(&live), &server_side(3), "kubectl", false, T0)
            .expect("no conflicts for kubectl");
        assert_eq!(applied["spec"]["replicas"], 3);
        let owners = managed_fields(&applied).expect("entries");
        assert_eq!(owners[0].manager, "kubectl");
        assert_eq!(owners[0].fields.paths(), [".spec.paused", ".spec.replicas"]);
        // The annotation follows the server-side configuration, keys sorted.
        assert_eq!(
            applied["metadata"]["annotations"][LAST_APPLIED],
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"paused":false,"replicas":3}}"#
        );
        // Another manager gets no such pass.
        let err = deployments()
            .apply(Some(&live), &server_side(3), "converge", false, T0)
            .expect_err("conflict");
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
        );
    }

    #[test]
    fn fields_the_client_side_apply_did_not_set_still_conflict() {
        let mut live = client_side(1);
        // An editor changed something kubectl's configuration never held.
        let mut edited = live.clone();
        edited["spec"]["minReadySeconds"] = json!(5);
        live = deployments()
            .update(Some(&live), &edited, "kubectl-edit", T0)
            .expect("edit");
        let mut config = server_side(3);
        config["spec"]["minReadySeconds"] = json!(9);
        let err = deployments()
            .apply(Some(&live), &config, "kubectl", false, T0)
            .expect_err("the edited field conflicts");
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.minReadySeconds"
        );
    }
}
