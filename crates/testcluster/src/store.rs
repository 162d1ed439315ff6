//! The objects the cluster holds, and the verbs on them.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use serde_json::{Map, Value, json};

use crate::custom;
use crate::defaults;
use crate::fields::{self, FieldValidation, KindSchema, Schemas, Writer};
use crate::kinds::{Kind, built_in};
use crate::meta;
use crate::select::{FieldSelector, LabelSelector};
use crate::status::ApiError;

/// Namespaces every cluster starts with.
const INITIAL_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// What a write asks beyond its object.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteOptions {
    /// `dryRun=All`: everything but storing.
    pub dry_run: bool,
    /// What a delete does to the objects the deleted one owns.
    pub propagation: Propagation,
    /// Who writes, for `metadata.managedFields`.
    pub writer: Writer,
    /// What to do with fields the kind's schema does not declare.
    pub validation: FieldValidation,
}

/// `propagationPolicy`: what happens to an object's dependents (objects whose
/// `ownerReferences` name it) when it is deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Propagation {
    /// The object goes at once, its dependents after it.
    #[default]
    Background,
    /// The dependents go first; the object waits for them under the `foregroundDeletion`
    /// finalizer.
    Foreground,
    /// The dependents stay, with their reference to the object removed.
    Orphan,
}

/// How many events the cluster remembers for watches to resume from.
const EVENTS_KEPT: usize = 10_000;

/// What a write did to an object, as a watch reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Added,
    Modified,
    Deleted,
}

impl Change {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Change::Added => "ADDED",
            Change::Modified => "MODIFIED",
            Change::Deleted => "DELETED",
        }
    }
}

/// One write, as watches see it.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub revision: u64,
    group: String,
    plural: String,
    pub change: Change,
    pub object: Value,
}

/// A list request's parameters.
#[derive(Debug, Default)]
pub(crate) struct ListOptions {
    pub labels: Option<LabelSelector>,
    pub fields: Option<FieldSelector>,
    pub limit: Option<usize>,
    pub continue_from: Option<String>,
}

/// The cluster's state.
#[derive(Debug)]
pub(crate) struct Store {
    kinds: Vec<Kind>,
    /// Objects by (group, plural), then by (namespace, name).
    objects: Tables,
    /// The last resourceVersion given out.
    revision: u64,
    /// The latest writes, oldest first.
    events: std::collections::VecDeque<Event>,
    /// How many of them are kept.
    events_kept: usize,
    /// The last Service cluster IP given out, as the low 16 bits of 10.96.0.0/16.
    service_ips: u32,
    /// Where each object is, by uid: (group, plural, namespace, name).
    by_uid: HashMap<String, Place>,
    /// What each owner uid owns, by its dependents' `ownerReferences`.
    owned: HashMap<String, std::collections::BTreeSet<Place>>,
    /// The schemas of custom kinds, for server-side apply and unknown fields.
    schemas: Schemas,
    /// Warnings raised by the request being served, for its `Warning` headers.
    warnings: Vec<String>,
}

/// Objects by (group, plural), then by (namespace, name).
type Tables = HashMap<(String, String), BTreeMap<(String, String), Value>>;

/// Where an object is: (group, plural, namespace, name).
type Place = (String, String, String, String);

impl Store {
    pub(crate) fn new() -> Store {
        let mut store = Store {
            kinds: built_in(),
            objects: HashMap::new(),
            revision: 0,
            events: std::collections::VecDeque::new(),
            events_kept: EVENTS_KEPT,
            service_ips: 9,
            by_uid: HashMap::new(),
            owned: HashMap::new(),
            schemas: Schemas::default(),
            warnings: Vec::new(),
        };
        for name in INITIAL_NAMESPACES {
            let namespace = json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name},
            });
            let kind = store.kind("", "namespaces").cloned();
            if let Some(kind) = kind {
                // The initial namespaces are valid by construction.
                let _ = store.create(&kind, None, namespace, &WriteOptions::default());
            }
        }
        store
    }

    /// Everything the cluster holds, to save: the objects and the last resourceVersion.
    pub(crate) fn snapshot(&self) -> Value {
        let mut objects = Vec::new();
        for kind in &self.kinds {
            if let Some(table) = self.table(kind) {
                objects.extend(table.values().cloned());
            }
        }
        json!({"revision": self.revision, "objects": objects})
    }

    /// A store holding what `snapshot` saved.
    pub(crate) fn restore(snapshot: &Value) -> Result<Store, String> {
        let mut store = Store {
            kinds: built_in(),
            objects: HashMap::new(),
            revision: snapshot["revision"]
                .as_u64()
                .ok_or("the saved state has no revision")?,
            events: std::collections::VecDeque::new(),
            events_kept: EVENTS_KEPT,
            service_ips: 9,
            by_uid: HashMap::new(),
            owned: HashMap::new(),
            schemas: Schemas::default(),
            warnings: Vec::new(),
        };
        let objects: Vec<&Value> = snapshot["objects"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        // Built-in kinds first: the CustomResourceDefinitions among them serve the rest.
        for pass in [false, true] {
            if pass {
                let crds: Vec<Value> = store
                    .kind("apiextensions.k8s.io", "customresourcedefinitions")
                    .and_then(|k| store.table(k))
                    .map(|t| t.values().cloned().collect())
                    .unwrap_or_default();
                for crd in &crds {
                    let served = store.crd_kinds(crd);
                    store.kinds.extend(served);
                }
            }
            for object in &objects {
                let (group, _) = text(object, "/apiVersion")
                    .rsplit_once('/')
                    .unwrap_or(("", text(object, "/apiVersion")));
                let found = store
                    .kinds
                    .iter()
                    .find(|k| k.group == group && k.kind == text(object, "/kind"))
                    .cloned();
                let kind = match (found, pass) {
                    (Some(kind), _) => kind,
                    (None, false) => continue,
                    (None, true) => {
                        return Err(format!(
                            "the saved state holds a {} {}, which is not served",
                            text(object, "/apiVersion"),
                            text(object, "/kind")
                        ));
                    }
                };
                let builtin = built_in()
                    .iter()
                    .any(|b| b.group == kind.group && b.plural == kind.plural);
                if builtin == pass {
                    continue;
                }
                let key = (
                    text(object, "/metadata/namespace").to_owned(),
                    text(object, "/metadata/name").to_owned(),
                );
                store.index(&kind, &key, object, true);
                store.table_mut(&kind).insert(key, (*object).clone());
            }
        }
        Ok(store)
    }

    /// Every object of `kind`.
    pub(crate) fn objects(&self, kind: &Kind) -> Vec<Value> {
        self.table(kind)
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The kinds served, in discovery order.
    pub(crate) fn kinds(&self) -> &[Kind] {
        &self.kinds
    }

    /// The kind served at `group`/`plural`.
    pub(crate) fn kind(&self, group: &str, plural: &str) -> Option<&Kind> {
        self.kinds
            .iter()
            .find(|k| k.group == group && k.plural == plural)
    }

    /// The kind served at `group`/`version`/`plural`.
    pub(crate) fn kind_at(&self, group: &str, version: &str, plural: &str) -> Option<&Kind> {
        self.kinds
            .iter()
            .find(|k| k.group == group && k.version == version && k.plural == plural)
    }

    /// What a write does beyond storing: a CustomResourceDefinition registers its kinds and
    /// is established. The object as it ends.
    fn after_write(&mut self, kind: &Kind, object: Value) -> Value {
        if !(kind.kind == "CustomResourceDefinition" && kind.group == "apiextensions.k8s.io") {
            return object;
        }
        let served = self.crd_kinds(&object);
        for new in &served {
            self.kinds.retain(|k| {
                !(k.group == new.group && k.plural == new.plural && k.version == new.version)
            });
        }
        // Versions no longer served go; their objects stay for the versions that remain.
        let (group, plural) = (
            text(&object, "/spec/group").to_owned(),
            text(&object, "/spec/names/plural").to_owned(),
        );
        self.kinds.retain(|k| {
            !(k.group == group && k.plural == plural)
                || served.iter().any(|s| s.version == k.version)
        });
        self.kinds.extend(served);
        let mut established = object.clone();
        let storage = object
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|v| v["storage"] == json!(true))
            .filter_map(|v| v["name"].as_str())
            .map(|v| json!(v))
            .collect::<Vec<_>>();
        let now = meta::now();
        established["status"] = json!({
            "acceptedNames": object.pointer("/spec/names").cloned().unwrap_or(Value::Null),
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                 "message": "no conflicts found", "lastTransitionTime": now},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted", "lastTransitionTime": now},
            ],
            "storedVersions": storage,
        });
        if established == object {
            return object;
        }
        // The API server itself writes the definition's status.
        let established = self.record(
            kind,
            Some("status"),
            Some(&object),
            established,
            &Writer::default(),
        );
        let key = (String::new(), text(&object, "/metadata/name").to_owned());
        self.put(kind, key, established)
    }

    /// The kinds a CustomResourceDefinition serves: one per served version.
    fn crd_kinds(&self, crd: &Value) -> Vec<Kind> {
        let names = |field: &str| text(crd, &format!("/spec/names/{field}")).to_owned();
        let kind = names("kind");
        let plural = names("plural");
        let singular = match names("singular") {
            s if s.is_empty() => kind.to_lowercase(),
            s => s,
        };
        let short_names: Vec<String> = crd
            .pointer("/spec/names/shortNames")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect();
        crd.pointer("/spec/versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|v| v["served"] == json!(true))
            .filter_map(|v| {
                Some(Kind {
                    group: text(crd, "/spec/group").to_owned(),
                    version: v["name"].as_str()?.to_owned(),
                    kind: kind.clone(),
                    plural: plural.clone(),
                    singular: singular.clone(),
                    namespaced: text(crd, "/spec/scope") == "Namespaced",
                    short_names: short_names.clone(),
                    status: v.pointer("/subresources/status").is_some(),
                    generation: true,
                })
            })
            .collect()
    }

    /// The current resourceVersion of the whole cluster.
    pub(crate) fn revision(&self) -> u64 {
        self.revision
    }

    fn next_revision(&mut self) -> String {
        self.revision += 1;
        self.revision.to_string()
    }

    /// Stores `object` under `key` with a new resourceVersion, as an `ADDED` or `MODIFIED`
    /// event; the object as stored.
    fn put(&mut self, kind: &Kind, key: (String, String), mut object: Value) -> Value {
        object["metadata"]["resourceVersion"] = json!(self.next_revision());
        let previous = self.table_mut(kind).insert(key.clone(), object.clone());
        if let Some(previous) = &previous {
            self.index(kind, &key, previous, false);
        }
        self.index(kind, &key, &object, true);
        let change = if previous.is_some() {
            Change::Modified
        } else {
            Change::Added
        };
        self.emit(kind, change, &object);
        object
    }

    /// Removes the object at `key` with a new resourceVersion, as a `DELETED` event; the
    /// object as it was last, with that resourceVersion.
    fn remove(&mut self, kind: &Kind, key: &(String, String)) -> Option<Value> {
        let mut object = self.table_mut(kind).remove(key)?;
        self.index(kind, key, &object, false);
        object["metadata"]["resourceVersion"] = json!(self.next_revision());
        self.emit(kind, Change::Deleted, &object);
        // An owner deleted in the foreground goes when its last dependent has gone.
        let owners: Vec<String> = object
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r["uid"].as_str().map(str::to_owned))
            .collect();
        for uid in owners {
            self.release_foreground(&uid);
        }
        Some(object)
    }

    /// Lets the owner `uid`, waiting under `foregroundDeletion`, go once nothing it owns is left.
    fn release_foreground(&mut self, uid: &str) {
        if !self.dependents(uid).is_empty() {
            return;
        }
        let found = self
            .by_uid
            .get(uid)
            .and_then(|(group, plural, namespace, name)| {
                let kind = self.kind(group, plural)?.clone();
                let key = (namespace.clone(), name.clone());
                let owner = self.table(&kind)?.get(&key)?.clone();
                Some((kind, key, owner))
            });
        let Some((kind, key, mut owner)) = found else {
            return;
        };
        let Some(Value::Array(finalizers)) = owner["metadata"].get_mut("finalizers") else {
            return;
        };
        if !finalizers.contains(&json!("foregroundDeletion")) {
            return;
        }
        finalizers.retain(|f| f != "foregroundDeletion");
        if finalizers.is_empty() {
            self.remove(&kind, &key);
            self.finish_namespaces();
        } else {
            self.put(&kind, key, owner);
        }
    }

    fn emit(&mut self, kind: &Kind, change: Change, object: &Value) {
        self.events.push_back(Event {
            revision: self.revision,
            group: kind.group.clone(),
            plural: kind.plural.clone(),
            change,
            object: object.clone(),
        });
        while self.events.len() > self.events_kept {
            self.events.pop_front();
        }
    }

    /// The events of `kind` after `revision`, oldest first, or `Err` with the oldest
    /// revision still known when `revision` is older than that (the watch must list again).
    pub(crate) fn events_after(&self, kind: &Kind, revision: u64) -> Result<Vec<&Event>, u64> {
        let oldest = self.events.front().map_or(self.revision, |e| e.revision);
        if revision + 1 < oldest {
            return Err(oldest);
        }
        Ok(self
            .events
            .iter()
            .filter(|e| e.revision > revision && e.group == kind.group && e.plural == kind.plural)
            .collect())
    }

    fn table(&self, kind: &Kind) -> Option<&BTreeMap<(String, String), Value>> {
        self.objects.get(&(kind.group.clone(), kind.plural.clone()))
    }

    /// Adds `object` (at `key`) to the uid and owner indexes, or takes it out.
    fn index(&mut self, kind: &Kind, key: &(String, String), object: &Value, add: bool) {
        let place = (
            kind.group.clone(),
            kind.plural.clone(),
            key.0.clone(),
            key.1.clone(),
        );
        let uid = text(object, "/metadata/uid");
        if add {
            self.by_uid.insert(uid.to_owned(), place.clone());
        } else {
            self.by_uid.remove(uid);
        }
        let owners = object
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r["uid"].as_str());
        for owner in owners {
            if add {
                self.owned
                    .entry(owner.to_owned())
                    .or_default()
                    .insert(place.clone());
            } else if let Some(set) = self.owned.get_mut(owner) {
                set.remove(&place);
                if set.is_empty() {
                    self.owned.remove(owner);
                }
            }
        }
    }

    fn table_mut(&mut self, kind: &Kind) -> &mut BTreeMap<(String, String), Value> {
        self.objects
            .entry((kind.group.clone(), kind.plural.clone()))
            .or_default()
    }

    /// The object `name` of `kind` in `namespace`.
    pub(crate) fn get(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let mut object = self
            .table(kind)
            .and_then(|t| t.get(&(namespace.unwrap_or_default().to_owned(), name.to_owned())))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&kind.group, &kind.plural, name))?;
        // Custom resources are served as every version, unconverted.
        object["apiVersion"] = json!(kind.api_version());
        Ok(object)
    }

    /// The objects of `kind` (in `namespace`, or everywhere), as a `…List`.
    pub(crate) fn list(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<Value, ApiError> {
        let (items, continue_token) = self.select(kind, namespace, options)?;
        Ok(json!({
            "apiVersion": kind.api_version(),
            "kind": format!("{}List", kind.kind),
            "metadata": self.list_metadata(continue_token),
            "items": items.into_iter().map(list_item).collect::<Vec<_>>(),
        }))
    }

    /// [`list`](Store::list) written straight to JSON text, without copying the objects:
    /// what a list request is answered with.
    pub(crate) fn list_text(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<String, ApiError> {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            #[serde(rename = "apiVersion")]
            api_version: String,
            kind: String,
            metadata: Value,
            items: Vec<Item<'a>>,
        }
        let (items, continue_token) = self.select(kind, namespace, options)?;
        let body = Body {
            api_version: kind.api_version(),
            kind: format!("{}List", kind.kind),
            metadata: self.list_metadata(continue_token),
            items: items.into_iter().map(Item).collect(),
        };
        serde_json::to_string(&body).map_err(|e| ApiError::internal(e.to_string()))
    }

    fn list_metadata(&self, continue_token: Option<String>) -> Value {
        let mut metadata = json!({"resourceVersion": self.revision.to_string()});
        if let Some(token) = continue_token {
            metadata["continue"] = json!(token);
        }
        metadata
    }

    /// The objects a list returns, in order, and the token to go on after them when
    /// `limit` cut the list short.
    fn select(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<(Vec<&Value>, Option<String>), ApiError> {
        let Some(table) = self.table(kind) else {
            return Ok((Vec::new(), None));
        };
        let start = match &options.continue_from {
            Some(token) => Some(decode_continue(token)?),
            None => None,
        };
        let mut items = Vec::new();
        let mut last: Option<(&str, &str)> = None;
        let mut more = false;
        // Objects are kept by (namespace, name): start after the token, or at the namespace.
        let lower = match (&start, namespace) {
            (Some(after), _) => Bound::Excluded(after.clone()),
            (None, Some(ns)) => Bound::Included((ns.to_owned(), String::new())),
            (None, None) => Bound::Unbounded,
        };
        for ((ns, name), object) in table.range((lower, Bound::Unbounded)) {
            if let Some(wanted) = namespace
                && wanted != ns
            {
                if ns.as_str() > wanted {
                    break;
                }
                continue;
            }
            if let Some((start_ns, start_name)) = &start
                && (ns, name) <= (start_ns, start_name)
            {
                continue;
            }
            if options.labels.as_ref().is_some_and(|s| !s.matches(object)) {
                continue;
            }
            if options.fields.as_ref().is_some_and(|s| !s.matches(object)) {
                continue;
            }
            if options
                .limit
                .is_some_and(|limit| limit > 0 && items.len() == limit)
            {
                more = true;
                break;
            }
            items.push(object);
            last = Some((ns, name));
        }
        // The token names the last item returned, so listing goes on after it.
        let token = match (more, last) {
            (true, Some((ns, name))) => Some(encode_continue(ns, name)),
            (true, None) => Some(String::new()),
            _ => None,
        };
        Ok((items, token))
    }

    /// Creates `object` as `kind` in `namespace`.
    pub(crate) fn create(
        &mut self,
        kind: &Kind,
        namespace: Option<&str>,
        mut object: Value,
        options: &WriteOptions,
    ) -> Result<Value, ApiError> {
        check_type(kind, &object)?;
        self.check_fields(kind, &mut object, options.validation, false)?;
        let namespace = self.check_namespace(kind, namespace, &object)?;
        let meta = metadata_mut(&mut object)?;
        let mut name = meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if name.is_empty() {
            match meta.get("generateName").and_then(Value::as_str) {
                Some(prefix) if !prefix.is_empty() => {
                    name = format!("{prefix}{}", meta::name_suffix());
                }
                _ => {
                    return Err(ApiError::invalid(
                        &kind.group,
                        &kind.kind,
                        "",
                        vec![(
                            "metadata.name".to_owned(),
                            "FieldValueRequired".to_owned(),
                            "Required value: name or generateName is required".to_owned(),
                        )],
                    ));
                }
            }
        }
        meta.insert("name".to_owned(), json!(name));
        if let Some(ns) = &namespace {
            meta.insert("namespace".to_owned(), json!(ns));
        }
        for field in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "selfLink",
        ] {
            meta.remove(field);
        }
        meta.insert("uid".to_owned(), json!(meta::uid()));
        meta.insert("creationTimestamp".to_owned(), json!(meta::now()));
        if kind.generation {
            meta.insert("generation".to_owned(), json!(1));
        }
        let mut next_ip = || {
            self.service_ips += 1;
            format!(
                "10.96.{}.{}",
                (self.service_ips >> 8) & 0xff,
                self.service_ips & 0xff
            )
        };
        defaults::apply(kind, &mut object, Some(&mut next_ip));
        let mut object = self.record(kind, None, None, object, &options.writer);
        self.check_custom(kind, &mut object, &name)?;
        validate(kind, &object)?;
        let key = (namespace.clone().unwrap_or_default(), name.clone());
        if self.table(kind).is_some_and(|t| t.contains_key(&key)) {
            return Err(ApiError::already_exists(&kind.group, &kind.plural, &name));
        }
        let mut object = object;
        if kind.kind == "Namespace" {
            object["spec"] = json!({"finalizers": ["kubernetes"]});
            object["status"] = json!({"phase": "Active"});
        }
        if options.dry_run {
            return Ok(object);
        }
        let object = self.put(kind, key, object);
        Ok(self.after_write(kind, object))
    }

    /// Replaces the object `name` with `object` (or, for `status`, only its status).
    pub(crate) fn update(
        &mut self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        mut object: Value,
        subresource: Option<&str>,
        options: &WriteOptions,
    ) -> Result<Value, ApiError> {
        check_type(kind, &object)?;
        self.check_fields(kind, &mut object, options.validation, false)?;
        let current = self.get(kind, namespace, name)?;
        let given_name = text(&object, "/metadata/name");
        if !given_name.is_empty() && given_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({given_name}) does not match the name on the URL ({name})"
            )));
        }
        if let Some(ns) = namespace {
            let given = text(&object, "/metadata/namespace");
            if !given.is_empty() && given != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        let given_version = text(&object, "/metadata/resourceVersion");
        if !given_version.is_empty() && given_version != text(&current, "/metadata/resourceVersion")
        {
            return Err(ApiError::conflict(&kind.group, &kind.plural, name));
        }
        match subresource {
            Some("status") => {
                // Only the status changes.
                let status = object.get("status").cloned();
                object = current.clone();
                match status {
                    Some(status) => object["status"] = status,
                    None => {
                        if let Value::Object(map) = &mut object {
                            map.remove("status");
                        }
                    }
                }
            }
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "the subresource {other:?} is not served"
                )));
            }
            None => {
                if kind.status {
                    match current.get("status") {
                        Some(status) => object["status"] = status.clone(),
                        None => {
                            if let Value::Object(map) = &mut object {
                                map.remove("status");
                            }
                        }
                    }
                }
            }
        }
        let meta = metadata_mut(&mut object)?;
        meta.insert("name".to_owned(), json!(name));
        if let Some(ns) = namespace {
            meta.insert("namespace".to_owned(), json!(ns));
        }
        // What the server owns stays as it was.
        for field in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match current["metadata"].get(field) {
                Some(value) => {
                    meta.insert(field.to_owned(), value.clone());
                }
                None => {
                    meta.remove(field);
                }
            }
        }
        defaults::apply(kind, &mut object, None);
        let mut object = self.record(kind, subresource, Some(&current), object, &options.writer);
        self.check_custom(kind, &mut object, name)?;
        defaults::check_immutable(kind, &current, &object)?;
        if kind.generation && spec_changed(&current, &object) {
            let generation = current["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            object["metadata"]["generation"] = json!(generation);
        }
        validate(kind, &object)?;
        if kind.kind == "Namespace"
            && let Some(spec) = current.get("spec")
        {
            object["spec"] = spec.clone();
        }
        object["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
        if object == current || options.dry_run {
            // Nothing changed: no new resourceVersion, as the API server does.
            return Ok(object);
        }
        let key = (namespace.unwrap_or_default().to_owned(), name.to_owned());
        let finished = object["metadata"].get("deletionTimestamp").is_some()
            && object["metadata"]
                .get("finalizers")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty);
        if finished {
            // The last finalizer is gone from an object being deleted: it goes.
            let object = self.put(kind, key.clone(), object);
            self.remove(kind, &key);
            self.collect_dependents(text(&object, "/metadata/uid"));
            self.finish_namespaces();
            Ok(object)
        } else {
            let object = self.put(kind, key, object);
            Ok(self.after_write(kind, object))
        }
    }

    /// Checks a custom object against its definition's schema: `422 Invalid` with a cause
    /// per failure.
    fn check_custom(&self, kind: &Kind, object: &mut Value, name: &str) -> Result<(), ApiError> {
        let Some(schema) = definition(&self.objects, kind)
            .and_then(|crd| custom::version_schema(crd, &kind.version))
        else {
            return Ok(());
        };
        let causes = custom::validate(schema, object);
        if causes.is_empty() {
            return Ok(());
        }
        Err(ApiError::invalid(&kind.group, &kind.kind, name, causes))
    }

    /// The schema a custom kind's definition gives its served version, if it is a custom kind
    /// with one.
    pub(crate) fn custom_schema(&self, kind: &Kind) -> Option<Value> {
        definition(&self.objects, kind)
            .and_then(|crd| custom::version_schema(crd, &kind.version))
            .cloned()
    }

    /// The schema `kind`'s objects are merged and checked with: built in, or its definition's.
    fn kind_schema(&mut self, kind: &Kind) -> KindSchema {
        let crd = definition(&self.objects, kind);
        self.schemas.of(kind, crd)
    }

    /// The warnings the last request raised, taken.
    pub(crate) fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// Drops the fields of `object` its kind's schema does not declare, as decoding it into
    /// the kind's type (or pruning by a structural schema) does, and warns of them or refuses
    /// the write, as `validation` says. `applied` words the refusal as server-side apply does.
    fn check_fields(
        &mut self,
        kind: &Kind,
        object: &mut Value,
        validation: FieldValidation,
        applied: bool,
    ) -> Result<(), ApiError> {
        let schema = self.kind_schema(kind);
        let ty = match &schema {
            KindSchema::BuiltIn(ty) => Some(*ty),
            KindSchema::Custom(schema) => schema.for_kind(&kind.group, &kind.version, &kind.kind),
            KindSchema::None => None,
        };
        let Some(ty) = ty else {
            return Ok(());
        };
        let unknown = fields::drop_unknown_fields(ty, object);
        if unknown.is_empty() {
            return Ok(());
        }
        match validation {
            FieldValidation::Strict if applied => Err(ApiError::bad_request(
                unknown
                    .iter()
                    .map(|p| format!(".{p}: field not declared in schema"))
                    .collect::<Vec<_>>()
                    .join(", "),
            )),
            FieldValidation::Strict => Err(ApiError::bad_request(format!(
                "strict decoding error: {}",
                unknown
                    .iter()
                    .map(|p| format!("unknown field {p:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            FieldValidation::Warn => {
                self.warnings
                    .extend(unknown.iter().map(|p| format!("unknown field {p:?}")));
                Ok(())
            }
            FieldValidation::Ignore => Ok(()),
        }
    }

    /// `object` with `metadata.managedFields` recording an update of `live` (`None`: a
    /// create) by the writer's manager. As the API server does, a write whose managed fields
    /// cannot be computed goes through with none.
    fn record(
        &mut self,
        kind: &Kind,
        subresource: Option<&str>,
        live: Option<&Value>,
        mut object: Value,
        writer: &Writer,
    ) -> Value {
        let Writer::Manager(manager) = writer else {
            return object;
        };
        let schema = self.kind_schema(kind);
        let fields = fields::field_manager(kind, &schema, subresource);
        match fields.update(live, &object, manager, &meta::now()) {
            Ok(recorded) => recorded,
            Err(_) => {
                if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                    metadata.remove("managedFields");
                }
                object
            }
        }
    }

    /// Server-side apply of `config` to the object `name` by `manager`: creates the object
    /// when it does not exist (`201`), else merges into it (`200`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn apply(
        &mut self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        config: Value,
        manager: &str,
        force: bool,
        subresource: Option<&str>,
        options: &WriteOptions,
    ) -> Result<(u16, Value), ApiError> {
        let mut config = config;
        check_type(kind, &config)?;
        self.check_fields(kind, &mut config, options.validation, true)?;
        let given_name = text(&config, "/metadata/name");
        if given_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({given_name}) does not match the name on the URL ({name})"
            )));
        }
        if let Some(ns) = namespace {
            let given = text(&config, "/metadata/namespace");
            if !given.is_empty() && given != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        let current = match self.get(kind, namespace, name) {
            Ok(current) => Some(current),
            Err(e) if e.code == 404 && subresource.is_none() => None,
            Err(e) => return Err(e),
        };
        let schema = self.kind_schema(kind);
        let applied = fields::field_manager(kind, &schema, subresource)
            .apply(current.as_ref(), &config, manager, force, &meta::now())
            .map_err(|e| fields::apply_error(kind, name, e))?;
        let options = WriteOptions {
            writer: Writer::Applied,
            ..options.clone()
        };
        match current {
            None => self
                .create(kind, namespace, applied, &options)
                .map(|v| (201, v)),
            Some(_) => self
                .update(kind, namespace, name, applied, subresource, &options)
                .map(|v| (200, v)),
        }
    }

    /// Deletes the object `name`: at once, or, while it has finalizers, by marking it.
    pub(crate) fn delete(
        &mut self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        options: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let mut object = self.get(kind, namespace, name)?;
        if options.dry_run {
            return Ok(object);
        }
        let key = (namespace.unwrap_or_default().to_owned(), name.to_owned());
        let has_finalizers = object["metadata"]
            .get("finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        if kind.kind == "Namespace" {
            return Ok(self.delete_namespace(kind, name, object));
        }
        if kind.kind == "CustomResourceDefinition" && kind.group == "apiextensions.k8s.io" {
            // Its objects go with it, then the kinds it served.
            for served in self.crd_kinds(&object) {
                if let Some(table) = self
                    .objects
                    .get(&(served.group.clone(), served.plural.clone()))
                {
                    let keys: Vec<(String, String)> = table.keys().cloned().collect();
                    for key in keys {
                        self.remove(&served, &key);
                    }
                }
                self.kinds
                    .retain(|k| !(k.group == served.group && k.plural == served.plural));
            }
        }
        let uid = text(&object, "/metadata/uid").to_owned();
        match options.propagation {
            Propagation::Orphan => self.orphan(&uid),
            Propagation::Foreground => {
                // The dependents first; the object waits for them, marked.
                let mut marked = object.clone();
                marked["metadata"]["deletionTimestamp"] = json!(meta::now());
                marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                let finalizers = marked["metadata"]
                    .as_object_mut()
                    .map(|m| m.entry("finalizers").or_insert_with(|| json!([])));
                if let Some(Value::Array(finalizers)) = finalizers
                    && !finalizers.contains(&json!("foregroundDeletion"))
                {
                    finalizers.push(json!("foregroundDeletion"));
                }
                object = self.put(kind, key.clone(), marked);
                self.collect_dependents(&uid);
                // With nothing left to wait for (or nothing owned at all), it goes now.
                self.release_foreground(&uid);
                if let Some(current) = self.table(kind).and_then(|t| t.get(&key)) {
                    object = current.clone();
                }
                return Ok(object);
            }
            Propagation::Background => {}
        }
        if has_finalizers {
            if object["metadata"].get("deletionTimestamp").is_none() {
                object["metadata"]["deletionTimestamp"] = json!(meta::now());
                object["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                object = self.put(kind, key, object);
            }
            return Ok(object);
        }
        let removed = self.remove(kind, &key).unwrap_or(object);
        if options.propagation == Propagation::Background {
            self.collect_dependents(&uid);
        }
        self.finish_namespaces();
        Ok(removed)
    }

    /// The objects whose `ownerReferences` name `uid`: (kind, namespace, name).
    fn dependents(&self, uid: &str) -> Vec<(Kind, String, String)> {
        self.owned
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|(group, plural, namespace, name)| {
                let kind = self.kind(group, plural)?.clone();
                Some((kind, namespace.clone(), name.clone()))
            })
            .collect()
    }

    /// Deletes the dependents of `uid` (each in the background, so theirs go too), as the
    /// garbage collector does once their owner is gone.
    fn collect_dependents(&mut self, uid: &str) {
        for (kind, namespace, name) in self.dependents(uid) {
            let namespace = (!namespace.is_empty()).then_some(namespace);
            // A dependent already gone, or held by its finalizers, is fine.
            let _ = self.delete(&kind, namespace.as_deref(), &name, &WriteOptions::default());
        }
    }

    /// Removes the references to `uid` from its dependents.
    fn orphan(&mut self, uid: &str) {
        for (kind, namespace, name) in self.dependents(uid) {
            let key = (namespace, name);
            let Some(mut object) = self.table(&kind).and_then(|t| t.get(&key)).cloned() else {
                continue;
            };
            if let Some(Value::Array(refs)) = object["metadata"].get_mut("ownerReferences") {
                refs.retain(|r| r["uid"] != json!(uid));
            }
            self.put(&kind, key, object);
        }
    }

    /// Marks a namespace terminating and deletes what it holds; it goes when it is empty.
    fn delete_namespace(&mut self, kind: &Kind, name: &str, mut namespace: Value) -> Value {
        if namespace["metadata"].get("deletionTimestamp").is_none() {
            namespace["metadata"]["deletionTimestamp"] = json!(meta::now());
            namespace["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        }
        namespace["status"] = json!({"phase": "Terminating"});
        let namespace = self.put(kind, (String::new(), name.to_owned()), namespace);
        let held: Vec<(Kind, String)> = self
            .kinds
            .iter()
            .filter(|k| k.namespaced)
            .flat_map(|k| {
                self.table(k)
                    .into_iter()
                    .flat_map(|t| t.keys())
                    .filter(|(ns, _)| ns == name)
                    .map(|(_, n)| (k.clone(), n.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        for (kind, object) in held {
            // Each goes, or waits for its finalizers.
            let _ = self.delete(&kind, Some(name), &object, &WriteOptions::default());
        }
        self.finish_namespaces();
        namespace
    }

    /// Removes terminating namespaces that hold nothing any more.
    fn finish_namespaces(&mut self) {
        let Some(kind) = self.kind("", "namespaces").cloned() else {
            return;
        };
        let terminating: Vec<String> = self
            .table(&kind)
            .into_iter()
            .flat_map(|t| t.iter())
            .filter(|(_, ns)| ns["metadata"].get("deletionTimestamp").is_some())
            .map(|((_, name), _)| name.clone())
            .collect();
        for name in terminating {
            let empty = self.kinds.iter().filter(|k| k.namespaced).all(|k| {
                self.table(k)
                    .is_none_or(|t| !t.keys().any(|(ns, _)| *ns == name))
            });
            if empty {
                self.remove(&kind, &(String::new(), name));
            }
        }
    }

    /// The namespace an object of `kind` goes to: the request's, which must exist and not be
    /// terminating; `None` for cluster-scoped kinds.
    fn check_namespace(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        object: &Value,
    ) -> Result<Option<String>, ApiError> {
        if !kind.namespaced {
            return Ok(None);
        }
        let given = text(object, "/metadata/namespace");
        let namespace = match namespace {
            Some(ns) => {
                if !given.is_empty() && given != ns {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                ns.to_owned()
            }
            None if !given.is_empty() => given.to_owned(),
            None => "default".to_owned(),
        };
        let namespaces = self.kind("", "namespaces").and_then(|k| self.table(k));
        match namespaces.and_then(|t| t.get(&(String::new(), namespace.clone()))) {
            None => Err(ApiError::not_found("", "namespaces", &namespace)),
            Some(ns) if ns["metadata"].get("deletionTimestamp").is_some() => {
                Err(ApiError::forbidden(format!(
                    "{} \"{}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                    kind.plural,
                    text(object, "/metadata/name")
                )))
            }
            Some(_) => Ok(Some(namespace)),
        }
    }
}

/// `object` as a list item: the API server leaves `apiVersion` and `kind` out.
/// An object as a list holds it: without its `apiVersion` and `kind`, which the list states.
struct Item<'a>(&'a Value);

impl serde::Serialize for Item<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Value::Object(map) = self.0 else {
            return self.0.serialize(serializer);
        };
        let mut out = serializer.serialize_map(None)?;
        for (key, value) in map {
            if key != "apiVersion" && key != "kind" {
                out.serialize_entry(key, value)?;
            }
        }
        out.end()
    }
}

fn list_item(object: &Value) -> Value {
    let mut item = object.clone();
    if let Value::Object(map) = &mut item {
        map.remove("apiVersion");
        map.remove("kind");
    }
    item
}

fn encode_continue(namespace: &str, name: &str) -> String {
    let raw = format!("{namespace}/{name}");
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(token: &str) -> Result<(String, String), ApiError> {
    let bad = || ApiError::bad_request(format!("invalid continue token {token:?}"));
    if !token.len().is_multiple_of(2) {
        return Err(bad());
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&token[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    let raw = String::from_utf8(bytes).map_err(|_| bad())?;
    let (namespace, name) = raw.split_once('/').ok_or_else(bad)?;
    Ok((namespace.to_owned(), name.to_owned()))
}

/// The text at `pointer`, or empty.
pub(crate) fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn metadata_mut(object: &mut Value) -> Result<&mut Map<String, Value>, ApiError> {
    let Value::Object(map) = object else {
        return Err(ApiError::bad_request("the object is not a JSON object"));
    };
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    match meta {
        Value::Object(meta) => Ok(meta),
        _ => Err(ApiError::bad_request("metadata is not a JSON object")),
    }
}

/// Refuses an object whose `apiVersion` and `kind` are not those of the URL.
/// The CustomResourceDefinition that serves `kind`, if it is a custom kind.
fn definition<'a>(objects: &'a Tables, kind: &Kind) -> Option<&'a Value> {
    let crds = (
        "apiextensions.k8s.io".to_owned(),
        "customresourcedefinitions".to_owned(),
    );
    objects
        .get(&crds)?
        .get(&(String::new(), format!("{}.{}", kind.plural, kind.group)))
}

fn check_type(kind: &Kind, object: &Value) -> Result<(), ApiError> {
    if !object.is_object() {
        return Err(ApiError::bad_request("the object is not a JSON object"));
    }
    let given_kind = text(object, "/kind");
    let given_version = text(object, "/apiVersion");
    if (!given_kind.is_empty() && given_kind != kind.kind)
        || (!given_version.is_empty() && given_version != kind.api_version())
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({given_version}) does not match the expected API version ({})",
            kind.api_version()
        )));
    }
    Ok(())
}

/// Whether anything but metadata and status changed.
fn spec_changed(before: &Value, after: &Value) -> bool {
    let strip = |object: &Value| -> Value {
        let mut object = object.clone();
        if let Value::Object(map) = &mut object {
            map.remove("metadata");
            map.remove("status");
        }
        object
    };
    strip(before) != strip(after)
}

/// Validates names, labels and annotations as the API server does.
fn validate(kind: &Kind, object: &Value) -> Result<(), ApiError> {
    let name = text(object, "/metadata/name");
    let mut causes: Vec<(String, String, String)> = Vec::new();
    let name_errors = if matches!(kind.kind.as_str(), "Namespace" | "Service") {
        meta::dns_label_errors(name)
    } else {
        meta::dns_subdomain_errors(name)
    };
    for error in name_errors {
        causes.push((
            "metadata.name".to_owned(),
            "FieldValueInvalid".to_owned(),
            format!("Invalid value: {name:?}: {error}"),
        ));
    }
    if let Some(Value::Object(labels)) = object.pointer("/metadata/labels") {
        for (key, value) in labels {
            for error in meta::qualified_name_errors(key) {
                causes.push((
                    "metadata.labels".to_owned(),
                    "FieldValueInvalid".to_owned(),
                    format!("Invalid value: {key:?}: {error}"),
                ));
            }
            match value {
                Value::String(value) => {
                    for error in meta::label_value_errors(value) {
                        causes.push((
                            "metadata.labels".to_owned(),
                            "FieldValueInvalid".to_owned(),
                            format!("Invalid value: {value:?}: {error}"),
                        ));
                    }
                }
                _ => causes.push((
                    "metadata.labels".to_owned(),
                    "FieldValueInvalid".to_owned(),
                    format!("Invalid value: {key:?}: label values are strings"),
                )),
            }
        }
    }
    if let Some(Value::Object(annotations)) = object.pointer("/metadata/annotations") {
        for key in annotations.keys() {
            for error in meta::qualified_name_errors(key) {
                causes.push((
                    "metadata.annotations".to_owned(),
                    "FieldValueInvalid".to_owned(),
                    format!("Invalid value: {key:?}: {error}"),
                ));
            }
        }
    }
    if kind.kind == "CustomResourceDefinition" && kind.group == "apiextensions.k8s.io" {
        let expected = format!(
            "{}.{}",
            text(object, "/spec/names/plural"),
            text(object, "/spec/group")
        );
        if name != expected {
            causes.push((
                "metadata.name".to_owned(),
                "FieldValueInvalid".to_owned(),
                format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
            ));
        }
        for field in ["kind", "plural"] {
            if text(object, &format!("/spec/names/{field}")).is_empty() {
                causes.push((
                    format!("spec.names.{field}"),
                    "FieldValueRequired".to_owned(),
                    "Required value".to_owned(),
                ));
            }
        }
        if !matches!(text(object, "/spec/scope"), "Namespaced" | "Cluster") {
            causes.push((
                "spec.scope".to_owned(),
                "FieldValueNotSupported".to_owned(),
                format!(
                    "Unsupported value: {:?}: supported values: \"Cluster\", \"Namespaced\"",
                    text(object, "/spec/scope")
                ),
            ));
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&kind.group, &kind.kind, name, causes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watches_from_too_old_a_version_are_refused() {
        let mut store = Store::new();
        store.events_kept = 5;
        let kind = store.kind("", "configmaps").cloned().expect("configmaps");
        for i in 0..10 {
            let object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("c{i}")}});
            store
                .create(&kind, Some("default"), object, &WriteOptions::default())
                .expect("create");
        }
        let latest = store.revision();
        assert_eq!(
            store.events_after(&kind, latest - 5).map(|e| e.len()),
            Ok(5)
        );
        assert_eq!(
            store.events_after(&kind, latest - 6).map(|e| e.len()),
            Err(latest - 4)
        );
        assert_eq!(store.events_after(&kind, latest).map(|e| e.len()), Ok(0));
    }

    #[test]
    fn saved_state_comes_back_with_its_custom_kinds() {
        let mut store = Store::new();
        let crds = store
            .kind("apiextensions.k8s.io", "customresourcedefinitions")
            .cloned()
            .expect("crds");
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "names": {"kind": "Widget", "plural": "widgets"},
                "scope": "Cluster",
                "versions": [{"name": "v1", "served": true, "storage": true}],
            },
        });
        store
            .create(&crds, None, crd, &WriteOptions::default())
            .expect("crd");
        let widgets = store
            .kind_at("example.com", "v1", "widgets")
            .cloned()
            .expect("registered");
        let widget =
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "gear"}});
        store
            .create(&widgets, None, widget, &WriteOptions::default())
            .expect("widget");
        let restored = Store::restore(&store.snapshot()).expect("restore");
        assert_eq!(restored.revision(), store.revision());
        let kind = restored
            .kind_at("example.com", "v1", "widgets")
            .expect("served again");
        assert_eq!(
            restored.get(kind, None, "gear").expect("there"),
            store.get(&widgets, None, "gear").expect("there")
        );
    }

    #[test]
    fn restored_owners_still_take_their_dependents() {
        let mut store = Store::new();
        let kind = store.kind("", "configmaps").cloned().expect("configmaps");
        let owner = store
            .create(
                &kind,
                Some("default"),
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}}),
                &WriteOptions::default(),
            )
            .expect("owner");
        let uid = text(&owner, "/metadata/uid").to_owned();
        store
            .create(
                &kind,
                Some("default"),
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
                    "name": "child",
                    "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}],
                }}),
                &WriteOptions::default(),
            )
            .expect("child");
        let mut restored = Store::restore(&store.snapshot()).expect("restore");
        restored
            .delete(&kind, Some("default"), "owner", &WriteOptions::default())
            .expect("delete");
        assert!(restored.get(&kind, Some("default"), "child").is_err());
    }
}
