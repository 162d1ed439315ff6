//! converge-testcluster as its clients see it: `kube::Client` over HTTP on 127.0.0.1, one
//! request at a time, against clusters with the stand-in controller off
//! ([`Builder::ready_after`]`(None)`), client and server on one current-thread tokio runtime
//! (as under `#[tokio::test]`).
//!
//! Three clusters are started before anything is measured, the first two loaded by creating
//! their objects 50 requests at a time:
//!
//! - 10,000 ConfigMaps (five data keys, two labels) in namespace `bench`, for `get` and `list`;
//! - 10,000 Deployments (as in `apply`) in namespace `workloads`, for their memory only;
//! - an empty one for `create` and `apply`, so that what they write stays out of the others.
//!
//! Under `cargo test --benches`, which only checks that everything runs, 200 objects of each.
//!
//! While each kind is loaded, the growth of the process's resident memory (`/proc/self/statm`,
//! pages of 4096 bytes) is divided by the number of objects and printed, as `testcluster: memory
//! per ConfigMap: N bytes (10000 objects; …)`, or skipped with a message where
//! `/proc/self/statm` cannot be read. The request log is filled to the 10,000 requests it keeps
//! beforehand, so it does not grow meanwhile; the watch history (the latest 10,000 writes, each
//! with a copy of its object) does, so up to 10,000 objects each count twice. Client and server
//! share the process: what the allocator keeps counts too.
//!
//! | group | benchmark | what one iteration does |
//! |---|---|---|
//! | `create` | `configmap` | create one new ConfigMap (the store grows) |
//! | `apply` | `deployment/update` | server-side apply (`Patch::Apply`, manager `converge`) of a Deployment with two containers, env, ports, resources and a probe, the first container's image changed |
//! | `apply` | `deployment/no-op` | the same apply of an unchanged Deployment (its `resourceVersion` stays) |
//! | `get` | `configmap/10000` | get one ConfigMap of the 10,000 in `bench` |
//! | `list` | `configmaps/10000` | list the 10,000 ConfigMaps of `bench` in one request, no limit |
//! | `list` | `configmaps-body/10000` | the same request, its body read as text and not decoded (`Client::request_text`): the server and the transport without the client's decoding |
//! | `list` | `configmaps-limit-500/10000` | the same list in pages of 500 (`limit` and `continue`: 20 requests) |
//!
//! After the criterion run, a table of the times per request and per object goes to stderr.
//! There is no kube-apiserver to compare with in the same run, so the numbers are absolute.
//!
//! ```text
//! cargo bench --bench testcluster           # measure, then the table (about 1 min on 2 cores)
//! cargo bench --bench testcluster -- list/  # one group (the clusters are still loaded)
//! cargo test --bench testcluster            # run every benchmark once, on 200 objects
//! ```
//!
//! [`Builder::ready_after`]: converge_testcluster::Builder::ready_after

#[path = "common/results.rs"]
mod results;

use std::fmt::Write as _;
use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, SystemTime};

use converge_testcluster::TestCluster;
use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::serde::Serialize;
use k8s_openapi::serde::de::DeserializeOwned;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, Config};
use results::{criterion, measured, time};
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

/// How many requests run at once while loading a cluster.
const BATCH: usize = 50;
/// The page size of the paged list.
const PAGE: u32 = 500;
/// How many requests the cluster's log keeps (filled before memory is read).
const LOG_KEPT: usize = 10_000;
/// The bytes of a memory page, as `/proc/self/statm` counts them (4096 on Linux).
const PAGE_BYTES: u64 = 4096;
/// The field manager of every apply.
const MANAGER: &str = "converge";
/// The namespace of the loaded ConfigMaps.
const CONFIG_MAPS: &str = "bench";
/// The namespace of the loaded Deployments.
const DEPLOYMENTS: &str = "workloads";

/// A small ConfigMap: five data keys and two labels.
fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "shop"},
        },
        "data": {
            "LOG_LEVEL": "info",
            "LISTEN": ":8080",
            "DATABASE_URL": "postgres://db.shop.svc:5432/shop",
            "CACHE_TTL": "300s",
            "FEATURES": "checkout,recommendations,search",
        },
    }))
    .expect("a ConfigMap")
}

/// A Deployment as an application ships it: two containers with env, ports, resources and a
/// probe, labels on the object and its pods; `tag` is the first container's image tag.
fn deployment_json(name: &str, tag: &str) -> Value {
    let labels = json!({"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": name});
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "labels": {
                "app.kubernetes.io/name": "web",
                "app.kubernetes.io/instance": name,
                "app.kubernetes.io/part-of": "shop",
                "app.kubernetes.io/managed-by": "converge",
            },
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9090"},
                },
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": format!("registry.example.com/shop/web:{tag}"),
                            "args": ["--listen=:8080", "--metrics=:9090"],
                            "ports": [
                                {"name": "http", "containerPort": 8080},
                                {"name": "metrics", "containerPort": 9090},
                            ],
                            "env": [
                                {"name": "LOG_LEVEL", "value": "info"},
                                {"name": "DATABASE_URL", "value": "postgres://db.shop.svc:5432/shop"},
                                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                            ],
                            "resources": {
                                "requests": {"cpu": "250m", "memory": "256Mi"},
                                "limits": {"cpu": "1", "memory": "512Mi"},
                            },
                            "readinessProbe": {
                                "httpGet": {"path": "/healthz", "port": "http"},
                                "periodSeconds": 10,
                            },
                        },
                        {
                            "name": "proxy",
                            "image": "registry.example.com/shop/proxy:1.4.2",
                            "ports": [{"name": "admin", "containerPort": 15000}],
                            "env": [{"name": "UPSTREAM", "value": "127.0.0.1:8080"}],
                            "resources": {
                                "requests": {"cpu": "50m", "memory": "64Mi"},
                                "limits": {"memory": "128Mi"},
                            },
                        },
                    ],
                },
            },
        },
    })
}

fn deployment(name: &str, tag: &str) -> Deployment {
    serde_json::from_value(deployment_json(name, tag)).expect("a Deployment")
}

async fn start() -> (TestCluster, Client) {
    let cluster = TestCluster::builder()
        .ready_after(None)
        .start()
        .await
        .expect("start a test cluster");
    let url = cluster.url().parse().expect("the cluster's URL");
    let client = Client::try_from(Config::new(url)).expect("a kube client");
    (cluster, client)
}

async fn create_namespace(client: &Client, name: &str) {
    let namespace: Namespace =
        serde_json::from_value(json!({"metadata": {"name": name}})).expect("a Namespace");
    Api::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("create a namespace");
}

/// Runs `request(0..count)`, [`BATCH`] at a time.
async fn in_batches<F>(count: usize, request: impl Fn(usize) -> F)
where
    F: Future<Output = ()> + Send + 'static,
{
    for start in (0..count).step_by(BATCH) {
        let mut batch = JoinSet::new();
        for i in start..(start + BATCH).min(count) {
            batch.spawn(request(i));
        }
        while let Some(done) = batch.join_next().await {
            done.expect("a request task");
        }
    }
}

/// Creates `count` objects made by `make` through `api`, [`BATCH`] at a time.
async fn create_all<K>(api: &Api<K>, count: usize, make: impl Fn(usize) -> K)
where
    K: kube::Resource + Clone + std::fmt::Debug + Serialize + DeserializeOwned,
    K: Send + Sync + 'static,
{
    in_batches(count, |i| {
        let (api, object) = (api.clone(), make(i));
        async move {
            api.create(&PostParams::default(), &object)
                .await
                .expect("create");
        }
    })
    .await;
}

/// The resident memory of this process, in bytes.
fn resident_bytes() -> std::io::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages = statm
        .split_whitespace()
        .nth(1)
        .and_then(|pages| pages.parse::<u64>().ok())
        .ok_or_else(|| std::io::Error::other(format!("unexpected contents: {statm:?}")))?;
    Ok(pages * PAGE_BYTES)
}

fn config_map_name(i: usize) -> String {
    format!("config-{i:05}")
}

/// A cluster of its own holding `count` objects made by `make` in `namespace`.
struct Loaded {
    cluster: TestCluster,
    client: Client,
    /// The growth of resident memory per object while they were created, in bytes.
    memory: Option<i64>,
}

/// Starts a cluster and creates `count` objects made by `make` in `namespace`, [`BATCH`] at a
/// time; with `memory`, reads the growth of resident memory per object, after filling the
/// request log (which keeps the latest [`LOG_KEPT`] requests) so that it does not grow
/// meanwhile, and prints it.
fn load<K>(
    runtime: &Runtime,
    namespace: &str,
    count: usize,
    memory: bool,
    make: impl Fn(usize) -> K,
) -> Loaded
where
    K: kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + Serialize
        + DeserializeOwned,
    K: Send + Sync + 'static,
{
    runtime.block_on(async {
        let (cluster, client) = start().await;
        create_namespace(&client, namespace).await;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        in_batches(LOG_KEPT, |_| {
            let namespaces = namespaces.clone();
            async move {
                namespaces.get("default").await.expect("get a namespace");
            }
        })
        .await;

        let before = if memory { resident_bytes().ok() } else { None };
        let api: Api<K> = Api::namespaced(client.clone(), namespace);
        create_all(&api, count, &make).await;
        let mut memory = None;
        if let Some(before) = before {
            let after = resident_bytes().expect("/proc/self/statm was readable");
            let per_object = (after as i64 - before as i64) / count as i64;
            let first = make(0);
            let name = first.meta().name.as_deref().expect("a name");
            let served = api.get(name).await.expect("get");
            eprintln!(
                "testcluster: memory per {}: {per_object} bytes ({count} objects; {} bytes of JSON each as served)",
                K::kind(&()),
                json_size(&served),
            );
            memory = Some(per_object);
        }
        Loaded {
            cluster,
            client,
            memory,
        }
    })
}

/// The bytes of `object` as compact JSON.
fn json_size(object: &impl Serialize) -> usize {
    serde_json::to_vec(object)
        .expect("an object is always JSON")
        .len()
}

/// Checks, once, that the loaded cluster lists as intended: every object in one request, and
/// in `count / PAGE` pages.
fn check_lists(runtime: &Runtime, loaded: &Loaded, count: usize) {
    let (cluster, api) = (&loaded.cluster, &config_maps(loaded));
    runtime.block_on(async {
        let all = api.list(&ListParams::default()).await.expect("list");
        assert_eq!(all.items.len(), count);
        assert!(all.metadata.continue_.is_none());
        let before = cluster.count("list", "configmaps");
        assert_eq!(list_pages(api).await, count);
        let pages = cluster.count("list", "configmaps") - before;
        assert_eq!(pages, count.div_ceil(PAGE as usize) as u64);
        let body = loaded
            .client
            .request_text(
                config_map_requests()
                    .list(&ListParams::default())
                    .expect("a list request"),
            )
            .await
            .expect("list");
        eprintln!(
            "testcluster: a list of {count} ConfigMaps is {:.1} MB of JSON",
            body.len() as f64 / 1e6
        );
    });
}

/// The requests on the ConfigMaps of [`CONFIG_MAPS`], for `Client::request_text`.
fn config_map_requests() -> kube::core::Request {
    kube::core::Request::new(format!("/api/v1/namespaces/{CONFIG_MAPS}/configmaps"))
}

/// The ConfigMaps of the loaded ConfigMap cluster.
fn config_maps(loaded: &Loaded) -> Api<ConfigMap> {
    Api::namespaced(loaded.client.clone(), CONFIG_MAPS)
}

/// Lists every ConfigMap of `api` in pages of [`PAGE`]; how many there were.
async fn list_pages(api: &Api<ConfigMap>) -> usize {
    let mut params = ListParams::default().limit(PAGE);
    let mut items = 0;
    loop {
        let page = api.list(&params).await.expect("list a page");
        items += black_box(page.items).len();
        match page.metadata.continue_.filter(|token| !token.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return items,
        }
    }
}

/// `create` and `apply`, in namespaces `created` and `applied` of the cluster of `client`.
fn bench_writes(c: &mut Criterion, runtime: &Runtime, client: &Client) {
    runtime.block_on(async {
        create_namespace(client, "created").await;
        create_namespace(client, "applied").await;
    });
    let mut group = c.benchmark_group("create");
    group.throughput(Throughput::Elements(1));
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "created");
    let mut next = 0_usize;
    group.bench_function("configmap", |b| {
        b.iter_batched(
            || {
                next += 1;
                config_map(&config_map_name(next))
            },
            |object| {
                black_box(
                    runtime
                        .block_on(config_maps.create(&PostParams::default(), &object))
                        .expect("create"),
                )
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "applied");
    let apply = PatchParams::apply(MANAGER);
    let applied = |body: &Value| {
        runtime
            .block_on(deployments.patch("web", &apply, &Patch::Apply(body)))
            .expect("apply")
    };
    applied(&deployment_json("web", "1.0.0"));
    let mut group = c.benchmark_group("apply");
    group.throughput(Throughput::Elements(1));
    let mut tag = 0_usize;
    group.bench_function("deployment/update", |b| {
        b.iter_batched(
            || {
                tag += 1;
                deployment_json("web", &format!("1.0.{tag}"))
            },
            |body| black_box(applied(&body)),
            BatchSize::SmallInput,
        )
    });
    let unchanged = deployment_json("web", "2.0.0");
    let version = applied(&unchanged).metadata.resource_version;
    assert_eq!(
        applied(&unchanged).metadata.resource_version,
        version,
        "a no-op apply keeps the resourceVersion"
    );
    group.bench_function("deployment/no-op", |b| {
        b.iter(|| black_box(applied(&unchanged)))
    });
    group.finish();
}

/// `get` and `list` on the loaded ConfigMap cluster.
fn bench_reads(c: &mut Criterion, runtime: &Runtime, loaded: &Loaded, count: usize) {
    let config_maps = config_maps(loaded);
    let name = config_map_name(count / 2);

    let mut group = c.benchmark_group("get");
    group.throughput(Throughput::Elements(1));
    group.bench_with_input(BenchmarkId::new("configmap", count), &name, |b, name| {
        b.iter(|| black_box(runtime.block_on(config_maps.get(name)).expect("get")))
    });
    group.finish();

    let mut group = c.benchmark_group("list");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function(BenchmarkId::new("configmaps", count), |b| {
        b.iter(|| {
            black_box(
                runtime
                    .block_on(config_maps.list(&ListParams::default()))
                    .expect("list"),
            )
        })
    });
    let requests = config_map_requests();
    group.bench_function(BenchmarkId::new("configmaps-body", count), |b| {
        b.iter_batched(
            || {
                requests
                    .list(&ListParams::default())
                    .expect("a list request")
            },
            |request| {
                black_box(
                    runtime
                        .block_on(loaded.client.request_text(request))
                        .expect("list"),
                )
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function(
        BenchmarkId::new(format!("configmaps-limit-{PAGE}"), count),
        |b| b.iter(|| black_box(runtime.block_on(list_pages(&config_maps)))),
    );
    group.finish();
}

fn per_second(ns: Option<f64>, items: usize) -> String {
    match ns {
        Some(ns) if ns > 0.0 => {
            let rate = (items as f64 * 1e9 / ns).round() as u64;
            // Thousands separated by commas.
            let digits = rate.to_string();
            let mut out = String::new();
            for (i, digit) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i).is_multiple_of(3) {
                    out.push(',');
                }
                out.push(digit);
            }
            out
        }
        _ => "–".to_owned(),
    }
}

/// The table of times, as Markdown on stderr (ready for the crate README).
fn report(count: usize, memory: &[(&str, Option<i64>)], since: SystemTime) {
    // (group, function, measured on the loaded cluster, what one iteration does, objects).
    let rows = [
        ("create", "configmap", false, "create one ConfigMap", 1),
        (
            "apply",
            "deployment/update",
            false,
            "apply a Deployment, its image changed",
            1,
        ),
        (
            "apply",
            "deployment/no-op",
            false,
            "apply an unchanged Deployment",
            1,
        ),
        (
            "get",
            "configmap",
            true,
            "get one ConfigMap of the namespace",
            1,
        ),
        (
            "list",
            "configmaps",
            true,
            "list every ConfigMap of the namespace",
            count,
        ),
        (
            "list",
            "configmaps-body",
            true,
            "the same list, the body read but not decoded",
            count,
        ),
        (
            "list",
            "configmaps-limit-500",
            true,
            "the same list in pages of 500",
            count,
        ),
    ];
    let count_param = count.to_string();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## testcluster: kube::Client over HTTP, controller off, {count} ConfigMaps in the namespace read (goal: lists a kind of 10,000 in milliseconds)\n"
    );
    let _ = writeln!(
        out,
        "| benchmark | one iteration | time | per object | objects per second |"
    );
    let _ = writeln!(out, "|---|---|--:|--:|--:|");
    for (group, function, loaded, what, items) in rows {
        let param = loaded.then_some(count_param.as_str());
        let ns = measured(group, function, param, since);
        let name = match param {
            Some(param) => format!("{group}/{function}/{param}"),
            None => format!("{group}/{function}"),
        };
        let _ = writeln!(
            out,
            "| `{name}` | {what} | {} | {} | {} |",
            time(ns),
            time(ns.map(|ns| ns / items as f64)),
            per_second(ns, items),
        );
    }
    let _ = writeln!(
        out,
        "\n| kind | resident memory per object ({count} objects) |\n|---|--:|"
    );
    for (kind, bytes) in memory {
        let bytes = bytes.map_or("–".to_owned(), |b| format!("{b} bytes"));
        let _ = writeln!(out, "| {kind} | {bytes} |");
    }
    eprint!("{out}");
}

fn main() {
    let benchmarking = results::benchmarking();
    let started = SystemTime::now();
    // `cargo test --benches` runs each benchmark once in a debug build: a small cluster there.
    let count = if benchmarking { 10_000 } else { 200 };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    // Resident memory is read while the clusters are loaded, where it can be.
    let memory = match resident_bytes() {
        Ok(_) => true,
        Err(err) => {
            eprintln!(
                "testcluster: /proc/self/statm is unreadable ({err}); skipping memory per object."
            );
            false
        }
    };
    let loading = std::time::Instant::now();
    // One cluster per kind, so that each holds its own watch history (the latest 10,000 writes).
    let config_maps = load(&runtime, CONFIG_MAPS, count, memory, |i| {
        config_map(&config_map_name(i))
    });
    let deployments = load(&runtime, DEPLOYMENTS, count, memory, |i| {
        deployment(&format!("web-{i:05}"), "1.0.0")
    });
    check_lists(&runtime, &config_maps, count);
    eprintln!(
        "testcluster: loaded {count} ConfigMaps and {count} Deployments in {:.1} s",
        loading.elapsed().as_secs_f64()
    );
    // Every cluster lives to the end of `main`: one dropped earlier would be torn down by the
    // runtime during the next measurement (about a second for 30,000 objects).
    let (_writes, writes_client) = runtime.block_on(start());

    // Small samples keep a full run near a minute on two cores; command-line flags still win.
    let mut c = criterion(Duration::from_secs(3));
    bench_writes(&mut c, &runtime, &writes_client);
    bench_reads(&mut c, &runtime, &config_maps, count);
    c.final_summary();
    if benchmarking {
        let memory = [
            ("ConfigMap", config_maps.memory),
            ("Deployment", deployments.memory),
        ];
        report(count, &memory, started);
    }
}
