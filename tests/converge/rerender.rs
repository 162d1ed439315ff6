//! Re-rendering revisions of a git repository through one `ParseCache`: the tree names its
//! files by blob id, so unchanged files are neither read nor parsed again.

use converge::render::{Kustomize, ParseCache};
use converge::source::{GitSource, Reference, Source};

use crate::support::Repo;

fn app(i: usize, color: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{i}\ndata:\n  color: {color}\n"
    )
}

#[tokio::test]
async fn a_commit_that_changes_one_file_re_renders_that_file_alone() {
    let mut repo = Repo::new();
    let mut kustomization = String::from("namePrefix: prod-\nresources:\n");
    for i in 0..20 {
        repo.write(&format!("deploy/app-{i}.yaml"), &app(i, "blue"));
        kustomization.push_str(&format!("- app-{i}.yaml\n"));
    }
    repo.write("deploy/kustomization.yaml", &kustomization);
    repo.commit("twenty applications");
    let source = GitSource::new(repo.url()).expect("source");
    let cache = ParseCache::new(1_000);
    let renderer = Kustomize::new().with_cache(cache.clone());

    let first = source.fetch(&Reference::Default).await.expect("fetch");
    let rendered = renderer
        .render_sync(first.tree.as_ref(), "deploy")
        .expect("render");
    assert_eq!(rendered.len(), 20);
    assert_eq!(cache.stats(), (0, 20));

    repo.write("deploy/app-7.yaml", &app(7, "red"));
    repo.commit("app 7 goes red");
    let second = source.fetch(&Reference::Default).await.expect("fetch");
    let again = renderer
        .render_sync(second.tree.as_ref(), "deploy")
        .expect("re-render");
    let renders = cache.renders();
    assert_eq!((renders.full, renders.incremental), (1, 1));
    // Only app-7.yaml was parsed again; the others were known by their blob ids.
    assert_eq!(cache.stats().1, 21);
    let seven = again
        .iter()
        .find(|m| m.id().name == "prod-app-7")
        .expect("app 7");
    assert_eq!(seven.object()["data"]["color"], "red");
    assert_eq!(
        again,
        Kustomize::new()
            .render_sync(second.tree.as_ref(), "deploy")
            .expect("full render"),
        "the re-render is what a full render gives"
    );

    // A fresh renderer over the same cache: a full build, but no file parsed again.
    let parsed = cache.stats().1;
    let other = Kustomize::new().with_cache(cache.clone());
    let _ = other
        .render_sync(second.tree.as_ref(), "deploy")
        .expect("render");
    assert_eq!(cache.stats().1, parsed);
}
