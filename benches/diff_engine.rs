//! The diff engine (`converge::diff`) on real upgrade pairs and on generated clusters, side by
//! side with the `json-patch` crate (in process) and npm `fast-json-patch` (an external `node`
//! process in the same run, its `JSON.parse` time measured apart).
//!
//! Inputs, all read or made once before anything is measured:
//!
//! - `crd-upgrade`: the 150 CRD files of `bench-crds/` in the shared corpus, each `v2.5.0/X`
//!   paired with `v2.6.0/X` (all 150 differ);
//! - `kube-prometheus-upgrade`: the objects of `kube-prometheus-v0.17.0/manifests` paired with the
//!   same object (kind, namespace, name) in `-v0.18.0`, read with [`parse_manifests`];
//! - `objects`: three single pairs taken from those: the largest Deployment and the largest
//!   ConfigMap of kube-prometheus (a Grafana dashboard), and the CRD closest to 300 KB of JSON;
//! - `plan`: generated clusters of 1,000 and 10,000 objects (Deployments, Services, ConfigMaps of
//!   an ordinary application) whose live side carries what the API server adds (uid,
//!   resourceVersion, managedFields, defaults, status), with no change or with 1% of them drifted
//!   (100 and 1,000 objects under `cargo test --benches`, which only checks that everything runs).
//!
//! | group | benchmarks (one iteration does every pair or the whole set) |
//! |---|---|
//! | `crd-upgrade`, `kube-prometheus-upgrade` | `converge/json_patch_diff` ([`json_patch::diff`]), `json-patch-crate/diff`, `converge/merge_patch` ([`create_merge_patch`]), `parse/json` (serde_json parse of both sides' compact JSON, the reference for "× parse time"); kube-prometheus adds `converge/plan` (v0.18.0 desired over v0.17.0 live) |
//! | `objects` | the same four plus `converge/drift` ([`drift`]), `converge/three_way_merge_patch` ([`create_three_way_merge_patch`]), `converge/three_way_strategic_patch` ([`create_three_way_strategic_patch`], built-in kinds) and `converge/three_way` ([`three_way`]: patch, predicted object and changes), per object |
//! | `plan` | `converge/plan` ([`plan`]) for each size and case, `converge/plan+field-manager` (SSA ownership read from managedFields), and both RFC 6902 generators over the same 10,000 live → desired pairs |
//!
//! After the criterion run, the pairs are written as compact JSON (one object per line) to a
//! temporary folder, `benches/peers/fast-json-patch.js` runs on them under `node` (the median of
//! at least 1 s of `JSON.parse`, then of `compare`, per set), and a Markdown table comparing
//! everything per object goes to stderr, criterion's numbers read back from its `estimates.json`
//! files. Under `cargo test --benches` the peer only runs once on the first 20 pairs of each set,
//! to check that it works, and no table is printed. Without `node` or the npm package
//! (`bash benches/peers/install.sh` puts it into `.cache/bench-peers/`), the npm peer is skipped
//! with a message, in CI too; the Rust peers always run.
//!
//! ```text
//! bash benches/peers/install.sh             # once: fast-json-patch into .cache/bench-peers
//! cargo bench --bench diff_engine           # measure, then the comparison table (about 4 min)
//! cargo bench --bench diff_engine -- plan/  # one group (the npm peer still runs on every set)
//! cargo test --benches                      # run every benchmark once
//! ```
//!
//! Without the corpus the benchmark says so on stderr and exits with success, unless `CI=true`,
//! where a missing corpus is an error.

#[path = "common/results.rs"]
mod results;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use results::{criterion, measured, time};

use converge::core::{Manifest, ObjectKey, ObjectRef, Origin, Value, parse_manifests};
use converge::diff::json_patch;
use converge::diff::merge_patch::{create_merge_patch, create_three_way_merge_patch};
use converge::diff::schema::Schema;
use converge::diff::strategic::create_three_way_strategic_patch;
use converge::diff::{Normalizer, PlanAction, PlanOptions, drift, plan, three_way};
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use serde_json::{Map, json};

/// The size, in compact JSON, of the CRD the `objects` group picks (the closest one).
const CRD_OBJECT_BYTES: usize = 300_000;
/// How many pairs of each set the npm peer gets when it only checks that it works.
const QUICK_PAIRS: usize = 20;
/// The field manager of the generated live objects.
const MANAGER: &str = "converge";

/// One before → after pair of the same object.
struct Pair {
    label: String,
    from: Value,
    to: Value,
}

/// Pairs measured together, with their compact JSON (what both parsers and the npm peer read).
struct PairSet {
    /// The criterion group or benchmark parameter, and the npm peer's set name.
    name: String,
    pairs: Vec<Pair>,
    from_json: Vec<Vec<u8>>,
    to_json: Vec<Vec<u8>>,
}

impl PairSet {
    fn new(name: impl Into<String>, pairs: Vec<Pair>) -> PairSet {
        let json = |v: &Value| serde_json::to_vec(v).expect("a Value is always JSON");
        PairSet {
            name: name.into(),
            from_json: pairs.iter().map(|p| json(&p.from)).collect(),
            to_json: pairs.iter().map(|p| json(&p.to)).collect(),
            pairs,
        }
    }

    fn json_bytes(&self) -> usize {
        self.from_json
            .iter()
            .chain(&self.to_json)
            .map(Vec::len)
            .sum()
    }

    fn elements(&self) -> Throughput {
        Throughput::Elements(self.pairs.len() as u64)
    }
}

/// A whole-set plan input: desired manifests, live objects, and the inventory of the last sync.
struct Cluster {
    name: String,
    desired: Vec<Manifest>,
    live: Vec<Value>,
    inventory: Vec<ObjectRef>,
}

/// Where the corpus lives: `shared/corpus/` next to the workspace.
fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Reports a missing input: an error in CI, a note on stderr elsewhere.
fn missing(why: &str, skipped: &str) {
    let message = format!(
        "diff_engine: {why}. The benchmark reads bench-crds/ and kube-prometheus-v0.17.0 and \
         -v0.18.0 from the shared corpus at {}",
        corpus_root().display(),
    );
    assert!(!in_ci(), "{message}; with CI=true the corpus is required");
    eprintln!("{message}; skipping {skipped}.");
}

/// Every `*.yaml` file under `dir`, recursively, sorted.
fn yaml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// The manifests of every YAML file under `dir`, in file order.
fn read_manifests(dir: &Path) -> std::io::Result<Vec<Manifest>> {
    let mut manifests = Vec::new();
    for path in yaml_files(dir)? {
        let bytes = std::fs::read(&path)?;
        let name = path.to_string_lossy();
        manifests.extend(parse_manifests(&name, &bytes).expect("the corpus holds valid objects"));
    }
    Ok(manifests)
}

/// The 150 `bench-crds` pairs, `v2.5.0/X` → `v2.6.0/X`.
fn load_crd_upgrade(root: &Path) -> Option<PairSet> {
    let (old, new) = (
        root.join("bench-crds/v2.5.0"),
        root.join("bench-crds/v2.6.0"),
    );
    let files = match yaml_files(&new) {
        Ok(files) if !files.is_empty() => files,
        Ok(_) => {
            missing(&format!("no *.yaml in {}", new.display()), "crd-upgrade");
            return None;
        }
        Err(err) => {
            missing(
                &format!("cannot read {}: {err}", new.display()),
                "crd-upgrade",
            );
            return None;
        }
    };
    let one = |path: &Path| -> Option<Value> {
        let bytes = std::fs::read(path).ok()?;
        let mut manifests = parse_manifests(&path.to_string_lossy(), &bytes).ok()?;
        (manifests.len() == 1).then(|| manifests.remove(0).into_object())
    };
    let mut pairs = Vec::new();
    for to_path in files {
        let file = to_path.file_name().expect("a listed file has a name");
        let (Some(from), Some(to)) = (one(&old.join(file)), one(&to_path)) else {
            missing(
                &format!("{} has no one-object pair in v2.5.0", to_path.display()),
                "crd-upgrade",
            );
            return None;
        };
        pairs.push(Pair {
            label: file.to_string_lossy().into_owned(),
            from,
            to,
        });
    }
    Some(PairSet::new("crd-upgrade", pairs))
}

/// kube-prometheus v0.17.0 → v0.18.0: the objects in both, matched by identity, and the
/// whole-set plan of the upgrade (v0.18.0 desired over v0.17.0 live).
fn load_kube_prometheus(root: &Path) -> Option<(PairSet, Cluster)> {
    let read = |version: &str| {
        let dir = root.join(format!("kube-prometheus-{version}/manifests"));
        match read_manifests(&dir) {
            Ok(m) if !m.is_empty() => Some(m),
            Ok(_) => {
                missing(
                    &format!("no object in {}", dir.display()),
                    "kube-prometheus",
                );
                None
            }
            Err(err) => {
                missing(
                    &format!("cannot read {}: {err}", dir.display()),
                    "kube-prometheus",
                );
                None
            }
        }
    };
    let old = read("v0.17.0")?;
    let new = read("v0.18.0")?;
    let old_by_key: HashMap<ObjectKey, &Manifest> = old.iter().map(|m| (m.id().key(), m)).collect();
    let pairs = new
        .iter()
        .filter_map(|m| {
            old_by_key.get(&m.id().key()).map(|before| Pair {
                label: m.id().to_string(),
                from: before.object().clone(),
                to: m.object().clone(),
            })
        })
        .collect();
    let cluster = Cluster {
        name: format!("kube-prometheus {} → {}", old.len(), new.len()),
        live: old
            .iter()
            .enumerate()
            .map(|(i, m)| as_live(m.object(), i))
            .collect(),
        inventory: old.iter().map(|m| m.id().clone()).collect(),
        desired: new,
    };
    Some((PairSet::new("kube-prometheus-upgrade", pairs), cluster))
}

/// The three single objects of the `objects` group, each as its own set.
fn pick_objects(crds: Option<&PairSet>, kube_prometheus: Option<&PairSet>) -> Vec<PairSet> {
    let mut out = Vec::new();
    let mut largest = |set: &PairSet, kind: &str, name: &str| {
        let best = (0..set.pairs.len())
            .filter(|&i| set.pairs[i].to.get("kind").and_then(Value::as_str) == Some(kind))
            .max_by_key(|&i| set.to_json[i].len());
        if let Some(i) = best {
            out.push(single(set, i, name));
        }
    };
    if let Some(set) = kube_prometheus {
        largest(set, "Deployment", "deployment");
        largest(set, "ConfigMap", "configmap");
    }
    if let Some(set) = crds {
        let i = (0..set.pairs.len())
            .min_by_key(|&i| set.to_json[i].len().abs_diff(CRD_OBJECT_BYTES))
            .expect("the CRD set is not empty");
        out.push(single(set, i, "crd"));
    }
    out
}

fn single(set: &PairSet, i: usize, name: &str) -> PairSet {
    let pair = &set.pairs[i];
    PairSet::new(
        name,
        vec![Pair {
            label: pair.label.clone(),
            from: pair.from.clone(),
            to: pair.to.clone(),
        }],
    )
}

/// `object` as the API server would return it: server-set metadata, managedFields of an
/// apply by [`MANAGER`] of everything the object sets, the defaults of the built-in kinds the
/// generator uses, and a status.
fn as_live(object: &Value, seed: usize) -> Value {
    let mut live = object.clone();
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut applied = object.clone();
    if let Some(map) = applied.as_object_mut() {
        map.shift_remove("apiVersion");
        map.shift_remove("kind");
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.retain(|k, _| k == "labels" || k == "annotations");
        }
    }
    let mut managed = vec![json!({
        "manager": MANAGER,
        "operation": "Apply",
        "apiVersion": object.get("apiVersion").cloned().unwrap_or(Value::Null),
        "time": "2026-05-04T10:20:30Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": fields_v1(&applied),
    })];

    match kind {
        "Deployment" => {
            defaults_deployment(&mut live);
            managed.push(status_manager(object, json!({
                "f:metadata": {"f:annotations": {"f:deployment.kubernetes.io/revision": {}}},
                "f:status": {"f:availableReplicas": {}, "f:conditions": {}, "f:observedGeneration": {},
                             "f:readyReplicas": {}, "f:replicas": {}, "f:updatedReplicas": {}},
            })));
            let replicas = object
                .pointer("/spec/replicas")
                .cloned()
                .unwrap_or(json!(1));
            live["metadata"]["annotations"]["deployment.kubernetes.io/revision"] =
                json!((seed % 7 + 1).to_string());
            live["status"] = json!({
                "observedGeneration": 3, "replicas": replicas, "updatedReplicas": replicas,
                "readyReplicas": replicas, "availableReplicas": replicas,
                "conditions": [
                    {"type": "Available", "status": "True", "lastUpdateTime": "2026-05-04T10:21:02Z",
                     "lastTransitionTime": "2026-05-04T10:21:02Z", "reason": "MinimumReplicasAvailable",
                     "message": "Deployment has minimum availability."},
                    {"type": "Progressing", "status": "True", "lastUpdateTime": "2026-05-04T10:21:02Z",
                     "lastTransitionTime": "2026-05-01T08:00:00Z", "reason": "NewReplicaSetAvailable",
                     "message": "ReplicaSet has successfully progressed."},
                ],
            });
        }
        "Service" => {
            let ip = format!("10.96.{}.{}", seed / 250 % 250, seed % 250 + 2);
            let spec = &mut live["spec"];
            spec["clusterIP"] = json!(ip);
            spec["clusterIPs"] = json!([ip]);
            spec["internalTrafficPolicy"] = json!("Cluster");
            spec["ipFamilies"] = json!(["IPv4"]);
            spec["ipFamilyPolicy"] = json!("SingleStack");
            spec["sessionAffinity"] = json!("None");
            if spec.get("type").is_none() {
                spec["type"] = json!("ClusterIP");
            }
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for port in ports {
                    port["protocol"] = json!("TCP");
                }
            }
            live["status"] = json!({"loadBalancer": {}});
        }
        "CustomResourceDefinition" => {
            let names = object.pointer("/spec/names").cloned().unwrap_or(json!({}));
            let versions: Vec<Value> = object
                .pointer("/spec/versions")
                .and_then(Value::as_array)
                .map(|v| v.iter().filter_map(|v| v.get("name").cloned()).collect())
                .unwrap_or_default();
            live["status"] = json!({
                "acceptedNames": names,
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "lastTransitionTime": "2026-05-04T10:20:31Z",
                     "reason": "NoConflicts", "message": "no conflicts found"},
                    {"type": "Established", "status": "True", "lastTransitionTime": "2026-05-04T10:20:31Z",
                     "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
                ],
                "storedVersions": versions,
            });
        }
        _ => {}
    }

    let meta = live["metadata"]
        .as_object_mut()
        .expect("a manifest has metadata");
    meta.insert(
        "uid".to_owned(),
        json!(format!(
            "6f1c3a52-{seed:04x}-4b8e-9d2a-{:012x}",
            seed * 7919
        )),
    );
    meta.insert(
        "resourceVersion".to_owned(),
        json!((48_213_000 + seed * 13).to_string()),
    );
    meta.insert("generation".to_owned(), json!(3));
    meta.insert(
        "creationTimestamp".to_owned(),
        json!("2026-05-01T08:00:00Z"),
    );
    meta.insert("managedFields".to_owned(), Value::Array(managed));
    live
}

/// The managedFields entry of the controller that writes an object's status.
fn status_manager(object: &Value, fields: Value) -> Value {
    json!({
        "manager": "kube-controller-manager",
        "operation": "Update",
        "apiVersion": object.get("apiVersion").cloned().unwrap_or(Value::Null),
        "time": "2026-05-04T10:21:02Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
        "subresource": "status",
    })
}

/// The defaults the API server fills into a Deployment and its pod template.
fn defaults_deployment(live: &mut Value) {
    let spec = &mut live["spec"];
    spec["progressDeadlineSeconds"] = json!(600);
    if spec.get("revisionHistoryLimit").is_none() {
        spec["revisionHistoryLimit"] = json!(10);
    }
    let pod = &mut spec["template"]["spec"];
    pod["dnsPolicy"] = json!("ClusterFirst");
    pod["restartPolicy"] = json!("Always");
    pod["schedulerName"] = json!("default-scheduler");
    pod["terminationGracePeriodSeconds"] = json!(30);
    if let Some(containers) = pod.get_mut("containers").and_then(Value::as_array_mut) {
        for c in containers {
            c["imagePullPolicy"] = json!("IfNotPresent");
            c["terminationMessagePath"] = json!("/dev/termination-log");
            c["terminationMessagePolicy"] = json!("File");
            if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
                for port in ports {
                    port["protocol"] = json!("TCP");
                }
            }
            for probe in ["readinessProbe", "livenessProbe"] {
                if let Some(p) = c.get_mut(probe).and_then(Value::as_object_mut) {
                    p.insert("timeoutSeconds".to_owned(), json!(1));
                    p.insert("successThreshold".to_owned(), json!(1));
                    p.insert("failureThreshold".to_owned(), json!(3));
                    if let Some(get) = p.get_mut("httpGet") {
                        get["scheme"] = json!("HTTP");
                    }
                }
            }
        }
    }
    if let Some(volumes) = pod.get_mut("volumes").and_then(Value::as_array_mut) {
        for v in volumes {
            if let Some(cm) = v.get_mut("configMap") {
                cm["defaultMode"] = json!(420);
            }
        }
    }
}

/// A FieldsV1 tree of every field `value` sets, lists of named items keyed by name (as the
/// API server writes them for containers, env, ports, volumes), other lists atomic.
fn fields_v1(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (format!("f:{k}"), fields_v1(v)))
                .collect(),
        ),
        Value::Array(items)
            if !items.is_empty()
                && items
                    .iter()
                    .all(|i| i.get("name").is_some_and(Value::is_string)) =>
        {
            let mut out = Map::new();
            for item in items {
                let mut fields = fields_v1(item);
                if let Some(f) = fields.as_object_mut() {
                    f.insert(".".to_owned(), json!({}));
                }
                out.insert(format!("k:{}", json!({"name": item["name"]})), fields);
            }
            Value::Object(out)
        }
        _ => json!({}),
    }
}

/// Object `i` of a generated cluster: apps of three objects each (a Deployment, its Service
/// and its ConfigMap) spread over 20 namespaces, sizes varying a little from app to app.
fn generated(i: usize) -> Value {
    let app = format!("app-{:05}", i / 3);
    let namespace = format!("team-{:02}", i / 3 % 20);
    let labels = json!({
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/part-of": "shop",
        "app.kubernetes.io/version": "1.4.2",
        "app.kubernetes.io/managed-by": "converge",
    });
    let metadata = |name: String| {
        json!({"name": name, "namespace": namespace, "labels": labels,
               "annotations": {"converge.dev/source": "git@example.com:shop/deploy.git//apps",
                               "converge.dev/revision": "main@sha1:3f9a1c0d2b7e"}})
    };
    match i % 3 {
        0 => {
            let env: Vec<Value> = (0..4 + i % 5)
                .map(|e| json!({"name": format!("FEATURE_{e}"), "value": if e % 2 == 0 { "on" } else { "off" }}))
                .chain([
                    json!({"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}),
                    json!({"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": format!("{app}-db"), "key": "password"}}}),
                ])
                .collect();
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata(app.clone()),
                "spec": {
                    "replicas": 2 + i % 3,
                    "revisionHistoryLimit": 5,
                    "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
                    "template": {
                        "metadata": {"labels": labels,
                                     "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9090"}},
                        "spec": {
                            "serviceAccountName": app,
                            "securityContext": {"runAsNonRoot": true, "runAsUser": 10001, "fsGroup": 2000},
                            "containers": [{
                                "name": "app",
                                "image": format!("registry.example.com/shop/{app}:1.4.2"),
                                "args": ["--port=8080", "--metrics-port=9090", "--log-level=info"],
                                "ports": [{"name": "http", "containerPort": 8080}, {"name": "metrics", "containerPort": 9090}],
                                "env": env,
                                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                              "limits": {"cpu": "500m", "memory": "256Mi"}},
                                "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 10},
                                "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "initialDelaySeconds": 5},
                                "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                                                    "capabilities": {"drop": ["ALL"]}},
                                "volumeMounts": [{"name": "config", "mountPath": "/etc/app", "readOnly": true},
                                                 {"name": "tmp", "mountPath": "/tmp"}],
                            }],
                            "volumes": [{"name": "config", "configMap": {"name": format!("{app}-config")}},
                                        {"name": "tmp", "emptyDir": {}}],
                        },
                    },
                },
            })
        }
        1 => json!({
            "apiVersion": "v1", "kind": "Service", "metadata": metadata(app.clone()),
            "spec": {
                "selector": {"app.kubernetes.io/name": app},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"},
                          {"name": "metrics", "port": 9090, "targetPort": "metrics"}],
            },
        }),
        _ => {
            let mut data = Map::new();
            data.insert("LOG_LEVEL".to_owned(), json!("info"));
            data.insert("CACHE_TTL".to_owned(), json!(format!("{}s", 30 + i % 90)));
            let mut yaml =
                String::from("server:\n  port: 8080\n  shutdownTimeout: 20s\nupstreams:\n");
            for u in 0..6 + i % 10 {
                let _ = writeln!(
                    yaml,
                    "  - name: svc-{u}\n    url: http://svc-{u}.{namespace}.svc.cluster.local:80\n    timeout: 2s\n    retries: 3"
                );
            }
            data.insert("application.yaml".to_owned(), json!(yaml));
            json!({
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(format!("{app}-config")),
                "data": data,
            })
        }
    }
}

/// Changes what a live object holds so that it drifted from desired.
fn drift_live(live: &mut Value) {
    match live.get("kind").and_then(Value::as_str) {
        Some("Deployment") => {
            let image = &mut live["spec"]["template"]["spec"]["containers"][0]["image"];
            let old = image
                .as_str()
                .unwrap_or_default()
                .replace(":1.4.2", ":1.4.1");
            *image = json!(old);
        }
        Some("Service") => live["spec"]["ports"][0]["targetPort"] = json!(8081),
        _ => live["data"]["LOG_LEVEL"] = json!("debug"),
    }
}

/// A generated cluster of `n` objects with every `1/changed_every`-th one drifted (none when
/// `None`); the inventory is every desired object (the previous sync applied them all).
fn generate_cluster(n: usize, changed_every: Option<usize>) -> Cluster {
    let objects: Vec<Value> = (0..n).map(generated).collect();
    let live = objects
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let mut live = as_live(o, i);
            if changed_every.is_some_and(|every| i % every == every / 2) {
                drift_live(&mut live);
            }
            live
        })
        .collect();
    let desired: Vec<Manifest> = objects
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            Manifest::new(o, Origin::new(format!("apps/{}.yaml", i / 3), i % 3, 1))
                .expect("a generated object is a manifest")
        })
        .collect();
    let case = if changed_every.is_some() {
        "1pct-changed"
    } else {
        "no-change"
    };
    Cluster {
        name: format!("{n}-{case}"),
        inventory: desired.iter().map(|m| m.id().clone()).collect(),
        desired,
        live,
    }
}

/// The live → desired pairs of a cluster, for the RFC 6902 generators.
fn cluster_pairs(cluster: &Cluster) -> PairSet {
    let pairs = cluster
        .desired
        .iter()
        .zip(&cluster.live)
        .map(|(m, live)| Pair {
            label: m.id().to_string(),
            from: live.clone(),
            to: m.object().clone(),
        })
        .collect();
    PairSet::new(format!("plan-{}", cluster.name), pairs)
}

/// Checks, once, that both generators' patches turn `from` into `to` (so both did the whole
/// job), and returns how many operations each makes over the set.
fn check_patches(set: &PairSet) -> (usize, usize) {
    let (mut ours, mut theirs) = (0, 0);
    for pair in &set.pairs {
        let patch = json_patch::diff(&pair.from, &pair.to);
        let mut doc = pair.from.clone();
        patch.apply(&mut doc).expect("our patch applies");
        assert!(
            doc == pair.to,
            "{}: our patch does not give the new object",
            pair.label
        );
        ours += patch.0.len();
        let patch = ::json_patch::diff(&pair.from, &pair.to);
        let mut doc = pair.from.clone();
        ::json_patch::patch(&mut doc, &patch).expect("the crate's patch applies");
        assert!(
            doc == pair.to,
            "{}: the crate's patch does not give the new object",
            pair.label
        );
        theirs += patch.0.len();
    }
    (ours, theirs)
}

/// The four benchmarks every pair set gets: parse reference, both RFC 6902 generators, and
/// our merge patch, each over every pair of the set.
fn bench_generators(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    set: &PairSet,
    param: Option<&str>,
) {
    let id = |name: &str| match param {
        Some(p) => BenchmarkId::new(name, p),
        None => BenchmarkId::from_parameter(name),
    };
    group.bench_function(id("parse/json"), |b| {
        b.iter(|| {
            for bytes in set.from_json.iter().chain(&set.to_json) {
                let value: Value = serde_json::from_slice(black_box(bytes)).expect("JSON we wrote");
                black_box(value);
            }
        });
    });
    group.bench_function(id("converge/json_patch_diff"), |b| {
        b.iter(|| {
            for p in &set.pairs {
                black_box(json_patch::diff(black_box(&p.from), black_box(&p.to)));
            }
        });
    });
    group.bench_function(id("json-patch-crate/diff"), |b| {
        b.iter(|| {
            for p in &set.pairs {
                black_box(::json_patch::diff(black_box(&p.from), black_box(&p.to)));
            }
        });
    });
    group.bench_function(id("converge/merge_patch"), |b| {
        b.iter(|| {
            for p in &set.pairs {
                black_box(create_merge_patch(black_box(&p.from), black_box(&p.to)));
            }
        });
    });
}

fn bench_upgrade(c: &mut Criterion, set: &PairSet, cluster: Option<&Cluster>) {
    let mut group = c.benchmark_group(&set.name);
    // One iteration diffs megabytes: time each one on its own rather than in growing batches.
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(set.elements());
    bench_generators(&mut group, set, None);
    if let Some(cluster) = cluster {
        group.throughput(Throughput::Elements(cluster.desired.len() as u64));
        let options = PlanOptions::default();
        group.bench_function("converge/plan", |b| {
            b.iter(|| {
                plan(
                    black_box(&cluster.desired),
                    &cluster.live,
                    &cluster.inventory,
                    &options,
                )
                .expect("plan")
            });
        });
    }
    group.finish();
}

fn bench_objects(c: &mut Criterion, objects: &[PairSet]) {
    let mut group = c.benchmark_group("objects");
    // Microseconds per iteration: shorter runs than the other groups still give tight estimates.
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Elements(1));
    let normalizer = Normalizer::default();
    for set in objects {
        bench_generators(&mut group, set, Some(&set.name));
        let pair = &set.pairs[0];
        // Desired is the new version, live the old one as the API server returns it; the last
        // apply wrote the old version. The kind's type comes from the built-in schema, as
        // `plan` and `three_way` take it.
        let live = as_live(&pair.from, 1);
        let ty = Manifest::new(pair.to.clone(), Origin::default())
            .ok()
            .and_then(|m| {
                let id = m.id();
                Schema::kubernetes().for_kind(&id.group, &id.version, &id.kind)
            });
        group.bench_function(BenchmarkId::new("converge/drift", &set.name), |b| {
            b.iter(|| drift(black_box(&pair.to), black_box(&live), None, &normalizer, ty));
        });
        group.bench_function(
            BenchmarkId::new("converge/three_way_merge_patch", &set.name),
            |b| {
                b.iter(|| {
                    create_three_way_merge_patch(
                        Some(&pair.from),
                        black_box(&pair.to),
                        Some(&live),
                        true,
                    )
                    .expect("objects on every side")
                });
            },
        );
        if let Some(ty) = ty {
            group.bench_function(
                BenchmarkId::new("converge/three_way_strategic_patch", &set.name),
                |b| {
                    b.iter(|| {
                        create_three_way_strategic_patch(
                            Some(&pair.from),
                            black_box(&pair.to),
                            Some(&live),
                            ty,
                            true,
                        )
                        .expect("objects on every side")
                    });
                },
            );
        }
        // The whole three-way diff of a client-side apply: patch, predicted object, changes.
        group.bench_function(BenchmarkId::new("converge/three_way", &set.name), |b| {
            b.iter(|| {
                three_way(Some(&pair.from), black_box(&pair.to), &live, ty, true)
                    .expect("objects on every side")
            });
        });
    }
    group.finish();
}

fn bench_plans(c: &mut Criterion, clusters: &[Cluster], pairs: &[PairSet], largest: usize) {
    let mut group = c.benchmark_group("plan");
    group.sampling_mode(SamplingMode::Flat);
    let plain = PlanOptions::default();
    let managed = PlanOptions::default().with_field_manager(MANAGER);
    for cluster in clusters {
        group.throughput(Throughput::Elements(cluster.desired.len() as u64));
        let n = cluster.desired.len();
        let mut options = vec![("converge/plan", &plain)];
        if n == largest && cluster.name.ends_with("no-change") {
            options.push(("converge/plan+field-manager", &managed));
        }
        for (name, options) in options {
            group.bench_function(BenchmarkId::new(name, &cluster.name), |b| {
                b.iter(|| {
                    plan(
                        black_box(&cluster.desired),
                        &cluster.live,
                        &cluster.inventory,
                        options,
                    )
                    .expect("plan")
                });
            });
        }
    }
    for set in pairs {
        group.throughput(set.elements());
        bench_generators(&mut group, set, Some(set.name.trim_start_matches("plan-")));
    }
    group.finish();
}

/// Checks that the generated plans come out as intended before they are measured.
fn check_plans(clusters: &[Cluster]) {
    for cluster in clusters {
        let p = plan(
            &cluster.desired,
            &cluster.live,
            &cluster.inventory,
            &PlanOptions::default(),
        )
        .expect("plan");
        let updates = p.count(PlanAction::Update);
        let expected = if cluster.name.ends_with("no-change") {
            0
        } else {
            cluster.desired.len().div_ceil(100)
        };
        assert_eq!(updates, expected, "{}: {}", cluster.name, p.summary());
        assert_eq!(
            p.count(PlanAction::Unchanged),
            cluster.desired.len() - updates
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The npm peer and the comparison table.

/// The npm peer's results per set, or why it was skipped.
enum Peer {
    Ran {
        version: String,
        sets: HashMap<String, PeerSet>,
    },
    Skipped(String),
}

struct PeerSet {
    parse_ns: f64,
    compare_ns: f64,
    operations: u64,
}

fn node_modules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/bench-peers/node_modules")
}

/// Writes every set as NDJSON into a temporary folder and runs `fast-json-patch.js` on it:
/// each measurement for at least 1 s, or, with `quick` (`cargo test --benches`), once on the first
/// [`QUICK_PAIRS`] pairs of each set, to check that the peer works.
fn run_fast_json_patch(sets: &[&PairSet], quick: bool) -> Peer {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/fast-json-patch.js");
    let modules = node_modules();
    if !modules.join("fast-json-patch").is_dir() {
        return Peer::Skipped(format!(
            "fast-json-patch is not installed in {} (run `bash benches/peers/install.sh`)",
            modules.display()
        ));
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    for set in sets {
        let folder = dir.path().join(&set.name);
        std::fs::create_dir_all(&folder).expect("a folder in the temporary folder");
        for (file, objects) in [("from.ndjson", &set.from_json), ("to.ndjson", &set.to_json)] {
            let objects = &objects[..if quick {
                QUICK_PAIRS.min(objects.len())
            } else {
                objects.len()
            }];
            let mut text = Vec::with_capacity(objects.iter().map(|o| o.len() + 1).sum());
            for o in objects {
                text.extend_from_slice(o);
                text.push(b'\n');
            }
            std::fs::write(folder.join(file), text).expect("writing the pairs");
        }
    }
    let mut command = Command::new("node");
    command
        .arg(&script)
        .arg(dir.path())
        .arg("--modules")
        .arg(&modules);
    if quick {
        command.args(["--seconds", "0", "--min-iterations", "1"]);
    } else {
        command.args(["--seconds", "1"]);
    }
    let output = match command.output() {
        Ok(output) => output,
        Err(err) => return Peer::Skipped(format!("cannot run node: {err}")),
    };
    if !output.status.success() {
        return Peer::Skipped(format!(
            "node {} failed ({}): {}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let result: Value = serde_json::from_slice(&output.stdout).expect("the peer prints JSON");
    let number = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let sets = result["sets"]
        .as_object()
        .map(|sets| {
            sets.iter()
                .map(|(name, s)| {
                    let set = PeerSet {
                        parse_ns: number(s, "parse_ns"),
                        compare_ns: number(s, "compare_ns"),
                        operations: s.get("operations").and_then(Value::as_u64).unwrap_or(0),
                    };
                    (name.clone(), set)
                })
                .collect()
        })
        .unwrap_or_default();
    Peer::Ran {
        version: format!(
            "fast-json-patch {} on node {}",
            result["version"].as_str().unwrap_or("?"),
            result["node"].as_str().unwrap_or("?")
        ),
        sets,
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".to_owned(),
    }
}

/// The comparison table, as Markdown on stderr (ready for the crate README).
fn report(
    sets: &[(&str, Option<&str>, &PairSet)],
    clusters: &[Cluster],
    largest: usize,
    peer: &Peer,
    since: SystemTime,
) {
    let mut out = String::new();
    let peer_note = match peer {
        Peer::Ran { version, .. } => version.clone(),
        Peer::Skipped(why) => format!("SKIPPED: {why}"),
    };
    let _ = writeln!(
        out,
        "\n## diff_engine: per object (npm peer: {peer_note})\n"
    );
    let _ = writeln!(
        out,
        "| input | pairs | converge json_patch::diff | json-patch crate | fast-json-patch compare | converge merge patch | serde_json parse | JSON.parse | ours ÷ crate | ours ÷ fast-json-patch | ours ÷ parse | crate ÷ parse | fast-json-patch ÷ JSON.parse | ops ours / crate / fjp |"
    );
    let _ = writeln!(
        out,
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    );
    for (group, param, set) in sets {
        let n = set.pairs.len() as f64;
        let per = |ns: Option<f64>| ns.map(|ns| ns / n);
        let ours = per(measured(group, "converge/json_patch_diff", *param, since));
        let crate_ = per(measured(group, "json-patch-crate/diff", *param, since));
        let merge = per(measured(group, "converge/merge_patch", *param, since));
        let parse = per(measured(group, "parse/json", *param, since));
        let (fjp, fjp_parse, fjp_ops) = match peer {
            Peer::Ran { sets, .. } => sets.get(&set.name).map_or((None, None, None), |s| {
                (
                    Some(s.compare_ns / n),
                    Some(s.parse_ns / n),
                    Some(s.operations),
                )
            }),
            Peer::Skipped(_) => (None, None, None),
        };
        let (ops_ours, ops_crate) = check_patches(set);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} / {} |",
            set.name,
            set.pairs.len(),
            time(ours),
            time(crate_),
            time(fjp),
            time(merge),
            time(parse),
            time(fjp_parse),
            ratio(ours, crate_),
            ratio(ours, fjp),
            ratio(ours, parse),
            ratio(crate_, parse),
            ratio(fjp, fjp_parse),
            ops_ours,
            ops_crate,
            fjp_ops.map_or("–".to_owned(), |o| o.to_string()),
        );
    }
    let _ = writeln!(
        out,
        "\n## diff_engine: drift and three-way diffs per object (desired = new version, live = old version as served, last-applied = old version)\n"
    );
    let _ = writeln!(
        out,
        "| object | converge drift | converge three-way merge patch | converge three-way strategic patch | converge three_way (patch + prediction + changes) | converge json_patch::diff | serde_json parse | drift ÷ parse | three_way ÷ parse |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|");
    for (group, param, set) in sets.iter().filter(|(g, _, _)| *g == "objects") {
        let drift = measured(group, "converge/drift", *param, since);
        let parse = measured(group, "parse/json", *param, since);
        let whole = measured(group, "converge/three_way", *param, since);
        let _ = writeln!(
            out,
            "| {} ({}) | {} | {} | {} | {} | {} | {} | {} | {} |",
            set.name,
            set.pairs[0].label,
            time(drift),
            time(measured(
                group,
                "converge/three_way_merge_patch",
                *param,
                since
            )),
            time(measured(
                group,
                "converge/three_way_strategic_patch",
                *param,
                since
            )),
            time(whole),
            time(measured(group, "converge/json_patch_diff", *param, since)),
            time(parse),
            ratio(drift, parse),
            ratio(whole, parse),
        );
    }
    let _ = writeln!(
        out,
        "\n## diff_engine: whole-set plans (goal: 10,000 unchanged objects under 100 ms, faster per object than every peer)\n"
    );
    let _ = writeln!(
        out,
        "| plan | objects | time | per object | ÷ 100 ms | json-patch crate per object (same live → desired pairs) | fast-json-patch per object | plan ÷ crate | plan ÷ fast-json-patch |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|");
    for cluster in clusters {
        let n = cluster.desired.len() as f64;
        let functions: &[(&str, &str)] = if cluster.name.starts_with("kube-prometheus") {
            &[("kube-prometheus-upgrade", "converge/plan")]
        } else {
            &[
                ("plan", "converge/plan"),
                ("plan", "converge/plan+field-manager"),
            ]
        };
        for (group, function) in functions {
            let param = (*group == "plan").then_some(cluster.name.as_str());
            let Some(ns) = measured(group, function, param, since) else {
                continue;
            };
            // The peers ran on the 10,000-object pairs of the same case (no change, 1% changed):
            // per object, the same kind of objects.
            let (crate_, fjp) = match cluster.name.split_once('-') {
                Some((_, case)) if *group == "plan" => {
                    let param = format!("{largest}-{case}");
                    let crate_ = measured("plan", "json-patch-crate/diff", Some(&param), since);
                    let fjp = match peer {
                        Peer::Ran { sets, .. } => {
                            sets.get(&format!("plan-{param}")).map(|s| s.compare_ns)
                        }
                        Peer::Skipped(_) => None,
                    };
                    let per = |ns: f64| ns / largest as f64;
                    (crate_.map(per), fjp.map(per))
                }
                _ => (None, None),
            };
            let _ = writeln!(
                out,
                "| `{function}` {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                cluster.name,
                cluster.desired.len(),
                time(Some(ns)),
                time(Some(ns / n)),
                ratio(Some(ns), Some(1e8)),
                time(crate_),
                time(fjp),
                ratio(Some(ns / n), crate_),
                ratio(Some(ns / n), fjp),
            );
        }
    }
    eprint!("{out}");
}

fn main() {
    let benchmarking = results::benchmarking();
    let started = SystemTime::now();

    let root = corpus_root();
    if !root.is_dir() {
        missing("the corpus folder is missing", "the benchmark");
        return;
    }
    let crds = load_crd_upgrade(&root);
    let kube_prometheus = load_kube_prometheus(&root);
    let (kp_pairs, kp_cluster) = kube_prometheus.map_or((None, None), |(p, c)| (Some(p), Some(c)));
    let objects = pick_objects(crds.as_ref(), kp_pairs.as_ref());

    // `cargo test --benches` runs each benchmark once in a debug build: smaller clusters there.
    let testing = !benchmarking;
    let sizes = if testing {
        [100, 1_000]
    } else {
        [1_000, 10_000]
    };
    let largest = sizes[1];
    let clusters: Vec<Cluster> = sizes
        .into_iter()
        .flat_map(|n| [generate_cluster(n, None), generate_cluster(n, Some(100))])
        .collect();
    check_plans(&clusters);
    let cluster_sets: Vec<PairSet> = clusters
        .iter()
        .filter(|c| c.desired.len() == largest)
        .map(cluster_pairs)
        .collect();

    let mut summary = String::from("diff_engine inputs:");
    for set in crds
        .iter()
        .chain(&kp_pairs)
        .chain(&objects)
        .chain(&cluster_sets)
    {
        let _ = write!(
            summary,
            "\n  {}: {} pairs, {:.1} MB of compact JSON{}",
            set.name,
            set.pairs.len(),
            set.json_bytes() as f64 / 1e6,
            if set.pairs.len() == 1 {
                format!(" ({})", set.pairs[0].label)
            } else {
                String::new()
            },
        );
    }
    eprintln!("{summary}");

    // Small samples keep a full run near 4 minutes on two cores; command-line flags still win.
    let mut c = criterion(Duration::from_secs(3));
    if let Some(set) = &crds {
        bench_upgrade(&mut c, set, None);
    }
    if let Some(set) = &kp_pairs {
        bench_upgrade(&mut c, set, kp_cluster.as_ref());
    }
    bench_objects(&mut c, &objects);
    bench_plans(&mut c, &clusters, &cluster_sets, largest);
    c.final_summary();

    let mut table: Vec<(&str, Option<&str>, &PairSet)> = Vec::new();
    for set in crds.iter().chain(&kp_pairs) {
        table.push((&set.name, None, set));
    }
    for set in &objects {
        table.push(("objects", Some(&set.name), set));
    }
    for set in &cluster_sets {
        table.push(("plan", Some(set.name.trim_start_matches("plan-")), set));
    }
    let peer_sets: Vec<&PairSet> = table.iter().map(|(_, _, s)| *s).collect();
    let peer = if Command::new("node").arg("--version").output().is_err() {
        Peer::Skipped("node is not installed".to_owned())
    } else {
        run_fast_json_patch(&peer_sets, !benchmarking)
    };
    if let Peer::Skipped(why) = &peer {
        let loud = if in_ci() { "!!! " } else { "" };
        eprintln!("{loud}diff_engine: the npm peer fast-json-patch was skipped: {why}");
    }
    if benchmarking {
        let mut all_clusters: Vec<Cluster> = kp_cluster.into_iter().collect();
        all_clusters.extend(clusters);
        report(&table, &all_clusters, largest, &peer, started);
    }
}
