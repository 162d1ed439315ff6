//! Strategic merge patch against two oracles on the same bases and patches:
//!
//! - apimachinery, through `kubectl patch --local`: the semantics of the API server and of
//!   `kubectl apply`, which `apply_strategic_patch` implements — results must be equal;
//! - kustomize's own YAML merge, through `kubectl kustomize`: equal too, except for one
//!   documented difference — kustomize puts the items of a merged list that the patch names
//!   first, in the patch's order, where apimachinery keeps the original order and appends new
//!   items. Render (kustomize-compatible overlays) has to follow kustomize there; apply follows
//!   apimachinery. The comparison with kustomize therefore sorts merged lists by key first.

use std::process::Command;

use converge::diff::merge_patch::apply_merge_patch;
use converge::diff::schema::Schema;
use converge::diff::strategic::{apply_strategic_patch, sort_merge_lists};
use serde_json::{Value, json};

use crate::support::{identity, kubectl, kustomize};

/// One case: a base object and a strategic merge patch for it.
struct Case {
    base: Value,
    patch: Value,
}

fn deployment(name: &str, containers: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}, "finalizers": ["a.example.com/x"]},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {
                "containers": containers,
                "volumes": [{"name": "cache", "emptyDir": {}}],
                "tolerations": [{"key": "a", "operator": "Exists"}],
            }},
        },
    })
}

fn hand_made() -> Vec<Case> {
    let web = json!([
        {"name": "web", "image": "web:1", "args": ["--a", "--b"],
         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
         "ports": [{"containerPort": 80}, {"containerPort": 443}]},
        {"name": "proxy", "image": "proxy:1"},
    ]);
    vec![
        // Containers merge by name: one image changes, an env var is added, one deleted.
        Case {
            base: deployment("image-and-env", web.clone()),
            patch: json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
                {"name": "web", "image": "web:2", "env": [{"name": "C", "value": "3"}, {"name": "A", "$patch": "delete"}]},
            ]}}}}),
        },
        // A new container is appended; args (atomic) are replaced.
        Case {
            base: deployment("new-container", web.clone()),
            patch: json!({"spec": {"template": {"spec": {"containers": [
                {"name": "web", "args": ["--c"]},
                {"name": "debug", "image": "busybox"},
            ]}}}}),
        },
        // Labels merge; null deletes; finalizers merge as a set; tolerations are replaced.
        Case {
            base: deployment("labels-and-lists", web.clone()),
            patch: json!({"metadata": {"labels": {"tier": "web", "app": null}, "finalizers": ["b.example.com/y"]},
                "spec": {"template": {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}}}}),
        },
        // Ports merge by containerPort.
        Case {
            base: deployment("ports", web.clone()),
            patch: json!({"spec": {"template": {"spec": {"containers": [
                {"name": "web", "ports": [{"containerPort": 443, "name": "https"}, {"containerPort": 8080}]},
            ]}}}}),
        },
        // A volume's source is swapped (volumes merge by name).
        Case {
            base: deployment("volume-source", web.clone()),
            patch: json!({"spec": {"template": {"spec": {"volumes": [
                {"name": "cache", "configMap": {"name": "settings"}},
                {"name": "data", "emptyDir": {"medium": "Memory"}},
            ]}}}}),
        },
        // $patch: replace on a map.
        Case {
            base: deployment("replace-selector", web),
            patch: json!({"spec": {"template": {"metadata": {"labels": {"$patch": "replace", "only": "this"}}}}}),
        },
        Case {
            base: json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}),
            patch: json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}, {"port": 443, "targetPort": 8443}]}}),
        },
        Case {
            base: json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
                "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                    "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "pg:15"}]}},
                    "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "1Gi"}}}}]}}),
            patch: json!({"spec": {"template": {"spec": {"containers": [{"name": "db", "image": "pg:16"}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "5Gi"}}}}]}}),
        },
        Case {
            base: json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "one", "annotations": {"a": "1"}},
                "spec": {"containers": [{"name": "c", "image": "i", "command": ["sh"]}], "nodeSelector": {"disk": "ssd"}}}),
            patch: json!({"metadata": {"annotations": {"b": "2"}},
                "spec": {"containers": [{"name": "c", "command": ["bash", "-c"]}], "nodeSelector": {"zone": "a"}}}),
        },
        // A custom resource: no schema, merge-patch semantics (lists replaced).
        Case {
            base: json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                "spec": {"size": 1, "parts": [{"name": "a"}, {"name": "b"}], "opts": {"x": 1}}}),
            patch: json!({"spec": {"parts": [{"name": "c"}], "opts": {"y": 2, "x": null}}}),
        },
    ]
}

/// Deterministic "random" Deployments and patches: containers, env and replicas vary.
fn generated(count: usize) -> Vec<Case> {
    let mut seed: u64 = 0x5eed;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    (0..count)
        .map(|i| {
            let containers: Vec<Value> = (0..1 + next(3))
                .map(|c| {
                    let env: Vec<Value> = (0..next(4)).map(|e| json!({"name": format!("E{e}"), "value": format!("{}", next(9))})).collect();
                    json!({"name": format!("c{c}"), "image": format!("img:{}", next(5)), "env": env})
                })
                .collect();
            let patched: Vec<Value> = (0..1 + next(3))
                .map(|c| {
                    let env: Vec<Value> = (0..next(3)).map(|e| json!({"name": format!("E{}", 2 * e + next(2)), "value": "p"})).collect();
                    let mut container = json!({"name": format!("c{c}"), "env": env});
                    if next(2) == 0 {
                        container["image"] = json!(format!("img:{}", next(5)));
                    }
                    container
                })
                .collect();
            Case {
                base: deployment(&format!("gen-{i}"), Value::Array(containers)),
                patch: json!({"spec": {"replicas": next(5), "template": {"spec": {"containers": patched}}}}),
            }
        })
        .collect()
}

#[test]
fn strategic_merge_matches_kubectl_kustomize() {
    let Some(kubectl) = kubectl() else { return };
    let cases: Vec<Case> = hand_made().into_iter().chain(generated(40)).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut kustomization = String::from("resources:\n");
    let mut patches = String::from("patches:\n");
    for (i, case) in cases.iter().enumerate() {
        std::fs::write(
            dir.path().join(format!("base-{i}.json")),
            case.base.to_string(),
        )
        .expect("base");
        let mut patch = case.patch.clone();
        patch["apiVersion"] = case.base["apiVersion"].clone();
        patch["kind"] = case.base["kind"].clone();
        patch["metadata"]["name"] = case.base["metadata"]["name"].clone();
        std::fs::write(
            dir.path().join(format!("patch-{i}.json")),
            patch.to_string(),
        )
        .expect("patch");
        kustomization.push_str(&format!("- base-{i}.json\n"));
        patches.push_str(&format!("- path: patch-{i}.json\n"));
    }
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        kustomization + &patches,
    )
    .expect("kustomization");
    let theirs = kustomize(&kubectl, dir.path());
    assert_eq!(theirs.len(), cases.len());

    for case in &cases {
        let api_version = case.base["apiVersion"].as_str().expect("apiVersion");
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let kind = case.base["kind"].as_str().expect("kind");
        let ty = Schema::kubernetes().for_kind(group, version, kind);
        let ours = match ty {
            Some(ty) => apply_strategic_patch(&case.base, &case.patch, ty).expect("applies"),
            None => {
                let mut doc = case.base.clone();
                apply_merge_patch(&mut doc, &case.patch);
                doc
            }
        };
        // apimachinery: exactly equal.
        let local = dir.path().join("local.json");
        std::fs::write(&local, case.base.to_string()).expect("write");
        let patch_type = if ty.is_some() { "strategic" } else { "merge" };
        let out = Command::new(&kubectl)
            .args(["patch", "--local", "-o", "json", "--type", patch_type, "-p"])
            .arg(case.patch.to_string())
            .arg("-f")
            .arg(&local)
            .output()
            .expect("kubectl runs");
        assert!(
            out.status.success(),
            "kubectl patch: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let apimachinery: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let differs = converge::diff::json_patch::diff(&ours, &apimachinery);
        assert!(
            differs.is_empty(),
            "{}: patch {}: ours → apimachinery: {}",
            identity(&ours),
            case.patch,
            differs.to_value()
        );

        // kustomize: equal once merged lists are in key order.
        let want = theirs
            .get(&identity(&ours))
            .unwrap_or_else(|| panic!("kubectl has no {}", identity(&ours)));
        let (ours_sorted, want_sorted) = match ty {
            Some(ty) => (
                sort_merge_lists(&ours, ty).expect("sorts"),
                sort_merge_lists(want, ty).expect("sorts"),
            ),
            None => (ours.clone(), want.clone()),
        };
        let differs = converge::diff::json_patch::diff(&ours_sorted, &want_sorted);
        assert!(
            differs.is_empty(),
            "{}: patch {}: ours → kustomize: {}",
            identity(&ours),
            case.patch,
            differs.to_value()
        );
    }
}
