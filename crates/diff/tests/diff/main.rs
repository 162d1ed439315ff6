//! Comparing manifest sets read from YAML, and the unified diffs shown for them; the patch
//! algebra against the public conformance suites.

mod json_patch;
mod managed;
mod merge_patch;
mod plan;
mod properties;
mod schema;
mod ssa;
mod strategic;
mod support;
mod three_way;

use converge_core::parse_manifests;
use converge_diff::{Action, SetDiff, TextDiffOptions, compare, unified_diff};

fn diff(base: &str, head: &str) -> SetDiff {
    compare(
        parse_manifests("base.yaml", base.as_bytes()).expect("base"),
        parse_manifests("head.yaml", head.as_bytes()).expect("head"),
    )
    .expect("compare")
}

fn text(diff: &SetDiff) -> String {
    let options = TextDiffOptions::default().with_labels("LIVE", "MERGED");
    diff.differences()
        .map(|e| unified_diff(e, &options).expect("diff"))
        .collect()
}

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: web
        image: web:1
      - name: sidecar
        image: proxy:1
";

#[test]
fn key_order_is_not_a_change_but_list_order_is() {
    let reordered = "\
kind: Deployment
metadata:
  namespace: prod
  name: web
apiVersion: apps/v1
spec:
  template:
    spec:
      containers:
      - image: web:1
        name: web
      - name: sidecar
        image: proxy:1
  replicas: 2
";
    let same = diff(DEPLOYMENT, reordered);
    assert!(same.is_empty());
    assert_eq!(same.entries[0].action, Action::Unchanged);
    assert_eq!(text(&same), "");

    let swapped = DEPLOYMENT
        .replace("web:1", "TMP")
        .replace("proxy:1", "web:1")
        .replace("TMP", "proxy:1");
    assert_eq!(
        diff(DEPLOYMENT, &swapped).entries[0].action,
        Action::Changed
    );
}

#[test]
fn a_changed_object_is_shown_like_kubectl_diff() {
    let head = DEPLOYMENT
        .replace("replicas: 2", "replicas: 3")
        .replace("web:1", "web:2");
    assert_eq!(
        text(&diff(DEPLOYMENT, &head)),
        "\
diff -u -N LIVE/apps.v1.Deployment.prod.web MERGED/apps.v1.Deployment.prod.web
--- LIVE/apps.v1.Deployment.prod.web
+++ MERGED/apps.v1.Deployment.prod.web
@@ -4,11 +4,11 @@
   name: web
   namespace: prod
 spec:
-  replicas: 2
+  replicas: 3
   template:
     spec:
       containers:
-      - image: web:1
+      - image: web:2
         name: web
       - image: proxy:1
         name: sidecar
"
    );
}

#[test]
fn a_new_api_version_is_the_same_object_changed() {
    let base =
        "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: web\n";
    let head =
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: web\n";
    let result = diff(base, head);
    assert_eq!(result.entries.len(), 1);
    assert_eq!(result.entries[0].action, Action::Changed);
    assert_eq!(result.entries[0].id.version, "v2");
    assert!(text(&result).contains("-apiVersion: autoscaling/v1\n+apiVersion: autoscaling/v2\n"));
}

#[test]
fn added_and_removed_objects_diff_against_nothing() {
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n";
    let result = diff(ns, DEPLOYMENT);
    let actions: Vec<_> = result
        .entries
        .iter()
        .map(|e| (e.id.to_string(), e.action))
        .collect();
    assert_eq!(
        actions,
        [
            ("v1 Namespace prod".to_owned(), Action::Removed),
            ("apps/v1 Deployment prod/web".to_owned(), Action::Added),
        ]
    );
    let shown = text(&result);
    assert!(
        shown.starts_with("diff -u -N LIVE/v1.Namespace..prod MERGED/v1.Namespace..prod\n"),
        "{shown}"
    );
    assert!(
        shown.contains("@@ -1,4 +0,0 @@\n-apiVersion: v1\n"),
        "{shown}"
    );
    assert!(
        shown.contains("@@ -0,0 +1,14 @@\n+apiVersion: apps/v1\n"),
        "{shown}"
    );
    assert_eq!(
        result.summary().to_string(),
        "1 added, 0 changed, 1 removed, 0 unchanged"
    );
}

#[test]
fn secret_values_never_show() {
    let base = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: '{\"data\":{\"password\":\"b2xk\"}}'\ndata:\n  password: b2xk\n  user: YWRtaW4=\n";
    let head = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: '{\"data\":{\"password\":\"bmV3\"}}'\ndata:\n  password: bmV3\n  user: YWRtaW4=\n  token: dG9rZW4=\n";
    let shown = text(&diff(base, head));
    for value in ["b2xk", "bmV3", "YWRtaW4=", "dG9rZW4="] {
        assert!(!shown.contains(value), "{value} shown in {shown}");
    }
    assert!(shown.contains("-  password: \"*** (before)\"\n+  password: \"*** (after)\"\n+  token: \"***\"\n   user: \"***\"\n"), "{shown}");
    assert!(
        shown.contains("-    kubectl.kubernetes.io/last-applied-configuration: \"*** (before)\""),
        "{shown}"
    );

    // Removing a Secret shows its keys, masked.
    let removed = text(&diff(base, ""));
    assert!(
        removed.contains("-  password: \"***\"\n") && !removed.contains("b2xk"),
        "{removed}"
    );
}

#[test]
fn a_set_that_defines_an_object_twice_is_refused() {
    let twice = format!("{DEPLOYMENT}---\n{DEPLOYMENT}");
    let err = compare(
        parse_manifests("base.yaml", DEPLOYMENT.as_bytes()).expect("base"),
        parse_manifests("head.yaml", twice.as_bytes()).expect("head"),
    )
    .expect_err("duplicate");
    assert_eq!(err.to_string(), "the head set defines an object twice");
    let cause = std::error::Error::source(&err).expect("the duplicate");
    assert_eq!(
        cause.to_string(),
        "apps Deployment prod/web is defined twice: in head.yaml:1 and in head.yaml:16"
    );
}
