//! The cluster driven by `kube::Client` over HTTP, as a controller would drive a real one.

use converge_testcluster::TestCluster;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, Config};
use serde_json::json;

mod kubectl;
mod ssa;
mod tls;

async fn client(cluster: &TestCluster) -> Client {
    let url = cluster.url().parse().expect("url");
    Client::try_from(Config::new(url)).expect("client")
}

/// The reason and code of a failed request.
fn failure(error: kube::Error) -> (String, u16, String) {
    match error {
        kube::Error::Api(status) => (status.reason.clone(), status.code, status.message.clone()),
        other => panic!("expected a Status from the server, got {other}"),
    }
}

fn config_map(name: &str, data: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "data": data,
    }))
    .expect("config map")
}

fn deployment(name: &str, image: &str) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }))
    .expect("deployment")
}

#[tokio::test]
async fn objects_are_created_read_listed_and_refused_twice() {
    let cluster = TestCluster::start().await.expect("start");
    let api: Api<ConfigMap> = Api::namespaced(client(&cluster).await, "default");
    let created = api
        .create(
            &PostParams::default(),
            &config_map("web", json!({"a": "1"})),
        )
        .await
        .expect("create");
    let meta = &created.metadata;
    assert_eq!(meta.namespace.as_deref(), Some("default"));
    assert!(meta.uid.as_deref().is_some_and(|u| u.len() == 36));
    assert!(meta.resource_version.is_some());
    assert!(meta.creation_timestamp.is_some());

    let read = api.get("web").await.expect("get");
    assert_eq!(read, created);
    let (reason, code, message) = failure(
        api.create(&PostParams::default(), &config_map("web", json!({})))
            .await
            .expect_err("exists"),
    );
    assert_eq!((reason.as_str(), code), ("AlreadyExists", 409));
    assert_eq!(message, "configmaps \"web\" already exists");
    let (reason, code, message) = failure(api.get("nope").await.expect_err("missing"));
    assert_eq!((reason.as_str(), code), ("NotFound", 404));
    assert_eq!(message, "configmaps \"nope\" not found");

    // generateName, selectors, and pages.
    for _ in 0..3 {
        let mut generated = config_map("", json!({}));
        generated.metadata.name = None;
        generated.metadata.generate_name = Some("gen-".to_owned());
        generated.metadata.labels = None;
        let made = api
            .create(&PostParams::default(), &generated)
            .await
            .expect("generate");
        assert!(
            made.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("gen-") && n.len() == 9)
        );
    }
    let labelled = api
        .list(&ListParams::default().labels("app=web"))
        .await
        .expect("list");
    assert_eq!(labelled.items.len(), 1);
    let unlabelled = api
        .list(&ListParams::default().labels("!app"))
        .await
        .expect("list");
    assert_eq!(unlabelled.items.len(), 3);
    let first = api
        .list(&ListParams::default().limit(2))
        .await
        .expect("page");
    assert_eq!(first.items.len(), 2);
    let token = first.metadata.continue_.clone().expect("a continue token");
    let second = api
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .expect("page");
    assert_eq!(second.items.len(), 2);
    assert!(
        second
            .metadata
            .continue_
            .as_deref()
            .is_none_or(str::is_empty)
    );
    let names: Vec<String> = first
        .items
        .iter()
        .chain(&second.items)
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    assert_eq!(names.len(), 4);
    assert!(names.contains(&"web".to_owned()));
}

#[tokio::test]
async fn updates_need_the_current_resource_version() {
    let cluster = TestCluster::start().await.expect("start");
    let api: Api<ConfigMap> = Api::namespaced(client(&cluster).await, "default");
    let created = api
        .create(
            &PostParams::default(),
            &config_map("web", json!({"a": "1"})),
        )
        .await
        .expect("create");
    let mut changed = created.clone();
    changed.data = Some([("a".to_owned(), "2".to_owned())].into());
    let updated = api
        .replace("web", &PostParams::default(), &changed)
        .await
        .expect("update");
    assert_ne!(
        updated.metadata.resource_version,
        created.metadata.resource_version
    );
    assert_eq!(updated.metadata.uid, created.metadata.uid);
    // A writer that read before the update loses.
    let (reason, code, message) = failure(
        api.replace("web", &PostParams::default(), &changed)
            .await
            .expect_err("stale"),
    );
    assert_eq!((reason.as_str(), code), ("Conflict", 409));
    assert!(
        message.starts_with("Operation cannot be fulfilled on configmaps \"web\""),
        "{message}"
    );
    // An update that changes nothing keeps the resourceVersion.
    let same = api
        .replace("web", &PostParams::default(), &updated)
        .await
        .expect("no-op");
    assert_eq!(
        same.metadata.resource_version,
        updated.metadata.resource_version
    );
}

/// Patches the Deployment `web`.
async fn patch_web(
    api: &Api<Deployment>,
    patch: Patch<serde_json::Value>,
) -> kube::Result<Deployment> {
    api.patch("web", &PatchParams::default(), &patch).await
}

/// The containers of a Deployment's pod template.
fn pod_containers(deployment: &Deployment) -> &[k8s_openapi::api::core::v1::Container] {
    &deployment
        .spec
        .as_ref()
        .expect("spec")
        .template
        .spec
        .as_ref()
        .expect("pod")
        .containers
}

#[tokio::test]
async fn patches_merge_as_kubernetes_merges_them() {
    // The stand-in controller would write statuses meanwhile.
    let cluster = TestCluster::builder()
        .ready_after(None)
        .start()
        .await
        .expect("start");
    let api: Api<Deployment> = Api::namespaced(client(&cluster).await, "default");
    let created = api
        .create(&PostParams::default(), &deployment("web", "web:1"))
        .await
        .expect("create");
    assert_eq!(created.metadata.generation, Some(1));

    // Strategic merge: containers merge by name.
    let patched = patch_web(
        &api,
        Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
            {"name": "sidecar", "image": "proxy:1"}
        ]}}}})),
    )
    .await
    .expect("strategic");
    let containers = pod_containers(&patched);
    let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["sidecar", "web"]);
    assert_eq!(patched.metadata.generation, Some(2));

    // Merge patch: lists are replaced.
    let merged = patch_web(
        &api,
        Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "web:2"}
        ]}}}})),
    )
    .await
    .expect("merge");
    let containers = pod_containers(&merged);
    assert_eq!(containers.len(), 1);
    assert_eq!(merged.metadata.generation, Some(3));

    // Labels are metadata: no new generation.
    let labelled = patch_web(
        &api,
        Patch::Merge(json!({"metadata": {"labels": {"team": "a"}}})),
    )
    .await
    .expect("labels");
    assert_eq!(labelled.metadata.generation, Some(3));

    // JSON patch, with a failing test operation.
    let error = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Json::<()>(
                serde_json::from_value(json!([
                    {"op": "test", "path": "/spec/replicas", "value": 7}
                ]))
                .expect("json patch"),
            ),
        )
        .await
        .expect_err("test fails");
    assert_eq!(failure(error).1, 422);

    // The status subresource is the only way to change status.
    let with_status = patch_web(&api, Patch::Merge(json!({"status": {"replicas": 3}})))
        .await
        .expect("patch main resource");
    assert!(with_status.status.is_none());
    let status = api
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 3}})),
        )
        .await
        .expect("patch status");
    assert_eq!(status.status.and_then(|s| s.replicas), Some(3));
}

#[tokio::test]
async fn names_labels_and_namespaces_are_checked() {
    let cluster = TestCluster::start().await.expect("start");
    let client = client(&cluster).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let (reason, code, message) = failure(
        api.create(&PostParams::default(), &config_map("Bad_Name", json!({})))
            .await
            .expect_err("invalid"),
    );
    assert_eq!((reason.as_str(), code), ("Invalid", 422));
    assert!(message.starts_with("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"), "{message}");

    let elsewhere: Api<ConfigMap> = Api::namespaced(client.clone(), "missing");
    let (reason, code, message) = failure(
        elsewhere
            .create(&PostParams::default(), &config_map("web", json!({})))
            .await
            .expect_err("no namespace"),
    );
    assert_eq!((reason.as_str(), code), ("NotFound", 404));
    assert_eq!(message, "namespaces \"missing\" not found");

    // Dry runs store nothing.
    api.create(
        &PostParams {
            dry_run: true,
            ..PostParams::default()
        },
        &config_map("dry", json!({})),
    )
    .await
    .expect("dry run");
    assert_eq!(
        failure(api.get("dry").await.expect_err("not stored")).1,
        404
    );
}

#[tokio::test]
async fn finalizers_hold_deletion_and_namespaces_terminate() {
    let cluster = TestCluster::start().await.expect("start");
    let client = client(&cluster).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let mut team: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "team"}})).expect("ns");
    team = namespaces
        .create(&PostParams::default(), &team)
        .await
        .expect("namespace");
    assert_eq!(team.status.and_then(|s| s.phase).as_deref(), Some("Active"));

    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "team");
    let mut held = config_map("held", json!({}));
    held.metadata.finalizers = Some(vec!["example.com/hold".to_owned()]);
    api.create(&PostParams::default(), &held)
        .await
        .expect("create");
    api.create(&PostParams::default(), &config_map("free", json!({})))
        .await
        .expect("create");

    namespaces
        .delete("team", &DeleteParams::default())
        .await
        .expect("delete namespace");
    let terminating = namespaces.get("team").await.expect("still there");
    assert_eq!(
        terminating.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );
    assert_eq!(failure(api.get("free").await.expect_err("deleted")).1, 404);
    let marked = api.get("held").await.expect("held by its finalizer");
    assert!(marked.metadata.deletion_timestamp.is_some());
    let (reason, code, _) = failure(
        api.create(&PostParams::default(), &config_map("late", json!({})))
            .await
            .expect_err("terminating"),
    );
    assert_eq!((reason.as_str(), code), ("Forbidden", 403));

    // Removing the finalizer lets the object go, and then the namespace.
    api.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release");
    assert_eq!(failure(api.get("held").await.expect_err("gone")).1, 404);
    assert_eq!(
        failure(namespaces.get("team").await.expect_err("gone")).1,
        404
    );
}

#[tokio::test]
async fn discovery_finds_the_built_in_kinds() {
    let cluster = TestCluster::start().await.expect("start");
    let discovery = kube::discovery::Discovery::new(client(&cluster).await)
        .run()
        .await
        .expect("discovery");
    let apps = discovery.get("apps").expect("the apps group");
    let kinds: Vec<String> = apps
        .recommended_resources()
        .into_iter()
        .map(|(resource, _)| resource.kind)
        .collect();
    assert!(kinds.contains(&"Deployment".to_owned()), "{kinds:?}");
    let (resource, capabilities) = discovery
        .groups()
        .flat_map(|g| g.recommended_resources())
        .find(|(r, _)| r.kind == "ConfigMap")
        .expect("configmaps");
    assert_eq!(resource.plural, "configmaps");
    assert_eq!(capabilities.scope, kube::discovery::Scope::Namespaced);
}

#[tokio::test]
async fn aggregated_discovery_serves_every_group_in_two_requests() {
    let cluster = TestCluster::start().await.expect("start");
    let client = client(&cluster).await;
    let discovery = kube::discovery::Discovery::new(client.clone())
        .run_aggregated()
        .await
        .expect("aggregated discovery");
    let (resource, capabilities) = discovery
        .groups()
        .flat_map(|g| g.recommended_resources())
        .find(|(r, _)| r.kind == "Deployment")
        .expect("deployments");
    assert_eq!(
        (resource.group.as_str(), resource.plural.as_str()),
        ("apps", "deployments")
    );
    assert!(
        capabilities
            .subresources
            .iter()
            .any(|(s, _)| s.plural == "status"),
        "{:?}",
        capabilities.subresources
    );
    let core = discovery.get("").expect("the core group");
    assert!(
        core.recommended_resources()
            .iter()
            .any(|(r, _)| r.kind == "Namespace")
    );

    // The document and its content type, as the API server sends them.
    let request = http::Request::get("/apis")
        .header(
            "Accept",
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
        )
        .body(Vec::new())
        .expect("request");
    let response = client
        .send(request.map(Into::into))
        .await
        .expect("response");
    assert_eq!(
        response.headers()["content-type"],
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
    // Without that Accept, the legacy group list.
    let legacy: serde_json::Value = client
        .request(
            http::Request::get("/apis")
                .body(Vec::new())
                .expect("request"),
        )
        .await
        .expect("legacy");
    assert_eq!(legacy["kind"], "APIGroupList");
}

#[tokio::test]
async fn watches_follow_writes_in_order_and_resume() {
    use futures_util::StreamExt;
    use kube::api::{WatchEvent, WatchParams};

    let cluster = TestCluster::start().await.expect("start");
    let api: Api<ConfigMap> = Api::namespaced(client(&cluster).await, "default");
    let first = api
        .create(&PostParams::default(), &config_map("a", json!({"n": "1"})))
        .await
        .expect("create");
    let since = first.metadata.resource_version.clone().expect("version");

    // From a resourceVersion: only what came after it, in order.
    let stream = api
        .watch(
            &WatchParams {
                bookmarks: false,
                ..WatchParams::default().timeout(5)
            },
            &since,
        )
        .await
        .expect("watch");
    let mut stream = stream.boxed();
    api.create(&PostParams::default(), &config_map("b", json!({})))
        .await
        .expect("create");
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"n": "2"}})),
    )
    .await
    .expect("patch");
    api.delete("b", &DeleteParams::default())
        .await
        .expect("delete");
    let mut seen = Vec::new();
    while seen.len() < 3 {
        match stream.next().await.expect("an event").expect("no error") {
            WatchEvent::Added(cm) => {
                seen.push(format!("ADDED {}", cm.metadata.name.unwrap_or_default()))
            }
            WatchEvent::Modified(cm) => {
                seen.push(format!("MODIFIED {}", cm.metadata.name.unwrap_or_default()))
            }
            WatchEvent::Deleted(cm) => {
                seen.push(format!("DELETED {}", cm.metadata.name.unwrap_or_default()))
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, ["ADDED b", "MODIFIED a", "DELETED b"]);

    // From "0": the current objects first; label selectors apply.
    let mut current = api
        .watch(
            &WatchParams {
                bookmarks: false,
                ..WatchParams::default().labels("app=web").timeout(1)
            },
            "0",
        )
        .await
        .expect("watch")
        .boxed();
    match current.next().await.expect("an event").expect("no error") {
        WatchEvent::Added(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("a")),
        other => panic!("unexpected {other:?}"),
    }
    // The watch ends at its timeout.
    assert!(current.next().await.is_none());

    // Bookmarks carry the latest resourceVersion.
    let mut bookmarked = api
        .watch(
            &WatchParams {
                bookmarks: true,
                ..WatchParams::default().timeout(1)
            },
            &since,
        )
        .await
        .expect("watch")
        .boxed();
    let mut last = None;
    while let Some(event) = bookmarked.next().await {
        if let WatchEvent::Bookmark(bookmark) = event.expect("no error") {
            last = Some(bookmark.metadata.resource_version);
        }
    }
    let latest = api.list(&ListParams::default()).await.expect("list");
    assert_eq!(last, latest.metadata.resource_version);
}

#[tokio::test]
async fn custom_resource_definitions_serve_their_kinds_until_deleted() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};

    let cluster = TestCluster::start().await.expect("start");
    let client = client(&cluster).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets", "shortNames": ["wd"]},
            "scope": "Namespaced",
            "versions": [
                {"name": "v1", "served": true, "storage": true,
                 "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                 "subresources": {"status": {}}},
                {"name": "v1beta1", "served": true, "storage": false,
                 "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
            ],
        },
    }))
    .expect("crd");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("create crd");
    let established = crds.get("widgets.example.com").await.expect("get crd");
    let conditions = established
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default();
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True"),
        "{conditions:?}"
    );

    // Discovery and the new kind's objects, in both versions.
    let discovery = kube::discovery::Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    let group = discovery.get("example.com").expect("the new group");
    assert!(group.versions().any(|v| v == "v1beta1"));
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    );
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    let mut widget = DynamicObject::new("gear", &resource);
    widget.data = json!({"spec": {"teeth": 12}});
    widgets
        .create(&PostParams::default(), &widget)
        .await
        .expect("create widget");
    let old_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1beta1", "Widget"),
        "widgets",
    );
    let old: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &old_resource);
    let seen = old.get("gear").await.expect("read as v1beta1");
    assert_eq!(
        seen.types.map(|t| t.api_version).as_deref(),
        Some("example.com/v1beta1")
    );
    assert_eq!(seen.data["spec"]["teeth"], 12);

    // A name that is not plural.group is refused.
    let mut wrong = crd.clone();
    wrong.metadata.name = Some("gadgets.example.com".to_owned());
    let (reason, code, _) = failure(
        crds.create(&PostParams::default(), &wrong)
            .await
            .expect_err("invalid"),
    );
    assert_eq!((reason.as_str(), code), ("Invalid", 422));

    // Deleting the definition takes its objects and its kinds away.
    crds.delete("widgets.example.com", &DeleteParams::default())
        .await
        .expect("delete crd");
    assert_eq!(failure(widgets.get("gear").await.expect_err("gone")).1, 404);
    let discovery = kube::discovery::Discovery::new(client)
        .run()
        .await
        .expect("discovery");
    assert!(discovery.get("example.com").is_none());
}

#[tokio::test]
async fn the_server_fills_in_defaults_and_keeps_immutable_fields() {
    use k8s_openapi::api::core::v1::Service;

    // The stand-in controller would write statuses meanwhile.
    let cluster = TestCluster::builder()
        .ready_after(None)
        .start()
        .await
        .expect("start");
    let client = client(&cluster).await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let created = deployments
        .create(&PostParams::default(), &deployment("web", "web:1"))
        .await
        .expect("create");
    let spec = created.spec.clone().expect("spec");
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(spec.revision_history_limit, Some(10));
    assert_eq!(spec.progress_deadline_seconds, Some(600));
    assert_eq!(
        spec.strategy.and_then(|s| s.type_).as_deref(),
        Some("RollingUpdate")
    );
    let pod = spec.template.spec.expect("pod spec");
    assert_eq!(pod.restart_policy.as_deref(), Some("Always"));
    assert_eq!(pod.dns_policy.as_deref(), Some("ClusterFirst"));
    let container = &pod.containers[0];
    assert_eq!(container.image_pull_policy.as_deref(), Some("IfNotPresent"));
    assert_eq!(
        container.termination_message_path.as_deref(),
        Some("/dev/termination-log")
    );
    // Replacing with the manifest as written changes nothing: the defaults come back.
    let mut written = deployment("web", "web:1");
    written.metadata.resource_version = created.metadata.resource_version.clone();
    let replaced = deployments
        .replace("web", &PostParams::default(), &written)
        .await
        .expect("replace");
    assert_eq!(
        replaced.metadata.resource_version,
        created.metadata.resource_version
    );
    // The selector is immutable.
    let (reason, code, message) = failure(
        patch_web(
            &deployments,
            Patch::Merge(json!({"spec": {"selector": {"matchLabels": {"app": "other"}}}})),
        )
        .await
        .expect_err("immutable"),
    );
    assert_eq!((reason.as_str(), code), ("Invalid", 422));
    assert!(
        message.contains("spec.selector: Invalid value"),
        "{message}"
    );
    assert!(message.ends_with("field is immutable"), "{message}");

    let services: Api<Service> = Api::namespaced(client, "default");
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }))
    .expect("service");
    let created = services
        .create(&PostParams::default(), &service)
        .await
        .expect("create service");
    let spec = created.spec.clone().expect("spec");
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(spec.session_affinity.as_deref(), Some("None"));
    let ip = spec.cluster_ip.clone().expect("a cluster IP");
    assert!(ip.starts_with("10.96."), "{ip}");
    let port = &spec.ports.expect("ports")[0];
    assert_eq!(port.protocol.as_deref(), Some("TCP"));
    assert_eq!(
        port.target_port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(80))
    );
    // A PUT without the cluster IP, as a naive tool sends its manifest, is refused.
    let mut naive = service.clone();
    naive.metadata.resource_version = created.metadata.resource_version.clone();
    let (reason, code, message) = failure(
        services
            .replace("web", &PostParams::default(), &naive)
            .await
            .expect_err("unset"),
    );
    assert_eq!((reason.as_str(), code), ("Invalid", 422));
    assert!(
        message.contains("primary clusterIP can not be unset"),
        "{message}"
    );
    let (_, code, message) = failure(
        services
            .patch(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"clusterIP": "10.96.9.9"}})),
            )
            .await
            .expect_err("changed"),
    );
    assert_eq!(code, 422);
    assert!(message.contains("may not change once set"), "{message}");
}

#[tokio::test]
async fn deleting_an_owner_collects_or_orphans_what_it_owns() {
    let cluster = TestCluster::start().await.expect("start");
    let client = client(&cluster).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let owned_by = |owner: &ConfigMap, name: &str| {
        let mut child = config_map(name, json!({}));
        child.metadata.owner_references = Some(vec![
            serde_json::from_value(json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "name": owner.metadata.name.clone().unwrap_or_default(),
                "uid": owner.metadata.uid.clone().unwrap_or_default(),
            }))
            .expect("owner reference"),
        ]);
        child
    };
    let exists = |name: &'static str| {
        let api = api.clone();
        async move { api.get_opt(name).await.expect("get").is_some() }
    };

    // Background (the default): the owner goes, then what it owns, and what that owns.
    let owner = api
        .create(&PostParams::default(), &config_map("owner", json!({})))
        .await
        .expect("owner");
    let child = api
        .create(&PostParams::default(), &owned_by(&owner, "child"))
        .await
        .expect("child");
    api.create(&PostParams::default(), &owned_by(&child, "grandchild"))
        .await
        .expect("grandchild");
    api.delete("owner", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(!exists("owner").await && !exists("child").await && !exists("grandchild").await);

    // Orphan: what it owns stays, without the reference.
    let owner = api
        .create(&PostParams::default(), &config_map("owner", json!({})))
        .await
        .expect("owner");
    api.create(&PostParams::default(), &owned_by(&owner, "child"))
        .await
        .expect("child");
    api.delete("owner", &DeleteParams::orphan())
        .await
        .expect("delete");
    assert!(!exists("owner").await);
    let orphan = api.get("child").await.expect("kept");
    assert!(
        orphan
            .metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );
    api.delete("child", &DeleteParams::default())
        .await
        .expect("clean up");

    // Foreground: the owner waits for a dependent held by its finalizer.
    let owner = api
        .create(&PostParams::default(), &config_map("owner", json!({})))
        .await
        .expect("owner");
    let mut held = owned_by(&owner, "held");
    held.metadata.finalizers = Some(vec!["example.com/hold".to_owned()]);
    api.create(&PostParams::default(), &held)
        .await
        .expect("held");
    api.delete("owner", &DeleteParams::foreground())
        .await
        .expect("delete");
    let waiting = api.get("owner").await.expect("waits");
    assert!(waiting.metadata.deletion_timestamp.is_some());
    assert_eq!(
        waiting.metadata.finalizers.as_deref(),
        Some(&["foregroundDeletion".to_owned()][..])
    );
    api.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release");
    assert!(!exists("held").await && !exists("owner").await);
}

#[tokio::test]
async fn requests_are_logged_and_faults_injected() {
    use converge_testcluster::Fault;

    let cluster = TestCluster::start().await.expect("start");
    let api: Api<ConfigMap> = Api::namespaced(client(&cluster).await, "default");
    cluster.inject(
        Fault::too_many_requests(1)
            .verb("create")
            .resource("configmaps")
            .after(1)
            .times(1),
    );
    api.create(&PostParams::default(), &config_map("a", json!({})))
        .await
        .expect("the first create passes");
    // kube::Client waits out the 429's Retry-After and asks again.
    let started = std::time::Instant::now();
    api.create(&PostParams::default(), &config_map("b", json!({})))
        .await
        .expect("the second is struck once, then retried");
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    cluster.inject(Fault::status(500).verb("list"));
    assert_eq!(
        failure(api.list(&ListParams::default()).await.expect_err("500")).1,
        500
    );
    cluster.clear_faults();
    api.list(&ListParams::default()).await.expect("list");

    assert_eq!(cluster.count("create", "configmaps"), 3);
    // 429s are retried by the client, 500s on lists are not.
    assert_eq!(cluster.count("list", "configmaps"), 2);
    let codes: Vec<(String, u16)> = cluster
        .requests()
        .into_iter()
        .filter(|r| r.resource == "configmaps")
        .map(|r| (r.verb, r.code))
        .collect();
    assert_eq!(
        codes,
        [
            ("create".to_owned(), 201),
            ("create".to_owned(), 429),
            ("create".to_owned(), 201),
            ("list".to_owned(), 500),
            ("list".to_owned(), 200),
        ]
    );
    // The same, as JSON over HTTP.
    let debug: serde_json::Value = client(&cluster)
        .await
        .request(
            http::Request::get("/debug/requests")
                .body(Vec::new())
                .expect("request"),
        )
        .await
        .expect("debug");
    assert_eq!(debug["counts"]["create configmaps"], 3);

    // A delay holds the answer back.
    cluster.inject(Fault::delay(std::time::Duration::from_millis(300)).verb("get"));
    let started = std::time::Instant::now();
    api.get("a").await.expect("get");
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    cluster.clear_faults();

    // A dropped connection answers nothing: the client sees a transport error, not a Status,
    // and nothing was written.
    cluster.inject(Fault::drop_connection().verb("create").times(1));
    let error = api
        .create(&PostParams::default(), &config_map("c", json!({})))
        .await
        .expect_err("dropped");
    assert!(!matches!(error, kube::Error::Api(_)), "{error}");
    assert_eq!(failure(api.get("c").await.expect_err("not written")).1, 404);
    // A dropped response loses only the answer: the write happened, and a retry meets it.
    cluster.inject(Fault::drop_response().verb("create").times(1));
    let error = api
        .create(&PostParams::default(), &config_map("d", json!({})))
        .await
        .expect_err("dropped");
    assert!(!matches!(error, kube::Error::Api(_)), "{error}");
    api.get("d").await.expect("written");
    let (reason, code, _) = failure(
        api.create(&PostParams::default(), &config_map("d", json!({})))
            .await
            .expect_err("a retry meets the first write"),
    );
    assert_eq!((reason.as_str(), code), ("AlreadyExists", 409));
    let last: Vec<u16> = cluster
        .requests()
        .into_iter()
        .filter(|r| r.verb == "create" && r.resource == "configmaps")
        .map(|r| r.code)
        .collect();
    assert_eq!(last[last.len() - 3..], [0, 201, 409]);
}

#[tokio::test]
async fn workloads_become_ready_and_jobs_finish() {
    use converge_testcluster::JOB_OUTCOME_ANNOTATION;
    use k8s_openapi::api::batch::v1::Job;

    let cluster = TestCluster::builder()
        .ready_after(Some(std::time::Duration::from_millis(200)))
        .start()
        .await
        .expect("start");
    let client = client(&cluster).await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let created = deployments
        .create(&PostParams::default(), &deployment("web", "web:1"))
        .await
        .expect("create");
    assert!(created.status.is_none(), "not ready at once");
    let ready = |d: &Deployment| {
        let wanted = d.spec.as_ref().and_then(|s| s.replicas);
        d.status.as_ref().is_some_and(|s| {
            s.observed_generation == d.metadata.generation && s.ready_replicas == wanted
        })
    };
    let wait = || async {
        for _ in 0..50 {
            let d = deployments.get("web").await.expect("get");
            if ready(&d) {
                return d;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the deployment never became ready");
    };
    let first = wait().await;
    // A new generation is not ready until the controller has seen it.
    let patched = patch_web(&deployments, Patch::Merge(json!({"spec": {"replicas": 3}})))
        .await
        .expect("scale");
    assert!(!ready(&patched));
    let second = wait().await;
    assert!(second.metadata.generation > first.metadata.generation);
    assert_eq!(second.status.and_then(|s| s.available_replicas), Some(3));

    let jobs: Api<Job> = Api::namespaced(client, "default");
    let job = |name: &str, outcome: Option<&str>| -> Job {
        let mut job: Job = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "migrate", "image": "migrate:1"}],
            }}},
        }))
        .expect("job");
        if let Some(outcome) = outcome {
            job.metadata.annotations =
                Some([(JOB_OUTCOME_ANNOTATION.to_owned(), outcome.to_owned())].into());
        }
        job
    };
    jobs.create(&PostParams::default(), &job("ok", None))
        .await
        .expect("job");
    jobs.create(&PostParams::default(), &job("bad", Some("failed")))
        .await
        .expect("job");
    let condition = |job: &Job, kind: &str| {
        job.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == kind && c.status == "True"))
    };
    let mut finished = false;
    for _ in 0..50 {
        let ok = jobs.get("ok").await.expect("get");
        let bad = jobs.get("bad").await.expect("get");
        if condition(&ok, "Complete") && condition(&bad, "Failed") {
            assert_eq!(ok.status.and_then(|s| s.succeeded), Some(1));
            finished = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(finished, "the jobs never finished");
}

#[tokio::test]
async fn pods_run_claims_bind_and_load_balancers_get_an_address() {
    use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Service};

    let cluster = TestCluster::builder()
        .ready_after(Some(std::time::Duration::from_millis(100)))
        .start()
        .await
        .expect("start");
    let client = client(&cluster).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let services: Api<Service> = Api::namespaced(client, "default");
    fn object<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
        serde_json::from_value(value).expect("object")
    }
    pods.create(
        &PostParams::default(),
        &object(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "web", "image": "web:1"}]}}),
        ),
    )
    .await
    .expect("pod");
    claims
        .create(
            &PostParams::default(),
            &object(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "5Gi"}}}})),
        )
        .await
        .expect("claim");
    for (name, kind) in [("lb", "LoadBalancer"), ("plain", "ClusterIP")] {
        services
            .create(
                &PostParams::default(),
                &object(
                    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                    "spec": {"type": kind, "ports": [{"port": 80}]}}),
                ),
            )
            .await
            .expect("service");
    }
    let mut settled = false;
    for _ in 0..100 {
        let pod = pods.get("p").await.expect("pod");
        let claim = claims.get("data").await.expect("claim");
        let lb = services.get("lb").await.expect("service");
        let running = pod.status.as_ref().is_some_and(|s| {
            s.phase.as_deref() == Some("Running")
                && s.conditions
                    .as_ref()
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
                && s.container_statuses
                    .as_ref()
                    .is_some_and(|c| c.len() == 1 && c[0].ready)
        });
        let bound = claim.status.as_ref().is_some_and(|s| {
            s.phase.as_deref() == Some("Bound")
                && s.capacity
                    .as_ref()
                    .and_then(|c| c.get("storage"))
                    .map(|q| q.0.as_str())
                    == Some("5Gi")
        });
        let addressed = lb
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|l| l.ingress.as_ref())
            .is_some_and(|i| i.len() == 1 && i[0].ip.is_some());
        if running && bound && addressed {
            settled = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(settled, "pods, claims and load balancers never settled");
    // A ClusterIP Service gets no load balancer status.
    let plain = services.get("plain").await.expect("service");
    assert!(
        plain
            .status
            .and_then(|s| s.load_balancer)
            .and_then(|l| l.ingress)
            .is_none()
    );
}

#[tokio::test]
async fn unknown_fields_are_dropped_with_a_warning_or_refused() {
    let cluster = TestCluster::start().await.expect("start");
    let client = client(&cluster).await;
    let post = |validation: &str, name: &str| {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"app": "web"}},
            "data": {"a": "1"}, "colour": "blue", "metadata2": {}});
        http::Request::post(format!(
            "/api/v1/namespaces/default/configmaps?fieldValidation={validation}"
        ))
        .header("Content-Type", "application/json")
        .body(body.to_string().into_bytes())
        .expect("request")
    };
    // Warn, the default: stored without them, each named in a Warning header.
    let response = client
        .send(post("Warn", "warned").map(Into::into))
        .await
        .expect("response");
    assert_eq!(response.status(), 201);
    let warnings: Vec<&str> = response
        .headers()
        .get_all("warning")
        .iter()
        .map(|v| v.to_str().expect("text"))
        .collect();
    assert_eq!(
        warnings,
        [
            r#"299 - "unknown field \"colour\"""#,
            r#"299 - "unknown field \"metadata2\"""#
        ]
    );
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let stored = serde_json::to_value(api.get("warned").await.expect("get")).expect("json");
    assert!(stored.get("colour").is_none());
    assert_eq!(stored["metadata"]["labels"]["app"], "web");

    // Strict: refused, as kubectl's --validate=strict asks.
    let status: serde_json::Value = client
        .send(post("Strict", "strict").map(Into::into))
        .await
        .expect("response")
        .into_body()
        .collect_bytes()
        .await
        .map(|b| serde_json::from_slice(&b).expect("status"))
        .expect("body");
    assert_eq!(status["code"], 400);
    assert_eq!(
        status["message"],
        r#"strict decoding error: unknown field "colour", unknown field "metadata2""#
    );
    assert_eq!(
        failure(api.get("strict").await.expect_err("not created")).1,
        404
    );

    // Ignore: dropped without a word.
    let response = client
        .send(post("Ignore", "ignored").map(Into::into))
        .await
        .expect("response");
    assert_eq!(response.status(), 201);
    assert!(response.headers().get("warning").is_none());

    // Deep in a pod template too, and in a server-side apply.
    let deployments: Api<Deployment> = Api::namespaced(client, "default");
    let mut config = serde_json::to_value(deployment("web", "web:1")).expect("json");
    config["spec"]["template"]["spec"]["containers"][0]["colour"] = json!("blue");
    let status = match deployments
        .patch(
            "web",
            &PatchParams::apply("converge").validation_strict(),
            &Patch::Apply(&config),
        )
        .await
    {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(
        (status.code, status.message.as_str()),
        (
            400,
            ".spec.template.spec.containers[0].colour: field not declared in schema"
        )
    );
    let applied = deployments
        .patch(
            "web",
            &PatchParams::apply("converge"),
            &Patch::Apply(&config),
        )
        .await
        .expect("warned and applied");
    let container = serde_json::to_value(
        &applied
            .spec
            .expect("spec")
            .template
            .spec
            .expect("pod")
            .containers[0],
    )
    .expect("json");
    assert!(container.get("colour").is_none());
}
