//! What the controller knows of its objects, and how it writes back.
//!
//! - The [`Store`] holds the GitSources and Syncs as last seen: kept current by a list and
//!   watch per kind ([`reflect`]), or loaded once from a file ([`load`]).
//! - The [`Writer`] writes statuses and Events in order, in the background, so that a slow
//!   API server never holds up the loop. With a file, statuses are kept for `/status` only.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard};

use converge::api::{GitSource, GitSourceStatus, Resources, Sync, SyncStatus};
use futures_util::{StreamExt, TryStreamExt};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::{CustomResourceExt, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

/// An object's key: `namespace/name`.
pub(crate) fn key<K: Resource>(object: &K) -> String {
    format!(
        "{}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

/// The objects as last seen.
#[derive(Debug, Default)]
pub(crate) struct Objects {
    pub(crate) sources: BTreeMap<String, GitSource>,
    pub(crate) syncs: BTreeMap<String, Sync>,
    /// Whether each kind has been listed once (`/readyz`).
    pub(crate) sources_synced: bool,
    pub(crate) syncs_synced: bool,
    /// The statuses as last written, for `/status`.
    pub(crate) statuses: BTreeMap<String, Value>,
    /// Counts the changes to `sources` and `syncs`, so that readers take them in only when
    /// they moved.
    pub(crate) version: u64,
}

/// The objects, shared by the loop, the reflectors and the HTTP handlers; `changed` wakes the
/// loop.
#[derive(Debug, Default)]
pub(crate) struct Store {
    objects: Mutex<Objects>,
    pub(crate) changed: Notify,
}

impl Store {
    pub(crate) fn shared() -> Arc<Store> {
        Arc::new(Store::default())
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Objects> {
        // A panic elsewhere while holding the lock leaves plain data behind: keep going.
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn ready(&self) -> bool {
        let objects = self.lock();
        objects.sources_synced && objects.syncs_synced
    }
}

/// Loads the objects of a file.
pub(crate) fn load(store: &Store, resources: Resources) {
    {
        let mut objects = store.lock();
        for mut source in resources.sources {
            default_namespace(&mut source.metadata);
            objects.sources.insert(key(&source), source);
        }
        for mut sync in resources.syncs {
            default_namespace(&mut sync.metadata);
            objects.syncs.insert(key(&sync), sync);
        }
        objects.sources_synced = true;
        objects.syncs_synced = true;
        objects.version += 1;
    }
    store.changed.notify_one();
}

fn default_namespace(meta: &mut kube::api::ObjectMeta) {
    if meta.namespace.as_deref().unwrap_or("").is_empty() {
        meta.namespace = Some("default".to_owned());
    }
    // A file's objects do not change: one generation.
    meta.generation.get_or_insert(1);
}

/// A kind the store keeps.
trait Kept: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + 'static {
    fn map(objects: &mut Objects) -> &mut BTreeMap<String, Self>;
    fn synced(objects: &mut Objects) -> &mut bool;
}

impl Kept for GitSource {
    fn map(objects: &mut Objects) -> &mut BTreeMap<String, Self> {
        &mut objects.sources
    }
    fn synced(objects: &mut Objects) -> &mut bool {
        &mut objects.sources_synced
    }
}

impl Kept for Sync {
    fn map(objects: &mut Objects) -> &mut BTreeMap<String, Self> {
        &mut objects.syncs
    }
    fn synced(objects: &mut Objects) -> &mut bool {
        &mut objects.syncs_synced
    }
}

/// Keeps the store current from the cluster: a list and watch per kind.
pub(crate) fn reflect(
    client: kube::Client,
    namespace: Option<String>,
    selector: Option<String>,
    store: Arc<Store>,
) {
    fn api<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
    where
        K: Kept + Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    {
        match namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
    tokio::spawn(reflect_kind(
        api::<GitSource>(&client, namespace.as_deref()),
        selector.clone(),
        store.clone(),
    ));
    tokio::spawn(reflect_kind(
        api::<Sync>(&client, namespace.as_deref()),
        selector,
        store,
    ));
}

/// List, then watch from the list's version; on any break (an expired version, a dropped
/// connection, the server's timeout) list again. Each change wakes the loop.
async fn reflect_kind<K: Kept>(api: Api<K>, selector: Option<String>, store: Arc<Store>) {
    let kind = K::kind(&());
    let mut list = ListParams::default();
    let mut watch = WatchParams::default().timeout(290);
    if let Some(selector) = &selector {
        list = list.labels(selector);
        watch = watch.labels(selector);
    }
    let mut failures = 0u32;
    loop {
        if failures > 0 {
            let wait = std::time::Duration::from_millis(200 * 2u64.pow(failures.min(6)));
            tokio::time::sleep(wait).await;
        }
        let listed = match api.list(&list).await {
            Ok(listed) => listed,
            Err(err) => {
                failures += 1;
                tracing::warn!(%kind, error = %err, "cannot list");
                continue;
            }
        };
        let mut version = listed.metadata.resource_version.unwrap_or_default();
        {
            let mut objects = store.lock();
            *K::map(&mut objects) = listed.items.into_iter().map(|o| (key(&o), o)).collect();
            *K::synced(&mut objects) = true;
            objects.version += 1;
        }
        store.changed.notify_one();
        let stream = match api.watch(&watch, &version).await {
            Ok(stream) => stream,
            Err(err) => {
                failures += 1;
                tracing::warn!(%kind, error = %err, "cannot watch");
                continue;
            }
        };
        failures = 0;
        let mut stream = stream.boxed();
        loop {
            // The server ends a watch after its timeout (290 s); silence for longer means a
            // connection that died without a word: list again.
            let next = tokio::time::timeout(std::time::Duration::from_secs(330), stream.try_next());
            let event = match next.await {
                Ok(Ok(Some(event))) => event,
                Ok(Ok(None)) => break,
                Ok(Err(err)) => {
                    tracing::debug!(%kind, error = %err, "watch broke off");
                    break;
                }
                Err(_) => {
                    tracing::warn!(%kind, "watch silent for too long: listing again");
                    break;
                }
            };
            let mut objects = store.lock();
            match event {
                WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                    version = o.resource_version().unwrap_or_default();
                    K::map(&mut objects).insert(key(&o), o);
                }
                WatchEvent::Deleted(o) => {
                    version = o.resource_version().unwrap_or_default();
                    K::map(&mut objects).remove(&key(&o));
                }
                WatchEvent::Bookmark(mark) => {
                    version = mark.metadata.resource_version;
                    continue;
                }
                WatchEvent::Error(status) => {
                    tracing::debug!(%kind, code = status.code, "watch ended: {}", status.message);
                    break;
                }
            }
            objects.version += 1;
            drop(objects);
            store.changed.notify_one();
        }
        tracing::trace!(%kind, %version, "listing again");
    }
}

/// Creates (or updates) the CRDs of GitSource and Sync, and waits for them to be served.
pub(crate) async fn install_crds(client: kube::Client) -> Result<(), kube::Error> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    for crd in [GitSource::crd(), Sync::crd()] {
        let name = crd.metadata.name.clone().unwrap_or_default();
        crds.patch(
            &name,
            &PatchParams::apply(crate::MANAGER).force(),
            &Patch::Apply(&crd),
        )
        .await?;
        for _ in 0..50 {
            let established = crds.get(&name).await?.status.is_some_and(|s| {
                s.conditions
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
            if established {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// An object a status or an Event is about.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    pub(crate) kind: &'static str,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) uid: Option<String>,
}

impl Subject {
    pub(crate) fn of<K: Resource<DynamicType = ()> + ResourceExt>(object: &K) -> Subject {
        Subject {
            kind: if K::kind(&()) == "Sync" {
                "Sync"
            } else {
                "GitSource"
            },
            namespace: object.namespace().unwrap_or_default(),
            name: object.name_any(),
            uid: object.uid(),
        }
    }

    fn key(&self) -> String {
        format!("{}/{}/{}", self.kind, self.namespace, self.name)
    }
}

/// What the writer writes.
#[derive(Debug)]
enum Write {
    SourceStatus(Subject, GitSourceStatus),
    SyncStatus(Subject, SyncStatus),
    Event {
        subject: Subject,
        warning: bool,
        reason: String,
        message: String,
    },
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Writes statuses and Events in the order they are given, in the background.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    queue: mpsc::UnboundedSender<Write>,
}

/// The fields of each status, written as null when absent so that a merge patch clears them.
const SOURCE_FIELDS: [&str; 4] = [
    "conditions",
    "artifact",
    "observedGeneration",
    "lastHandledReconcileAt",
];
const SYNC_FIELDS: [&str; 7] = [
    "conditions",
    "lastAppliedRevision",
    "lastAttemptedRevision",
    "inventory",
    "observedGeneration",
    "lastHandledReconcileAt",
    "environments",
];

impl Writer {
    /// A writer to `client`'s cluster, or to the store only without one.
    pub(crate) fn start(client: Option<kube::Client>, store: Arc<Store>) -> Writer {
        let (queue, mut writes) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(write) = writes.recv().await {
                write_one(client.as_ref(), &store, write).await;
            }
        });
        Writer { queue }
    }

    pub(crate) fn source_status(&self, subject: Subject, status: GitSourceStatus) {
        let _ = self.queue.send(Write::SourceStatus(subject, status));
    }

    pub(crate) fn sync_status(&self, subject: Subject, status: SyncStatus) {
        let _ = self.queue.send(Write::SyncStatus(subject, status));
    }

    /// Records an Event about `subject` (and logs it).
    pub(crate) fn event(&self, subject: &Subject, warning: bool, reason: &str, message: &str) {
        if warning {
            tracing::warn!(kind = subject.kind, namespace = %subject.namespace, name = %subject.name, reason, "{message}");
        } else {
            tracing::info!(kind = subject.kind, namespace = %subject.namespace, name = %subject.name, reason, "{message}");
        }
        let _ = self.queue.send(Write::Event {
            subject: subject.clone(),
            warning,
            reason: reason.to_owned(),
            message: message.to_owned(),
        });
    }

    /// Waits until everything given so far is written.
    pub(crate) async fn flush(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.queue.send(Write::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

fn with_nulls(mut status: Value, fields: &[&str]) -> Value {
    if let Some(map) = status.as_object_mut() {
        for field in fields {
            map.entry(*field).or_insert(Value::Null);
        }
    }
    status
}

async fn write_one(client: Option<&kube::Client>, store: &Store, write: Write) {
    let (subject, status, fields) = match write {
        Write::Flush(done) => {
            let _ = done.send(());
            return;
        }
        Write::Event {
            subject,
            warning,
            reason,
            message,
        } => {
            if let Some(client) = client {
                record_event(client, &subject, warning, &reason, &message).await;
            }
            return;
        }
        Write::SourceStatus(subject, status) => (
            subject,
            serde_json::to_value(status).unwrap_or_default(),
            &SOURCE_FIELDS[..],
        ),
        Write::SyncStatus(subject, status) => (
            subject,
            serde_json::to_value(status).unwrap_or_default(),
            &SYNC_FIELDS[..],
        ),
    };
    store.lock().statuses.insert(subject.key(), status.clone());
    let Some(client) = client else { return };
    let patch = Patch::Merge(json!({ "status": with_nulls(status, fields) }));
    let params = PatchParams::default();
    let result = if subject.kind == "Sync" {
        Api::<Sync>::namespaced(client.clone(), &subject.namespace)
            .patch_status(&subject.name, &params, &patch)
            .await
            .map(drop)
    } else {
        Api::<GitSource>::namespaced(client.clone(), &subject.namespace)
            .patch_status(&subject.name, &params, &patch)
            .await
            .map(drop)
    };
    match result {
        Ok(()) => {}
        // Deleted meanwhile: nothing to report on.
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Err(err) => {
            tracing::warn!(kind = subject.kind, namespace = %subject.namespace, name = %subject.name, error = %err, "cannot write the status")
        }
    }
}

/// A `v1` Event, as `kubectl describe` and `kubectl events` show them.
async fn record_event(
    client: &kube::Client,
    subject: &Subject,
    warning: bool,
    reason: &str,
    message: &str,
) {
    let now = converge_core::since_epoch();
    let stamp = now.as_nanos();
    let event: k8s_openapi::api::core::v1::Event = match serde_json::from_value(json!({
        "metadata": {
            "name": format!("{}.{stamp:x}", subject.name),
            "namespace": subject.namespace,
        },
        "involvedObject": {
            "apiVersion": "converge.dev/v1alpha1",
            "kind": subject.kind,
            "namespace": subject.namespace,
            "name": subject.name,
            "uid": subject.uid,
        },
        "type": if warning { "Warning" } else { "Normal" },
        "reason": reason,
        "message": message,
        "source": { "component": crate::MANAGER },
        "reportingComponent": crate::MANAGER,
        "firstTimestamp": converge_core::rfc3339(now),
        "lastTimestamp": converge_core::rfc3339(now),
        "count": 1,
    })) {
        Ok(event) => event,
        Err(err) => {
            tracing::warn!(error = %err, "cannot make an Event");
            return;
        }
    };
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(client.clone(), &subject.namespace);
    if let Err(err) = events.create(&PostParams::default(), &event).await {
        tracing::warn!(error = %err, "cannot record an Event");
    }
}
