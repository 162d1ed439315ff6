//! The loop: which source to poll and which sync to run, when, and what to say about it.
//!
//! One task owns every decision. It wakes when an object changes, a poll or a sync ends, a
//! push arrives, leadership changes, or the next interval comes due; the work itself
//! ([`crate::work`]) runs in spawned tasks, at most `concurrency` at once, which report back
//! here.
//!
//! - A **source** is polled on its interval (a ref listing: [`Source::resolve`]); when it moved,
//!   the new revision is fetched, verified and digested, and the syncs of that source are due.
//! - A **sync** runs when its source has a revision it has not tried, on its own interval (to
//!   take back drift), when asked, or when its spec changes. It waits while its source has no
//!   revision or one of its `dependsOn` is not ready. After a failure it is tried again after
//!   `backoff_base`, doubled each time up to `backoff_max`.
//! - A sync with `preview` has one environment per matching branch, each run like a sync of
//!   its own; when a branch goes, its environment is pruned whole.
//! - A sync that prunes carries a finalizer: deleted, it prunes what it applied, then goes.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use converge::api::{
    self, Condition, Environment, FINALIZER, GitSource, GitSourceSpec, GitSourceStatus,
    InventoryCounts, REQUESTED_AT, Sync, SyncStatus, conditions, parse_duration,
};
use converge::receiver::Push;
use converge::source::{Reference, Revision, Source, VerifyMode};
use converge_apply::{ClientSideApply, Engine, Replace, ServerSideApply, Summary};
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::task::{AbortHandle, Id, JoinSet};
use tokio::time::Instant;

use crate::cli::chain;
use crate::metrics::{Action, Kind, Metrics};
use crate::store::{Store, Subject, Writer, key};
use crate::work::{Job, PollResult, Shared, SyncResult, poll, run_sync};

/// How the loop runs.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) concurrency: usize,
    pub(crate) backoff_base: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) cache: PathBuf,
    /// How long a poll (listing, fetch, verification) may take.
    pub(crate) source_timeout: Duration,
    /// Refuse sources and dependencies in another namespace than the Sync's.
    pub(crate) no_cross_namespace_refs: bool,
}

/// A source as the loop follows it.
struct SourceState {
    object: GitSource,
    /// The spec `source` was made for: a new spec makes a new one.
    built_for: Option<GitSourceSpec>,
    source: Option<Arc<dyn Source>>,
    revision: Option<Revision>,
    /// The matching branches, by pattern.
    branches: BTreeMap<String, Vec<Revision>>,
    next_poll: Instant,
    polling: bool,
    failures: u32,
    requested: bool,
    /// The spec changed: fetch (and verify) again even if the revision did not move.
    refetch: bool,
    /// What is wrong with the spec, read when it changes.
    invalid: Option<String>,
    status: GitSourceStatus,
}

/// One environment of a sync: the sync itself (key `""`), or a preview branch.
struct Instance {
    branch: Option<String>,
    /// The revision it should be at, and the one the run in hand was started for.
    wanted: String,
    attempting: Option<String>,
    last_attempted: Option<String>,
    last_applied: Option<String>,
    next_run: Instant,
    running: bool,
    failures: u32,
    requested: bool,
    /// The branch is gone: prune the environment.
    gone: bool,
    ready: Option<bool>,
    message: String,
}

/// A sync as the loop follows it.
struct SyncState {
    object: Sync,
    status: SyncStatus,
    instances: BTreeMap<String, Instance>,
    /// What is wrong with the spec, read when it changes.
    invalid: Option<String>,
    /// The spec cannot work: nothing runs until it changes.
    stalled: bool,
    /// It waited for its dependencies: run as soon as they are ready.
    held: bool,
    /// The finalizer change asked for (added, removed) and when, until the object shows it.
    finalizing: Option<(bool, Instant)>,
}

/// What a task reports.
enum Done {
    Poll(String, Box<PollResult>),
    /// The sync, the instance, the generation it ran for, and how it went.
    Sync(String, String, Option<i64>, SyncResult),
}

/// Which task an id is.
enum TaskOf {
    Poll(String),
    Sync(String, String),
}

pub(crate) struct Scheduler {
    settings: Settings,
    shared: Arc<Shared>,
    /// Objects come from a file: they cannot be annotated.
    from_file: bool,
    store: Arc<Store>,
    writer: Writer,
    metrics: Arc<Metrics>,
    sources: BTreeMap<String, SourceState>,
    syncs: BTreeMap<String, SyncState>,
    tasks: JoinSet<Done>,
    running: HashMap<Id, (TaskOf, AbortHandle)>,
    /// The store's version last taken in.
    seen: Option<u64>,
}

fn requested_at<K: Resource>(object: &K) -> Option<String> {
    object.annotations().get(REQUESTED_AT).cloned()
}

fn generation<K: Resource>(object: &K) -> Option<i64> {
    object.meta().generation
}

/// The keys of the Syncs `sync` depends on.
fn dependencies(sync: &Sync) -> impl Iterator<Item = String> + '_ {
    sync.spec.depends_on.iter().map(move |d| {
        format!(
            "{}/{}",
            d.namespace
                .clone()
                .unwrap_or_else(|| sync.namespace().unwrap_or_default()),
            d.name
        )
    })
}

/// The first reference of `sync` to another namespace: its source or a dependency.
fn cross_namespace_ref(sync: &Sync) -> Option<String> {
    let own = sync.namespace().unwrap_or_default();
    let other = |namespace: &Option<String>| namespace.as_ref().is_some_and(|n| *n != own);
    if other(&sync.spec.source_ref.namespace) {
        return Some(format!("sourceRef {}", source_key(sync)));
    }
    sync.spec
        .depends_on
        .iter()
        .find(|d| other(&d.namespace))
        .map(|d| {
            format!(
                "dependsOn {}/{}",
                d.namespace.as_deref().unwrap_or(""),
                d.name
            )
        })
}

fn source_key(sync: &Sync) -> String {
    let r = &sync.spec.source_ref;
    format!(
        "{}/{}",
        r.namespace
            .clone()
            .unwrap_or_else(|| sync.namespace().unwrap_or_default()),
        r.name
    )
}

/// What is wrong with a sync's spec, if anything.
fn invalid_sync(sync: &Sync) -> Option<String> {
    let spec = &sync.spec;
    if spec.source_ref.kind != "GitSource" {
        return Some(format!(
            "sourceRef.kind {:?} is not supported: only GitSource",
            spec.source_ref.kind
        ));
    }
    if let Some(e) = at_least_a_second(&spec.interval) {
        return Some(format!("interval: {e}"));
    }
    if let Some(Err(e)) = spec.timeout.as_deref().map(parse_duration) {
        return Some(format!("timeout: {e}"));
    }
    if let Some(preview) = &spec.preview
        && preview.branches.trim().is_empty()
    {
        return Some("preview.branches is empty".to_owned());
    }
    if let Err(e) = ignore_rules(sync) {
        return Some(format!("ignore: {e}"));
    }
    None
}

fn invalid_source(source: &GitSource) -> Option<String> {
    if source.spec.url.trim().is_empty() {
        return Some("url is empty".to_owned());
    }
    if let Some(e) = at_least_a_second(&source.spec.interval) {
        return Some(format!("interval: {e}"));
    }
    if let Some(verify) = &source.spec.verify
        && verify_mode(&verify.mode).is_none()
    {
        return Some(format!(
            "verify.mode {:?}: expected HEAD, Tag or TagAndHEAD",
            verify.mode
        ));
    }
    None
}

/// What is wrong with an interval: not a duration, or shorter than a second (which would
/// poll or sync without pause).
fn at_least_a_second(interval: &str) -> Option<String> {
    match parse_duration(interval) {
        Err(e) => Some(e),
        Ok(d) if d < Duration::from_secs(1) => {
            Some(format!("{interval:?} is shorter than a second"))
        }
        Ok(_) => None,
    }
}

pub(crate) fn verify_mode(mode: &str) -> Option<VerifyMode> {
    match mode {
        "HEAD" | "head" => Some(VerifyMode::Head),
        "Tag" | "tag" => Some(VerifyMode::Tag),
        "TagAndHEAD" => Some(VerifyMode::TagAndHead),
        _ => None,
    }
}

/// The ignore rules of a sync, as converge-diff reads them.
pub(crate) fn ignore_rules(sync: &Sync) -> Result<converge::diff::Normalizer, String> {
    let mut normalizer = converge::diff::Normalizer::default().with_status(true);
    for (i, rule) in sync.spec.ignore.iter().enumerate() {
        let mut parsed = converge::diff::IgnoreRule::new(format!("ignore[{i}]"), &rule.paths)
            .map_err(|e| format!("ignore[{i}]: {e}"))?;
        // Any group: the rule names a kind only.
        parsed.selector.kind.clone_from(&rule.kind);
        if let Some(name) = &rule.name {
            parsed = parsed.named(name.as_str());
        }
        normalizer = normalizer.with_rule(parsed);
    }
    Ok(normalizer)
}

/// The name of a sync's inventory (its ApplySet parent Secret): `sync-<name>`, and
/// `sync-<name>-<namespace>` for a preview environment.
pub(crate) fn inventory_name(sync: &str, environment: Option<&str>) -> String {
    let name = match environment {
        Some(ns) => format!("sync-{sync}-{ns}"),
        None => format!("sync-{sync}"),
    };
    name.chars().take(253).collect()
}

impl Scheduler {
    pub(crate) fn new(
        settings: Settings,
        config: kube::Config,
        client: kube::Client,
        store: Arc<Store>,
        writer: Writer,
        metrics: Arc<Metrics>,
        from_file: bool,
    ) -> Result<Scheduler, converge_apply::Error> {
        // Git is the truth: fields changed by hand are taken back, as Flux does.
        let server_side = Engine::from_config(
            config.clone(),
            ServerSideApply::new(crate::MANAGER).force(true),
        )?;
        let client_side =
            Engine::from_config(config.clone(), ClientSideApply::new(crate::MANAGER))?;
        let replace = Engine::from_config(config, Replace::new(crate::MANAGER))?;
        Ok(Scheduler {
            shared: Arc::new(Shared {
                client,
                server_side,
                client_side,
                replace,
                cache: settings.cache.clone(),
            }),
            settings,
            from_file,
            store,
            writer,
            metrics,
            sources: BTreeMap::new(),
            syncs: BTreeMap::new(),
            tasks: JoinSet::new(),
            running: HashMap::new(),
            seen: None,
        })
    }

    pub(crate) async fn run(
        mut self,
        mut leading: watch::Receiver<bool>,
        mut pushes: mpsc::UnboundedReceiver<Push>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let store = self.store.clone();
        let mut elected = true;
        loop {
            self.refresh();
            let next = if *leading.borrow() {
                self.schedule()
            } else {
                None
            };
            let wake = next.unwrap_or_else(|| Instant::now() + Duration::from_secs(60));
            tokio::select! {
                () = store.changed.notified() => {}
                Some(done) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => self.finish(done),
                Some(push) = pushes.recv() => self.push(&push),
                changed = leading.changed(), if elected => match changed {
                    Ok(()) if !*leading.borrow() => self.abandon("lost the lead"),
                    // Led again: start from what the cluster says now (another leader may
                    // have moved things on), not from what this replica knew before.
                    Ok(()) => self.forget(),
                    Err(_) => elected = false,
                },
                () = tokio::time::sleep_until(wake) => {}
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
        }
        // Let the work in hand finish, for a while.
        let deadline = tokio::time::sleep(self.settings.shutdown_timeout);
        tokio::pin!(deadline);
        while !self.tasks.is_empty() {
            tokio::select! {
                Some(done) = self.tasks.join_next_with_id() => self.finish(done),
                () = &mut deadline => {
                    self.abandon("shutting down");
                    break;
                }
                // Another replica may act once the lead is lost: stop at once.
                Ok(()) = leading.changed(), if elected => {
                    if !*leading.borrow() {
                        self.abandon("lost the lead while shutting down");
                        break;
                    }
                }
            }
        }
    }

    /// Forgets every source and sync, to take them in afresh from the store.
    fn forget(&mut self) {
        self.abandon("led again");
        self.sources.clear();
        self.syncs.clear();
        self.seen = None;
    }

    /// Drops the work in hand: a sync cut short is completed by the next run.
    fn abandon(&mut self, why: &str) {
        if self.tasks.is_empty() {
            return;
        }
        tracing::warn!(
            tasks = self.tasks.len(),
            "{why}: abandoning the work in hand"
        );
        self.tasks.abort_all();
        for (task, _) in self.running.drain().map(|(_, task)| task) {
            match task {
                TaskOf::Poll(key) => {
                    if let Some(s) = self.sources.get_mut(&key) {
                        s.polling = false;
                    }
                }
                TaskOf::Sync(key, instance) => {
                    if let Some(i) = self
                        .syncs
                        .get_mut(&key)
                        .and_then(|s| s.instances.get_mut(&instance))
                    {
                        i.running = false;
                        i.requested = true;
                    }
                }
            }
        }
        self.metrics.running.set(0);
    }

    /// Takes in the objects as the store has them now.
    fn refresh(&mut self) {
        let now = Instant::now();
        let objects = self.store.lock();
        if self.seen == Some(objects.version) {
            return;
        }
        self.seen = Some(objects.version);
        // Gone (deleted, or moved to another shard), or deleted and made again (a new uid):
        // forgotten, and the work for them stops now.
        self.sources.retain(|k, s| {
            objects
                .sources
                .get(k)
                .is_some_and(|o| o.uid() == s.object.uid())
        });
        self.syncs.retain(|k, s| {
            objects
                .syncs
                .get(k)
                .is_some_and(|o| o.uid() == s.object.uid())
        });
        let orphans: Vec<Id> = self
            .running
            .iter()
            .filter(|(_, (task, _))| match task {
                TaskOf::Poll(k) => !self.sources.contains_key(k),
                TaskOf::Sync(k, _) => !self.syncs.contains_key(k),
            })
            .map(|(id, _)| *id)
            .collect();
        for id in orphans {
            if let Some((_, handle)) = self.running.remove(&id) {
                handle.abort();
            }
        }
        for (k, object) in &objects.sources {
            let state = self
                .sources
                .entry(k.clone())
                .or_insert_with(|| SourceState {
                    object: object.clone(),
                    built_for: None,
                    source: None,
                    revision: None,
                    branches: BTreeMap::new(),
                    next_poll: now,
                    polling: false,
                    failures: 0,
                    requested: false,
                    refetch: false,
                    invalid: invalid_source(object),
                    status: object.status.clone().unwrap_or_default(),
                });
            if state.built_for.as_ref().is_some_and(|s| *s != object.spec) {
                // A new spec: a new source, polled, fetched and verified at once. Syncs keep
                // the revision they have meanwhile.
                state.built_for = None;
                state.source = None;
                state.failures = 0;
                state.requested = true;
                state.refetch = true;
            }
            let asked = requested_at(object);
            if asked.is_some() && asked != state.status.last_handled_reconcile_at {
                state.requested = true;
            }
            if state.object.spec != object.spec {
                state.invalid = invalid_source(object);
            }
            state.object = object.clone();
        }
        for (k, object) in &objects.syncs {
            let state = self.syncs.entry(k.clone()).or_insert_with(|| {
                let status = object.status.clone().unwrap_or_default();
                let mut instances = BTreeMap::new();
                if object.spec.preview.is_none() {
                    instances.insert(
                        String::new(),
                        Instance::new(None, status.last_applied_revision.clone(), now),
                    );
                }
                // The environments a previous run (or leader) made, so that those whose
                // branch went meanwhile are still pruned.
                for environment in &status.environments {
                    let mut instance = Instance::new(
                        Some(environment.branch.clone()),
                        environment.last_applied_revision.clone(),
                        now,
                    );
                    instance.ready = match environment.ready.as_str() {
                        "True" => Some(true),
                        "False" => Some(false),
                        _ => None,
                    };
                    instance.message.clone_from(&environment.message);
                    instances.insert(environment.branch.clone(), instance);
                }
                SyncState {
                    object: object.clone(),
                    status,
                    instances,
                    invalid: invalid_sync(object),
                    stalled: false,
                    held: false,
                    finalizing: None,
                }
            });
            if generation(&state.object) != generation(object) || state.object.spec != object.spec {
                state.stalled = false;
                for instance in state.instances.values_mut() {
                    instance.requested = true;
                    instance.failures = 0;
                }
            }
            let asked = requested_at(object);
            if asked.is_some() && asked != state.status.last_handled_reconcile_at {
                for instance in state.instances.values_mut() {
                    instance.requested = true;
                }
            }
            if state.object.resource_version() != object.resource_version() {
                state.finalizing = None;
            }
            if state.object.spec != object.spec {
                state.invalid = invalid_sync(object);
            }
            state.object = object.clone();
        }
    }

    /// Starts what is due, as far as there are free slots; returns when to look again.
    fn schedule(&mut self) -> Option<Instant> {
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let mut soonest = |at: Instant| next = Some(next.map_or(at, |n: Instant| n.min(at)));
        let mut waiting = 0i64;

        let keys: Vec<String> = self.sources.keys().cloned().collect();
        for k in keys {
            let state = &self.sources[&k];
            if state.object.spec.suspend || state.polling {
                continue;
            }
            if let Some(reason) = state.invalid.clone() {
                self.stall_source(&k, &reason);
                continue;
            }
            let due = if state.requested {
                now
            } else {
                state.next_poll
            };
            if due > now {
                soonest(due);
            } else if self.tasks.len() < self.settings.concurrency {
                self.poll(&k);
            } else {
                waiting += 1;
            }
        }

        let keys: Vec<String> = self.syncs.keys().cloned().collect();
        for k in keys {
            for (instance, due) in self.due_instances(&k, now) {
                if due > now {
                    soonest(due);
                } else if self.tasks.len() < self.settings.concurrency {
                    self.start_sync(&k, &instance);
                } else {
                    waiting += 1;
                }
            }
        }
        self.metrics.queue.set(waiting);
        next
    }

    /// The instances of a sync that may run, with when each is due; says why none may when
    /// the sync waits for something.
    fn due_instances(&mut self, k: &str, now: Instant) -> Vec<(String, Instant)> {
        let Some(state) = self.syncs.get(k) else {
            return Vec::new();
        };
        let sync = &state.object;
        let finalized = sync.finalizers().iter().any(|f| f == FINALIZER);
        if sync.meta().deletion_timestamp.is_some() {
            return if finalized {
                self.collect_garbage(k, now)
            } else {
                Vec::new()
            };
        }
        // What it applies is deleted with it: say so before the first write.
        if !finalized
            && !self.from_file
            && (sync.spec.prune || sync.spec.preview.is_some())
            && !sync.spec.suspend
        {
            self.finalizer(k, true);
            return Vec::new();
        }
        if sync.spec.suspend || state.stalled {
            return Vec::new();
        }
        if let Some(reason) = state.invalid.clone() {
            self.stall_sync(k, "InvalidSpec", &reason);
            return Vec::new();
        }
        if self.settings.no_cross_namespace_refs
            && let Some(reference) = cross_namespace_ref(sync)
        {
            self.stall_sync(
                k,
                "CrossNamespaceRefDenied",
                &format!(
                    "{reference} is in another namespace, and cross-namespace references are off"
                ),
            );
            return Vec::new();
        }
        let source = source_key(sync);
        let Some(src) = self.sources.get(&source) else {
            self.wait_sync(k, "SourceNotFound", format!("GitSource {source} not found"));
            return Vec::new();
        };
        let (Some(revision), Some(_)) = (&src.revision, &src.source) else {
            let why = if src.object.spec.suspend {
                ": it is suspended".to_owned()
            } else {
                api::get_condition(&src.status.conditions, conditions::READY)
                    .filter(|c| c.status == "False")
                    .map_or_else(String::new, |c| format!(": {}", c.message))
            };
            self.wait_sync(
                k,
                "SourceNotReady",
                format!("GitSource {source} has no revision yet{why}"),
            );
            return Vec::new();
        };
        if !sync.spec.depends_on.is_empty()
            && let Some(cycle) = self.cycle(k)
        {
            self.wait_sync(
                k,
                "DependencyCycle",
                format!("dependsOn goes round in a circle: {}", cycle.join(" → ")),
            );
            return Vec::new();
        }
        let deps: Vec<String> = dependencies(sync).collect();
        for dep in deps {
            // Ready at its current spec, and not busy bringing in a new revision (a drift
            // check does not hold dependents back).
            let ready = self.syncs.get(&dep).is_some_and(|d| {
                api::is_ready(&d.status.conditions, generation(&d.object))
                    && !d
                        .instances
                        .values()
                        .any(|i| i.running && i.last_applied.as_deref() != Some(i.wanted.as_str()))
            });
            if !ready {
                self.wait_sync(
                    k,
                    "DependencyNotReady",
                    format!("dependency {dep} is not ready"),
                );
                return Vec::new();
            }
        }
        // What the instances should be at now.
        let targets: Vec<(String, Option<String>, &Revision)> = match &sync.spec.preview {
            None => vec![(String::new(), None, revision)],
            Some(preview) => match src.branches.get(&preview.branches) {
                Some(branches) => branches
                    .iter()
                    .filter_map(|r| {
                        let branch = r.name()?.to_owned();
                        Some((branch.clone(), Some(branch), r))
                    })
                    .collect(),
                // Not listed yet: list it now.
                None => {
                    if let Some(src) = self.sources.get_mut(&source) {
                        src.requested = true;
                    }
                    return Vec::new();
                }
            },
        };
        let pattern = sync
            .spec
            .preview
            .as_ref()
            .map_or_else(String::new, |p| p.branches.clone());
        let sync_is_preview = sync.spec.preview.is_some();
        let targets: Vec<(String, Option<String>, String)> = targets
            .into_iter()
            .map(|(name, branch, r)| (name, branch, r.to_string()))
            .collect();
        let Some(state) = self.syncs.get_mut(k) else {
            return Vec::new();
        };
        // Held back until now: run at once rather than at the next interval.
        let held = std::mem::take(&mut state.held);
        if targets.is_empty() && state.instances.is_empty() {
            let message = format!("no branch matches {pattern}: no environment");
            let asked = requested_at(&state.object);
            let unanswered = asked.is_some() && asked != state.status.last_handled_reconcile_at;
            if unanswered
                || !api::get_condition(&state.status.conditions, conditions::READY)
                    .is_some_and(|c| c.status == "True" && c.message == message)
            {
                if unanswered {
                    state.status.last_handled_reconcile_at = asked;
                }
                let generation = generation(&state.object);
                ready(
                    &mut state.status.conditions,
                    "ReconciliationSucceeded",
                    &message,
                    generation,
                );
                state.status.observed_generation = generation;
                self.writer
                    .sync_status(Subject::of(&state.object), state.status.clone());
            }
            return Vec::new();
        }
        // A plain Sync turned into a preview one leaves its objects in place, as a deleted
        // Sync does; preview environments whose branch went are pruned.
        if sync_is_preview {
            state.instances.remove("");
        }
        for instance in state.instances.values_mut() {
            instance.gone = true;
            if !instance.running {
                instance.requested |= held;
            }
        }
        for (name, branch, wanted) in targets {
            let instance = state
                .instances
                .entry(name)
                .or_insert_with(|| Instance::new(branch, None, now));
            instance.gone = false;
            instance.wanted = wanted;
        }
        state
            .instances
            .iter()
            .filter(|(_, i)| !i.running)
            .map(|(name, i)| {
                let due = if i.gone {
                    // A teardown that failed waits out its backoff too.
                    if i.failures == 0 { now } else { i.next_run }
                } else if i.requested || i.last_attempted.as_deref() != Some(i.wanted.as_str()) {
                    now
                } else {
                    i.next_run
                };
                (name.clone(), due)
            })
            .collect()
    }

    /// A Sync being deleted: prunes everything it applied (with `prune`; always for preview
    /// environments), then lets it go. A suspended one goes at once, leaving its objects, as
    /// Flux does.
    fn collect_garbage(&mut self, k: &str, now: Instant) -> Vec<(String, Instant)> {
        let Some(state) = self.syncs.get_mut(k) else {
            return Vec::new();
        };
        if state.object.spec.suspend {
            state.instances.clear();
        }
        if !state.object.spec.prune {
            state.instances.remove("");
        }
        if state.instances.is_empty() {
            self.finalizer(k, false);
            return Vec::new();
        }
        state
            .instances
            .iter_mut()
            .filter(|(_, i)| !i.running)
            .map(|(name, i)| {
                i.gone = true;
                let due = if i.failures == 0 { now } else { i.next_run };
                (name.clone(), due)
            })
            .collect()
    }

    /// Adds (`true`) or removes Converge's finalizer, once per change seen.
    fn finalizer(&mut self, k: &str, add: bool) {
        let Some(state) = self.syncs.get_mut(k) else {
            return;
        };
        // Asked already: wait for the object to show it, or ask again after a while (the patch
        // may have failed; it said so in an Event).
        let now = Instant::now();
        if state
            .finalizing
            .is_some_and(|(asked, at)| asked == add && now < at + Duration::from_secs(10))
        {
            return;
        }
        state.finalizing = Some((add, now));
        let mut finalizers: Vec<String> = state
            .object
            .finalizers()
            .iter()
            .filter(|f| *f != FINALIZER)
            .cloned()
            .collect();
        if add {
            finalizers.push(FINALIZER.to_owned());
        }
        // Guarded by the resourceVersion: other finalizers are never lost.
        let patch = json!({"metadata": {
            "finalizers": finalizers,
            "resourceVersion": state.object.resource_version(),
        }});
        let api: Api<Sync> = Api::namespaced(
            self.shared.client.clone(),
            &state.object.namespace().unwrap_or_default(),
        );
        let name = state.object.name_any();
        let (subject, writer) = (Subject::of(&state.object), self.writer.clone());
        tokio::spawn(async move {
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {}
                // Changed meanwhile: the watch brings the new version, and it is asked again.
                Err(kube::Error::Api(status)) if status.code == 409 => {}
                Err(err) => writer.event(
                    &subject,
                    true,
                    "FinalizerFailed",
                    &format!(
                        "cannot {} the finalizer {FINALIZER}: {}",
                        if add { "add" } else { "remove" },
                        chain(&err)
                    ),
                ),
            }
        });
    }

    /// The circle of `dependsOn` that `k` is part of, if any: `a → b → a`.
    fn cycle(&self, k: &str) -> Option<Vec<String>> {
        let mut path = vec![k.to_owned()];
        let mut seen = std::collections::HashSet::new();
        fn walk(
            syncs: &BTreeMap<String, SyncState>,
            start: &str,
            path: &mut Vec<String>,
            seen: &mut std::collections::HashSet<String>,
        ) -> bool {
            let Some(current) = path.last().and_then(|k| syncs.get(k)) else {
                return false;
            };
            for dep in dependencies(&current.object) {
                if dep == start {
                    path.push(dep);
                    return true;
                }
                if seen.insert(dep.clone()) {
                    path.push(dep);
                    if walk(syncs, start, path, seen) {
                        return true;
                    }
                    path.pop();
                }
            }
            false
        }
        walk(&self.syncs, k, &mut path, &mut seen).then_some(path)
    }

    /// Says, once, that a sync waits for something.
    fn wait_sync(&mut self, k: &str, reason: &str, message: String) {
        let Some(state) = self.syncs.get_mut(k) else {
            return;
        };
        // Run as soon as what it waits for is there.
        state.held = true;
        let same = api::get_condition(&state.status.conditions, conditions::READY)
            .is_some_and(|c| c.reason == reason && c.message == message);
        if same {
            return;
        }
        let generation = generation(&state.object);
        not_ready(
            &mut state.status.conditions,
            reason,
            &message,
            None,
            generation,
        );
        let subject = Subject::of(&state.object);
        self.writer.event(&subject, false, reason, &message);
        self.writer.sync_status(subject, state.status.clone());
    }

    fn stall_sync(&mut self, k: &str, reason: &str, message: &str) {
        let Some(state) = self.syncs.get_mut(k) else {
            return;
        };
        state.stalled = true;
        let generation = generation(&state.object);
        stalled(&mut state.status.conditions, reason, message, generation);
        state.status.observed_generation = generation;
        let subject = Subject::of(&state.object);
        self.writer.event(&subject, true, reason, message);
        self.writer.sync_status(subject, state.status.clone());
    }

    fn stall_source(&mut self, k: &str, message: &str) {
        let Some(state) = self.sources.get_mut(k) else {
            return;
        };
        let generation = generation(&state.object);
        if api::get_condition(&state.status.conditions, conditions::STALLED)
            .is_some_and(|c| c.message == message && c.observed_generation == generation)
        {
            return;
        }
        stalled(
            &mut state.status.conditions,
            "InvalidSpec",
            message,
            generation,
        );
        state.status.observed_generation = generation;
        let subject = Subject::of(&state.object);
        self.writer.event(&subject, true, "InvalidSpec", message);
        self.writer.source_status(subject, state.status.clone());
    }

    /// Starts polling a source.
    fn poll(&mut self, k: &str) {
        let Some(state) = self.sources.get_mut(k) else {
            return;
        };
        state.polling = true;
        state.requested = false;
        if let Some(asked) = requested_at(&state.object)
            && state.status.last_handled_reconcile_at.as_ref() != Some(&asked)
        {
            // Said at once: whoever asked sees the request taken.
            state.status.last_handled_reconcile_at = Some(asked);
            self.writer
                .source_status(Subject::of(&state.object), state.status.clone());
        }
        if state.built_for.is_none() {
            state.built_for = Some(state.object.spec.clone());
        }
        // The branch patterns of the preview syncs of this source.
        let patterns: Vec<String> = self
            .syncs
            .values()
            .filter(|s| source_key(&s.object) == k)
            .filter_map(|s| s.object.spec.preview.as_ref().map(|p| p.branches.clone()))
            .collect();
        let object = state.object.clone();
        // After a failure the source is made again, with its Secrets as they are now:
        // rotated credentials or keys are picked up. Syncs keep the old one meanwhile.
        let source = state.source.clone().filter(|_| state.failures == 0);
        let previous = state.revision.clone().filter(|_| !state.refetch);
        state.refetch = false;
        let shared = self.shared.clone();
        let limit = self.settings.source_timeout;
        let handle = self.tasks.spawn(async move {
            let key = key(&object);
            let spec = object.spec.clone();
            let result =
                match tokio::time::timeout(limit, poll(shared, object, source, previous, patterns))
                    .await
                {
                    Ok(result) => result,
                    Err(_) => PollResult {
                        spec,
                        source: None,
                        revision: Err(format!("timed out after {}", human(limit))),
                        branches: BTreeMap::new(),
                        seconds: limit.as_secs_f64(),
                    },
                };
            Done::Poll(key, Box::new(result))
        });
        self.running
            .insert(handle.id(), (TaskOf::Poll(k.to_owned()), handle));
        self.metrics.running.set(self.tasks.len() as i64);
    }

    /// Starts a sync of one instance.
    fn start_sync(&mut self, k: &str, name: &str) {
        let Some(state) = self.syncs.get_mut(k) else {
            return;
        };
        let Some(instance) = state.instances.get_mut(name) else {
            return;
        };
        // A teardown needs no source: it may be gone already.
        let source = self.sources.get(&source_key(&state.object));
        let src = source.and_then(|s| s.source.clone());
        if src.is_none() && !instance.gone {
            return;
        }
        let reference = source.map_or(Reference::Default, |s| {
            s.object.spec.reference.to_reference()
        });
        instance.running = true;
        instance.attempting = Some(instance.wanted.clone());
        let asked = instance.requested;
        instance.requested = false;
        let job = Job {
            sync: state.object.clone(),
            // By the source's reference (a tag is verified as a tag; a branch fetched alone):
            // the revision may be newer than the one polled, and is recorded as it is.
            reference: match &instance.branch {
                Some(branch) => Reference::Branch(branch.clone()),
                None => reference,
            },
            revision: instance.wanted.clone(),
            branch: instance.branch.clone(),
            teardown: instance.gone,
            source: src,
        };
        let what = match (&instance.branch, instance.gone) {
            (Some(branch), true) => format!("Deleting the environment of branch {branch}"),
            (Some(branch), false) => {
                format!(
                    "Reconciling the environment of branch {branch} at {}",
                    instance.wanted
                )
            }
            (None, true) => "Pruning what the deleted Sync applied".to_owned(),
            (None, false) => format!("Reconciling revision {}", instance.wanted),
        };
        // Say what is going on, without flapping Ready on every drift check.
        let generation = generation(&state.object);
        if asked && let Some(at) = requested_at(&state.object) {
            state.status.last_handled_reconcile_at = Some(at);
        }
        api::set_condition(
            &mut state.status.conditions,
            Condition::new(
                conditions::RECONCILING,
                true,
                "Progressing",
                &what,
                generation,
            ),
        );
        if api::get_condition(&state.status.conditions, conditions::READY).is_none() {
            api::set_condition(
                &mut state.status.conditions,
                Condition::new(conditions::READY, false, "Progressing", &what, generation)
                    .unknown(),
            );
        }
        // An environment is in the status from its first run on, so that it is pruned even if
        // this process stops before that run ends.
        state.status.environments = environments(&state.instances);
        self.writer
            .sync_status(Subject::of(&state.object), state.status.clone());
        tracing::info!(sync = k, "{what}");

        let shared = self.shared.clone();
        let (key, instance) = (k.to_owned(), name.to_owned());
        let handle = self.tasks.spawn(async move {
            let result = run_sync(shared, job).await;
            Done::Sync(key, instance, generation, result)
        });
        self.running.insert(
            handle.id(),
            (TaskOf::Sync(k.to_owned(), name.to_owned()), handle),
        );
        self.metrics.running.set(self.tasks.len() as i64);
    }

    /// Takes in what a task reports.
    fn finish(&mut self, done: Result<(Id, Done), tokio::task::JoinError>) {
        let (id, done) = match done {
            Ok(done) => done,
            Err(err) => {
                // Aborted (its state was reset then) or panicked: try again later.
                if let Some((task, _)) = self.running.remove(&err.id()) {
                    tracing::error!(error = %err, "a task failed");
                    match task {
                        TaskOf::Poll(k) => {
                            if let Some(s) = self.sources.get_mut(&k) {
                                s.polling = false;
                                s.next_poll = Instant::now() + self.settings.backoff_max;
                            }
                        }
                        TaskOf::Sync(k, i) => {
                            if let Some(i) =
                                self.syncs.get_mut(&k).and_then(|s| s.instances.get_mut(&i))
                            {
                                i.running = false;
                                i.next_run = Instant::now() + self.settings.backoff_max;
                            }
                        }
                    }
                }
                self.metrics.running.set(self.tasks.len() as i64);
                return;
            }
        };
        self.metrics.running.set(self.tasks.len() as i64);
        // A task abandoned while it was finishing: its state was reset.
        if self.running.remove(&id).is_none() {
            return;
        }
        match done {
            Done::Poll(k, result) => self.polled(&k, *result),
            Done::Sync(k, instance, generation, result) => {
                self.synced(&k, &instance, generation, result);
            }
        }
    }

    fn polled(&mut self, k: &str, result: PollResult) {
        let settings = self.settings.clone();
        let backoff = |failures| backoff(&settings, failures);
        let Some(state) = self.sources.get_mut(k) else {
            return;
        };
        state.polling = false;
        if result.spec != state.object.spec {
            // Polled for a spec that has changed since: poll again for this one.
            state.requested = true;
            state.refetch = true;
            return;
        }
        if result.source.is_some() {
            state.source = result.source;
        }
        self.metrics
            .fetched(result.revision.is_ok(), result.seconds);
        self.metrics
            .reconciled(Kind::GitSource, result.revision.is_ok(), result.seconds);
        let generation = generation(&state.object);
        let interval =
            parse_duration(&state.object.spec.interval).unwrap_or(Duration::from_secs(60));
        let subject = Subject::of(&state.object);
        let before = state.status.clone();
        match result.revision {
            Ok((revision, digest)) => {
                state.failures = 0;
                state.next_poll = Instant::now() + interval;
                state.branches = result.branches;
                // New to the status, not only to this process (a restart fetches again).
                let moved = state.status.artifact.as_ref().map(|a| a.revision.as_str())
                    != Some(revision.to_string().as_str());
                let message = format!("stored artifact for revision {revision}");
                if let Some(digest) = digest {
                    state.status.artifact = Some(api::Artifact {
                        revision: revision.to_string(),
                        digest,
                        last_update_time: converge_core::rfc3339(converge_core::since_epoch()),
                    });
                }
                if moved {
                    self.writer.event(&subject, false, "NewArtifact", &message);
                }
                state.revision = Some(revision);
                ready(
                    &mut state.status.conditions,
                    "Succeeded",
                    &message,
                    generation,
                );
            }
            Err(message) => {
                state.failures += 1;
                let wait = backoff(state.failures).min(interval);
                state.next_poll = Instant::now() + wait;
                let reason = "GitOperationFailed";
                let same = api::get_condition(&state.status.conditions, conditions::READY)
                    .is_some_and(|c| c.reason == reason && c.message == message);
                if !same {
                    self.writer.event(&subject, true, reason, &message);
                }
                not_ready(
                    &mut state.status.conditions,
                    reason,
                    &message,
                    Some(wait),
                    generation,
                );
            }
        }
        state.status.observed_generation = generation;
        if state.status != before {
            self.writer.source_status(subject, state.status.clone());
        }
    }

    /// Takes in a sync's result; `generation` is the spec's it ran for.
    fn synced(&mut self, k: &str, name: &str, generation: Option<i64>, result: SyncResult) {
        let settings = self.settings.clone();
        let backoff = |failures| backoff(&settings, failures);
        let metrics = self.metrics.clone();
        let Some(state) = self.syncs.get_mut(k) else {
            return;
        };
        let interval =
            parse_duration(&state.object.spec.interval).unwrap_or(Duration::from_secs(600));
        let subject = Subject::of(&state.object);
        let Some(instance) = state.instances.get_mut(name) else {
            return;
        };
        instance.running = false;
        // What the run was started for counts as tried, whatever it found: a commit pushed
        // meanwhile is applied now and tried again, once, when the next poll reports it.
        let attempted = instance
            .attempting
            .take()
            .unwrap_or_else(|| instance.wanted.clone());
        // A run for a spec that has changed since (or is now stalled) says nothing about the
        // spec as it is: its status stays as the newer spec left it, and a valid one runs.
        if (state.stalled || state.object.meta().generation != generation)
            && !matches!(result, SyncResult::TornDown { .. })
        {
            instance.requested = !state.stalled;
            return;
        }
        let count = |summary: &Summary| {
            metrics.count(Action::created, summary.created);
            metrics.count(Action::updated, summary.updated);
            metrics.count(Action::unchanged, summary.unchanged);
            metrics.count(Action::pruned, summary.pruned);
            metrics.count(Action::failed, summary.failed);
        };
        let environment = instance.branch.clone();
        let mut event = None;
        match result {
            SyncResult::TornDown { summary, seconds } => {
                metrics.reconciled(Kind::Sync, true, seconds);
                count(&summary);
                state.instances.remove(name);
                let deleted = state.object.meta().deletion_timestamp.is_some();
                event = Some(match environment {
                    Some(branch) => (
                        false,
                        "EnvironmentDeleted",
                        format!(
                            "{}: its environment {} was deleted ({} pruned)",
                            if deleted {
                                "the Sync is deleted"
                            } else {
                                "the branch is gone"
                            },
                            converge::preview::namespace(&branch),
                            summary.pruned
                        ),
                    ),
                    None => (
                        false,
                        "Pruned",
                        format!(
                            "the Sync is deleted: {} objects it applied were pruned",
                            summary.pruned
                        ),
                    ),
                });
            }
            SyncResult::Applied {
                revision,
                summary,
                seconds,
            } => {
                metrics.reconciled(Kind::Sync, true, seconds);
                count(&summary);
                let first = instance.last_applied.is_none() && environment.is_some();
                let news = instance.last_applied.as_deref() != Some(revision.as_str())
                    || instance.ready != Some(true)
                    || summary.created + summary.updated + summary.pruned > 0;
                instance.last_applied = Some(revision.clone());
                instance.last_attempted = Some(attempted);
                instance.failures = 0;
                instance.next_run = Instant::now() + interval;
                instance.ready = Some(true);
                instance.message = format!("Applied revision: {revision}");
                if environment.is_none() {
                    state.status.last_applied_revision = Some(revision.clone());
                    state.status.last_attempted_revision = Some(revision.clone());
                    state.status.inventory = Some(InventoryCounts {
                        objects: (summary.created + summary.updated + summary.unchanged) as u64,
                        created: summary.created as u64,
                        updated: summary.updated as u64,
                        pruned: summary.pruned as u64,
                    });
                }
                if news {
                    let (reason, text) = match &environment {
                        Some(branch) if first => (
                            "EnvironmentCreated",
                            format!(
                                "environment {} of branch {branch} created at {revision}: {summary}",
                                converge::preview::namespace(branch)
                            ),
                        ),
                        Some(branch) => (
                            "ReconciliationSucceeded",
                            format!("environment of branch {branch} at {revision}: {summary}"),
                        ),
                        None => (
                            "ReconciliationSucceeded",
                            format!("Applied revision {revision}: {summary}"),
                        ),
                    };
                    event = Some((false, reason, text));
                }
            }
            SyncResult::Failed {
                revision,
                reason,
                message,
                summary,
                seconds,
            } => {
                metrics.reconciled(Kind::Sync, false, seconds);
                count(&summary);
                instance.failures += 1;
                let wait = backoff(instance.failures);
                instance.next_run = Instant::now() + wait;
                instance.last_attempted = Some(attempted);
                instance.ready = Some(false);
                instance.message = match &environment {
                    Some(branch) => format!("environment of branch {branch}: {message}"),
                    None => message.clone(),
                };
                if environment.is_none() {
                    state.status.last_attempted_revision =
                        revision.or_else(|| state.status.last_attempted_revision.take());
                }
                let text = format!(
                    "{} (attempt {}; retrying in {})",
                    instance.message,
                    instance.failures,
                    human(wait)
                );
                event = Some((true, reason, text));
                not_ready(
                    &mut state.status.conditions,
                    reason,
                    &instance.message,
                    Some(wait),
                    generation,
                );
            }
        }
        if let Some((warning, reason, text)) = &event {
            self.writer.event(&subject, *warning, reason, text);
        }
        state.status.observed_generation = generation;
        state.status.environments = environments(&state.instances);
        let failing = state.instances.values().find(|i| i.ready == Some(false));
        let busy = state
            .instances
            .values()
            .any(|i| i.running || i.ready.is_none());
        match (failing, busy) {
            (Some(_), _) => {}
            (None, true) => {}
            (None, false) => {
                let message = if state.object.spec.preview.is_some() {
                    format!("{} environments ready", state.instances.len())
                } else {
                    state
                        .instances
                        .values()
                        .next()
                        .map(|i| i.message.clone())
                        .unwrap_or_default()
                };
                ready(
                    &mut state.status.conditions,
                    "ReconciliationSucceeded",
                    &message,
                    generation,
                );
            }
        }
        self.writer.sync_status(subject, state.status.clone());
    }

    /// A verified push: poll the sources of that repository now. With objects in the cluster,
    /// the request is written as an annotation, so that whichever replica leads acts on it.
    fn push(&mut self, push: &Push) {
        let matching: Vec<GitSource> = self
            .sources
            .values()
            .filter(|s| {
                push.repositories
                    .iter()
                    .any(|r| same_repository(r, &s.object.spec.url))
            })
            .map(|s| s.object.clone())
            .collect();
        if matching.is_empty() {
            tracing::info!(repositories = ?push.repositories, "a push for no source");
            return;
        }
        for source in matching {
            let k = key(&source);
            tracing::info!(source = %k, reference = %push.reference, "push received: polling now");
            if self.from_file {
                if let Some(state) = self.sources.get_mut(&k) {
                    state.requested = true;
                }
                continue;
            }
            let api: Api<GitSource> = Api::namespaced(
                self.shared.client.clone(),
                &source.namespace().unwrap_or_default(),
            );
            let now = converge_core::rfc3339_micros(converge_core::since_epoch());
            let patch = json!({"metadata": {"annotations": {REQUESTED_AT: now}}});
            tokio::spawn(async move {
                if let Err(err) = api
                    .patch(
                        &source.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await
                {
                    tracing::warn!(source = %k, error = %err, "cannot request a reconcile");
                }
            });
        }
    }
}

/// The preview environments, as the status lists them.
fn environments(instances: &BTreeMap<String, Instance>) -> Vec<Environment> {
    instances
        .values()
        .filter_map(|i| {
            let branch = i.branch.clone()?;
            Some(Environment {
                namespace: converge::preview::namespace(&branch),
                branch,
                last_applied_revision: i.last_applied.clone(),
                ready: match i.ready {
                    Some(true) => "True",
                    Some(false) => "False",
                    None => "Unknown",
                }
                .to_owned(),
                message: i.message.clone(),
            })
        })
        .collect()
}

impl Instance {
    fn new(branch: Option<String>, last_applied: Option<String>, now: Instant) -> Instance {
        Instance {
            branch,
            wanted: String::new(),
            attempting: None,
            last_attempted: None,
            last_applied,
            next_run: now,
            running: false,
            failures: 0,
            requested: false,
            gone: false,
            ready: None,
            message: String::new(),
        }
    }
}

/// `Ready=True` for `reason`; no longer `Reconciling` or `Stalled`.
fn ready(list: &mut Vec<Condition>, reason: &str, message: &str, generation: Option<i64>) {
    api::set_condition(
        list,
        Condition::new(conditions::READY, true, reason, message, generation),
    );
    api::remove_condition(list, conditions::RECONCILING);
    api::remove_condition(list, conditions::STALLED);
}

/// `Ready=False` for `reason`, and `Reconciling=True`: retrying after `retry`, or still in
/// progress (waiting for something) without one.
fn not_ready(
    list: &mut Vec<Condition>,
    reason: &str,
    message: &str,
    retry: Option<Duration>,
    generation: Option<i64>,
) {
    api::set_condition(
        list,
        Condition::new(conditions::READY, false, reason, message, generation),
    );
    let (why, text) = match retry {
        Some(wait) => (
            "ProgressingWithRetry",
            format!("retrying in {}", human(wait)),
        ),
        None => ("Progressing", message.to_owned()),
    };
    api::set_condition(
        list,
        Condition::new(conditions::RECONCILING, true, why, text, generation),
    );
    api::remove_condition(list, conditions::STALLED);
}

/// `Ready=False` and `Stalled=True` for `reason`: nothing is tried until the spec changes.
fn stalled(list: &mut Vec<Condition>, reason: &str, message: &str, generation: Option<i64>) {
    api::set_condition(
        list,
        Condition::new(conditions::READY, false, reason, message, generation),
    );
    api::set_condition(
        list,
        Condition::new(conditions::STALLED, true, reason, message, generation),
    );
    api::remove_condition(list, conditions::RECONCILING);
}

/// The wait after `failures` failures in a row: the base, doubled each time, up to the most.
fn backoff(settings: &Settings, failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(20));
    settings
        .backoff_base
        .saturating_mul(factor)
        .min(settings.backoff_max)
}

/// `1.5s`, `40s`, `2m30s`.
pub(crate) fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs < 10 {
        format!("{:.1}s", duration.as_secs_f64())
    } else if secs < 60 {
        format!("{secs}s")
    } else {
        format!("{}m{}s", secs / 60, secs % 60)
    }
}

/// Whether two git URLs name the same repository: scheme, credentials, `.git` and a trailing
/// `/` aside; `git@host:path` is `host/path`.
fn same_repository(a: &str, b: &str) -> bool {
    fn canonical(url: &str) -> String {
        let url = url.trim();
        let rest = match url.split_once("://") {
            Some((_, rest)) => rest.to_owned(),
            // scp-like: user@host:path
            None => url.replacen(':', "/", 1),
        };
        let rest = rest.rsplit_once('@').map_or(rest.as_str(), |(_, r)| r);
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let path = path.trim_end_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        format!("{}/{}", host.to_ascii_lowercase(), path)
    }
    canonical(a) == canonical(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::work::path;
    use serde_json::Value;

    fn sync(spec: Value) -> Sync {
        serde_json::from_value(
            json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Sync",
            "metadata": {"name": "web", "namespace": "apps"}, "spec": spec}),
        )
        .expect("a Sync")
    }

    #[test]
    fn backoff_doubles_up_to_the_most() {
        let settings = Settings {
            concurrency: 1,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(3),
            shutdown_timeout: Duration::ZERO,
            cache: PathBuf::new(),
            source_timeout: Duration::ZERO,
            no_cross_namespace_refs: false,
        };
        let waits: Vec<Duration> = (1..=6).map(|n| backoff(&settings, n)).collect();
        assert_eq!(
            waits,
            [500, 1000, 2000, 3000, 3000, 3000].map(Duration::from_millis)
        );
        assert_eq!(backoff(&settings, u32::MAX), Duration::from_secs(3));
        assert_eq!(human(Duration::from_millis(400)), "0.4s");
        assert_eq!(human(Duration::from_secs(45)), "45s");
        assert_eq!(human(Duration::from_secs(150)), "2m30s");
    }

    #[test]
    fn invalid_specs_are_named() {
        assert_eq!(
            invalid_sync(&sync(json!({"sourceRef": {"name": "app"}}))),
            None
        );
        let invalid = |spec| invalid_sync(&sync(spec)).expect("invalid");
        assert!(
            invalid(json!({"sourceRef": {"name": "app", "kind": "Bucket"}})).contains("Bucket")
        );
        assert!(
            invalid(json!({"sourceRef": {"name": "a"}, "interval": "often"}))
                .starts_with("interval: ")
        );
        assert!(
            invalid(json!({"sourceRef": {"name": "a"}, "interval": "0s"}))
                .contains("shorter than a second")
        );
        assert!(
            invalid(json!({"sourceRef": {"name": "a"}, "timeout": "1 h"})).starts_with("timeout: ")
        );
        assert!(
            invalid(json!({"sourceRef": {"name": "a"}, "preview": {"branches": " "}}))
                .contains("preview")
        );
        assert!(
            invalid(json!({"sourceRef": {"name": "a"}, "ignore": [{"paths": ["spec"]}]}))
                .starts_with("ignore: ")
        );
        let source = |spec: Value| -> GitSource {
            serde_json::from_value(
                json!({"apiVersion": "converge.dev/v1alpha1", "kind": "GitSource",
                "metadata": {"name": "app", "namespace": "apps"}, "spec": spec}),
            )
            .expect("a GitSource")
        };
        assert_eq!(
            invalid_source(&source(json!({"url": "https://git.example/a"}))),
            None
        );
        assert!(invalid_source(&source(json!({"url": " "}))).is_some());
        assert!(
            invalid_source(&source(
                json!({"url": "https://g/a", "verify": {"mode": "all", "secretRef": {"name": "k"}}})
            ))
            .is_some_and(|m| m.contains("TagAndHEAD"))
        );
    }

    #[test]
    fn paths_and_inventories_are_named_plainly() {
        assert_eq!(path("./"), "");
        assert_eq!(path("."), "");
        assert_eq!(path("./apps/production/"), "apps/production");
        assert_eq!(inventory_name("web", None), "sync-web");
        assert_eq!(
            inventory_name("web", Some("preview-feature-1")),
            "sync-web-preview-feature-1"
        );
    }

    #[test]
    fn repositories_compare_by_host_and_path() {
        assert!(same_repository(
            "https://github.com/org/repo.git",
            "git@github.com:org/repo"
        ));
        assert!(same_repository(
            "ssh://git@GitHub.com/org/repo/",
            "https://token@github.com/org/repo.git"
        ));
        assert!(!same_repository(
            "https://github.com/org/repo",
            "https://github.com/org/repo2"
        ));
    }
}
