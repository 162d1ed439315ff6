//! Properties that must hold for any input: normalization is idempotent; a three-way apply
//! predicts an object that holds everything desired says and nothing the last apply set that
//! desired dropped.

use converge_diff::schema::Schema;
use converge_diff::{IgnoreRule, Normalizer, drift, three_way};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Deployment-like objects: labels, replicas, containers with env and ports, by name.
fn deployment() -> impl Strategy<Value = Value> {
    let env = prop::collection::btree_map("[A-D]", "[a-c]{1,2}", 0..4);
    let container = (
        "img:[1-3]",
        env,
        prop::collection::btree_set(80u16..84, 0..3),
    );
    (
        prop::collection::btree_map("[a-c]", "[x-z]", 0..3),
        prop::option::of(0u8..5),
        prop::collection::btree_map("[a-c]", container, 1..3),
    )
        .prop_map(|(labels, replicas, containers)| {
            let containers: Vec<Value> = containers
                .into_iter()
                .map(|(name, (image, env, ports))| {
                    json!({
                        "name": name, "image": image,
                        "env": env.into_iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
                        "ports": ports.into_iter().map(|p| json!({"containerPort": p})).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let mut object = json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "labels": labels},
                "spec": {"template": {"spec": {"containers": containers}}},
            });
            if let Some(r) = replicas {
                object["spec"]["replicas"] = json!(r);
            }
            object
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn normalization_is_idempotent(mut object in deployment(), status in any::<bool>()) {
        object["metadata"]["uid"] = json!("1");
        object["metadata"]["resourceVersion"] = json!("2");
        if status {
            object["status"] = json!({"replicas": 1});
        }
        let rule = IgnoreRule::new("images", ["/spec/template/spec/containers/*/image"]).expect("rule");
        let normalizer = Normalizer::default().with_rule(rule);
        normalizer.normalize(&mut object);
        let once = object.clone();
        prop_assert!(normalizer.normalize(&mut object).is_empty());
        prop_assert_eq!(object, once);
    }

    #[test]
    fn three_way_predicts_desired_over_live(last in deployment(), desired in deployment(), live in deployment()) {
        let ty = Schema::kubernetes().for_kind("apps", "v1", "Deployment");
        let result = three_way(Some(&last), &desired, &live, ty, true)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        // Everything desired says holds in the prediction.
        let d = drift(&desired, &result.predicted, None, &Normalizer::default(), ty);
        prop_assert!(d.is_empty(), "{:?}\npatch {}\npredicted {}", d.changes, result.patch, result.predicted);
        // A label the last apply set and desired dropped is gone.
        for (key, _) in last["metadata"]["labels"].as_object().into_iter().flatten() {
            if desired["metadata"]["labels"].get(key).is_none() {
                prop_assert!(result.predicted["metadata"]["labels"].get(key).is_none(), "label {key} kept");
            }
        }
        // Replicas set by the last apply and dropped from desired are removed.
        if last["spec"].get("replicas").is_some() && desired["spec"].get("replicas").is_none() {
            prop_assert!(result.predicted["spec"].get("replicas").is_none());
        }
    }
}
