//! Bad kustomizations: each is a clear error naming the kustomization file and the entry.

use converge_render::{Error, Kustomize};

use crate::make_tree;

fn error(files: &[(&str, &str)], path: &str) -> String {
    let (_dir, tree) = make_tree(files);
    match Kustomize::new().render_sync(&tree, path) {
        Ok(manifests) => panic!("rendered {} objects, expected an error", manifests.len()),
        Err(e @ Error::Kustomize { .. }) => e.to_string(),
        Err(other) => panic!("expected a kustomize error, got {other:?}"),
    }
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n";

#[test]
fn an_unknown_field_is_named() {
    let err = error(
        &[
            (
                "kustomization.yaml",
                "resources: [cm.yaml]\nnamePrefx: dev-\n",
            ),
            ("cm.yaml", CM),
        ],
        "",
    );
    assert!(err.starts_with("kustomization.yaml: "), "{err}");
    assert!(err.contains("unknown field `namePrefx`"), "{err}");
}

#[test]
fn a_cycle_between_kustomizations_is_an_error() {
    let err = error(
        &[
            ("a/kustomization.yaml", "resources: [../b]\n"),
            ("b/kustomization.yaml", "resources: [../a]\n"),
        ],
        "a",
    );
    assert!(err.contains("cycle detected"), "{err}");
    assert!(err.contains("a → b"), "{err}");
}

#[test]
fn missing_files_and_paths_out_of_the_tree_are_named() {
    let err = error(&[("kustomization.yaml", "resources: [nowhere.yaml]\n")], "");
    assert!(err.contains("'nowhere.yaml': no such file"), "{err}");

    let err = error(
        &[("kustomization.yaml", "resources: [../../../etc/passwd]\n")],
        "",
    );
    assert!(err.contains("../../../etc/passwd"), "{err}");

    // A file of the tree, but outside the kustomization's directory.
    let err = error(
        &[
            ("overlay/kustomization.yaml", "resources: [../cm.yaml]\n"),
            ("cm.yaml", CM),
        ],
        "overlay",
    );
    assert!(
        err.contains("security; file 'cm.yaml' is not in or below 'overlay'"),
        "{err}"
    );

    let err = error(
        &[("kustomization.yaml", "patches: [{path: gone.yaml}]\n")],
        "",
    );
    assert!(err.contains("gone.yaml"), "{err}");
}

#[test]
fn a_symbolic_link_out_of_the_tree_is_refused() {
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("secret.yaml"), CM).expect("write");
    let (dir, _) = make_tree(&[("kustomization.yaml", "resources: [link.yaml]\n")]);
    std::os::unix::fs::symlink(
        outside.path().join("secret.yaml"),
        dir.path().join("link.yaml"),
    )
    .expect("symlink");
    let tree = converge_core::DirTree::new(dir.path()).expect("tree");
    let err = Kustomize::new()
        .render_sync(&tree, "")
        .expect_err("a link out of the tree");
    assert!(err.to_string().contains("link.yaml"), "{err}");
}

#[test]
fn remote_resources_and_plugins_are_refused_by_name() {
    let err = error(
        &[(
            "kustomization.yaml",
            "resources: [https://github.com/kubernetes-sigs/kustomize//examples/helloWorld]\n",
        )],
        "",
    );
    assert!(err.contains("remote resources are not supported"), "{err}");

    let err = error(
        &[
            (
                "kustomization.yaml",
                "resources: [cm.yaml]\ntransformers: [plugin.yaml]\n",
            ),
            ("cm.yaml", CM),
            (
                "plugin.yaml",
                "apiVersion: example.com/v1\nkind: SopsDecryptor\nmetadata:\n  name: sops\n",
            ),
        ],
        "",
    );
    assert!(
        err.contains("exec and Go plugins are not supported"),
        "{err}"
    );
    assert!(err.contains("SopsDecryptor"), "{err}");
}

#[test]
fn bad_patches_are_errors_and_unmatched_targets_are_not() {
    let err = error(
        &[
            (
                "kustomization.yaml",
                "resources: [cm.yaml]\npatches:\n- target: {kind: ConfigMap}\n  patch: '[{\"op\": \"frobnicate\", \"path\": \"/data\"}]'\n",
            ),
            ("cm.yaml", CM),
        ],
        "",
    );
    assert!(err.starts_with("kustomization.yaml: "), "{err}");
    assert!(err.contains("frobnicate"), "{err}");

    let err = error(
        &[
            (
                "kustomization.yaml",
                "resources: [cm.yaml]\npatchesStrategicMerge: [p.yaml]\n",
            ),
            ("cm.yaml", CM),
            (
                "p.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\ndata: {a: b}\n",
            ),
        ],
        "",
    );
    assert!(
        err.contains("no matches for Id ConfigMap.v1.[noGrp]/other"),
        "{err}"
    );

    // A targeted patch that selects nothing changes nothing, as in kustomize.
    let (_dir, tree) = make_tree(&[
        (
            "kustomization.yaml",
            "resources: [cm.yaml]\npatches:\n- target: {kind: Secret}\n  patch: '[{\"op\": \"add\", \"path\": \"/data\", \"value\": {}}]'\n",
        ),
        ("cm.yaml", CM),
    ]);
    let manifests = Kustomize::new().render_sync(&tree, "").expect("render");
    assert_eq!(manifests.len(), 1);
    assert!(manifests[0].object().get("data").is_none());
}

#[test]
fn a_directory_without_a_kustomization_is_named() {
    let err = error(
        &[
            ("kustomization.yaml", "resources: [base]\n"),
            ("base/cm.yaml", CM),
        ],
        "",
    );
    // The kustomization that names the directory, the entry, and what is missing.
    assert_eq!(
        err,
        "kustomization.yaml: accumulating resources: base: unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory"
    );
}

#[test]
fn helm_charts_need_helm_and_a_vendored_chart() {
    let err = error(
        &[
            ("kustomization.yaml", "helmCharts:\n- name: podinfo\n"),
            (
                "charts/podinfo/Chart.yaml",
                "apiVersion: v2\nname: podinfo\nversion: 1.0.0\n",
            ),
        ],
        "",
    );
    assert!(err.contains("need helm"), "{err}");
    assert!(err.contains("--enable-helm"), "{err}");

    let (_dir, tree) = make_tree(&[(
        "kustomization.yaml",
        "helmCharts:\n- name: minecraft\n  repo: https://itzg.github.io/minecraft-server-charts\n  version: 3.1.3\n",
    )]);
    let err = Kustomize::new()
        .with_helm(converge_render::Helm::new())
        .render_sync(&tree, "")
        .expect_err("no chart in charts/")
        .to_string();
    assert!(
        err.contains("charts are not downloaded; vendor it"),
        "{err}"
    );
}

#[test]
fn a_re_render_parses_only_the_files_that_changed() {
    let mut files: Vec<(String, String)> = vec![(
        "base/kustomization.yaml".to_owned(),
        format!(
            "resources:\n{}",
            (0..20)
                .map(|i| format!("- cm-{i}.yaml\n"))
                .collect::<String>()
        ),
    )];
    for i in 0..20 {
        files.push((
            format!("base/cm-{i}.yaml"),
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata: {{n: \"{i}\"}}\n"
            ),
        ));
    }
    files.push((
        "overlay/kustomization.yaml".to_owned(),
        "resources: [../base]\nnamePrefix: dev-\n".to_owned(),
    ));
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let (dir, tree) = make_tree(&borrowed);
    let cache = converge_render::ParseCache::new(100);
    let cached = Kustomize::new().with_cache(cache.clone());
    let first = cached.render_sync(&tree, "overlay").expect("cold render");
    assert_eq!(cache.stats(), (0, 20));

    std::fs::write(
        dir.path().join("base/cm-7.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-7\ndata: {n: changed}\n",
    )
    .expect("write");
    let warm = cached.render_sync(&tree, "overlay").expect("warm render");
    assert_eq!(
        cache.stats(),
        (1, 21),
        "only the changed file is parsed again (and looked up once more)"
    );
    assert_eq!(cache.renders().incremental, 1);
    let cold = Kustomize::new()
        .render_sync(&tree, "overlay")
        .expect("uncached render");
    assert_eq!(warm, cold, "the cache changes nothing in the output");
    assert_ne!(warm, first);

    // Renders on several threads share one cache.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                let again = cached.render_sync(&tree, "overlay").expect("render");
                assert_eq!(again, cold);
            });
        }
    });
    assert_eq!(cache.stats().1, 21, "nothing more to parse");
}

#[test]
fn the_cache_is_bounded() {
    let (dir, tree) = make_tree(&[
        (
            "kustomization.yaml",
            "resources: [a.yaml, b.yaml, c.yaml]\n",
        ),
        ("a.yaml", CM),
        (
            "b.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: b\n",
        ),
        (
            "c.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: c\n",
        ),
    ]);
    let cache = converge_render::ParseCache::new(2);
    let renderer = Kustomize::new().with_cache(cache.clone());
    renderer.render_sync(&tree, "").expect("render");
    // A changed kustomization needs a full build.
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "resources: [a.yaml, b.yaml, c.yaml] # again\n",
    )
    .expect("write");
    renderer.render_sync(&tree, "").expect("render");
    assert_eq!(cache.renders().full, 2);
    // Two entries fit: a.yaml was dropped for c.yaml, so every file is parsed again in turn.
    assert_eq!(cache.stats(), (0, 6));
    drop(dir);
}
