//! The built-in strategies against the conformance suite, and what each does beyond it.

use converge_apply::conformance::{Expectations, check};
use converge_apply::{ClientSideApply, CreateOnly, Replace, ServerSideApply};
use converge_testcluster::TestCluster;

/// A cluster with its stand-in controller off, and a client for it.
async fn start() -> (TestCluster, kube::Client) {
    let cluster = TestCluster::builder()
        .ready_after(None)
        .start()
        .await
        .expect("start");
    let url = cluster.url().parse().expect("url");
    let client = kube::Client::try_from(kube::Config::new(url)).expect("client");
    (cluster, client)
}

#[tokio::test]
async fn server_side_apply_conforms() {
    let report = check(&ServerSideApply::new("converge"), Expectations::full()).await;
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.passed.len(), 8);
}

#[tokio::test]
async fn client_side_apply_conforms() {
    let report = check(&ClientSideApply::new("converge"), Expectations::full()).await;
    assert!(report.is_ok(), "{report}");
}

#[tokio::test]
async fn replace_conforms() {
    let report = check(&Replace::new("converge"), Expectations::exact()).await;
    assert!(report.is_ok(), "{report}");
}

#[tokio::test]
async fn create_only_conforms() {
    let report = check(&CreateOnly::new("converge"), Expectations::create_only()).await;
    assert!(report.is_ok(), "{report}");
}

#[tokio::test]
async fn the_suite_catches_a_strategy_that_breaks_its_promises() {
    // Create-only does not update: held to the full promises, it fails exactly there.
    let report = check(&CreateOnly::new("converge"), Expectations::full()).await;
    let failed: Vec<&str> = report.failed.iter().map(|(case, _)| *case).collect();
    assert_eq!(
        failed,
        [
            "a dry run stores nothing",
            "updates what changed in git",
            "removes what left git"
        ],
        "{report}"
    );
    // Replace drops what others set: held to keeping it, it fails there.
    let report = check(&Replace::new("converge"), Expectations::full()).await;
    let failed: Vec<&str> = report.failed.iter().map(|(case, _)| *case).collect();
    assert_eq!(failed, ["keeps what others set"], "{report}");
}

mod engine;
mod strategies;
