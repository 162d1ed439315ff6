//! Leader election on a Lease, against the testcluster: one holder at a time, a takeover once
//! the holder stops renewing, an immediate one when it lets go.

use std::time::Duration;

use converge::leader::LeaseLock;
use converge_testcluster::TestCluster;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};

/// A testcluster with nothing running in it, and a client of it.
async fn started() -> (TestCluster, kube::Client) {
    let cluster = TestCluster::builder()
        .ready_after(None)
        .start()
        .await
        .expect("start");
    let client = kube::Client::try_from(kube::Config::new(cluster.url().parse().expect("url")))
        .expect("client");
    (cluster, client)
}

fn candidate(client: &kube::Client, identity: &str) -> LeaseLock {
    LeaseLock::new(client.clone(), "default", "controller", identity)
        .lease_duration(Duration::from_secs(1))
}

#[tokio::test]
async fn one_leader_at_a_time_and_a_takeover_within_the_lease() {
    let (_cluster, client) = started().await;
    let (mut a, mut b) = (candidate(&client, "a"), candidate(&client, "b"));

    assert!(a.try_acquire_or_renew().await.expect("a"));
    assert!(!b.try_acquire_or_renew().await.expect("b"));
    // While a renews, b never gets it.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(a.try_acquire_or_renew().await.expect("a renews"));
        assert!(!b.try_acquire_or_renew().await.expect("b waits"));
    }

    // a stops (a crash): b takes over once the lease has gone unrenewed for its duration.
    let stopped = std::time::Instant::now();
    loop {
        if b.try_acquire_or_renew().await.expect("b") {
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(5),
            "b never took over"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        stopped.elapsed() >= Duration::from_secs(1),
        "taken before the lease ran out"
    );
    let leases: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &ApiResource::from_gvk(&GroupVersionKind::gvk("coordination.k8s.io", "v1", "Lease")),
    );
    let lease = serde_json::to_value(leases.get("controller").await.expect("lease")).expect("json");
    assert_eq!(lease["spec"]["holderIdentity"], "b");
    assert_eq!(lease["spec"]["leaseTransitions"], 1);
    // a, back, sees it is no longer the leader.
    assert!(!a.try_acquire_or_renew().await.expect("a"));

    // b lets go on shutdown: a takes it at once.
    b.release().await.expect("release");
    assert!(a.try_acquire_or_renew().await.expect("a takes it"));
}

#[tokio::test]
async fn of_candidates_racing_for_a_new_lease_one_wins() {
    let (_cluster, client) = started().await;
    let mut candidates: Vec<LeaseLock> = (0..5)
        .map(|i| candidate(&client, &format!("c{i}")))
        .collect();
    let results =
        futures_util::future::join_all(candidates.iter_mut().map(|c| c.try_acquire_or_renew()))
            .await;
    let winners = results
        .into_iter()
        .filter(|r| matches!(r, Ok(true)))
        .count();
    assert_eq!(winners, 1);
}
