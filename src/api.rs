//! The custom resources of the reference controller, in the spirit of Flux's GitRepository and
//! Kustomization: a [`GitSource`] says where manifests come from and how often to look, a
//! [`Sync`] which path of which source to keep applied, and how.
//!
//! Their CRDs (`converge.dev/v1alpha1`) are generated from these types by
//! `cargo run --example crdgen` into `config/crds/`. The same objects are read from a plain
//! YAML file, for running without the CRDs ([`from_yaml`]).
//!
//! ```
//! use converge::api::{Resources, from_yaml};
//!
//! let resources = from_yaml("sync.yaml", b"
//! apiVersion: converge.dev/v1alpha1
//! kind: GitSource
//! metadata: {name: demo, namespace: converge}
//! spec:
//!   url: https://git.example.com/demo.git
//!   ref: {branch: main}
//! ---
//! apiVersion: converge.dev/v1alpha1
//! kind: Sync
//! metadata: {name: production, namespace: converge}
//! spec:
//!   sourceRef: {name: demo}
//!   path: production
//!   prune: true
//! ")?;
//! assert_eq!(resources.sources[0].spec.interval, "1m");
//! assert_eq!(resources.syncs[0].spec.source_ref.name, "demo");
//! # Ok::<(), converge::api::Error>(())
//! ```

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where manifests come from: a git repository, the revision to follow, how often to look.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "converge.dev",
    version = "v1alpha1",
    kind = "GitSource",
    doc = "A git repository Converge follows: where manifests come from, and how often to look.",
    namespaced,
    status = "GitSourceStatus",
    shortname = "gs",
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Revision","type":"string","jsonPath":".status.artifact.revision"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct GitSourceSpec {
    /// The repository: `https://`, `ssh://`, `git://` or `file://`.
    pub url: String,
    /// The revision to follow; the default branch when empty.
    #[serde(default, rename = "ref")]
    pub reference: GitReference,
    /// How often to look for a new revision (`1m`, `30s`, `1h`).
    #[serde(default = "default_interval")]
    pub interval: String,
    /// A Secret in the same namespace with the credentials: `username` and `password` (or a
    /// token as password) or `bearerToken` for HTTPS, with `ca.crt` for a private CA;
    /// `identity` and `known_hosts` for SSH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Accept only revisions signed by one of the keys in this Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verification>,
    /// Stop looking for new revisions.
    #[serde(default)]
    pub suspend: bool,
}

/// A revision of a repository: at most one of these is set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitReference {
    /// A branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// A tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The highest tag in a semver range (`>=1.2.0 <2.0.0`, `^1.4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver: Option<String>,
    /// A commit id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// A full ref name (`refs/pull/42/head`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl GitReference {
    /// The reference to follow, in Flux's order of precedence when several are set: `commit`,
    /// `name`, `semver`, `tag`, `branch`; the default branch when none is.
    ///
    /// ```
    /// use converge::api::GitReference;
    /// use converge::source::Reference;
    ///
    /// let mut r = GitReference { branch: Some("main".into()), ..Default::default() };
    /// assert_eq!(r.to_reference(), Reference::Branch("main".into()));
    /// r.tag = Some("v1.2.0".into());
    /// assert_eq!(r.to_reference(), Reference::Tag("v1.2.0".into()));
    /// r.semver = Some("^1".into());
    /// assert_eq!(r.to_reference(), Reference::Semver("^1".into()));
    /// r.name = Some("refs/pull/4/head".into());
    /// assert_eq!(r.to_reference(), Reference::Any("refs/pull/4/head".into()));
    /// r.commit = Some("0a1b2c3".into());
    /// assert_eq!(r.to_reference(), Reference::Commit("0a1b2c3".into()));
    /// assert_eq!(GitReference::default().to_reference(), Reference::Default);
    /// ```
    pub fn to_reference(&self) -> converge_source::Reference {
        use converge_source::Reference;
        if let Some(commit) = &self.commit {
            Reference::Commit(commit.clone())
        } else if let Some(name) = &self.name {
            Reference::Any(name.clone())
        } else if let Some(range) = &self.semver {
            Reference::Semver(range.clone())
        } else if let Some(tag) = &self.tag {
            Reference::Tag(tag.clone())
        } else if let Some(branch) = &self.branch {
            Reference::Branch(branch.clone())
        } else {
            Reference::Default
        }
    }
}

/// A Secret of the same namespace, by name.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct LocalObjectReference {
    /// The Secret's name.
    pub name: String,
}

/// How revisions are verified.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// What is verified: the commit a revision points to (`HEAD`), the tag (`Tag`), or both
    /// (`TagAndHEAD`).
    #[serde(default = "default_verify_mode")]
    pub mode: String,
    /// A Secret with the trusted public keys: ASCII-armored OpenPGP keys, or SSH public key
    /// lines (`ssh-ed25519 AAAA… comment`), one or more per value.
    pub secret_ref: LocalObjectReference,
}

/// A condition of a status, as Kubernetes' `metav1.Condition`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// `Ready`, `Reconciling`, `Stalled`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// A CamelCase reason (`ReconciliationSucceeded`, `BuildFailed`).
    pub reason: String,
    /// What happened, for people.
    #[serde(default)]
    pub message: String,
    /// When the status last changed (RFC 3339).
    pub last_transition_time: String,
    /// The generation the condition is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// What the controller last found of a source.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitSourceStatus {
    /// `Ready` (a revision was fetched), `Reconciling`, `Stalled`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The revision last fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// The generation of the spec the status is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The last [`REQUESTED_AT`] value acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

/// A fetched revision.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// The revision, as `main@sha1:<commit>`.
    pub revision: String,
    /// The content's digest (`sha256:…`).
    pub digest: String,
    /// When it was fetched (RFC 3339).
    pub last_update_time: String,
}

/// A path of a source kept applied in the cluster.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "converge.dev",
    version = "v1alpha1",
    kind = "Sync",
    doc = "A path of a source Converge keeps applied in the cluster, and how.",
    namespaced,
    status = "SyncStatus",
    printcolumn = r#"{"name":"Path","type":"string","jsonPath":".spec.path"}"#,
    printcolumn = r#"{"name":"Applied","type":"string","jsonPath":".status.lastAppliedRevision"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SyncSpec {
    /// The source to take manifests from.
    pub source_ref: SourceReference,
    /// The path inside the source to render (`./` for its root).
    #[serde(default = "default_path")]
    pub path: String,
    /// How often to sync again, to take back drift (`10m`).
    #[serde(default = "default_sync_interval")]
    pub interval: String,
    /// Delete what a previous sync applied and git no longer holds.
    #[serde(default)]
    pub prune: bool,
    /// Wait for what was applied to be healthy.
    #[serde(default)]
    pub wait: bool,
    /// How long a sync may take, waits included (`5m` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// How objects are written.
    #[serde(default)]
    pub strategy: Strategy,
    /// Put every namespaced object in this namespace, whatever it names (Flux's
    /// `targetNamespace`); the built-in kinds that live outside namespaces are left as they
    /// are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<String>,
    /// Act as this service account of the Sync's namespace, so that its RBAC bounds what is
    /// written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Variables substituted in the rendered manifests (`${KEY}`), as Flux's post-build step.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub substitute: BTreeMap<String, String>,
    /// Syncs that must be ready before this one runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependencyReference>,
    /// Stop syncing.
    #[serde(default)]
    pub suspend: bool,
    /// Fields not compared for drift (`/spec/replicas`, keyed paths), by object selector.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<IgnoreRule>,
    /// One environment per branch of the source matching a pattern, instead of one sync of
    /// the source's own ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<Preview>,
}

/// Preview environments: each branch matching `branches` gets the path synced from that
/// branch into a namespace of its own ([`crate::preview::namespace`]), which is deleted with
/// everything in it when the branch goes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    /// The branches, as a glob: `preview/*` (one level), `preview/**` (any depth).
    pub branches: String,
}

/// A source, by kind and name.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceReference {
    /// The source's kind: `GitSource`.
    #[serde(default = "default_source_kind")]
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its namespace: the Sync's when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// How objects are written.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Strategy {
    /// Server-side apply, forced (what Flux does).
    #[default]
    ServerSide,
    /// Client-side three-way apply, as `kubectl apply`.
    ClientSide,
    /// Replace the whole object.
    Replace,
}

/// Another Sync, by name.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct DependencyReference {
    /// Its name.
    pub name: String,
    /// Its namespace: the Sync's when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Fields left out of drift detection.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IgnoreRule {
    /// JSON Pointers, with keyed list items (`/spec/template/spec/containers[name=app]/image`).
    pub paths: Vec<String>,
    /// Only objects of this kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Only objects of this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// What the controller last did with a Sync.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    /// `Ready`, `Reconciling`, `Stalled`, with their reasons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The revision last applied successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_revision: Option<String>,
    /// The revision last tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision: Option<String>,
    /// What the last sync counted: created, updated, unchanged, pruned, failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<InventoryCounts>,
    /// The generation of the spec the status is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The last [`REQUESTED_AT`] value acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The preview environments, one per matching branch, by branch name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<Environment>,
}

/// One preview environment.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    /// The branch.
    pub branch: String,
    /// Its namespace.
    pub namespace: String,
    /// The revision last applied to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_revision: Option<String>,
    /// `True` when its last sync succeeded, `False` when it failed, `Unknown` before.
    pub ready: String,
    /// What happened last.
    #[serde(default)]
    pub message: String,
}

/// The counts of the last sync.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct InventoryCounts {
    /// Objects the set holds.
    pub objects: u64,
    /// Created by the last sync.
    pub created: u64,
    /// Updated by the last sync.
    pub updated: u64,
    /// Pruned by the last sync.
    pub pruned: u64,
}

/// The annotation that asks for a reconcile now, whatever the interval: any new value (a
/// time, by habit) is acted on once, and remembered in the status's `lastHandledReconcileAt`.
/// `kubectl annotate --overwrite sync/web converge.dev/requested-at="$(date +%s)"`.
pub const REQUESTED_AT: &str = "converge.dev/requested-at";

/// The finalizer that keeps a Sync until what it applied is pruned (with `prune`, and always
/// for preview environments), as Flux's garbage collection on deletion does.
pub const FINALIZER: &str = "converge.dev/finalizer";

/// The condition types, as Flux and kstatus use them.
pub mod conditions {
    /// The object is in the state its spec asks for.
    pub const READY: &str = "Ready";
    /// The controller is working on it.
    pub const RECONCILING: &str = "Reconciling";
    /// The controller cannot make progress without a change to the spec.
    pub const STALLED: &str = "Stalled";
}

impl Condition {
    /// A condition of `kind` now.
    pub fn new(
        kind: &str,
        status: bool,
        reason: &str,
        message: impl Into<String>,
        generation: Option<i64>,
    ) -> Condition {
        Condition {
            kind: kind.to_owned(),
            status: if status { "True" } else { "False" }.to_owned(),
            reason: reason.to_owned(),
            message: message.into(),
            last_transition_time: converge_core::rfc3339(converge_core::since_epoch()),
            observed_generation: generation,
        }
    }

    /// The same condition with status `Unknown`.
    pub fn unknown(mut self) -> Condition {
        self.status = "Unknown".to_owned();
        self
    }
}

/// Sets `condition` in `conditions`, in place of one of its type; the transition time stays
/// the old one when the status did not change, as `meta.SetStatusCondition` does.
///
/// ```
/// use converge::api::{Condition, get_condition, set_condition};
///
/// let mut conditions = Vec::new();
/// set_condition(&mut conditions, Condition::new("Ready", false, "Progressing", "", Some(1)));
/// let since = get_condition(&conditions, "Ready").unwrap().last_transition_time.clone();
/// set_condition(&mut conditions, Condition::new("Ready", false, "BuildFailed", "bad", Some(1)));
/// let ready = get_condition(&conditions, "Ready").unwrap();
/// assert_eq!((ready.reason.as_str(), &ready.last_transition_time), ("BuildFailed", &since));
/// assert_eq!(conditions.len(), 1);
/// ```
pub fn set_condition(conditions: &mut Vec<Condition>, mut condition: Condition) {
    match conditions.iter_mut().find(|c| c.kind == condition.kind) {
        Some(old) => {
            if old.status == condition.status {
                condition.last_transition_time = std::mem::take(&mut old.last_transition_time);
            }
            *old = condition;
        }
        None => conditions.push(condition),
    }
}

/// Removes the condition of type `kind`.
pub fn remove_condition(conditions: &mut Vec<Condition>, kind: &str) {
    conditions.retain(|c| c.kind != kind);
}

/// The condition of type `kind`.
pub fn get_condition<'a>(conditions: &'a [Condition], kind: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.kind == kind)
}

/// Whether `conditions` say `Ready=True`, for the generation `generation` when one is given.
pub fn is_ready(conditions: &[Condition], generation: Option<i64>) -> bool {
    get_condition(conditions, conditions::READY).is_some_and(|c| {
        c.status == "True" && (generation.is_none() || c.observed_generation == generation)
    })
}

/// The longest duration [`parse_duration`] takes: a year.
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(366 * 24 * 3600);

/// Reads a duration as Flux's specs write them (Go's `time.ParseDuration` units): `90s`,
/// `5m`, `1h30m`, `250ms`; a year at most.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(converge::api::parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
/// assert_eq!(converge::api::parse_duration("250ms"), Ok(Duration::from_millis(250)));
/// assert!(converge::api::parse_duration("5 minutes").is_err());
/// assert!(converge::api::parse_duration("10000000000000000000s").is_err());
/// ```
///
/// # Errors
/// A message naming the text, for anything else.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    use std::time::Duration;
    let invalid = || format!("invalid duration {text:?}: expected something like 90s, 5m or 1h30m");
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(invalid)?;
        let value: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit] {
            "ms" => Duration::from_millis(value),
            "s" => Duration::from_secs(value),
            "m" => Duration::from_secs(value.saturating_mul(60)),
            "h" => Duration::from_secs(value.saturating_mul(3600)),
            _ => return Err(invalid()),
        };
        total = total
            .checked_add(part)
            .filter(|t| *t <= MAX_DURATION)
            .ok_or_else(|| format!("invalid duration {text:?}: longer than a year"))?;
        rest = &rest[unit..];
    }
    Ok(total)
}

fn default_interval() -> String {
    "1m".to_owned()
}

fn default_sync_interval() -> String {
    "10m".to_owned()
}

fn default_path() -> String {
    "./".to_owned()
}

fn default_verify_mode() -> String {
    "HEAD".to_owned()
}

fn default_source_kind() -> String {
    "GitSource".to_owned()
}

/// What a file of resources can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file is not YAML.
    #[error(transparent)]
    Yaml(#[from] converge_core::Error),
    /// A document is not a GitSource or Sync the types accept.
    #[error("{file}:{line}: {kind} {name}: {reason}")]
    Invalid {
        /// The file.
        file: String,
        /// The line its document starts on.
        line: u64,
        /// Its kind.
        kind: String,
        /// Its name.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

/// The GitSources and Syncs of a file.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Resources {
    /// The sources, in file order.
    pub sources: Vec<GitSource>,
    /// The syncs, in file order.
    pub syncs: Vec<Sync>,
}

/// Reads GitSources and Syncs from a YAML file, for running without their CRDs. Documents of
/// other kinds are refused, naming the file and line.
///
/// # Errors
/// [`Error::Yaml`] for text that is not YAML; [`Error::Invalid`] for a document that is not a
/// valid GitSource or Sync.
pub fn from_yaml(file: &str, bytes: &[u8]) -> Result<Resources, Error> {
    let mut resources = Resources::default();
    for document in converge_core::parse_documents(file, bytes)? {
        let value = document.value;
        let text = |pointer: &str| {
            value
                .pointer(pointer)
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let (kind, name) = (text("/kind"), text("/metadata/name"));
        let invalid = |reason: String| Error::Invalid {
            file: file.to_owned(),
            line: document.line,
            kind: kind.clone(),
            name: name.clone(),
            reason,
        };
        if text("/apiVersion") != "converge.dev/v1alpha1" {
            return Err(invalid(format!(
                "expected apiVersion converge.dev/v1alpha1, got {:?}",
                text("/apiVersion")
            )));
        }
        match kind.as_str() {
            "GitSource" => resources
                .sources
                .push(serde_json::from_value(value.clone()).map_err(|e| invalid(e.to_string()))?),
            "Sync" => resources
                .syncs
                .push(serde_json::from_value(value.clone()).map_err(|e| invalid(e.to_string()))?),
            other => {
                return Err(invalid(format!(
                    "expected GitSource or Sync, got {other:?}"
                )));
            }
        }
    }
    Ok(resources)
}
