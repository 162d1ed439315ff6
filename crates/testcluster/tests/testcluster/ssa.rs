//! Server-side apply and managed fields, driven by `kube::Client` as a controller drives them.

use converge_testcluster::TestCluster;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

use crate::client;

/// The managers of an object: (manager, operation, subresource, fieldsV1).
fn managers(object: &impl serde::Serialize) -> Vec<(String, String, String, Value)> {
    let value = serde_json::to_value(object).expect("json");
    value["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let text = |f: &str| e[f].as_str().unwrap_or_default().to_owned();
            (
                text("manager"),
                text("operation"),
                text("subresource"),
                e["fieldsV1"].clone(),
            )
        })
        .collect()
}

fn status_of(error: kube::Error) -> kube::core::Status {
    match error {
        kube::Error::Api(status) => *status,
        other => panic!("expected a Status from the server, got {other}"),
    }
}

fn apply(manager: &str) -> PatchParams {
    PatchParams::apply(manager)
}

#[tokio::test]
async fn apply_creates_owns_conflicts_forces_and_prunes() {
    let cluster = TestCluster::start().await.expect("start");
    let api: Api<ConfigMap> = Api::namespaced(client(&cluster).await, "default");
    let config = |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web"}, "data": data});

    let created = api
        .patch(
            "web",
            &apply("converge"),
            &Patch::Apply(config(json!({"a": "1", "b": "2"}))),
        )
        .await
        .expect("apply creates");
    assert_eq!(
        managers(&created),
        [(
            "converge".to_owned(),
            "Apply".to_owned(),
            String::new(),
            json!({"f:data": {"f:a": {}, "f:b": {}}})
        )]
    );
    assert!(created.metadata.uid.is_some());

    // Another manager setting a field to another value conflicts, worded as Kubernetes does.
    let status = status_of(
        api.patch(
            "web",
            &apply("other"),
            &Patch::Apply(config(json!({"a": "9"}))),
        )
        .await
        .expect_err("conflict"),
    );
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"converge\": .data.a"
    );
    let causes = status.details.expect("details").causes;
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].reason, "FieldManagerConflict");
    assert_eq!(causes[0].message, "conflict with \"converge\"");
    assert_eq!(causes[0].field, ".data.a");

    // The same value is shared, not a conflict; force takes a field.
    api.patch(
        "web",
        &apply("other"),
        &Patch::Apply(config(json!({"b": "2"}))),
    )
    .await
    .expect("shared");
    let forced = api
        .patch(
            "web",
            &apply("other").force(),
            &Patch::Apply(config(json!({"a": "9", "b": "2"}))),
        )
        .await
        .expect("forced");
    assert_eq!(forced.data.as_ref().expect("data")["a"], "9");
    let owners = managers(&forced);
    assert_eq!(owners[0].0, "converge");
    assert_eq!(owners[0].3, json!({"f:data": {"f:b": {}}}));
    assert_eq!(owners[1].0, "other");
    assert_eq!(owners[1].3, json!({"f:data": {"f:a": {}, "f:b": {}}}));

    // A field dropped by its only owner goes; one still owned by another stays.
    let pruned = api
        .patch(
            "web",
            &apply("other"),
            &Patch::Apply(config(json!({"c": "3"}))),
        )
        .await
        .expect("prune");
    let data = pruned.data.expect("data");
    assert_eq!(
        data.keys().map(String::as_str).collect::<Vec<_>>(),
        ["b", "c"]
    );

    // A no-op apply writes nothing.
    let again = api
        .patch(
            "web",
            &apply("other"),
            &Patch::Apply(config(json!({"c": "3"}))),
        )
        .await
        .expect("no-op");
    assert_eq!(
        again.metadata.resource_version,
        pruned.metadata.resource_version
    );
}

#[tokio::test]
async fn every_write_records_its_manager() {
    let cluster = TestCluster::start().await.expect("start");
    let api: Api<ConfigMap> = Api::namespaced(client(&cluster).await, "default");
    let object: ConfigMap = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web"}, "data": {"a": "1"},
    }))
    .expect("config map");
    let created = api
        .create(
            &PostParams {
                field_manager: Some("creator".to_owned()),
                ..PostParams::default()
            },
            &object,
        )
        .await
        .expect("create");
    assert_eq!(
        managers(&created),
        [(
            "creator".to_owned(),
            "Update".to_owned(),
            String::new(),
            json!({"f:data": {".": {}, "f:a": {}}})
        )]
    );
    let entry =
        serde_json::to_value(&created).expect("json")["metadata"]["managedFields"][0].clone();
    assert_eq!(entry["apiVersion"], "v1");
    assert_eq!(entry["fieldsType"], "FieldsV1");
    assert!(entry["time"].as_str().is_some_and(|t| t.ends_with('Z')));

    let patched = api
        .patch(
            "web",
            &PatchParams {
                field_manager: Some("labeller".to_owned()),
                ..PatchParams::default()
            },
            &Patch::Merge(json!({"metadata": {"labels": {"team": "a"}}})),
        )
        .await
        .expect("merge patch");
    let owners = managers(&patched);
    assert_eq!(owners.len(), 2);
    assert_eq!(owners[1].0, "labeller");
    assert_eq!(
        owners[1].3,
        json!({"f:metadata": {"f:labels": {".": {}, "f:team": {}}}})
    );

    // Without a field manager an apply is refused; force belongs to apply alone.
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web"}});
    let status = status_of(
        api.patch("web", &PatchParams::default(), &Patch::Apply(&config))
            .await
            .expect_err("no manager"),
    );
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        status.message,
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    // kube::Client refuses to send `force` with another patch type; the server refuses it too.
    let request =
        http::Request::patch("/api/v1/namespaces/default/configmaps/web?fieldManager=x&force=true")
            .header("Content-Type", "application/merge-patch+json")
            .body(br#"{"data":{"a":"2"}}"#.to_vec())
            .expect("request");
    let status = status_of(
        client(&cluster)
            .await
            .request::<ConfigMap>(request)
            .await
            .expect_err("force on a merge patch"),
    );
    assert_eq!(status.code, 422);
    assert!(
        status
            .message
            .ends_with("force: Forbidden: may not be specified for non-apply patch"),
        "{}",
        status.message
    );
}

#[tokio::test]
async fn applied_deployments_get_defaults_nobody_owns() {
    let cluster = TestCluster::start().await.expect("start");
    let api: Api<Deployment> = Api::namespaced(client(&cluster).await, "default");
    let config = |image: &str, replicas: i64| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": image}]}}}})
    };
    let created = api
        .patch("web", &apply("converge"), &Patch::Apply(config("web:1", 2)))
        .await
        .expect("apply");
    let value = serde_json::to_value(&created).expect("json");
    // Defaulted by the server, owned by nobody.
    assert_eq!(value["spec"]["progressDeadlineSeconds"], 600);
    let owned = &managers(&created)[0].3;
    assert!(owned["f:spec"].get("f:progressDeadlineSeconds").is_none());
    assert_eq!(owned["f:spec"]["f:selector"], json!({}));
    assert_eq!(
        owned["f:spec"]["f:template"]["f:spec"]["f:containers"],
        json!({"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}})
    );
    assert_eq!(created.metadata.generation, Some(1));

    // An HPA-like manager takes replicas by force; the applier no longer sets them and keeps
    // the rest: replicas stay where the other manager put them.
    api.patch(
        "web",
        &apply("hpa").force(),
        &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"}, "spec": {"replicas": 5}})),
    )
    .await
    .expect("hpa");
    let mut without_replicas = config("web:2", 0);
    without_replicas["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("replicas");
    let updated = api
        .patch("web", &apply("converge"), &Patch::Apply(without_replicas))
        .await
        .expect("apply without replicas");
    let spec = updated.spec.expect("spec");
    assert_eq!(spec.replicas, Some(5));
    assert_eq!(updated.metadata.generation, Some(3));

    // The stand-in controller's status writes are its own, on the status subresource.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let live = api.get("web").await.expect("get");
        let owners = managers(&live);
        if let Some(kcm) = owners.iter().find(|m| m.0 == "kube-controller-manager") {
            assert_eq!((kcm.1.as_str(), kcm.2.as_str()), ("Update", "status"));
            assert!(kcm.3.get("f:status").is_some(), "{:?}", kcm.3);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no status manager: {owners:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Dry runs store nothing.
    let dry = api
        .patch(
            "web",
            &apply("converge").dry_run(),
            &Patch::Apply(config("web:3", 5)),
        )
        .await
        .expect("dry run");
    assert_eq!(
        dry.spec
            .expect("spec")
            .template
            .spec
            .expect("pod")
            .containers[0]
            .image
            .as_deref(),
        Some("web:3")
    );
    let live = api.get("web").await.expect("get");
    assert_eq!(
        live.spec
            .expect("spec")
            .template
            .spec
            .expect("pod")
            .containers[0]
            .image
            .as_deref(),
        Some("web:2")
    );
}

#[tokio::test]
async fn custom_objects_merge_by_their_definitions_schema() {
    let cluster = TestCluster::start().await.expect("start");
    let client = client(&cluster).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {
                        "slots": {"type": "array", "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["zone"],
                            "items": {"type": "object", "properties": {
                                "zone": {"type": "string"}, "size": {"type": "integer"}}}},
                        "tags": {"type": "array", "items": {"type": "string"}}}},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]},
    }))
    .expect("crd");
    crds.patch(
        "widgets.example.com",
        &apply("converge"),
        &Patch::Apply(&crd),
    )
    .await
    .expect("apply the CRD");
    let established = crds.get("widgets.example.com").await.expect("get");
    assert!(
        managers(&established)
            .iter()
            .any(|m| m.0 == "kube-apiserver" && m.2 == "status"),
        "{:?}",
        managers(&established)
    );

    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"));
    let widgets: Api<DynamicObject> = Api::namespaced_with(client, "default", &resource);
    let widget = |slots: Value, tags: Value| {
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"slots": slots, "tags": tags}})
    };
    widgets
        .patch(
            "w",
            &apply("a"),
            &Patch::Apply(widget(json!([{"zone": "x", "size": 1}]), json!(["t1"]))),
        )
        .await
        .expect("a applies");
    // Slots merge by zone; tags are atomic.
    let merged = widgets
        .patch(
            "w",
            &apply("b"),
            &Patch::Apply(json!({"apiVersion": "example.com/v1", "kind": "Widget",
                "metadata": {"name": "w"}, "spec": {"slots": [{"zone": "y", "size": 2}]}})),
        )
        .await
        .expect("b applies");
    assert_eq!(
        merged.data["spec"]["slots"],
        json!([{"zone": "x", "size": 1}, {"zone": "y", "size": 2}])
    );
    let status = status_of(
        widgets
            .patch(
                "w",
                &apply("b"),
                &Patch::Apply(json!({"apiVersion": "example.com/v1", "kind": "Widget",
                    "metadata": {"name": "w"}, "spec": {"tags": ["t2"]}})),
            )
            .await
            .expect_err("conflict on the atomic list"),
    );
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"a\": .spec.tags"
    );

    // Fields the schema does not declare are pruned, as a structural schema prunes them;
    // what it leaves free-form (`x-kubernetes-preserve-unknown-fields`) is kept.
    let pruned = widgets
        .patch(
            "w",
            &apply("c"),
            &Patch::Apply(json!({"apiVersion": "example.com/v1", "kind": "Widget",
                "metadata": {"name": "w", "labels": {"team": "c"}},
                "spec": {"colour": "blue", "slots": [{"zone": "z", "size": 3, "shape": "round"}]},
                "status": {"anything": {"goes": true}}})),
        )
        .await
        .expect("c applies");
    assert!(
        pruned.data["spec"].get("colour").is_none(),
        "{}",
        pruned.data
    );
    assert_eq!(
        pruned.data["spec"]["slots"][2],
        json!({"zone": "z", "size": 3})
    );
    assert_eq!(pruned.metadata.labels.expect("labels")["team"], "c");

    // Values are checked against the schema, as the API server checks them.
    let status = status_of(
        widgets
            .patch(
                "w",
                &apply("c"),
                &Patch::Apply(json!({"apiVersion": "example.com/v1", "kind": "Widget",
                    "metadata": {"name": "w"}, "spec": {"slots": [{"zone": "z", "size": "big"}]}})),
            )
            .await
            .expect_err("a string where an integer belongs"),
    );
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        status.message,
        "Widget.example.com \"w\" is invalid: spec.slots[2].size: Invalid value: \"string\": spec.slots[2].size in body must be of type integer: \"string\""
    );
}
