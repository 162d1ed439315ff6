//! The codec and the plain renderer on the shared real-world corpus, against kubectl's own
//! output for the same trees.

use std::collections::HashMap;

use converge::core::{DirTree, Error, FileTree, parse_documents, parse_manifests, walk_files};
use converge::render::{PlainYaml, Renderer};

use crate::support::{corpus, identity, values};

#[tokio::test]
async fn kube_prometheus_renders_the_objects_kubectl_kustomize_renders() {
    let Some(corpus) = corpus() else { return };
    for version in ["v0.17.0", "v0.18.0"] {
        let root = corpus.join(format!("kube-prometheus-{version}"));
        let tree = DirTree::new(&root).expect("tree");
        let ours = PlainYaml::new()
            .render(&tree, "manifests")
            .await
            .expect("render");
        let expected =
            std::fs::read(corpus.join(format!("expected/kube-prometheus-{version}.yaml")))
                .expect("expected");
        let expected = values(&expected);
        assert_eq!(ours.len(), expected.len(), "{version}: object count");

        let by_key: HashMap<String, &serde_json::Value> =
            expected.iter().map(|v| (identity(v), v)).collect();
        for manifest in &ours {
            let o = manifest.object();
            let key = identity(o);
            let want = by_key
                .get(&key)
                .unwrap_or_else(|| panic!("{version}: kubectl has no {key}"));
            assert!(
                *want == o,
                "{version}: {} differs from kubectl's output",
                manifest.id()
            );
        }
    }
}

#[test]
fn kube_prometheus_yaml_1_1_value_tag_loads_as_a_string() {
    let Some(corpus) = corpus() else { return };
    let path = corpus.join(
        "kube-prometheus-v0.17.0/manifests/setup/0alertmanagerConfigCustomResourceDefinition.yaml",
    );
    let text = std::fs::read(&path).expect("crd");
    let docs = parse_documents("crd.yaml", &text).expect("parse");
    let found = serde_json::to_string(&docs[0].value)
        .expect("json")
        .contains(r#""enum":["!=","=","=~","!~"]"#);
    assert!(found, "the matchType enum keeps `=` as a string");
}

#[test]
fn kubernetes_examples_parse_or_fail_with_named_errors() {
    let Some(corpus) = corpus() else { return };
    let tree = DirTree::new(corpus.join("kubernetes-examples")).expect("tree");
    let mut objects = 0;
    let mut syntax = Vec::new();
    let mut not_objects = Vec::new();
    for file in walk_files(&tree, "").expect("walk") {
        if !(file.ends_with(".yaml") || file.ends_with(".yml")) {
            continue;
        }
        let bytes = tree.read(&file).expect("read");
        match parse_manifests(&file, &bytes) {
            Ok(manifests) => objects += manifests.len(),
            Err(Error::Syntax {
                file: named, line, ..
            }) => {
                assert_eq!(named, file);
                assert!(line > 0, "{file}: a syntax error has a line");
                syntax.push(file);
            }
            Err(Error::NotAnObject { file: named, .. }) => {
                assert_eq!(named, file);
                not_objects.push(file);
            }
            Err(other) => panic!("{file}: unexpected {other}"),
        }
    }
    // The five templates are not YAML; five more files repeat a key in one mapping, which
    // `kubectl kustomize` refuses too ("mapping key already defined").
    syntax.sort();
    let (templates, repeated): (Vec<_>, Vec<_>) =
        syntax.iter().partition(|f| f.contains("-template."));
    assert_eq!(templates.len(), 5, "{templates:?}");
    assert_eq!(
        repeated,
        [
            "_archived/openshift-origin/etcd-controller.yaml",
            "_archived/openshift-origin/etcd-discovery-controller.yaml",
            "_archived/openshift-origin/openshift-controller.yaml",
            "_archived/persistent-volume-provisioning/quobyte/quobyte-admin-secret.yaml",
            "_archived/volumes/scaleio/sc-pvc.yaml",
        ]
    );
    assert_eq!(not_objects.len(), 2, "{not_objects:?}");
    assert!(
        not_objects.iter().all(|f| f.ends_with("cassandra.yaml")),
        "{not_objects:?}"
    );
    assert_eq!(
        objects, 265,
        "270 objects, less the five in files with repeated keys"
    );
}

#[test]
fn every_bench_crd_parses_as_one_crd() {
    let Some(corpus) = corpus() else { return };
    for version in ["v2.5.0", "v2.6.0"] {
        let tree = DirTree::new(corpus.join("bench-crds").join(version)).expect("tree");
        let files = walk_files(&tree, "").expect("walk");
        assert_eq!(files.len(), 150);
        for file in files {
            let manifests =
                parse_manifests(&file, &tree.read(&file).expect("read")).expect("parse");
            assert_eq!(manifests.len(), 1, "{file}");
            assert_eq!(manifests[0].id().kind, "CustomResourceDefinition");
            let (group, plural) = file
                .trim_end_matches(".yaml")
                .split_once('_')
                .expect("group_plural.yaml");
            assert_eq!(
                manifests[0].id().name,
                format!("{plural}.{group}"),
                "{file}"
            );
        }
    }
}
