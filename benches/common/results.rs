//! Reading criterion's results back, for the comparison tables the benchmarks print.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::Value;

/// Where criterion writes its results: `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`,
/// else `target/criterion` in the workspace (criterion's own order, without asking cargo).
pub(crate) fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        PathBuf::from(home)
    } else if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        PathBuf::from(target).join("criterion")
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/criterion")
    }
}

/// Criterion's typical time of one iteration (slope, else mean), in ns, if that benchmark ran
/// in this run (its estimates were written after `since`).
pub(crate) fn measured(
    group: &str,
    function: &str,
    param: Option<&str>,
    since: SystemTime,
) -> Option<f64> {
    // As criterion names its directories: unsafe characters replaced, at most 64 bytes.
    let safe = |s: &str| {
        let mut safe = s.replace(['?', '"', '/', '\\', '*', '<', '>', ':', '|', '^'], "_");
        let mut end = safe.len().min(64);
        while !safe.is_char_boundary(end) {
            end -= 1;
        }
        safe.truncate(end);
        safe
    };
    let mut path = criterion_home().join(safe(group)).join(safe(function));
    if let Some(p) = param {
        path.push(safe(p));
    }
    path.push("new/estimates.json");
    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    if modified < since {
        return None;
    }
    let estimates: Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    estimates
        .pointer("/slope/point_estimate")
        .or_else(|| estimates.pointer("/mean/point_estimate"))
        .and_then(Value::as_f64)
}

/// Whether criterion measures in this run: under `cargo bench` (`--bench`), not when it only
/// runs each benchmark once (`--test`, as `cargo test --benches` does), lists them or
/// profiles them.
pub(crate) fn benchmarking() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| {
        args.iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
    };
    has("--bench") && !has("--test") && !has("--list") && !has("--profile-time")
}

/// Criterion as the benchmarks run it: ten samples, a second of warm-up, `measurement` per
/// benchmark, results in [`criterion_home`]; command-line flags still win.
pub(crate) fn criterion(measurement: Duration) -> criterion::Criterion {
    criterion::Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(measurement)
        .output_directory(&criterion_home())
        .configure_from_args()
}

/// A time in ns as the tables show it: `1.25 ms`, `32.4 µs`, `870 ns`; `–` when not measured.
// Each bench compiles this file on its own, and not every one prints times this way.
#[allow(dead_code)]
pub(crate) fn time(ns: Option<f64>) -> String {
    match ns {
        None => "–".to_owned(),
        Some(ns) if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        Some(ns) if ns >= 1e3 => format!("{:.1} µs", ns / 1e3),
        Some(ns) => format!("{ns:.0} ns"),
    }
}
