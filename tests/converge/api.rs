//! The reference controller's custom resources: their committed CRDs are what `crdgen`
//! writes, a cluster serves them, and plain YAML files of them are read with errors that
//! name the file and line.

use converge::api::{Error, Strategy, from_yaml};
use converge_testcluster::TestCluster;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::json;

use crate::support::run_example_ok;

#[test]
fn the_committed_crds_are_what_crdgen_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf-8");
    run_example_ok("crdgen", &["--out", out]);
    for file in ["gitsources.yaml", "syncs.yaml"] {
        let generated = std::fs::read_to_string(dir.path().join(file)).expect("generated");
        let committed = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("config/crds")
                .join(file),
        )
        .expect("committed");
        assert_eq!(
            committed, generated,
            "config/crds/{file} is stale: run `cargo run --example crdgen -- --out config/crds`"
        );
    }
}

#[tokio::test]
async fn a_cluster_serves_the_kinds_and_checks_objects_against_their_schema() {
    let cluster = TestCluster::builder()
        .ready_after(None)
        .start()
        .await
        .expect("start");
    let client = kube::Client::try_from(kube::Config::new(cluster.url().parse().expect("url")))
        .expect("client");
    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk(&GroupVersionKind::gvk(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
        )),
    );
    for file in ["gitsources.yaml", "syncs.yaml"] {
        let text = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("config/crds")
                .join(file),
        )
        .expect("crd");
        let crd = converge::core::parse_documents(file, &text)
            .expect("yaml")
            .remove(0)
            .value;
        let name = crd["metadata"]["name"].as_str().expect("name").to_owned();
        crds.patch(&name, &PatchParams::apply("test"), &Patch::Apply(&crd))
            .await
            .expect("the CRD applies");
    }
    let mut syncs =
        ApiResource::from_gvk(&GroupVersionKind::gvk("converge.dev", "v1alpha1", "Sync"));
    syncs.plural = "syncs".to_owned();
    let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &syncs);
    let sync = json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Sync",
        "metadata": {"name": "production"},
        "spec": {"sourceRef": {"name": "demo"}, "path": "production", "prune": true,
            "strategy": "ClientSide", "dependsOn": [{"name": "infra"}]}});
    api.patch(
        "production",
        &PatchParams::apply("test"),
        &Patch::Apply(&sync),
    )
    .await
    .expect("a Sync applies");
    // The schema refuses a strategy it does not know.
    let mut wrong = sync.clone();
    wrong["spec"]["strategy"] = json!("Sideways");
    let err = api
        .patch(
            "production",
            &PatchParams::apply("test").force(),
            &Patch::Apply(&wrong),
        )
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("spec.strategy"), "{err}");
}

#[test]
fn plain_yaml_files_are_read_with_defaults_and_errors_name_the_line() {
    let resources = from_yaml(
        "sync.yaml",
        b"apiVersion: converge.dev/v1alpha1\nkind: Sync\nmetadata: {name: web}\nspec:\n  sourceRef: {name: demo}\n",
    )
    .expect("read");
    let spec = &resources.syncs[0].spec;
    assert_eq!((spec.path.as_str(), spec.interval.as_str()), ("./", "10m"));
    assert_eq!(spec.strategy, Strategy::ServerSide);
    assert_eq!(spec.source_ref.kind, "GitSource");

    let err = from_yaml(
        "sync.yaml",
        b"apiVersion: converge.dev/v1alpha1\nkind: GitSource\nmetadata: {name: ok}\nspec: {url: https://example.com/r.git}\n---\napiVersion: converge.dev/v1alpha1\nkind: Sync\nmetadata: {name: bad}\nspec:\n  path: x\n",
    )
    .expect_err("no sourceRef");
    assert!(matches!(err, Error::Invalid { line: 6, .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("sync.yaml:6: Sync bad: missing field `sourceRef`"),
        "{err}"
    );
    let err = from_yaml(
        "other.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    )
    .expect_err("not ours");
    assert!(
        err.to_string()
            .starts_with("other.yaml:1: ConfigMap x: expected apiVersion converge.dev/v1alpha1"),
        "{err}"
    );
}
