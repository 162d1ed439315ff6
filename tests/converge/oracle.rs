//! kubectl as the oracle: it reads the same files, and must see the same objects.

use std::path::Path;
use std::process::Command;

use converge::core::DirTree;
use converge::render::{PlainYaml, Renderer};

use crate::support::{identity, kubectl, kustomize};

/// Renders `dir` with Converge and with `kubectl kustomize` over a kustomization listing
/// the same files, and asserts both see the same objects with the same values.
async fn same_objects_as_kubectl(dir: &Path) {
    let Some(kubectl) = kubectl() else { return };
    let tree = DirTree::new(dir).expect("tree");
    let ours = PlainYaml::new().render(&tree, "").await.expect("render");

    let work = tempfile::tempdir().expect("tempdir");
    let mut files: Vec<String> = ours.iter().map(|m| m.origin().file.clone()).collect();
    files.dedup();
    let mut kustomization = String::from("resources:\n");
    for file in &files {
        let target = work.path().join(file.replace('/', "__"));
        std::fs::copy(dir.join(file), &target).expect("copy");
        kustomization.push_str(&format!("- {}\n", file.replace('/', "__")));
    }
    std::fs::write(work.path().join("kustomization.yaml"), kustomization).expect("write");

    let theirs = kustomize(&kubectl, work.path());
    assert_eq!(theirs.len(), ours.len(), "object count");
    for manifest in &ours {
        let o = manifest.object();
        let key = identity(o);
        assert_eq!(
            theirs.get(&key),
            Some(o),
            "{} as kubectl reads it",
            manifest.id()
        );
    }
}

#[tokio::test]
async fn the_demo_reads_as_kubectl_reads_it() {
    for env in ["staging", "production"] {
        same_objects_as_kubectl(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples/demo")
                .join(env),
        )
        .await;
    }
}

#[tokio::test]
async fn yaml_edge_cases_read_as_kubectl_reads_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("edge.yaml"),
        r#"# YAML 1.1 scalars, anchors, merge keys, block scalars and flow style, as kubectl reads them
apiVersion: v1
kind: ConfigMap
metadata:
  name: edge
  labels: &labels {app: edge, tier: "web"}
  annotations:
    quoted-octal: "0644"
    folded: >
      one
      two
data:
  literal: |
    line one
      indented
  keep: |+
    kept

  strip: |-
    stripped
  unicode: "caf\u00e9 ✓"
  single: 'it''s'
  empty: ""
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: edge
spec:
  replicas: 0x0A
  selector:
    matchLabels: {app: edge}
  template:
    metadata:
      labels:
        <<: {app: edge}
        extra: "true"
    spec:
      securityContext:
        runAsNonRoot: yes
        runAsUser: 1000
        fsGroupChangePolicy: OnRootMismatch
      containers:
      - name: app
        image: nginx:1.27
        stdin: on
        tty: off
        resources:
          limits: {cpu: 1.5, memory: 1e3}
        volumeMounts: []
      volumes:
      - name: v
        secret:
          secretName: s
          defaultMode: 0644
---
{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "edge-json"}, "spec": {"ports": [{"port": 80, "targetPort": 8080}]}}
"#,
    )
    .expect("write");
    std::fs::write(
        dir.path().join("list.json"),
        r#"{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "in-a-list"}}]}"#,
    )
    .expect("write");
    same_objects_as_kubectl(dir.path()).await;
}

#[test]
fn repeated_keys_are_refused_like_kubectl_refuses_them() {
    let Some(kubectl) = kubectl() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ntype: a\ndata: {}\ntype: b\n";
    std::fs::write(dir.path().join("s.yaml"), text).expect("write");
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "resources:\n- s.yaml\n",
    )
    .expect("write");
    let out = Command::new(&kubectl)
        .arg("kustomize")
        .arg(dir.path())
        .output()
        .expect("kubectl runs");
    assert!(!out.status.success(), "kubectl refuses it");
    assert!(String::from_utf8_lossy(&out.stderr).contains("already defined at line 5"));

    let err = converge::core::parse_documents("s.yaml", text.as_bytes()).expect_err("refused");
    assert!(err.to_string().starts_with("s.yaml:7:"), "{err}");
    assert!(err.to_string().contains("type"), "names the key: {err}");
}

/// GNU `diff -u` (which `kubectl diff` runs) is the oracle for the hunks of a unified diff.
#[test]
fn hunks_match_gnu_diff() {
    use converge::core::{parse_manifests, to_yaml};
    use converge::diff::{TextDiffOptions, compare, sorted_keys, unified_diff};

    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo/production/web.yaml");
    let base_text = std::fs::read_to_string(demo).expect("demo");
    let head_text = base_text
        .replace("replicas: 3", "replicas: 5")
        .replace("podinfo:6.7.1", "podinfo:6.8.0")
        .replace("LOG_LEVEL: info", "LOG_LEVEL: warn\n  EXTRA: \"1\"")
        .replace("  minAvailable: 2\n", "  maxUnavailable: 1\n");
    let base = parse_manifests("web.yaml", base_text.as_bytes()).expect("base");
    let head = parse_manifests("web.yaml", head_text.as_bytes()).expect("head");
    let result = compare(base, head).expect("compare");
    let mut changed = 0;
    for entry in result.differences() {
        changed += 1;
        let ours = unified_diff(entry, &TextDiffOptions::default()).expect("diff");
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, side) in [("old", &entry.base), ("new", &entry.head)] {
            let object = side.as_ref().expect("both sides").object();
            std::fs::write(
                dir.path().join(name),
                to_yaml(&sorted_keys(object)).expect("yaml"),
            )
            .expect("write");
        }
        let gnu = Command::new("diff")
            .args(["-u", "-N", "old", "new"])
            .current_dir(dir.path())
            .output()
            .expect("diff runs");
        let gnu = String::from_utf8(gnu.stdout).expect("utf-8");
        let hunks = |text: &str| text[text.find("@@").expect("a hunk")..].to_owned();
        assert_eq!(hunks(&ours), hunks(&gnu), "{}", entry.id);
    }
    assert_eq!(
        changed, 3,
        "ConfigMap, Deployment and PodDisruptionBudget changed"
    );
}
