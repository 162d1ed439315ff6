//! Server-side apply as the Kubernetes API server performs it.
//!
//! Two layers:
//! - [`Updater`] is structured-merge-diff's algorithm: merge a configuration into a live
//!   object, prune what its manager stopped applying, and move field ownership between
//!   managers, with conflicts when a manager would take a field another one set to a different
//!   value. Managers are opaque identities here.
//! - [`FieldManager`] is what kube-apiserver wraps around it for every write: managers named
//!   by name, operation, API version and subresource; `metadata.managedFields` read from and
//!   written to the object (sorted, with times); metadata the server owns left out of every
//!   set; ownership started by an `Update` manager `before-first-apply` for objects that had
//!   none; at most ten `Update` managers, the oldest merged into `ancient-changes`; and
//!   `kubectl apply --server-side` taking over what its client-side applies set.
//!
//! ```
//! use converge_diff::schema::Schema;
//! use converge_diff::ssa::FieldManager;
//! use serde_json::json;
//!
//! let ty = Schema::kubernetes().for_kind("apps", "v1", "Deployment");
//! let fields = FieldManager::new(ty, "apps/v1");
//! let now = "2026-01-01T00:00:00Z";
//! let config = json!({"apiVersion": "apps/v1", "kind": "Deployment",
//!     "metadata": {"name": "web"}, "spec": {"replicas": 2}});
//! let live = fields.apply(None, &config, "converge", false, now)?;
//! assert_eq!(live["metadata"]["managedFields"][0]["manager"], "converge");
//!
//! // Another manager that sets replicas to something else conflicts, unless it forces.
//! let hpa = json!({"apiVersion": "apps/v1", "kind": "Deployment",
//!     "metadata": {"name": "web"}, "spec": {"replicas": 5}});
//! let err = fields.apply(Some(&live), &hpa, "hpa", false, now).unwrap_err();
//! assert_eq!(err.to_string(), r#"Apply failed with 1 conflict: conflict with "converge": .spec.replicas"#);
//! let live = fields.apply(Some(&live), &hpa, "hpa", true, now)?;
//! assert_eq!(live["spec"]["replicas"], 5);
//! # Ok::<(), converge_diff::Error>(())
//! ```

mod smd;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::Error;
use crate::managed::{FieldSet, ManagerConflict, Node, display_element};
use crate::schema::TypeRef;
use smd::Declared;

/// The fields one manager owns, in the API version it wrote them in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VersionedSet {
    /// The fields.
    pub fields: FieldSet,
    /// The API version (`apps/v1`).
    pub api_version: String,
    /// True for a manager that applied (server-side apply), false for one that updated.
    pub applied: bool,
}

impl VersionedSet {
    /// A set of fields owned in `api_version`.
    pub fn new(fields: FieldSet, api_version: impl Into<String>, applied: bool) -> VersionedSet {
        VersionedSet {
            fields,
            api_version: api_version.into(),
            applied,
        }
    }
}

/// The managers of an object by identity, as [`Updater`] keeps them.
pub type ManagedSets = BTreeMap<String, VersionedSet>;

/// The result of comparing two objects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Comparison {
    /// Fields in the new object only: every node of an added subtree.
    pub added: FieldSet,
    /// Fields in the old object only.
    pub removed: FieldSet,
    /// Leaves (scalars, atomic lists and maps) whose values differ.
    pub modified: FieldSet,
}

/// structured-merge-diff's `Updater`: server-side apply's merge and field ownership for one
/// type, with managers as opaque identities.
///
/// ```
/// use converge_diff::schema::Schema;
/// use converge_diff::ssa::{ManagedSets, Updater};
/// use serde_json::json;
///
/// let updater = Updater::new(Schema::kubernetes().for_kind("", "v1", "ConfigMap"));
/// let mut managers = ManagedSets::new();
/// let live = json!({});
/// let first = json!({"data": {"a": "1", "b": "2"}});
/// let live = updater.apply(&live, &first, "v1", &mut managers, "a", false)?.expect("changed");
/// // The manager stops applying `b`: as its only owner, it is removed.
/// let second = json!({"data": {"a": "1"}});
/// let live = updater.apply(&live, &second, "v1", &mut managers, "a", false)?.expect("changed");
/// assert_eq!(live, json!({"data": {"a": "1"}}));
/// assert_eq!(managers["a"].fields.paths(), [".data.a"]);
/// # Ok::<(), converge_diff::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Updater<'s> {
    ty: Option<TypeRef<'s>>,
    ignored: Node,
}

impl<'s> Updater<'s> {
    /// An updater for objects of type `ty` (`None`: no schema, every map granular and every
    /// list atomic).
    pub fn new(ty: Option<TypeRef<'s>>) -> Updater<'s> {
        Updater {
            ty,
            ignored: Node::default(),
        }
    }

    /// Fields no manager comes to own, whatever is written: the fields the API server resets
    /// on this endpoint (`status` on the main resource of a kind with a status subresource,
    /// `spec` on the status subresource).
    pub fn with_ignored(mut self, fields: FieldSet) -> Updater<'s> {
        self.ignored = fields.into_root();
        self
    }

    fn declared(&self) -> Declared<'s> {
        smd::declared(self.ty)
    }

    /// `rhs` merged into `lhs`: fields of both, `rhs`'s values where both set one, list items
    /// matched by their keys (live order first, new items after), atomic lists and maps
    /// replaced whole.
    ///
    /// # Errors
    /// [`Error::Unmergeable`] when a keyed list has an item without its key, or an item twice.
    pub fn merge(&self, lhs: &Value, rhs: &Value) -> Result<Value, Error> {
        smd::merge(lhs, rhs, self.declared()).map_err(unmergeable)
    }

    /// What changed from `old` to `new`.
    ///
    /// # Errors
    /// As [`merge`](Updater::merge).
    pub fn compare(&self, old: &Value, new: &Value) -> Result<Comparison, Error> {
        let diff = smd::compare(old, new, self.declared()).map_err(unmergeable)?;
        Ok(Comparison {
            added: FieldSet::from_root(diff.added),
            removed: FieldSet::from_root(diff.removed),
            modified: FieldSet::from_root(diff.modified),
        })
    }

    /// The fields an applied configuration sets, which its manager comes to own.
    pub fn field_set(&self, value: &Value) -> FieldSet {
        FieldSet::from_root(smd::field_set(value, self.declared()))
    }

    /// Records a write of `new` over `live` by the `Update` manager `manager`: it owns what it
    /// changed, and the others lose what it changed or removed. An update never conflicts.
    ///
    /// # Errors
    /// As [`merge`](Updater::merge).
    pub fn update(
        &self,
        live: &Value,
        new: &Value,
        version: &str,
        managers: &mut ManagedSets,
        manager: &str,
    ) -> Result<(), Error> {
        let diff = match self.reassign(live, new, managers, manager, true) {
            Ok(diff) => diff,
            Err(Reassign::Error(e)) => return Err(e),
            Err(Reassign::Conflicts(conflicts)) => {
                return Err(self.conflict_error(conflicts, new, live));
            }
        };
        let mut set = managers
            .remove(manager)
            .map(|vs| vs.fields.into_root())
            .unwrap_or_default();
        set.union(&diff.modified);
        set.union(&diff.added);
        let set = set
            .difference(&diff.removed)
            .recursive_difference(&self.ignored);
        if !set.is_empty() {
            managers.insert(
                manager.to_owned(),
                VersionedSet::new(FieldSet::from_root(set), version, false),
            );
        }
        Ok(())
    }

    /// Applies `config` over `live` as `manager`: merges it, removes what the manager applied
    /// last time and no longer does (unless another manager owns it), and gives the manager
    /// exactly the fields of `config`. Returns the new object, or `None` when nothing changed.
    ///
    /// # Errors
    /// [`Error::ApplyConflict`] when, without `force`, the apply would change fields other
    /// managers own; the managers are then left as they were. Otherwise as
    /// [`merge`](Updater::merge).
    pub fn apply(
        &self,
        live: &Value,
        config: &Value,
        version: &str,
        managers: &mut ManagedSets,
        manager: &str,
        force: bool,
    ) -> Result<Option<Value>, Error> {
        match self.try_apply(live, config, version, managers, manager, force) {
            Ok(new) => Ok(new),
            Err(Reassign::Error(e)) => Err(e),
            Err(Reassign::Conflicts(conflicts)) => {
                Err(self.conflict_error(conflicts, config, live))
            }
        }
    }

    /// [`apply`](Updater::apply), with the conflicts as sets of fields per manager.
    fn try_apply(
        &self,
        live: &Value,
        config: &Value,
        version: &str,
        managers: &mut ManagedSets,
        manager: &str,
        force: bool,
    ) -> Result<Option<Value>, Reassign> {
        let ty = self.declared();
        let merged = smd::merge(live, config, ty).map_err(|e| Reassign::Error(unmergeable(e)))?;
        let mut next = managers.clone();
        let last = next.get(manager).map(|vs| vs.fields.root().clone());
        let set = smd::field_set(config, ty).recursive_difference(&self.ignored);
        next.insert(
            manager.to_owned(),
            VersionedSet::new(FieldSet::from_root(set), version, true),
        );
        let new = match last.filter(|last| !last.is_empty()) {
            Some(last) => self.prune(&merged, &next, &last),
            None => merged,
        };
        let diff = self.reassign(live, &new, &mut next, manager, force)?;
        *managers = next;
        Ok((!diff.is_same()).then_some(new))
    }

    /// Removes from `merged` what the applying manager owned last time (`last`) and no
    /// longer applies, but keeps what any manager (the applier's new set included) owns and
    /// what the applier never owned.
    fn prune(&self, merged: &Value, managers: &ManagedSets, last: &Node) -> Value {
        let ty = self.declared();
        let ensure = |set: &Node| smd::ensure_named_fields(set, ty);
        let pruned = smd::remove_items(merged, &ensure(last), ty);
        // Add back what is owned.
        let mut managed = Node::default();
        for vs in managers.values() {
            managed.union(vs.fields.root());
        }
        let merged_set = ensure(&smd::field_set(merged, ty));
        let mut keep = ensure(&smd::field_set(&pruned, ty));
        keep.union(&ensure(&managed));
        let pruned = smd::remove_items(merged, &merged_set.difference(&keep), ty);
        // Add back what the applier did not own ("dangling" items).
        let gone = merged_set
            .difference(&ensure(&smd::field_set(&pruned, ty)))
            .intersection(&ensure(last));
        smd::remove_items(merged, &gone, ty)
    }

    /// Compares `old` with `new` and takes from every manager but `workflow` the fields that
    /// changed (conflicts, refused without `force`) or went away.
    fn reassign(
        &self,
        old: &Value,
        new: &Value,
        managers: &mut ManagedSets,
        workflow: &str,
        force: bool,
    ) -> Result<smd::Diff, Reassign> {
        let ty = self.declared();
        let mut diff = smd::compare(old, new, ty).map_err(|e| Reassign::Error(unmergeable(e)))?;
        diff.added = diff.added.recursive_difference(&self.ignored);
        diff.removed = diff.removed.recursive_difference(&self.ignored);
        diff.modified = diff.modified.recursive_difference(&self.ignored);
        let mut changed = diff.modified.clone();
        changed.union(&diff.added);
        let mut conflicts: Vec<(String, Node)> = Vec::new();
        for (name, vs) in managers.iter() {
            if name == workflow {
                continue;
            }
            let taken = vs.fields.root().intersection(&changed);
            if !taken.is_empty() {
                conflicts.push((name.clone(), taken));
            }
        }
        if !force && !conflicts.is_empty() {
            return Err(Reassign::Conflicts(conflicts));
        }
        for (name, taken) in &conflicts {
            if let Some(vs) = managers.get_mut(name) {
                vs.fields = FieldSet::from_root(vs.fields.root().difference(taken));
            }
        }
        if !diff.removed.is_empty() {
            for (name, vs) in managers.iter_mut() {
                if name != workflow {
                    vs.fields = FieldSet::from_root(vs.fields.root().difference(&diff.removed));
                }
            }
        }
        managers.retain(|_, vs| !vs.fields.is_empty());
        Ok(diff)
    }

    /// Each conflicting field with its owner (by identity, quoted), in structured-merge-diff's
    /// order.
    fn list_conflicts(
        &self,
        conflicts: Vec<(String, Node)>,
        config: &Value,
        live: &Value,
    ) -> Vec<ManagerConflict> {
        let mut found: Vec<ManagerConflict> = Vec::new();
        for (manager, set) in conflicts {
            for path in iterate(&set) {
                let at = |object: &Value| -> Value {
                    path.iter()
                        .try_fold(object, |value, element| {
                            crate::drift::find_child(element, value, true).map(|(_, v)| v)
                        })
                        .cloned()
                        .unwrap_or(Value::Null)
                };
                found.push(ManagerConflict {
                    path: path.iter().map(|e| display_element(e)).collect(),
                    manager: manager.clone(),
                    owner: format!("{manager:?}"),
                    desired: at(config),
                    live: at(live),
                });
            }
        }
        found
    }

    /// The conflict error, worded as structured-merge-diff words it (managers by identity,
    /// quoted); [`FieldManager`] rewords it as the API server does.
    fn conflict_error(
        &self,
        conflicts: Vec<(String, Node)>,
        config: &Value,
        live: &Value,
    ) -> Error {
        let found = self.list_conflicts(conflicts, config, live);
        let message = match found.as_slice() {
            [one] => format!("conflict with {}: {}", one.owner, one.path),
            _ => grouped(&found),
        };
        Error::ApplyConflict {
            message,
            conflicts: found,
        }
    }
}

enum Reassign {
    Error(Error),
    Conflicts(Vec<(String, Node)>),
}

fn unmergeable(reason: String) -> Error {
    Error::Unmergeable {
        path: String::new(),
        reason,
    }
}

/// The member paths of a set in structured-merge-diff's order: the members at a level, then
/// each child's, children in element order.
fn iterate(set: &Node) -> Vec<Vec<String>> {
    fn walk(node: &Node, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        let mut children: Vec<(&String, &Node)> = node.children.iter().collect();
        children.sort_by(|a, b| crate::managed::element_order(a.0, b.0));
        for (element, child) in &children {
            if child.member {
                path.push((*element).clone());
                out.push(path.clone());
                path.pop();
            }
        }
        for (element, child) in children {
            if !child.children.is_empty() {
                path.push(element.clone());
                walk(child, path, out);
                path.pop();
            }
        }
    }
    let mut out = Vec::new();
    walk(set, &mut Vec::new(), &mut out);
    out
}

/// How the API server words a set of apply conflicts: one on one line; several grouped by
/// manager, managers sorted.
fn conflicts_message(conflicts: &[ManagerConflict]) -> String {
    if let [one] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            one.owner, one.path
        );
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        grouped(conflicts)
    )
}

/// Several conflicts, grouped by manager (managers sorted by identity).
fn grouped(conflicts: &[ManagerConflict]) -> String {
    let mut by_manager: BTreeMap<&str, (&str, Vec<&str>)> = BTreeMap::new();
    for c in conflicts {
        by_manager
            .entry(&c.manager)
            .or_insert((&c.owner, Vec::new()))
            .1
            .push(&c.path);
    }
    let mut lines = Vec::new();
    for (owner, paths) in by_manager.values() {
        lines.push(format!("conflicts with {owner}:"));
        lines.extend(paths.iter().map(|p| format!("- {p}")));
    }
    lines.join("\n")
}

/// The manager `kubectl apply --server-side` applies as, which the API server lets take over
/// what `kubectl apply` (client-side) set.
const KUBECTL: &str = "kubectl";

/// Where an object keeps kubectl's client-side apply configuration.
const LAST_APPLIED_POINTER: &str =
    "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration";

/// The manager whose `Update` records what an object held before its first apply.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";
/// The manager the oldest `Update` managers are merged into past [`MAX_UPDATE_MANAGERS`].
pub const ANCIENT_CHANGES: &str = "ancient-changes";
/// How many `Update` managers an object keeps.
pub const MAX_UPDATE_MANAGERS: usize = 10;

/// Server-side apply and managed fields for every write, as kube-apiserver's field manager
/// does them for one kind in one API version.
///
/// Objects go in and come out with `metadata.managedFields`; managers are named as clients
/// name them (`kubectl`, `converge`). See the [module](self) for what it adds to
/// [`Updater`].
#[derive(Debug, Clone)]
pub struct FieldManager<'s> {
    updater: Updater<'s>,
    api_version: String,
    subresource: Option<String>,
}

impl<'s> FieldManager<'s> {
    /// The field manager for objects of type `ty` served as `api_version`.
    pub fn new(ty: Option<TypeRef<'s>>, api_version: impl Into<String>) -> FieldManager<'s> {
        FieldManager {
            updater: Updater::new(ty),
            api_version: api_version.into(),
            subresource: None,
        }
    }

    /// Fields the endpoint resets, which no manager comes to own (see
    /// [`Updater::with_ignored`]).
    pub fn with_reset_fields(mut self, fields: FieldSet) -> FieldManager<'s> {
        self.updater = self.updater.with_ignored(fields);
        self
    }

    /// Writes through a subresource (`status`): the managers it records say so.
    pub fn for_subresource(mut self, subresource: impl Into<String>) -> FieldManager<'s> {
        self.subresource = Some(subresource.into());
        self
    }

    fn identity(&self, manager: &str, operation: &str) -> String {
        let manager = if manager.is_empty() {
            "unknown"
        } else {
            manager
        };
        let mut entry = Map::new();
        entry.insert("manager".into(), manager.into());
        entry.insert("operation".into(), operation.into());
        if operation == "Update" {
            entry.insert("apiVersion".into(), self.api_version.as_str().into());
        }
        if let Some(subresource) = &self.subresource {
            entry.insert("subresource".into(), subresource.as_str().into());
        }
        Value::Object(entry).to_string()
    }

    /// Records the write of `new` over `live` (`None` for a create) by `manager`, and returns
    /// `new` with its `metadata.managedFields`.
    ///
    /// The managers come from `live`, unless `new` sets `metadata.managedFields` itself: an
    /// empty list (or one empty entry) clears them, and an object that has none is then not
    /// tracked until its next apply.
    ///
    /// # Errors
    /// As [`Updater::update`].
    pub fn update(
        &self,
        live: Option<&Value>,
        new: &Value,
        manager: &str,
        now: &str,
    ) -> Result<Value, Error> {
        let empty = Value::Object(Map::new());
        let live = live.unwrap_or(&empty);
        let mut managed = match new.pointer("/metadata/managedFields") {
            Some(Value::Array(entries)) if is_reset(entries) => Managed::default(),
            Some(Value::Array(entries)) if !entries.is_empty() => {
                Managed::decode(new).or_else(|_| Managed::decode(live))?
            }
            _ => Managed::decode(live).unwrap_or_default(),
        };
        let mut new = new.clone();
        strip_managed_fields(&mut new);
        let tracked = !managed.sets.is_empty() || live.pointer("/metadata/uid").is_none();
        if tracked {
            let live = without_managed_fields(live);
            self.record_update(&live, &new, manager, &mut managed, now)?;
            self.cap(&mut managed);
        }
        managed.encode(&mut new);
        Ok(new)
    }

    /// The `Update` chain below the decoding: the change is recorded as a fresh manager and
    /// merged into `manager`'s entry, with the metadata the server owns left out.
    fn record_update(
        &self,
        live: &Value,
        new: &Value,
        manager: &str,
        managed: &mut Managed,
        now: &str,
    ) -> Result<(), Error> {
        const CURRENT: &str = "current-operation";
        let identity = self.identity(manager, "Update");
        self.updater
            .update(live, new, &self.api_version, &mut managed.sets, CURRENT)?;
        strip_meta(&mut managed.sets, CURRENT);
        if let Some(vs) = managed.sets.remove(CURRENT) {
            let merged = match managed.sets.remove(&identity) {
                Some(previous) => vs.fields.union(&previous.fields),
                None => vs.fields,
            };
            managed.sets.insert(
                identity.clone(),
                VersionedSet::new(merged, vs.api_version, vs.applied),
            );
            managed.times.insert(identity, now.to_owned());
        }
        Ok(())
    }

    /// Server-side apply of `config` by `manager` over `live` (`None` when the object does
    /// not exist yet). Returns the new object with its `metadata.managedFields`; when the
    /// apply changes no field it is `live` with the new ownership.
    ///
    /// # Errors
    /// - [`Error::ApplyConflict`] without `force`, when the apply would change fields other
    ///   managers own, worded as the API server words it;
    /// - [`Error::InvalidPatch`] when the configuration sets `metadata.managedFields`, names
    ///   another API version, or does not fit the schema (a map where a list belongs, a list
    ///   item without its key, an item twice);
    /// - as [`Updater::apply`].
    pub fn apply(
        &self,
        live: Option<&Value>,
        config: &Value,
        manager: &str,
        force: bool,
        now: &str,
    ) -> Result<Value, Error> {
        if let Some(version) = config.get("apiVersion").and_then(Value::as_str)
            && version != self.api_version
        {
            return Err(Error::InvalidPatch {
                reason: format!(
                    "Incorrect version specified in apply patch. Specified patch version: {version}, expected: {}",
                    self.api_version
                ),
            });
        }
        if config.pointer("/metadata/managedFields").is_some() {
            return Err(Error::InvalidPatch {
                reason: "metadata.managedFields must be nil".to_owned(),
            });
        }
        let problems = smd::validate(config, self.updater.declared());
        if !problems.is_empty() {
            return Err(Error::InvalidPatch {
                reason: format!(
                    "failed to create typed patch object: {}",
                    problems.join(", ")
                ),
            });
        }
        let empty = Value::Object(Map::new());
        let live_value = live.unwrap_or(&empty);
        let mut managed = Managed::decode(live_value)?;
        let mut live = without_managed_fields(live_value);
        if managed.sets.is_empty() {
            // What the object holds before its first apply belongs to an Update manager.
            self.record_update(&empty, &live, BEFORE_FIRST_APPLY, &mut managed, now)?;
            self.cap(&mut managed);
            live = without_managed_fields(&live);
        }
        let identity = self.identity(manager, "Apply");
        let mut applied = self.updater.try_apply(
            &live,
            config,
            &self.api_version,
            &mut managed.sets,
            &identity,
            force,
        );
        // kubectl moving from client-side to server-side apply: the conflicts on fields its
        // last client-side apply set are its own, and the apply is forced over them.
        if manager == KUBECTL
            && let Err(Reassign::Conflicts(conflicts)) = &applied
            && let Some(allowed) = self.last_applied_fields(&live)
        {
            let remaining: Vec<(String, Node)> = conflicts
                .iter()
                .map(|(owner, set)| (owner.clone(), set.difference(&allowed)))
                .filter(|(_, set)| !set.is_empty())
                .collect();
            applied = if remaining.is_empty() {
                self.updater.try_apply(
                    &live,
                    config,
                    &self.api_version,
                    &mut managed.sets,
                    &identity,
                    true,
                )
            } else {
                Err(Reassign::Conflicts(remaining))
            };
        }
        let changed = match applied {
            Ok(changed) => changed,
            Err(Reassign::Conflicts(conflicts)) => {
                let conflicts = self
                    .updater
                    .list_conflicts(conflicts, config, &live)
                    .into_iter()
                    .map(|mut c| {
                        c.owner = print_manager(&c.manager);
                        c.manager = manager_name(&c.manager);
                        c
                    })
                    .collect::<Vec<_>>();
                return Err(Error::ApplyConflict {
                    message: conflicts_message(&conflicts),
                    conflicts,
                });
            }
            Err(Reassign::Error(e)) => return Err(e),
        };
        strip_meta(&mut managed.sets, &identity);
        let mut object = match changed {
            Some(mut object) => {
                managed.times.insert(identity, now.to_owned());
                drop_nulls(&mut object);
                object
            }
            None => live,
        };
        // kubectl's server-side apply keeps a client-side apply annotation up to date, so
        // that going back to client-side apply still works.
        if manager == KUBECTL && object.pointer(LAST_APPLIED_POINTER).is_some() {
            let mut last = config.clone();
            if let Some(annotations) = last
                .pointer_mut("/metadata/annotations")
                .and_then(Value::as_object_mut)
            {
                annotations.remove(crate::LAST_APPLIED);
            }
            if let Some(annotations) = object
                .pointer_mut("/metadata/annotations")
                .and_then(Value::as_object_mut)
            {
                // Written as the API server encodes it: compact, keys sorted.
                let text = crate::sorted_keys(&last).to_string();
                annotations.insert(crate::LAST_APPLIED.to_owned(), Value::from(text));
            }
        }
        managed.encode(&mut object);
        Ok(object)
    }

    /// The fields kubectl's last client-side apply set, from `live`'s
    /// `kubectl.kubernetes.io/last-applied-configuration`, if it has one that parses.
    fn last_applied_fields(&self, live: &Value) -> Option<Node> {
        let text = live.pointer(LAST_APPLIED_POINTER)?.as_str()?;
        let last: Value = serde_json::from_str(text).ok()?;
        last.is_object()
            .then(|| smd::field_set(&last, self.updater.declared()))
    }

    /// Merges the oldest `Update` managers past the cap into `ancient-changes`.
    fn cap(&self, managed: &mut Managed) {
        let mut updaters: Vec<String> = managed
            .sets
            .iter()
            .filter(|(_, vs)| !vs.applied)
            .map(|(name, _)| name.clone())
            .collect();
        if updaters.len() <= MAX_UPDATE_MANAGERS {
            return;
        }
        updaters.sort_by(|a, b| {
            let time = |m: &String| managed.times.get(m).cloned().unwrap_or_default();
            time(a).cmp(&time(b)).then_with(|| a.cmp(b))
        });
        let mut length = updaters.len();
        let mut first_of_version: Vec<String> = Vec::new();
        for manager in updaters {
            if length <= MAX_UPDATE_MANAGERS {
                break;
            }
            let Some(vs) = managed.sets.remove(&manager) else {
                continue;
            };
            let time = managed.times.remove(&manager);
            let bucket = FieldManager {
                updater: self.updater.clone(),
                api_version: vs.api_version.clone(),
                subresource: None,
            }
            .identity(ANCIENT_CHANGES, "Update");
            let fields = match managed.sets.remove(&bucket) {
                Some(previous) => vs.fields.union(&previous.fields),
                None => vs.fields,
            };
            if first_of_version.contains(&vs.api_version) {
                length -= 1;
            } else {
                first_of_version.push(vs.api_version.clone());
            }
            managed.sets.insert(
                bucket.clone(),
                VersionedSet::new(fields, vs.api_version, vs.applied),
            );
            match time {
                Some(time) => managed.times.insert(bucket, time),
                None => managed.times.remove(&bucket),
            };
        }
    }
}

/// The managers of an object with their times, by identity.
#[derive(Debug, Default)]
struct Managed {
    sets: ManagedSets,
    times: BTreeMap<String, String>,
}

impl Managed {
    fn decode(object: &Value) -> Result<Managed, Error> {
        let mut managed = Managed::default();
        let Some(entries) = object.pointer("/metadata/managedFields") else {
            return Ok(managed);
        };
        let Value::Array(entries) = entries else {
            return Err(Error::InvalidPatch {
                reason: "metadata.managedFields is not a list".to_owned(),
            });
        };
        for entry in entries {
            let text = |field: &str| entry.get(field).and_then(Value::as_str).unwrap_or("");
            let operation = text("operation");
            if operation != "Apply" && operation != "Update" {
                return Err(Error::InvalidPatch {
                    reason: format!("managedFields: unknown operation {operation:?}"),
                });
            }
            let mut identity = Map::new();
            identity.insert("manager".into(), text("manager").into());
            identity.insert("operation".into(), operation.into());
            if operation == "Update" && !text("apiVersion").is_empty() {
                identity.insert("apiVersion".into(), text("apiVersion").into());
            }
            if !text("subresource").is_empty() {
                identity.insert("subresource".into(), text("subresource").into());
            }
            let identity = Value::Object(identity).to_string();
            let fields = match entry.get("fieldsV1") {
                Some(fields) => FieldSet::from_fields_v1(fields)?,
                None => FieldSet::new(),
            };
            let set = match managed.sets.remove(&identity) {
                Some(previous) => previous.fields.union(&fields),
                None => fields,
            };
            managed.sets.insert(
                identity.clone(),
                VersionedSet::new(set, text("apiVersion"), operation == "Apply"),
            );
            if !text("time").is_empty() {
                managed.times.insert(identity, text("time").to_owned());
            }
        }
        Ok(managed)
    }

    /// Writes the managers into `object`'s `metadata.managedFields`, in the API server's
    /// order (Apply before Update, then by time, manager, API version and subresource), or
    /// removes the field when there are none.
    fn encode(&self, object: &mut Value) {
        let mut entries: Vec<(Value, [String; 5])> = Vec::new();
        for (identity, vs) in &self.sets {
            let id: Value = serde_json::from_str(identity).unwrap_or(Value::Null);
            let text = |field: &str| {
                id.get(field)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            let time = self.times.get(identity).cloned();
            let mut entry = Map::new();
            entry.insert("manager".into(), text("manager").into());
            entry.insert("operation".into(), text("operation").into());
            entry.insert("apiVersion".into(), vs.api_version.as_str().into());
            if let Some(time) = &time {
                entry.insert("time".into(), time.as_str().into());
            }
            entry.insert("fieldsType".into(), "FieldsV1".into());
            entry.insert("fieldsV1".into(), vs.fields.to_fields_v1());
            if !text("subresource").is_empty() {
                entry.insert("subresource".into(), text("subresource").into());
            }
            let key = [
                text("operation"),
                time.unwrap_or_default(),
                text("manager"),
                vs.api_version.clone(),
                text("subresource"),
            ];
            entries.push((Value::Object(entry), key));
        }
        entries.sort_by(|a, b| a.1.cmp(&b.1));
        let Some(metadata) = object.as_object_mut().map(|o| {
            o.entry("metadata")
                .or_insert_with(|| Value::Object(Map::new()))
        }) else {
            return;
        };
        let Some(metadata) = metadata.as_object_mut() else {
            return;
        };
        if entries.is_empty() {
            metadata.remove("managedFields");
        } else {
            metadata.insert(
                "managedFields".into(),
                Value::Array(entries.into_iter().map(|(e, _)| e).collect()),
            );
        }
    }
}

/// True for `managedFields: []` or `[{}]`, which a client sends to clear them.
fn is_reset(entries: &[Value]) -> bool {
    match entries {
        [] => true,
        [one] => one.as_object().is_some_and(Map::is_empty),
        _ => false,
    }
}

fn strip_managed_fields(object: &mut Value) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
}

fn without_managed_fields(object: &Value) -> Value {
    let mut object = object.clone();
    strip_managed_fields(&mut object);
    object
}

/// Takes from `manager`'s set the fields the API server owns: `apiVersion`, `kind`, the
/// `metadata` node itself and its server-set fields (not its labels or annotations).
fn strip_meta(sets: &mut ManagedSets, manager: &str) {
    let Some(vs) = sets.get_mut(manager) else {
        return;
    };
    let mut strip = FieldSet::new();
    strip.insert(&["f:apiVersion"]);
    strip.insert(&["f:kind"]);
    strip.insert(&["f:metadata"]);
    for field in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        strip.insert(&["f:metadata", &format!("f:{field}")]);
    }
    vs.fields = vs.fields.difference(&strip);
    if vs.fields.is_empty() {
        sets.remove(manager);
    }
}

/// Removes `null` members of maps, as decoding into the API's types does.
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

fn manager_name(identity: &str) -> String {
    serde_json::from_str::<Value>(identity)
        .ok()
        .and_then(|id| id.get("manager").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| identity.to_owned())
}

/// How the API server names a manager in a conflict: `"kubectl"`, `"hpa" using apps/v1`,
/// `"kcm" with subresource "status" using apps/v1`.
fn print_manager(identity: &str) -> String {
    let Ok(id) = serde_json::from_str::<Value>(identity) else {
        return format!("{identity:?}");
    };
    let text = |field: &str| id.get(field).and_then(Value::as_str).unwrap_or("");
    let mut out = format!("{:?}", text("manager"));
    if !text("subresource").is_empty() {
        out.push_str(&format!(" with subresource {:?}", text("subresource")));
    }
    if text("operation") == "Update" {
        out.push_str(&format!(" using {}", text("apiVersion")));
    }
    out
}
