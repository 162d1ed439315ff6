//! The controller's Prometheus metrics, served at `/metrics` in the OpenMetrics text format.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The kind of object reconciled.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
pub(crate) enum Kind {
    GitSource,
    Sync,
}

/// How a reconcile ended.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(
    non_camel_case_types,
    reason = "label values are written as Prometheus spells them"
)]
pub(crate) enum Result {
    success,
    failure,
}

/// What happened to an object of a sync.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(
    non_camel_case_types,
    reason = "label values are written as Prometheus spells them"
)]
pub(crate) enum Action {
    created,
    updated,
    unchanged,
    pruned,
    failed,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReconcileLabels {
    pub(crate) kind: Kind,
    pub(crate) result: Result,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct KindLabels {
    pub(crate) kind: Kind,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ActionLabels {
    pub(crate) action: Action,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ResultLabels {
    pub(crate) result: Result,
}

fn seconds() -> Histogram {
    // 10 ms to about 5 minutes.
    Histogram::new(exponential_buckets(0.01, 2.0, 15))
}

/// Every metric, and the registry that writes them.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    /// `converge_reconcile_total{kind, result}`.
    pub(crate) reconciles: Family<ReconcileLabels, Counter>,
    /// `converge_reconcile_duration_seconds{kind}`.
    pub(crate) durations: Family<KindLabels, Histogram, fn() -> Histogram>,
    /// `converge_objects_total{action}`.
    pub(crate) objects: Family<ActionLabels, Counter>,
    /// `converge_source_fetch_duration_seconds{result}`.
    pub(crate) fetches: Family<ResultLabels, Histogram, fn() -> Histogram>,
    /// `converge_queue_depth`: reconciles due and waiting for a free slot.
    pub(crate) queue: Gauge,
    /// `converge_reconciles_running`.
    pub(crate) running: Gauge,
    /// `converge_leader`: 1 while this replica holds the Lease (or needs none).
    pub(crate) leader: Gauge,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::default();
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        let durations = Family::new_with_constructor(seconds as fn() -> Histogram);
        let objects = Family::<ActionLabels, Counter>::default();
        let fetches = Family::new_with_constructor(seconds as fn() -> Histogram);
        let (queue, running, leader) = (Gauge::default(), Gauge::default(), Gauge::default());
        registry.register(
            "converge_reconcile",
            "Reconciles, by kind and result",
            reconciles.clone(),
        );
        registry.register(
            "converge_reconcile_duration_seconds",
            "How long reconciles take, by kind",
            durations.clone(),
        );
        registry.register(
            "converge_objects",
            "Objects of syncs, by what was done to them",
            objects.clone(),
        );
        registry.register(
            "converge_source_fetch_duration_seconds",
            "How long polling a source takes (a ref listing, and a fetch when it moved)",
            fetches.clone(),
        );
        registry.register(
            "converge_queue_depth",
            "Reconciles that are due and wait for a free slot",
            queue.clone(),
        );
        registry.register(
            "converge_reconciles_running",
            "Reconciles running now",
            running.clone(),
        );
        registry.register(
            "converge_leader",
            "1 while this replica is the one that acts",
            leader.clone(),
        );
        Metrics {
            registry,
            reconciles,
            durations,
            objects,
            fetches,
            queue,
            running,
            leader,
        }
    }

    /// The metrics in the OpenMetrics text format.
    pub(crate) fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    pub(crate) fn reconciled(&self, kind: Kind, ok: bool, seconds: f64) {
        let result = if ok { Result::success } else { Result::failure };
        self.reconciles
            .get_or_create(&ReconcileLabels { kind, result })
            .inc();
        self.durations
            .get_or_create(&KindLabels { kind })
            .observe(seconds);
    }

    pub(crate) fn count(&self, action: Action, n: usize) {
        self.objects
            .get_or_create(&ActionLabels { action })
            .inc_by(n as u64);
    }

    pub(crate) fn fetched(&self, ok: bool, seconds: f64) {
        let result = if ok { Result::success } else { Result::failure };
        self.fetches
            .get_or_create(&ResultLabels { result })
            .observe(seconds);
    }
}
