//! The plain renderer on real directory trees.

mod substitute;

mod helm;

mod incremental;
mod kustomize;
mod kustomize_conformance;

use converge_core::DirTree;
use converge_render::{Error, PlainYaml, Renderer};

/// Writes `files` into a new directory.
fn make_tree(files: &[(&str, &str)]) -> (tempfile::TempDir, DirTree) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, content) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, content).expect("write");
    }
    let tree = DirTree::new(dir.path()).expect("tree");
    (dir, tree)
}

fn object(kind: &str, name: &str) -> String {
    format!("apiVersion: v1\nkind: {kind}\nmetadata:\n  name: {name}\n")
}

async fn ids(tree: &DirTree, path: &str) -> Vec<String> {
    PlainYaml::new()
        .render(tree, path)
        .await
        .expect("render")
        .iter()
        .map(|m| format!("{} @ {}", m.id(), m.origin()))
        .collect()
}

async fn error(tree: &DirTree, path: &str) -> String {
    PlainYaml::new()
        .render(tree, path)
        .await
        .expect_err("render must fail")
        .to_string()
}

#[tokio::test]
async fn renders_recursively_in_path_order_with_lists_flattened() {
    let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ServiceAccount\n  metadata:\n    name: a\n- apiVersion: v1\n  kind: ServiceAccount\n  metadata:\n    name: b\n";
    let (_dir, tree) = make_tree(&[
        ("z.yaml", &object("ConfigMap", "z")),
        (
            "a/two.yml",
            &format!(
                "{}---\n{}",
                object("Service", "s1"),
                object("Service", "s2")
            ),
        ),
        ("a/list.yaml", list),
        (
            "a/obj.json",
            r#"{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "j"}}"#,
        ),
        ("a/notes.txt", "not yaml at all: ["),
        (".github/workflows/ci.yaml", "on: push\n"),
        ("a/.hidden/x.yaml", "garbage: ["),
        ("empty.yaml", "---\n# nothing\n---\n"),
    ]);
    assert_eq!(
        ids(&tree, "").await,
        [
            "v1 ServiceAccount a @ a/list.yaml:4",
            "v1 ServiceAccount b @ a/list.yaml:8",
            "v1 Secret j @ a/obj.json:1",
            "v1 Service s1 @ a/two.yml:1",
            "v1 Service s2 @ a/two.yml:6",
            "v1 ConfigMap z @ z.yaml:1",
        ]
    );
    assert_eq!(
        ids(&tree, "a/two.yml").await.len(),
        2,
        "a single file renders"
    );
    assert_eq!(
        ids(&tree, "./a/../z.yaml").await,
        ["v1 ConfigMap z @ z.yaml:1"]
    );
}

#[tokio::test]
async fn syntax_errors_name_file_line_and_column() {
    let (_dir, tree) = make_tree(&[
        ("ok.yaml", &object("ConfigMap", "ok")),
        (
            "bad/deploy.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: {}\n",
        ),
    ]);
    let err = error(&tree, "").await;
    assert!(err.starts_with("bad/deploy.yaml:5:"), "{err}");
    assert!(err.contains("invalid YAML"), "{err}");
}

#[tokio::test]
async fn documents_that_are_not_objects_are_named() {
    for (content, reason) in [
        (
            "kind: ConfigMap\nmetadata:\n  name: x\n",
            "missing apiVersion",
        ),
        ("apiVersion: v1\nmetadata:\n  name: x\n", "missing kind"),
        ("apiVersion: v1\nkind: ConfigMap\n", "missing metadata.name"),
        ("- a\n- b\n", "expected a mapping, found a list"),
    ] {
        let text = format!("{}---\n{content}", object("ConfigMap", "first"));
        let (_dir, tree) = make_tree(&[("app/cm.yaml", &text)]);
        let err = error(&tree, "app").await;
        assert_eq!(
            err,
            format!("app/cm.yaml:6: document 1 is not a Kubernetes object: {reason}")
        );
    }
}

#[tokio::test]
async fn an_object_defined_twice_names_both_files() {
    let (_dir, tree) = make_tree(&[
        ("a.yaml", &object("ConfigMap", "web")),
        (
            "b/c.yaml",
            &format!("# comment\n{}", object("ConfigMap", "web")),
        ),
        ("ok.yaml", &object("Secret", "web")),
    ]);
    assert_eq!(
        error(&tree, "").await,
        "ConfigMap web is defined twice: in a.yaml:1 and in b/c.yaml:2"
    );
    // Another version of one object is still the same object.
    let (_dir, tree) = make_tree(&[
        (
            "hpa1.yaml",
            "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: web\n",
        ),
        (
            "hpa2.yaml",
            "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: web\n",
        ),
    ]);
    assert!(error(&tree, "").await.contains("is defined twice"));
}

#[tokio::test]
async fn missing_paths_and_empty_trees_are_errors() {
    let (_dir, tree) = make_tree(&[("docs/readme.md", "# hi\n")]);
    assert_eq!(
        error(&tree, "deploy").await,
        "deploy: no such file or directory"
    );
    assert_eq!(
        error(&tree, "docs").await,
        "docs: no .yaml, .yml or .json files to render"
    );
    assert!(matches!(
        PlainYaml::new().render(&tree, "../x").await,
        Err(Error::Core(converge_core::Error::InvalidPath { .. }))
    ));
}

#[tokio::test]
async fn malformed_lists_are_refused() {
    let (_dir, tree) = make_tree(&[("l.yaml", "apiVersion: v1\nkind: List\nitems: {a: 1}\n")]);
    assert_eq!(
        error(&tree, "").await,
        "l.yaml:1: items of a List must be a list"
    );
    let (_dir, tree) = make_tree(&[(
        "l.yaml",
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n",
    )]);
    assert_eq!(
        error(&tree, "").await,
        "l.yaml:4: document 0 is not a Kubernetes object: missing metadata.name"
    );
}

#[tokio::test]
async fn list_items_are_known_by_their_own_line() {
    let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n";
    let (_dir, tree) = make_tree(&[("l.yaml", &format!("{}---\n{list}", object("Secret", "s")))]);
    assert_eq!(
        error(&tree, "").await,
        "ConfigMap a is defined twice: in l.yaml:9 and in l.yaml:12"
    );
}
