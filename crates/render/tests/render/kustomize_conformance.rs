//! kustomize's own test cases (`../shared/conformance/kustomize`), rendered with
//! [`Kustomize`] and compared object for object with what `kubectl kustomize` printed.
//!
//! Every case must pass, or be listed with its reason in `kustomize-known-gaps.tsv` beside
//! this file; a listed case that passes fails the test too, so the list stays true.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use converge_core::{DirTree, parse_documents};
use converge_render::{Helm, Kustomize, LoadRestrictor};
use serde_json::Value;

fn shared() -> PathBuf {
    std::env::var_os("CONVERGE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// The helm oracle: `$CONVERGE_HELM`, or the one `scripts/install-oracles.sh` installs.
fn helm_binary() -> Result<PathBuf, String> {
    let path = std::env::var_os("CONVERGE_HELM")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/oracles/bin/helm")
        });
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("the helm oracle is missing at {}", path.display()))
    }
}

/// The outcome of one case: `Ok` or what differs.
/// The outcome of one case: `Ok` (with the error message of an error case) or what differs.
fn run_case(
    case: &Path,
    root: &str,
    flags: &str,
    error_case: bool,
) -> Result<Option<String>, String> {
    let tree = DirTree::new(case.join("in")).map_err(|e| e.to_string())?;
    let root = if root == "." { "" } else { root };
    let mut renderer = Kustomize::new();
    if flags.contains("--load-restrictor LoadRestrictionsNone") {
        renderer = renderer.with_load_restrictor(LoadRestrictor::None);
    }
    if flags.contains("--enable-helm") {
        renderer = renderer.with_helm(Helm::new().with_binary(helm_binary()?));
    }
    let result = renderer.render_sync(&tree, root);
    if error_case {
        return match result {
            Ok(manifests) => Err(format!(
                "rendered {} objects, expected an error",
                manifests.len()
            )),
            Err(e) => Ok(Some(e.to_string())),
        };
    }
    let manifests = result.map_err(|e| format!("error: {e}"))?;
    let expected_text = std::fs::read(case.join("expected.yaml")).map_err(|e| e.to_string())?;
    let expected: Vec<Value> = parse_documents("expected.yaml", &expected_text)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|d| d.value)
        .collect();
    let actual: Vec<Value> = manifests.iter().map(|m| m.object().clone()).collect();
    if actual == expected {
        return Ok(None);
    }
    let show = |values: &[Value]| {
        values
            .iter()
            .map(|v| converge_core::to_yaml(v).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("---\n")
    };
    Err(format!(
        "objects differ\n--- expected\n{}\n--- actual\n{}",
        show(&expected),
        show(&actual)
    ))
}

#[test]
fn kustomize_cases_render_as_kubectl_kustomize_does() {
    let dir = shared().join("conformance/kustomize");
    if !dir.is_dir() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the kustomize conformance cases at {} are missing; CI=true requires them",
            dir.display()
        );
        eprintln!(
            "*** SKIPPED: no kustomize conformance cases at {} ***",
            dir.display()
        );
        return;
    }
    let index = std::fs::read_to_string(dir.join("index.tsv")).expect("index.tsv");
    let gaps_text = include_str!("kustomize-known-gaps.tsv");
    let gaps: BTreeMap<&str, &str> = gaps_text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once('\t'))
        .collect();
    let wording_text = include_str!("kustomize-error-wording.tsv");
    let wording: BTreeMap<&str, &str> = wording_text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once('\t'))
        .collect();
    let verbose = std::env::var_os("CONVERGE_KUSTOMIZE_VERBOSE").is_some();
    let mut failures = Vec::new();
    let mut passed_gaps = Vec::new();
    let mut worded = Vec::new();
    let mut matching_messages = 0;
    let mut total = 0;
    for row in index.lines().skip(1) {
        let fields: Vec<&str> = row.split('\t').collect();
        let (name, kind, root, flags, check) =
            (fields[0], fields[1], fields[2], fields[3], fields[5]);
        total += 1;
        let case = dir.join("cases").join(name);
        let outcome = run_case(&case, root, flags, kind == "error");
        // An error case whose message kustomize's test checks by substring: ours must hold it
        // too (kustomize's in-memory paths start with `/`, ours are relative), or be listed
        // with the reason it words things otherwise.
        if let (Ok(Some(message)), "substring") = (&outcome, check) {
            let expected = std::fs::read_to_string(case.join("expected-error.txt"))
                .unwrap_or_default()
                .trim()
                .replace(" '/", " '");
            match (message.contains(&expected), wording.contains_key(name)) {
                (true, false) => matching_messages += 1,
                (true, true) => worded.push(format!("{name} (matches now)")),
                (false, true) => {}
                (false, false) => {
                    if verbose {
                        eprintln!(
                            "=== {name}\nexpected to contain: {expected}\nmessage: {message}\n"
                        );
                    }
                    worded.push(format!("{name} (message differs)"));
                }
            }
        }
        match (outcome, gaps.contains_key(name)) {
            (Ok(_), true) => passed_gaps.push(name),
            (Ok(_), false) => {}
            (Err(_), true) => {}
            (Err(why), false) => {
                if verbose {
                    eprintln!("=== {name}\n{why}\n");
                }
                failures.push(name);
            }
        }
    }
    eprintln!(
        "kustomize error messages: {matching_messages} hold kustomize's words, {} are worded otherwise on purpose",
        wording.len()
    );
    assert!(
        worded.is_empty(),
        "error messages out of line with kustomize-error-wording.tsv: {}",
        worded.join(", ")
    );
    eprintln!(
        "kustomize conformance: {} cases, {} known gaps, {} new failures, {} gaps now passing",
        total,
        gaps.len(),
        failures.len(),
        passed_gaps.len()
    );
    assert!(
        failures.is_empty(),
        "{} cases fail (CONVERGE_KUSTOMIZE_VERBOSE=1 shows why): {}",
        failures.len(),
        failures.join(" ")
    );
    assert!(
        passed_gaps.is_empty(),
        "these cases pass now; remove them from kustomize-known-gaps.tsv: {}",
        passed_gaps.join(" ")
    );
}

/// The real-world trees of `../shared/corpus` whose reference output is `kubectl kustomize`'s.
#[test]
fn corpus_trees_render_as_kubectl_kustomize_does() {
    let corpus = shared().join("corpus");
    if !corpus.is_dir() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the corpus at {} is missing; CI=true requires it",
            corpus.display()
        );
        eprintln!("*** SKIPPED: no corpus at {} ***", corpus.display());
        return;
    }
    let tree = DirTree::new(&corpus).expect("corpus tree");
    let index = std::fs::read_to_string(corpus.join("EXPECTED.tsv")).expect("EXPECTED.tsv");
    let mut checked = 0;
    let mut failures = Vec::new();
    for row in index.lines().skip(1) {
        let fields: Vec<&str> = row.split('\t').collect();
        let (path, command, expected) = (fields[0], fields[1], fields[3]);
        if !command.starts_with("kubectl kustomize") {
            continue;
        }
        checked += 1;
        let expected_text = std::fs::read(corpus.join(expected)).expect("expected output");
        let expected: Vec<Value> = parse_documents(expected, &expected_text)
            .expect("expected output parses")
            .into_iter()
            .map(|d| d.value)
            .collect();
        match Kustomize::new().render_sync(&tree, path) {
            Ok(manifests) => {
                let actual: Vec<Value> = manifests.iter().map(|m| m.object().clone()).collect();
                if actual != expected {
                    let differing = expected
                        .iter()
                        .zip(&actual)
                        .position(|(e, a)| e != a)
                        .unwrap_or(expected.len().min(actual.len()));
                    if std::env::var_os("CONVERGE_KUSTOMIZE_VERBOSE").is_some() {
                        eprintln!(
                            "=== {path}\n--- expected\n{}\n--- actual\n{}",
                            expected
                                .get(differing)
                                .map(Value::to_string)
                                .unwrap_or_default(),
                            actual
                                .get(differing)
                                .map(Value::to_string)
                                .unwrap_or_default()
                        );
                    }
                    failures.push(format!(
                        "{path}: {} objects expected, {} rendered; first difference at object {differing}",
                        expected.len(),
                        actual.len()
                    ));
                }
            }
            Err(e) => failures.push(format!("{path}: {e}")),
        }
    }
    eprintln!(
        "kustomize corpus: {checked} trees, {} differ",
        failures.len()
    );
    assert!(checked > 0, "EXPECTED.tsv lists kubectl kustomize trees");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
