//! JSON Merge Patch (RFC 7386/7396) against the leadpony/jsonp-test-suite vectors and RFC 7396
//! Appendix A, and the three-way merge patch against apimachinery's `jsonmergepatch` tables.

use std::path::Path;

use converge_diff::Error;
use converge_diff::merge_patch::{
    apply_merge_patch, create_merge_patch, create_three_way_merge_patch,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::support;

fn applied(target: &Value, patch: &Value) -> Value {
    let mut doc = target.clone();
    apply_merge_patch(&mut doc, patch);
    doc
}

fn text(value: &Value) -> String {
    serde_json::to_string(value).expect("a Value always serializes")
}

/// Panics with every failure at once, so one run shows them all.
fn report(file: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{file}: {} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// One case of the leadpony files. Careful: there, `target` is the *result*.
struct Leadpony {
    description: String,
    source: Value,
    patch: Value,
    result: Value,
}

/// `[{source, tests: [{description, patch, target}]}]`, flattened.
fn leadpony(path: &Path) -> Vec<Leadpony> {
    let groups = support::load(path);
    let groups = groups.as_array().expect("a list of groups");
    let mut cases = Vec::new();
    for group in groups {
        let tests = group["tests"].as_array().expect("tests");
        for test in tests {
            cases.push(Leadpony {
                description: test["description"]
                    .as_str()
                    .expect("description")
                    .to_owned(),
                source: group["source"].clone(),
                patch: test.get("patch").expect("patch").clone(),
                result: test.get("target").expect("target").clone(),
            });
        }
    }
    cases
}

/// `{source, check, testCases: [...]}` of the RFC appendix and the apimachinery tables.
fn test_cases(path: &Path) -> Vec<Value> {
    let file = support::load(path);
    file["testCases"].as_array().expect("testCases").clone()
}

fn description(case: &Value) -> &str {
    case["description"].as_str().expect("description")
}

#[test]
fn applies_the_leadpony_vectors() {
    let Some(dir) = support::conformance("merge-patch") else {
        return;
    };
    for (file, count) in [("json-merge-patch.json", 26), ("rfc7396-examples.json", 2)] {
        let cases = leadpony(&dir.join(file));
        assert_eq!(cases.len(), count, "{file}: case count");
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|case| {
                let got = applied(&case.source, &case.patch);
                (got != case.result).then(|| {
                    format!(
                        "{}: apply({}, {}) = {}, expected {}",
                        case.description,
                        text(&case.source),
                        text(&case.patch),
                        text(&got),
                        text(&case.result)
                    )
                })
            })
            .collect();
        report(file, &failures);
    }
}

#[test]
fn generates_the_leadpony_patches() {
    let Some(dir) = support::conformance("merge-patch") else {
        return;
    };
    for (file, count) in [("json-merge-diff.json", 25), ("rfc7396-examples.json", 2)] {
        let cases = leadpony(&dir.join(file));
        assert_eq!(cases.len(), count, "{file}: case count");
        let mut failures = Vec::new();
        for case in &cases {
            let patch = create_merge_patch(&case.source, &case.result);
            if patch != case.patch {
                failures.push(format!(
                    "{}: create({}, {}) = {}, expected {}",
                    case.description,
                    text(&case.source),
                    text(&case.result),
                    text(&patch),
                    text(&case.patch)
                ));
            }
            let got = applied(&case.source, &patch);
            if got != case.result {
                failures.push(format!(
                    "{}: the created patch applies to {}, expected {}",
                    case.description,
                    text(&got),
                    text(&case.result)
                ));
            }
        }
        report(file, &failures);
    }
}

#[test]
fn applies_the_rfc_7396_appendix_a_cases() {
    let Some(dir) = support::conformance("merge-patch") else {
        return;
    };
    let cases = test_cases(&dir.join("rfc7396-appendix-a.json"));
    assert_eq!(cases.len(), 15, "case count");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            // Here `target` is the document the patch applies to (the RFC's wording).
            let got = applied(&case["target"], &case["patch"]);
            (got != case["result"]).then(|| {
                format!(
                    "{}: got {}, expected {}",
                    description(case),
                    text(&got),
                    text(&case["result"])
                )
            })
        })
        .collect();
    report("rfc7396-appendix-a.json", &failures);
}

/// A document of the apimachinery tables: absent or `null` is Go `nil`, no document.
fn document<'a>(case: &'a Value, field: &str) -> Option<&'a Value> {
    case.get(field).filter(|value| !value.is_null())
}

/// What `overwrite = false` reports for the cases where `current` changed a field since
/// `original` that the patch also changes. Upstream's `CreateThreeWayJSONMergePatch` has no
/// `overwrite` (kubectl's apply never checks), so its table only checks the patch, which is
/// what `overwrite = true` gives here. Every case whose description says "conflict" is one;
/// "patch array with nil" is one too, though its description does not say so: the live
/// object changed `foo` (`[{"a":true},null,false]` → `[{"a":true},2,false]`) and deleted
/// `drop` since the last apply, and the patch sets both.
const CONFLICTS: &[(&str, &[&str])] = &[
    ("add field to map with conflict", &["/name"]),
    (
        "add field and delete field from map with conflict",
        &["/name"],
    ),
    (
        "delete field from nested map with conflict",
        &["/simpleMap/key1"],
    ),
    ("delete all fields from map with conflict", &["/value"]),
    (
        "add field and delete all fields from map with conflict",
        &["/other"],
    ),
    ("replace list of scalars with conflict", &["/intList"]),
    ("patch array with nil", &["/foo", "/drop"]),
];

#[test]
fn creates_the_apimachinery_three_way_json_merge_patches() {
    let Some(dir) = support::conformance("strategicpatch") else {
        return;
    };
    let cases = test_cases(&dir.join("jsonmergepatch/create-three-way-json-merge-patch.json"));
    assert_eq!(cases.len(), 23, "case count");
    let mut failures = Vec::new();
    let mut conflicts = 0;
    for case in &cases {
        let name = description(case);
        let original = document(case, "original");
        let current = document(case, "current");
        let modified = &case["modified"];

        // Upstream's check: the patch, and what it makes of the live object.
        match create_three_way_merge_patch(original, modified, current, true) {
            Ok(patch) => {
                if patch != case["threeWay"] {
                    failures.push(format!(
                        "{name}: patch {}, expected {}",
                        text(&patch),
                        text(&case["threeWay"])
                    ));
                }
                let got = applied(current.unwrap_or(&json!({})), &patch);
                if got != case["result"] {
                    failures.push(format!(
                        "{name}: result {}, expected {}",
                        text(&got),
                        text(&case["result"])
                    ));
                }
            }
            Err(err) => failures.push(format!("{name}: {err}")),
        }

        // The step-by-step model the property test below checks the walk against agrees.
        let object =
            |doc: Option<&Value>| doc.and_then(Value::as_object).cloned().unwrap_or_default();
        let model = two_pass::three_way(
            &object(original),
            &object(Some(modified)),
            &object(current),
            true,
        );
        if model.as_ref() != Ok(&case["threeWay"]) {
            failures.push(format!("{name}: the two-pass model gives {model:?}"));
        }

        // Without overwrite: the conflicts above, and the same patch everywhere else.
        let expected = CONFLICTS.iter().find(|(n, _)| *n == name);
        assert!(
            expected.is_some() || !name.contains("conflict"),
            "{name}: not in CONFLICTS"
        );
        match (
            create_three_way_merge_patch(original, modified, current, false),
            expected,
        ) {
            (Err(Error::Conflict { paths }), Some((_, want))) => {
                conflicts += 1;
                if paths != *want {
                    failures.push(format!("{name}: conflicts at {paths:?}, expected {want:?}"));
                }
            }
            (Ok(patch), None) if patch == case["threeWay"] => {}
            (got, _) => failures.push(format!(
                "{name}: without overwrite got {got:?}, expected {}",
                expected.map_or_else(|| "the same patch".to_owned(), |e| format!("{:?}", e.1))
            )),
        }
    }
    report("create-three-way-json-merge-patch.json", &failures);
    assert_eq!(conflicts, CONFLICTS.len(), "conflict cases seen");
}

/// `filter-null.json` checks apimachinery's `keepOrDeleteNullInObj`, the filter that splits
/// the two merge patches of the three-way patch into deletions and changes. It is not a
/// function here: the three-way walk does the filtering as it goes. Its two halves show
/// through the public function as two identities:
///
/// - with `modified == current` and no `original`, nothing changes and everything counts as
///   added to the last-applied configuration, so the patch is the deletions alone: the paths to
///   the `null` members (`expectedWithNull`);
/// - with `original == modified` and no `current`, nothing is deleted and everything counts as
///   added to the live object, so the patch is the changes alone: the document without its
///   `null` members (`expectedWithoutNull`) — except that upstream's final merge step (see
///   `create_three_way_merge_patch`'s docs) also drops the `null` members of objects inside
///   lists, which the filter alone keeps. Two cases have such lists; their expected patch is
///   written out below.
#[test]
fn filters_nulls_like_apimachinery() {
    let Some(dir) = support::conformance("strategicpatch") else {
        return;
    };
    let cases = test_cases(&dir.join("jsonmergepatch/filter-null.json"));
    assert_eq!(cases.len(), 15, "case count");
    let pruned_in_lists = [
        (
            "list of maps",
            json!({"listKey": [{"k1": "v1"}, {}, {"k3": "v3"}]}),
        ),
        (
            "list of different types",
            json!({"listKey": [{"k1": "v1"}, {}, "v3"]}),
        ),
    ];
    let mut failures = Vec::new();
    let mut pruned = 0;
    for case in &cases {
        let name = description(case);
        let object = &case["originalObj"];

        let deletions = create_three_way_merge_patch(None, object, Some(object), true);
        match deletions {
            Ok(patch) if patch == case["expectedWithNull"] => {}
            got => failures.push(format!(
                "{name}: with nulls got {got:?}, expected {}",
                text(&case["expectedWithNull"])
            )),
        }

        let expected = match pruned_in_lists.iter().find(|(n, _)| *n == name) {
            Some((_, value)) => {
                pruned += 1;
                value
            }
            None => &case["expectedWithoutNull"],
        };
        match create_three_way_merge_patch(Some(object), object, None, true) {
            Ok(patch) if patch == *expected => {}
            got => failures.push(format!(
                "{name}: without nulls got {got:?}, expected {}",
                text(expected)
            )),
        }
    }
    report("filter-null.json", &failures);
    assert_eq!(pruned, pruned_in_lists.len(), "cases with lists of objects");
}

#[test]
fn three_way_inputs_must_be_objects() {
    let err = create_three_way_merge_patch(None, &json!([1]), None, true).expect_err("an array");
    assert!(
        matches!(&err, Error::InvalidPatch { reason } if reason.contains("modified is an array")),
        "{err}"
    );
    let err = create_three_way_merge_patch(Some(&json!("x")), &json!({}), None, true)
        .expect_err("a string");
    assert!(matches!(err, Error::InvalidPatch { .. }), "{err}");
    // `null` documents are no documents, like `None`.
    assert_eq!(
        create_three_way_merge_patch(
            Some(&Value::Null),
            &json!({"a": 1}),
            Some(&Value::Null),
            false
        )
        .expect("null is no document"),
        json!({"a": 1})
    );
}

#[test]
fn three_way_conflicts_name_escaped_pointers_in_patch_order() {
    let original = json!({"metadata": {"labels": {"example.com/tier": "web", "a~b": "1"}}});
    let modified = json!({"metadata": {"labels": {"example.com/tier": "api"}}});
    let current = json!({"metadata": {"labels": {"example.com/tier": "db", "a~b": "2"}}});
    let err = create_three_way_merge_patch(Some(&original), &modified, Some(&current), false)
        .expect_err("both labels changed live");
    assert!(
        matches!(&err, Error::Conflict { paths }
            if paths == &["/metadata/labels/example.com~1tier", "/metadata/labels/a~0b"]),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the live object changed fields that the patch also changes: \
         /metadata/labels/example.com~1tier, /metadata/labels/a~0b"
    );
}

#[test]
fn three_way_leaves_what_only_the_live_object_has() {
    // The live object gained a whole `status` and a defaulted field: neither is deleted, and
    // without overwrite neither is a conflict.
    let applied_before = json!({"spec": {"size": 1, "mode": "a"}});
    let desired = json!({"spec": {"size": 2}});
    let live = json!({"spec": {"size": 1, "mode": "a", "defaulted": true}, "status": {"ok": true}});
    let patch = create_three_way_merge_patch(Some(&applied_before), &desired, Some(&live), false)
        .expect("no conflict");
    assert_eq!(patch, json!({"spec": {"size": 2, "mode": null}}));
    assert_eq!(
        applied(&live, &patch),
        json!({"spec": {"size": 2, "defaulted": true}, "status": {"ok": true}})
    );

    // Without a last-applied configuration nothing is deleted, and everything the live
    // object holds counts as changed by someone else.
    let patch = create_three_way_merge_patch(None, &desired, Some(&live), true).expect("patch");
    assert_eq!(patch, json!({"spec": {"size": 2}}));
    let err = create_three_way_merge_patch(None, &desired, Some(&live), false)
        .expect_err("the live size is not ours");
    assert!(
        matches!(&err, Error::Conflict { paths } if paths == &["/spec/size"]),
        "{err:?}"
    );

    // Deleting what the live object already deleted is no conflict.
    let gone = json!({"spec": {"size": 1}});
    let patch = create_three_way_merge_patch(Some(&applied_before), &desired, Some(&gone), false)
        .expect("no conflict");
    assert_eq!(patch, json!({"spec": {"size": 2, "mode": null}}));
}

#[test]
fn three_way_sends_empty_objects_as_values() {
    // An explicitly empty object the live object lacks is sent; one it has is not. A null
    // member is a deletion, never a value, even where the last-applied configuration had
    // nothing.
    let desired = json!({"a": {}, "b": {}, "c": {"x": null}});
    let live = json!({"b": {}});
    let patch = create_three_way_merge_patch(None, &desired, Some(&live), true).expect("patch");
    assert_eq!(patch, json!({"a": {}, "c": {"x": null}}));
    assert_eq!(applied(&live, &patch), json!({"b": {}, "a": {}, "c": {}}));
}

/// Any JSON value; `null` only as a list item, never as an object member.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1.0e9f64..1.0e9).prop_map(Value::from),
        "[a-c]{0,3}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 5, |inner| {
        prop_oneof![
            prop::collection::vec(
                prop_oneof![1 => Just(Value::Null), 4 => inner.clone()],
                0..4
            )
            .prop_map(Value::Array),
            members(inner),
        ]
    })
}

/// An object with keys from a small alphabet, so that two of them share keys often.
fn members(values: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    prop::collection::vec(("[a-e]", values), 0..6)
        .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<String, Value>>()))
}

fn object() -> impl Strategy<Value = Value> {
    members(value())
}

/// A document with `null` members and few distinct keys and values, so that three of them
/// share fields and values often.
fn small_document() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        (0..3i64).prop_map(Value::from),
        Just(json!("x")),
    ];
    let value = leaf.prop_recursive(3, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec(("[a-c]", inner), 0..4)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    });
    prop::collection::vec(("[a-c]", value), 0..4)
        .prop_map(|pairs| Value::Object(pairs.into_iter().collect()))
}

/// apimachinery's algorithm step by step, as its code reads (two merge patches, two filters,
/// one merge, and for `overwrite = false` the check of strategicpatch's three-way patch with
/// lists compared whole), to check the one-pass walk against.
mod two_pass {
    use serde_json::{Map, Value};

    type Object = Map<String, Value>;

    /// evanphx/json-patch `CreateMergePatch` on two objects.
    fn diff(a: &Object, b: &Object) -> Object {
        let mut into = Object::new();
        for (key, bv) in b {
            match a.get(key) {
                Some(Value::Object(ao)) if bv.is_object() => {
                    let nested = diff(ao, bv.as_object().expect("an object"));
                    if !nested.is_empty() {
                        into.insert(key.clone(), Value::Object(nested));
                    }
                }
                Some(av) if av == bv => {}
                _ => {
                    into.insert(key.clone(), bv.clone());
                }
            }
        }
        for key in a.keys() {
            if !b.contains_key(key) {
                into.insert(key.clone(), Value::Null);
            }
        }
        into
    }

    /// `keepOrDeleteNullInObj`.
    fn filter(m: &Object, keep_null: bool) -> Object {
        let mut out = Object::new();
        for (key, value) in m {
            match value {
                Value::Null if keep_null => {
                    out.insert(key.clone(), Value::Null);
                }
                Value::Null => {}
                Value::Object(o) if o.is_empty() => {
                    if !keep_null {
                        out.insert(key.clone(), value.clone());
                    }
                }
                Value::Object(o) => {
                    let sub = filter(o, keep_null);
                    if !sub.is_empty() {
                        out.insert(key.clone(), Value::Object(sub));
                    }
                }
                _ => {
                    if !keep_null {
                        out.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        out
    }

    /// evanphx/json-patch `pruneNulls`.
    fn prune(value: &mut Value) {
        match value {
            Value::Object(o) => {
                o.retain(|_, v| !v.is_null());
                o.values_mut().for_each(prune);
            }
            Value::Array(a) => a.iter_mut().for_each(prune),
            _ => {}
        }
    }

    /// evanphx/json-patch `MergePatch` of two objects (`mergeDocs`).
    fn merge(doc: &mut Object, patch: &Object) {
        for (key, value) in patch {
            if value.is_null() {
                doc.shift_remove(key);
                continue;
            }
            match (doc.get_mut(key), value) {
                (Some(Value::Object(cur)), Value::Object(p)) => merge(cur, p),
                (Some(cur), _) if cur.is_object() => *cur = value.clone(),
                _ => {
                    let mut value = value.clone();
                    prune(&mut value);
                    doc.insert(key.clone(), value);
                }
            }
        }
    }

    /// strategicpatch's conflict check (`MergingMapsHaveConflicts`), lists compared whole.
    fn conflicts(left: &Object, right: &Object, path: &str, out: &mut Vec<String>) {
        for (key, lv) in left {
            let Some(rv) = right.get(key) else { continue };
            let here = format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"));
            match (lv, rv) {
                (Value::Object(l), Value::Object(r)) => conflicts(l, r, &here, out),
                _ if lv != rv => out.push(here),
                _ => {}
            }
        }
    }

    pub(super) fn three_way(
        original: &Object,
        modified: &Object,
        current: &Object,
        overwrite: bool,
    ) -> Result<Value, Vec<String>> {
        let changes = filter(&diff(current, modified), false);
        let mut patch = filter(&diff(original, modified), true);
        merge(&mut patch, &changes);
        if !overwrite {
            let mut paths = Vec::new();
            conflicts(&patch, &diff(original, current), "", &mut paths);
            if !paths.is_empty() {
                return Err(paths);
            }
        }
        Ok(Value::Object(patch))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn three_way_matches_the_two_pass_algorithm(
        original in small_document(),
        modified in small_document(),
        current in small_document(),
        overwrite in any::<bool>(),
    ) {
        let object = |doc: &Value| doc.as_object().expect("an object").clone();
        let want = two_pass::three_way(&object(&original), &object(&modified), &object(&current), overwrite);
        let got = create_three_way_merge_patch(Some(&original), &modified, Some(&current), overwrite)
            .map_err(|err| match err {
                Error::Conflict { paths } => paths,
                other => vec![other.to_string()],
            });
        // The same conflicts in any order: the two patches list their keys in different orders.
        let sorted = |result: Result<Value, Vec<String>>| result.map_err(|mut paths| {
            paths.sort();
            paths
        });
        prop_assert_eq!(sorted(got), sorted(want));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_created_patch_turns_a_into_b(a in object(), b in object()) {
        let patch = create_merge_patch(&a, &b);
        prop_assert_eq!(applied(&a, &patch), b);
    }

    #[test]
    fn a_document_against_itself_needs_no_patch(a in object()) {
        prop_assert_eq!(create_merge_patch(&a, &a), json!({}));
    }

    #[test]
    fn three_way_with_an_unchanged_live_object_is_the_two_way_patch(a in object(), b in object()) {
        let patch = create_three_way_merge_patch(Some(&a), &b, Some(&a), false);
        prop_assert_eq!(patch.ok(), Some(create_merge_patch(&a, &b)));
    }
}
