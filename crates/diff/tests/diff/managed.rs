//! Field sets against structured-merge-diff's own golden sets.

use converge_core::parse_documents;
use converge_diff::FieldSet;
use converge_diff::schema::Schema;

use crate::support::conformance;

/// Structs that Kubernetes 1.35 marks atomic (`+structType=atomic`) and the older schema the
/// goldens were made with did not: in 1.35 such a struct is one leaf, its fields are not
/// listed. Each entry is a FieldsV1 path (elements joined by spaces, `*` for any element).
const ATOMIC_SINCE_GOLDENS: &[&str] = &[
    "f:metadata f:ownerReferences *",
    "f:spec f:containers * f:env * f:valueFrom f:secretKeyRef",
];

/// The golden with the children of `ATOMIC_SINCE_GOLDENS` structs removed.
fn collapse(node: &mut serde_json::Value, path: &[&str]) {
    let Some(map) = node.as_object_mut() else {
        return;
    };
    for pattern in ATOMIC_SINCE_GOLDENS {
        let pattern: Vec<&str> = pattern.split(' ').collect();
        let here = pattern.len() == path.len()
            && pattern.iter().zip(path).all(|(p, e)| *p == "*" || p == e);
        if here {
            map.clear();
            return;
        }
    }
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let mut child_path = path.to_vec();
        child_path.push(&key);
        if let Some(child) = map.get_mut(&key) {
            collapse(child, &child_path);
        }
    }
}

/// The set of fields an object holds, as structured-merge-diff computes it
/// (`empty.Compare(obj).Added`), must equal the golden FieldsV1 byte for byte — but for the
/// structs 1.35 made atomic since (listed above, and applied to the golden explicitly).
#[test]
fn field_sets_match_structured_merge_diff_goldens() {
    let Some(dir) = conformance("smd") else {
        return;
    };
    let mut checked = 0;
    for (object, golden, kind) in [
        ("pod.yaml", "podset.json", ("", "v1", "Pod")),
        ("node.yaml", "nodeset.json", ("", "v1", "Node")),
        (
            "endpoints.yaml",
            "endpointsset.json",
            ("", "v1", "Endpoints"),
        ),
    ] {
        let text = std::fs::read(dir.join("testdata").join(object)).expect("object");
        let value = parse_documents(object, &text)
            .expect("YAML")
            .remove(0)
            .value;
        let ty = Schema::kubernetes().for_kind(kind.0, kind.1, kind.2);
        assert!(ty.is_some(), "{kind:?}");
        let ours = FieldSet::from_object(&value, ty).to_fields_v1();
        let text = std::fs::read_to_string(dir.join("testdata").join(golden)).expect("golden");
        let mut want: serde_json::Value = serde_json::from_str(&text).expect("golden JSON");
        collapse(&mut want, &[]);
        assert_eq!(
            serde_json::to_string(&ours).expect("json"),
            serde_json::to_string(&want).expect("json"),
            "{object}"
        );
        checked += 1;
    }
    assert_eq!(checked, 3);
}

/// Every FieldsV1 golden file reads as a set and is written back byte for byte.
#[test]
fn fields_v1_goldens_round_trip_byte_for_byte() {
    let Some(dir) = conformance("smd") else {
        return;
    };
    let mut checked = 0;
    for golden in [
        "podset.json",
        "nodeset.json",
        "endpointsset.json",
        "prometheus-crdset.json",
    ] {
        let text = std::fs::read_to_string(dir.join("testdata").join(golden)).expect("golden");
        let value: serde_json::Value = serde_json::from_str(&text).expect("golden JSON");
        let set = FieldSet::from_fields_v1(&value).expect("a FieldsV1 set");
        let written = serde_json::to_string(&set.to_fields_v1()).expect("json");
        assert_eq!(written, text.trim_end(), "{golden}");
        checked += 1;
    }
    assert_eq!(checked, 4);
}
