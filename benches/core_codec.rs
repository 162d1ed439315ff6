//! Throughput of the `converge::core` codec on real manifests, next to the parsers it is built on.
//!
//! Two inputs from the shared corpus (`../shared/corpus/` next to the workspace):
//!
//! - `bench-crds`: the 150 Crossplane AWS CRD files of `bench-crds/v2.6.0/` (14.5 MB of YAML),
//! - `kube-prometheus`: every `*.yaml` under `kube-prometheus-v0.17.0/manifests/`, `setup/`
//!   included (95 files, 5.6 MB: 130 objects, 10 of them the operator's CRDs).
//!
//! Each input is one criterion group with five benchmarks, all measured in bytes of their input,
//! so the ratios can be read straight off the throughput (MiB/s) column:
//!
//! | benchmark | what one iteration does |
//! |---|---|
//! | `converge/yaml` | [`parse_manifests`] on every YAML file (what Converge does) |
//! | `serde-saphyr/yaml` | `serde_saphyr::from_multiple::<Value>` with default options (the peer) |
//! | `converge/json` | the same on the same objects written as JSON, one `.json` file each |
//! | `serde_json/json` | a `serde_json` stream of [`Value`]s over the same JSON (the peer) |
//! | `converge/to_yaml` | [`to_yaml`] on every object (throughput counted in input YAML bytes) |
//!
//! Three kube-prometheus files hold a `ConfigMapList`, `RoleList` or `RoleBindingList` (1 MB of
//! Grafana dashboards among them), which [`parse_manifests`] reads as their items.
//!
//! The JSON is pretty-printed (`serde_json::to_vec_pretty`), one value per document, values of a
//! multi-document file separated by a newline. Every file is read, and the JSON and the objects
//! are prepared, once before anything is measured; both peers are handed the same bytes as
//! Converge, so UTF-8 validation is part of every YAML benchmark.
//!
//! ```text
//! cargo bench --bench core_codec                  # measure (about 1.5 min on 2 cores, once built)
//! cargo bench --bench core_codec -- kube-prometheus/converge
//! cargo test --benches                            # run every benchmark once
//! ```
//!
//! Without the corpus the benchmark says so on stderr and exits with success, unless `CI=true`,
//! where a missing corpus is an error.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use converge::core::{Value, parse_documents, parse_manifests, to_yaml};
use criterion::{Criterion, SamplingMode, Throughput};

/// One input: a name and the files it is made of, with everything derived from them.
struct Input {
    name: &'static str,
    /// The YAML files as read from disk.
    yaml: Vec<File>,
    /// The same documents as JSON, one file per YAML file, named `*.json`.
    json: Vec<File>,
    /// The objects of every file, for the writer benchmark.
    objects: Vec<Value>,
}

struct File {
    name: String,
    bytes: Vec<u8>,
}

impl Input {
    fn yaml_bytes(&self) -> u64 {
        self.yaml.iter().map(|f| f.bytes.len() as u64).sum()
    }

    fn json_bytes(&self) -> u64 {
        self.json.iter().map(|f| f.bytes.len() as u64).sum()
    }
}

/// Where the corpus lives: `shared/corpus/` next to the workspace.
fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Every `*.yaml` file under `dir`, recursively, in no particular order.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            yaml_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads and prepares one input, or `None` when its folder is missing or holds no YAML.
fn load(name: &'static str, dir: &Path) -> Option<Input> {
    let mut paths = Vec::new();
    if let Err(err) = yaml_files(dir, &mut paths) {
        missing(&format!("cannot read {}: {err}", dir.display()), name);
        return None;
    }
    paths.sort();
    if paths.is_empty() {
        missing(&format!("no *.yaml file in {}", dir.display()), name);
        return None;
    }

    let mut input = Input {
        name,
        yaml: Vec::new(),
        json: Vec::new(),
        objects: Vec::new(),
    };
    for path in paths {
        let file = path
            .strip_prefix(dir)
            .expect("the walk stays inside the input folder")
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&path).expect("a corpus file that was just listed is readable");
        let docs = parse_documents(&file, &bytes).expect("the corpus is valid YAML");

        let mut json = Vec::new();
        for (i, doc) in docs.iter().enumerate() {
            if i > 0 {
                json.push(b'\n');
            }
            json.extend(serde_json::to_vec_pretty(&doc.value).expect("a Value is always JSON"));
        }
        json.push(b'\n');

        input.json.push(File {
            name: format!("{}.json", file.strip_suffix(".yaml").unwrap_or(&file)),
            bytes: json,
        });
        input.yaml.push(File { name: file, bytes });
        input.objects.extend(docs.into_iter().map(|doc| doc.value));
    }
    Some(input)
}

/// Reports a missing input: an error in CI, a note on stderr elsewhere, which says that `skipped`
/// is not measured.
fn missing(why: &str, skipped: &str) {
    let message = format!(
        "core_codec: {why}. The benchmark reads bench-crds/v2.6.0 and \
         kube-prometheus-v0.17.0/manifests from the shared corpus at {}",
        corpus_root().display(),
    );
    assert!(!in_ci(), "{message}; with CI=true the corpus is required");
    eprintln!("{message}; skipping {skipped}.");
}

fn bench_input(c: &mut Criterion, input: &Input) {
    let yaml_bytes = Throughput::BytesDecimal(input.yaml_bytes());
    let json_bytes = Throughput::BytesDecimal(input.json_bytes());

    let mut group = c.benchmark_group(input.name);
    // One iteration parses megabytes: time each one on its own rather than in growing batches.
    group.sampling_mode(SamplingMode::Flat);

    group.throughput(yaml_bytes.clone());
    group.bench_function("converge/yaml", |b| {
        b.iter(|| {
            for f in &input.yaml {
                let manifests = parse_manifests(&f.name, black_box(&f.bytes))
                    .expect("every corpus file holds Kubernetes objects");
                black_box(manifests);
            }
        });
    });
    group.bench_function("serde-saphyr/yaml", |b| {
        b.iter(|| {
            for f in &input.yaml {
                let text = std::str::from_utf8(black_box(&f.bytes)).expect("the corpus is UTF-8");
                let values = serde_saphyr::from_multiple::<Value>(text)
                    .expect("serde-saphyr reads the corpus with its defaults");
                black_box(values);
            }
        });
    });

    group.throughput(json_bytes);
    group.bench_function("converge/json", |b| {
        b.iter(|| {
            for f in &input.json {
                let manifests = parse_manifests(&f.name, black_box(&f.bytes))
                    .expect("the JSON holds the same objects as the YAML");
                black_box(manifests);
            }
        });
    });
    group.bench_function("serde_json/json", |b| {
        b.iter(|| {
            for f in &input.json {
                let values = serde_json::Deserializer::from_slice(black_box(&f.bytes))
                    .into_iter::<Value>()
                    .collect::<Result<Vec<_>, _>>()
                    .expect("the JSON was written by serde_json");
                black_box(values);
            }
        });
    });

    group.throughput(yaml_bytes);
    group.bench_function("converge/to_yaml", |b| {
        b.iter(|| {
            for value in &input.objects {
                black_box(to_yaml(black_box(value)).expect("a JSON value can always be written"));
            }
        });
    });

    group.finish();
}

fn main() {
    let root = corpus_root();
    if !root.is_dir() {
        missing("the corpus folder is missing", "the benchmark");
        return;
    }
    let inputs: Vec<Input> = [
        ("bench-crds", root.join("bench-crds/v2.6.0")),
        (
            "kube-prometheus",
            root.join("kube-prometheus-v0.17.0/manifests"),
        ),
    ]
    .into_iter()
    .filter_map(|(name, dir)| load(name, &dir))
    .collect();

    // Small samples keep a full run near 1.5 minutes on two cores; command-line flags still win.
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    for input in &inputs {
        bench_input(&mut c, input);
    }
    c.final_summary();
}
