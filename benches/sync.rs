//! The sync engine of converge-apply against converge-testcluster over HTTP: the first sync of
//! a set of 1,000 objects into an empty cluster, and a re-sync with nothing changed — wall
//! time, and the API requests each makes (from the testcluster's request log).
//!
//! The set: 10 namespaces, and in each 60 ConfigMaps, 20 Services and 20 Deployments (1,010
//! objects), synced with server-side apply, pruning by an ApplySet inventory. The goal: a
//! re-sync with no change writes nothing and lists each kind once.
//!
//! The peer, in the same run: `kubectl apply --server-side` of the same set (one file) into a
//! fresh testcluster, then again — the kubectl oracle `scripts/install-oracles.sh` installs, or
//! `$CONVERGE_KUBECTL`; timed over three runs each, outside criterion.
//!
//! ```text
//! cargo bench --bench sync         # measure, then the table of requests and times
//! cargo test --bench sync          # run each benchmark once, on a set of 42 objects
//! ```

#[path = "common/results.rs"]
mod results;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use converge_apply::{Engine, Inventory, ServerSideApply, SyncOptions};
use converge_testcluster::TestCluster;
use criterion::{BatchSize, Criterion};
use results::{criterion, measured, time};
use serde_json::{Value, json};

/// A set of `namespaces` namespaces, each with 60 ConfigMaps, 20 Services, 20 Deployments
/// (scaled down by `per` for test runs).
fn set(namespaces: usize, per: usize) -> Vec<Value> {
    let mut objects = Vec::new();
    for n in 0..namespaces {
        let ns = format!("team-{n:02}");
        objects.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
        for i in 0..per * 3 {
            objects.push(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("settings-{i:03}"), "namespace": ns, "labels": {"app": "web"}},
                "data": {"LOG_LEVEL": "info", "REGION": "eu-west-1", "FEATURE_X": "on"}}));
        }
        for i in 0..per {
            let name = format!("web-{i:03}");
            objects.push(json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}));
            objects.push(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                        "spec": {"containers": [{"name": "web", "image": "registry.example.com/web:1.4.2",
                            "ports": [{"containerPort": 8080}],
                            "env": [{"name": "LOG_LEVEL", "value": "info"}],
                            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}}}}));
        }
    }
    objects
}

async fn start() -> (TestCluster, Engine) {
    let cluster = TestCluster::builder()
        .ready_after(None)
        .start()
        .await
        .expect("a cluster");
    let url = cluster.url().parse().expect("url");
    let client = kube::Client::try_from(kube::Config::new(url)).expect("client");
    let engine = Engine::new(client, ServerSideApply::new("converge"));
    (cluster, engine)
}

fn options() -> SyncOptions {
    SyncOptions::default().inventory(Inventory::new("default", "bench"), true)
}

/// The requests of one sync by verb, dry runs apart: (`patch` → 1010, `patch (dry run)` → …).
fn requests(cluster: &TestCluster, from: usize) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for request in &cluster.requests()[from..] {
        let verb = if request.dry_run {
            format!("{} (dry run)", request.verb)
        } else {
            request.verb.clone()
        };
        *counts.entry(verb).or_default() += 1;
    }
    counts
}

fn show(counts: &BTreeMap<String, usize>) -> String {
    let total: usize = counts.values().sum();
    let parts: Vec<String> = counts
        .iter()
        .map(|(verb, n)| format!("{n} {verb}"))
        .collect();
    format!("{total} ({})", parts.join(", "))
}

/// The kubectl oracle, if installed.
fn kubectl() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("CONVERGE_KUBECTL")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/oracles/bin/kubectl")
        });
    path.is_file().then_some(path)
}

/// `kubectl apply --server-side` of `objects` into a fresh testcluster, then again: the
/// median wall time of each over three runs.
fn kubectl_peer(kubectl: &std::path::Path, objects: &[Value]) -> (Duration, Duration) {
    // kubectl blocks: the cluster serves from a runtime of its own meanwhile.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("set.yaml");
    let stream: Vec<String> = objects.iter().map(Value::to_string).collect();
    std::fs::write(&file, stream.join("\n---\n")).expect("write the set");
    let (mut first, mut again) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let cluster = runtime.block_on(TestCluster::builder().ready_after(None).start());
        let cluster = cluster.expect("a cluster");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, cluster.kubeconfig()).expect("kubeconfig");
        let apply = || {
            let started = std::time::Instant::now();
            let out = std::process::Command::new(kubectl)
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args([
                    "apply",
                    "--server-side",
                    "--field-manager=kubectl-bench",
                    "-f",
                ])
                .arg(&file)
                .env("HOME", dir.path())
                .output()
                .expect("kubectl runs");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            started.elapsed()
        };
        first.push(apply());
        again.push(apply());
        drop(cluster);
    }
    first.sort();
    again.sort();
    (first[1], again[1])
}

fn main() {
    let benchmarking = results::benchmarking();
    let started = SystemTime::now();
    let (namespaces, per) = if benchmarking { (10, 20) } else { (2, 4) };
    let objects = set(namespaces, per);
    let count = objects.len();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");

    // The requests of a first sync and of a re-sync, counted once outside the measurements.
    let (cluster, engine) = runtime.block_on(start());
    let summary = runtime
        .block_on(engine.sync(&objects, &options(), &mut |_| {}))
        .expect("the first sync");
    assert_eq!(summary.created, count, "{summary}");
    let first = requests(&cluster, 0);
    let before = cluster.requests().len();
    let summary = runtime
        .block_on(engine.sync(&objects, &options(), &mut |_| {}))
        .expect("the re-sync");
    assert_eq!(summary.unchanged, count, "{summary}");
    let again = requests(&cluster, before);
    let writes: usize = again
        .iter()
        .filter(|(verb, _)| matches!(verb.as_str(), "create" | "update" | "patch" | "delete"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(writes, 0, "a re-sync wrote: {again:?}");
    assert!(
        again.get("list").copied().unwrap_or(0) <= 4,
        "lists: {again:?}"
    );

    let mut c: Criterion = criterion(Duration::from_secs(5));
    {
        let mut group = c.benchmark_group("sync");
        group.sample_size(10);
        group.bench_function(format!("first/{count}"), |b| {
            b.iter_batched(
                || runtime.block_on(start()),
                |(cluster, engine)| {
                    let summary = runtime
                        .block_on(engine.sync(&objects, &options(), &mut |_| {}))
                        .expect("sync");
                    assert_eq!(summary.created, count);
                    cluster
                },
                BatchSize::PerIteration,
            );
        });
        group.bench_function(format!("unchanged/{count}"), |b| {
            b.iter(|| {
                let summary = runtime
                    .block_on(engine.sync(&objects, &options(), &mut |_| {}))
                    .expect("sync");
                assert_eq!(summary.unchanged, count);
            });
        });
        group.finish();
    }
    c.final_summary();
    drop(cluster);

    if benchmarking {
        let peer = kubectl().map(|k| kubectl_peer(&k, &objects));
        if peer.is_none() {
            eprintln!("sync: no kubectl oracle; the peer column stays empty");
        }
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\n| sync of {count} objects | converge | API requests | kubectl apply --server-side | ratio |\n|---|--:|---|--:|--:|"
        );
        for (i, (name, counts)) in [("first", &first), ("unchanged", &again)]
            .into_iter()
            .enumerate()
        {
            let ns = measured("sync", &format!("{name}/{count}"), None, started);
            let theirs = peer.map(|(a, b)| if i == 0 { a } else { b });
            let ratio = match (ns, theirs) {
                (Some(ns), Some(t)) => format!("{:.1}× faster", t.as_nanos() as f64 / ns),
                _ => "–".to_owned(),
            };
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {ratio} |",
                time(ns),
                show(counts),
                time(theirs.map(|t| t.as_nanos() as f64))
            );
        }
        eprint!("{out}");
    }
}
