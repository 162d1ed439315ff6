//! Strategic merge patch against apimachinery's own test tables (v0.35.2, in
//! `../shared/conformance/strategicpatch/`), each run with the `mergeItem` and `precisionItem`
//! schemas read from the same OpenAPI v2 and v3 documents upstream reads; hand-made cases on
//! real kinds; and round-trip properties on random Deployments.

use std::path::{Path, PathBuf};

use converge_diff::Error;
use converge_diff::schema::{Schema, TypeRef};
use converge_diff::strategic::{
    apply_strategic_patch, create_three_way_strategic_patch, create_two_way_strategic_patch,
    sort_merge_lists,
};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::support;

// ---- the vectors ------------------------------------------------------------------------------

/// Cases upstream passes that we do not, each with its reason: (file, description, reason).
/// Empty: every case of every file passes.
const KNOWN: &[(&str, &str, &str)] = &[];

/// The two schema sources upstream runs every case with besides Go struct tags.
struct Schemas {
    v2: Schema,
    v3: Schema,
}

impl Schemas {
    fn load(dir: &Path, base: &str) -> Schemas {
        let testdata = dir.join("testdata");
        // The v2 file has a trailing comma (as upstream's, which reads it as YAML): read it so.
        let v2_path = testdata.join(format!("{base}.json"));
        let text = std::fs::read(&v2_path).unwrap_or_else(|e| panic!("{}: {e}", v2_path.display()));
        let v2 = converge_core::parse_documents(&format!("{base}.yaml"), &text)
            .unwrap_or_else(|e| panic!("{}: {e}", v2_path.display()))
            .remove(0)
            .value;
        let v3 = support::load(&testdata.join(format!("{base}-v3.json")));
        Schemas {
            v2: Schema::from_openapi_v2(&v2).expect("the v2 document"),
            v3: Schema::from_openapi_v3(&v3).expect("the v3 document"),
        }
    }

    /// `(label, root type)` for each source.
    fn roots(&self, kind: &str) -> [(&'static str, TypeRef<'_>); 2] {
        [("v2", root(&self.v2, kind)), ("v3", root(&self.v3, kind))]
    }
}

fn root<'s>(schema: &'s Schema, kind: &str) -> TypeRef<'s> {
    schema
        .for_kind("fake-group", "some-version", kind)
        .unwrap_or_else(|| panic!("{kind} is not a kind of the schema"))
}

fn vectors() -> Option<PathBuf> {
    support::conformance("strategicpatch")
}

/// The cases of one file, after checking how many there are.
fn cases(dir: &Path, file: &str, count: usize) -> Vec<Value> {
    let data = support::load(&dir.join(file));
    let cases = data["testCases"].as_array().expect("testCases").clone();
    assert_eq!(cases.len(), count, "{file}: number of cases");
    cases
}

fn description(case: &Value) -> &str {
    case["description"].as_str().expect("a description")
}

/// A field of a case; absent and `null` are Go's nil, which every function reads as `{}`.
fn doc(case: &Value, field: &str) -> Value {
    match case.get(field) {
        None | Some(Value::Null) => json!({}),
        Some(value) => value.clone(),
    }
}

/// Runs the cases of a file and panics with every failure at once, skipping (and checking)
/// the known ones.
fn run(file: &str, cases: &[Value], check: impl Fn(&Value) -> Result<(), String>) {
    let mut failures = Vec::new();
    for case in cases {
        let name = description(case);
        let known = KNOWN.iter().find(|(f, d, _)| *f == file && *d == name);
        match (check(case), known) {
            (Ok(()), None) => {}
            (Ok(()), Some(_)) => failures.push(format!("{name}: listed as known but passes")),
            (Err(e), None) => failures.push(format!("{name}: {e}")),
            (Err(_), Some(_)) => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{file}: {} failure(s):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn same(what: &str, actual: &Value, expected: &Value) -> Result<(), String> {
    if actual == expected {
        Ok(())
    } else {
        Err(format!(
            "{what}:\n  got      {actual}\n  expected {expected}"
        ))
    }
}

/// How a file compares: after `sortMergeListsByName`, or as values (list order significant).
#[derive(Clone, Copy)]
enum Compare {
    Sorted,
    Raw,
}

impl Compare {
    fn norm(self, value: &Value, ty: TypeRef<'_>) -> Value {
        match self {
            Compare::Sorted => sort_merge_lists(value, ty).expect("sortable"),
            Compare::Raw => value.clone(),
        }
    }
}

/// `testTwoWayPatch` and `testThreeWayPatch` of one case under one schema.
fn two_and_three_way(case: &Value, ty: TypeRef<'_>, compare: Compare) -> Result<(), String> {
    let norm = |field: &str| compare.norm(&doc(case, field), ty);
    let original = norm("original");
    let modified = norm("modified");
    let current = norm("current");

    // Two-way.
    let patch = create_two_way_strategic_patch(&original, &modified, ty)
        .map_err(|e| format!("two-way patch: {e}"))?;
    same("two-way patch", &compare.norm(&patch, ty), &norm("twoWay"))?;
    let expected = if case.get("twoWayResult").is_some() {
        norm("twoWayResult")
    } else {
        modified.clone()
    };
    let result = apply_strategic_patch(&original, &patch, ty)
        .map_err(|e| format!("applying the two-way patch: {e}"))?;
    same("two-way result", &compare.norm(&result, ty), &expected)?;

    // Three-way.
    let expected_patch = norm("threeWay");
    let expected_result = norm("result");
    let conflict = description(case).contains("conflict");
    let patch = match create_three_way_strategic_patch(
        Some(&original),
        &modified,
        Some(&current),
        ty,
        false,
    ) {
        Ok(_) if conflict => return Err("three-way: expected a conflict".to_owned()),
        Ok(patch) => patch,
        Err(Error::Conflict { .. }) if conflict => {
            if expected_result.as_object().is_none_or(|r| r.is_empty()) {
                return Ok(());
            }
            create_three_way_strategic_patch(Some(&original), &modified, Some(&current), ty, true)
                .map_err(|e| format!("three-way patch with overwrite: {e}"))?
        }
        Err(e) => return Err(format!("three-way patch: {e}")),
    };
    same(
        "three-way patch",
        &compare.norm(&patch, ty),
        &expected_patch,
    )?;
    let result = apply_strategic_patch(&current, &patch, ty)
        .map_err(|e| format!("applying the three-way patch: {e}"))?;
    same(
        "three-way result",
        &compare.norm(&result, ty),
        &expected_result,
    )
}

/// `testPatchApplication` of the custom tables: apply only, an error when expected.
fn apply_only(case: &Value, ty: TypeRef<'_>, compare: Compare) -> Result<(), String> {
    let norm = |field: &str| compare.norm(&doc(case, field), ty);
    let result = apply_strategic_patch(&norm("original"), &norm("twoWay"), ty);
    match (result, case.get("expectedError").and_then(Value::as_str)) {
        (Err(e), Some(expected)) if e.to_string().contains(expected) => Ok(()),
        (Err(e), Some(expected)) => Err(format!("error {e:?} does not contain {expected:?}")),
        (Ok(result), Some(expected)) => {
            Err(format!("expected an error with {expected:?}, got {result}"))
        }
        (Err(e), None) => Err(format!("apply: {e}")),
        (Ok(result), None) => {
            let expected = if case.get("twoWayResult").is_some() {
                norm("twoWayResult")
            } else {
                norm("modified")
            };
            same("result", &compare.norm(&result, ty), &expected)
        }
    }
}

fn for_each_schema(
    schemas: &Schemas,
    kind: &str,
    check: impl Fn(&Value, TypeRef<'_>) -> Result<(), String>,
) -> impl Fn(&Value) -> Result<(), String> {
    move |case| {
        for (label, ty) in schemas.roots(kind) {
            check(case, ty).map_err(|e| format!("[{label}] {e}"))?;
        }
        Ok(())
    }
}

#[test]
fn create_strategic_merge_patch_cases() {
    let Some(dir) = vectors() else { return };
    let schemas = Schemas::load(&dir, "swagger-merge-item");
    let file = "create-strategic-merge-patch.json";
    run(
        file,
        &cases(&dir, file, 22),
        for_each_schema(&schemas, "mergeItem", |case, ty| {
            two_and_three_way(case, ty, Compare::Sorted)
        }),
    );
}

#[test]
fn strategic_merge_patch_raw_cases() {
    let Some(dir) = vectors() else { return };
    let schemas = Schemas::load(&dir, "swagger-merge-item");
    let file = "strategic-merge-patch-raw.json";
    run(
        file,
        &cases(&dir, file, 94),
        for_each_schema(&schemas, "mergeItem", |case, ty| {
            two_and_three_way(case, ty, Compare::Raw)
        }),
    );
}

#[test]
fn replace_raw_extension_cases() {
    let Some(dir) = vectors() else { return };
    let schemas = Schemas::load(&dir, "swagger-merge-item");
    let file = "replace-raw-extension.json";
    run(
        file,
        &cases(&dir, file, 2),
        for_each_schema(&schemas, "mergeItem", |case, ty| {
            two_and_three_way(case, ty, Compare::Raw)
        }),
    );
}

#[test]
fn custom_strategic_merge_patch_cases() {
    let Some(dir) = vectors() else { return };
    let schemas = Schemas::load(&dir, "swagger-merge-item");
    let file = "custom-strategic-merge-patch.json";
    run(
        file,
        &cases(&dir, file, 18),
        for_each_schema(&schemas, "mergeItem", |case, ty| {
            apply_only(case, ty, Compare::Sorted)
        }),
    );
}

#[test]
fn custom_strategic_merge_patch_raw_cases() {
    let Some(dir) = vectors() else { return };
    let schemas = Schemas::load(&dir, "swagger-merge-item");
    let file = "custom-strategic-merge-patch-raw.json";
    let cases = cases(&dir, file, 10);
    let with_errors = cases
        .iter()
        .filter(|c| c.get("expectedError").is_some())
        .count();
    assert_eq!(with_errors, 3, "{file}: cases with expectedError");
    run(
        file,
        &cases,
        for_each_schema(&schemas, "mergeItem", |case, ty| {
            apply_only(case, ty, Compare::Raw)
        }),
    );
}

#[test]
fn sort_merge_lists_cases() {
    let Some(dir) = vectors() else { return };
    let schemas = Schemas::load(&dir, "swagger-merge-item");
    let file = "sort-merge-lists.json";
    run(
        file,
        &cases(&dir, file, 8),
        for_each_schema(&schemas, "mergeItem", |case, ty| {
            let sorted = sort_merge_lists(&doc(case, "original"), ty).map_err(|e| e.to_string())?;
            same("sorted", &sorted, &doc(case, "sorted"))
        }),
    );
}

/// A JSON text as Go's `json.Marshal` writes a decoded document: keys sorted, no spaces,
/// floats in Go's format, `<`, `>` and `&` escaped.
fn go_json(value: &Value) -> String {
    let mut out = String::new();
    write_go_json(value, &mut out);
    out
}

fn write_go_json(value: &Value, out: &mut String) {
    match value {
        Value::Null | Value::Bool(_) => out.push_str(&value.to_string()),
        Value::Number(n) => match n.as_i64() {
            Some(i) => out.push_str(&i.to_string()),
            None => out.push_str(&go_float(n.as_f64().expect("a number"))),
        },
        Value::String(s) => {
            let quoted = serde_json::to_string(s).expect("a string");
            out.push_str(
                &quoted
                    .replace('<', "\\u003c")
                    .replace('>', "\\u003e")
                    .replace('&', "\\u0026")
                    .replace('\u{2028}', "\\u2028")
                    .replace('\u{2029}', "\\u2029"),
            );
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(item, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            let mut keys: Vec<&String> = members.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(&Value::String(key.clone()), out);
                out.push(':');
                write_go_json(&members[key], out);
            }
            out.push('}');
        }
    }
}

/// encoding/json's float format: plain digits for 1e-6 <= |f| < 1e21, else exponent form
/// (`1e+21`, `1e-7`).
fn go_float(f: f64) -> String {
    let abs = f.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        return format!("{f}");
    }
    let scientific = format!("{f:e}");
    let (mantissa, exponent) = scientific.split_once('e').expect("an exponent");
    match exponent.strip_prefix('-') {
        Some(digits) => format!("{mantissa}e-{digits}"),
        None => format!("{mantissa}e+{exponent:0>2}"),
    }
}

#[test]
fn go_json_writes_as_go_does() {
    assert_eq!(
        go_json(&json!({"b": [1, 2.5], "a": "<&>", "c": 3.4028234663852886e38, "d": 1e-7})),
        r#"{"a":"\u003c\u0026\u003e","b":[1,2.5],"c":3.4028234663852886e+38,"d":1e-7}"#
    );
}

/// A string field of a case holding JSON text, parsed, with its floats read exactly.
///
/// serde_json, without its `float_roundtrip` feature (not enabled in this workspace), may read
/// a float with 17 significant digits one unit in the last place off (`3.4028234663852886e+38`
/// becomes `3.402823466385289e+38`), which the number-conversion cases would then see. Our code
/// never touches a number; the harness re-reads each float literal with the standard library,
/// which rounds correctly, so the cases test the patch code and not the parser.
fn parsed(case: &Value, field: &str) -> Value {
    let text = case[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is text"));
    let mut value: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{field}: {e}"));
    let mut literals = number_literals(text).into_iter();
    fix_floats(&mut value, &mut literals);
    value
}

/// The number literals of a JSON text, in order.
fn number_literals(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let (mut i, mut out) = (0, Vec::new());
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                out.push(&text[start..i]);
            }
            _ => i += 1,
        }
    }
    out
}

/// Walks `value` in document order (keys keep their order) and re-reads each float.
fn fix_floats<'t>(value: &mut Value, literals: &mut impl Iterator<Item = &'t str>) {
    match value {
        Value::Number(n) => {
            let literal = literals.next().expect("as many literals as numbers");
            if !n.is_i64() && !n.is_u64() {
                let exact: f64 = literal.parse().expect("a float literal");
                *value = json!(exact);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| fix_floats(item, literals)),
        Value::Object(members) => members
            .values_mut()
            .for_each(|member| fix_floats(member, literals)),
        _ => {}
    }
}

fn text(case: &Value, field: &str) -> Option<String> {
    case.get(field).and_then(Value::as_str).map(str::to_owned)
}

#[test]
fn number_conversion_cases() {
    let Some(dir) = vectors() else { return };
    let schemas = Schemas::load(&dir, "swagger-precision-item");
    let file = "number-conversion.json";
    run(
        file,
        &cases(&dir, file, 7),
        for_each_schema(&schemas, "precisionItem", |case, ty| {
            let old = parsed(case, "old");
            let patch = create_two_way_strategic_patch(&old, &parsed(case, "new"), ty)
                .map_err(|e| e.to_string())?;
            let expected = text(case, "expectedPatch").expect("expectedPatch");
            if go_json(&patch) != expected {
                return Err(format!("patch {} != {expected}", go_json(&patch)));
            }
            let result = apply_strategic_patch(&old, &patch, ty).map_err(|e| e.to_string())?;
            let expected = text(case, "expectedResult").expect("expectedResult");
            if go_json(&result) != expected {
                return Err(format!("result {} != {expected}", go_json(&result)));
            }
            Ok(())
        }),
    );
}

/// One half of a `TestUnknownField` case: a patch made (or an error containing the expected
/// text), the patch's text, and the text of the result of applying it to `target`.
fn unknown_field_half(
    case: &Value,
    made: Result<Value, Error>,
    target: &Value,
    ty: TypeRef<'_>,
    prefix: &str,
) -> Result<(), String> {
    let expected_error = text(case, &format!("{prefix}Err"));
    let patch = match made {
        Err(e) => {
            return match expected_error {
                Some(expected) if e.to_string().contains(&expected) => Ok(()),
                Some(expected) => Err(format!("{prefix}: error {e} does not contain {expected:?}")),
                None => Err(format!("{prefix}: {e}")),
            };
        }
        Ok(patch) => patch,
    };
    let Some(expected) = text(case, prefix) else {
        return Err(format!("{prefix}: expected an error, got {patch}"));
    };
    if go_json(&patch) != expected {
        return Err(format!("{prefix}: patch {} != {expected}", go_json(&patch)));
    }
    let result = apply_strategic_patch(target, &patch, ty).map_err(|e| e.to_string())?;
    let expected = text(case, &format!("{prefix}Result")).expect("a result");
    if go_json(&result) != expected {
        return Err(format!(
            "{prefix}: result {} != {expected}",
            go_json(&result)
        ));
    }
    Ok(())
}

#[test]
fn unknown_field_cases() {
    let Some(dir) = vectors() else { return };
    let schemas = Schemas::load(&dir, "swagger-merge-item");
    let file = "unknown-field.json";
    run(
        file,
        &cases(&dir, file, 15),
        for_each_schema(&schemas, "mergeItem", |case, ty| {
            let original = parsed(case, "original");
            let modified = parsed(case, "modified");
            let current = parsed(case, "current");
            let two_way = create_two_way_strategic_patch(&original, &modified, ty);
            unknown_field_half(case, two_way, &original, ty, "expectedTwoWay")?;
            let three_way = create_three_way_strategic_patch(
                Some(&original),
                &modified,
                Some(&current),
                ty,
                false,
            );
            unknown_field_half(case, three_way, &current, ty, "expectedThreeWay")
        }),
    );
}

/// The `json` case of `TestUnknownField` accepts an error or a patch: apimachinery errors with a
/// v3 schema (it finds no field in a schema without properties) and merges with v2. Both of our
/// readers take a schema with neither a type nor properties as free-form JSON.
#[test]
fn free_form_json_merges_with_both_schema_versions() {
    let Some(dir) = vectors() else { return };
    let schemas = Schemas::load(&dir, "swagger-merge-item");
    let original = json!({"name": "foo", "jsonItem": {"nested": {"nested2": {"nested3": {}}}}});
    let modified =
        json!({"name": "foo", "jsonItem": {"nested": {"nested2": {"nested3": {"a": "b"}}}}});
    for (label, ty) in schemas.roots("mergeItem") {
        let patch = create_two_way_strategic_patch(&original, &modified, ty).expect(label);
        assert_eq!(
            patch,
            json!({"jsonItem": {"nested": {"nested2": {"nested3": {"a": "b"}}}}}),
            "{label}"
        );
    }
}

// ---- real kinds -------------------------------------------------------------------------------

fn deployment() -> TypeRef<'static> {
    Schema::kubernetes()
        .for_kind("apps", "v1", "Deployment")
        .expect("built in")
}

fn service() -> TypeRef<'static> {
    Schema::kubernetes()
        .for_kind("", "v1", "Service")
        .expect("built in")
}

fn pod_spec(spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"template": {"spec": spec}}})
}

#[test]
fn deployment_containers_and_env_merge_by_name() {
    let ty = deployment();
    let original = pod_spec(json!({"containers": [
        {"name": "web", "image": "web:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
        {"name": "proxy", "image": "proxy:1"},
    ]}));
    let modified = pod_spec(json!({"containers": [
        {"name": "proxy", "image": "proxy:1"},
        {"name": "web", "image": "web:2", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]},
    ]}));
    let patch = create_two_way_strategic_patch(&original, &modified, ty).expect("patch");
    assert_eq!(
        patch,
        json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "proxy"}, {"name": "web"}],
            "containers": [{
                "name": "web",
                "image": "web:2",
                "$setElementOrder/env": [{"name": "B"}, {"name": "C"}],
                "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}, {"name": "A", "$patch": "delete"}],
            }],
        }}}})
    );
    assert_eq!(
        apply_strategic_patch(&original, &patch, ty).expect("apply"),
        modified
    );

    // The live object: a defaulted field and an injected sidecar, both kept by the three-way
    // patch (checked with `kubectl patch --local --type strategic`).
    let mut live = original.clone();
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("IfNotPresent");
    live["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .expect("a list")
        .push(json!({"name": "mesh", "image": "mesh:1"}));
    let patch =
        create_three_way_strategic_patch(Some(&original), &modified, Some(&live), ty, false)
            .expect("three-way");
    let applied = apply_strategic_patch(&live, &patch, ty).expect("apply");
    assert_eq!(
        applied["spec"]["template"]["spec"]["containers"],
        json!([
            {"name": "proxy", "image": "proxy:1"},
            {"name": "web", "image": "web:2", "imagePullPolicy": "IfNotPresent",
             "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]},
            {"name": "mesh", "image": "mesh:1"},
        ])
    );
}

#[test]
fn volumes_retain_keys_switch_a_source() {
    let ty = deployment();
    let original = pod_spec(json!({"volumes": [
        {"name": "config", "configMap": {"name": "web", "defaultMode": 420}},
        {"name": "cache", "emptyDir": {}},
    ]}));
    let modified = pod_spec(json!({"volumes": [
        {"name": "config", "secret": {"secretName": "web"}},
        {"name": "cache", "emptyDir": {}},
    ]}));
    let patch = create_two_way_strategic_patch(&original, &modified, ty).expect("patch");
    assert_eq!(
        patch,
        json!({"spec": {"template": {"spec": {
            "$setElementOrder/volumes": [{"name": "config"}, {"name": "cache"}],
            "volumes": [{"name": "config", "secret": {"secretName": "web"}, "configMap": null,
                         "$retainKeys": ["name", "secret"]}],
        }}}})
    );
    assert_eq!(
        apply_strategic_patch(&original, &patch, ty).expect("apply"),
        modified
    );

    // `$retainKeys` clears what the live object has beyond the patch too: a source a mutating
    // webhook put beside the configMap goes with it.
    let mut live = original.clone();
    live["spec"]["template"]["spec"]["volumes"][0]["downwardAPI"] = json!({"items": []});
    let applied = apply_strategic_patch(&live, &patch, ty).expect("apply");
    assert_eq!(
        applied["spec"]["template"]["spec"]["volumes"][0],
        json!({"name": "config", "secret": {"secretName": "web"}})
    );

    // A patch that sets a field `$retainKeys` does not list is refused.
    let mut rolling = original.clone();
    rolling["spec"]["strategy"] = json!({"type": "Recreate"});
    let bad = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "RollingUpdate",
                                           "rollingUpdate": {"maxSurge": 1}}}});
    let err = apply_strategic_patch(&rolling, &bad, ty).expect_err("refused");
    assert!(matches!(err, Error::InvalidPatch { .. }), "{err}");
}

#[test]
fn deployment_strategy_retain_keys() {
    let ty = deployment();
    let original = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}}});
    let modified = json!({"spec": {"strategy": {"type": "Recreate"}}});
    let patch = create_two_way_strategic_patch(&original, &modified, ty).expect("patch");
    assert_eq!(
        patch,
        json!({"spec": {"strategy": {"type": "Recreate", "rollingUpdate": null, "$retainKeys": ["type"]}}})
    );
    assert_eq!(
        apply_strategic_patch(&original, &patch, ty).expect("apply"),
        modified
    );
}

#[test]
fn service_ports_merge_by_port() {
    let ty = service();
    let original = json!({"spec": {"type": "ClusterIP", "ports": [
        {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
        {"name": "metrics", "port": 9090, "protocol": "TCP"},
    ]}});
    let modified = json!({"spec": {"type": "ClusterIP", "ports": [
        {"name": "http", "port": 80, "targetPort": 8081, "protocol": "TCP"},
        {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"},
    ]}});
    let patch = create_two_way_strategic_patch(&original, &modified, ty).expect("patch");
    assert_eq!(
        patch,
        json!({"spec": {
            "$setElementOrder/ports": [{"port": 80}, {"port": 443}],
            "ports": [
                {"port": 80, "targetPort": 8081},
                {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"},
                {"port": 9090, "$patch": "delete"},
            ],
        }})
    );
    assert_eq!(
        apply_strategic_patch(&original, &patch, ty).expect("apply"),
        modified
    );

    // Applying a plain patch list: merged into the port it names, appended otherwise, in the
    // patch's order with the others kept where they were (checked with kubectl).
    let patch = json!({"spec": {"ports": [{"port": 443, "name": "https"}, {"port": 80, "targetPort": 9000}]}});
    let applied = apply_strategic_patch(&original, &patch, ty).expect("apply");
    assert_eq!(
        applied["spec"]["ports"],
        json!([
            {"port": 443, "name": "https"},
            {"name": "http", "port": 80, "targetPort": 9000, "protocol": "TCP"},
            {"name": "metrics", "port": 9090, "protocol": "TCP"},
        ])
    );
}

#[test]
fn replace_and_delete_directives_on_real_kinds() {
    let ty = deployment();
    let original = pod_spec(json!({
        "containers": [{"name": "web", "image": "web:1"}, {"name": "proxy", "image": "proxy:1"}],
        "nodeSelector": {"disk": "ssd", "zone": "a"},
    }));
    let patch = json!({"spec": {"template": {"spec": {
        "containers": [{"name": "only", "image": "only:1"}, {"$patch": "replace"}],
        "nodeSelector": {"$patch": "replace", "zone": "b"},
    }}}});
    let applied = apply_strategic_patch(&original, &patch, ty).expect("apply");
    assert_eq!(
        applied["spec"]["template"]["spec"],
        json!({"containers": [{"name": "only", "image": "only:1"}], "nodeSelector": {"zone": "b"}})
    );
    let patch = json!({"spec": {"template": {"$patch": "delete"}}});
    let applied = apply_strategic_patch(&original, &patch, ty).expect("apply");
    assert_eq!(applied["spec"], json!({"template": {}}));
    // `$patch: merge` is the default, spelled out.
    let patch = json!({"spec": {"template": {"spec": {"$patch": "merge", "hostname": "h"}}}});
    let applied = apply_strategic_patch(&original, &patch, ty).expect("apply");
    assert_eq!(applied["spec"]["template"]["spec"]["hostname"], "h");
    let err = apply_strategic_patch(&original, &json!({"spec": {"$patch": "nonsense"}}), ty)
        .expect_err("unknown directive");
    assert_eq!(
        err.to_string(),
        "invalid patch: unknown patch type \"nonsense\" in a map (at /spec/$patch)"
    );
}

#[test]
fn unknown_fields_and_free_form_values() {
    let ty = deployment();
    // Not in the schema, and different on both sides: no metadata to merge it by.
    let original = json!({"spec": {"bogus": {"a": 1}}});
    let modified = json!({"spec": {"bogus": {"a": 2}}});
    let err = create_two_way_strategic_patch(&original, &modified, ty).expect_err("unknown");
    assert!(
        matches!(&err, Error::Unmergeable { path, reason }
            if path == "/spec/bogus" && reason.contains("unable to find api field \"bogus\"")),
        "{err}"
    );
    // A ControllerRevision's `data` is free-form: merged as JSON merge patch merges it.
    let revision = Schema::kubernetes()
        .for_kind("apps", "v1", "ControllerRevision")
        .expect("built in");
    let original = json!({"data": {"spec": {"list": [1, 2], "keep": true, "drop": 1}}});
    let modified = json!({"data": {"spec": {"list": [2], "keep": true}}});
    let patch = create_two_way_strategic_patch(&original, &modified, revision).expect("patch");
    assert_eq!(
        patch,
        json!({"data": {"spec": {"list": [2], "drop": null}}})
    );
    assert_eq!(
        apply_strategic_patch(&original, &patch, revision).expect("apply"),
        modified
    );
}

#[test]
fn conflicts_name_every_field() {
    let ty = deployment();
    let original =
        pod_spec(json!({"containers": [{"name": "web", "image": "web:1"}], "hostname": "a"}));
    let modified =
        pod_spec(json!({"containers": [{"name": "web", "image": "web:2"}], "hostname": "b"}));
    let current = pod_spec(json!({"containers": [
        {"name": "mesh", "image": "mesh:1"},
        {"name": "web", "image": "web:9"},
    ], "hostname": "c"}));
    let err =
        create_three_way_strategic_patch(Some(&original), &modified, Some(&current), ty, false)
            .expect_err("conflicts");
    let Error::Conflict { paths } = err else {
        panic!("{err}");
    };
    assert_eq!(
        paths,
        [
            "/spec/template/spec/containers/1/image",
            "/spec/template/spec/hostname"
        ]
    );
    let patch =
        create_three_way_strategic_patch(Some(&original), &modified, Some(&current), ty, true)
            .expect("overwrite");
    let applied = apply_strategic_patch(&current, &patch, ty).expect("apply");
    assert_eq!(applied["spec"]["template"]["spec"]["hostname"], "b");
    assert_eq!(
        applied["spec"]["template"]["spec"]["containers"],
        json!([{"name": "mesh", "image": "mesh:1"}, {"name": "web", "image": "web:2"}])
    );
}

/// Where we choose not to copy apimachinery (see the functions' docs).
#[test]
fn deliberate_differences_from_apimachinery() {
    let ty = deployment();
    // An unchanged merging list of scalars makes no patch, whatever its order (apimachinery
    // sends `$setElementOrder/finalizers` for an unsorted one).
    let object = json!({"metadata": {"finalizers": ["b", "a"]}});
    assert_eq!(
        create_two_way_strategic_patch(&object, &object, ty).expect("patch"),
        json!({})
    );
    // The desired configuration and the live object both dropped a finalizer: no conflict
    // (apimachinery fails looking up `$deleteFromPrimitiveList/finalizers` in the schema).
    let original = json!({"metadata": {"finalizers": ["a", "b", "c"]}});
    let modified = json!({"metadata": {"finalizers": ["a", "b"]}});
    let current = json!({"metadata": {"finalizers": ["b", "c"]}});
    let patch =
        create_three_way_strategic_patch(Some(&original), &modified, Some(&current), ty, false)
            .expect("no conflict");
    assert_eq!(
        apply_strategic_patch(&current, &patch, ty).expect("apply")["metadata"]["finalizers"],
        json!(["a", "b"])
    );
    // A scalar added twice is sent once (apimachinery sends `[a, a, c]` with the order
    // `[a, c, a, b]`, which its own apply rejects: `doesn't match`).
    let one_b = json!({"metadata": {"finalizers": ["b"]}});
    let repeats = json!({"metadata": {"finalizers": ["a", "c", "a", "b"]}});
    let patch = create_two_way_strategic_patch(&one_b, &repeats, ty).expect("patch");
    assert_eq!(
        patch,
        json!({"metadata": {"$setElementOrder/finalizers": ["a", "c", "a", "b"], "finalizers": ["a", "c"]}})
    );
    assert_eq!(
        apply_strategic_patch(&one_b, &patch, ty).expect("apply")["metadata"]["finalizers"],
        json!(["a", "c", "b"])
    );
    // A repeated scalar the target keeps once is not deleted (apimachinery sends
    // `$deleteFromPrimitiveList/finalizers: [b]`, which removes every `b`). No patch can drop
    // one of two equal scalars, so the result is the target as a set.
    let two_b = json!({"metadata": {"finalizers": ["b", "b"]}});
    let patch = create_two_way_strategic_patch(&two_b, &one_b, ty).expect("patch");
    assert_eq!(
        patch,
        json!({"metadata": {"$setElementOrder/finalizers": ["b"]}})
    );
    let applied = apply_strategic_patch(&two_b, &patch, ty).expect("apply");
    assert_eq!(applied, two_b);
    assert_eq!(
        sort_merge_lists(&applied, ty).expect("sorted"),
        sort_merge_lists(&one_b, ty).expect("sorted")
    );
    // A scalar a patch both adds and deletes is deleted (apimachinery: depends on Go's map
    // order, unless `$setElementOrder` is given, where it deletes too).
    let patch = json!({"metadata": {"finalizers": ["c", "d"], "$deleteFromPrimitiveList/finalizers": ["c"]}});
    assert_eq!(
        apply_strategic_patch(&original, &patch, ty).expect("apply")["metadata"]["finalizers"],
        json!(["a", "b", "d"])
    );
}

// ---- round trips ------------------------------------------------------------------------------

/// Up to `names.len()` distinct names, in any order.
fn distinct(names: &'static [&'static str]) -> impl Strategy<Value = Vec<&'static str>> {
    proptest::sample::subsequence(names, 0..=names.len()).prop_shuffle()
}

fn env() -> impl Strategy<Value = Option<Value>> {
    proptest::option::of(
        (
            distinct(&["A", "B", "C"]),
            proptest::collection::vec("[a-c]{0,2}", 3),
        )
            .prop_map(|(names, values)| {
                Value::Array(
                    names
                        .iter()
                        .zip(values)
                        .map(|(name, value)| json!({"name": name, "value": value}))
                        .collect(),
                )
            }),
    )
}

fn ports() -> impl Strategy<Value = Option<Value>> {
    proptest::option::of(
        (proptest::sample::subsequence(&[80, 443, 8080][..], 0..=3).prop_shuffle(), any::<bool>())
            .prop_map(|(ports, named)| {
                Value::Array(
                    ports
                        .iter()
                        .map(|port| {
                            if named {
                                json!({"containerPort": port, "name": format!("p{port}"), "protocol": "TCP"})
                            } else {
                                json!({"containerPort": port})
                            }
                        })
                        .collect(),
                )
            }),
    )
}

fn container(name: &'static str) -> impl Strategy<Value = Value> {
    (
        "[a-b]:[1-2]",
        env(),
        ports(),
        proptest::option::of(proptest::collection::vec("[x-z]", 0..3)),
        proptest::option::of("[1-3]00m"),
    )
        .prop_map(move |(image, env, ports, args, cpu)| {
            let mut container = json!({"name": name, "image": image});
            if let Some(env) = env {
                container["env"] = env;
            }
            if let Some(ports) = ports {
                container["ports"] = ports;
            }
            if let Some(args) = args {
                container["args"] = json!(args);
            }
            if let Some(cpu) = cpu {
                container["resources"] = json!({"limits": {"cpu": cpu}});
            }
            container
        })
}

fn containers() -> impl Strategy<Value = Option<Value>> {
    proptest::option::of(
        distinct(&["web", "proxy", "init"])
            .prop_flat_map(|names| names.into_iter().map(container).collect::<Vec<_>>()),
    )
    .prop_map(|c| c.map(Value::Array))
}

fn volume(name: &'static str) -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"name": name, "emptyDir": {}})),
        "[a-b]".prop_map(move |cm| json!({"name": name, "configMap": {"name": cm}})),
        "[a-b]".prop_map(
            move |s| json!({"name": name, "secret": {"secretName": s, "defaultMode": 420}})
        ),
    ]
}

fn volumes() -> impl Strategy<Value = Option<Value>> {
    proptest::option::of(
        distinct(&["data", "config"])
            .prop_flat_map(|names| names.into_iter().map(volume).collect::<Vec<_>>()),
    )
    .prop_map(|v| v.map(Value::Array))
}

fn strategy() -> impl Strategy<Value = Option<Value>> {
    proptest::option::of(prop_oneof![
        Just(json!({"type": "Recreate"})),
        (1..3i32).prop_map(
            |surge| json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge}})
        ),
    ])
}

fn labels() -> impl Strategy<Value = Option<Value>> {
    proptest::option::of(proptest::collection::btree_map("[a-c]", "[x-y]", 0..3))
        .prop_map(|m| m.map(|m| json!(m)))
}

prop_compose! {
    fn deployment_object()(object in deployment_with(distinct(&["a", "b", "c"]))) -> Value {
        object
    }
}

prop_compose! {
    /// Finalizers may repeat: a merging list of scalars is a set, so only the sorted forms agree.
    fn deployment_with_repeats()(
        object in deployment_with(proptest::collection::vec(prop_oneof![Just("a"), Just("b"), Just("c")], 0..5))
    ) -> Value {
        object
    }
}

prop_compose! {
    fn deployment_with(finalizers: impl Strategy<Value = Vec<&'static str>>)(
        labels in labels(),
        finalizers in proptest::option::of(finalizers),
        replicas in proptest::option::of(1..4i32),
        strategy in strategy(),
        containers in containers(),
        volumes in volumes(),
        tolerations in proptest::option::of(proptest::collection::vec("[a-b]", 0..3)),
        node_selector in labels(),
    ) -> Value {
        let mut metadata = json!({"name": "web"});
        if let Some(labels) = labels { metadata["labels"] = labels; }
        if let Some(finalizers) = finalizers { metadata["finalizers"] = json!(finalizers); }
        let mut pod = json!({});
        if let Some(containers) = containers { pod["containers"] = containers; }
        if let Some(volumes) = volumes { pod["volumes"] = volumes; }
        if let Some(node_selector) = node_selector { pod["nodeSelector"] = node_selector; }
        if let Some(tolerations) = tolerations {
            pod["tolerations"] = Value::Array(tolerations.iter().map(|k| json!({"key": k, "operator": "Exists"})).collect());
        }
        let mut spec = json!({"template": {"spec": pod}});
        if let Some(replicas) = replicas { spec["replicas"] = json!(replicas); }
        if let Some(strategy) = strategy { spec["strategy"] = strategy; }
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec})
    }
}

proptest! {
    /// Without `null`s, duplicate scalars in merging lists or repeated merge keys (which merge
    /// as sets, by key), a two-way patch reproduces its target exactly, merging lists' order
    /// included (`$setElementOrder` restores it).
    #[test]
    fn a_two_way_patch_reproduces_its_target(a in deployment_object(), b in deployment_object()) {
        let ty = deployment();
        let patch = create_two_way_strategic_patch(&a, &b, ty).expect("patch");
        prop_assert_eq!(apply_strategic_patch(&a, &patch, ty).expect("apply"), b.clone());
        prop_assert_eq!(create_two_way_strategic_patch(&b, &b, ty).expect("patch"), json!({}));
    }

    /// With repeated scalars in a merging list, the result equals the target once merging lists
    /// are normalised (de-duplicated and sorted).
    #[test]
    fn a_two_way_patch_reproduces_its_target_as_a_set(
        a in deployment_with_repeats(),
        b in deployment_with_repeats(),
    ) {
        let ty = deployment();
        let patch = create_two_way_strategic_patch(&a, &b, ty).expect("patch");
        let applied = apply_strategic_patch(&a, &patch, ty).expect("apply");
        prop_assert_eq!(
            sort_merge_lists(&applied, ty).expect("sorted"),
            sort_merge_lists(&b, ty).expect("sorted")
        );
    }

    /// When the live object is the last-applied one, the three-way patch has no conflicts and
    /// gives the desired object exactly.
    #[test]
    fn a_three_way_patch_from_an_untouched_object_reproduces_its_target(
        a in deployment_object(),
        b in deployment_object(),
    ) {
        let ty = deployment();
        let patch = create_three_way_strategic_patch(Some(&a), &b, Some(&a), ty, false)
            .expect("no conflicts");
        prop_assert_eq!(apply_strategic_patch(&a, &patch, ty).expect("apply"), b.clone());
    }
}
