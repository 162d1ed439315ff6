//! Post-build variable substitution: the text syntax, manifests, and the `Substitute` wrapper
//! over the plain renderer on real directory trees.

use crate::make_tree;
use std::collections::BTreeMap;

use converge_core::{Manifest, Origin, Value, parse_manifests};
use converge_render::{
    Error, PlainYaml, Renderer, SUBSTITUTE_ANNOTATION, Substitute, substitute_manifests,
    substitute_text,
};
use serde_json::json;

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Substitutes `text` with `pairs`, returning the text or the error's message.
fn text(text: &str, pairs: &[(&str, &str)], strict: bool) -> Result<String, String> {
    substitute_text("f.yaml", text, &vars(pairs), strict).map_err(|e| match e {
        Error::Substitution { object, message } => {
            assert_eq!(object, "f.yaml");
            message
        }
        other => panic!("expected a substitution error, got {other:?}"),
    })
}

/// Reads the manifests of one YAML file.
fn manifests(yaml: &str) -> Vec<Manifest> {
    parse_manifests("app/m.yaml", yaml.as_bytes()).expect("parse")
}

/// Substitutes the manifests of `yaml`, returning their objects.
fn objects(yaml: &str, pairs: &[(&str, &str)], strict: bool) -> Result<Vec<Value>, Error> {
    substitute_manifests(manifests(yaml), &vars(pairs), strict)
        .map(|out| out.into_iter().map(Manifest::into_object).collect())
}

#[test]
fn every_syntax_form() {
    let set = [("ENV", "prod"), ("ZONE", "b")];
    for (input, want) in [
        ("${ENV}", "prod"),
        ("env=${ENV}!", "env=prod!"),
        ("${ENV}${ZONE}", "prodb"),
        ("${ENV:=dev}", "prod"),
        ("${ENV:-dev}", "prod"),
        ("${ENV=dev}", "prod"),
        ("${ENV-dev}", "prod"),
        ("${TIER:=web}", "web"),
        ("${TIER:-web}", "web"),
        ("${TIER=web}", "web"),
        ("${TIER-web}", "web"),
        ("${MY-VAR}", "VAR"),
        ("${TIER:=}", ""),
        ("${TIER:=a b: c}", "a b: c"),
        ("${TIER:=${ENV}-${ZONE}}", "prod-b"),
        ("${TIER:=${REGION:=eu}-1}", "eu-1"),
        ("${_private_1:-x}", "x"),
        ("no references at all", "no references at all"),
    ] {
        assert_eq!(text(input, &set, true).as_deref(), Ok(want), "{input}");
    }
}

#[test]
fn defaults_replace_empty_values_too() {
    let set = [("EMPTY", "")];
    // Bash's `:-` and `:=` take the default for an empty value; Flux's envsubst does the same
    // for `-` and `=`.
    for input in ["${EMPTY:=d}", "${EMPTY:-d}", "${EMPTY=d}", "${EMPTY-d}"] {
        assert_eq!(text(input, &set, true).as_deref(), Ok("d"), "{input}");
    }
    // An empty value is a value: no error in strict mode.
    assert_eq!(text("[${EMPTY}]", &set, true).as_deref(), Ok("[]"));
}

#[test]
fn escapes_and_unbraced_dollars_are_kept() {
    let set = [("VAR", "v")];
    for (input, want) in [
        ("$${VAR}", "${VAR}"),
        ("$${MISSING}", "${MISSING}"),
        ("$${VAR:=x} ${VAR}", "${VAR:=x} v"),
        ("$VAR", "$VAR"),
        ("$VAR${VAR}", "$VARv"),
        ("cost: $5", "cost: $5"),
        ("$(date)", "$(date)"),
        ("$$", "$$"),
        ("$", "$"),
        ("a $ {VAR}", "a $ {VAR}"),
    ] {
        assert_eq!(text(input, &set, true).as_deref(), Ok(want), "{input}");
    }

    // In a manifest, an escaped reference survives as a reference for the program that reads
    // it, and is not substituted a second time.
    let out = objects(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\ndata:\n  run.sh: |\n    echo \"$${HOME} $HOME\"\n    echo ${VAR}\n",
        &set,
        true,
    )
    .expect("substitute");
    assert_eq!(out[0]["data"]["run.sh"], "echo \"${HOME} $HOME\"\necho v\n");
}

#[test]
fn strict_mode_fails_on_a_missing_variable_and_names_it() {
    assert_eq!(
        text("replicas: ${REPLICAS}", &[], true).expect_err("must fail"),
        r#"variable not set (strict mode): "REPLICAS""#
    );
    // A default makes a missing variable fine.
    assert_eq!(text("${REPLICAS:=1}", &[], true).as_deref(), Ok("1"));

    let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\nspec:\n  replicas: ${REPLICAS}\n";
    let err = objects(yaml, &[("OTHER", "x")], true).expect_err("must fail");
    assert_eq!(
        err.to_string(),
        r#"Deployment prod/web: substitution: variable not set (strict mode): "REPLICAS""#
    );
    assert!(matches!(
        err,
        Error::Substitution { ref object, .. } if object == "Deployment prod/web"
    ));
    // Cluster-scoped objects are named without a namespace.
    let err = objects(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n  labels:\n    env: ${ENV}\n",
        &[],
        true,
    )
    .expect_err("must fail");
    assert_eq!(
        err.to_string(),
        r#"Namespace apps: substitution: variable not set (strict mode): "ENV""#
    );
}

#[test]
fn without_strict_mode_a_missing_variable_is_empty() {
    assert_eq!(text("a${MISSING}b", &[], false).as_deref(), Ok("ab"));
    let out = objects(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  url: https://${HOST}/x\n  alone: ${HOST}\n",
        &[],
        false,
    )
    .expect("substitute");
    assert_eq!(out[0]["data"]["url"], "https:///x");
    // `alone: ` reads back as null, as it does in Flux.
    assert_eq!(out[0]["data"]["alone"], Value::Null);
}

#[test]
fn objects_labelled_or_annotated_disabled_are_left_alone() {
    let yaml = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: by-annotation\n  annotations:\n    {SUBSTITUTE_ANNOTATION}: disabled\ndata:\n  a: ${{MISSING}} ${{ENV}}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: by-label\n  labels:\n    {SUBSTITUTE_ANNOTATION}: disabled\ndata:\n  a: ${{MISSING}} ${{ENV}}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other-value\n  annotations:\n    {SUBSTITUTE_ANNOTATION}: enabled\ndata:\n  a: ${{ENV}}\n"
    );
    let out = objects(&yaml, &[("ENV", "prod")], true).expect("disabled objects are skipped");
    assert_eq!(out[0]["data"]["a"], "${MISSING} ${ENV}");
    assert_eq!(out[1]["data"]["a"], "${MISSING} ${ENV}");
    assert_eq!(out[2]["data"]["a"], "prod");
}

#[test]
fn an_unterminated_reference_is_an_error() {
    assert_eq!(
        text("image: web:${TAG\nnext: line\n", &[("TAG", "1")], false).expect_err("must fail"),
        r#"missing closing brace: "${TAG" has no matching }"#
    );
    assert_eq!(
        text("${A:=${B}", &[], false).expect_err("must fail"),
        r#"missing closing brace: "${A:=${B}" has no matching }"#
    );
    assert!(text("trailing ${", &[], false).is_err());
    let err = objects(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: x${A\n",
        &[("A", "1")],
        false,
    )
    .expect_err("must fail");
    assert_eq!(
        err.to_string(),
        r#"ConfigMap c: substitution: missing closing brace: "${A" has no matching }"#
    );
}

#[test]
fn bad_variable_names_are_refused() {
    // In the variables, as Flux checks them.
    for bad in ["1ENV", "MY-VAR", "a.b", "", "ÉTÉ"] {
        assert_eq!(
            text("no references", &[("OK", "1"), (bad, "x")], false).expect_err("must fail"),
            format!("variable name {bad:?} is invalid: it must match ^[_a-zA-Z][_a-zA-Z0-9]*$"),
        );
    }
    // In references.
    for reference in [
        "${1ENV}",
        "${my var}",
        "${a.b}",
        "${}",
        "${ ENV}",
        "${env.HOST}",
    ] {
        assert_eq!(
            text(&format!("x: {reference}"), &[("ENV", "1")], false).expect_err("must fail"),
            format!(
                "invalid variable name in {reference:?}: a name must match ^[_a-zA-Z][_a-zA-Z0-9]*$"
            ),
        );
    }
}

#[test]
fn expansions_other_than_defaults_are_refused() {
    for reference in [
        "${ENV^^}",
        "${ENV,}",
        "${#ENV}",
        "${ENV:1}",
        "${ENV:1:2}",
        "${ENV/a/b}",
        "${ENV//a/b}",
        "${ENV#p}",
        "${ENV%%s}",
        "${ENV:+x}",
        "${ENV:?x}",
    ] {
        let err = text(reference, &[("ENV", "prod")], false).expect_err("must fail");
        assert!(
            err.starts_with(&format!(
                "unsupported expansion {reference:?}: only ${{VAR}}"
            )),
            "{reference}: {err}"
        );
    }
}

#[test]
fn multi_line_values_and_texts() {
    // Line breaks in a value are dropped, as Flux drops them when it loads variables: a
    // value (a Secret's, say, with its trailing newline) cannot add lines to the YAML.
    let set = [("TOKEN", "abc\n"), ("CERT", "line1\nline2\nline3\n")];
    assert_eq!(
        text("t: ${TOKEN}\nc: ${CERT}\n", &set, true).as_deref(),
        Ok("t: abc\nc: line1line2line3\n")
    );
    let out = objects(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  token: ${TOKEN}\n  cert: ${CERT}\n",
        &set,
        true,
    )
    .expect("substitute");
    assert_eq!(out[0]["stringData"]["token"], "abc");
    assert_eq!(out[0]["stringData"]["cert"], "line1line2line3");

    // A multi-line text (a `|` block) is substituted on every line and stays a block.
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: script\ndata:\n  run.sh: |\n    #!/bin/sh\n    echo ${GREETING:=hello}\n    curl https://${HOST}/ping\n    echo done\n";
    let out = objects(yaml, &[("HOST", "api.example.com")], true).expect("substitute");
    assert_eq!(
        out[0]["data"]["run.sh"],
        "#!/bin/sh\necho hello\ncurl https://api.example.com/ping\necho done\n"
    );
}

#[test]
fn values_are_read_as_yaml_after_substitution() {
    let yaml = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  annotations:\n    id: ${quote}${id}${quote}\n    enabled: ${quote}${enabled}${quote}\nspec:\n  replicas: ${id}\n  enabled: ${enabled}\n  ratio: ${ratio}\n  list: ${list}\n  text: v${id}\n";
    let set = [
        ("id", "123"),
        ("enabled", "true"),
        ("ratio", "0.5"),
        ("list", "[a, b]"),
        ("quote", "\""),
    ];
    let out = objects(yaml, &set, true).expect("substitute");
    // As in Flux: a number or boolean value becomes a number or boolean...
    assert_eq!(out[0]["spec"]["replicas"], json!(123));
    assert_eq!(out[0]["spec"]["enabled"], json!(true));
    assert_eq!(out[0]["spec"]["ratio"], json!(0.5));
    assert_eq!(out[0]["spec"]["list"], json!(["a", "b"]));
    assert_eq!(out[0]["spec"]["text"], json!("v123"));
    // ...unless quoted, which Flux documents as a `quote` variable holding `"`.
    assert_eq!(out[0]["metadata"]["annotations"]["id"], json!("123"));
    assert_eq!(out[0]["metadata"]["annotations"]["enabled"], json!("true"));

    // A value that breaks the YAML is an error naming the object.
    let err = objects(
        yaml,
        &[
            ("list", "[a, b"),
            ("id", "1"),
            ("enabled", "x"),
            ("ratio", "1"),
            ("quote", ""),
        ],
        true,
    )
    .expect_err("must fail");
    let message = err.to_string();
    assert!(
        message.starts_with(
            "ServiceAccount app: substitution: the substituted object is not valid YAML (line "
        ),
        "{message}"
    );
    // A value that removes the name is an error naming the object and its file.
    let err = objects(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${NAME}\n",
        &[],
        false,
    )
    .expect_err("must fail");
    assert_eq!(
        err.to_string(),
        "ConfigMap ${NAME}: substitution: app/m.yaml:1: document 0 is not a Kubernetes object: missing metadata.name"
    );
}

#[test]
fn manifests_keep_their_origin_and_get_a_new_identity() {
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n# c\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-${ENV}\n  namespace: ${NS:=apps}\n";
    let out =
        substitute_manifests(manifests(yaml), &vars(&[("ENV", "prod")]), true).expect("substitute");
    let ids: Vec<String> = out
        .iter()
        .map(|m| format!("{} @ {}", m.id(), m.origin()))
        .collect();
    assert_eq!(
        ids,
        [
            "v1 ConfigMap a @ app/m.yaml:1",
            "apps/v1 Deployment apps/web-prod @ app/m.yaml:7"
        ]
    );
    // An object whose name ends in `.json` is still read back as YAML.
    let out = substitute_manifests(
        manifests(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config.json\ndata:\n  k: ${V}\n",
        ),
        &vars(&[("V", "x")]),
        true,
    )
    .expect("substitute");
    assert_eq!(out[0].object()["data"]["k"], "x");
    // An object built in code, from no file, keeps its origin too.
    let m = Manifest::new(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gen"}, "data": {"k": "${V}"}}),
        Origin::new("generated", 3, 0),
    )
    .expect("manifest");
    let out = substitute_manifests(vec![m], &vars(&[("V", "x")]), true).expect("substitute");
    assert_eq!(out[0].origin(), &Origin::new("generated", 3, 0));
    assert_eq!(out[0].object()["data"]["k"], "x");
}

#[tokio::test]
async fn the_wrapper_substitutes_what_the_plain_renderer_renders() {
    let (_dir, tree) = make_tree(&[
        (
            "base/deploy.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: ${NS}\n  annotations:\n    note: built from ${BUILD}\nspec:\n  replicas: ${REPLICAS:=2}\n  template:\n    spec:\n      containers:\n      - name: web\n        image: registry.example.com/web:${TAG}\n        args: [\"--env=${ENV:-dev}\", \"--literal=$${ENV}\"]\n",
        ),
        (
            "base/script.yaml",
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: script\n  namespace: ${{NS}}\n  annotations:\n    {SUBSTITUTE_ANNOTATION}: disabled\ndata:\n  run.sh: echo ${{UNDEFINED_IN_FLUX}}\n"
            ),
        ),
        (
            "ns.json",
            r#"{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "${NS}"}}"#,
        ),
    ]);
    let renderer = Substitute::new(PlainYaml::new())
        .with_vars([("NS", "prod"), ("TAG", "1.2.3"), ("BUILD", "main")])
        .with_var("ENV", "production")
        .strict(true);
    let out = renderer.render(&tree, "").await.expect("render");
    let ids: Vec<String> = out
        .iter()
        .map(|m| format!("{} @ {}", m.id(), m.origin()))
        .collect();
    assert_eq!(
        ids,
        [
            "apps/v1 Deployment prod/web @ base/deploy.yaml:1",
            "v1 ConfigMap ${NS}/script @ base/script.yaml:1",
            "v1 Namespace prod @ ns.json:1",
        ]
    );
    let spec = &out[0].object()["spec"];
    assert_eq!(spec["replicas"], 2);
    let container = &spec["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.example.com/web:1.2.3");
    assert_eq!(
        container["args"],
        json!(["--env=production", "--literal=${ENV}"])
    );
    assert_eq!(
        out[1].object()["data"]["run.sh"],
        "echo ${UNDEFINED_IN_FLUX}"
    );

    assert_eq!(
        out[0].object()["metadata"]["annotations"]["note"],
        "built from main"
    );

    // Without BUILD, strict mode fails naming the object (as written, before substitution)
    // and the variable...
    let strict = Substitute::new(PlainYaml::new())
        .with_vars([("NS", "prod"), ("TAG", "1.2.3")])
        .strict(true);
    assert_eq!(
        strict
            .render(&tree, "")
            .await
            .expect_err("must fail")
            .to_string(),
        r#"Deployment ${NS}/web: substitution: variable not set (strict mode): "BUILD""#
    );
    // ...and otherwise BUILD is empty (and the plain scalar's trailing space goes when the
    // YAML is read back).
    let lenient = strict.clone().strict(false);
    let out = lenient.render(&tree, "base").await.expect("render");
    assert_eq!(
        out[0].object()["metadata"]["annotations"]["note"],
        "built from"
    );
    // An empty TAG leaves `image: registry.example.com/web:`, which is not YAML: the
    // render fails, as Flux's does.
    let err = Substitute::new(PlainYaml::new())
        .with_vars([("NS", "prod")])
        .render(&tree, "base")
        .await
        .expect_err("must fail")
        .to_string();
    assert!(
        err.starts_with(
            "Deployment ${NS}/web: substitution: the substituted object is not valid YAML (line "
        ),
        "{err}"
    );

    // Errors of the inner renderer pass through unchanged.
    assert_eq!(
        renderer
            .render(&tree, "missing")
            .await
            .expect_err("must fail")
            .to_string(),
        "missing: no such file or directory"
    );
}

#[tokio::test]
async fn the_wrapper_refuses_objects_that_substitution_makes_one() {
    let cm = |name: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n");
    let (_dir, tree) = make_tree(&[("a.yaml", &cm("${APP}")), ("b/c.yaml", &cm("web"))]);
    let renderer = Substitute::new(PlainYaml::new()).with_var("APP", "web");
    assert_eq!(
        renderer
            .render(&tree, "")
            .await
            .expect_err("must fail")
            .to_string(),
        "ConfigMap web is defined twice: in a.yaml:1 and in b/c.yaml:1"
    );
    // With another value there is nothing to refuse.
    let renderer = renderer.with_var("APP", "api");
    assert_eq!(renderer.render(&tree, "").await.expect("render").len(), 2);
}

#[tokio::test]
async fn the_wrapper_checks_variable_names() {
    let (_dir, tree) = make_tree(&[(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    )]);
    let renderer = Substitute::new(PlainYaml::new()).with_var("cluster-name", "x");
    assert_eq!(
        renderer
            .render(&tree, "")
            .await
            .expect_err("must fail")
            .to_string(),
        r#"ConfigMap c: substitution: variable name "cluster-name" is invalid: it must match ^[_a-zA-Z][_a-zA-Z0-9]*$"#
    );
    // Debug shows names, not values (they may come from Secrets).
    let secret = Substitute::new(PlainYaml::new()).with_var("TOKEN", "s3cr3t");
    let debug = format!("{secret:?}");
    assert!(
        debug.contains("TOKEN") && !debug.contains("s3cr3t"),
        "{debug}"
    );
}
