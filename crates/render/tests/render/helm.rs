//! The Helm renderer against the real `helm` (the oracle `scripts/install-oracles.sh`
//! installs, or `$CONVERGE_HELM`), on small charts written here and on the shared corpus's
//! charts, compared object for object with `helm template`'s recorded output.

use crate::make_tree;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use converge_core::{DirTree, EntryKind, FileTree, TreeEntry, normalize_path};
use converge_render::{Error, Helm, Renderer};
use serde_json::Value;

/// Something a test needs is missing: under `CI=true` that fails the test, elsewhere the test
/// says loudly that it was skipped.
fn missing(what: &str, hint: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is missing ({hint}); CI=true requires it");
    }
    eprintln!("\n*** SKIPPED: {what} is missing ({hint}) ***\n");
}

/// The helm oracle: `$CONVERGE_HELM`, or the one `scripts/install-oracles.sh` installs.
fn helm() -> Option<PathBuf> {
    let path = std::env::var_os("CONVERGE_HELM")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/oracles/bin/helm")
        });
    if path.is_file() {
        Some(path)
    } else {
        missing(
            &format!("the helm oracle at {}", path.display()),
            "run scripts/install-oracles.sh or set CONVERGE_HELM",
        );
        None
    }
}

/// `../shared/corpus` beside the workspace (or `$CONVERGE_SHARED/corpus`).
fn corpus() -> Option<PathBuf> {
    let shared = std::env::var_os("CONVERGE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let corpus = shared.join("corpus");
    if corpus.is_dir() {
        Some(corpus)
    } else {
        missing(
            &format!("the corpus at {}", corpus.display()),
            "set CONVERGE_SHARED",
        );
        None
    }
}

/// A tree that exists only in memory, as a git tree read from the object database does.
#[derive(Debug)]
struct MemoryTree(BTreeMap<String, Vec<u8>>);

impl MemoryTree {
    fn new(files: &[(&str, &str)]) -> Self {
        MemoryTree(
            files
                .iter()
                .map(|(path, content)| ((*path).to_owned(), content.as_bytes().to_vec()))
                .collect(),
        )
    }
}

impl FileTree for MemoryTree {
    fn kind(&self, path: &str) -> Result<Option<EntryKind>, converge_core::Error> {
        let path = normalize_path(path)?;
        if self.0.contains_key(&path) {
            Ok(Some(EntryKind::File))
        } else if path.is_empty() || self.0.keys().any(|k| k.starts_with(&format!("{path}/"))) {
            Ok(Some(EntryKind::Dir))
        } else {
            Ok(None)
        }
    }

    fn list(&self, path: &str) -> Result<Vec<TreeEntry>, converge_core::Error> {
        let path = normalize_path(path)?;
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        let mut entries: BTreeMap<String, EntryKind> = BTreeMap::new();
        for key in self.0.keys() {
            if let Some(rest) = key.strip_prefix(&prefix) {
                match rest.split_once('/') {
                    Some((dir, _)) => entries.insert(dir.to_owned(), EntryKind::Dir),
                    None => entries.insert(rest.to_owned(), EntryKind::File),
                };
            }
        }
        if entries.is_empty() {
            return Err(converge_core::Error::NotFound { path });
        }
        Ok(entries
            .into_iter()
            .map(|(name, kind)| TreeEntry::new(name, kind))
            .collect())
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, converge_core::Error> {
        let path = normalize_path(path)?;
        self.0
            .get(&path)
            .cloned()
            .ok_or(converge_core::Error::NotFound { path })
    }
}

fn chart_yaml(name: &str) -> String {
    format!("apiVersion: v2\nname: {name}\nversion: 1.0.0\n")
}

/// `kind namespace/name @ origin` for each manifest.
fn listing(manifests: &[converge_core::Manifest]) -> Vec<String> {
    manifests
        .iter()
        .map(|m| format!("{} @ {}", m.id(), m.origin()))
        .collect()
}

#[tokio::test]
async fn a_missing_helm_binary_is_a_clear_error() {
    let (_dir, tree) = make_tree(&[("chart/Chart.yaml", &chart_yaml("web"))]);
    let err = Helm::new()
        .with_binary("/nonexistent/bin/helm")
        .render(&tree, "chart")
        .await
        .expect_err("no helm there");
    assert!(
        matches!(&err, Error::Helm { chart, .. } if chart == "chart"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("helm was not found"), "{message}");
    assert!(message.contains("/nonexistent/bin/helm"), "{message}");
    assert!(message.contains("CONVERGE_HELM"), "{message}");
}

#[tokio::test]
async fn a_path_that_is_not_a_chart_is_refused_before_running_helm() {
    let (_dir, tree) = make_tree(&[
        (
            "apps/web/deploy.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
        ),
        ("apps/Chart.yaml.txt", "not it"),
    ]);
    // No helm is needed: the binary is never run.
    let helm = Helm::new().with_binary("/nonexistent/bin/helm");
    let err = helm.render(&tree, "apps/web").await.expect_err("no chart");
    assert_eq!(
        err.to_string(),
        "helm chart apps/web: no Chart.yaml in this directory: it is not a Helm chart"
    );
    let err = helm.render(&tree, "").await.expect_err("no chart");
    assert_eq!(
        err.to_string(),
        "helm chart .: no Chart.yaml in this directory: it is not a Helm chart"
    );
    let err = helm
        .render(&tree, "apps/web/deploy.yaml")
        .await
        .expect_err("a file");
    assert_eq!(
        err.to_string(),
        "helm chart apps/web/deploy.yaml: is a file; a chart is a directory holding Chart.yaml"
    );
    let err = helm
        .render(&tree, "charts/none")
        .await
        .expect_err("missing");
    assert_eq!(err.to_string(), "charts/none: no such file or directory");
    let err = helm.render(&tree, "../up").await.expect_err("outside");
    assert!(matches!(
        err,
        Error::Core(converge_core::Error::InvalidPath { .. })
    ));
    let (_dir, tree) = make_tree(&[("chart/Chart.yaml", "apiVersion: v2\nversion: 1.0.0\n")]);
    let err = helm.render(&tree, "chart").await.expect_err("no name");
    assert_eq!(
        err.to_string(),
        "helm chart chart: chart/Chart.yaml has no name"
    );
}

#[tokio::test]
async fn origins_name_template_files_in_the_tree() {
    let Some(binary) = helm() else { return };
    let cm = |name: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{ .Release.Name }}}}-{name}\n"
        )
    };
    let two = format!("{}---\n# a comment only\n---\n{}", cm("one"), cm("two"));
    let (_dir, tree) = make_tree(&[
        ("deploy/charts/web/Chart.yaml", &chart_yaml("web")),
        ("deploy/charts/web/.helmignore", "templates/ignored.yaml\n"),
        (
            "deploy/charts/web/templates/ignored.yaml",
            "this: {{ is not valid",
        ),
        ("deploy/charts/web/templates/configmaps.yaml", &two),
        (
            "deploy/charts/web/templates/off.yaml",
            &format!("{{{{- if .Values.off }}}}\n{}{{{{- end }}}}\n", cm("off")),
        ),
        (
            "deploy/charts/web/templates/service.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: {{ .Release.Namespace }}\n",
        ),
        (
            "deploy/charts/web/templates/NOTES.txt",
            "Thanks for installing {{ .Chart.Name }}",
        ),
        (
            "deploy/charts/web/templates/_helpers.tpl",
            "{{- define \"web.x\" }}x{{ end }}",
        ),
        (
            "deploy/charts/web/charts/cache/Chart.yaml",
            &chart_yaml("cache"),
        ),
        (
            "deploy/charts/web/charts/cache/templates/cm.yaml",
            &cm("cache"),
        ),
    ]);
    let manifests = Helm::new()
        .with_binary(&binary)
        .render(&tree, "deploy/charts/web")
        .await
        .expect("render");
    assert_eq!(
        listing(&manifests),
        [
            "v1 ConfigMap web-cache @ deploy/charts/web/charts/cache/templates/cm.yaml (document 0)",
            "v1 ConfigMap web-one @ deploy/charts/web/templates/configmaps.yaml (document 0)",
            "v1 ConfigMap web-two @ deploy/charts/web/templates/configmaps.yaml (document 1)",
            "v1 Service default/web @ deploy/charts/web/templates/service.yaml (document 0)",
        ]
    );
    for manifest in &manifests {
        assert_eq!(
            tree.kind(&manifest.origin().file).expect("kind"),
            Some(EntryKind::File),
            "{} names a file of the tree",
            manifest.origin()
        );
    }
}

#[tokio::test]
async fn options_reach_helm_from_a_tree_that_is_not_on_disk() {
    let Some(binary) = helm() else { return };
    let template = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
data:
  color: {{ .Values.color | quote }}
  size: {{ .Values.size | quote }}
  replicas: {{ kindOf .Values.replicas | quote }}
  tag: {{ kindOf .Values.tag | quote }}
  flag: {{ .Values.flag | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  monitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}
"#;
    let test_pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-test\n  annotations:\n    helm.sh/hook: test\n";
    let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n";
    let tree = MemoryTree::new(&[
        ("charts/web/Chart.yaml", &chart_yaml("web")),
        (
            "charts/web/values.yaml",
            "color: red\nsize: small\nreplicas: 1\ntag: latest\nflag: \"-x\"\n",
        ),
        ("charts/web/templates/cm.yaml", template),
        ("charts/web/templates/tests/pod.yaml", test_pod),
        ("charts/web/crds/widgets.yaml", crd),
        ("env/prod/values.yaml", "color: blue\nsize: large\n"),
        ("env/prod/more.yaml", "size: huge\n"),
    ]);

    let plain = Helm::new()
        .with_binary(&binary)
        .render(&tree, "charts/web")
        .await
        .expect("render");
    assert_eq!(
        listing(&plain),
        [
            "v1 ConfigMap default/web @ charts/web/templates/cm.yaml (document 0)",
            "v1 Pod web-test @ charts/web/templates/tests/pod.yaml (document 0)",
        ]
    );
    let root = MemoryTree::new(&[
        ("Chart.yaml", &chart_yaml("web")),
        (
            "values.yaml",
            "color: red\nsize: small\nreplicas: 1\ntag: latest\nflag: x\n",
        ),
        ("templates/cm.yaml", template),
    ]);
    let at_root = Helm::new()
        .with_binary(&binary)
        .render(&root, "")
        .await
        .expect("a chart at the tree's root renders");
    assert_eq!(
        listing(&at_root),
        ["v1 ConfigMap default/web @ templates/cm.yaml (document 0)"]
    );
    let data = &plain[0].object()["data"];
    assert_eq!(data["color"], "red");
    assert_eq!(
        data["replicas"], "float64",
        "numbers of values files are floats in helm"
    );

    let manifests = Helm::new()
        .with_binary(&binary)
        .with_release_name("shop")
        .with_namespace("prod")
        .with_values_file("env/prod/values.yaml")
        .with_values_file("./env/prod/more.yaml")
        .with_set("replicas", "3")
        .with_set("flag", "-y")
        .with_set_string("tag", "1")
        .with_kube_version("1.31.4")
        .with_api_version("monitoring.coreos.com/v1")
        .with_include_crds(true)
        .with_skip_tests(true)
        .render(&tree, "charts/web")
        .await
        .expect("render");
    assert_eq!(
        listing(&manifests),
        [
            "apiextensions.k8s.io/v1 CustomResourceDefinition widgets.example.com @ charts/web/crds/widgets.yaml (document 0)",
            "v1 ConfigMap prod/shop @ charts/web/templates/cm.yaml (document 0)",
        ]
    );
    assert_eq!(
        manifests[1].object()["data"],
        serde_json::json!({
            "color": "blue",
            "size": "huge",
            "replicas": "int64",
            "tag": "string",
            "flag": "-y",
            "kube": "v1.31.4",
            "monitoring": "true",
        })
    );

    let err = Helm::new()
        .with_binary(&binary)
        .with_values_file("env/missing.yaml")
        .render(&tree, "charts/web")
        .await
        .expect_err("no such values file");
    assert_eq!(
        err.to_string(),
        "env/missing.yaml: no such file or directory"
    );
}

#[tokio::test]
async fn template_errors_carry_helms_message() {
    let Some(binary) = helm() else { return };
    let (_dir, tree) = make_tree(&[
        ("broken/Chart.yaml", &chart_yaml("broken")),
        (
            "broken/templates/ok.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n",
        ),
        (
            "broken/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ required \"name is required\" .Values.name }}\n",
        ),
    ]);
    let err = Helm::new()
        .with_binary(&binary)
        .render(&tree, "broken")
        .await
        .expect_err("the template fails");
    let Error::Helm { chart, message } = &err else {
        panic!("not a helm error: {err:?}");
    };
    assert_eq!(chart, "broken");
    assert!(
        message.starts_with("helm template failed (exit status 1): Error:"),
        "{message}"
    );
    assert!(message.contains("broken/templates/cm.yaml"), "{message}");
    assert!(message.contains("name is required"), "{message}");
    assert_eq!(message.trim(), message, "stderr is trimmed");
    assert!(
        !message.contains("converge-helm-"),
        "no temporary path: {message}"
    );

    let (_dir, tree) = make_tree(&[
        ("broken/Chart.yaml", &chart_yaml("broken")),
        ("broken/templates/cm.yaml", "{{ if }}\n"),
    ]);
    let err = Helm::new()
        .with_binary(&binary)
        .render(&tree, "broken")
        .await
        .expect_err("the template does not parse");
    assert!(
        err.to_string().contains("broken/templates/cm.yaml"),
        "{err}"
    );

    // A values file that is not YAML: helm names it, by its path in the tree.
    let (_dir, tree) = make_tree(&[
        ("broken/Chart.yaml", &chart_yaml("broken")),
        ("broken/templates/cm.yaml", "# nothing\n"),
        ("values/bad.yaml", "a: [\n"),
    ]);
    let err = Helm::new()
        .with_binary(&binary)
        .with_values_file("values/bad.yaml")
        .render(&tree, "broken")
        .await
        .expect_err("bad values");
    let message = err.to_string();
    assert!(message.contains("values/bad.yaml"), "{message}");
    assert!(!message.contains("converge-helm-"), "{message}");
}

#[tokio::test]
async fn rendered_output_is_checked_like_plain_yaml() {
    let Some(binary) = helm() else { return };
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: same\n";
    let (_dir, tree) = make_tree(&[
        ("twice/Chart.yaml", &chart_yaml("twice")),
        ("twice/templates/a.yaml", cm),
        ("twice/templates/b.yaml", &format!("# the same again\n{cm}")),
    ]);
    let err = Helm::new()
        .with_binary(&binary)
        .render(&tree, "twice")
        .await
        .expect_err("defined twice");
    assert_eq!(
        err.to_string(),
        "ConfigMap same is defined twice: in twice/templates/a.yaml (document 0) and in \
         twice/templates/b.yaml (document 0)"
    );

    let (_dir, tree) = make_tree(&[
        ("odd/Chart.yaml", &chart_yaml("odd")),
        ("odd/templates/a.yaml", cm),
        ("odd/templates/b.yaml", "settings:\n  debug: true\n"),
    ]);
    let err = Helm::new()
        .with_binary(&binary)
        .render(&tree, "odd")
        .await
        .expect_err("not an object");
    assert_eq!(
        err.to_string(),
        "helm chart odd: odd/templates/b.yaml rendered a document that is not a Kubernetes \
         object (document 0): missing apiVersion"
    );

    let (_dir, tree) = make_tree(&[
        ("empty/Chart.yaml", &chart_yaml("empty")),
        (
            "empty/templates/off.yaml",
            "{{- if false }}\nx: y\n{{- end }}\n",
        ),
    ]);
    let manifests = Helm::new()
        .with_binary(&binary)
        .render(&tree, "empty")
        .await
        .expect("render");
    assert!(manifests.is_empty(), "{:?}", listing(&manifests));
}

#[tokio::test]
async fn dependencies_render_when_vendored_and_fail_with_helms_error_when_not() {
    let Some(binary) = helm() else { return };
    let parent = "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- name: redis\n  version: 1.0.0\n  repository: https://charts.example.invalid\n";
    let redis_cm =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-redis\n";
    let (_dir, tree) = make_tree(&[
        ("app/Chart.yaml", parent),
        ("app/templates/.keep", ""),
        ("app/charts/redis/Chart.yaml", &chart_yaml("redis")),
        ("app/charts/redis/templates/cm.yaml", redis_cm),
    ]);
    let manifests = Helm::new()
        .with_binary(&binary)
        .render(&tree, "app")
        .await
        .expect("render");
    assert_eq!(
        listing(&manifests),
        ["v1 ConfigMap app-redis @ app/charts/redis/templates/cm.yaml (document 0)"]
    );

    let (_dir, tree) = make_tree(&[("app/Chart.yaml", parent), ("app/templates/.keep", "")]);
    let err = Helm::new()
        .with_binary(&binary)
        .render(&tree, "app")
        .await
        .expect_err("the dependency is not vendored");
    let message = err.to_string();
    assert!(
        message.starts_with("helm chart app: helm template failed"),
        "{message}"
    );
    assert!(
        message.contains("missing in charts/ directory: redis"),
        "{message}"
    );
}

/// A `helm template` row of the corpus's `EXPECTED.tsv`.
#[derive(Debug)]
struct Row {
    chart: String,
    command: String,
    objects: usize,
    expected: String,
}

/// The Helm renderer set up as the `helm template RELEASE CHART FLAGS…` command says.
fn helm_for(command: &str, binary: &Path) -> (Helm, String) {
    let words: Vec<&str> = command.split_whitespace().collect();
    assert!(
        words.len() >= 4 && words[..2] == ["helm", "template"],
        "{command}"
    );
    let mut helm = Helm::new().with_binary(binary).with_release_name(words[2]);
    let chart = words[3].to_owned();
    let mut rest = words[4..].iter();
    let pairs = |value: &str| -> Vec<(String, String)> {
        value
            .split(',')
            .map(|pair| {
                let (key, value) = pair.split_once('=').expect("key=value");
                (key.to_owned(), value.to_owned())
            })
            .collect()
    };
    while let Some(flag) = rest.next() {
        let mut value = || {
            *rest
                .next()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
        };
        helm = match *flag {
            "--skip-tests" => helm.with_skip_tests(true),
            "--include-crds" => helm.with_include_crds(true),
            "--namespace" | "-n" => helm.with_namespace(value()),
            "--kube-version" => helm.with_kube_version(value()),
            "--api-versions" | "-a" => helm.with_api_version(value()),
            "--values" | "-f" => helm.with_values_file(value()),
            "--set" => pairs(value())
                .into_iter()
                .fold(helm, |h, (k, v)| h.with_set(k, v)),
            "--set-string" => pairs(value())
                .into_iter()
                .fold(helm, |h, (k, v)| h.with_set_string(k, v)),
            other => panic!("{command}: the test does not know {other}"),
        };
    }
    (helm, chart)
}

/// Objects as sorted JSON texts: equal lists are equal multisets of objects.
fn object_set(objects: impl IntoIterator<Item = Value>) -> Vec<String> {
    let mut set: Vec<String> = objects.into_iter().map(|o| o.to_string()).collect();
    set.sort_unstable();
    set
}

#[tokio::test]
async fn corpus_charts_match_helm_template_exactly() {
    let Some(corpus) = corpus() else { return };
    let Some(binary) = helm() else { return };
    let table = std::fs::read_to_string(corpus.join("EXPECTED.tsv")).expect("EXPECTED.tsv");
    let rows: Vec<Row> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            (cols.len() == 4 && cols[1].starts_with("helm template ")).then(|| Row {
                chart: cols[0].to_owned(),
                command: cols[1].to_owned(),
                objects: cols[2].parse().expect("object count"),
                expected: cols[3].to_owned(),
            })
        })
        .collect();
    assert!(!rows.is_empty(), "EXPECTED.tsv has no helm template rows");

    let tree = DirTree::new(&corpus).expect("tree");
    let mut mismatches = Vec::new();
    for row in &rows {
        let (helm, chart) = helm_for(&row.command, &binary);
        assert_eq!(chart, row.chart, "{}", row.command);
        let manifests = helm
            .render(&tree, &chart)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", row.command));
        for manifest in &manifests {
            let file = &manifest.origin().file;
            assert!(
                file.starts_with(&format!("{chart}/templates/"))
                    && tree.kind(file).expect("kind") == Some(EntryKind::File),
                "{}: {} has origin {file}, not a template of the chart",
                row.command,
                manifest.id()
            );
        }
        let expected_bytes = std::fs::read(corpus.join(&row.expected)).expect("expected output");
        let expected = converge_core::parse_documents(&row.expected, &expected_bytes)
            .expect("expected output parses");
        assert_eq!(expected.len(), row.objects, "{}", row.expected);
        let got = object_set(manifests.into_iter().map(|m| m.into_object()));
        let want = object_set(expected.into_iter().map(|d| d.value));
        if got == want {
            continue;
        }
        let only_got: Vec<_> = got.iter().filter(|o| !want.contains(o)).collect();
        let only_want: Vec<_> = want.iter().filter(|o| !got.contains(o)).collect();
        mismatches.push(format!(
            "{}: {} objects, {} expected; only rendered: {only_got:#?}; only expected: {only_want:#?}",
            row.command,
            got.len(),
            want.len()
        ));
    }
    eprintln!(
        "helm corpus: {} of {} charts match helm template exactly",
        rows.len() - mismatches.len(),
        rows.len()
    );
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}
