//! The sync engine: makes the cluster hold exactly a set of objects, safely.
//!
//! 1. **Discover** the API resources (aggregated discovery, kept between syncs, refreshed
//!    after custom resource definitions are applied).
//! 2. **Order**: namespaces and CRDs first (a stage of their own, so that what lives in a
//!    new namespace or is of a new kind can follow), then by wave (`converge.dev/wave`, or
//!    Argo CD's `argocd.argoproj.io/sync-wave`), then by kind as kubectl orders them
//!    (RBAC and config before workloads, admission webhooks last).
//! 3. **Read live state** with one list per kind, not one get per object.
//! 4. **Dry-run** every object the server can check before the first write; any failure stops
//!    the sync with every error, before anything is written.
//! 5. **Apply** what the dry run says would change; skip the rest without a write.
//! 6. **Prune** by inventory: the objects of the previous sync (an ApplySet in the cluster)
//!    that left git are deleted, in reverse order, namespaces last; objects outside the
//!    inventory or annotated `converge.dev/prune: disabled` never are, and an empty set never
//!    prunes unless allowed.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use converge_core::ObjectRef;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use kube::discovery::{Discovery, Scope};
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use crate::health::{Health, health};
use crate::inventory::{
    APPLYSET_CONTAINS, APPLYSET_ID, APPLYSET_PART_OF, APPLYSET_TOOLING, PRUNE_ANNOTATION,
    group_kind, parse_group_kinds, split_group_kind,
};
use crate::{Applier, ApplyRequest, Error, Inventory, Outcome};

/// How long custom objects wait for their definition to be established when the sync does
/// not wait for health otherwise.
const DEFINITION_TIMEOUT: Duration = Duration::from_secs(60);

/// The hook annotation: `pre-sync`, `post-sync` or `sync-fail` (Argo CD's
/// `argocd.argoproj.io/hook`: `PreSync`, `PostSync`, `SyncFail`, is honoured too).
pub const HOOK_ANNOTATION: &str = "converge.dev/hook";
/// Argo CD's hook annotation.
pub const ARGO_HOOK_ANNOTATION: &str = "argocd.argoproj.io/hook";
/// When a hook is deleted: `before-hook-creation` (the default), `hook-succeeded`,
/// `hook-failed`, comma-separated (Argo CD's `argocd.argoproj.io/hook-delete-policy`:
/// `BeforeHookCreation`, `HookSucceeded`, `HookFailed`, is honoured too).
pub const HOOK_DELETE_POLICY_ANNOTATION: &str = "converge.dev/hook-delete-policy";
/// Argo CD's hook deletion policy annotation.
pub const ARGO_HOOK_DELETE_POLICY_ANNOTATION: &str = "argocd.argoproj.io/hook-delete-policy";

/// How long a hook may take when the sync does not say.
const HOOK_TIMEOUT: Duration = Duration::from_secs(300);

/// The phases hooks run in, as indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HookPhase {
    PreSync = 0,
    PostSync = 1,
    SyncFail = 2,
}

fn annotation<'a>(object: &'a Value, name: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(name))
        .and_then(Value::as_str)
}

/// The phase of a hook, or `None` for an object of the set.
fn hook_phase(object: &Value) -> Option<HookPhase> {
    let value =
        annotation(object, HOOK_ANNOTATION).or_else(|| annotation(object, ARGO_HOOK_ANNOTATION))?;
    match value.trim().to_ascii_lowercase().replace('-', "").as_str() {
        "presync" => Some(HookPhase::PreSync),
        "postsync" => Some(HookPhase::PostSync),
        "syncfail" => Some(HookPhase::SyncFail),
        _ => None,
    }
}

/// When a hook is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HookPolicy {
    BeforeHookCreation,
    HookSucceeded,
    HookFailed,
}

fn hook_policies(object: &Value) -> Vec<HookPolicy> {
    let Some(value) = annotation(object, HOOK_DELETE_POLICY_ANNOTATION)
        .or_else(|| annotation(object, ARGO_HOOK_DELETE_POLICY_ANNOTATION))
    else {
        return vec![HookPolicy::BeforeHookCreation];
    };
    value
        .split(',')
        .filter_map(
            |p| match p.trim().to_ascii_lowercase().replace('-', "").as_str() {
                "beforehookcreation" => Some(HookPolicy::BeforeHookCreation),
                "hooksucceeded" => Some(HookPolicy::HookSucceeded),
                "hookfailed" => Some(HookPolicy::HookFailed),
                _ => None,
            },
        )
        .collect()
}

/// How many times an apply is tried before its transient failure is final.
const RETRY_ATTEMPTS: u32 = 5;
/// The wait before the second try; each later one waits twice as long (5 s at most).
const RETRY_FIRST_DELAY: Duration = Duration::from_millis(100);

/// True for failures that trying again may cure.
fn transient(error: &Error) -> bool {
    let Error::Api { source, .. } = error else {
        return false;
    };
    transient_client(source)
}

fn transient_client(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => {
            let ownership = status
                .details
                .as_ref()
                .is_some_and(|d| d.causes.iter().any(|c| c.reason == "FieldManagerConflict"));
            status.code == 429 || status.code >= 500 || (status.code == 409 && !ownership)
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

/// `call`, tried again with growing waits while it fails transiently (reads and the
/// inventory's writes, which are safe to repeat).
async fn retried<T, F, Fut>(mut call: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let mut delay = RETRY_FIRST_DELAY;
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if attempt < RETRY_ATTEMPTS && transient_client(&e) => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The wave annotation: objects of a lower wave are applied first.
pub const WAVE_ANNOTATION: &str = "converge.dev/wave";
/// Argo CD's wave annotation, honoured when Converge's is absent.
pub const ARGO_WAVE_ANNOTATION: &str = "argocd.argoproj.io/sync-wave";

/// What a sync does besides applying.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SyncOptions {
    /// Where the sync keeps its inventory; without one, nothing is ever pruned.
    pub inventory: Option<Inventory>,
    /// Delete what the inventory holds and the set no longer does.
    pub prune: bool,
    /// Prune even when the set is empty (otherwise an empty set is refused: an empty render
    /// is far more often a mistake than a wish to delete everything).
    pub allow_empty: bool,
    /// Dry-run everything and write nothing.
    pub dry_run: bool,
    /// The namespace of namespaced objects that name none.
    pub default_namespace: String,
    /// Wait for each wave to be healthy before the next, and for the last, this long at
    /// most; `None` does not wait.
    pub wait: Option<Duration>,
    /// Act as this service account (namespace, name) for the whole sync, as Flux's
    /// `serviceAccountName` does, so that RBAC bounds what a tenant's sync may write. Needs an
    /// engine made with [`Engine::from_config`].
    pub service_account: Option<(String, String)>,
    /// Give up the whole sync after this long (what it did so far stays done); `None` lets it
    /// run. A sync is also cancelled by dropping its future.
    pub timeout: Option<Duration>,
}

impl Default for SyncOptions {
    fn default() -> SyncOptions {
        SyncOptions {
            inventory: None,
            prune: false,
            allow_empty: false,
            dry_run: false,
            default_namespace: "default".to_owned(),
            wait: None,
            service_account: None,
            timeout: None,
        }
    }
}

impl SyncOptions {
    /// Keeps the inventory in `inventory`, and prunes by it when `prune`.
    pub fn inventory(mut self, inventory: Inventory, prune: bool) -> SyncOptions {
        self.inventory = Some(inventory);
        self.prune = prune;
        self
    }

    /// Writes nothing.
    pub fn dry_run(mut self, dry_run: bool) -> SyncOptions {
        self.dry_run = dry_run;
        self
    }

    /// Prunes even when the set is empty.
    pub fn allow_empty(mut self, allow: bool) -> SyncOptions {
        self.allow_empty = allow;
        self
    }

    /// The namespace of namespaced objects that name none.
    pub fn default_namespace(mut self, namespace: impl Into<String>) -> SyncOptions {
        self.default_namespace = namespace.into();
        self
    }

    /// Waits for health, `timeout` at most.
    pub fn wait(mut self, timeout: Option<Duration>) -> SyncOptions {
        self.wait = timeout;
        self
    }

    /// Gives up the whole sync after `timeout`.
    pub fn timeout(mut self, timeout: Option<Duration>) -> SyncOptions {
        self.timeout = timeout;
        self
    }

    /// Acts as the service account `name` of `namespace`.
    pub fn service_account(
        mut self,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> SyncOptions {
        self.service_account = Some((namespace.into(), name.into()));
        self
    }
}

/// Progress, as the sync goes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The object is part of the sync, in this position.
    Planned(ObjectRef),
    /// The server accepted the object in a dry run.
    DryRunOk(ObjectRef),
    /// The object was created or updated.
    Applied(ObjectRef, Outcome),
    /// The object already was as desired: nothing was written.
    Unchanged(ObjectRef),
    /// The object left git and was deleted.
    Pruned(ObjectRef),
    /// The sync waits for the object, which is not healthy yet.
    Waiting(ObjectRef, String),
    /// The object is healthy.
    Healthy(ObjectRef),
    /// The object could not be applied or pruned.
    Failed(ObjectRef, String),
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Planned(id) => write!(f, "{id}: planned"),
            Event::DryRunOk(id) => write!(f, "{id}: dry run ok"),
            Event::Applied(id, outcome) => write!(f, "{id}: {outcome}"),
            Event::Unchanged(id) => write!(f, "{id}: unchanged"),
            Event::Pruned(id) => write!(f, "{id}: pruned"),
            Event::Waiting(id, why) => write!(f, "{id}: waiting: {why}"),
            Event::Healthy(id) => write!(f, "{id}: healthy"),
            Event::Failed(id, why) => write!(f, "{id}: failed: {why}"),
        }
    }
}

/// What a sync did, object by object counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// Objects created.
    pub created: usize,
    /// Objects changed.
    pub updated: usize,
    /// Objects left as they were.
    pub unchanged: usize,
    /// Objects deleted because they left git.
    pub pruned: usize,
    /// Objects that failed.
    pub failed: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} created, {} updated, {} unchanged, {} pruned, {} failed",
            self.created, self.updated, self.unchanged, self.pruned, self.failed
        )
    }
}

/// Live objects by (group, plural, namespace, name), and the (group, plural) listed.
#[derive(Default)]
struct Live {
    objects: HashMap<(String, String, String, String), Value>,
    listed: BTreeSet<(String, String)>,
}

impl Live {
    fn get(&self, item: &Item) -> Option<&Value> {
        self.objects.get(&key(item))
    }

    fn extend(&mut self, other: Live) {
        self.objects.extend(other.objects);
        self.listed.extend(other.listed);
    }
}

/// One object of the set, resolved.
struct Item {
    desired: Value,
    id: ObjectRef,
    resource: ApiResource,
    namespace: Option<String>,
    wave: i64,
}

/// The engine: a client, a strategy, and what it learned of the cluster's API.
///
/// ```no_run
/// use converge_apply::{Engine, Inventory, ServerSideApply, SyncOptions};
/// use serde_json::json;
///
/// # async fn run(client: kube::Client) -> Result<(), converge_apply::Error> {
/// let engine = Engine::new(client, ServerSideApply::new("converge"));
/// let objects = vec![json!({"apiVersion": "v1", "kind": "ConfigMap",
///     "metadata": {"name": "web", "namespace": "prod"}, "data": {"color": "blue"}})];
/// let options = SyncOptions::default().inventory(Inventory::new("prod", "web"), true);
/// let summary = engine.sync(&objects, &options, &mut |event| println!("{event}")).await?;
/// println!("sync: {summary}");
/// # Ok(()) }
/// ```
pub struct Engine {
    client: kube::Client,
    /// What the client was made from, to make impersonating ones.
    config: Option<kube::Config>,
    applier: Arc<dyn Applier>,
    discovery: Mutex<Option<Arc<Discovery>>>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("applier", &self.applier)
            .finish_non_exhaustive()
    }
}

/// The stage an object is applied in: cluster definitions first.
fn stage(resource: &ApiResource) -> u8 {
    let definition = resource.kind == "Namespace" && resource.group.is_empty()
        || resource.kind == "CustomResourceDefinition" && resource.group == "apiextensions.k8s.io";
    if definition { 0 } else { 1 }
}

fn wave(object: &Value) -> i64 {
    let annotation = |name: &str| {
        object
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(name))
            .and_then(Value::as_str)
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    annotation(WAVE_ANNOTATION)
        .or_else(|| annotation(ARGO_WAVE_ANNOTATION))
        .unwrap_or(0)
}

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

impl Engine {
    /// An engine applying with `applier` through `client`.
    pub fn new(client: kube::Client, applier: impl Applier + 'static) -> Engine {
        Engine {
            client,
            config: None,
            applier: Arc::new(applier),
            discovery: Mutex::new(None),
        }
    }

    /// An engine whose client is made from `config`, and which can act as a service account
    /// per sync ([`SyncOptions::service_account`]).
    ///
    /// # Errors
    /// [`Error::Invalid`] when no client can be made from the configuration.
    pub fn from_config(
        config: kube::Config,
        applier: impl Applier + 'static,
    ) -> Result<Engine, Error> {
        let client = kube::Client::try_from(config.clone()).map_err(|e| Error::Invalid {
            object: config.cluster_url.to_string(),
            reason: format!("no client for the cluster: {e}"),
        })?;
        Ok(Engine {
            client,
            config: Some(config),
            applier: Arc::new(applier),
            discovery: Mutex::new(None),
        })
    }

    /// This engine acting as `namespace`'s service account `name`.
    fn impersonating(&self, namespace: &str, name: &str) -> Result<Engine, Error> {
        let Some(config) = &self.config else {
            return Err(Error::Refused {
                reason: "acting as a service account needs an engine made with Engine::from_config"
                    .to_owned(),
            });
        };
        let mut config = config.clone();
        config.auth_info.impersonate = Some(format!("system:serviceaccount:{namespace}:{name}"));
        config.auth_info.impersonate_groups = Some(vec![
            "system:serviceaccounts".to_owned(),
            format!("system:serviceaccounts:{namespace}"),
        ]);
        let client = kube::Client::try_from(config).map_err(|e| Error::Invalid {
            object: format!("service account {namespace}/{name}"),
            reason: format!("no client: {e}"),
        })?;
        Ok(Engine {
            client,
            config: None,
            applier: self.applier.clone(),
            discovery: Mutex::new(None),
        })
    }

    /// The API resources, discovered once and kept; `refresh` discovers them again.
    async fn discovery(&self, refresh: bool) -> Result<Arc<Discovery>, Error> {
        let mut cached = self.discovery.lock().await;
        if let Some(discovery) = cached.as_ref().filter(|_| !refresh) {
            return Ok(discovery.clone());
        }
        let discovery = Discovery::new(self.client.clone())
            .run_aggregated()
            .await
            .map_err(|source| Error::Api {
                object: "discovery".to_owned(),
                source: Box::new(source),
            })?;
        let discovery = Arc::new(discovery);
        *cached = Some(discovery.clone());
        Ok(discovery)
    }

    /// Resolves `object`'s kind to its resource, or says it is not served.
    fn resolve(
        discovery: &Discovery,
        object: &Value,
        options: &SyncOptions,
    ) -> Result<Item, Error> {
        let api_version = text(object, "/apiVersion");
        let kind = text(object, "/kind");
        let name = text(object, "/metadata/name");
        let (group, version) = ObjectRef::split_api_version(api_version);
        let declared = ObjectRef::new(
            group,
            version,
            kind,
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str),
            name,
        );
        if kind.is_empty() || api_version.is_empty() || name.is_empty() {
            return Err(Error::Invalid {
                object: declared.to_string(),
                reason: "apiVersion, kind and metadata.name are required".to_owned(),
            });
        }
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let Some((resource, capabilities)) = discovery.resolve_gvk(&gvk) else {
            return Err(Error::Invalid {
                object: declared.to_string(),
                reason: format!("the cluster does not serve {api_version} {kind}"),
            });
        };
        let namespace = match capabilities.scope {
            Scope::Namespaced => Some(
                object
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .filter(|ns| !ns.is_empty())
                    .unwrap_or(&options.default_namespace)
                    .to_owned(),
            ),
            Scope::Cluster => None,
        };
        let id = ObjectRef::new(group, version, kind, namespace.as_deref(), name);
        Ok(Item {
            desired: object.clone(),
            id,
            resource,
            namespace,
            wave: wave(object),
        })
    }

    /// The live objects of each resource the items use: one list per kind, by namespace and
    /// name.
    async fn live(&self, items: &[Item]) -> Result<Live, Error> {
        let mut live = Live::default();
        for item in items {
            let kind = (item.resource.group.clone(), item.resource.plural.clone());
            if !live.listed.insert(kind) {
                continue;
            }
            let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &item.resource);
            let all = ListParams::default();
            let list = retried(|| api.list(&all))
                .await
                .map_err(|source| Error::Api {
                    object: format!("list {}", item.resource.plural),
                    source: Box::new(source),
                })?;
            for object in list.items {
                let mut value = serde_json::to_value(object).map_err(|e| Error::Invalid {
                    object: item.resource.plural.clone(),
                    reason: e.to_string(),
                })?;
                // A list's items leave their apiVersion and kind to the list.
                if let Some(map) = value.as_object_mut() {
                    map.insert(
                        "apiVersion".to_owned(),
                        Value::from(item.resource.api_version.as_str()),
                    );
                    map.insert("kind".to_owned(), Value::from(item.resource.kind.as_str()));
                }
                let key = (
                    item.resource.group.clone(),
                    item.resource.plural.clone(),
                    text(&value, "/metadata/namespace").to_owned(),
                    text(&value, "/metadata/name").to_owned(),
                );
                live.objects.insert(key, value);
            }
        }
        Ok(live)
    }

    /// Syncs `objects` into the cluster: see the [module](self). `progress` hears of each
    /// step.
    ///
    /// # Errors
    /// - [`Error::Failed`] when objects failed their dry run (nothing was written then) or
    ///   their apply, with every error;
    /// - [`Error::Invalid`] for an object without a kind or name, or of a kind the cluster
    ///   does not serve;
    /// - [`Error::Refused`] for an empty set with pruning on and `allow_empty` off;
    /// - [`Error::Api`] when discovery, a list or the inventory cannot be read or written.
    pub async fn sync(
        &self,
        objects: &[Value],
        options: &SyncOptions,
        progress: &mut (dyn FnMut(&Event) + Send),
    ) -> Result<Summary, Error> {
        if let Some(limit) = options.timeout {
            let options = SyncOptions {
                timeout: None,
                ..options.clone()
            };
            return match tokio::time::timeout(
                limit,
                Box::pin(self.sync(objects, &options, progress)),
            )
            .await
            {
                Ok(result) => result,
                Err(_) => Err(Error::TimedOut { after: limit }),
            };
        }
        if let Some((namespace, name)) = &options.service_account {
            let engine = self.impersonating(namespace, name)?;
            let options = SyncOptions {
                service_account: None,
                ..options.clone()
            };
            return Box::pin(engine.sync(objects, &options, progress)).await;
        }
        let mut hooks: [Vec<&Value>; 3] = Default::default();
        let mut set = Vec::with_capacity(objects.len());
        for object in objects {
            match hook_phase(object) {
                Some(phase) => hooks[phase as usize].push(object),
                None => set.push(object.clone()),
            }
        }
        let [pre, post, fail] = hooks;
        let result = self.sync_set(&set, &pre, options, progress).await;
        let result = match result {
            Ok(summary) => match self.run_hooks(&post, options, progress, &summary).await {
                Ok(()) => Ok(summary),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        if result.is_err() && !fail.is_empty() {
            let summary = match &result {
                Err(Error::Failed { summary, .. } | Error::Unhealthy { summary, .. }) => *summary,
                _ => Summary::default(),
            };
            // The sync failed: its sync-fail hooks run. A hook that fails says so in its own
            // `Failed` event; the sync's error stays the one reported.
            let _ = self.run_hooks(&fail, options, progress, &summary).await;
        }
        result
    }

    /// The sync of the set proper, with its pre-sync hooks run after the dry run, once the
    /// set's namespaces and CRDs exist, before anything else is written.
    async fn sync_set(
        &self,
        objects: &[Value],
        pre_sync: &[&Value],
        options: &SyncOptions,
        progress: &mut (dyn FnMut(&Event) + Send),
    ) -> Result<Summary, Error> {
        if objects.is_empty() && options.prune && !options.allow_empty {
            return Err(Error::Refused {
                reason:
                    "the set of objects is empty: nothing is pruned unless empty sets are allowed"
                        .to_owned(),
            });
        }
        let mut summary = Summary::default();
        let inventory_id = options.inventory.as_ref().map(Inventory::id);
        let discovery = self.discovery(false).await?;

        // Resolve what the cluster serves now; the rest may be of kinds the set's own CRDs
        // bring, and is resolved once they are applied.
        let mut items = Vec::new();
        let mut unresolved = Vec::new();
        for object in objects {
            match Self::resolve(&discovery, object, options) {
                Ok(item) => items.push(item),
                Err(e) => unresolved.push((object, e)),
            }
        }
        let brings_crds = items
            .iter()
            .any(|i| stage(&i.resource) == 0 && i.id.kind != "Namespace");
        if !brings_crds && !unresolved.is_empty() {
            let errors = unresolved.into_iter().map(|(_, e)| e).collect::<Vec<_>>();
            summary.failed += errors.len();
            return Err(Error::Failed { errors, summary });
        }
        if let Some(id) = &inventory_id {
            for item in &mut items {
                label(&mut item.desired, id);
            }
        }
        sort(&mut items);
        for item in &items {
            progress(&Event::Planned(item.id.clone()));
        }

        // Dry-run every object the server can check now — all but those in a namespace the
        // set creates — before the first write.
        let live = self.live(&items).await?;
        let new_namespaces: BTreeSet<String> = items
            .iter()
            .filter(|i| i.id.kind == "Namespace" && i.id.group.is_empty())
            .filter(|i| live.get(i).is_none())
            .map(|i| i.id.name.clone())
            .collect();
        let (checkable, deferred): (Vec<Item>, Vec<Item>) = items.into_iter().partition(|i| {
            i.namespace
                .as_ref()
                .is_none_or(|ns| !new_namespaces.contains(ns))
        });
        let changed = self
            .dry_run(&checkable, &live, progress, &mut summary)
            .await?;

        // Cluster definitions (namespaces, CRDs) are applied first; then what they made
        // possible is resolved and checked; then the rest, in order.
        let (definitions, rest): (Vec<&Item>, Vec<&Item>) =
            changed.into_iter().partition(|i| stage(&i.resource) == 0);
        self.apply_all(&definitions, &live, options, progress, &mut summary)
            .await?;
        if !options.dry_run {
            // Custom objects wait for their definitions to be established.
            let crds: Vec<&Item> = definitions
                .iter()
                .copied()
                .filter(|i| i.id.kind == "CustomResourceDefinition")
                .collect();
            let timeout = options.wait.unwrap_or(DEFINITION_TIMEOUT);
            self.wait_healthy(&crds, timeout, progress, &summary)
                .await?;
        }
        // Pre-sync hooks (a database migration) run once the namespaces and kinds they may
        // need exist, before anything else is written.
        self.run_hooks(pre_sync, options, progress, &summary)
            .await?;
        let mut later = deferred;
        if !unresolved.is_empty() {
            let discovery = if options.dry_run {
                discovery
            } else {
                self.discovery(true).await?
            };
            let mut errors = Vec::new();
            for (object, _) in unresolved {
                match Self::resolve(&discovery, object, options) {
                    Ok(mut item) => {
                        if let Some(id) = &inventory_id {
                            label(&mut item.desired, id);
                        }
                        progress(&Event::Planned(item.id.clone()));
                        later.push(item);
                    }
                    Err(e) => errors.push(e),
                }
            }
            if !errors.is_empty() {
                summary.failed += errors.len();
                return Err(Error::Failed { errors, summary });
            }
        }
        sort(&mut later);
        let later_live = self.live(&later).await?;
        let later_changed = if options.dry_run {
            // Their namespaces or kinds do not exist yet: a dry run cannot check them.
            later.iter().collect()
        } else {
            self.dry_run(&later, &later_live, progress, &mut summary)
                .await?
        };
        let mut remaining: Vec<&Item> = rest.into_iter().chain(later_changed).collect();
        remaining.sort_by(|a, b| order(a).cmp(&order(b)));

        let mut kinds: BTreeSet<String> = checkable
            .iter()
            .chain(&later)
            .map(|i| group_kind(&i.resource.group, &i.resource.kind))
            .collect();
        // The inventory's parent is read once; what is written to it is remembered.
        let mut parent = match &options.inventory {
            Some(inventory) => self.read_parent(inventory).await?,
            None => None,
        };
        let previous = parent.as_ref().map(Parent::kinds).unwrap_or_default();
        let listed: BTreeSet<String> = previous.union(&kinds).cloned().collect();
        if let (Some(inventory), false) = (&options.inventory, options.dry_run) {
            // The inventory first lists every kind it may hold, so that an interrupted sync
            // leaves nothing it cannot find.
            self.write_inventory(inventory, &listed, &mut parent)
                .await?;
        }
        let mut all_live = live;
        all_live.extend(later_live);
        // Wave by wave: with waits, a wave is healthy before the next starts.
        let mut start = 0;
        while start < remaining.len() {
            let wave = remaining[start].wave;
            let end = remaining[start..]
                .iter()
                .position(|i| i.wave != wave)
                .map_or(remaining.len(), |n| start + n);
            self.apply_all(
                &remaining[start..end],
                &all_live,
                options,
                progress,
                &mut summary,
            )
            .await?;
            if let (Some(timeout), false) = (options.wait, options.dry_run) {
                let all_of_wave: Vec<&Item> = checkable
                    .iter()
                    .chain(&later)
                    .filter(|i| stage(&i.resource) == 1 && i.wave == wave)
                    .collect();
                self.wait_healthy(&all_of_wave, timeout, progress, &summary)
                    .await?;
            }
            start = end;
        }

        if let Some(inventory) = &options.inventory {
            if options.prune {
                let keep: BTreeSet<(String, String, String, String)> = checkable
                    .iter()
                    .chain(&later)
                    .map(|i| {
                        (
                            i.resource.group.clone(),
                            i.resource.kind.clone(),
                            i.namespace.clone().unwrap_or_default(),
                            i.id.name.clone(),
                        )
                    })
                    .collect();
                let (pruned, failed) = self
                    .prune(inventory, &listed, &keep, &all_live, options, progress)
                    .await?;
                summary.pruned = pruned;
                summary.failed += failed;
            } else {
                // Without pruning, the kinds of the previous members stay listed.
                kinds.extend(previous);
            }
            if !options.dry_run {
                self.write_inventory(inventory, &kinds, &mut parent).await?;
            }
        }
        Ok(summary)
    }

    /// Dry-runs `items` against `live`; the ones that would change, or every error.
    async fn dry_run<'i>(
        &self,
        items: &'i [Item],
        live: &Live,
        progress: &mut (dyn FnMut(&Event) + Send),
        summary: &mut Summary,
    ) -> Result<Vec<&'i Item>, Error> {
        let mut changed = Vec::new();
        let mut errors = Vec::new();
        for item in items {
            match self.attempt(item, live.get(item), true).await {
                Ok(result) => {
                    progress(&Event::DryRunOk(item.id.clone()));
                    if result.outcome == Outcome::Unchanged {
                        summary.unchanged += 1;
                        progress(&Event::Unchanged(item.id.clone()));
                    } else {
                        changed.push(item);
                    }
                }
                Err(e) => {
                    progress(&Event::Failed(item.id.clone(), e.to_string()));
                    errors.push(e);
                }
            }
        }
        if errors.is_empty() {
            Ok(changed)
        } else {
            summary.failed += errors.len();
            Err(Error::Failed {
                errors,
                summary: *summary,
            })
        }
    }

    /// Applies `item` against `live`, trying again (after reading the live object afresh) when
    /// the failure is transient: the server busy or failing (429, 5xx), a write that lost a
    /// race (409 on a stale resourceVersion, or a create that met the object), a dropped
    /// connection. Conflicts over field ownership and refusals are final.
    async fn attempt(
        &self,
        item: &Item,
        live: Option<&Value>,
        dry_run: bool,
    ) -> Result<crate::Applied, Error> {
        let mut current = live.cloned();
        let mut delay = RETRY_FIRST_DELAY;
        let mut attempt = 1;
        loop {
            let request = ApplyRequest::new(&item.desired, current.as_ref(), &item.resource)
                .namespace(item.namespace.as_deref())
                .dry_run(dry_run);
            match self.applier.apply(&self.client, &request).await {
                Err(e) if attempt < RETRY_ATTEMPTS && transient(&e) => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    attempt += 1;
                    current = self.read(item).await.unwrap_or(current);
                }
                other => return other,
            }
        }
    }

    /// The live object of `item` now, `Some(None)` when it does not exist, `None` when it
    /// could not be read.
    async fn read(&self, item: &Item) -> Option<Option<Value>> {
        let api: Api<DynamicObject> = match &item.namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &item.resource),
            None => Api::all_with(self.client.clone(), &item.resource),
        };
        let found = retried(|| api.get_opt(&item.id.name)).await.ok()?;
        Some(
            found
                .and_then(|o| serde_json::to_value(o).ok())
                .map(|mut value| {
                    if let Some(map) = value.as_object_mut() {
                        map.entry("apiVersion")
                            .or_insert_with(|| Value::from(item.resource.api_version.as_str()));
                        map.entry("kind")
                            .or_insert_with(|| Value::from(item.resource.kind.as_str()));
                    }
                    value
                }),
        )
    }

    /// Applies `items` in order; every error is collected, and the sync fails after the last.
    async fn apply_all(
        &self,
        items: &[&Item],
        live: &Live,
        options: &SyncOptions,
        progress: &mut (dyn FnMut(&Event) + Send),
        summary: &mut Summary,
    ) -> Result<(), Error> {
        let mut errors = Vec::new();
        for item in items {
            match self.attempt(item, live.get(item), options.dry_run).await {
                Ok(result) => {
                    match result.outcome {
                        Outcome::Created => summary.created += 1,
                        Outcome::Updated => summary.updated += 1,
                        Outcome::Unchanged => summary.unchanged += 1,
                    }
                    progress(&Event::Applied(item.id.clone(), result.outcome));
                }
                Err(e) => {
                    summary.failed += 1;
                    progress(&Event::Failed(item.id.clone(), e.to_string()));
                    errors.push(e);
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Failed {
                errors,
                summary: *summary,
            })
        }
    }

    /// Runs hooks in their order: each is created afresh (deleted first unless its policy
    /// says otherwise), must become healthy — a Job completes — before the next, and is
    /// deleted after as its policy says. In a dry run, hooks are only dry-run.
    async fn run_hooks(
        &self,
        hooks: &[&Value],
        options: &SyncOptions,
        progress: &mut (dyn FnMut(&Event) + Send),
        summary: &Summary,
    ) -> Result<(), Error> {
        if hooks.is_empty() {
            return Ok(());
        }
        let discovery = self.discovery(false).await?;
        let mut items = Vec::new();
        for hook in hooks {
            items.push(Self::resolve(&discovery, hook, options)?);
        }
        sort(&mut items);
        let timeout = options.wait.unwrap_or(HOOK_TIMEOUT);
        for item in &items {
            progress(&Event::Planned(item.id.clone()));
            let policies = hook_policies(&item.desired);
            let api: Api<DynamicObject> = match &item.namespace {
                Some(ns) => Api::namespaced_with(self.client.clone(), ns, &item.resource),
                None => Api::all_with(self.client.clone(), &item.resource),
            };
            let failed = |source: kube::Error| Error::Api {
                object: item.id.to_string(),
                source: Box::new(source),
            };
            if options.dry_run {
                let live = self.read(item).await.flatten();
                let applied = self.attempt(item, live.as_ref(), true).await?;
                progress(&Event::Applied(item.id.clone(), applied.outcome));
                continue;
            }
            if policies.contains(&HookPolicy::BeforeHookCreation) {
                let params = DeleteParams::foreground();
                let deleted = retried(|| api.delete(&item.id.name, &params)).await;
                match deleted {
                    Ok(_) => self.wait_gone(item).await?,
                    Err(kube::Error::Api(status)) if status.code == 404 => {}
                    Err(e) => return Err(failed(e)),
                }
            }
            let live = self.read(item).await.flatten();
            let applied = match self.attempt(item, live.as_ref(), false).await {
                Ok(applied) => applied,
                Err(e) => {
                    progress(&Event::Failed(item.id.clone(), e.to_string()));
                    return Err(e);
                }
            };
            progress(&Event::Applied(item.id.clone(), applied.outcome));
            let outcome = self.wait_healthy(&[item], timeout, progress, summary).await;
            if let Err(e) = &outcome {
                progress(&Event::Failed(item.id.clone(), e.to_string()));
            }
            let delete = match &outcome {
                Ok(()) => policies.contains(&HookPolicy::HookSucceeded),
                Err(_) => policies.contains(&HookPolicy::HookFailed),
            };
            if delete {
                let params = DeleteParams::background();
                match retried(|| api.delete(&item.id.name, &params)).await {
                    Ok(_) | Err(kube::Error::Api(_)) => {}
                    Err(e) => return Err(failed(e)),
                }
            }
            outcome?;
        }
        Ok(())
    }

    /// Waits until a deleted object is gone (its finalizers and dependents done).
    async fn wait_gone(&self, item: &Item) -> Result<(), Error> {
        let mut delay = Duration::from_millis(20);
        let deadline = tokio::time::Instant::now() + HOOK_TIMEOUT;
        loop {
            match self.read(item).await {
                Some(None) => return Ok(()),
                _ if tokio::time::Instant::now() >= deadline => {
                    return Err(Error::Unhealthy {
                        objects: vec![format!("{} (still being deleted)", item.id)],
                        timed_out: true,
                        summary: Summary::default(),
                    });
                }
                _ => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    /// Waits until every one of `items` is healthy, `timeout` at most; a degraded object ends
    /// the wait at once.
    async fn wait_healthy(
        &self,
        items: &[&Item],
        timeout: Duration,
        progress: &mut (dyn FnMut(&Event) + Send),
        summary: &Summary,
    ) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut waiting: Vec<(&Item, String)> = items.iter().map(|i| (*i, String::new())).collect();
        let mut delay = Duration::from_millis(50);
        loop {
            let mut still = Vec::new();
            let mut degraded = Vec::new();
            for (item, said) in waiting {
                let api: Api<DynamicObject> = match &item.namespace {
                    Some(ns) => Api::namespaced_with(self.client.clone(), ns, &item.resource),
                    None => Api::all_with(self.client.clone(), &item.resource),
                };
                let found =
                    retried(|| api.get_opt(&item.id.name))
                        .await
                        .map_err(|e| Error::Api {
                            object: item.id.to_string(),
                            source: Box::new(e),
                        })?;
                let state = match found.map(serde_json::to_value) {
                    Some(Ok(mut object)) => {
                        if let Some(map) = object.as_object_mut() {
                            map.entry("apiVersion")
                                .or_insert_with(|| Value::from(item.resource.api_version.as_str()));
                            map.entry("kind")
                                .or_insert_with(|| Value::from(item.resource.kind.as_str()));
                        }
                        health(&object)
                    }
                    _ => Health::Progressing("not found".to_owned()),
                };
                match state {
                    Health::Healthy => progress(&Event::Healthy(item.id.clone())),
                    Health::Degraded(why) => degraded.push(format!("{}: {why}", item.id)),
                    Health::Progressing(why) => {
                        if why != said {
                            progress(&Event::Waiting(item.id.clone(), why.clone()));
                        }
                        still.push((item, why));
                    }
                }
            }
            if !degraded.is_empty() {
                return Err(Error::Unhealthy {
                    objects: degraded,
                    timed_out: false,
                    summary: *summary,
                });
            }
            if still.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Unhealthy {
                    objects: still
                        .into_iter()
                        .map(|(item, why)| format!("{} ({why})", item.id))
                        .collect(),
                    timed_out: true,
                    summary: *summary,
                });
            }
            tokio::time::sleep(delay.min(deadline - tokio::time::Instant::now())).await;
            delay = (delay * 2).min(Duration::from_secs(2));
            waiting = still;
        }
    }

    /// What the inventory's parent says now; `None` when it does not exist yet.
    async fn read_parent(&self, inventory: &Inventory) -> Result<Option<Parent>, Error> {
        let secrets: Api<DynamicObject> = Api::namespaced_with(
            self.client.clone(),
            &inventory.namespace,
            &ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "Secret")),
        );
        let found = retried(|| secrets.get_opt(&inventory.name))
            .await
            .map_err(|source| self.inventory_error(inventory, source))?;
        Ok(found.map(|parent| {
            let label = |key: &str| {
                parent
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(key))
                    .cloned()
                    .unwrap_or_default()
            };
            let says = |key: &str| {
                parent
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(key))
                    .cloned()
                    .unwrap_or_default()
            };
            Parent {
                id: label(APPLYSET_ID),
                tooling: says(APPLYSET_TOOLING),
                contains: says(APPLYSET_CONTAINS),
            }
        }))
    }

    fn inventory_error(&self, inventory: &Inventory, source: kube::Error) -> Error {
        Error::Api {
            object: format!(
                "v1 Secret {}/{} (inventory)",
                inventory.namespace, inventory.name
            ),
            source: Box::new(source),
        }
    }

    /// Writes the inventory's parent with the group-kinds it holds, unless `parent` (what it
    /// says, as read or last written) already says so: a re-sync writes nothing.
    async fn write_inventory(
        &self,
        inventory: &Inventory,
        kinds: &BTreeSet<String>,
        parent: &mut Option<Parent>,
    ) -> Result<(), Error> {
        let contains: Vec<&str> = kinds.iter().map(String::as_str).collect();
        let wanted = Parent {
            id: inventory.id(),
            tooling: format!("converge/v{}", env!("CARGO_PKG_VERSION")),
            contains: contains.join(","),
        };
        if parent.as_ref() == Some(&wanted) {
            return Ok(());
        }
        let secrets: Api<DynamicObject> = Api::namespaced_with(
            self.client.clone(),
            &inventory.namespace,
            &ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "Secret")),
        );
        let body = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {
                "name": inventory.name, "namespace": inventory.namespace,
                "labels": {APPLYSET_ID: wanted.id},
                "annotations": {APPLYSET_TOOLING: wanted.tooling, APPLYSET_CONTAINS: wanted.contains},
            },
            "type": "Opaque",
        });
        let params = PatchParams::apply("converge-inventory").force();
        let patch = Patch::Apply(&body);
        retried(|| secrets.patch(&inventory.name, &params, &patch))
            .await
            .map_err(|source| self.inventory_error(inventory, source))?;
        *parent = Some(wanted);
        Ok(())
    }

    /// Deletes the members of the inventory (of the group-kinds it `listed`) that are not in
    /// `keep`: in reverse apply order, namespaces last, never one annotated
    /// `converge.dev/prune: disabled`. Returns how many were pruned and how many failed.
    async fn prune(
        &self,
        inventory: &Inventory,
        listed: &BTreeSet<String>,
        keep: &BTreeSet<(String, String, String, String)>,
        live: &Live,
        options: &SyncOptions,
        progress: &mut (dyn FnMut(&Event) + Send),
    ) -> Result<(usize, usize), Error> {
        let discovery = self.discovery(false).await?;
        let id = inventory.id();
        let mut doomed: Vec<(ObjectRef, ApiResource)> = Vec::new();
        for gk in listed {
            let (group, kind) = split_group_kind(gk);
            let Some(found) = discovery.get(group).and_then(|g| g.recommended_kind(kind)) else {
                // A kind no longer served has no objects left to prune.
                continue;
            };
            let (resource, _) = found;
            // The members: from the list the sync already made of the kind, or listed now.
            let members: Vec<Value> = if live
                .listed
                .contains(&(resource.group.clone(), resource.plural.clone()))
            {
                live.objects
                    .iter()
                    .filter(|((group, plural, _, _), _)| {
                        *group == resource.group && *plural == resource.plural
                    })
                    .map(|(_, object)| object)
                    .filter(|object| {
                        text(
                            object,
                            &format!("/metadata/labels/{}", APPLYSET_PART_OF.replace('/', "~1")),
                        ) == id
                    })
                    .cloned()
                    .collect()
            } else {
                let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource);
                let selector = ListParams::default().labels(&format!("{APPLYSET_PART_OF}={id}"));
                let listed =
                    retried(|| api.list(&selector))
                        .await
                        .map_err(|source| Error::Api {
                            object: format!("list {} (prune)", resource.plural),
                            source: Box::new(source),
                        })?;
                listed
                    .items
                    .into_iter()
                    .filter_map(|o| serde_json::to_value(o).ok())
                    .collect()
            };
            for member in members {
                let namespace = text(&member, "/metadata/namespace").to_owned();
                let name = text(&member, "/metadata/name").to_owned();
                let key = (
                    resource.group.clone(),
                    resource.kind.clone(),
                    namespace.clone(),
                    name.clone(),
                );
                if keep.contains(&key) {
                    continue;
                }
                let protected = member
                    .pointer("/metadata/annotations")
                    .and_then(|a| a.get(PRUNE_ANNOTATION))
                    .is_some_and(|v| v == "disabled");
                if protected {
                    continue;
                }
                let ns = (!namespace.is_empty()).then_some(namespace.as_str());
                doomed.push((
                    ObjectRef::new(
                        resource.group.as_str(),
                        resource.version.as_str(),
                        resource.kind.as_str(),
                        ns,
                        name,
                    ),
                    resource.clone(),
                ));
            }
        }
        // Reverse apply order; namespaces, holding everything else, last of all.
        doomed.sort_by(|a, b| {
            let rank = |id: &ObjectRef| {
                let namespace = id.kind == "Namespace" && id.group.is_empty();
                (
                    namespace,
                    std::cmp::Reverse(converge_diff::apply_rank(&id.kind)),
                )
            };
            rank(&a.0)
                .cmp(&rank(&b.0))
                .then_with(|| a.0.name.cmp(&b.0.name))
        });
        let (mut pruned, mut failed) = (0, 0);
        for (object, resource) in doomed {
            let api: Api<DynamicObject> = match &object.namespace {
                Some(ns) => Api::namespaced_with(self.client.clone(), ns, &resource),
                None => Api::all_with(self.client.clone(), &resource),
            };
            let params = DeleteParams {
                dry_run: options.dry_run,
                ..DeleteParams::background()
            };
            match api.delete(&object.name, &params).await {
                Ok(_) => {
                    pruned += 1;
                    progress(&Event::Pruned(object));
                }
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(e) => {
                    failed += 1;
                    progress(&Event::Failed(object, e.to_string()));
                }
            }
        }
        Ok((pruned, failed))
    }
}

/// What the inventory's parent says: its id, the tool managing it, the group-kinds it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parent {
    id: String,
    tooling: String,
    contains: String,
}

impl Parent {
    fn kinds(&self) -> BTreeSet<String> {
        parse_group_kinds(&self.contains)
    }
}

/// Where an item's live object is found: (group, plural, namespace, name).
fn key(item: &Item) -> (String, String, String, String) {
    (
        item.resource.group.clone(),
        item.resource.plural.clone(),
        item.namespace.clone().unwrap_or_default(),
        item.id.name.clone(),
    )
}

/// The apply order: cluster definitions, then wave, kind (as kubectl orders kinds), namespace
/// and name.
fn order(item: &Item) -> (u8, i64, usize, Option<&str>, &str) {
    (
        stage(&item.resource),
        item.wave,
        converge_diff::apply_rank(&item.id.kind),
        item.id.namespace.as_deref(),
        &item.id.name,
    )
}

fn sort(items: &mut [Item]) {
    items.sort_by(|a, b| order(a).cmp(&order(b)));
}

/// Labels `object` a member of the ApplySet `id`.
fn label(object: &mut Value, id: &str) {
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let labels = metadata
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(labels) = labels.as_object_mut() {
        labels.insert(APPLYSET_PART_OF.to_owned(), Value::from(id));
    }
}
