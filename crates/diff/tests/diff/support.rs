//! Finding the shared conformance vectors.

use std::path::{Path, PathBuf};

/// `../shared/conformance/<name>` beside the workspace (or under `$CONVERGE_SHARED`). Under
/// `CI=true` a missing folder fails the test; elsewhere the test says it was skipped.
pub(crate) fn conformance(name: &str) -> Option<PathBuf> {
    let shared = std::env::var_os("CONVERGE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let dir = shared.join("conformance").join(name);
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "the conformance vectors at {} are missing; CI=true requires them",
            dir.display()
        );
    }
    eprintln!(
        "\n*** SKIPPED: the conformance vectors at {} are missing ***\n",
        dir.display()
    );
    None
}

/// `../shared/corpus/<path>` beside the workspace (or under `$CONVERGE_SHARED`). Under
/// `CI=true` a missing file fails the test; elsewhere the test says it was skipped.
pub(crate) fn corpus(path: &str) -> Option<PathBuf> {
    let file = shared().join("corpus").join(path);
    if file.is_file() {
        return Some(file);
    }
    missing(&format!("the corpus file {}", file.display()));
    None
}

fn shared() -> PathBuf {
    std::env::var_os("CONVERGE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

fn missing(what: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is missing; CI=true requires it");
    }
    eprintln!("\n*** SKIPPED: {what} is missing ***\n");
}

/// Reads a JSON file of vectors.
pub(crate) fn load(path: &Path) -> serde_json::Value {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
