//! Plans: what a sync would do to each object, decided before anything is written.

use std::collections::HashMap;
use std::fmt;

use converge_core::{Manifest, ObjectRef};
use serde_json::{Map, Value, json};

use crate::drift::{Drift, compare, member};
use crate::managed::{Node, Owned, owned_fields};
use crate::normalize::Normalizer;
use crate::schema::Schema;
use crate::{Error, TextDiffOptions, mask_secret_values, sorted_keys};

/// What a sync does to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum PlanAction {
    /// Not in the cluster: create it.
    Create,
    /// In the cluster and drifted from what is desired: update it.
    Update,
    /// In the cluster as desired: no write.
    Unchanged,
    /// Applied before, gone from what is desired, still in the cluster: delete it.
    Prune,
}

impl fmt::Display for PlanAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PlanAction::Create => "create",
            PlanAction::Update => "update",
            PlanAction::Unchanged => "unchanged",
            PlanAction::Prune => "prune",
        })
    }
}

/// One step of a [`Plan`], borrowing the objects it was planned from.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PlanEntry<'a> {
    /// The object.
    pub id: &'a ObjectRef,
    /// What happens to it.
    pub action: PlanAction,
    /// The desired object (`None` for a prune).
    pub desired: Option<&'a Manifest>,
    /// The live object (`None` for a create).
    pub live: Option<&'a Value>,
    /// For an update, the fields that drifted. With [`PlanOptions::with_explanations`], also
    /// what was not compared in the live object, and why.
    pub drift: Drift,
}

/// What a sync would do, object by object, in the order it would do it: creates and updates
/// in apply order (namespaces and CRDs first, webhooks last), then prunes in reverse. It
/// borrows the desired, live and inventory objects it was made from: planning copies nothing.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Plan<'a> {
    /// The steps.
    pub entries: Vec<PlanEntry<'a>>,
}

/// Options of [`plan`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PlanOptions {
    /// What is not compared.
    pub normalizer: Normalizer,
    /// The field manager the sync applies as: the fields it owns in live objects
    /// (`metadata.managedFields`) count as removed when desired no longer sets them.
    pub field_manager: Option<String>,
    /// Explain each compared object: which fields normalization hid, and why
    /// ([`Drift::hidden`]).
    pub explain: bool,
}

impl PlanOptions {
    /// Compares with `normalizer`.
    pub fn with_normalizer(mut self, normalizer: Normalizer) -> Self {
        self.normalizer = normalizer;
        self
    }

    /// Applies as `manager`.
    pub fn with_field_manager(mut self, manager: impl Into<String>) -> Self {
        self.field_manager = Some(manager.into());
        self
    }

    /// Fills [`Drift::hidden`] of every compared object: what was not compared, and why.
    pub fn with_explanations(mut self, explain: bool) -> Self {
        self.explain = explain;
        self
    }
}

/// Decides what a sync does: `desired` are the rendered manifests, `live` the objects read
/// from the cluster, `inventory` what the previous sync applied (only those can be pruned:
/// objects in the cluster that were never applied are never touched).
///
/// The plan is deterministic: the same inputs give the same plan in the same order.
///
/// ```
/// use converge_core::{Manifest, Origin};
/// use converge_diff::{plan, PlanAction, PlanOptions};
/// use serde_json::json;
///
/// let cm = |name: &str, v: &str| json!({"apiVersion": "v1", "kind": "ConfigMap",
///     "metadata": {"name": name, "namespace": "prod"}, "data": {"k": v}});
/// let desired = vec![
///     Manifest::new(cm("new", "1"), Origin::default())?,
///     Manifest::new(cm("same", "1"), Origin::default())?,
///     Manifest::new(cm("drifted", "2"), Origin::default())?,
/// ];
/// let mut live_same = cm("same", "1");
/// live_same["metadata"]["resourceVersion"] = json!("12");
/// let live = vec![live_same, cm("drifted", "1"), cm("gone", "1"), cm("foreign", "1")];
/// let inventory: Vec<_> = ["same", "drifted", "gone"].iter()
///     .map(|n| converge_core::ObjectRef::new("", "v1", "ConfigMap", Some("prod"), *n))
///     .collect();
///
/// let p = plan(&desired, &live, &inventory, &PlanOptions::default())?;
/// let steps: Vec<String> = p.entries.iter().map(|e| format!("{} {}", e.action, e.id.name)).collect();
/// assert_eq!(steps, ["update drifted", "create new", "unchanged same", "prune gone"]);
/// assert_eq!(p.summary(), "1 to create, 1 to update, 1 to prune, 1 unchanged");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::Duplicate`] when `desired` defines an object twice; [`Error::InvalidPatch`] when the
/// entries of [`PlanOptions::field_manager`] in a live object's managed fields are malformed.
pub fn plan<'a>(
    desired: &'a [Manifest],
    live: &'a [Value],
    inventory: &'a [ObjectRef],
    options: &PlanOptions,
) -> Result<Plan<'a>, Error> {
    let mut wanted: HashMap<Key<'a>, usize, Hasher> =
        HashMap::with_capacity_and_hasher(desired.len(), Hasher::default());
    for (i, manifest) in desired.iter().enumerate() {
        if wanted.insert(Key::of(manifest.id()), i).is_some() {
            // Rare: let core name both origins.
            if let Err(source) = converge_core::index_by_key(desired) {
                return Err(Error::Duplicate {
                    side: "desired".to_owned(),
                    source,
                });
            }
        }
    }

    // Each live object is compared as soon as it is read, while it is still in the cache; the
    // ones not desired are kept for pruning.
    let mut compared: Vec<Option<PlanEntry<'a>>> = vec![None; desired.len()];
    let mut not_desired: HashMap<Key<'a>, &'a Value, Hasher> = HashMap::default();
    for current in live {
        let Some(key) = Key::of_live(current) else {
            continue;
        };
        let Some(&i) = wanted.get(&key) else {
            not_desired.insert(key, current);
            continue;
        };
        let manifest = &desired[i];
        let id = manifest.id();
        let ty = Schema::kubernetes().for_kind(&id.group, &id.version, &id.kind);
        let (object, rules) = (manifest.object(), &options.normalizer);
        let owned = match &options.field_manager {
            Some(manager) => owned_fields(current, manager)?,
            None => Owned::Nothing,
        };
        let mut drift = match &owned {
            Owned::Nothing => {
                let Ok(drift) = compare::<Node>(object, current, None, rules, ty);
                drift
            }
            Owned::Entry(fields) => compare(object, current, Some(*fields), rules, ty)?,
            Owned::Union(set) => {
                let Ok(drift) = compare(object, current, Some(set.root()), rules, ty);
                drift
            }
        };
        if options.explain {
            drift.hidden = options.normalizer.hidden(current);
        }
        compared[i] = Some(PlanEntry {
            id,
            action: if drift.is_empty() {
                PlanAction::Unchanged
            } else {
                PlanAction::Update
            },
            desired: Some(manifest),
            live: Some(current),
            drift,
        });
    }
    let mut entries: Vec<PlanEntry<'a>> = compared
        .into_iter()
        .zip(desired)
        .map(|(entry, manifest)| {
            entry.unwrap_or_else(|| PlanEntry {
                id: manifest.id(),
                action: PlanAction::Create,
                desired: Some(manifest),
                live: None,
                drift: Drift::default(),
            })
        })
        .collect();
    sort_for_apply(&mut entries, false);

    let mut prunes: Vec<PlanEntry<'a>> = inventory
        .iter()
        .filter_map(|id| {
            not_desired.get(&Key::of(id)).map(|&current| PlanEntry {
                id,
                action: PlanAction::Prune,
                desired: None,
                live: Some(current),
                drift: Drift::default(),
            })
        })
        .collect();
    sort_for_apply(&mut prunes, true);
    prunes.dedup_by(|a, b| Key::of(a.id) == Key::of(b.id));
    entries.extend(prunes);
    Ok(Plan { entries })
}

/// A fast seeded hasher for object keys.
type Hasher = foldhash::fast::RandomState;

/// Sorts entries by apply rank (reversed for prunes), then group, kind, namespace and name.
/// Entries are first bucketed by kind, so the comparisons that read names only happen within
/// one kind, where group and kind need no comparing.
fn sort_for_apply(entries: &mut Vec<PlanEntry<'_>>, reverse: bool) {
    let mut kinds: HashMap<(&str, &str), usize, Hasher> = HashMap::default();
    let mut buckets: Vec<Vec<PlanEntry<'_>>> = Vec::new();
    for entry in entries.drain(..) {
        let slot = *kinds
            .entry((entry.id.group.as_str(), entry.id.kind.as_str()))
            .or_insert_with(|| {
                buckets.push(Vec::new());
                buckets.len() - 1
            });
        buckets[slot].push(entry);
    }
    let mut order: Vec<(usize, &str, &str, usize)> = kinds
        .into_iter()
        .map(|((group, kind), slot)| {
            let rank = apply_rank(kind);
            let rank = if reverse { usize::MAX - rank } else { rank };
            (rank, group, kind, slot)
        })
        .collect();
    order.sort_unstable();
    for (_, _, _, slot) in order {
        let mut bucket = std::mem::take(&mut buckets[slot]);
        bucket.sort_unstable_by(|a, b| {
            (a.id.namespace.as_deref(), a.id.name.as_str())
                .cmp(&(b.id.namespace.as_deref(), b.id.name.as_str()))
        });
        entries.append(&mut bucket);
    }
}

/// An object's identity without its version, borrowed: [`converge_core::ObjectKey`] without the
/// copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key<'a> {
    group: &'a str,
    kind: &'a str,
    namespace: Option<&'a str>,
    name: &'a str,
}

/// Hashes the name and namespace only: they tell objects apart almost always, and equality
/// still compares all four fields.
impl std::hash::Hash for Key<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.namespace.hash(state);
    }
}

impl<'a> Key<'a> {
    fn of(id: &'a ObjectRef) -> Key<'a> {
        Key {
            group: &id.group,
            kind: &id.kind,
            namespace: id.namespace.as_deref(),
            name: &id.name,
        }
    }

    fn of_live(object: &'a Value) -> Option<Key<'a>> {
        let object = object.as_object()?;
        let api_version = member(object, "apiVersion")?.as_str()?;
        let meta = member(object, "metadata")?.as_object()?;
        Some(Key {
            group: api_version.rsplit_once('/').map_or("", |(group, _)| group),
            kind: member(object, "kind")?.as_str()?,
            namespace: member(meta, "namespace").and_then(Value::as_str),
            name: member(meta, "name")?.as_str()?,
        })
    }
}

/// The kinds `kubectl kustomize` prints first, in this order (kustomize's legacy order):
/// what other objects depend on.
pub const LEGACY_ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

/// The kinds `kubectl kustomize` prints last, in this order: admission webhooks, so that
/// nothing they would stop is refused while the rest is applied.
pub const LEGACY_ORDER_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Where a kind goes in apply order: the order `kubectl kustomize` prints kinds in (its
/// legacy order, [`LEGACY_ORDER_FIRST`] and [`LEGACY_ORDER_LAST`]), which puts what others
/// depend on first. Prunes go the other way.
pub fn apply_rank(kind: &str) -> usize {
    const FIRST: &[&str] = LEGACY_ORDER_FIRST;
    const LAST: &[&str] = LEGACY_ORDER_LAST;
    if let Some(i) = FIRST.iter().position(|k| *k == kind) {
        i
    } else if let Some(i) = LAST.iter().position(|k| *k == kind) {
        FIRST.len() + 1 + i
    } else {
        FIRST.len()
    }
}

impl Plan<'_> {
    /// Counts by action.
    pub fn count(&self, action: PlanAction) -> usize {
        self.entries.iter().filter(|e| e.action == action).count()
    }

    /// True when the plan writes nothing.
    pub fn is_noop(&self) -> bool {
        self.entries
            .iter()
            .all(|e| e.action == PlanAction::Unchanged)
    }

    /// One line: `2 to create, 1 to update, 0 to prune, 12 unchanged`.
    pub fn summary(&self) -> String {
        format!(
            "{} to create, {} to update, {} to prune, {} unchanged",
            self.count(PlanAction::Create),
            self.count(PlanAction::Update),
            self.count(PlanAction::Prune),
            self.count(PlanAction::Unchanged)
        )
    }

    /// The plan for machines: `{"summary": {…}, "entries": [{"object", "action", "changes"}]}`,
    /// Secret values masked.
    pub fn to_json(&self) -> Value {
        let entries: Vec<Value> = self
            .entries
            .iter()
            .map(|e| {
                let mut entry = Map::new();
                entry.insert("object".to_owned(), object_json(e.id));
                entry.insert("action".to_owned(), Value::from(e.action.to_string()));
                let secret = e.id.group.is_empty() && e.id.kind == "Secret";
                let changes: Vec<Value> = e
                    .drift
                    .changes
                    .iter()
                    .map(|c| {
                        let shown = |v: &Option<Value>| match (secret, v) {
                            (true, Some(_)) => Value::from("***"),
                            (_, Some(v)) => v.clone(),
                            (_, None) => Value::Null,
                        };
                        json!({"path": c.path.to_string(), "desired": shown(&c.desired), "live": shown(&c.live)})
                    })
                    .collect();
                if !changes.is_empty() {
                    entry.insert("changes".to_owned(), Value::Array(changes));
                }
                Value::Object(entry)
            })
            .collect();
        json!({
            "summary": {
                "create": self.count(PlanAction::Create),
                "update": self.count(PlanAction::Update),
                "prune": self.count(PlanAction::Prune),
                "unchanged": self.count(PlanAction::Unchanged),
            },
            "entries": entries,
        })
    }

    /// The plan for a pull-request comment: a summary line, a table of what changes, and a
    /// collapsed unified diff per updated object (Secret values masked).
    ///
    /// # Errors
    /// [`Error::Encode`] if an object cannot be written as YAML.
    pub fn to_markdown(&self) -> Result<String, Error> {
        let mut out = format!("**Plan:** {}\n", self.summary());
        let changing: Vec<&PlanEntry> = self
            .entries
            .iter()
            .filter(|e| e.action != PlanAction::Unchanged)
            .collect();
        if changing.is_empty() {
            out.push_str("\nNo changes.\n");
            return Ok(out);
        }
        out.push_str("\n| action | object |\n|---|---|\n");
        for e in &changing {
            out.push_str(&format!("| {} | `{}` |\n", e.action, e.id));
        }
        for e in changing.iter().filter(|e| e.action == PlanAction::Update) {
            let text = self.entry_diff(
                e,
                &TextDiffOptions::default().with_labels("live", "desired"),
            )?;
            out.push_str(&format!(
                "\n<details><summary>{}</summary>\n\n```diff\n{text}```\n\n</details>\n",
                e.id
            ));
        }
        Ok(out)
    }

    /// The unified diff of one entry between its live object (normalized) and live with the
    /// desired fields laid over it, as `kubectl diff` shows an update.
    ///
    /// # Errors
    /// [`Error::Encode`] if an object cannot be written as YAML.
    pub fn entry_diff(
        &self,
        entry: &PlanEntry,
        options: &TextDiffOptions,
    ) -> Result<String, Error> {
        let mut live = entry.live.cloned().unwrap_or(Value::Null);
        Normalizer::default().normalize(&mut live);
        let mut merged = live.clone();
        if let Some(desired) = &entry.desired {
            let mut desired = desired.object().clone();
            Normalizer::default().normalize(&mut desired);
            overlay(&mut merged, &desired);
        }
        for change in entry.drift.changes.iter().filter(|c| c.desired.is_none()) {
            crate::json_patch::JsonPatch(vec![crate::json_patch::Operation::Remove {
                path: change.path.clone(),
            }])
            .apply(&mut merged)
            .ok();
        }
        let mut old = sorted_keys(&live);
        let mut new = sorted_keys(&merged);
        mask_secret_values(Some(&mut old), Some(&mut new));
        crate::text::unified(entry.id, &old, &new, options)
    }
}

/// Lays `desired` over `target`: objects merge member by member, lists of the same length
/// item by item (so defaults the server filled into items stay, as they would), anything else
/// replaces.
fn overlay(target: &mut Value, desired: &Value) {
    match (target, desired) {
        (Value::Array(t), Value::Array(d)) if t.len() == d.len() => {
            for (slot, value) in t.iter_mut().zip(d) {
                overlay(slot, value);
            }
        }
        (Value::Object(t), Value::Object(d)) => {
            for (key, value) in d {
                match t.get_mut(key) {
                    Some(slot) => overlay(slot, value),
                    None => {
                        t.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (slot, value) => *slot = value.clone(),
    }
}

fn object_json(id: &ObjectRef) -> Value {
    let mut object = Map::new();
    object.insert("apiVersion".to_owned(), Value::from(id.api_version()));
    object.insert("kind".to_owned(), Value::from(id.kind.as_str()));
    if let Some(ns) = &id.namespace {
        object.insert("namespace".to_owned(), Value::from(ns.as_str()));
    }
    object.insert("name".to_owned(), Value::from(id.name.as_str()));
    Value::Object(object)
}
