//! A tiny stand-in for the controllers of a real cluster: workloads become ready, Jobs
//! finish, Pods run, claims bind and load balancers get an address a while after each change,
//! so that health waits and drift checks meet the status a real cluster would write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::fields::Writer;
use crate::meta;
use crate::store::{Store, WriteOptions, text};

/// The annotation that makes a Job fail instead of completing.
pub const JOB_OUTCOME_ANNOTATION: &str = "testcluster.converge.dev/job-outcome";

/// The kinds the controller looks after.
const WATCHED: [(&str, &str); 8] = [
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("apps", "replicasets"),
    ("batch", "jobs"),
    ("", "pods"),
    ("", "persistentvolumeclaims"),
    ("", "services"),
];

/// Runs until `changes` closes: after each write, and every tick, brings the status of
/// workloads that have waited `delay` since their last change up to date.
pub(crate) async fn run(
    store: Arc<Mutex<Store>>,
    changes: Arc<tokio::sync::watch::Sender<u64>>,
    delay: Duration,
) {
    let mut receiver = changes.subscribe();
    // (uid, generation) → when the controller first saw it.
    let mut seen: HashMap<(String, i64), Instant> = HashMap::new();
    loop {
        let now = Instant::now();
        let mut next_wake: Option<Instant> = None;
        let revision = {
            let mut store = store.lock().unwrap_or_else(|p| p.into_inner());
            for (group, plural) in WATCHED {
                let Some(kind) = store.kind(group, plural).cloned() else {
                    continue;
                };
                for object in store.objects(&kind) {
                    let uid = text(&object, "/metadata/uid").to_owned();
                    let generation = object["metadata"]["generation"].as_i64().unwrap_or(1);
                    let Some(status) = desired_status(&kind.kind, &object) else {
                        continue;
                    };
                    if object.get("status") == Some(&status) {
                        continue;
                    }
                    let since = *seen.entry((uid, generation)).or_insert(now);
                    if now < since + delay {
                        let wake = since + delay;
                        next_wake = Some(next_wake.map_or(wake, |w| w.min(wake)));
                        continue;
                    }
                    let mut updated = object.clone();
                    updated["status"] = status;
                    let namespace = text(&object, "/metadata/namespace").to_owned();
                    let namespace = (!namespace.is_empty()).then_some(namespace);
                    let name = text(&object, "/metadata/name").to_owned();
                    // A write that lost a race is tried again on the next pass.
                    let _ = store.update(
                        &kind,
                        namespace.as_deref(),
                        &name,
                        updated,
                        Some("status"),
                        &WriteOptions {
                            writer: Writer::Manager("kube-controller-manager".to_owned()),
                            ..WriteOptions::default()
                        },
                    );
                }
            }
            store.revision()
        };
        changes.send_if_modified(|last| {
            let changed = *last != revision;
            *last = revision;
            changed
        });
        let wake = next_wake.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            changed = receiver.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}

/// A stable address for an object, from its uid: `10.244.x.y`.
fn pod_ip(uid: &str) -> String {
    let hash = uid
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("10.244.{}.{}", (hash >> 8) & 0xff, (hash & 0xfe) + 1)
}

/// The status a settled controller would have written for `object`, or `None` when it
/// writes none (a finished Job).
fn desired_status(kind: &str, object: &Value) -> Option<Value> {
    let generation = object["metadata"]["generation"].as_i64().unwrap_or(1);
    let replicas = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let time = || {
        object["metadata"]["creationTimestamp"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(meta::now)
    };
    match kind {
        "Deployment" => Some(json!({
            "observedGeneration": generation,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                 "message": "Deployment has minimum availability.",
                 "lastUpdateTime": time(), "lastTransitionTime": time()},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "message": format!("ReplicaSet \"{}\" has successfully progressed.", text(object, "/metadata/name")),
                 "lastUpdateTime": time(), "lastTransitionTime": time()},
            ],
        })),
        "StatefulSet" => {
            let revision = format!("{}-{generation}", text(object, "/metadata/name"));
            Some(json!({
                "observedGeneration": generation,
                "replicas": replicas,
                "readyReplicas": replicas,
                "currentReplicas": replicas,
                "updatedReplicas": replicas,
                "availableReplicas": replicas,
                "currentRevision": revision,
                "updateRevision": revision,
                "collisionCount": 0,
            }))
        }
        "DaemonSet" => Some(json!({
            "observedGeneration": generation,
            "desiredNumberScheduled": 1,
            "currentNumberScheduled": 1,
            "updatedNumberScheduled": 1,
            "numberReady": 1,
            "numberAvailable": 1,
            "numberMisscheduled": 0,
        })),
        "ReplicaSet" => Some(json!({
            "observedGeneration": generation,
            "replicas": replicas,
            "fullyLabeledReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
        })),
        "Pod" => {
            let started = object
                .pointer("/status/startTime")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(time);
            let containers: Vec<Value> = object
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| {
                    json!({"name": c["name"], "image": c["image"], "imageID": "",
                        "ready": true, "started": true, "restartCount": 0,
                        "state": {"running": {"startedAt": started}}})
                })
                .collect();
            let condition = |kind: &str| {
                json!({"type": kind, "status": "True", "lastProbeTime": null,
                    "lastTransitionTime": started})
            };
            let conditions =
                ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map(condition);
            Some(json!({
                "phase": "Running",
                "conditions": conditions,
                "hostIP": "10.0.0.1",
                "podIP": pod_ip(text(object, "/metadata/uid")),
                "startTime": started,
                "containerStatuses": containers,
                "qosClass": "BestEffort",
            }))
        }
        "PersistentVolumeClaim" => {
            let requested = object
                .pointer("/spec/resources/requests/storage")
                .cloned()
                .unwrap_or_else(|| json!("1Gi"));
            Some(json!({
                "phase": "Bound",
                "accessModes": object.pointer("/spec/accessModes").cloned().unwrap_or_else(|| json!(["ReadWriteOnce"])),
                "capacity": {"storage": requested},
            }))
        }
        "Service" => {
            if text(object, "/spec/type") != "LoadBalancer" {
                return None;
            }
            Some(json!({"loadBalancer": {"ingress": [
                {"ip": pod_ip(text(object, "/metadata/uid")).replace("10.244.", "172.18."), "ipMode": "VIP"}
            ]}}))
        }
        "Job" => {
            if object.pointer("/status/completionTime").is_some()
                || object
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .is_some_and(|c| c.iter().any(|c| c["type"] == "Failed"))
            {
                return None;
            }
            let failed = object
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(JOB_OUTCOME_ANNOTATION))
                .and_then(Value::as_str)
                == Some("failed");
            let now = meta::now();
            let start = object
                .pointer("/status/startTime")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| now.clone());
            // Both conditions of an outcome: the criterion met, then the verdict.
            let pair = |first: &str, second: &str, reason: &str, message: &str| {
                [first, second].map(|kind| {
                    json!({"type": kind, "status": "True", "reason": reason, "message": message,
                           "lastProbeTime": now, "lastTransitionTime": now})
                })
            };
            if failed {
                Some(json!({
                    "startTime": start,
                    "failed": 1,
                    "conditions": pair("FailureTarget", "Failed", "BackoffLimitExceeded",
                        "Job has reached the specified backoff limit"),
                }))
            } else {
                let completions = object["spec"]["completions"].as_i64().unwrap_or(1);
                Some(json!({
                    "startTime": start,
                    "completionTime": now,
                    "succeeded": completions,
                    "ready": 0,
                    "terminating": 0,
                    "conditions": pair("SuccessCriteriaMet", "Complete", "CompletionsReached",
                        "Reached expected number of succeeded pods"),
                }))
            }
        }
        _ => None,
    }
}
