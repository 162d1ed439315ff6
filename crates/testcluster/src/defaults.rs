//! What the API server fills in and what it will not let change: the defaults and immutable
//! fields that trip tools which compare live objects with their manifests naively.

use serde_json::{Map, Value, json};

use crate::kinds::Kind;
use crate::status::ApiError;

/// Fills in the defaults the API server gives an object of `kind`. `next_ip` allocates a
/// Service's cluster IP, which only a create does (`None` on update).
pub(crate) fn apply(kind: &Kind, object: &mut Value, next_ip: Option<&mut dyn FnMut() -> String>) {
    match (kind.group.as_str(), kind.kind.as_str()) {
        ("", "Pod") => pod_spec(object.get_mut("spec")),
        ("apps", "Deployment") => {
            if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
                default(spec, "replicas", json!(1));
                default(spec, "revisionHistoryLimit", json!(10));
                default(spec, "progressDeadlineSeconds", json!(600));
                default(
                    spec,
                    "strategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
                );
                template(spec.get_mut("template"));
            }
        }
        ("apps", "StatefulSet") => {
            if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
                default(spec, "replicas", json!(1));
                default(spec, "revisionHistoryLimit", json!(10));
                default(spec, "podManagementPolicy", json!("OrderedReady"));
                default(
                    spec,
                    "updateStrategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
                );
                default(
                    spec,
                    "persistentVolumeClaimRetentionPolicy",
                    json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
                );
                template(spec.get_mut("template"));
            }
        }
        ("apps", "DaemonSet") => {
            if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
                default(spec, "revisionHistoryLimit", json!(10));
                default(
                    spec,
                    "updateStrategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
                );
                template(spec.get_mut("template"));
            }
        }
        ("apps", "ReplicaSet") => {
            if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
                default(spec, "replicas", json!(1));
                template(spec.get_mut("template"));
            }
        }
        ("batch", "Job") => job_spec(object.get_mut("spec")),
        ("batch", "CronJob") => {
            if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
                default(spec, "concurrencyPolicy", json!("Allow"));
                default(spec, "suspend", json!(false));
                default(spec, "successfulJobsHistoryLimit", json!(3));
                default(spec, "failedJobsHistoryLimit", json!(1));
                if let Some(job) = spec.get_mut("jobTemplate").and_then(Value::as_object_mut) {
                    job.entry("metadata")
                        .or_insert_with(|| json!({}))
                        .as_object_mut()
                        .map(|m| m.entry("creationTimestamp").or_insert(Value::Null));
                    job_spec(job.get_mut("spec"));
                }
            }
        }
        ("", "Service") => service(object, next_ip),
        ("", "Secret") => {
            if let Some(map) = object.as_object_mut() {
                default(map, "type", json!("Opaque"));
            }
        }
        ("", "PersistentVolumeClaim") => {
            if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
                default(spec, "volumeMode", json!("Filesystem"));
            }
        }
        _ => {}
    }
}

fn default(map: &mut Map<String, Value>, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_owned(), value);
    }
}

fn job_spec(spec: Option<&mut Value>) {
    let Some(spec) = spec.and_then(Value::as_object_mut) else {
        return;
    };
    default(spec, "backoffLimit", json!(6));
    default(spec, "completions", json!(1));
    default(spec, "parallelism", json!(1));
    default(spec, "completionMode", json!("NonIndexed"));
    default(spec, "suspend", json!(false));
    default(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
    default(spec, "manualSelector", json!(false));
    template(spec.get_mut("template"));
}

/// A pod template: its spec, and the `creationTimestamp: null` the API server writes in
/// every template's metadata.
fn template(template: Option<&mut Value>) {
    let Some(template) = template.and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(meta) = template
        .entry("metadata")
        .or_insert_with(|| json!({}))
        .as_object_mut()
    {
        meta.entry("creationTimestamp").or_insert(Value::Null);
    }
    pod_spec(template.get_mut("spec"));
}

fn pod_spec(spec: Option<&mut Value>) {
    let Some(spec) = spec.and_then(Value::as_object_mut) else {
        return;
    };
    default(spec, "restartPolicy", json!("Always"));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "securityContext", json!({}));
    default(spec, "schedulerName", json!("default-scheduler"));
    for list in ["initContainers", "containers"] {
        for container in spec
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
        {
            let image = container
                .get("image")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let tag = image
                .rsplit('/')
                .next()
                .and_then(|last| last.split_once(':'))
                .map(|(_, tag)| tag);
            let pull = if image.contains('@') || tag.is_some_and(|t| t != "latest") {
                "IfNotPresent"
            } else {
                "Always"
            };
            default(container, "imagePullPolicy", json!(pull));
            default(
                container,
                "terminationMessagePath",
                json!("/dev/termination-log"),
            );
            default(container, "terminationMessagePolicy", json!("File"));
            default(container, "resources", json!({}));
            for port in container
                .get_mut("ports")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
                .filter_map(Value::as_object_mut)
            {
                default(port, "protocol", json!("TCP"));
            }
        }
    }
}

fn service(object: &mut Value, next_ip: Option<&mut dyn FnMut() -> String>) {
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    default(spec, "type", json!("ClusterIP"));
    default(spec, "sessionAffinity", json!("None"));
    let kind = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_owned();
    if kind != "ExternalName" {
        if let Some(next_ip) = next_ip
            && spec
                .get("clusterIP")
                .is_none_or(|ip| ip.as_str().is_none_or(str::is_empty))
        {
            spec.insert("clusterIP".to_owned(), json!(next_ip()));
        }
        if let Some(ip) = spec.get("clusterIP").cloned() {
            default(spec, "clusterIPs", json!([ip]));
        }
        default(spec, "ipFamilies", json!(["IPv4"]));
        default(spec, "ipFamilyPolicy", json!("SingleStack"));
        default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if matches!(kind.as_str(), "NodePort" | "LoadBalancer") {
        default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    for (i, port) in spec
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
        .enumerate()
    {
        default(port, "protocol", json!("TCP"));
        if let Some(number) = port.get("port").cloned() {
            default(port, "targetPort", number);
        }
        if matches!(kind.as_str(), "NodePort" | "LoadBalancer") {
            default(port, "nodePort", json!(30000 + i));
        }
    }
}

/// Refuses an update that changes a field Kubernetes keeps as it was set.
pub(crate) fn check_immutable(kind: &Kind, before: &Value, after: &Value) -> Result<(), ApiError> {
    let name = after
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let invalid = |field: &str, value: &Value, message: &str| {
        ApiError::invalid(
            &kind.group,
            &kind.kind,
            name,
            vec![(
                field.to_owned(),
                "FieldValueInvalid".to_owned(),
                format!("Invalid value: {value}: {message}"),
            )],
        )
    };
    let changed = |pointer: &str| before.pointer(pointer) != after.pointer(pointer);
    match (kind.group.as_str(), kind.kind.as_str()) {
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
            if changed("/spec/selector") =>
        {
            Err(invalid(
                "spec.selector",
                after.pointer("/spec/selector").unwrap_or(&Value::Null),
                "field is immutable",
            ))
        }
        ("batch", "Job") if changed("/spec/template") || changed("/spec/selector") => Err(invalid(
            "spec.template",
            after.pointer("/spec/template").unwrap_or(&Value::Null),
            "field is immutable",
        )),
        ("", "Service") => {
            let old = before.pointer("/spec/clusterIP").and_then(Value::as_str);
            let new = after.pointer("/spec/clusterIP").and_then(Value::as_str);
            match (old, new) {
                (Some(old), Some(new)) if old != new && !old.is_empty() => Err(invalid(
                    "spec.clusterIPs[0]",
                    &json!(new),
                    "may not change once set",
                )),
                (Some(old), None) if !old.is_empty() && old != "None" => Err(invalid(
                    "spec.clusterIPs[0]",
                    &json!([]),
                    "primary clusterIP can not be unset",
                )),
                _ => Ok(()),
            }
        }
        ("", "ConfigMap" | "Secret")
            if before.get("immutable") == Some(&json!(true))
                && (changed("/data") || changed("/binaryData") || changed("/immutable")) =>
        {
            Err(invalid(
                "data",
                &Value::Null,
                "field is immutable when `immutable` is set",
            ))
        }
        _ => Ok(()),
    }
}
