//! The kustomize renderer (`converge::render::Kustomize`) side by side with `kubectl kustomize`
//! (kustomize v5.7.1 inside kubectl v1.35, from the oracle installer) in the same run.
//!
//! Inputs:
//!
//! - `corpus`: every tree of the shared corpus whose reference output is kubectl kustomize's
//!   (the `kubectl kustomize` rows of its `EXPECTED.tsv`: Flux overlays, microservices-demo's
//!   components, kube-prometheus with its large CRDs, …);
//! - `generated`: an overlay made before measuring, over a base of N applications, each a
//!   Deployment, a Service and a ConfigMap the Deployment reads (3N objects): `namePrefix`,
//!   `namespace`, `commonLabels`, `images`, and 100 strategic-merge patches. N is 1,000 and
//!   333 (about 3,000 and 1,000 objects), to show how time grows.
//!
//! Each iteration renders from the directory on disk, as kubectl does. `converge-warm` renders
//! the generated overlays again through a `ParseCache` after one application file changed
//! (an incremental re-render). kubectl runs under criterion for the corpus trees; on the
//! generated overlays (about a minute each) it runs once, timed, and the table reports that
//! single run. After the criterion run the tables of the ratios go to stderr. Under `cargo test --benches` (which only checks that everything
//! runs) the generated overlay has 100 applications and kubectl is not run.
//!
//! ```text
//! cargo bench --bench render_kustomize                           # about 20 minutes
//! CONVERGE_BENCH_PEERS=0 cargo bench --bench render_kustomize    # converge alone
//! ```
//!
//! Without the corpus or the kubectl oracle the benchmark says so on stderr and exits with
//! success, unless `CI=true`, where either missing is an error.

#[path = "common/results.rs"]
mod results;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use converge::core::DirTree;
use converge::render::{Kustomize, ParseCache};
use criterion::BenchmarkId;
use results::{criterion, measured};
use serde_json::Value;

/// The trees of the shared corpus whose reference output is `kubectl kustomize`'s (from its
/// `EXPECTED.tsv`).
fn corpus_trees(corpus: &Path) -> Vec<String> {
    let index = std::fs::read_to_string(corpus.join("EXPECTED.tsv")).expect("EXPECTED.tsv");
    index
        .lines()
        .skip(1)
        .filter_map(|row| {
            let fields: Vec<&str> = row.split('\t').collect();
            (fields.len() > 1 && fields[1].starts_with("kubectl kustomize"))
                .then(|| fields[0].to_owned())
        })
        .collect()
}

fn main() {
    let benchmarking = results::benchmarking();
    // `CONVERGE_BENCH_PEERS=0` measures converge alone (the kubectl runs take minutes).
    let peers = benchmarking && std::env::var("CONVERGE_BENCH_PEERS").as_deref() != Ok("0");
    let started = SystemTime::now();

    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    let corpus = shared.join("corpus");
    let kubectl = std::env::var_os("CONVERGE_KUBECTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/oracles/bin/kubectl")
        });
    for (what, path) in [("the corpus", &corpus), ("the kubectl oracle", &kubectl)] {
        if !path.exists() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{what} at {} is missing; CI=true requires it",
                path.display()
            );
            eprintln!(
                "render_kustomize: {what} at {} is missing; nothing to measure",
                path.display()
            );
            return;
        }
    }

    let trees = corpus_trees(&corpus);
    let sizes: &[usize] = if benchmarking { &[333, 1_000] } else { &[100] };
    let generated: Vec<(usize, tempfile::TempDir)> =
        sizes.iter().map(|&n| (n, generate_overlay(n))).collect();
    for (n, dir) in &generated {
        // The generated overlay renders, and as kubectl would print it (checked on the
        // smallest one, which kubectl renders in seconds).
        let ours = render(dir.path(), "overlay");
        assert_eq!(ours, 3 * n, "all objects of the generated overlay");
    }
    if let Some((_, smallest)) = generated.first()
        && peers
    {
        let tree = DirTree::new(smallest.path()).expect("tree");
        let ours: Vec<Value> = Kustomize::new()
            .render_sync(&tree, "overlay")
            .expect("render")
            .into_iter()
            .map(|m| m.into_object())
            .collect();
        let theirs = kubectl_objects(&kubectl, &smallest.path().join("overlay"));
        assert!(
            ours == theirs,
            "the generated overlay renders as kubectl kustomize does"
        );
    }

    let mut c = criterion(Duration::from_secs(4));
    {
        let mut group = c.benchmark_group("corpus");
        for path in &trees {
            group.bench_with_input(BenchmarkId::new("converge", path), path, |b, path| {
                b.iter(|| black_box(render(&corpus, path)))
            });
            if peers {
                group.bench_with_input(BenchmarkId::new("kubectl", path), path, |b, path| {
                    b.iter(|| black_box(kubectl_build(&kubectl, &corpus.join(path))))
                });
            }
        }
        group.finish();
    }
    {
        let mut group = c.benchmark_group("generated");
        for (n, dir) in &generated {
            group.bench_with_input(BenchmarkId::new("converge", 3 * n), dir, |b, dir| {
                b.iter(|| black_box(render(dir.path(), "overlay")))
            });
            // A re-render with a warm parse cache after one application file changed.
            let cache = ParseCache::new(100_000);
            let renderer = Kustomize::new().with_cache(cache.clone());
            let tree = DirTree::new(dir.path()).expect("tree");
            renderer.render_sync(&tree, "overlay").expect("warm-up");
            let changed = dir.path().join("base/apps/app-0000.yaml");
            let original = std::fs::read_to_string(&changed).expect("read");
            let mut flip = false;
            group.bench_with_input(BenchmarkId::new("converge-warm", 3 * n), dir, |b, _| {
                b.iter_batched(
                    || {
                        flip = !flip;
                        let text = original.replace(
                            "color: blue",
                            if flip { "color: red" } else { "color: blue" },
                        );
                        std::fs::write(&changed, text).expect("write");
                    },
                    |()| {
                        black_box(
                            renderer
                                .render_sync(&tree, "overlay")
                                .expect("render")
                                .len(),
                        )
                    },
                    criterion::BatchSize::PerIteration,
                )
            });
            std::fs::write(&changed, &original).expect("restore");
        }
        group.finish();
    }
    c.final_summary();

    if peers {
        let mut table = String::from(
            "\n| input | objects | converge | kubectl kustomize | kubectl / converge |\n|---|---:|---:|---:|---:|\n",
        );
        for path in &trees {
            let objects = render(&corpus, path);
            let ours = measured("corpus", "converge", Some(path), started);
            let theirs = measured("corpus", "kubectl", Some(path), started);
            if let (Some(ours), Some(theirs)) = (ours, theirs) {
                table.push_str(&format!(
                    "| {path} | {objects} | {} | {} | {:.0}× |\n",
                    ms(ours),
                    ms(theirs),
                    theirs / ours
                ));
            }
        }
        for (n, dir) in &generated {
            let Some(ours) = measured("generated", "converge", Some(&(3 * n).to_string()), started)
            else {
                continue;
            };
            let start = Instant::now();
            kubectl_build(&kubectl, &dir.path().join("overlay"));
            let theirs = start.elapsed().as_nanos() as f64;
            table.push_str(&format!(
                "| generated overlay | {} | {} | {} (one run) | {:.0}× |\n",
                3 * n,
                ms(ours),
                ms(theirs),
                theirs / ours
            ));
        }
        eprintln!("{table}");
    }
    // The re-render after one file changed, against a cold render, converge alone.
    let mut warm = String::from(
        "\n| generated overlay | cold render | re-render after one file changed | share |\n|---:|---:|---:|---:|\n",
    );
    for (n, _) in &generated {
        let param = (3 * n).to_string();
        let cold = measured("generated", "converge", Some(&param), started);
        let again = measured("generated", "converge-warm", Some(&param), started);
        if let (Some(cold), Some(again)) = (cold, again) {
            warm.push_str(&format!(
                "| {param} objects | {} | {} | {:.1}% |\n",
                ms(cold),
                ms(again),
                100.0 * again / cold
            ));
        }
    }
    if benchmarking {
        eprintln!("{warm}");
    }
}

/// Renders `path` of the tree at `root`; the number of objects.
fn render(root: &Path, path: &str) -> usize {
    let tree = DirTree::new(root).expect("tree");
    Kustomize::new()
        .render_sync(&tree, path)
        .expect("render")
        .len()
}

/// What `kubectl kustomize DIR` prints.
fn kubectl_kustomize(kubectl: &Path, dir: &Path) -> Vec<u8> {
    let out = Command::new(kubectl)
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn kubectl_build(kubectl: &Path, dir: &Path) -> usize {
    kubectl_kustomize(kubectl, dir).len()
}

fn kubectl_objects(kubectl: &Path, dir: &Path) -> Vec<Value> {
    converge::core::parse_documents("kubectl.yaml", &kubectl_kustomize(kubectl, dir))
        .expect("kubectl prints YAML")
        .into_iter()
        .map(|d| d.value)
        .collect()
}

/// A base of `n` applications and an overlay over it.
fn generate_overlay(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().join("base");
    let overlay = dir.path().join("overlay");
    std::fs::create_dir_all(base.join("apps")).expect("mkdir");
    std::fs::create_dir_all(overlay.join("patches")).expect("mkdir");
    let mut resources = String::from("resources:\n");
    for i in 0..n {
        let app = format!("app-{i:04}");
        std::fs::write(
            base.join("apps").join(format!("{app}.yaml")),
            format!(
                "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
  labels: {{app: {app}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {app}}}
  template:
    metadata:
      labels: {{app: {app}}}
    spec:
      containers:
      - name: web
        image: registry.example.com/shop/web:1.0.{i}
        ports: [{{containerPort: 8080, name: http}}]
        envFrom: [{{configMapRef: {{name: {app}-settings}}}}]
        env:
        - {{name: APP, value: {app}}}
        - {{name: LOG_LEVEL, value: info}}
        resources:
          requests: {{cpu: 100m, memory: 128Mi}}
---
apiVersion: v1
kind: Service
metadata:
  name: {app}
spec:
  selector: {{app: {app}}}
  ports: [{{port: 80, targetPort: http}}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {app}-settings
data:
  color: blue
  size: \"{i}\"
"
            ),
        )
        .expect("write");
        resources.push_str(&format!("- apps/{app}.yaml\n"));
    }
    std::fs::write(base.join("kustomization.yaml"), resources).expect("write");
    let mut kustomization = String::from(
        "resources: [../base]
namePrefix: prod-
namespace: shop
commonLabels:
  env: production
images:
- name: registry.example.com/shop/web
  newName: mirror.example.com/shop/web
  newTag: \"2.0\"
patchesStrategicMerge:
",
    );
    for i in (0..n).step_by((n / 100).max(1)).take(100) {
        let app = format!("app-{i:04}");
        let file = format!("patches/{app}.yaml");
        std::fs::write(
            overlay.join(&file),
            format!(
                "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
spec:
  replicas: 5
  template:
    spec:
      containers:
      - name: web
        env:
        - {{name: LOG_LEVEL, value: debug}}
        - {{name: FEATURE, value: \"on\"}}
"
            ),
        )
        .expect("write");
        kustomization.push_str(&format!("- {file}\n"));
    }
    std::fs::write(overlay.join("kustomization.yaml"), kustomization).expect("write");
    dir
}

fn ms(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else {
        format!("{:.1} ms", ns / 1e6)
    }
}
