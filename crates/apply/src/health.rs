//! Health: whether an object the cluster holds has become what it was asked to be — a
//! rollout finished, a Job done, a claim bound — read from its status as kstatus and Argo CD
//! read it.

use std::fmt;

use serde_json::Value;

/// The health of a live object.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Health {
    /// Done: what the object asks for is in place.
    Healthy,
    /// On its way, with what is still missing (`1 of 3 replicas available`).
    Progressing(String),
    /// Failed, and will not get better by waiting (a Job failed, a rollout past its deadline).
    Degraded(String),
}

impl Health {
    /// True for [`Health::Healthy`].
    pub fn is_healthy(&self) -> bool {
        matches!(self, Health::Healthy)
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Health::Healthy => f.write_str("healthy"),
            Health::Progressing(why) => write!(f, "progressing: {why}"),
            Health::Degraded(why) => write!(f, "degraded: {why}"),
        }
    }
}

fn int(object: &Value, pointer: &str) -> Option<i64> {
    object.pointer(pointer).and_then(Value::as_i64)
}

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The condition of `kind` in `status.conditions`: (status, reason, message).
fn condition<'a>(object: &'a Value, kind: &str) -> Option<(&'a str, &'a str, &'a str)> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or(""),
                c["reason"].as_str().unwrap_or(""),
                c["message"].as_str().unwrap_or(""),
            )
        })
}

/// Whether the controller has seen the latest spec: `status.observedGeneration` caught up with
/// `metadata.generation` (objects that report no observed generation are taken as seen).
fn observed(object: &Value) -> Option<Health> {
    let generation = int(object, "/metadata/generation")?;
    let observed = int(object, "/status/observedGeneration")?;
    (observed < generation).then(|| {
        Health::Progressing(format!(
            "the controller has seen generation {observed}, not yet {generation}"
        ))
    })
}

/// The health of `object`, by its kind's rules, else by the generic rules of its conditions.
///
/// ```
/// use converge_apply::health::{Health, health};
/// use serde_json::json;
///
/// let rolling = json!({"apiVersion": "apps/v1", "kind": "Deployment",
///     "metadata": {"generation": 2}, "spec": {"replicas": 3},
///     "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 1}});
/// assert_eq!(health(&rolling), Health::Progressing("1 of 3 replicas available".into()));
/// ```
pub fn health(object: &Value) -> Health {
    let group = text(object, "/apiVersion")
        .rsplit_once('/')
        .map_or("", |(group, _)| group);
    match (group, text(object, "/kind")) {
        ("apps", "Deployment") => deployment(object),
        ("apps", "StatefulSet") => stateful_set(object),
        ("apps", "DaemonSet") => daemon_set(object),
        ("apps", "ReplicaSet") => replica_set(object),
        ("batch", "Job") => job(object),
        ("", "Pod") => pod(object),
        ("", "PersistentVolumeClaim") => claim(object),
        ("", "Service") => service(object),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => definition(object),
        ("apiregistration.k8s.io", "APIService") => api_service(object),
        _ => generic(object),
    }
}

fn deployment(object: &Value) -> Health {
    if let Some(waiting) = observed(object) {
        return waiting;
    }
    if let Some(("False", "ProgressDeadlineExceeded", message)) = condition(object, "Progressing") {
        return Health::Degraded(format!("progress deadline exceeded: {message}"));
    }
    if object.pointer("/spec/paused") == Some(&Value::Bool(true)) {
        return Health::Healthy;
    }
    let wanted = int(object, "/spec/replicas").unwrap_or(1);
    let updated = int(object, "/status/updatedReplicas").unwrap_or(0);
    let replicas = int(object, "/status/replicas").unwrap_or(0);
    let available = int(object, "/status/availableReplicas").unwrap_or(0);
    if updated < wanted {
        Health::Progressing(format!("{updated} of {wanted} replicas updated"))
    } else if replicas > updated {
        Health::Progressing(format!(
            "{} old replicas pending termination",
            replicas - updated
        ))
    } else if available < wanted {
        Health::Progressing(format!("{available} of {wanted} replicas available"))
    } else {
        Health::Healthy
    }
}

fn stateful_set(object: &Value) -> Health {
    if let Some(waiting) = observed(object) {
        return waiting;
    }
    let wanted = int(object, "/spec/replicas").unwrap_or(1);
    let ready = int(object, "/status/readyReplicas").unwrap_or(0);
    if ready < wanted {
        return Health::Progressing(format!("{ready} of {wanted} replicas ready"));
    }
    if text(object, "/spec/updateStrategy/type") == "OnDelete" {
        return Health::Healthy;
    }
    let partition = int(object, "/spec/updateStrategy/rollingUpdate/partition").unwrap_or(0);
    let updated = int(object, "/status/updatedReplicas").unwrap_or(0);
    if updated < wanted - partition {
        return Health::Progressing(format!(
            "{updated} of {} replicas updated",
            wanted - partition
        ));
    }
    let (current, update) = (
        text(object, "/status/currentRevision"),
        text(object, "/status/updateRevision"),
    );
    if partition == 0 && !update.is_empty() && current != update {
        return Health::Progressing(format!("revision {update} rolling out"));
    }
    Health::Healthy
}

fn daemon_set(object: &Value) -> Health {
    if let Some(waiting) = observed(object) {
        return waiting;
    }
    if text(object, "/spec/updateStrategy/type") == "OnDelete" {
        return Health::Healthy;
    }
    let desired = int(object, "/status/desiredNumberScheduled").unwrap_or(0);
    let updated = int(object, "/status/updatedNumberScheduled").unwrap_or(0);
    let available = int(object, "/status/numberAvailable").unwrap_or(0);
    if updated < desired {
        Health::Progressing(format!("{updated} of {desired} pods updated"))
    } else if available < desired {
        Health::Progressing(format!("{available} of {desired} pods available"))
    } else {
        Health::Healthy
    }
}

fn replica_set(object: &Value) -> Health {
    if let Some(waiting) = observed(object) {
        return waiting;
    }
    let wanted = int(object, "/spec/replicas").unwrap_or(1);
    let available = int(object, "/status/availableReplicas").unwrap_or(0);
    if available < wanted {
        Health::Progressing(format!("{available} of {wanted} replicas available"))
    } else {
        Health::Healthy
    }
}

fn job(object: &Value) -> Health {
    if let Some(("True", reason, message)) = condition(object, "Failed") {
        return Health::Degraded(format!("failed: {reason}: {message}"));
    }
    if let Some(("True", _, _)) = condition(object, "Complete") {
        return Health::Healthy;
    }
    if object.pointer("/spec/suspend") == Some(&Value::Bool(true)) {
        return Health::Progressing("suspended".to_owned());
    }
    Health::Progressing(format!(
        "{} of {} completions",
        int(object, "/status/succeeded").unwrap_or(0),
        int(object, "/spec/completions").unwrap_or(1)
    ))
}

fn pod(object: &Value) -> Health {
    match text(object, "/status/phase") {
        "Succeeded" => Health::Healthy,
        "Failed" => Health::Degraded(format!("failed: {}", text(object, "/status/message"))),
        "Running" => match condition(object, "Ready") {
            Some(("True", _, _)) => Health::Healthy,
            _ => Health::Progressing("running, not ready".to_owned()),
        },
        "" => Health::Progressing("not scheduled yet".to_owned()),
        phase => Health::Progressing(phase.to_lowercase()),
    }
}

fn claim(object: &Value) -> Health {
    match text(object, "/status/phase") {
        "Bound" => Health::Healthy,
        "Lost" => Health::Degraded("the claim lost its volume".to_owned()),
        _ => Health::Progressing("not bound yet".to_owned()),
    }
}

fn service(object: &Value) -> Health {
    if text(object, "/spec/type") != "LoadBalancer" {
        return Health::Healthy;
    }
    let addressed = object
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .is_some_and(|i| !i.is_empty());
    if addressed {
        Health::Healthy
    } else {
        Health::Progressing("waiting for a load balancer address".to_owned())
    }
}

fn definition(object: &Value) -> Health {
    if let Some(("False", reason, message)) = condition(object, "NamesAccepted") {
        return Health::Degraded(format!("names not accepted: {reason}: {message}"));
    }
    match condition(object, "Established") {
        Some(("True", _, _)) => Health::Healthy,
        _ => Health::Progressing("not established yet".to_owned()),
    }
}

fn api_service(object: &Value) -> Health {
    match condition(object, "Available") {
        Some(("True", _, _)) => Health::Healthy,
        Some((_, reason, message)) => {
            Health::Progressing(format!("not available: {reason}: {message}"))
        }
        None => Health::Progressing("not available yet".to_owned()),
    }
}

/// Any other kind, by the conventions kstatus reads: the observed generation, then `Stalled`
/// (failed), `Reconciling` (in progress) and `Ready` conditions. An object with no status is
/// taken as healthy: most kinds without a controller have none.
fn generic(object: &Value) -> Health {
    if let Some(waiting) = observed(object) {
        return waiting;
    }
    if let Some(("True", reason, message)) = condition(object, "Stalled") {
        return Health::Degraded(format!("stalled: {reason}: {message}"));
    }
    if let Some(("True", reason, message)) = condition(object, "Reconciling") {
        return Health::Progressing(format!("reconciling: {reason}: {message}"));
    }
    match condition(object, "Ready") {
        Some(("False", reason, message)) => {
            Health::Progressing(format!("not ready: {reason}: {message}"))
        }
        Some(("Unknown", reason, _)) => Health::Progressing(format!("readiness unknown: {reason}")),
        _ => Health::Healthy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(generation: i64, status: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"generation": generation},
            "spec": {"replicas": 2}, "status": status})
    }

    #[test]
    fn deployments_are_healthy_once_rolled_out() {
        assert_eq!(
            health(&deployment(3, json!({"observedGeneration": 2}))),
            Health::Progressing("the controller has seen generation 2, not yet 3".into())
        );
        assert_eq!(
            health(&deployment(
                1,
                json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2})
            )),
            Health::Progressing("1 old replicas pending termination".into())
        );
        assert!(health(&deployment(1, json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}))).is_healthy());
        let stuck = deployment(
            1,
            json!({"observedGeneration": 1, "conditions": [
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"web-1\" has timed out progressing."}]}),
        );
        assert!(matches!(health(&stuck), Health::Degraded(_)));
    }

    #[test]
    fn jobs_pods_claims_and_load_balancers() {
        let job = |conditions: Value| json!({"apiVersion": "batch/v1", "kind": "Job", "status": {"conditions": conditions}});
        assert!(health(&job(json!([{"type": "Complete", "status": "True"}]))).is_healthy());
        assert_eq!(
            health(&job(
                json!([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}])
            )),
            Health::Degraded(
                "failed: BackoffLimitExceeded: Job has reached the specified backoff limit".into()
            )
        );
        assert!(matches!(health(&job(json!([]))), Health::Progressing(_)));
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        assert!(health(&pod).is_healthy());
        let claim = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": "Pending"}});
        assert!(!health(&claim).is_healthy());
        let lb = json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "LoadBalancer"}, "status": {}});
        assert!(!health(&lb).is_healthy());
        let plain = json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "ClusterIP"}});
        assert!(health(&plain).is_healthy());
    }

    #[test]
    fn other_kinds_follow_their_conditions() {
        let custom = |conditions: Value| {
            json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"generation": 1}, "status": {"observedGeneration": 1, "conditions": conditions}})
        };
        assert!(health(&custom(json!([{"type": "Ready", "status": "True"}]))).is_healthy());
        assert!(matches!(
            health(&custom(
                json!([{"type": "Ready", "status": "False", "reason": "Waiting", "message": "m"}])
            )),
            Health::Progressing(_)
        ));
        assert!(matches!(
            health(&custom(
                json!([{"type": "Stalled", "status": "True", "reason": "Bad", "message": "m"}])
            )),
            Health::Degraded(_)
        ));
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "status": {"conditions": [{"type": "Established", "status": "True"}]}});
        assert!(health(&crd).is_healthy());
        assert!(health(&json!({"apiVersion": "v1", "kind": "ConfigMap"})).is_healthy());
    }
}
