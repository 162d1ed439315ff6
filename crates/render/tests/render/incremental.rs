//! Incremental re-renders (a [`ParseCache`] given to [`Kustomize`]) against full renders of the
//! same edited trees: kustomize's own cases and the corpus trees, each resource file edited in
//! turn.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use converge_core::{DirTree, EntryKind, FileTree, TreeEntry, parse_documents, to_yaml_stream};
use converge_render::{Kustomize, ParseCache};
use serde_json::Value;

fn shared() -> PathBuf {
    std::env::var_os("CONVERGE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// A directory tree with some files' contents replaced in memory.
#[derive(Debug)]
struct Edited {
    tree: DirTree,
    edits: Mutex<HashMap<String, Vec<u8>>>,
}

impl Edited {
    fn new(root: &Path) -> Edited {
        Edited {
            tree: DirTree::new(root).expect("tree"),
            edits: Mutex::new(HashMap::new()),
        }
    }

    fn set(&self, path: &str, contents: Option<Vec<u8>>) {
        let mut edits = self.edits.lock().expect("lock");
        match contents {
            Some(contents) => edits.insert(path.to_owned(), contents),
            None => edits.remove(path),
        };
    }
}

impl FileTree for Edited {
    fn kind(&self, path: &str) -> Result<Option<EntryKind>, converge_core::Error> {
        self.tree.kind(path)
    }

    fn list(&self, path: &str) -> Result<Vec<TreeEntry>, converge_core::Error> {
        self.tree.list(path)
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, converge_core::Error> {
        if let Some(contents) = self.edits.lock().expect("lock").get(path) {
            return Ok(contents.clone());
        }
        self.tree.read(path)
    }
}

/// Every file under `dir` (tree paths relative to `root`) that holds Kubernetes objects and is
/// not a kustomization.
fn object_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            object_files(root, &path, out);
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !(name.ends_with(".yaml") || name.ends_with(".yml")) || name.starts_with("kustomization")
        {
            continue;
        }
        let Ok(text) = std::fs::read(&path) else {
            continue;
        };
        let objects = parse_documents(name, &text).is_ok_and(|docs| {
            !docs.is_empty()
                && docs
                    .iter()
                    .all(|d| d.value.get("kind").is_some() && d.value.get("metadata").is_some())
        });
        if objects {
            let relative = path.strip_prefix(root).expect("under root");
            out.push(relative.to_string_lossy().into_owned());
        }
    }
}

/// `text`'s documents with an annotation added to each and, when `rename`, each name changed.
fn edit(text: &[u8], round: usize, rename: bool) -> Option<Vec<u8>> {
    let mut docs: Vec<Value> = parse_documents("edit", text)
        .ok()?
        .into_iter()
        .map(|d| d.value)
        .collect();
    for doc in &mut docs {
        let meta = doc.get_mut("metadata")?.as_object_mut()?;
        let annotations = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()));
        annotations
            .as_object_mut()?
            .insert("test.converge.dev/edit".into(), round.to_string().into());
        if rename && let Some(Value::String(name)) = meta.get_mut("name") {
            name.push_str("-renamed");
        }
    }
    to_yaml_stream(&docs).ok().map(String::into_bytes)
}

/// Renders `path` of `tree` with the caching renderer and with a fresh one, which must agree.
fn agree(cached: &Kustomize, tree: &Edited, path: &str, what: &str) -> Result<(), String> {
    let warm = cached.render_sync(tree, path);
    let cold = Kustomize::new().render_sync(tree, path);
    match (warm, cold) {
        (Ok(warm), Ok(cold)) => {
            let warm: Vec<_> = warm.iter().map(|m| (m.object(), m.origin())).collect();
            let cold: Vec<_> = cold.iter().map(|m| (m.object(), m.origin())).collect();
            if warm == cold {
                Ok(())
            } else {
                Err(format!("{what}: the re-render differs from a full render"))
            }
        }
        (Err(warm), Err(cold)) if warm.to_string() == cold.to_string() => Ok(()),
        (warm, cold) => Err(format!(
            "{what}: re-render {:?}, full render {:?}",
            warm.map(|m| m.len()),
            cold.map(|m| m.len())
        )),
    }
}

/// Edits object files under `scope` of the tree at `root` in turn (at most `limit` of them;
/// an annotation, then a rename) and checks every re-render of `path`. The renders counted by
/// the cache.
fn check_tree(
    root: &Path,
    path: &str,
    scope: &str,
    limit: usize,
    failures: &mut Vec<String>,
) -> converge_render::Renders {
    let cache = ParseCache::new(10_000);
    let renderer = Kustomize::new().with_cache(cache.clone());
    let tree = Edited::new(root);
    if renderer.render_sync(&tree, path).is_err() {
        return cache.renders();
    }
    let mut files = Vec::new();
    object_files(root, &root.join(scope), &mut files);
    // At most `limit` files, spread over the tree.
    let step = files.len().div_ceil(limit).max(1);
    for (round, file) in files.iter().enumerate().step_by(step) {
        let original = std::fs::read(root.join(file)).expect("read");
        for rename in [false, true] {
            let Some(edited) = edit(&original, round, rename) else {
                continue;
            };
            tree.set(file, Some(edited));
            let what = format!(
                "{} {path}: {file} edited (rename: {rename})",
                root.display()
            );
            if let Err(why) = agree(&renderer, &tree, path, &what) {
                failures.push(why);
            }
            tree.set(file, None);
            let what = format!("{} {path}: {file} restored", root.display());
            if let Err(why) = agree(&renderer, &tree, path, &what) {
                failures.push(why);
            }
        }
    }
    cache.renders()
}

#[test]
fn re_renders_of_kustomize_cases_equal_full_renders() {
    let dir = shared().join("conformance/kustomize");
    if !dir.is_dir() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the kustomize conformance cases are missing; CI=true requires them"
        );
        eprintln!("*** SKIPPED: no kustomize conformance cases ***");
        return;
    }
    let index = std::fs::read_to_string(dir.join("index.tsv")).expect("index.tsv");
    let mut failures = Vec::new();
    let mut total = converge_render::Renders::default();
    for row in index.lines().skip(1) {
        let fields: Vec<&str> = row.split('\t').collect();
        let (name, kind, root, flags) = (fields[0], fields[1], fields[2], fields[3]);
        if kind == "error" || flags.contains("--") {
            continue;
        }
        let root = if root == "." { "" } else { root };
        let case = dir.join("cases").join(name).join("in");
        let renders = check_tree(&case, root, "", usize::MAX, &mut failures);
        total.unchanged += renders.unchanged;
        total.incremental += renders.incremental;
        total.full += renders.full;
    }
    eprintln!("kustomize cases re-rendered: {total:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(total.incremental > 0 && total.unchanged > 0, "{total:?}");
}

#[test]
fn re_renders_of_corpus_trees_equal_full_renders() {
    let corpus = shared().join("corpus");
    if !corpus.is_dir() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the corpus is missing; CI=true requires it"
        );
        eprintln!("*** SKIPPED: no corpus ***");
        return;
    }
    let index = std::fs::read_to_string(corpus.join("EXPECTED.tsv")).expect("EXPECTED.tsv");
    let mut failures = Vec::new();
    let mut total = converge_render::Renders::default();
    for row in index.lines().skip(1) {
        let fields: Vec<&str> = row.split('\t').collect();
        if !fields[1].starts_with("kubectl kustomize") {
            continue;
        }
        // The files of the project the tree belongs to.
        let project = fields[0].split('/').next().unwrap_or_default();
        let renders = check_tree(&corpus, fields[0], project, 4, &mut failures);
        total.unchanged += renders.unchanged;
        total.incremental += renders.incremental;
        total.full += renders.full;
    }
    eprintln!("corpus trees re-rendered: {total:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(total.incremental > 0, "{total:?}");
}

#[test]
fn only_changed_resource_files_are_built_again() {
    let (dir, tree) = super::make_tree(&[
        (
            "base/kustomization.yaml",
            "resources: [web.yaml, db.yaml]\n",
        ),
        (
            "base/web.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: web:1\n        envFrom: [{configMapRef: {name: settings}}]\n",
        ),
        (
            "base/db.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec: {ports: [{port: 5432}]}\n",
        ),
        (
            "prod/kustomization.yaml",
            "resources: [../base]\nnamePrefix: prod-\nnamespace: shop\nconfigMapGenerator:\n- {name: settings, literals: [color=blue]}\npatches:\n- path: replicas.yaml\n",
        ),
        (
            "prod/replicas.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 3}\n",
        ),
    ]);
    let cache = ParseCache::new(100);
    let renderer = Kustomize::new().with_cache(cache.clone());
    let render = || renderer.render_sync(&tree, "prod").expect("render");
    let fresh = || Kustomize::new().render_sync(&tree, "prod").expect("render");
    let write =
        |path: &str, text: &str| std::fs::write(dir.path().join(path), text).expect("write");
    let counts = |unchanged, incremental, full| {
        let renders = cache.renders();
        assert_eq!(
            (renders.unchanged, renders.incremental, renders.full),
            (unchanged, incremental, full)
        );
    };

    assert_eq!(render(), fresh());
    counts(0, 0, 1);
    assert_eq!(render(), fresh());
    counts(1, 0, 1);

    // A new image: only web.yaml goes through the build again, with the overlay's prefix,
    // namespace, patch and the generated name of the ConfigMap it reads.
    write(
        "base/web.yaml",
        &std::fs::read_to_string(dir.path().join("base/web.yaml"))
            .expect("read")
            .replace("web:1", "web:2"),
    );
    let manifests = render();
    counts(1, 1, 1);
    assert_eq!(manifests, fresh());
    let web = manifests
        .iter()
        .find(|m| m.id().kind == "Deployment")
        .expect("web");
    assert_eq!(web.id().to_string(), "apps/v1 Deployment shop/prod-web");
    let container = &web.object()["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "web:2");
    assert!(
        container["envFrom"][0]["configMapRef"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("prod-settings-")),
        "{container}"
    );
    assert_eq!(web.object()["spec"]["replicas"], 3);

    // A patch changed: a full build.
    write(
        "prod/replicas.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 4}\n",
    );
    assert_eq!(render(), fresh());
    counts(1, 1, 2);

    // A renamed object: a full build, which finds the patch's target gone.
    write(
        "base/web.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\n",
    );
    let error = renderer
        .render_sync(&tree, "prod")
        .expect_err("the patch has no target");
    counts(1, 1, 3);
    assert!(
        error.to_string().contains("prod/kustomization.yaml"),
        "{error}"
    );
    write(
        "base/web.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
    );
    assert_eq!(render(), fresh());
    counts(1, 1, 4);

    // vars read one object to change others: every change is a full build.
    write(
        "prod/kustomization.yaml",
        "resources: [../base]\nvars:\n- name: DB\n  objref: {kind: Service, name: db, apiVersion: v1}\n",
    );
    assert_eq!(render(), fresh());
    write(
        "base/db.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec: {ports: [{port: 5433}]}\n",
    );
    assert_eq!(render(), fresh());
    counts(1, 1, 6);
}
