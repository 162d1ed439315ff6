//! The three-way diff of client-side apply: the patch kubectl sends, with the last-applied
//! annotation handled as kubectl handles it.

use converge_diff::schema::Schema;
use converge_diff::{LAST_APPLIED, PatchType, last_applied_configuration, three_way};
use serde_json::{Value, json};

fn config_map(data: Value, annotations: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "web", "namespace": "prod", "annotations": annotations},
           "data": data})
}

/// Live as the API server returns it after `kubectl apply` of `applied` (the record as
/// kubectl writes it: keys sorted, a newline).
fn live_after_apply(applied: &Value) -> Value {
    let mut live = applied.clone();
    live["metadata"]["annotations"][LAST_APPLIED] = json!(last_applied_configuration(applied));
    live["metadata"]["uid"] = json!("8d3f");
    live["metadata"]["resourceVersion"] = json!("41");
    live
}

#[test]
fn applying_what_was_applied_sends_nothing() {
    let ty = Schema::kubernetes().for_kind("", "v1", "ConfigMap");
    let desired = config_map(json!({"k": "v"}), json!({"team": "web"}));
    let live = live_after_apply(&desired);
    let result = three_way(None, &desired, &live, ty, true).expect("three-way");
    assert_eq!(result.patch, json!({}), "kubectl reports it unchanged");
    assert!(result.changes.0.is_empty());
    assert_eq!(result.predicted, live);
}

#[test]
fn a_change_carries_the_new_last_applied_configuration() {
    let ty = Schema::kubernetes().for_kind("", "v1", "ConfigMap");
    let before = config_map(json!({"k": "v"}), json!({"team": "web"}));
    let live = live_after_apply(&before);
    let desired = config_map(json!({"k": "w"}), json!({"team": "web"}));
    let result = three_way(None, &desired, &live, ty, true).expect("three-way");
    assert_eq!(result.patch_type, PatchType::Strategic);
    assert_eq!(
        result.patch,
        json!({"data": {"k": "w"}, "metadata": {"annotations": {LAST_APPLIED: last_applied_configuration(&desired)}}})
    );
    let changed: Vec<String> = result
        .changes
        .0
        .iter()
        .map(|op| format!("{} {}", op.name(), op.path()))
        .collect();
    assert_eq!(
        changed,
        ["replace /data/k"],
        "the annotation is not a change shown"
    );
}

#[test]
fn dropping_every_annotation_deletes_them_one_by_one() {
    // kubectl's patch names each annotation the last apply set; it never deletes the map,
    // where other writers keep theirs.
    let ty = Schema::kubernetes().for_kind("", "v1", "ConfigMap");
    let before = config_map(json!({"k": "v"}), json!({"team": "web"}));
    let mut live = live_after_apply(&before);
    live["metadata"]["annotations"]["autoscaler/seen"] = json!("yes");
    let mut desired = before.clone();
    desired["metadata"]
        .as_object_mut()
        .expect("metadata")
        .remove("annotations");
    let result = three_way(None, &desired, &live, ty, true).expect("three-way");
    assert_eq!(
        result.patch["metadata"]["annotations"]["team"],
        Value::Null,
        "{}",
        result.patch
    );
    assert!(
        result.patch["metadata"]["annotations"]
            .as_object()
            .is_some_and(|a| a.contains_key("team") && a.contains_key(LAST_APPLIED)),
        "{}",
        result.patch
    );
    assert_eq!(
        result.predicted["metadata"]["annotations"]["autoscaler/seen"],
        json!("yes")
    );
    assert!(
        result.predicted["metadata"]["annotations"]
            .get("team")
            .is_none()
    );
}
