//! The cluster driven by the real `kubectl` (the oracle from `scripts/install-oracles.sh`).

use std::path::{Path, PathBuf};
use std::process::Command;

use converge_testcluster::TestCluster;

/// The kubectl oracle: `$CONVERGE_KUBECTL`, or the one the installer puts in the workspace.
/// Missing, it fails the test under `CI=true` and skips it loudly elsewhere.
pub(crate) fn kubectl() -> Option<PathBuf> {
    let path = std::env::var_os("CONVERGE_KUBECTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/oracles/bin/kubectl")
        });
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the kubectl oracle at {} is missing; CI=true requires it",
        path.display()
    );
    eprintln!("*** SKIPPED: no kubectl oracle at {} ***", path.display());
    None
}

/// Runs kubectl against `kubeconfig` with `args` and `stdin`: (success, stdout, stderr).
fn run(
    kubectl: &Path,
    kubeconfig: &Path,
    args: &[&str],
    stdin: Option<&str>,
) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env("HOME", kubeconfig.parent().expect("dir"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    } else {
        drop(child.stdin.take());
    }
    let output = child.wait_with_output().expect("kubectl ends");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// What a kubectl session runs: `k(args, stdin)` gives (success, stdout, stderr).
pub(crate) type Kubectl<'a> = &'a dyn Fn(&[&str], Option<&str>) -> (bool, String, String);

/// Writes `cluster`'s kubeconfig and runs `session` on a blocking thread (kubectl blocks; the
/// cluster serves from the runtime meanwhile), with kubectl pointed at the cluster.
pub(crate) async fn with_kubectl(
    kubectl: PathBuf,
    cluster: &TestCluster,
    session: impl FnOnce(Kubectl<'_>) + Send + 'static,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, cluster.kubeconfig()).expect("write kubeconfig");
    tokio::task::spawn_blocking(move || {
        session(&|args: &[&str], stdin: Option<&str>| run(&kubectl, &kubeconfig, args, stdin));
        drop(dir);
    })
    .await
    .expect("kubectl session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_gets_creates_patches_and_deletes() {
    let Some(kubectl) = kubectl() else { return };
    let cluster = TestCluster::start().await.expect("start");
    with_kubectl(kubectl, &cluster, |k| {

        let (ok, out, err) = k(&["get", "namespaces", "-o", "name"], None);
        assert!(ok, "{err}");
        assert!(out.contains("namespace/default"), "{out}");

        // kubectl asks for aggregated discovery first.
        let (ok, out, err) = k(&["api-resources", "--api-group=apps", "-o", "name"], None);
        assert!(ok, "{err}");
        assert!(out.lines().any(|l| l == "deployments.apps"), "{out}");

        let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  labels: {app: web}\ndata:\n  color: blue\n";
        let (ok, out, err) = k(&["create", "--validate=false", "-f", "-"], Some(manifest));
        assert!(ok, "{err}");
        assert_eq!(out.trim(), "configmap/web created");
        let (ok, _, err) = k(&["create", "--validate=false", "-f", "-"], Some(manifest));
        assert!(!ok);
        assert!(err.contains("AlreadyExists") || err.contains("already exists"), "{err}");

        let (ok, out, err) = k(&["get", "configmap", "web", "-o", "jsonpath={.data.color}"], None);
        assert!(ok, "{err}");
        assert_eq!(out, "blue");
        let (ok, out, err) = k(&["get", "cm", "-l", "app=web", "-o", "name"], None);
        assert!(ok, "{err}");
        assert_eq!(out.trim(), "configmap/web");

        let (ok, out, err) = k(&["patch", "configmap", "web", "--type", "merge", "-p", r#"{"data":{"color":"red"}}"#], None);
        assert!(ok, "{err}");
        assert_eq!(out.trim(), "configmap/web patched");
        let (ok, out, _) = k(&["get", "configmap", "web", "-o", "jsonpath={.data.color}"], None);
        assert!(ok);
        assert_eq!(out, "red");

        // kubectl wait lists, then watches.
        let (ok, out, err) = k(
            &["wait", "--for=jsonpath={.data.color}=red", "configmap/web", "--timeout=10s"],
            None,
        );
        assert!(ok, "{err}");
        assert_eq!(out.trim(), "configmap/web condition met");

        let (ok, _, err) = k(&["get", "configmap", "nope"], None);
        assert!(!ok);
        assert!(err.contains("configmaps \"nope\" not found"), "{err}");

        let (ok, out, err) = k(&["delete", "configmap", "web"], None);
        assert!(ok, "{err}");
        assert_eq!(out.trim(), "configmap \"web\" deleted from default namespace");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_server_side() {
    let Some(kubectl) = kubectl() else { return };
    let cluster = TestCluster::start().await.expect("start");
    with_kubectl(kubectl, &cluster, |k| {
        let deployment = |replicas: u32, image: &str| {
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: web\n        image: {image}\n"
            )
        };
        let apply = ["apply", "--server-side", "--validate=false", "-f", "-"];

        let (ok, out, err) = k(&apply, Some(&deployment(2, "web:1")));
        assert!(ok, "{err}");
        assert_eq!(out.trim(), "deployment.apps/web serverside-applied");

        // Another manager conflicts on replicas, in kubectl's words and the server's.
        let other = [&apply[..], &["--field-manager=other"]].concat();
        let (ok, _, err) = k(&other, Some(&deployment(3, "web:1")));
        assert!(!ok);
        assert!(
            err.contains("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"),
            "{err}"
        );
        let forced = [&other[..], &["--force-conflicts"]].concat();
        let (ok, out, err) = k(&forced, Some(&deployment(3, "web:1")));
        assert!(ok, "{err}");
        assert_eq!(out.trim(), "deployment.apps/web serverside-applied");

        let (ok, out, err) = k(
            &["get", "deployment", "web", "--show-managed-fields", "-o",
              "jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation} {end}"],
            None,
        );
        assert!(ok, "{err}");
        // The stand-in controller's status entry may follow, once it has seen the rollout.
        assert!(out.starts_with("kubectl/Apply other/Apply "), "{out}");

        // kubectl diff --server-side shows what an apply would change, and writes nothing.
        let (ok, out, err) = k(
            &["diff", "--server-side", "--force-conflicts", "-f", "-"],
            Some(&deployment(3, "web:2")),
        );
        assert!(!ok, "diff exits 1 when something differs: {err}");
        assert!(out.contains("-      - image: web:1") && out.contains("+      - image: web:2"), "{out}");
        let (ok, out, _) = k(
            &["get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"],
            None,
        );
        assert!(ok);
        assert_eq!(out, "web:1");

        // Client-side apply, then server-side apply of a changed configuration: kubectl takes
        // over what its client-side apply set, without conflicts, as on a real cluster.
        let map = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n";
        let (ok, out, err) = k(&["apply", "-f", "-"], Some(map));
        assert!(ok, "{err}");
        assert_eq!(out.trim(), "configmap/settings created");
        let (ok, out, err) = k(&apply, Some(&map.replace("blue", "red")));
        assert!(ok, "{err}");
        assert_eq!(out.trim(), "configmap/settings serverside-applied");
        let (ok, out, err) = k(
            &["get", "configmap", "settings", "-o", "jsonpath={.data.color}"],
            None,
        );
        assert!(ok, "{err}");
        assert_eq!(out, "red");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_validates_on_the_server_and_explains() {
    let Some(kubectl) = kubectl() else { return };
    let cluster = TestCluster::start().await.expect("start");
    with_kubectl(kubectl, &cluster, |k| {

        // kubectl's default --validate=strict finds fieldValidation in /openapi/v3 and lets
        // the server refuse unknown fields.
        let unknown = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  a: \"1\"\ncolour: blue\n";
        let (ok, _, err) = k(&["apply", "-f", "-"], Some(unknown));
        assert!(!ok);
        assert!(err.contains("strict decoding error: unknown field \"colour\""), "{err}");
        let (ok, out, err) = k(&["apply", "--validate=warn", "-f", "-"], Some(unknown));
        assert!(ok, "{err}");
        assert_eq!(out.trim(), "configmap/web created");
        assert!(err.contains("unknown field \"colour\""), "{err}");
        let known = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\ndata:\n  a: \"1\"\n";
        let (ok, out, err) = k(&["create", "-f", "-"], Some(known));
        assert!(ok, "{err}");
        assert_eq!(out.trim(), "configmap/other created");
        // kubectl diff (a server-side dry run of the patch kubectl apply would send).
        let changed = known.replace("a: \"1\"", "a: \"2\"");
        let (ok, out, err) = k(&["diff", "-f", "-"], Some(&changed));
        assert!(!ok, "diff exits 1 when something differs: {err}");
        assert!(out.contains("-  a: \"1\"") && out.contains("+  a: \"2\""), "{out}");
        // Applied once, the same manifest differs in nothing.
        let (ok, out, err) = k(&["apply", "-f", "-"], Some(known));
        assert!(ok, "{err}");
        assert_eq!(out.trim(), "configmap/other configured");
        let (ok, out, err) = k(&["diff", "-f", "-"], Some(known));
        assert!(ok, "no difference: {out}{err}");
        assert_eq!(out, "");

        // kubectl explain reads the same documents.
        let (ok, out, err) = k(&["explain", "deployment.spec.replicas"], None);
        assert!(ok, "{err}");
        assert!(out.contains("FIELD: replicas <integer>"), "{out}");
        assert!(out.contains("Number of desired pods."), "{out}");
        let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  scope: Namespaced\n  names: {kind: Widget, plural: widgets}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          spec:\n            type: object\n            description: What the widget should be.\n            properties:\n              size: {type: integer, description: How big it is.}\n";
        let (ok, _, err) = k(&["apply", "-f", "-"], Some(crd));
        assert!(ok, "{err}");
        let (ok, out, err) = k(&["explain", "widgets.spec"], None);
        assert!(ok, "{err}");
        assert!(out.contains("What the widget should be."), "{out}");
        assert!(out.contains("size\t<integer>") || out.contains("size <integer>"), "{out}");
    })
    .await;
}
