//! The reference controller end to end: the `controller` example as a process, a testcluster
//! with the CRDs, and git repositories served by `git daemon` and `git http-backend` on
//! loopback. Objects are created and read through `kube::Client`, as a user would with kubectl.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use converge::api::{GitSource, Sync};
use converge_source::testing::{GitDaemon, GitFixture, GitHttpServer, HttpAuth};
use converge_testcluster::TestCluster;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Secret};
use kube::api::{Api, PostParams};
use kube::{CustomResourceExt, ResourceExt};
use serde_json::{Value, json};

use crate::support::example_bin;

/// A testcluster with the CRDs, a kubeconfig for it, and a scratch directory.
struct Cluster {
    /// Serves until the test ends.
    _server: TestCluster,
    client: kube::Client,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

async fn cluster() -> Cluster {
    cluster_ready_after(Duration::from_millis(50)).await
}

/// As [`cluster`], with workloads becoming ready `delay` after each change.
async fn cluster_ready_after(delay: Duration) -> Cluster {
    let cluster = TestCluster::builder()
        .ready_after(Some(delay))
        .start()
        .await
        .expect("testcluster");
    let client = kube::Client::try_from(kube::Config::new(cluster.url().parse().expect("url")))
        .expect("client");
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    for crd in [GitSource::crd(), Sync::crd()] {
        crds.create(&PostParams::default(), &crd)
            .await
            .expect("CRD");
    }
    // Served once established.
    eventually(
        "the CRDs to be served",
        Duration::from_secs(10),
        None,
        || {
            let client = client.clone();
            async move {
                let syncs: Api<Sync> = Api::namespaced(client, "default");
                syncs.list(&Default::default()).await.ok().map(drop)
            }
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, cluster.kubeconfig()).expect("kubeconfig");
    Cluster {
        _server: cluster,
        client,
        dir,
        kubeconfig,
    }
}

/// Creates the namespace `name`; the namespaces' API.
async fn namespace(client: &kube::Client, name: &str) -> Api<Namespace> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace"),
        )
        .await
        .expect("namespace");
    namespaces
}

/// Deletes `name`, and waits (15 s at most) until it is gone: finalizers done.
async fn delete_and_wait<K>(api: &Api<K>, name: &str, controller: &Controller)
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    api.delete(name, &Default::default()).await.expect("delete");
    eventually(
        &format!("{name} to go"),
        Duration::from_secs(15),
        Some(controller),
        || async { api.get_opt(name).await.ok()?.is_none().then_some(()) },
    )
    .await;
}

/// A free port of 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A running controller; killed when dropped.
struct Controller {
    child: Option<Child>,
    address: String,
    log: PathBuf,
}

impl Controller {
    fn start(cluster: &Cluster, name: &str, args: &[&str]) -> Controller {
        let address = format!("127.0.0.1:{}", free_port());
        let log = cluster.dir.path().join(format!("{name}.log"));
        let cache = cluster.dir.path().join(format!("{name}-cache"));
        let child = Command::new(example_bin("controller"))
            .arg("--kubeconfig")
            .arg(&cluster.kubeconfig)
            .args(["--listen", &address, "--cache"])
            .arg(&cache)
            .args(["--backoff-base", "200ms", "--backoff-max", "2s"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("the controller example is built");
        Controller {
            child: Some(child),
            address,
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET `path`: the status code and body.
    async fn get(&self, path: &str) -> Option<(u16, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(&self.address).await.ok()?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.address
        );
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await.ok()?;
        let code = response.split(' ').nth(1)?.parse().ok()?;
        let body = response.split_once("\r\n\r\n")?.1.to_owned();
        Some((code, body))
    }

    /// The value of a metric line (`converge_leader`, `converge_reconcile_total{…}`).
    async fn metric(&self, line_start: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics").await?;
        body.lines()
            .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
    }

    /// Sends `signal` and waits for the process: its exit code.
    fn stop(&mut self, signal: &str) -> Option<i32> {
        let mut child = self.child.take()?;
        Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill runs");
        child.wait().expect("the controller ends").code()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls `check` every 100 ms until it answers, for `limit` at most; the panic shows the
/// controller's log.
async fn eventually<T, F, Fut>(
    what: &str,
    limit: Duration,
    log: Option<&Controller>,
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(found) = check().await {
            return found;
        }
        if start.elapsed() > limit {
            panic!(
                "waited {limit:?} for {what}; controller log:\n{}",
                log.map(Controller::log).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn deployment(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n      - name: {name}\n        image: {image}\n"
    )
}

/// A repository with `files` committed on `main`, served by `git daemon`, and the GitSource
/// `app` following it every `interval`: the repository, its server and the commit.
async fn served(
    env: &Cluster,
    files: &[(&str, &str)],
    interval: &str,
) -> (GitFixture, GitDaemon, String) {
    let mut repo = GitFixture::new();
    for (path, text) in files {
        repo.write(path, text);
    }
    let commit = repo.commit("first");
    let daemon = GitDaemon::serve(&repo);
    git_source(&env.client, "app", daemon.url(), interval).await;
    (repo, daemon, commit)
}

fn config_map(name: &str, color: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  color: {color}\n")
}

async fn create<K>(client: &kube::Client, object: Value) -> K
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned,
{
    create_in(client, "default", object).await
}

async fn create_in<K>(client: &kube::Client, namespace: &str, object: Value) -> K
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned,
{
    let object: K = serde_json::from_value(object).expect("a valid object");
    Api::<K>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &object)
        .await
        .expect("created")
}

async fn git_source(client: &kube::Client, name: &str, url: &str, interval: &str) {
    create::<GitSource>(
        client,
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "GitSource",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"url": url, "ref": {"branch": "main"}, "interval": interval}}),
    )
    .await;
}

async fn sync(client: &kube::Client, name: &str, spec: Value) {
    create::<Sync>(
        client,
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Sync",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}),
    )
    .await;
}

/// The Sync's status, as JSON.
async fn sync_status(client: &kube::Client, name: &str) -> Value {
    let sync = Api::<Sync>::namespaced(client.clone(), "default")
        .get(name)
        .await
        .expect("the Sync");
    serde_json::to_value(sync.status).expect("json")
}

fn condition<'a>(status: &'a Value, kind: &str) -> Option<&'a Value> {
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

/// Waits until the Sync is Ready at `commit`.
async fn ready_at(client: &kube::Client, name: &str, commit: &str, controller: &Controller) {
    let want = format!("main@sha1:{commit}");
    eventually(
        &format!("Sync {name} to be ready at {want}"),
        Duration::from_secs(20),
        Some(controller),
        || async {
            let status = sync_status(client, name).await;
            (condition(&status, "Ready")?["status"] == "True"
                && status["lastAppliedRevision"] == want.as_str())
            .then_some(())
        },
    )
    .await;
}

async fn color(client: &kube::Client, namespace: &str, name: &str) -> Option<String> {
    let map = Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .ok()??;
    map.data?.get("color").cloned()
}

async fn events(client: &kube::Client, reason: &str) -> Vec<Event> {
    Api::<Event>::namespaced(client.clone(), "default")
        .list(&Default::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_is_live_within_one_interval_with_status_events_and_metrics() {
    let env = cluster().await;
    let (mut repo, _daemon, first) = served(
        &env,
        &[("deploy/web.yaml", &config_map("web", "blue"))],
        "2s",
    )
    .await;
    sync(
        &env.client,
        "web",
        json!({"sourceRef": {"name": "app"}, "path": "./deploy", "interval": "10m", "prune": true}),
    )
    .await;
    let mut controller = Controller::start(&env, "one", &[]);
    ready_at(&env.client, "web", &first, &controller).await;
    assert_eq!(
        color(&env.client, "default", "web").await.as_deref(),
        Some("blue")
    );
    let status = sync_status(&env.client, "web").await;
    assert_eq!(
        status["lastAttemptedRevision"],
        format!("main@sha1:{first}")
    );
    assert_eq!(status["inventory"]["objects"], 1, "{status:#}");
    assert_eq!(
        condition(&status, "Ready").expect("Ready")["reason"],
        "ReconciliationSucceeded"
    );
    assert!(condition(&status, "Reconciling").is_none(), "{status:#}");
    let source = Api::<GitSource>::namespaced(env.client.clone(), "default")
        .get("app")
        .await
        .expect("source");
    let artifact = &source
        .status
        .expect("source status")
        .artifact
        .expect("artifact");
    assert_eq!(artifact.revision, format!("main@sha1:{first}"));
    assert!(artifact.digest.starts_with("sha256:"));

    // A new commit is live within one interval of the source (2 s), give or take the work.
    repo.write("deploy/web.yaml", &config_map("web", "green"));
    repo.write("deploy/extra.yaml", &config_map("extra", "red"));
    let second = repo.commit("green");
    let pushed = Instant::now();
    eventually(
        "the commit to be live",
        Duration::from_secs(6),
        Some(&controller),
        || async {
            (color(&env.client, "default", "web").await.as_deref() == Some("green")).then_some(())
        },
    )
    .await;
    let took = pushed.elapsed();
    assert!(took < Duration::from_secs(4), "live after {took:?}");
    ready_at(&env.client, "web", &second, &controller).await;

    // A file that leaves git is pruned.
    repo.git(&["rm", "-q", "deploy/extra.yaml"]);
    let third = repo.commit("no extra");
    ready_at(&env.client, "web", &third, &controller).await;
    assert_eq!(color(&env.client, "default", "extra").await, None);
    assert_eq!(
        sync_status(&env.client, "web").await["inventory"]["pruned"],
        1
    );

    // Each outcome is an Event on the Sync and the source.
    let succeeded = events(&env.client, "ReconciliationSucceeded").await;
    assert!(succeeded.len() >= 3, "{succeeded:#?}");
    assert!(
        succeeded
            .iter()
            .all(|e| e.involved_object.kind.as_deref() == Some("Sync")
                && e.type_.as_deref() == Some("Normal"))
    );
    assert!(!events(&env.client, "NewArtifact").await.is_empty());

    // Operations: health, readiness, metrics.
    assert_eq!(controller.get("/healthz").await.map(|r| r.0), Some(200));
    assert_eq!(controller.get("/readyz").await.map(|r| r.0), Some(200));
    let successes = controller
        .metric("converge_reconcile_total{kind=\"Sync\",result=\"success\"}")
        .await
        .expect("reconcile metric");
    assert!(successes >= 3.0, "{successes}");
    assert!(
        controller
            .metric("converge_objects_total{action=\"pruned\"}")
            .await
            >= Some(1.0)
    );
    let (_, metrics) = controller.get("/metrics").await.expect("metrics");
    for name in [
        "converge_reconcile_duration_seconds_count{kind=\"Sync\"}",
        "converge_source_fetch_duration_seconds_count{result=\"success\"}",
        "converge_queue_depth ",
        "converge_leader 1",
    ] {
        assert!(metrics.contains(name), "{name} missing from\n{metrics}");
    }

    // On demand: a new requested-at value reconciles now, once.
    let before = controller
        .metric("converge_reconcile_total{kind=\"Sync\",result=\"success\"}")
        .await
        .expect("metric");
    let syncs: Api<Sync> = Api::namespaced(env.client.clone(), "default");
    syncs
        .patch(
            "web",
            &Default::default(),
            &kube::api::Patch::Merge(
                json!({"metadata": {"annotations": {"converge.dev/requested-at": "now"}}}),
            ),
        )
        .await
        .expect("annotate");
    eventually(
        "the requested reconcile",
        Duration::from_secs(5),
        Some(&controller),
        || async {
            let status = sync_status(&env.client, "web").await;
            (status["lastHandledReconcileAt"] == "now").then_some(())
        },
    )
    .await;
    eventually(
        "a reconcile",
        Duration::from_secs(5),
        Some(&controller),
        || async {
            let now = controller
                .metric("converge_reconcile_total{kind=\"Sync\",result=\"success\"}")
                .await?;
            (now > before).then_some(())
        },
    )
    .await;

    // A Sync that prunes is deleted with what it applied, inventory and all.
    let sync = syncs.get("web").await.expect("web");
    assert_eq!(sync.finalizers(), ["converge.dev/finalizer"]);
    delete_and_wait(&syncs, "web", &controller).await;
    assert_eq!(color(&env.client, "default", "web").await, None);
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), "default");
    assert!(secrets.get_opt("sync-web").await.expect("get").is_none());
    assert!(!events(&env.client, "Pruned").await.is_empty());

    // SIGTERM: a clean stop.
    assert_eq!(controller.stop("-TERM"), Some(0), "{}", controller.log());
    assert!(controller.log().contains("stopped"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_push_reconciles_at_once_and_a_forged_one_does_nothing() {
    let env = cluster().await;
    let mut repo = GitFixture::new();
    repo.write("deploy/web.yaml", &config_map("web", "blue"));
    let first = repo.commit("blue");
    // Over HTTPS with a private CA and basic auth, the CA and credentials in a Secret.
    let server = GitHttpServer::serve_https(&repo, Some(HttpAuth::Basic("ci", "pa55word")));
    let ca = server.ca_certificate().expect("a CA");
    create::<Secret>(
        &env.client,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "git-auth", "namespace": "default"},
            "stringData": {"username": "ci", "password": "pa55word", "ca.crt": ca}}),
    )
    .await;
    // An hour between polls: only a push makes the controller look.
    create::<GitSource>(
        &env.client,
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "GitSource",
            "metadata": {"name": "app", "namespace": "default"},
            "spec": {"url": server.url(), "ref": {"branch": "main"}, "interval": "1h",
                "secretRef": {"name": "git-auth"}}}),
    )
    .await;
    sync(
        &env.client,
        "web",
        json!({"sourceRef": {"name": "app"}, "path": "deploy"}),
    )
    .await;
    let secret = env.dir.path().join("webhook-secret");
    std::fs::write(&secret, "s3cret\n").expect("secret");
    let controller = Controller::start(
        &env,
        "hook",
        &["--webhook-secret-file", secret.to_str().expect("utf-8")],
    );
    ready_at(&env.client, "web", &first, &controller).await;

    repo.write("deploy/web.yaml", &config_map("web", "green"));
    let second = repo.commit("green");
    let body = json!({"ref": "refs/heads/main", "after": second,
        "repository": {"clone_url": format!("{}.git", server.url()), "html_url": "https://example.test/app"}})
    .to_string();
    let forged = converge::receiver::github_signature(b"not the secret", body.as_bytes());
    let code = crate::receiver::post(
        &controller.address,
        &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &forged)],
        &body,
    )
    .await;
    assert_eq!(code, 401);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        color(&env.client, "default", "web").await.as_deref(),
        Some("blue")
    );

    let signed = converge::receiver::github_signature(b"s3cret", body.as_bytes());
    let sent = Instant::now();
    let code = crate::receiver::post(
        &controller.address,
        &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &signed)],
        &body,
    )
    .await;
    assert_eq!(code, 202);
    ready_at(&env.client, "web", &second, &controller).await;
    assert_eq!(
        color(&env.client, "default", "web").await.as_deref(),
        Some("green")
    );
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    let source = Api::<GitSource>::namespaced(env.client.clone(), "default")
        .get("app")
        .await
        .expect("source");
    let asked = source.annotations()["converge.dev/requested-at"].clone();
    eventually(
        "the request to be acknowledged",
        Duration::from_secs(5),
        Some(&controller),
        || async {
            let source = Api::<GitSource>::namespaced(env.client.clone(), "default")
                .get("app")
                .await
                .ok()?;
            (source.status?.last_handled_reconcile_at? == asked).then_some(())
        },
    )
    .await;

    // GitLab's push, with its token: the same, at once. A wrong token does nothing.
    repo.write("deploy/web.yaml", &config_map("web", "red"));
    let third = repo.commit("red");
    let body = json!({"object_kind": "push", "ref": "refs/heads/main", "after": third,
        "project": {"git_http_url": server.url(), "web_url": "https://example.test/app"}})
    .to_string();
    let headers = |token| [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", token)];
    let code = crate::receiver::post(&controller.address, &headers("s3cre7"), &body).await;
    assert_eq!(code, 401);
    let code = crate::receiver::post(&controller.address, &headers("s3cret"), &body).await;
    assert_eq!(code, 202);
    ready_at(&env.client, "web", &third, &controller).await;
    assert_eq!(
        color(&env.client, "default", "web").await.as_deref(),
        Some("red")
    );
    assert!(
        !controller.log().contains("pa55word"),
        "{}",
        controller.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_branch_gets_an_environment_that_goes_with_it() {
    let env = cluster().await;
    let (repo, _daemon, _) = served(
        &env,
        &[("deploy/web.yaml", &config_map("web", "${PREVIEW_BRANCH}"))],
        "1s",
    )
    .await;
    sync(
        &env.client,
        "previews",
        json!({"sourceRef": {"name": "app"}, "path": "deploy", "preview": {"branches": "preview/*"}}),
    )
    .await;
    let mut controller = Controller::start(&env, "preview", &[]);
    // No preview branch: no environment, and ready.
    eventually(
        "the previews to be ready",
        Duration::from_secs(10),
        Some(&controller),
        || async {
            let status = sync_status(&env.client, "previews").await;
            (condition(&status, "Ready")?["status"] == "True").then_some(())
        },
    )
    .await;

    repo.git(&["checkout", "-q", "-b", "preview/feature-1234"]);
    repo.git(&["checkout", "-q", "main"]);
    let namespace = "preview-feature-1234";
    eventually(
        "the environment",
        Duration::from_secs(10),
        Some(&controller),
        || async { color(&env.client, namespace, "web").await },
    )
    .await;
    assert_eq!(
        color(&env.client, namespace, "web").await.as_deref(),
        Some("preview/feature-1234")
    );
    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    assert!(namespaces.get_opt(namespace).await.expect("get").is_some());
    let environments = eventually(
        "the status",
        Duration::from_secs(5),
        Some(&controller),
        || async {
            let status = sync_status(&env.client, "previews").await;
            let environments = status["environments"].as_array()?.clone();
            (environments.len() == 1 && environments[0]["ready"] == "True").then_some(environments)
        },
    )
    .await;
    assert_eq!(environments[0]["branch"], "preview/feature-1234");
    assert_eq!(environments[0]["namespace"], namespace);
    assert!(!events(&env.client, "EnvironmentCreated").await.is_empty());
    // Other branches are not environments.
    assert_eq!(color(&env.client, "main", "web").await, None);

    // The branch goes while no controller runs: the next one still prunes its environment.
    assert_eq!(controller.stop("-TERM"), Some(0));
    repo.git(&["branch", "-q", "-D", "preview/feature-1234"]);
    let controller = Controller::start(&env, "preview-again", &[]);
    eventually(
        "the environment to go",
        Duration::from_secs(10),
        Some(&controller),
        || async {
            namespaces
                .get_opt(namespace)
                .await
                .ok()?
                .is_none()
                .then_some(())
        },
    )
    .await;
    assert_eq!(color(&env.client, namespace, "web").await, None);
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), "default");
    let inventories: Vec<String> = secrets
        .list(&Default::default())
        .await
        .expect("secrets")
        .items
        .iter()
        .map(ResourceExt::name_any)
        .filter(|n| n.contains("feature-1234"))
        .collect();
    assert!(inventories.is_empty(), "{inventories:?}");
    eventually(
        "the status to drop it",
        Duration::from_secs(5),
        Some(&controller),
        || async {
            let status = sync_status(&env.client, "previews").await;
            status["environments"]
                .as_array()
                .is_none_or(Vec::is_empty)
                .then_some(())
        },
    )
    .await;
    assert!(!events(&env.client, "EnvironmentDeleted").await.is_empty());

    // Deleting the preview Sync deletes every environment it has.
    repo.git(&["branch", "-q", "preview/feature-5678"]);
    let namespace = "preview-feature-5678";
    eventually(
        "the second environment",
        Duration::from_secs(10),
        Some(&controller),
        || async { color(&env.client, namespace, "web").await },
    )
    .await;
    let syncs: Api<Sync> = Api::namespaced(env.client.clone(), "default");
    delete_and_wait(&syncs, "previews", &controller).await;
    assert!(namespaces.get_opt(namespace).await.expect("get").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_sync_is_retried_with_backoff_and_reported_not_ready() {
    let env = cluster().await;
    let broken = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n data: [\n";
    let (mut repo, _daemon, _) = served(&env, &[("deploy/web.yaml", broken)], "1s").await;
    sync(
        &env.client,
        "web",
        json!({"sourceRef": {"name": "app"}, "path": "deploy"}),
    )
    .await;
    let controller = Controller::start(&env, "failing", &[]);

    let status = eventually(
        "Ready=False",
        Duration::from_secs(10),
        Some(&controller),
        || async {
            let status = sync_status(&env.client, "web").await;
            (condition(&status, "Ready")?["status"] == "False"
                && condition(&status, "Ready")?["reason"] == "BuildFailed")
                .then_some(status)
        },
    )
    .await;
    let message = condition(&status, "Ready").expect("Ready")["message"]
        .as_str()
        .expect("message")
        .to_owned();
    assert!(message.contains("web.yaml"), "{message}");
    assert_eq!(
        condition(&status, "Reconciling").expect("Reconciling")["reason"],
        "ProgressingWithRetry"
    );
    assert!(status["lastAppliedRevision"].is_null(), "{status:#}");

    // Attempts 1 to 4 wait 0.2 s, 0.4 s, 0.8 s, 1.6 s: each failure doubles the wait.
    let waits = eventually(
        "four attempts",
        Duration::from_secs(10),
        Some(&controller),
        || async {
            let mut failures: Vec<(u32, String)> = events(&env.client, "BuildFailed")
                .await
                .iter()
                .filter_map(|e| {
                    let message = e.message.as_deref()?;
                    let (_, tail) = message.rsplit_once("(attempt ")?;
                    let (attempt, wait) =
                        tail.trim_end_matches(')').split_once("; retrying in ")?;
                    Some((attempt.parse().ok()?, wait.to_owned()))
                })
                .collect();
            failures.sort();
            (failures.len() >= 4).then_some(failures)
        },
    )
    .await;
    assert_eq!(
        waits[..4],
        [
            (1, "0.2s".to_owned()),
            (2, "0.4s".to_owned()),
            (3, "0.8s".to_owned()),
            (4, "1.6s".to_owned())
        ]
    );
    assert!(
        events(&env.client, "BuildFailed")
            .await
            .iter()
            .all(|e| e.type_.as_deref() == Some("Warning"))
    );
    assert!(
        controller
            .metric("converge_reconcile_total{kind=\"Sync\",result=\"failure\"}")
            .await
            >= Some(4.0)
    );

    // A fixed commit recovers.
    repo.write("deploy/web.yaml", &config_map("web", "blue"));
    let fixed = repo.commit("fixed");
    ready_at(&env.client, "web", &fixed, &controller).await;
    assert_eq!(
        color(&env.client, "default", "web").await.as_deref(),
        Some("blue")
    );

    // A spec that cannot work stalls, without retries, until it is changed.
    sync(
        &env.client,
        "stalled",
        json!({"sourceRef": {"name": "app"}, "path": "deploy", "interval": "often"}),
    )
    .await;
    let status = eventually(
        "Stalled",
        Duration::from_secs(10),
        Some(&controller),
        || async {
            let status = sync_status(&env.client, "stalled").await;
            (condition(&status, "Stalled")?["status"] == "True").then_some(status)
        },
    )
    .await;
    let ready = condition(&status, "Ready").expect("Ready");
    assert_eq!(
        (&ready["status"], &ready["reason"]),
        (&json!("False"), &json!("InvalidSpec"))
    );
    assert!(
        ready["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"often\"")),
        "{ready}"
    );
    assert_eq!(events(&env.client, "InvalidSpec").await.len(), 1);
    Api::<Sync>::namespaced(env.client.clone(), "default")
        .patch(
            "stalled",
            &Default::default(),
            &kube::api::Patch::Merge(json!({"spec": {"interval": "1m"}})),
        )
        .await
        .expect("fixed spec");
    ready_at(&env.client, "stalled", &fixed, &controller).await;
    let status = sync_status(&env.client, "stalled").await;
    assert!(condition(&status, "Stalled").is_none(), "{status:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depends_on_holds_a_sync_back_until_its_dependency_is_ready() {
    let env = cluster().await;
    let broken = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: [\n";
    let web = config_map("web", "blue").replace("name: web", "name: web\n  namespace: shop");
    let (mut repo, _daemon, _) = served(
        &env,
        &[("infra/ns.yaml", broken), ("app/web.yaml", &web)],
        "1s",
    )
    .await;
    sync(
        &env.client,
        "infra",
        json!({"sourceRef": {"name": "app"}, "path": "infra"}),
    )
    .await;
    sync(
        &env.client,
        "app",
        json!({"sourceRef": {"name": "app"}, "path": "app", "dependsOn": [{"name": "infra"}]}),
    )
    .await;
    let controller = Controller::start(&env, "depends", &[]);
    let status = eventually(
        "app to wait",
        Duration::from_secs(10),
        Some(&controller),
        || async {
            let status = sync_status(&env.client, "app").await;
            (condition(&status, "Ready")?["reason"] == "DependencyNotReady").then_some(status)
        },
    )
    .await;
    assert_eq!(
        condition(&status, "Ready").expect("Ready")["status"],
        "False"
    );
    assert!(
        condition(&status, "Ready").expect("Ready")["message"]
            .as_str()
            .is_some_and(|m| m.contains("default/infra"))
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(color(&env.client, "shop", "web").await, None);
    assert!(status["lastAttemptedRevision"].is_null(), "{status:#}");

    repo.write(
        "infra/ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
    );
    let fixed = repo.commit("infra fixed");
    ready_at(&env.client, "infra", &fixed, &controller).await;
    ready_at(&env.client, "app", &fixed, &controller).await;
    assert_eq!(
        color(&env.client, "shop", "web").await.as_deref(),
        Some("blue")
    );

    // A circle of dependencies is named, not waited on in silence.
    for (name, other) in [("chicken", "egg"), ("egg", "chicken")] {
        sync(
            &env.client,
            name,
            json!({"sourceRef": {"name": "app"}, "path": "app", "dependsOn": [{"name": other}]}),
        )
        .await;
    }
    let status = eventually(
        "the circle",
        Duration::from_secs(10),
        Some(&controller),
        || async {
            let status = sync_status(&env.client, "chicken").await;
            (condition(&status, "Ready")?["reason"] == "DependencyCycle").then_some(status)
        },
    )
    .await;
    assert_eq!(
        condition(&status, "Ready").expect("Ready")["message"],
        "dependsOn goes round in a circle: default/chicken → default/egg → default/chicken"
    );
}

/// The Lease's holder.
async fn holder(client: &kube::Client) -> Option<String> {
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(client.clone(), "default");
    leases
        .get_opt("converge-controller")
        .await
        .ok()??
        .spec?
        .holder_identity
        .filter(|h| !h.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_leads_and_another_takes_over_within_the_lease() {
    let env = cluster().await;
    let (mut repo, _daemon, first) = served(
        &env,
        &[("deploy/web.yaml", &config_map("web", "blue"))],
        "1s",
    )
    .await;
    sync(
        &env.client,
        "web",
        json!({"sourceRef": {"name": "app"}, "path": "deploy"}),
    )
    .await;
    let elect = |identity: &'static str| {
        Controller::start(
            &env,
            identity,
            &[
                "--leader-elect",
                "--lease-duration",
                "2s",
                "--identity",
                identity,
            ],
        )
    };
    let mut replicas = [elect("a"), elect("b")];
    let leader = eventually("a leader", Duration::from_secs(10), None, || async {
        holder(&env.client).await
    })
    .await;
    let (lead, other) = if leader == "a" { (0, 1) } else { (1, 0) };
    ready_at(&env.client, "web", &first, &replicas[lead]).await;
    // Exactly one acts.
    assert_eq!(replicas[lead].metric("converge_leader").await, Some(1.0));
    assert_eq!(replicas[other].metric("converge_leader").await, Some(0.0));
    assert_eq!(
        replicas[other]
            .metric("converge_reconcile_total{kind=\"Sync\",result=\"success\"}")
            .await,
        None,
        "the follower reconciled"
    );

    // The leader dies without letting go: the other takes over once the lease (2 s) runs
    // out, and carries on.
    let killed = Instant::now();
    replicas[lead].stop("-KILL");
    repo.write("deploy/web.yaml", &config_map("web", "green"));
    let second = repo.commit("green");
    let follower = &replicas[other];
    eventually(
        "the takeover",
        Duration::from_secs(6),
        Some(follower),
        || async { (follower.metric("converge_leader").await? == 1.0).then_some(()) },
    )
    .await;
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(4), "taken over after {took:?}");
    assert_eq!(
        holder(&env.client).await.as_deref(),
        Some(if other == 0 { "a" } else { "b" })
    );
    ready_at(&env.client, "web", &second, follower).await;

    // Stopped cleanly, the leader lets go at once.
    assert_eq!(replicas[other].stop("-TERM"), Some(0));
    assert_eq!(holder(&env.client).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_command_syncs_the_demo_into_the_embedded_cluster() {
    // The command runs in a clone of this repository; a copy of the files it reads, committed
    // in a repository of its own, stands for one whatever the checkout the tests run in.
    let mut checkout = GitFixture::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pending = vec![PathBuf::from("examples/demo")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(root.join(&dir)).expect("demo") {
            let entry = entry.expect("entry");
            let relative = dir.join(entry.file_name());
            if entry.file_type().expect("type").is_dir() {
                pending.push(relative);
            } else {
                let text = std::fs::read_to_string(entry.path()).expect("text");
                checkout.write(relative.to_str().expect("utf-8"), &text);
            }
        }
    }
    let resources = std::fs::read_to_string(root.join("examples/controller.yaml")).expect("yaml");
    checkout.write("examples/controller.yaml", &resources);
    checkout.commit("the demo");
    let dir = tempfile::tempdir().expect("tempdir");
    let address = format!("127.0.0.1:{}", free_port());
    let log = dir.path().join("controller.log");
    let child = Command::new(example_bin("controller"))
        .args([
            "--file",
            "examples/controller.yaml",
            "--listen",
            &address,
            "--state",
        ])
        .arg(dir.path().join("state"))
        .arg("--cache")
        .arg(dir.path().join("cache"))
        .args(["--log-format", "json"])
        .current_dir(checkout.path())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("controller");
    let controller = Controller {
        child: Some(child),
        address,
        log,
    };
    let status = eventually(
        "the demo to be ready",
        Duration::from_secs(30),
        Some(&controller),
        || async {
            let (code, body) = controller.get("/status").await?;
            let status: Value = serde_json::from_str(&body).ok()?;
            (code == 200 && condition(&status["Sync/default/demo"], "Ready")?["status"] == "True")
                .then_some(status)
        },
    )
    .await;
    assert!(
        status["Sync/default/demo"]["inventory"]["objects"].as_u64() > Some(3),
        "{status:#}"
    );
    // JSON logs: one object per line.
    let log = controller.log();
    assert!(
        log.lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "{log}"
    );
    assert!(
        log.contains("\"reason\":\"ReconciliationSucceeded\""),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spec_shapes_what_is_applied_and_a_shard_sees_only_its_own() {
    let env = cluster().await;
    namespace(&env.client, "shop").await;
    let mut repo = GitFixture::new();
    let web = deployment("web", "${IMAGE}").replace(
        "name: web\nspec:",
        "name: web\n  namespace: elsewhere\nspec:\n  replicas: 2",
    );
    repo.write("deploy/web.yaml", &web);
    repo.write("deploy/settings.yaml", &config_map("settings", "blue"));
    let first = repo.commit("web");
    let daemon = GitDaemon::serve(&repo);
    let shard = json!({"converge.dev/shard": "blue"});
    create::<GitSource>(
        &env.client,
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "GitSource",
            "metadata": {"name": "app", "namespace": "default", "labels": shard},
            "spec": {"url": daemon.url(), "ref": {"branch": "main"}, "interval": "1s"}}),
    )
    .await;
    create::<Sync>(
        &env.client,
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Sync",
            "metadata": {"name": "web", "namespace": "default", "labels": shard},
            "spec": {"sourceRef": {"name": "app"}, "path": "deploy", "targetNamespace": "shop",
                "substitute": {"IMAGE": "nginx:1.27"}, "serviceAccountName": "deployer",
                "ignore": [{"kind": "Deployment", "paths": ["/spec/replicas"]}]}}),
    )
    .await;
    // Another shard's Sync of the same source.
    sync(
        &env.client,
        "other",
        json!({"sourceRef": {"name": "app"}, "path": "deploy"}),
    )
    .await;
    // A Sync of this shard that reaches into another namespace.
    create::<Sync>(
        &env.client,
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Sync",
            "metadata": {"name": "reaching", "namespace": "default", "labels": shard},
            "spec": {"sourceRef": {"name": "app", "namespace": "tenant-b"}, "path": "deploy"}}),
    )
    .await;
    let controller = Controller::start(
        &env,
        "shard",
        &[
            "--watch-label-selector",
            "converge.dev/shard=blue",
            "--no-cross-namespace-refs",
        ],
    );
    ready_at(&env.client, "web", &first, &controller).await;

    // targetNamespace moves everything namespaced; variables are substituted; the ignored
    // field is left to the cluster (the default, 1) and to whoever sets it.
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(env.client.clone(), "shop");
    let web = deployments.get("web").await.expect("web in shop");
    let spec = web.spec.expect("spec");
    assert_eq!(spec.replicas, Some(1));
    let image = spec.template.spec.expect("pod").containers[0].image.clone();
    assert_eq!(image.as_deref(), Some("nginx:1.27"));
    assert_eq!(
        color(&env.client, "shop", "settings").await.as_deref(),
        Some("blue")
    );
    assert_eq!(color(&env.client, "default", "settings").await, None);
    // Written as the Sync's service account.
    assert!(
        env._server
            .requests()
            .iter()
            .any(|r| r.resource == "deployments"
                && r.impersonate.as_deref() == Some("system:serviceaccount:default:deployer")),
        "no request as the service account"
    );
    // Scaled by someone else, and a reconcile later still theirs.
    deployments
        .patch(
            "web",
            &kube::api::PatchParams::apply("hpa").force(),
            &kube::api::Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "shop"}, "spec": {"replicas": 5}})),
        )
        .await
        .expect("scaled");

    // Suspended: new commits wait.
    let syncs: Api<Sync> = Api::namespaced(env.client.clone(), "default");
    syncs
        .patch(
            "web",
            &Default::default(),
            &kube::api::Patch::Merge(json!({"spec": {"suspend": true}})),
        )
        .await
        .expect("suspend");
    repo.write("deploy/settings.yaml", &config_map("settings", "green"));
    let second = repo.commit("green");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        color(&env.client, "shop", "settings").await.as_deref(),
        Some("blue")
    );
    syncs
        .patch(
            "web",
            &Default::default(),
            &kube::api::Patch::Merge(json!({"spec": {"suspend": false}})),
        )
        .await
        .expect("resume");
    ready_at(&env.client, "web", &second, &controller).await;
    assert_eq!(
        color(&env.client, "shop", "settings").await.as_deref(),
        Some("green")
    );
    let web = deployments.get("web").await.expect("web");
    assert_eq!(web.spec.and_then(|s| s.replicas), Some(5));

    // The other shard's Sync was never touched.
    let other = sync_status(&env.client, "other").await;
    assert!(other.is_null(), "{other:#}");
    // Cross-namespace references are refused when asked.
    let reaching = sync_status(&env.client, "reaching").await;
    let stalled = condition(&reaching, "Stalled").expect("Stalled");
    assert_eq!(stalled["reason"], "CrossNamespaceRefDenied", "{reaching:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_concurrency_reconciles_run_at_once() {
    let env = cluster_ready_after(Duration::from_millis(700)).await;
    let files =
        ["a", "b", "c"].map(|name| (format!("{name}/deploy.yaml"), deployment(name, "nginx")));
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let (_repo, _daemon, commit) = served(&env, &files, "1m").await;
    for name in ["a", "b", "c"] {
        sync(
            &env.client,
            name,
            json!({"sourceRef": {"name": "app"}, "path": name, "wait": true, "timeout": "1m"}),
        )
        .await;
    }
    let controller = Controller::start(&env, "one-at-a-time", &["--concurrency", "1"]);
    let (mut most_running, mut most_queued) = (0.0f64, 0.0f64);
    let start = Instant::now();
    loop {
        if let (Some(running), Some(queued)) = (
            controller.metric("converge_reconciles_running").await,
            controller.metric("converge_queue_depth").await,
        ) {
            most_running = most_running.max(running);
            most_queued = most_queued.max(queued);
        }
        let mut ready = 0;
        for name in ["a", "b", "c"] {
            let status = sync_status(&env.client, name).await;
            if status["lastAppliedRevision"] == format!("main@sha1:{commit}") {
                ready += 1;
            }
        }
        if ready == 3 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{}",
            controller.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(most_running, 1.0);
    assert!(most_queued >= 1.0, "nothing ever waited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_finishes_the_work_in_hand_or_abandons_it_after_the_timeout() {
    // Workloads are ready 3 s after each change: a sync that waits takes that long.
    let env = cluster_ready_after(Duration::from_secs(3)).await;
    let (mut repo, _daemon, first) = served(
        &env,
        &[("deploy/web.yaml", &deployment("web", "nginx:1.26"))],
        "1s",
    )
    .await;
    sync(
        &env.client,
        "web",
        json!({"sourceRef": {"name": "app"}, "path": "deploy", "wait": true, "timeout": "1m"}),
    )
    .await;
    let reconciling = |revision: String| {
        let client = env.client.clone();
        move || {
            let (client, revision) = (client.clone(), revision.clone());
            async move {
                let status = sync_status(&client, "web").await;
                let message = condition(&status, "Reconciling")?["message"]
                    .as_str()?
                    .to_owned();
                message.ends_with(&revision).then_some(())
            }
        }
    };

    // A short shutdown timeout: the sync in hand is abandoned, and the process ends at once.
    let mut hasty = Controller::start(&env, "hasty", &["--shutdown-timeout", "200ms"]);
    eventually(
        "the first sync",
        Duration::from_secs(10),
        Some(&hasty),
        reconciling(first.clone()),
    )
    .await;
    let stopped = Instant::now();
    assert_eq!(hasty.stop("-TERM"), Some(0), "{}", hasty.log());
    assert!(
        stopped.elapsed() < Duration::from_secs(2),
        "{:?}",
        stopped.elapsed()
    );
    assert!(
        hasty.log().contains("abandoning the work in hand"),
        "{}",
        hasty.log()
    );
    let status = sync_status(&env.client, "web").await;
    assert!(status["lastAppliedRevision"].is_null(), "{status:#}");

    // A long one: the sync in hand finishes, and its status is written, before the end.
    repo.write("deploy/web.yaml", &deployment("web", "nginx:1.27"));
    let second = repo.commit("1.27");
    let mut patient = Controller::start(&env, "patient", &["--shutdown-timeout", "30s"]);
    eventually(
        "the second sync",
        Duration::from_secs(10),
        Some(&patient),
        reconciling(second.clone()),
    )
    .await;
    assert_eq!(patient.stop("-TERM"), Some(0), "{}", patient.log());
    let status = sync_status(&env.client, "web").await;
    assert_eq!(
        status["lastAppliedRevision"],
        format!("main@sha1:{second}"),
        "{}",
        patient.log()
    );
    assert_eq!(
        condition(&status, "Ready").expect("Ready")["status"],
        "True"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_that_cannot_prune_lets_go_when_deleted() {
    let env = cluster().await;
    let namespaces = namespace(&env.client, "team").await;
    let (_repo, _daemon, first) = served(
        &env,
        &[
            ("deploy/web.yaml", &config_map("web", "blue")),
            ("ghost/web.yaml", &config_map("haunted", "grey")),
        ],
        "1s",
    )
    .await;
    // Acting as a service account that is gone by the time the Sync is deleted: nothing can
    // be pruned as it, and the Sync goes, leaving its objects, as Flux does.
    sync(
        &env.client,
        "ghostly",
        json!({"sourceRef": {"name": "app"}, "path": "ghost", "prune": true,
            "serviceAccountName": "ghost"}),
    )
    .await;
    // The source is in default; the Sync, its objects and its inventory in team.
    create_in::<Sync>(
        &env.client,
        "team",
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Sync",
            "metadata": {"name": "web", "namespace": "team"},
            "spec": {"sourceRef": {"name": "app", "namespace": "default"}, "path": "deploy", "prune": true}}),
    )
    .await;
    let controller = Controller::start(&env, "team", &[]);
    let syncs: Api<Sync> = Api::namespaced(env.client.clone(), "team");
    eventually(
        "the sync",
        Duration::from_secs(10),
        Some(&controller),
        || async {
            let status = serde_json::to_value(syncs.get("web").await.ok()?.status).ok()?;
            (status["lastAppliedRevision"] == format!("main@sha1:{first}")).then_some(())
        },
    )
    .await;
    assert_eq!(
        color(&env.client, "team", "web").await.as_deref(),
        Some("blue")
    );
    ready_at(&env.client, "ghostly", &first, &controller).await;
    let default_syncs: Api<Sync> = Api::namespaced(env.client.clone(), "default");
    delete_and_wait(&default_syncs, "ghostly", &controller).await;
    assert_eq!(
        color(&env.client, "default", "haunted").await.as_deref(),
        Some("grey")
    );

    // Its namespace deleted: the Sync goes with it.
    delete_and_wait(&namespaces, "team", &controller).await;
    assert!(
        !controller.log().contains("PruneFailed"),
        "{}",
        controller.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_tag_is_verified_and_applied() {
    let env = cluster().await;
    let key = converge_source::testing::SshKey::generate(None);
    let mut repo = GitFixture::new();
    repo.write("deploy/web.yaml", &config_map("web", "blue"));
    repo.commit_signed("blue", &key.git_config());
    repo.tag_annotated("v1.0.0", &key.git_config());
    let daemon = GitDaemon::serve(&repo);
    create::<Secret>(
        &env.client,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "release-keys", "namespace": "default"},
            "stringData": {"release.pub": key.public_key}}),
    )
    .await;
    create::<GitSource>(
        &env.client,
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "GitSource",
            "metadata": {"name": "app", "namespace": "default"},
            "spec": {"url": daemon.url(), "ref": {"semver": "^1"}, "interval": "1s",
                "verify": {"mode": "TagAndHEAD", "secretRef": {"name": "release-keys"}}}}),
    )
    .await;
    sync(
        &env.client,
        "web",
        json!({"sourceRef": {"name": "app"}, "path": "deploy"}),
    )
    .await;
    let controller = Controller::start(&env, "signed", &[]);
    let status = eventually(
        "the tag applied",
        Duration::from_secs(15),
        Some(&controller),
        || async {
            let status = sync_status(&env.client, "web").await;
            (condition(&status, "Ready")?["status"] == "True").then_some(status)
        },
    )
    .await;
    assert!(
        status["lastAppliedRevision"]
            .as_str()
            .is_some_and(|r| r.starts_with("v1.0.0@sha1:")),
        "{status:#}"
    );
    assert_eq!(
        color(&env.client, "default", "web").await.as_deref(),
        Some("blue")
    );

    // An unsigned tag is refused by the source, and the applied revision stays.
    repo.write("deploy/web.yaml", &config_map("web", "green"));
    repo.commit("green");
    repo.tag_annotated("v1.1.0", &[]);
    eventually(
        "the refusal",
        Duration::from_secs(15),
        Some(&controller),
        || async {
            let source = Api::<GitSource>::namespaced(env.client.clone(), "default")
                .get("app")
                .await
                .ok()?;
            let status = serde_json::to_value(source.status?).ok()?;
            (condition(&status, "Ready")?["reason"] == "GitOperationFailed").then_some(())
        },
    )
    .await;
    assert_eq!(
        color(&env.client, "default", "web").await.as_deref(),
        Some("blue")
    );
}
