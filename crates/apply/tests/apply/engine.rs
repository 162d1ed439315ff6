//! The sync engine against the testcluster over HTTP: order, dry-run first, skip unchanged,
//! prune by inventory.

use converge_apply::{
    APPLYSET_CONTAINS, APPLYSET_ID, APPLYSET_PART_OF, Engine, Error, Event, Inventory,
    ServerSideApply, SyncOptions,
};
use converge_testcluster::TestCluster;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Value, json};

use crate::start;

fn config_map(namespace: &str, name: &str, annotations: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
        "data": {"name": name}})
}

fn app() -> Vec<Value> {
    vec![
        // Given in an order that would fail if applied as given.
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "namespace": "shop"}, "spec": {"size": 2}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}}),
        config_map("shop", "settings", json!({})),
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
    ]
}

fn inventory() -> Inventory {
    Inventory::new("default", "shop-sync")
}

async fn get(
    client: &kube::Client,
    gvk: (&str, &str, &str),
    plural: &str,
    ns: Option<&str>,
    name: &str,
) -> Option<Value> {
    let mut resource = ApiResource::from_gvk(&GroupVersionKind::gvk(gvk.0, gvk.1, gvk.2));
    resource.plural = plural.to_owned();
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    api.get_opt(name)
        .await
        .expect("get")
        .map(|o| serde_json::to_value(o).expect("json"))
}

/// Writes that were not dry runs, by verb.
fn writes(cluster: &TestCluster) -> Vec<String> {
    cluster
        .requests()
        .into_iter()
        .filter(|r| {
            matches!(r.verb.as_str(), "create" | "update" | "patch" | "delete") && !r.dry_run
        })
        .map(|r| format!("{} {}", r.verb, r.resource))
        .collect()
}

#[tokio::test]
async fn a_set_with_its_namespace_and_crd_syncs_in_one_go_and_then_changes_nothing() {
    let (cluster, client) = start().await;
    let engine = Engine::new(client.clone(), ServerSideApply::new("converge"));
    let options = SyncOptions::default().inventory(inventory(), true);
    let mut events = Vec::new();
    let summary = engine
        .sync(&app(), &options, &mut |e| events.push(e.clone()))
        .await
        .expect("sync");
    assert_eq!(
        summary.to_string(),
        "5 created, 0 updated, 0 unchanged, 0 pruned, 0 failed"
    );
    let applied: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Applied(id, _) => Some(id.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        applied,
        [
            "v1 Namespace shop",
            "apiextensions.k8s.io/v1 CustomResourceDefinition widgets.example.com",
            "v1 ConfigMap shop/settings",
            "apps/v1 Deployment shop/web",
            "example.com/v1 Widget shop/w",
        ]
    );
    let widget = get(
        &client,
        ("example.com", "v1", "Widget"),
        "widgets",
        Some("shop"),
        "w",
    )
    .await
    .expect("the widget");
    assert_eq!(widget["spec"]["size"], 2);
    // Members carry the set's label; the parent its id and kinds, as KEP-3659 has them.
    let id = inventory().id();
    assert_eq!(widget["metadata"]["labels"][APPLYSET_PART_OF], json!(id));
    let parent = get(
        &client,
        ("", "v1", "Secret"),
        "secrets",
        Some("default"),
        "shop-sync",
    )
    .await
    .expect("the inventory");
    assert_eq!(parent["metadata"]["labels"][APPLYSET_ID], json!(id));
    assert_eq!(
        parent["metadata"]["annotations"][APPLYSET_CONTAINS],
        "ConfigMap,CustomResourceDefinition.apiextensions.k8s.io,Deployment.apps,Namespace,Widget.example.com"
    );

    // Again: every object unchanged, no write at all, one list per kind.
    let before = cluster.requests().len();
    let writes_before = writes(&cluster).len();
    let lists_before: usize = cluster
        .requests()
        .iter()
        .filter(|r| r.verb == "list")
        .count();
    let summary = engine
        .sync(&app(), &options, &mut |_| {})
        .await
        .expect("again");
    assert_eq!(
        summary.to_string(),
        "0 created, 0 updated, 5 unchanged, 0 pruned, 0 failed"
    );
    let new_writes: Vec<String> = writes(&cluster)[writes_before..].to_vec();
    assert!(new_writes.is_empty(), "a re-sync wrote {new_writes:?}");
    let lists: usize = cluster
        .requests()
        .iter()
        .filter(|r| r.verb == "list")
        .count()
        - lists_before;
    assert!(lists <= 5, "{lists} lists for 5 kinds");
    assert!(cluster.requests().len() > before);
}

#[tokio::test]
async fn what_left_git_is_pruned_and_nothing_else() {
    let (_cluster, client) = start().await;
    let engine = Engine::new(client.clone(), ServerSideApply::new("converge"));
    let options = SyncOptions::default().inventory(inventory(), true);
    let first = vec![
        config_map("default", "a", json!({})),
        config_map("default", "b", json!({})),
        config_map("default", "kept", json!({"converge.dev/prune": "disabled"})),
    ];
    engine
        .sync(&first, &options, &mut |_| {})
        .await
        .expect("first");
    // An object of the same kind that the sync never applied.
    let configmaps = Api::<DynamicObject>::namespaced_with(
        client.clone(),
        "default",
        &ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap")),
    );
    configmaps
        .create(
            &PostParams::default(),
            &serde_json::from_value(config_map("default", "outsider", json!({}))).expect("object"),
        )
        .await
        .expect("outsider");

    let mut events = Vec::new();
    let summary = engine
        .sync(&first[..1], &options, &mut |e| events.push(e.clone()))
        .await
        .expect("second");
    assert_eq!(
        summary.to_string(),
        "0 created, 0 updated, 1 unchanged, 1 pruned, 0 failed"
    );
    assert!(
        events.contains(&Event::Pruned(converge_core::ObjectRef::new(
            "",
            "v1",
            "ConfigMap",
            Some("default"),
            "b"
        )))
    );
    for (name, there) in [
        ("a", true),
        ("b", false),
        ("kept", true),
        ("outsider", true),
    ] {
        let found = get(
            &client,
            ("", "v1", "ConfigMap"),
            "configmaps",
            Some("default"),
            name,
        )
        .await;
        assert_eq!(found.is_some(), there, "{name}");
    }

    // An empty set is refused rather than taken as "delete everything".
    let err = engine
        .sync(&[], &options, &mut |_| {})
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::Refused { .. }), "{err}");
    assert!(
        get(
            &client,
            ("", "v1", "ConfigMap"),
            "configmaps",
            Some("default"),
            "a"
        )
        .await
        .is_some()
    );
}

#[tokio::test]
async fn one_invalid_object_stops_the_sync_before_anything_is_written() {
    let (cluster, client) = start().await;
    let engine = Engine::new(client.clone(), ServerSideApply::new("converge"));
    let mut set = vec![
        config_map("default", "good", json!({})),
        config_map("default", "Not_Valid", json!({})),
        config_map("default", "Also_Bad", json!({})),
    ];
    set.push(config_map("default", "also-good", json!({})));
    let err = engine
        .sync(&set, &SyncOptions::default(), &mut |_| {})
        .await
        .expect_err("invalid");
    let Error::Failed { errors, summary } = &err else {
        panic!("expected the failures, got {err}");
    };
    // Every error is reported, not only the first.
    assert_eq!(errors.len(), 2, "{err}");
    assert!(err.to_string().starts_with("2 objects failed:"), "{err}");
    assert!(
        err.to_string().contains("v1 ConfigMap default/Also_Bad: "),
        "{err}"
    );
    assert!(
        err.to_string().contains("v1 ConfigMap default/Not_Valid: "),
        "{err}"
    );
    assert_eq!(summary.created, 0);
    assert!(writes(&cluster).is_empty(), "{:?}", writes(&cluster));
    assert!(
        get(
            &client,
            ("", "v1", "ConfigMap"),
            "configmaps",
            Some("default"),
            "good"
        )
        .await
        .is_none()
    );
}

#[tokio::test]
async fn waves_go_in_order_and_dry_runs_write_nothing() {
    let (cluster, client) = start().await;
    let engine = Engine::new(client, ServerSideApply::new("converge"));
    let set = vec![
        config_map("default", "late", json!({"converge.dev/wave": "2"})),
        config_map(
            "default",
            "argo-early",
            json!({"argocd.argoproj.io/sync-wave": "-1"}),
        ),
        config_map("default", "middle", json!({})),
    ];
    let mut order = Vec::new();
    let summary = engine
        .sync(&set, &SyncOptions::default().dry_run(true), &mut |e| {
            if let Event::Applied(id, _) = e {
                order.push(id.name.clone());
            }
        })
        .await
        .expect("dry run");
    assert_eq!(order, ["argo-early", "middle", "late"]);
    assert_eq!(summary.created, 3);
    assert!(writes(&cluster).is_empty(), "{:?}", writes(&cluster));
}

fn deployment(name: &str, wave: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "annotations": {"converge.dev/wave": wave}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}})
}

#[tokio::test]
async fn waits_for_each_wave_to_be_healthy() {
    // The stand-in controller rolls workloads out 200 ms after each change.
    let cluster = TestCluster::builder()
        .ready_after(Some(std::time::Duration::from_millis(200)))
        .start()
        .await
        .expect("start");
    let url = cluster.url().parse().expect("url");
    let client = kube::Client::try_from(kube::Config::new(url)).expect("client");
    let engine = Engine::new(client, ServerSideApply::new("converge"));
    let mut events = Vec::new();
    let summary = engine
        .sync(
            &[deployment("db", "0"), deployment("web", "1")],
            &SyncOptions::default().wait(Some(std::time::Duration::from_secs(20))),
            &mut |e| events.push(e.to_string()),
        )
        .await
        .expect("sync");
    assert_eq!(summary.created, 2);
    let position = |text: &str| {
        events
            .iter()
            .position(|e| e == text)
            .unwrap_or_else(|| panic!("no {text:?} in {events:#?}"))
    };
    // db is waited for, and healthy, before web is applied.
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("apps/v1 Deployment default/db: waiting: "))
    );
    assert!(
        position("apps/v1 Deployment default/db: healthy")
            < position("apps/v1 Deployment default/web: created")
    );
    assert!(
        position("apps/v1 Deployment default/web: healthy")
            > position("apps/v1 Deployment default/web: created")
    );
}

#[tokio::test]
async fn a_wait_ends_with_what_is_not_healthy() {
    // No controller: nothing ever becomes ready.
    let (_cluster, client) = start().await;
    let engine = Engine::new(client, ServerSideApply::new("converge"));
    let err = engine
        .sync(
            &[deployment("web", "0")],
            &SyncOptions::default().wait(Some(std::time::Duration::from_millis(300))),
            &mut |_| {},
        )
        .await
        .expect_err("times out");
    let Error::Unhealthy {
        timed_out, summary, ..
    } = &err
    else {
        panic!("expected a timeout, got {err}");
    };
    assert!(timed_out);
    assert_eq!(summary.created, 1);
    assert!(
        err.to_string()
            .starts_with("timed out waiting for apps/v1 Deployment default/web ("),
        "{err}"
    );

    // A Job that fails is degraded: the wait ends at once, saying why.
    let cluster = TestCluster::builder()
        .ready_after(Some(std::time::Duration::from_millis(50)))
        .start()
        .await
        .expect("start");
    let url = cluster.url().parse().expect("url");
    let client = kube::Client::try_from(kube::Config::new(url)).expect("client");
    let engine = Engine::new(client, ServerSideApply::new("converge"));
    let job = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "migrate", "namespace": "default",
            "annotations": {converge_testcluster::JOB_OUTCOME_ANNOTATION: "failed"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "migrate", "image": "db:1"}]}}}});
    let started = std::time::Instant::now();
    let err = engine
        .sync(
            &[job],
            &SyncOptions::default().wait(Some(std::time::Duration::from_secs(30))),
            &mut |_| {},
        )
        .await
        .expect_err("failed job");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(
        err.to_string()
            .starts_with("unhealthy: batch/v1 Job default/migrate: failed: BackoffLimitExceeded"),
        "{err}"
    );
}

#[tokio::test]
async fn faults_are_retried_and_the_sync_still_converges() {
    use converge_testcluster::Fault;

    let (cluster, client) = start().await;
    let engine = Engine::new(client.clone(), ServerSideApply::new("converge"));
    let options = SyncOptions::default().inventory(inventory(), true);
    let set: Vec<Value> = (0..4)
        .map(|i| config_map("default", &format!("c{i}"), json!({})))
        .collect();
    // The server fails, throttles, drops connections and answers late. Faults on the same
    // requests take turns, in order: each strikes once those before it are spent.
    cluster.inject(
        Fault::status(500)
            .verb("patch")
            .resource("configmaps")
            .times(2),
    );
    cluster.inject(
        Fault::status(503)
            .verb("list")
            .resource("configmaps")
            .times(1),
    );
    cluster.inject(
        Fault::drop_connection()
            .verb("patch")
            .resource("configmaps")
            .after(1)
            .times(1),
    );
    // A write that happens and whose answer is lost: tried again, it finds its own result.
    cluster.inject(
        Fault::drop_response()
            .verb("patch")
            .resource("configmaps")
            .after(1)
            .times(1),
    );
    cluster.inject(
        Fault::delay(std::time::Duration::from_millis(200))
            .verb("get")
            .times(2),
    );
    // Throttled once the faults before it are spent: kube's client waits out Retry-After.
    cluster.inject(
        Fault::too_many_requests(1)
            .verb("patch")
            .resource("configmaps")
            .times(1),
    );
    let summary = engine
        .sync(&set, &options, &mut |_| {})
        .await
        .expect("converges");
    assert_eq!(summary.failed, 0);
    let codes: Vec<u16> = cluster.requests().iter().map(|r| r.code).collect();
    for struck in [500, 503, 429, 0] {
        assert!(codes.contains(&struck), "no {struck} among {codes:?}");
    }
    assert_eq!(
        summary.created + summary.updated + summary.unchanged,
        4,
        "{summary}"
    );
    cluster.clear_faults();
    for i in 0..4 {
        let name = format!("c{i}");
        assert!(
            get(
                &client,
                ("", "v1", "ConfigMap"),
                "configmaps",
                Some("default"),
                &name
            )
            .await
            .is_some(),
            "{name}"
        );
    }
    // Nothing was pruned wrongly: a second sync of the same set finds everything in place.
    let summary = engine
        .sync(&set, &options, &mut |_| {})
        .await
        .expect("again");
    assert_eq!(
        summary.to_string(),
        "0 created, 0 updated, 4 unchanged, 0 pruned, 0 failed"
    );
}

fn hook_job(name: &str, phase: &str, outcome: Option<&str>, policy: Option<&str>) -> Value {
    let mut annotations = json!({"converge.dev/hook": phase});
    if let Some(outcome) = outcome {
        annotations[converge_testcluster::JOB_OUTCOME_ANNOTATION] = json!(outcome);
    }
    if let Some(policy) = policy {
        annotations["converge.dev/hook-delete-policy"] = json!(policy);
    }
    json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": "default", "annotations": annotations},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "run", "image": "tools:1"}]}}}})
}

#[tokio::test]
async fn hooks_run_in_their_phases() {
    let cluster = TestCluster::builder()
        .ready_after(Some(std::time::Duration::from_millis(50)))
        .start()
        .await
        .expect("start");
    let url = cluster.url().parse().expect("url");
    let client = kube::Client::try_from(kube::Config::new(url)).expect("client");
    let engine = Engine::new(client.clone(), ServerSideApply::new("converge"));
    let set = vec![
        hook_job("verify", "post-sync", None, Some("hook-succeeded")),
        config_map("default", "app", json!({})),
        hook_job("migrate", "pre-sync", None, None),
        // Argo CD's spelling works too.
        json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "notify", "namespace": "default",
                "annotations": {"argocd.argoproj.io/hook": "SyncFail"}},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "run", "image": "tools:1"}]}}}}),
    ];
    let mut events = Vec::new();
    let options = SyncOptions::default().inventory(inventory(), true);
    let summary = engine
        .sync(&set, &options, &mut |e| events.push(e.to_string()))
        .await
        .expect("sync");
    // Hooks are not objects of the set: counted apart, never in the inventory.
    assert_eq!(
        summary.to_string(),
        "1 created, 0 updated, 0 unchanged, 0 pruned, 0 failed"
    );
    let position = |text: &str| {
        events
            .iter()
            .position(|e| e == text)
            .unwrap_or_else(|| panic!("no {text:?} in {events:#?}"))
    };
    assert!(
        position("batch/v1 Job default/migrate: healthy")
            < position("v1 ConfigMap default/app: created")
    );
    assert!(
        position("v1 ConfigMap default/app: created")
            < position("batch/v1 Job default/verify: created")
    );
    assert!(
        !events
            .iter()
            .any(|e| e.starts_with("batch/v1 Job default/notify")),
        "{events:#?}"
    );
    let job = |name: &'static str| {
        let client = client.clone();
        async move {
            get(
                &client,
                ("batch", "v1", "Job"),
                "jobs",
                Some("default"),
                name,
            )
            .await
        }
    };
    // The migration stays (deleted before its next run); the verification went when it passed.
    assert!(job("migrate").await.is_some());
    assert!(job("verify").await.is_none());
    assert!(
        job("migrate").await.expect("migrate")["metadata"]["labels"]
            .get(converge_apply::APPLYSET_PART_OF)
            .is_none()
    );

    // A second sync runs the migration afresh: deleted, then created again.
    let first_uid = job("migrate").await.expect("migrate")["metadata"]["uid"].clone();
    engine
        .sync(&set, &options, &mut |_| {})
        .await
        .expect("again");
    assert_ne!(
        job("migrate").await.expect("migrate")["metadata"]["uid"],
        first_uid
    );

    // A failing pre-sync hook stops the sync before the set is written, and the sync-fail
    // hook runs.
    let failing = vec![
        hook_job("migrate", "pre-sync", Some("failed"), None),
        config_map("default", "other", json!({})),
        hook_job("notify", "sync-fail", None, None),
    ];
    let mut failed = Vec::new();
    let err = engine
        .sync(&failing, &SyncOptions::default(), &mut |e| {
            if let Event::Failed(id, _) = e {
                failed.push(id.to_string());
            }
        })
        .await
        .expect_err("the hook fails");
    assert_eq!(
        failed,
        ["batch/v1 Job default/migrate"],
        "the failed hook says so"
    );
    assert!(
        err.to_string()
            .starts_with("unhealthy: batch/v1 Job default/migrate: failed"),
        "{err}"
    );
    assert!(
        get(
            &client,
            ("", "v1", "ConfigMap"),
            "configmaps",
            Some("default"),
            "other"
        )
        .await
        .is_none()
    );
    assert!(job("notify").await.is_some(), "the sync-fail hook ran");
}

#[tokio::test]
async fn a_sync_can_act_as_a_service_account() {
    let (cluster, _) = start().await;
    let config = kube::Config::new(cluster.url().parse().expect("url"));
    let engine = Engine::from_config(config, ServerSideApply::new("converge")).expect("engine");
    let options = SyncOptions::default().service_account("apps", "deployer");
    engine
        .sync(
            &[config_map("default", "a", json!({}))],
            &options,
            &mut |_| {},
        )
        .await
        .expect("sync");
    let users: std::collections::BTreeSet<Option<String>> = cluster
        .requests()
        .into_iter()
        .filter(|r| r.resource == "configmaps")
        .map(|r| r.impersonate)
        .collect();
    assert_eq!(
        users.into_iter().collect::<Vec<_>>(),
        [Some("system:serviceaccount:apps:deployer".to_owned())]
    );
    // An engine made from a client alone cannot.
    let (_other, client) = start().await;
    let err = Engine::new(client, ServerSideApply::new("converge"))
        .sync(&[], &options, &mut |_| {})
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::Refused { .. }), "{err}");
}

#[tokio::test]
async fn drift_in_our_fields_is_reverted_and_others_fields_are_left_alone() {
    use kube::api::{Patch, PatchParams};

    let (_cluster, client) = start().await;
    // Forced, as Flux applies: git wins over hand edits of the fields it sets.
    let engine = Engine::new(client.clone(), ServerSideApply::new("converge").force(true));
    let web = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}});
    let options = SyncOptions::default();
    engine
        .sync(std::slice::from_ref(&web), &options, &mut |_| {})
        .await
        .expect("sync");

    let deployments = ApiResource::from_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &deployments);
    // Someone changes the image by hand (a field git sets)…
    api.patch(
        "web",
        &PatchParams {
            field_manager: Some("kubectl-edit".to_owned()),
            ..PatchParams::default()
        },
        &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:hacked"}]}}}})),
    )
    .await
    .expect("edit");
    // …an autoscaler owns the replicas (git does not set them), and a webhook adds a sidecar.
    api.patch(
        "web",
        &PatchParams::apply("hpa").force(),
        &Patch::Apply(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 7}}),
        ),
    )
    .await
    .expect("hpa");
    api.patch(
        "web",
        &PatchParams::apply("sidecar-injector").force(),
        &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{"name": "proxy", "image": "envoy:1"}]}}}})),
    )
    .await
    .expect("sidecar");

    let summary = engine
        .sync(std::slice::from_ref(&web), &options, &mut |_| {})
        .await
        .expect("re-sync");
    assert_eq!(summary.updated, 1, "{summary}");
    let live = get(
        &client,
        ("apps", "v1", "Deployment"),
        "deployments",
        Some("default"),
        "web",
    )
    .await
    .expect("web");
    let containers = live["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    let image = |name: &str| {
        containers
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["image"].clone())
    };
    assert_eq!(image("web"), Some(json!("web:1")), "our field is reverted");
    assert_eq!(image("proxy"), Some(json!("envoy:1")), "the sidecar stays");
    assert_eq!(
        live["spec"]["replicas"], 7,
        "the autoscaler's replicas stay"
    );
}

#[tokio::test]
async fn a_sync_is_given_up_after_its_timeout() {
    use converge_testcluster::Fault;

    let (cluster, client) = start().await;
    let engine = Engine::new(client, ServerSideApply::new("converge"));
    // Every write answers late.
    cluster.inject(Fault::delay(std::time::Duration::from_secs(2)).verb("patch"));
    let started = std::time::Instant::now();
    let err = engine
        .sync(
            &[config_map("default", "slow", json!({}))],
            &SyncOptions::default().timeout(Some(std::time::Duration::from_millis(300))),
            &mut |_| {},
        )
        .await
        .expect_err("given up");
    assert!(matches!(err, Error::TimedOut { .. }), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}
