//! RFC 6902 against the public json-patch conformance suite, and generated patches by
//! property.

use converge_diff::json_patch::{JsonPatch, diff};
use proptest::prelude::*;
use serde_json::Value;

use crate::support::{conformance, load};

/// Runs one suite file; returns (passed, disabled).
fn run_suite(file: &str) -> (usize, usize) {
    let Some(dir) = conformance("json-patch-tests") else {
        return (0, 0);
    };
    let cases = load(&dir.join(file));
    let mut passed = 0;
    let mut disabled = 0;
    for case in cases.as_array().expect("a list of cases") {
        let name = case["comment"].as_str().unwrap_or("(no comment)");
        let Some(doc) = case.get("doc") else {
            continue; // a comment-only record
        };
        if case["disabled"] == true {
            // Disabled upstream, counted here and listed in the test below.
            disabled += 1;
            continue;
        }
        let mut result = doc.clone();
        let outcome = JsonPatch::from_value(&case["patch"]).and_then(|p| p.apply(&mut result));
        match (case.get("expected"), case.get("error"), outcome) {
            (_, Some(error), Ok(())) => panic!("{file}: {name}: expected {error}, got {result}"),
            (_, Some(_), Err(_)) => {
                assert_eq!(
                    &result, doc,
                    "{file}: {name}: a failed patch leaves the document"
                );
            }
            (Some(expected), None, Ok(())) => assert_eq!(&result, expected, "{file}: {name}"),
            (None, None, Ok(())) => {} // no expectation but success
            (_, None, Err(err)) => panic!("{file}: {name}: {err}"),
        }
        passed += 1;
    }
    (passed, disabled)
}

#[test]
fn the_json_patch_conformance_suite_passes() {
    let (passed, disabled) = run_suite("tests.json");
    if passed == 0 {
        return; // skipped: no vectors
    }
    // Disabled upstream: "Toplevel scalar values OK?" and "Whole document" (RFC 6902 leaves
    // whole-document and scalar-document patches to the implementation; this one allows
    // `add`/`replace` at "" and refuses `remove` at ""), and "duplicate ops" (an operation
    // object with a repeated key is not valid JSON for a strict reader; serde_json keeps the
    // last one).
    assert_eq!(
        (passed, disabled),
        (92, 3),
        "every enabled case of tests.json"
    );
    // Disabled upstream: "A.13 Invalid JSON Patch Document", a repeated "op" key as above.
    let (passed, disabled) = run_suite("spec_tests.json");
    assert_eq!(
        (passed, disabled),
        (16, 1),
        "every enabled case of spec_tests.json"
    );
}

/// JSON values that look like Kubernetes objects: nested maps, lists, strings and numbers.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-1000i64..1000).prop_map(Value::from),
        "[a-c]{0,3}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-d~/]{1,2}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_generated_patch_turns_from_into_to(from in json_value(), to in json_value()) {
        let patch = diff(&from, &to);
        let mut doc = from.clone();
        patch.apply(&mut doc).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(doc, to);
        // The patch survives its JSON form.
        let again = JsonPatch::from_value(&patch.to_value()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(again, patch);
    }

    #[test]
    fn equal_documents_give_an_empty_patch(doc in json_value()) {
        prop_assert!(diff(&doc, &doc).is_empty());
    }
}
