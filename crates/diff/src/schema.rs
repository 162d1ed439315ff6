//! Patch metadata: how each list and object of a Kubernetes kind merges.
//!
//! Strategic merge patch (SMP) and server-side apply (SSA) do not treat every list alike. A
//! Pod's `containers` merge by `name`; its `tolerations` are replaced whole; a `volumes[]`
//! entry drops the fields a patch does not keep (`retainKeys`). That knowledge lives in the
//! OpenAPI markers of each type (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`,
//! `x-kubernetes-list-type`, `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`), and this
//! module gives it as a type graph to walk beside a document:
//!
//! - [`Schema::kubernetes`] is the table of the built-in kinds of Kubernetes 1.35, generated from
//!   the published OpenAPI definitions by `tools/gen-patch-meta` and embedded in the crate
//!   (`data/kubernetes-1.35.json`); it is parsed once, on first use.
//! - [`Schema::from_crd`] builds the same graph for the served versions of a
//!   CustomResourceDefinition.
//! - [`TypeRef`] is one node: [`field`](TypeRef::field), [`items`](TypeRef::items) and
//!   [`values`](TypeRef::values) step down without allocating (`items` and `values` in
//!   constant time, `field` by a binary search among the object's fields);
//!   [`list`](TypeRef::list) and [`object`](TypeRef::object) say how it merges.
//!
//! Where the schema says nothing (free-form JSON, `x-kubernetes-preserve-unknown-fields`) the
//! type is [`TypeKind::Unknown`] and callers fall back to JSON merge patch semantics.
//!
//! ```
//! use converge_diff::schema::{ListStrategy, ListType, Schema};
//!
//! let deployment = Schema::kubernetes().for_kind("apps", "v1", "Deployment").expect("built in");
//! let ports = deployment.pointer("/spec/template/spec/containers/0/ports").expect("in schema");
//! let list = ports.list().expect("a list");
//! // SMP merges container ports by `containerPort` alone; SSA keys them by port and protocol.
//! assert_eq!(list.strategy, ListStrategy::Merge { key: Some("containerPort") });
//! assert_eq!(list.list_type, ListType::Map { keys: &["containerPort".into(), "protocol".into()] });
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::Error;

/// The generated table of the built-in kinds (see `tools/gen-patch-meta/README.md`).
const KUBERNETES_1_35: &str = include_str!("../data/kubernetes-1.35.json");

/// The OpenAPI name of the type every `metadata` of a custom resource is.
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// Index of the shared node that stands for "no schema" in every [`Schema`].
const UNKNOWN: u32 = 0;
/// Index of the shared anonymous scalar node in every [`Schema`].
const SCALAR: u32 = 1;

/// A set of types with their patch markers, and the kinds rooted in them.
///
/// Types are interned in one table and refer to each other by index, so walking a document's
/// schema costs no lookup by type name and no allocation. A `Schema` is immutable and can be
/// shared between threads.
///
/// ```
/// use converge_diff::schema::{Schema, TypeKind};
///
/// let schema = Schema::kubernetes();
/// let config_map = schema.for_kind("", "v1", "ConfigMap").expect("built in");
/// assert_eq!(config_map.kind(), TypeKind::Object);
/// assert!(schema.for_kind("", "v1", "NoSuchKind").is_none());
/// ```
pub struct Schema {
    types: Vec<Type>,
    /// Sorted by (kind, group, version), so a kind's versions are adjacent.
    kinds: Vec<Root>,
}

struct Root {
    group: Box<str>,
    version: Box<str>,
    kind: Box<str>,
    ty: u32,
}

struct Type {
    /// The OpenAPI definition name, for named types.
    name: Option<Box<str>>,
    shape: Shape,
}

enum Shape {
    Unknown,
    Scalar,
    Object {
        /// Sorted by name.
        fields: Box<[Field]>,
        /// Indices into `fields`, sorted by [`by_length`]: most comparisons of a lookup then
        /// end on the lengths, which sit beside the pointers, without reading the names.
        lookup: Box<[u32]>,
        map_type: MapType,
        /// `x-kubernetes-preserve-unknown-fields`: fields beyond `fields` are kept, unknown.
        open: bool,
    },
    Map {
        values: Edge,
        map_type: MapType,
    },
    List {
        items: Edge,
        /// SMP: `patch-strategy: merge` (or `merge,retainKeys`).
        merge: bool,
        merge_key: Option<Box<str>>,
        /// SSA, defaults resolved at load time.
        list_type: Listing,
    },
}

#[derive(Clone)]
enum Listing {
    Atomic,
    Set,
    Map(Box<[String]>),
}

struct Field {
    name: Box<str>,
    edge: Edge,
}

/// A reference from one type to another, with the markers written where it is used.
#[derive(Clone, Copy)]
struct Edge {
    ty: u32,
    site: Site,
}

/// Markers of a use site that refine the type it points at.
#[derive(Clone, Copy, Default)]
struct Site {
    /// `patch-strategy` of a field whose value is an object (`retainKeys`, `replace`), or
    /// `retainKeys` on the elements of a `merge,retainKeys` list.
    strategy: ObjectStrategy,
    /// `map-type` written on the field, overriding the one of the type.
    map_type: Option<MapType>,
    /// The target is in [`Schema::kubernetes`], not in the schema holding the edge (the
    /// `metadata` of a custom resource).
    builtin: bool,
    /// SMP: how a list written where this one object is expected merges (a `List` node of the
    /// same schema): apimachinery reads a list given for a field declared as a single object
    /// as a list of such objects, with the field's `patch-strategy` and `patch-merge-key`
    /// (the `mergeItemPtr` of its tests). Only OpenAPI documents set it.
    list: Option<u32>,
}

impl Edge {
    const fn plain(ty: u32) -> Self {
        Edge {
            ty,
            site: Site {
                strategy: ObjectStrategy::Merge,
                map_type: None,
                builtin: false,
                list: None,
            },
        }
    }
}

/// What kind of value a [`TypeRef`] describes.
///
/// ```
/// use converge_diff::schema::{Schema, TypeKind};
///
/// let pod = Schema::kubernetes().for_kind("", "v1", "Pod").expect("built in");
/// assert_eq!(pod.pointer("/metadata/labels").expect("labels").kind(), TypeKind::Map);
/// assert_eq!(pod.pointer("/spec/volumes").expect("volumes").kind(), TypeKind::List);
/// assert_eq!(pod.pointer("/spec/hostname").expect("hostname").kind(), TypeKind::Scalar);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TypeKind {
    /// A struct: named fields, each with its own type ([`TypeRef::field`]).
    Object,
    /// An array ([`TypeRef::items`], [`TypeRef::list`]).
    List,
    /// A JSON object with arbitrary keys and values of one type ([`TypeRef::values`]).
    Map,
    /// A string, number or boolean (also int-or-string and quantities).
    Scalar,
    /// No schema: free-form JSON (`RawExtension`, `x-kubernetes-preserve-unknown-fields`).
    /// Callers fall back to JSON merge patch semantics; every step below it is `Unknown` too.
    Unknown,
}

/// How a list merges, for strategic merge patch and for server-side apply.
///
/// The two often agree but not always: a Job's `status.conditions` merge by `type` in SMP yet
/// are atomic for SSA; a container's `resources.claims` are a map keyed by `name` for SSA but
/// replaced whole by SMP.
///
/// ```
/// use converge_diff::schema::{ListStrategy, ListType, Schema};
///
/// let job = Schema::kubernetes().for_kind("batch", "v1", "Job").expect("built in");
/// let conditions = job.pointer("/status/conditions").and_then(|t| t.list()).expect("a list");
/// assert_eq!(conditions.strategy, ListStrategy::Merge { key: Some("type") });
/// assert_eq!(conditions.list_type, ListType::Atomic);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListSemantics<'a> {
    /// Strategic merge patch: `x-kubernetes-patch-strategy` and `-patch-merge-key`.
    pub strategy: ListStrategy<'a>,
    /// Server-side apply: `x-kubernetes-list-type` and `-list-map-keys`.
    pub list_type: ListType<'a>,
}

/// How strategic merge patch combines a list.
///
/// When the strategy is `merge,retainKeys` (a Pod's `volumes`) the elements say so: their
/// [`ObjectSemantics::strategy`] is [`ObjectStrategy::RetainKeys`]. Custom resources do not
/// support strategic merge patch (the API server refuses it), so their lists are all `Replace`.
///
/// ```
/// use converge_diff::schema::{ListStrategy, Schema};
///
/// let pod = Schema::kubernetes().for_kind("", "v1", "Pod").expect("built in");
/// let strategy = |pointer: &str| pod.pointer(pointer).and_then(|t| t.list()).expect("a list").strategy;
/// assert_eq!(strategy("/spec/containers"), ListStrategy::Merge { key: Some("name") });
/// assert_eq!(strategy("/metadata/finalizers"), ListStrategy::Merge { key: None });
/// assert_eq!(strategy("/spec/tolerations"), ListStrategy::Replace);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListStrategy<'a> {
    /// The patch's list replaces the original (no patch strategy, or `replace`).
    Replace,
    /// Elements are merged: objects matched by the value of `key`; scalars (`key: None`)
    /// merged as a set, as `metadata.finalizers`.
    Merge {
        /// `x-kubernetes-patch-merge-key`: the field that identifies an element.
        key: Option<&'a str>,
    },
}

/// How server-side apply owns a list (`x-kubernetes-list-type`).
///
/// Where the marker is absent the list falls back as the API server's schema conversion
/// does: a `merge` patch strategy makes it a map keyed by the merge key (a set without one),
/// anything else atomic.
///
/// ```
/// use converge_diff::schema::{ListType, Schema};
///
/// let service = Schema::kubernetes().for_kind("", "v1", "Service").expect("built in");
/// let ports = service.pointer("/spec/ports").and_then(|t| t.list()).expect("a list");
/// assert_eq!(ports.list_type, ListType::Map { keys: &["port".into(), "protocol".into()] });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListType<'a> {
    /// The list is one value: whoever applies it owns all of it.
    Atomic,
    /// Scalars, each owned on its own, unique in the list.
    Set,
    /// Objects identified by the values of `keys` (`x-kubernetes-list-map-keys`).
    Map {
        /// The key fields, in order.
        keys: &'a [String],
    },
}

/// How an object or map merges.
///
/// ```
/// use converge_diff::schema::{MapType, ObjectStrategy, Schema};
///
/// let deployment = Schema::kubernetes().for_kind("apps", "v1", "Deployment").expect("built in");
/// let strategy = deployment.pointer("/spec/strategy").and_then(|t| t.object()).expect("an object");
/// assert_eq!(strategy.strategy, ObjectStrategy::RetainKeys);
/// let selector = deployment.pointer("/spec/selector").and_then(|t| t.object()).expect("an object");
/// assert_eq!(selector.map_type, MapType::Atomic);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ObjectSemantics {
    /// Strategic merge patch: `x-kubernetes-patch-strategy` on the field holding the object,
    /// or `retainKeys` on the elements of a `merge,retainKeys` list.
    pub strategy: ObjectStrategy,
    /// Server-side apply: `x-kubernetes-map-type`, of the field if written there, else of the
    /// type.
    pub map_type: MapType,
}

/// How strategic merge patch combines an object.
///
/// ```
/// use converge_diff::schema::{ObjectStrategy, Schema};
///
/// let pdb = Schema::kubernetes().for_kind("policy", "v1", "PodDisruptionBudget").expect("built in");
/// let selector = pdb.pointer("/spec/selector").and_then(|t| t.object()).expect("an object");
/// assert_eq!(selector.strategy, ObjectStrategy::Replace);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ObjectStrategy {
    /// Fields are merged one by one; `null` deletes one.
    #[default]
    Merge,
    /// Merged, then every field the patch does not name is cleared (`$retainKeys`): switching
    /// a volume from `emptyDir` to `configMap`, or a rollout from `RollingUpdate` to `Recreate`.
    RetainKeys,
    /// The patch's object replaces the original whole.
    Replace,
}

/// How server-side apply owns an object or map (`x-kubernetes-map-type`).
///
/// ```
/// use converge_diff::schema::{MapType, Schema};
///
/// let pod = Schema::kubernetes().for_kind("", "v1", "Pod").expect("built in");
/// let map_type = |pointer: &str| pod.pointer(pointer).and_then(|t| t.object()).expect("a map").map_type;
/// assert_eq!(map_type("/spec/nodeSelector"), MapType::Atomic);
/// assert_eq!(map_type("/metadata/labels"), MapType::Granular);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum MapType {
    /// Each field or key is owned on its own (the default).
    #[default]
    Granular,
    /// The object is one value: whoever applies it owns all of it.
    Atomic,
}

/// A kind and the API group and version it is served in.
///
/// ```
/// use converge_diff::schema::Schema;
///
/// let kinds: Vec<_> = Schema::kubernetes().kinds().filter(|k| k.kind == "Deployment").collect();
/// assert_eq!(kinds.len(), 1);
/// assert_eq!((kinds[0].group, kinds[0].version), ("apps", "v1"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct GroupVersionKind<'a> {
    /// API group; empty for the core group.
    pub group: &'a str,
    /// Version within the group.
    pub version: &'a str,
    /// Kind.
    pub kind: &'a str,
}

impl Schema {
    /// The built-in kinds of Kubernetes 1.35, with their patch markers.
    ///
    /// Generated from the OpenAPI definitions published for 1.35 (see
    /// `tools/gen-patch-meta/README.md`): 305 group/version/kinds, every type they reach.
    /// Parsed on the first call, then shared.
    ///
    /// ```
    /// use converge_diff::schema::Schema;
    ///
    /// assert!(Schema::kubernetes().for_kind("apps", "v1", "StatefulSet").is_some());
    /// ```
    pub fn kubernetes() -> &'static Schema {
        static KUBERNETES: OnceLock<Schema> = OnceLock::new();
        KUBERNETES.get_or_init(|| {
            load_table(KUBERNETES_1_35)
                .unwrap_or_else(|reason| panic!("the embedded Kubernetes 1.35 table: {reason}"))
        })
    }

    /// The root type of a kind, by API group (empty for the core group), version and kind.
    ///
    /// ```
    /// use converge_diff::schema::Schema;
    ///
    /// let schema = Schema::kubernetes();
    /// assert_eq!(schema.for_kind("", "v1", "Pod").and_then(|t| t.name()), Some("io.k8s.api.core.v1.Pod"));
    /// assert!(schema.for_kind("apps", "v1beta1", "Deployment").is_none());
    /// ```
    pub fn for_kind(&self, group: &str, version: &str, kind: &str) -> Option<TypeRef<'_>> {
        let start = self.kinds.partition_point(|r| &*r.kind < kind);
        self.kinds[start..]
            .iter()
            .take_while(|r| &*r.kind == kind)
            .find(|r| &*r.group == group && &*r.version == version)
            .map(|r| self.node(Edge::plain(r.ty)))
    }

    /// Every kind this schema has a root for, sorted by kind, then group and version.
    ///
    /// ```
    /// use converge_diff::schema::Schema;
    ///
    /// let schema = Schema::kubernetes();
    /// assert!(schema.kinds().all(|k| schema.for_kind(k.group, k.version, k.kind).is_some()));
    /// ```
    pub fn kinds(&self) -> impl Iterator<Item = GroupVersionKind<'_>> {
        self.kinds.iter().map(|r| GroupVersionKind {
            group: &r.group,
            version: &r.version,
            kind: &r.kind,
        })
    }

    /// The schema of a CustomResourceDefinition (`apiextensions.k8s.io/v1`): one root per
    /// served version, from its `schema.openAPIV3Schema`.
    ///
    /// CRD schemas carry `x-kubernetes-list-type`, `-list-map-keys`, `-map-type`,
    /// `-preserve-unknown-fields`, `-embedded-resource` and `-int-or-string`, never a patch
    /// strategy: the [`ListStrategy`] of their lists is `Replace` (custom resources do not
    /// take strategic merge patches). `metadata`, at the root and in embedded resources, is the
    /// built-in `ObjectMeta`, as the API server treats it; `apiVersion` and `kind` are
    /// scalars even where the schema leaves them out. Validation-only keywords (`anyOf`,
    /// `allOf`, `x-kubernetes-validations`, …) are ignored.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSchema`] if `crd` is not a v1 CustomResourceDefinition with a group, a kind and
    /// versions, if a served version has no schema, or if a schema node is malformed (a
    /// list-type `map` without keys, an unknown list or map type, an array without items).
    ///
    /// ```
    /// use converge_diff::schema::{ListStrategy, ListType, Schema};
    /// use serde_json::json;
    ///
    /// let crd = json!({
    ///     "apiVersion": "apiextensions.k8s.io/v1",
    ///     "kind": "CustomResourceDefinition",
    ///     "metadata": {"name": "widgets.example.com"},
    ///     "spec": {
    ///         "group": "example.com",
    ///         "names": {"kind": "Widget", "plural": "widgets"},
    ///         "scope": "Namespaced",
    ///         "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
    ///             "type": "object",
    ///             "properties": {"spec": {"type": "object", "properties": {"ports": {
    ///                 "type": "array",
    ///                 "x-kubernetes-list-type": "map",
    ///                 "x-kubernetes-list-map-keys": ["port"],
    ///                 "items": {"type": "object", "properties": {"port": {"type": "integer"}}}
    ///             }}}}
    ///         }}}]
    ///     }
    /// });
    /// let schema = Schema::from_crd(&crd)?;
    /// let ports = schema.for_kind("example.com", "v1", "Widget").and_then(|t| t.pointer("/spec/ports"));
    /// let list = ports.and_then(|t| t.list()).expect("a list");
    /// assert_eq!(list.list_type, ListType::Map { keys: &["port".into()] });
    /// assert_eq!(list.strategy, ListStrategy::Replace);
    /// # Ok::<(), converge_diff::Error>(())
    /// ```
    pub fn from_crd(crd: &Value) -> Result<Schema, Error> {
        let name = crd
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("(unnamed)");
        read_crd(crd).map_err(|reason| Error::InvalidSchema {
            crd: name.to_owned(),
            reason,
        })
    }

    /// The schema of the definitions of an OpenAPI v2 (Swagger) document, as the API server
    /// publishes at `/openapi/v2`: every entry of `definitions` becomes a named type, and every
    /// definition with `x-kubernetes-group-version-kind` a root for [`for_kind`](Schema::for_kind).
    ///
    /// The types are read as apimachinery's strategic merge patch reads them (kube-openapi's
    /// `proto` models): `$ref` to `#/definitions/…`; a schema with `properties` (with or without
    /// `type: object`) is an object; `type: object` without properties is a map of its
    /// `additionalProperties` (of [`Unknown`](TypeKind::Unknown) values when it has none); a
    /// schema with neither a type nor properties is [`Unknown`](TypeKind::Unknown) (free-form
    /// JSON); `type: array` is a list; any other type is a scalar. The patch markers
    /// (`x-kubernetes-patch-strategy`, `-patch-merge-key`) and the server-side apply markers
    /// (`-list-type`, `-list-map-keys`, `-map-type`) are read where they are written: on the
    /// array, or on the property that holds a `$ref`. A `$ref` property with the patch strategy
    /// `merge` also says how a *list* of such objects merges, when one is written there
    /// (apimachinery accepts that). Descriptions, validation and formats are ignored.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOpenApi`] when `definitions` is missing, a `$ref` names no definition, or
    /// a marker is malformed (an unknown patch strategy, a list type `map` without keys).
    ///
    /// ```
    /// use converge_diff::schema::{ListStrategy, Schema};
    /// use serde_json::json;
    ///
    /// let document = json!({
    ///     "swagger": "2.0",
    ///     "definitions": {
    ///         "com.example.v1.Widget": {
    ///             "properties": {"parts": {
    ///                 "type": "array",
    ///                 "items": {"$ref": "#/definitions/com.example.v1.Part"},
    ///                 "x-kubernetes-patch-strategy": "merge",
    ///                 "x-kubernetes-patch-merge-key": "name"
    ///             }},
    ///             "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "Widget"}]
    ///         },
    ///         "com.example.v1.Part": {"properties": {"name": {"type": "string"}}}
    ///     }
    /// });
    /// let schema = Schema::from_openapi_v2(&document)?;
    /// let widget = schema.for_kind("example.com", "v1", "Widget").expect("a root");
    /// let parts = widget.field("parts").and_then(|t| t.list()).expect("a list");
    /// assert_eq!(parts.strategy, ListStrategy::Merge { key: Some("name") });
    /// assert!(schema.definition("com.example.v1.Part").is_some());
    /// # Ok::<(), converge_diff::Error>(())
    /// ```
    pub fn from_openapi_v2(document: &Value) -> Result<Schema, Error> {
        read_openapi(document, OpenApi::V2, None).map_err(|reason| Error::InvalidOpenApi { reason })
    }

    /// The schema of an OpenAPI v2 document read as [`from_openapi_v2`](Schema::from_openapi_v2)
    /// reads it, with each `$ref` to a definition the document does not hold resolved by the
    /// type of that name in `base` (typically [`Schema::kubernetes`]), as kustomize resolves
    /// the references of a custom schema (`openapi: {path: …}`) against its built-in one.
    ///
    /// The type found in `base`, and every type it reaches with all their markers, is copied
    /// into the new schema, once however often it is referred to: the result stands on its own
    /// and, for those types, merges exactly as `base` does. A type reached that way stays the
    /// one of `base` even where the document defines a type of the same name; the document's
    /// own `$ref`s, and [`definition`](Schema::definition), find the document's. The kinds
    /// ([`for_kind`](Schema::for_kind), [`kinds`](Schema::kinds)) are the document's only.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOpenApi`], as for [`from_openapi_v2`](Schema::from_openapi_v2); a `$ref`
    /// names no definition when neither the document nor `base` has it.
    ///
    /// ```
    /// use converge_diff::schema::{ListStrategy, Schema};
    /// use serde_json::json;
    ///
    /// let document = json!({
    ///     "swagger": "2.0",
    ///     "definitions": {
    ///         "com.github.openshift.api.apps.v1.DeploymentConfig": {
    ///             "properties": {"spec": {"properties": {"template": {
    ///                 "$ref": "#/definitions/io.k8s.api.core.v1.PodTemplateSpec"
    ///             }}}},
    ///             "x-kubernetes-group-version-kind": [{"group": "apps.openshift.io", "version": "v1", "kind": "DeploymentConfig"}]
    ///         }
    ///     }
    /// });
    /// assert!(Schema::from_openapi_v2(&document).is_err());
    /// let schema = Schema::from_openapi_v2_over(&document, Schema::kubernetes())?;
    /// let config = schema.for_kind("apps.openshift.io", "v1", "DeploymentConfig").expect("a root");
    /// let containers = config.pointer("/spec/template/spec/containers").and_then(|t| t.list());
    /// assert_eq!(containers.map(|l| l.strategy), Some(ListStrategy::Merge { key: Some("name") }));
    /// assert!(schema.for_kind("", "v1", "Pod").is_none());
    /// # Ok::<(), converge_diff::Error>(())
    /// ```
    pub fn from_openapi_v2_over(document: &Value, base: &Schema) -> Result<Schema, Error> {
        read_openapi(document, OpenApi::V2, Some(base))
            .map_err(|reason| Error::InvalidOpenApi { reason })
    }

    /// The schema of the `components.schemas` of an OpenAPI v3 document, as the API server
    /// publishes one per group-version at `/openapi/v3/apis/<group>/<version>`.
    ///
    /// Read as [`from_openapi_v2`](Schema::from_openapi_v2) reads `definitions`, with `$ref`s
    /// to `#/components/schemas/…`, and a property written as `allOf: [{$ref: …}]` (how v3
    /// documents attach a description or a marker to a reference) read as its first entry, as
    /// apimachinery does. Unlike apimachinery, which refuses to look up any field of a v3 schema
    /// without `properties`, a schema with neither a type nor properties is
    /// [`Unknown`](TypeKind::Unknown) here, as in v2 documents: free-form JSON, merged as JSON
    /// merge patch merges it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOpenApi`], as for [`from_openapi_v2`](Schema::from_openapi_v2).
    ///
    /// ```
    /// use converge_diff::schema::{ObjectStrategy, Schema, TypeKind};
    /// use serde_json::json;
    ///
    /// let document = json!({
    ///     "openapi": "3.0.0",
    ///     "components": {"schemas": {
    ///         "com.example.v1.Widget": {
    ///             "type": "object",
    ///             "properties": {
    ///                 "rollout": {
    ///                     "allOf": [{"$ref": "#/components/schemas/com.example.v1.Rollout"}],
    ///                     "x-kubernetes-patch-strategy": "retainKeys"
    ///                 },
    ///                 "values": {"description": "anything"}
    ///             },
    ///             "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "Widget"}]
    ///         },
    ///         "com.example.v1.Rollout": {"type": "object", "properties": {"type": {"type": "string"}}}
    ///     }}
    /// });
    /// let schema = Schema::from_openapi_v3(&document)?;
    /// let widget = schema.for_kind("example.com", "v1", "Widget").expect("a root");
    /// let rollout = widget.field("rollout").expect("a field");
    /// assert_eq!(rollout.object().map(|o| o.strategy), Some(ObjectStrategy::RetainKeys));
    /// assert_eq!(widget.field("values").map(|t| t.kind()), Some(TypeKind::Unknown));
    /// # Ok::<(), converge_diff::Error>(())
    /// ```
    pub fn from_openapi_v3(document: &Value) -> Result<Schema, Error> {
        read_openapi(document, OpenApi::V3, None).map_err(|reason| Error::InvalidOpenApi { reason })
    }

    /// The schema of an OpenAPI v3 document read as [`from_openapi_v3`](Schema::from_openapi_v3)
    /// reads it, with each `$ref` to a schema the document does not hold resolved by the type
    /// of that name in `base`, copied in with what it reaches, as
    /// [`from_openapi_v2_over`](Schema::from_openapi_v2_over) does.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOpenApi`], as for [`from_openapi_v3`](Schema::from_openapi_v3); a `$ref`
    /// names no definition when neither the document nor `base` has it.
    ///
    /// ```
    /// use converge_diff::schema::{ObjectStrategy, Schema};
    /// use serde_json::json;
    ///
    /// let document = json!({
    ///     "openapi": "3.0.0",
    ///     "components": {"schemas": {
    ///         "com.example.v1.Rollout": {
    ///             "type": "object",
    ///             "properties": {"strategy": {
    ///                 "allOf": [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"}],
    ///                 "x-kubernetes-patch-strategy": "retainKeys"
    ///             }},
    ///             "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "Rollout"}]
    ///         }
    ///     }}
    /// });
    /// let schema = Schema::from_openapi_v3_over(&document, Schema::kubernetes())?;
    /// let rollout = schema.for_kind("example.com", "v1", "Rollout").expect("a root");
    /// let strategy = rollout.field("strategy").and_then(|t| t.object()).expect("an object");
    /// assert_eq!(strategy.strategy, ObjectStrategy::RetainKeys);
    /// assert!(rollout.pointer("/strategy/rollingUpdate/maxSurge").is_some());
    /// # Ok::<(), converge_diff::Error>(())
    /// ```
    pub fn from_openapi_v3_over(document: &Value, base: &Schema) -> Result<Schema, Error> {
        read_openapi(document, OpenApi::V3, Some(base))
            .map_err(|reason| Error::InvalidOpenApi { reason })
    }

    /// A named type by its definition name (`io.k8s.api.core.v1.PodSpec`), whether or not a
    /// kind is rooted in it. A linear search: keep the result rather than asking twice.
    ///
    /// ```
    /// use converge_diff::schema::{Schema, TypeKind};
    ///
    /// let spec = Schema::kubernetes().definition("io.k8s.api.core.v1.PodSpec").expect("built in");
    /// assert_eq!(spec.field("containers").map(|t| t.kind()), Some(TypeKind::List));
    /// assert!(Schema::kubernetes().definition("io.k8s.api.core.v1.NoSuchType").is_none());
    /// ```
    pub fn definition(&self, name: &str) -> Option<TypeRef<'_>> {
        let index = self
            .types
            .iter()
            .position(|t| t.name.as_deref() == Some(name))?;
        Some(self.node(Edge::plain(u32::try_from(index).ok()?)))
    }

    fn node(&self, edge: Edge) -> TypeRef<'_> {
        TypeRef {
            schema: self,
            ty: edge.ty,
            site: edge.site,
        }
    }
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schema")
            .field("types", &self.types.len())
            .field("kinds", &self.kinds.len())
            .finish()
    }
}

/// One type in a [`Schema`], as seen from where it is used.
///
/// Cheap to copy. The markers written on a field (`retainKeys` on `DeploymentSpec.strategy`,
/// `map-type` on `PersistentVolumeSpec.claimRef`) travel with the `TypeRef` reached through
/// that field, so [`object`](TypeRef::object) answers for that place.
///
/// ```
/// use converge_diff::schema::{ObjectStrategy, Schema, TypeKind};
///
/// let pod = Schema::kubernetes().for_kind("", "v1", "Pod").expect("built in");
/// let volume = pod.field("spec").and_then(|s| s.field("volumes")).and_then(|v| v.items()).expect("a list");
/// assert_eq!(volume.kind(), TypeKind::Object);
/// assert_eq!(volume.object().map(|o| o.strategy), Some(ObjectStrategy::RetainKeys));
/// ```
#[derive(Clone, Copy)]
pub struct TypeRef<'a> {
    schema: &'a Schema,
    ty: u32,
    site: Site,
}

impl<'a> TypeRef<'a> {
    fn shape(&self) -> &'a Shape {
        &self.schema.types[self.ty as usize].shape
    }

    fn follow(&self, edge: Edge) -> TypeRef<'a> {
        let schema = if edge.site.builtin {
            Schema::kubernetes()
        } else {
            self.schema
        };
        schema.node(edge)
    }

    /// The `Unknown` type of this schema (what every step below `Unknown` gives).
    pub(crate) fn unknown(&self) -> TypeRef<'a> {
        self.schema.node(Edge::plain(UNKNOWN))
    }

    /// SMP: the list type to merge a list with when one is written where this single object is
    /// expected (see `Site::list`); `None` where the schema says nothing about it.
    pub(crate) fn as_list(&self) -> Option<TypeRef<'a>> {
        self.site.list.map(|ty| self.schema.node(Edge::plain(ty)))
    }

    /// What kind of value this is.
    ///
    /// ```
    /// use converge_diff::schema::{Schema, TypeKind};
    ///
    /// let revision = Schema::kubernetes().for_kind("apps", "v1", "ControllerRevision").expect("built in");
    /// assert_eq!(revision.field("data").map(|t| t.kind()), Some(TypeKind::Unknown));
    /// ```
    pub fn kind(&self) -> TypeKind {
        match self.shape() {
            Shape::Unknown => TypeKind::Unknown,
            Shape::Scalar => TypeKind::Scalar,
            Shape::Object { .. } => TypeKind::Object,
            Shape::Map { .. } => TypeKind::Map,
            Shape::List { .. } => TypeKind::List,
        }
    }

    /// The OpenAPI definition name of a named type (`io.k8s.api.core.v1.PodSpec`,
    /// `io.k8s.apimachinery.pkg.api.resource.Quantity`); `None` for inline lists, maps and
    /// scalars. The root of a custom resource is named as the API server publishes it
    /// (`com.example.v1.Widget`).
    ///
    /// ```
    /// use converge_diff::schema::Schema;
    ///
    /// let pod = Schema::kubernetes().for_kind("", "v1", "Pod").expect("built in");
    /// let cpu = pod.pointer("/spec/containers/0/resources/limits/cpu").and_then(|t| t.name());
    /// assert_eq!(cpu, Some("io.k8s.apimachinery.pkg.api.resource.Quantity"));
    /// ```
    pub fn name(&self) -> Option<&'a str> {
        self.schema.types[self.ty as usize].name.as_deref()
    }

    /// The type of an object's field. `None` if the object has no such field or this is not
    /// an object; an [`Unknown`](TypeKind::Unknown) type for any name if this is `Unknown`
    /// or an object that preserves unknown fields.
    ///
    /// ```
    /// use converge_diff::schema::{Schema, TypeKind};
    ///
    /// let pod = Schema::kubernetes().for_kind("", "v1", "Pod").expect("built in");
    /// assert_eq!(pod.field("spec").and_then(|t| t.name()), Some("io.k8s.api.core.v1.PodSpec"));
    /// assert!(pod.field("nonsense").is_none());
    /// ```
    pub fn field(&self, name: &str) -> Option<TypeRef<'a>> {
        match self.shape() {
            Shape::Object {
                fields,
                lookup,
                open,
                ..
            } => {
                let found = lookup.binary_search_by(|&i| by_length(&fields[i as usize].name, name));
                match found {
                    Ok(i) => Some(self.follow(fields[lookup[i] as usize].edge)),
                    Err(_) if *open => Some(self.unknown()),
                    Err(_) => None,
                }
            }
            Shape::Unknown => Some(self.unknown()),
            _ => None,
        }
    }

    /// The declared fields of an object, sorted by name; empty for anything else.
    ///
    /// ```
    /// use converge_diff::schema::Schema;
    ///
    /// let cm = Schema::kubernetes().for_kind("", "v1", "ConfigMap").expect("built in");
    /// let names: Vec<_> = cm.fields().map(|(name, _)| name).collect();
    /// assert_eq!(names, ["apiVersion", "binaryData", "data", "immutable", "kind", "metadata"]);
    /// ```
    pub fn fields(&self) -> impl Iterator<Item = (&'a str, TypeRef<'a>)> + use<'a> {
        let this = *self;
        let fields: &'a [Field] = match self.shape() {
            Shape::Object { fields, .. } => fields,
            _ => &[],
        };
        fields.iter().map(move |f| (&*f.name, this.follow(f.edge)))
    }

    /// The element type of a list; `None` for anything else (`Unknown` below `Unknown`).
    ///
    /// ```
    /// use converge_diff::schema::Schema;
    ///
    /// let pod = Schema::kubernetes().for_kind("", "v1", "Pod").expect("built in");
    /// let containers = pod.pointer("/spec/containers").expect("a list");
    /// assert_eq!(containers.items().and_then(|t| t.name()), Some("io.k8s.api.core.v1.Container"));
    /// ```
    pub fn items(&self) -> Option<TypeRef<'a>> {
        match self.shape() {
            Shape::List { items, .. } => Some(self.follow(*items)),
            Shape::Unknown => Some(self.unknown()),
            _ => None,
        }
    }

    /// The value type of a map; `None` for anything else (`Unknown` below `Unknown`).
    ///
    /// ```
    /// use converge_diff::schema::{Schema, TypeKind};
    ///
    /// let cm = Schema::kubernetes().for_kind("", "v1", "ConfigMap").expect("built in");
    /// let data = cm.field("data").expect("data");
    /// assert_eq!(data.kind(), TypeKind::Map);
    /// assert_eq!(data.values().map(|t| t.kind()), Some(TypeKind::Scalar));
    /// ```
    pub fn values(&self) -> Option<TypeRef<'a>> {
        match self.shape() {
            Shape::Map { values, .. } => Some(self.follow(*values)),
            Shape::Unknown => Some(self.unknown()),
            _ => None,
        }
    }

    /// How this list merges, for SMP and SSA; `None` if this is not a list.
    ///
    /// ```
    /// use converge_diff::schema::{ListStrategy, ListType, Schema};
    ///
    /// let pod = Schema::kubernetes().for_kind("", "v1", "Pod").expect("built in");
    /// let env = pod.pointer("/spec/containers/0/env").and_then(|t| t.list()).expect("a list");
    /// assert_eq!(env.strategy, ListStrategy::Merge { key: Some("name") });
    /// assert_eq!(env.list_type, ListType::Map { keys: &["name".into()] });
    /// ```
    pub fn list(&self) -> Option<ListSemantics<'a>> {
        let Shape::List {
            merge,
            merge_key,
            list_type,
            ..
        } = self.shape()
        else {
            return None;
        };
        let strategy = if *merge {
            ListStrategy::Merge {
                key: merge_key.as_deref(),
            }
        } else {
            ListStrategy::Replace
        };
        let list_type = match list_type {
            Listing::Atomic => ListType::Atomic,
            Listing::Set => ListType::Set,
            Listing::Map(keys) => ListType::Map { keys },
        };
        Some(ListSemantics {
            strategy,
            list_type,
        })
    }

    /// How this object or map merges; `None` for lists, scalars and `Unknown`.
    ///
    /// ```
    /// use converge_diff::schema::{MapType, ObjectStrategy, Schema};
    ///
    /// let pv = Schema::kubernetes().for_kind("", "v1", "PersistentVolume").expect("built in");
    /// // ObjectReference is atomic, but PersistentVolumeSpec.claimRef says granular.
    /// let claim_ref = pv.pointer("/spec/claimRef").and_then(|t| t.object()).expect("an object");
    /// assert_eq!(claim_ref.map_type, MapType::Granular);
    /// assert_eq!(claim_ref.strategy, ObjectStrategy::Merge);
    /// ```
    pub fn object(&self) -> Option<ObjectSemantics> {
        let map_type = match self.shape() {
            Shape::Object { map_type, .. } | Shape::Map { map_type, .. } => *map_type,
            _ => return None,
        };
        Some(ObjectSemantics {
            strategy: self.site.strategy,
            map_type: self.site.map_type.unwrap_or(map_type),
        })
    }

    /// The type at a JSON Pointer (RFC 6901) below this one: a token names an object's
    /// field, a map's key (any key) or a list's index (any index, or `-`). `""` is this type.
    ///
    /// ```
    /// use converge_diff::schema::{Schema, TypeKind};
    ///
    /// let pod = Schema::kubernetes().for_kind("", "v1", "Pod").expect("built in");
    /// let label = pod.pointer("/metadata/labels/app.kubernetes.io~1name").expect("a label");
    /// assert_eq!(label.kind(), TypeKind::Scalar);
    /// assert!(pod.pointer("/spec/containers/name").is_none()); // an index is needed
    /// assert!(pod.pointer("spec").is_none()); // not a pointer
    /// ```
    pub fn pointer(&self, pointer: &str) -> Option<TypeRef<'a>> {
        if pointer.is_empty() {
            return Some(*self);
        }
        let mut at = *self;
        for token in pointer.strip_prefix('/')?.split('/') {
            at = match at.kind() {
                TypeKind::List if token == "-" || token.bytes().all(|b| b.is_ascii_digit()) => {
                    at.items()?
                }
                TypeKind::List => return None,
                TypeKind::Map | TypeKind::Unknown => at.values()?,
                _ if token.contains('~') => {
                    at.field(&token.replace("~1", "/").replace("~0", "~"))?
                }
                _ => at.field(token)?,
            };
        }
        Some(at)
    }
}

impl fmt::Debug for TypeRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("TypeRef");
        out.field("kind", &self.kind());
        if let Some(name) = self.name() {
            out.field("name", &name);
        }
        if let Some(list) = self.list() {
            out.field("list", &list);
        }
        if let Some(object) = self.object() {
            out.field("object", &object);
        }
        out.finish()
    }
}

// ---- building ----------------------------------------------------------------------------

impl Shape {
    /// The edges out of this shape: an object's fields, a map's values, a list's items.
    fn edges(&self) -> impl Iterator<Item = Edge> + '_ {
        let (fields, one): (&[Field], Option<Edge>) = match self {
            Shape::Object { fields, .. } => (fields, None),
            Shape::Map { values, .. } => (&[], Some(*values)),
            Shape::List { items, .. } => (&[], Some(*items)),
            Shape::Unknown | Shape::Scalar => (&[], None),
        };
        fields.iter().map(|f| f.edge).chain(one)
    }

    /// The same shape with each edge passed through `edge`.
    fn duplicate(&self, edge: impl Fn(Edge) -> Edge) -> Shape {
        match self {
            Shape::Unknown => Shape::Unknown,
            Shape::Scalar => Shape::Scalar,
            Shape::Object {
                fields,
                lookup,
                map_type,
                open,
            } => Shape::Object {
                fields: fields
                    .iter()
                    .map(|f| Field {
                        name: f.name.clone(),
                        edge: edge(f.edge),
                    })
                    .collect(),
                // Fields keep their order, so their lookup order holds.
                lookup: lookup.clone(),
                map_type: *map_type,
                open: *open,
            },
            Shape::Map { values, map_type } => Shape::Map {
                values: edge(*values),
                map_type: *map_type,
            },
            Shape::List {
                items,
                merge,
                merge_key,
                list_type,
            } => Shape::List {
                items: edge(*items),
                merge: *merge,
                merge_key: merge_key.clone(),
                list_type: list_type.clone(),
            },
        }
    }
}

/// Interns types: index 0 is `Unknown`, 1 the anonymous scalar.
struct Builder {
    types: Vec<Type>,
}

impl Builder {
    fn new() -> Self {
        let anonymous = |shape| Type { name: None, shape };
        Builder {
            types: vec![anonymous(Shape::Unknown), anonymous(Shape::Scalar)],
        }
    }

    fn push(&mut self, name: Option<Box<str>>, shape: Shape) -> Result<u32, String> {
        let id = u32::try_from(self.types.len()).map_err(|_| "too many types".to_owned())?;
        self.types.push(Type { name, shape });
        Ok(id)
    }

    /// An edge to an anonymous node, sharing the unknown and scalar nodes.
    fn anonymous(&mut self, shape: Shape) -> Result<Edge, String> {
        let ty = match shape {
            Shape::Unknown => UNKNOWN,
            Shape::Scalar => SCALAR,
            shape => self.push(None, shape)?,
        };
        Ok(Edge::plain(ty))
    }

    fn finish(self, mut kinds: Vec<Root>) -> Schema {
        kinds.sort_by(|a, b| (&a.kind, &a.group, &a.version).cmp(&(&b.kind, &b.group, &b.version)));
        Schema {
            types: self.types,
            kinds,
        }
    }
}

/// The order of an object's field lookup: by length, then by bytes.
fn by_length(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn object(mut fields: Vec<Field>, map_type: MapType, open: bool) -> Result<Shape, String> {
    fields.sort_by(|a, b| a.name.cmp(&b.name));
    fields.dedup_by(|a, b| a.name == b.name);
    let count = u32::try_from(fields.len()).map_err(|_| "too many fields".to_owned())?;
    let mut lookup: Vec<u32> = (0..count).collect();
    lookup.sort_by(|&a, &b| by_length(&fields[a as usize].name, &fields[b as usize].name));
    Ok(Shape::Object {
        fields: fields.into_boxed_slice(),
        lookup: lookup.into_boxed_slice(),
        map_type,
        open,
    })
}

fn map_type(value: Option<&Value>, at: &str) -> Result<MapType, String> {
    match value.map(|v| v.as_str()) {
        None => Ok(MapType::Granular),
        Some(Some("granular")) => Ok(MapType::Granular),
        Some(Some("atomic")) => Ok(MapType::Atomic),
        Some(other) => Err(format!("{at}: map type {other:?}")),
    }
}

/// `list-type` with its keys, falling back on the patch strategy where it is absent (as
/// kube-openapi's schema conversion for server-side apply does).
fn listing(
    list_type: Option<&Value>,
    keys: Option<&Value>,
    merge: bool,
    merge_key: Option<&str>,
    at: &str,
) -> Result<Listing, String> {
    let list_type = match list_type {
        None => {
            return Ok(match (merge, merge_key) {
                (true, Some(key)) => Listing::Map(Box::new([key.to_owned()])),
                (true, None) => Listing::Set,
                (false, _) => Listing::Atomic,
            });
        }
        Some(value) => value.as_str(),
    };
    match list_type {
        Some("atomic") => Ok(Listing::Atomic),
        Some("set") => Ok(Listing::Set),
        Some("map") => {
            let keys = keys
                .and_then(Value::as_array)
                .filter(|keys| !keys.is_empty())
                .ok_or_else(|| format!("{at}: list type map without list-map-keys"))?;
            let keys = keys
                .iter()
                .map(|k| k.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("{at}: list-map-keys that are not strings"))?;
            Ok(Listing::Map(keys.into_boxed_slice()))
        }
        other => Err(format!("{at}: list type {other:?}")),
    }
}

fn as_object<'v>(value: &'v Value, at: &str) -> Result<&'v Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("{at}: expected an object"))
}

// ---- the generated table (tools/gen-patch-meta) -------------------------------------------

/// Reads the table written by `tools/gen-patch-meta/gen.py`.
fn load_table(text: &str) -> Result<Schema, String> {
    let table: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let types = as_object(&table["types"], "types")?;
    let mut builder = Builder::new();
    // Named types first, so refs resolve to indices whatever their order.
    let mut ids = HashMap::with_capacity(types.len());
    for name in types.keys() {
        let id = builder.push(Some(name.as_str().into()), Shape::Unknown)?;
        ids.insert(name.as_str(), id);
    }
    let mut table_reader = TableReader { builder, ids: &ids };
    for (name, shape) in types {
        let shape = table_reader.shape(shape, name)?;
        table_reader.builder.types[ids[name.as_str()] as usize].shape = shape;
    }

    let mut kinds = Vec::new();
    for (key, root) in as_object(&table["kinds"], "kinds")? {
        let (api_version, kind) = key
            .rsplit_once(' ')
            .ok_or_else(|| format!("kinds: {key:?} is not `apiVersion Kind`"))?;
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let ty = root
            .as_str()
            .and_then(|name| ids.get(name))
            .ok_or_else(|| format!("kinds: {key} names no type"))?;
        kinds.push(Root {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            ty: *ty,
        });
    }
    Ok(table_reader.builder.finish(kinds))
}

struct TableReader<'t> {
    builder: Builder,
    ids: &'t HashMap<&'t str, u32>,
}

impl TableReader<'_> {
    fn edge(&mut self, value: &Value, at: &str) -> Result<Edge, String> {
        let Some(name) = value.get("ref") else {
            let shape = self.shape(value, at)?;
            return self.builder.anonymous(shape);
        };
        let ty = name
            .as_str()
            .and_then(|name| self.ids.get(name))
            .ok_or_else(|| format!("{at}: ref {name} names no type"))?;
        let strategy = match value.get("patch-strategy").map(Value::as_str) {
            None => ObjectStrategy::Merge,
            Some(Some("retainKeys")) => ObjectStrategy::RetainKeys,
            Some(Some("replace")) => ObjectStrategy::Replace,
            Some(other) => return Err(format!("{at}: patch strategy {other:?} on an object")),
        };
        let map_type = match value.get("map-type") {
            None => None,
            marker => Some(map_type(marker, at)?),
        };
        Ok(Edge {
            ty: *ty,
            site: Site {
                strategy,
                map_type,
                builtin: false,
                list: None,
            },
        })
    }

    fn shape(&mut self, value: &Value, at: &str) -> Result<Shape, String> {
        if let Some(word) = value.as_str() {
            return match word {
                "scalar" => Ok(Shape::Scalar),
                "unknown" => Ok(Shape::Unknown),
                _ => Err(format!("{at}: unknown shape {word:?}")),
            };
        }
        let shape = as_object(value, at)?;
        if let Some(fields) = shape.get("fields") {
            let fields = as_object(fields, at)?
                .iter()
                .map(|(name, field)| {
                    let edge = self.edge(field, &format!("{at}.{name}"))?;
                    Ok(Field {
                        name: name.as_str().into(),
                        edge,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            return object(fields, map_type(shape.get("map-type"), at)?, false);
        }
        if let Some(values) = shape.get("values") {
            return Ok(Shape::Map {
                values: self.edge(values, &format!("{at}{{}}"))?,
                map_type: map_type(shape.get("map-type"), at)?,
            });
        }
        if let Some(items) = shape.get("items") {
            let mut items = self.edge(items, &format!("{at}[]"))?;
            let (merge, retain_keys) = match shape.get("patch-strategy").map(Value::as_str) {
                None | Some(Some("replace")) => (false, false),
                Some(Some("merge")) => (true, false),
                Some(Some("merge,retainKeys")) => (true, true),
                Some(other) => return Err(format!("{at}: patch strategy {other:?} on a list")),
            };
            if retain_keys {
                items.site.strategy = ObjectStrategy::RetainKeys;
            }
            let merge_key = shape.get("patch-merge-key").and_then(Value::as_str);
            let list_type = listing(
                shape.get("list-type"),
                shape.get("list-map-keys"),
                merge,
                merge_key,
                at,
            )?;
            return Ok(Shape::List {
                items,
                merge,
                merge_key: merge_key.map(Into::into),
                list_type,
            });
        }
        Err(format!(
            "{at}: a shape with neither fields, values nor items"
        ))
    }
}

// ---- CustomResourceDefinitions --------------------------------------------------------------

fn read_crd(crd: &Value) -> Result<Schema, String> {
    let is_crd = crd.get("apiVersion").and_then(Value::as_str) == Some("apiextensions.k8s.io/v1")
        && crd.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition");
    if !is_crd {
        return Err("not an apiextensions.k8s.io/v1 CustomResourceDefinition".to_owned());
    }
    let text = |pointer: &str| {
        crd.pointer(pointer)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("{} is missing", &pointer[1..].replace('/', ".")))
    };
    let group = text("/spec/group")?;
    let kind = text("/spec/names/kind")?;
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .filter(|v| !v.is_empty())
        .ok_or("spec.versions is missing")?;

    let object_meta = Schema::kubernetes()
        .types
        .iter()
        .position(|t| t.name.as_deref() == Some(OBJECT_META))
        .and_then(|i| u32::try_from(i).ok())
        .ok_or("the built-in table has no ObjectMeta")?;
    let mut reader = CrdReader {
        builder: Builder::new(),
        object_meta,
    };
    // The name the API server publishes the root under: reversed group, version, kind.
    let reversed: Vec<&str> = group.rsplit('.').collect();
    let mut kinds = Vec::new();
    for (i, version) in versions.iter().enumerate() {
        let at = format!("spec.versions[{i}]");
        let name = version
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}.name is missing"))?;
        if version.get("served").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let at = format!("spec.versions[{name}].schema.openAPIV3Schema");
        let root = version
            .pointer("/schema/openAPIV3Schema")
            .ok_or_else(|| format!("{at} is missing"))?;
        let shape = reader.shape(root, &at)?;
        let Shape::Object {
            fields,
            map_type,
            open,
            ..
        } = shape
        else {
            return Err(format!("{at}: the root is not an object"));
        };
        let fields = reader.resource_fields(fields.into_vec());
        let root_name = format!("{}.{name}.{kind}", reversed.join("."));
        let ty = reader
            .builder
            .push(Some(root_name.into()), object(fields, map_type, open)?)?;
        kinds.push(Root {
            group: group.into(),
            version: name.into(),
            kind: kind.into(),
            ty,
        });
    }
    Ok(reader.builder.finish(kinds))
}

struct CrdReader {
    builder: Builder,
    /// Index of ObjectMeta in [`Schema::kubernetes`].
    object_meta: u32,
}

impl CrdReader {
    fn edge(&mut self, value: &Value, at: &str) -> Result<Edge, String> {
        let shape = self.shape(value, at)?;
        self.builder.anonymous(shape)
    }

    /// `apiVersion`, `kind` and `metadata` of a resource (the root, an embedded resource).
    fn resource_fields(&self, mut fields: Vec<Field>) -> Vec<Field> {
        fields.retain(|f| !matches!(&*f.name, "apiVersion" | "kind" | "metadata"));
        let metadata = Edge {
            ty: self.object_meta,
            site: Site {
                builtin: true,
                ..Site::default()
            },
        };
        fields.extend([
            Field {
                name: "apiVersion".into(),
                edge: Edge::plain(SCALAR),
            },
            Field {
                name: "kind".into(),
                edge: Edge::plain(SCALAR),
            },
            Field {
                name: "metadata".into(),
                edge: metadata,
            },
        ]);
        fields
    }

    fn shape(&mut self, value: &Value, at: &str) -> Result<Shape, String> {
        let schema = as_object(value, at)?;
        let flag = |key: &str| schema.get(key).and_then(Value::as_bool) == Some(true);
        let preserve = flag("x-kubernetes-preserve-unknown-fields");
        let embedded = flag("x-kubernetes-embedded-resource");
        if flag("x-kubernetes-int-or-string") {
            return Ok(Shape::Scalar);
        }
        let declared = declared_type(schema, at)?;
        match declared {
            Some("string" | "integer" | "number" | "boolean") => Ok(Shape::Scalar),
            Some("array") => {
                let items = schema
                    .get("items")
                    .ok_or_else(|| format!("{at}: an array without items"))?;
                let items = self.edge(items, &format!("{at}.items"))?;
                let list_type = listing(
                    schema.get("x-kubernetes-list-type"),
                    schema.get("x-kubernetes-list-map-keys"),
                    false,
                    None,
                    at,
                )?;
                Ok(Shape::List {
                    items,
                    merge: false,
                    merge_key: None,
                    list_type,
                })
            }
            Some("object") => {
                let map_type = map_type(schema.get("x-kubernetes-map-type"), at)?;
                if let Some(properties) = schema.get("properties") {
                    let mut fields = Vec::new();
                    for (name, property) in as_object(properties, at)? {
                        let edge = self.edge(property, &format!("{at}.properties.{name}"))?;
                        fields.push(Field {
                            name: name.as_str().into(),
                            edge,
                        });
                    }
                    if embedded {
                        fields = self.resource_fields(fields);
                    }
                    return object(fields, map_type, preserve);
                }
                match schema.get("additionalProperties") {
                    Some(values @ Value::Object(_)) => Ok(Shape::Map {
                        values: self.edge(values, &format!("{at}.additionalProperties"))?,
                        map_type,
                    }),
                    Some(Value::Bool(true)) => Ok(Shape::Map {
                        values: Edge::plain(UNKNOWN),
                        map_type,
                    }),
                    _ if embedded => object(self.resource_fields(Vec::new()), map_type, preserve),
                    _ if preserve => Ok(Shape::Unknown),
                    // A structural schema prunes every field of an object that lists none.
                    _ => object(Vec::new(), map_type, false),
                }
            }
            None => Ok(Shape::Unknown),
            Some(other) => Err(format!("{at}: type {other:?}")),
        }
    }
}

// ---- OpenAPI v2 and v3 documents -------------------------------------------------------------

/// Where an OpenAPI document keeps its named schemas, and how its `$ref`s point at them.
#[derive(Clone, Copy)]
enum OpenApi {
    V2,
    V3,
}

impl OpenApi {
    fn definitions(self, document: &Value) -> Result<&Map<String, Value>, String> {
        let (pointer, what) = match self {
            OpenApi::V2 => ("/definitions", "definitions"),
            OpenApi::V3 => ("/components/schemas", "components.schemas"),
        };
        document
            .pointer(pointer)
            .and_then(Value::as_object)
            .ok_or_else(|| format!("{what} is missing or not an object"))
    }

    fn prefix(self) -> &'static str {
        match self {
            OpenApi::V2 => "#/definitions/",
            OpenApi::V3 => "#/components/schemas/",
        }
    }
}

/// Reads the definitions of `document`; a `$ref` the document does not define is looked up in
/// `base`, when given, and what it names copied in.
fn read_openapi<'d>(
    document: &'d Value,
    flavour: OpenApi,
    base: Option<&'d Schema>,
) -> Result<Schema, String> {
    let definitions = flavour.definitions(document)?;
    let mut builder = Builder::new();
    let mut ids = HashMap::with_capacity(definitions.len());
    for name in definitions.keys() {
        let id = builder.push(Some(name.as_str().into()), Shape::Unknown)?;
        ids.insert(name.as_str(), id);
    }
    let mut reader = OpenApiReader {
        builder,
        ids: &ids,
        definitions,
        prefix: flavour.prefix(),
        base: base.map(|schema| Import {
            base: schema,
            by_name: HashMap::new(),
            copied: HashMap::new(),
        }),
    };
    let mut kinds = Vec::new();
    for (name, definition) in definitions {
        let shape = reader.definition(definition, name, 0)?;
        reader.builder.types[ids[name.as_str()] as usize].shape = shape;
        let Some(gvks) = definition.get("x-kubernetes-group-version-kind") else {
            continue;
        };
        for gvk in gvks
            .as_array()
            .ok_or_else(|| format!("{name}: x-kubernetes-group-version-kind is not a list"))?
        {
            let text = |key: &str| {
                gvk.get(key).and_then(Value::as_str).ok_or_else(|| {
                    format!("{name}: x-kubernetes-group-version-kind without a {key}")
                })
            };
            kinds.push(Root {
                group: text("group")?.into(),
                version: text("version")?.into(),
                kind: text("kind")?.into(),
                ty: ids[name.as_str()],
            });
        }
    }
    Ok(reader.builder.finish(kinds))
}

/// The patch and apply markers written on one schema node.
struct Markers<'v> {
    /// `x-kubernetes-patch-strategy` contains `merge`.
    merge: bool,
    /// … contains `retainKeys`.
    retain_keys: bool,
    /// … is `replace`.
    replace: bool,
    merge_key: Option<&'v str>,
    map_type: Option<MapType>,
}

impl<'v> Markers<'v> {
    fn read(node: &'v Value, at: &str) -> Result<Self, String> {
        let mut markers = Markers {
            merge: false,
            retain_keys: false,
            replace: false,
            merge_key: None,
            map_type: None,
        };
        if let Some(strategy) = node.get("x-kubernetes-patch-strategy") {
            let strategy = strategy
                .as_str()
                .ok_or_else(|| format!("{at}: a patch strategy that is not a string"))?;
            for word in strategy.split(',') {
                match word {
                    "merge" => markers.merge = true,
                    "retainKeys" => markers.retain_keys = true,
                    "replace" => markers.replace = true,
                    _ => return Err(format!("{at}: patch strategy {strategy:?}")),
                }
            }
            if markers.replace && (markers.merge || markers.retain_keys) {
                return Err(format!("{at}: patch strategy {strategy:?}"));
            }
        }
        if let Some(key) = node.get("x-kubernetes-patch-merge-key") {
            markers.merge_key = Some(
                key.as_str()
                    .ok_or_else(|| format!("{at}: a patch merge key that is not a string"))?,
            );
        }
        if let Some(marker) = node.get("x-kubernetes-map-type") {
            markers.map_type = Some(map_type(Some(marker), at)?);
        }
        Ok(markers)
    }

    /// What the markers say about an object reached through this node.
    fn object_strategy(&self) -> ObjectStrategy {
        if self.replace {
            ObjectStrategy::Replace
        } else if self.retain_keys {
            ObjectStrategy::RetainKeys
        } else {
            ObjectStrategy::Merge
        }
    }
}

struct OpenApiReader<'d> {
    builder: Builder,
    ids: &'d HashMap<&'d str, u32>,
    definitions: &'d Map<String, Value>,
    prefix: &'static str,
    /// Where a `$ref` the document does not define is resolved, if anywhere.
    base: Option<Import<'d>>,
}

/// What a `$ref` names.
enum Target<'d> {
    /// A definition of the document.
    Document(&'d str, &'d Value),
    /// A type of the base schema, already copied into the table being built, at this index.
    Base(u32),
}

/// Copies types of a base [`Schema`] into the table of the schema being built, each once.
struct Import<'d> {
    base: &'d Schema,
    /// Definition names already resolved in `base`, with the index of their copy.
    by_name: HashMap<&'d str, u32>,
    /// Index in `base` → index of its copy.
    copied: HashMap<u32, u32>,
}

impl<'d> Import<'d> {
    /// The copy of the type `base` names `name`, copied on first use; `None` if `base` has
    /// no type of that name.
    fn named(&mut self, builder: &mut Builder, name: &'d str) -> Result<Option<u32>, String> {
        if let Some(&ty) = self.by_name.get(name) {
            return Ok(Some(ty));
        }
        // A linear search, as `Schema::definition` does, made once per name (`by_name`).
        let Some(index) = self
            .base
            .types
            .iter()
            .position(|t| t.name.as_deref() == Some(name))
        else {
            return Ok(None);
        };
        let index = u32::try_from(index).map_err(|_| "too many types".to_owned())?;
        let ty = self.copy(builder, index)?;
        self.by_name.insert(name, ty);
        Ok(Some(ty))
    }

    /// Copies the type at `root` in `base` and every type it reaches, markers and all, into
    /// `builder`, sharing what earlier copies brought in; the index of the copy of `root`.
    fn copy(&mut self, builder: &mut Builder, root: u32) -> Result<u32, String> {
        // First a slot for each type not yet copied, so that edges (cycles included) can be
        // rewritten to the new indices; then the shapes, rewritten.
        let start = builder.types.len();
        let mut found: Vec<&'d Type> = Vec::new();
        let mut pending = vec![root];
        while let Some(index) = pending.pop() {
            if index <= SCALAR || self.copied.contains_key(&index) {
                continue;
            }
            let ty = self
                .base
                .types
                .get(index as usize)
                .ok_or_else(|| format!("the base schema has no type {index}"))?;
            let id = builder.push(ty.name.clone(), Shape::Unknown)?;
            self.copied.insert(index, id);
            found.push(ty);
            for edge in ty.shape.edges() {
                // An edge into the built-in table stays one: it resolves there as in `base`.
                if !edge.site.builtin {
                    pending.push(edge.ty);
                    pending.extend(edge.site.list);
                }
            }
        }
        for (slot, ty) in builder.types[start..].iter_mut().zip(found) {
            slot.shape = ty.shape.duplicate(|edge| self.edge(edge));
        }
        Ok(self.index(root))
    }

    /// The index of the copy of the type at `index` in `base`.
    fn index(&self, index: u32) -> u32 {
        if index <= SCALAR {
            return index;
        }
        // Every index reached has been copied; `Unknown` is never needed.
        self.copied.get(&index).copied().unwrap_or(UNKNOWN)
    }

    /// An edge of `base`, pointing at the copies.
    fn edge(&self, edge: Edge) -> Edge {
        if edge.site.builtin {
            return edge;
        }
        Edge {
            ty: self.index(edge.ty),
            site: Site {
                list: edge.site.list.map(|list| self.index(list)),
                ..edge.site
            },
        }
    }
}

/// Definitions that are only a `$ref` to another one are followed this deep at most.
const MAX_ALIASES: usize = 16;

impl<'d> OpenApiReader<'d> {
    /// The definition a `$ref` names: the document's own, else a copy of the base schema's.
    fn target(&mut self, reference: &'d Value, at: &str) -> Result<Target<'d>, String> {
        let name = reference
            .as_str()
            .and_then(|r| r.strip_prefix(self.prefix))
            .ok_or_else(|| format!("{at}: $ref {reference} is not under {}", self.prefix))?;
        if let Some((name, definition)) = self.definitions.get_key_value(name) {
            return Ok(Target::Document(name.as_str(), definition));
        }
        if let Some(base) = &mut self.base
            && let Some(ty) = base.named(&mut self.builder, name)?
        {
            return Ok(Target::Base(ty));
        }
        Err(format!("{at}: $ref {reference} names no definition"))
    }

    /// The shape of a named definition.
    fn definition(&mut self, node: &'d Value, at: &str, depth: usize) -> Result<Shape, String> {
        let target = first_of_all_of(node);
        if let Some(reference) = target.get("$ref") {
            // An alias: read the shape of what it names.
            if depth >= MAX_ALIASES {
                return Err(format!("{at}: $ref aliases nested too deep"));
            }
            return match self.target(reference, at)? {
                Target::Document(name, definition) => self.definition(definition, name, depth + 1),
                // An alias of a base type: the same shape, over the same copies.
                Target::Base(ty) => Ok(self.builder.types[ty as usize].shape.duplicate(|e| e)),
            };
        }
        let markers = Markers::read(target, at)?;
        self.shape(target, &markers, at)
    }

    /// The edge of a property, an array's items or a map's values.
    fn edge(&mut self, node: &'d Value, at: &str) -> Result<Edge, String> {
        // Markers sit on the node itself, also when it wraps its reference in `allOf`.
        let markers = Markers::read(node, at)?;
        let target = first_of_all_of(node);
        let Some(reference) = target.get("$ref") else {
            let shape = self.shape(target, &markers, at)?;
            let is_object = matches!(shape, Shape::Object { .. } | Shape::Map { .. });
            let mut edge = self.builder.anonymous(shape)?;
            if is_object {
                edge.site.strategy = markers.object_strategy();
                edge.site.map_type = markers.map_type;
            }
            return Ok(edge);
        };
        let ty = match self.target(reference, at)? {
            Target::Document(name, definition) => {
                if first_of_all_of(definition)
                    .get("type")
                    .and_then(Value::as_str)
                    == Some("array")
                {
                    // A named list type: the markers of this use make a list of their own.
                    let shape = self.list(first_of_all_of(definition), &markers, at)?;
                    return self.builder.anonymous(shape);
                }
                self.ids[name]
            }
            Target::Base(ty) => {
                if let Some(shape) = self.base_list(ty, &markers, at)? {
                    return self.builder.anonymous(shape);
                }
                ty
            }
        };
        let mut site = Site {
            strategy: markers.object_strategy(),
            map_type: markers.map_type,
            ..Site::default()
        };
        if markers.merge {
            // A list written here merges as a list of this type, by the same markers.
            let items = Edge {
                ty,
                site: Site {
                    strategy: if markers.retain_keys {
                        ObjectStrategy::RetainKeys
                    } else {
                        ObjectStrategy::Merge
                    },
                    ..Site::default()
                },
            };
            let list_type = listing(None, None, true, markers.merge_key, at)?;
            let list = self.builder.push(
                None,
                Shape::List {
                    items,
                    merge: true,
                    merge_key: markers.merge_key.map(Into::into),
                    list_type,
                },
            )?;
            site.list = Some(list);
        }
        Ok(Edge { ty, site })
    }

    fn shape(&mut self, node: &'d Value, markers: &Markers<'d>, at: &str) -> Result<Shape, String> {
        let schema = as_object(node, at)?;
        let flag = |key: &str| schema.get(key).and_then(Value::as_bool) == Some(true);
        if flag("x-kubernetes-int-or-string") {
            return Ok(Shape::Scalar);
        }
        let declared = declared_type(schema, at)?;
        let properties = schema.get("properties");
        match declared {
            Some("array") => self.list(node, markers, at),
            None | Some("object") if properties.is_some() => {
                let properties = properties
                    .and_then(Value::as_object)
                    .ok_or_else(|| format!("{at}: properties is not an object"))?;
                let mut fields = Vec::with_capacity(properties.len());
                for (name, property) in properties {
                    let edge = self.edge(property, &format!("{at}.{name}"))?;
                    fields.push(Field {
                        name: name.as_str().into(),
                        edge,
                    });
                }
                let map_type = map_type(schema.get("x-kubernetes-map-type"), at)?;
                object(
                    fields,
                    map_type,
                    flag("x-kubernetes-preserve-unknown-fields"),
                )
            }
            Some("object") => {
                let values = match schema.get("additionalProperties") {
                    Some(values @ Value::Object(_)) => {
                        self.edge(values, &format!("{at}.additionalProperties"))?
                    }
                    _ => Edge::plain(UNKNOWN),
                };
                Ok(Shape::Map {
                    values,
                    map_type: map_type(schema.get("x-kubernetes-map-type"), at)?,
                })
            }
            // Neither a type nor properties: anything at all.
            None => Ok(Shape::Unknown),
            Some(_) => Ok(Shape::Scalar),
        }
    }

    /// A named list type of the base schema, used where this use writes patch markers: a list
    /// of its own, as for a named list of the document, with the SSA list type of the base
    /// unless that is atomic, in which case the markers decide as where none is written.
    /// `None` where the base's list is used as it is.
    fn base_list(&self, ty: u32, markers: &Markers<'d>, at: &str) -> Result<Option<Shape>, String> {
        let Some(Type {
            shape: Shape::List {
                items, list_type, ..
            },
            ..
        }) = self.builder.types.get(ty as usize)
        else {
            return Ok(None);
        };
        if !(markers.merge || markers.retain_keys || markers.replace || markers.merge_key.is_some())
        {
            return Ok(None);
        }
        let mut items = *items;
        if markers.retain_keys {
            items.site.strategy = ObjectStrategy::RetainKeys;
        }
        let list_type = match list_type {
            Listing::Atomic => listing(None, None, markers.merge, markers.merge_key, at)?,
            other => other.clone(),
        };
        Ok(Some(Shape::List {
            items,
            merge: markers.merge,
            merge_key: markers.merge_key.map(Into::into),
            list_type,
        }))
    }

    fn list(&mut self, node: &'d Value, markers: &Markers<'d>, at: &str) -> Result<Shape, String> {
        let mut items = match node.get("items") {
            Some(items @ Value::Object(_)) => self.edge(items, &format!("{at}.items"))?,
            None => Edge::plain(UNKNOWN),
            Some(_) => return Err(format!("{at}: items is not a schema")),
        };
        if markers.retain_keys {
            items.site.strategy = ObjectStrategy::RetainKeys;
        }
        let list_type = listing(
            node.get("x-kubernetes-list-type"),
            node.get("x-kubernetes-list-map-keys"),
            markers.merge,
            markers.merge_key,
            at,
        )?;
        Ok(Shape::List {
            items,
            merge: markers.merge,
            merge_key: markers.merge_key.map(Into::into),
            list_type,
        })
    }
}

/// `allOf: [first, …]` read as its first entry (as apimachinery resolves v3 references).
fn first_of_all_of(node: &Value) -> &Value {
    match node.get("allOf").and_then(Value::as_array) {
        Some(all) if !all.is_empty() => &all[0],
        _ => node,
    }
}

/// The `type` an OpenAPI schema declares, if any.
fn declared_type<'a>(
    schema: &'a serde_json::Map<String, Value>,
    at: &str,
) -> Result<Option<&'a str>, String> {
    match schema.get("type") {
        None => Ok(None),
        Some(Value::String(t)) => Ok(Some(t.as_str())),
        Some(other) => Err(format!("{at}: type {other}")),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::{Value, json};

    use super::{ListStrategy, ListType, ObjectStrategy, Schema, TypeKind, TypeRef};
    use crate::Error;

    const POD_TEMPLATE_SPEC: &str = "io.k8s.api.core.v1.PodTemplateSpec";

    /// A custom kind whose `spec.template` is a PodTemplateSpec the document does not define.
    fn deployment_config() -> Value {
        json!({
            "swagger": "2.0",
            "definitions": {
                "com.github.openshift.api.apps.v1.DeploymentConfig": {
                    "properties": {
                        "metadata": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
                        "spec": {"$ref": "#/definitions/com.github.openshift.api.apps.v1.DeploymentConfigSpec"}
                    },
                    "x-kubernetes-group-version-kind": [
                        {"group": "apps.openshift.io", "version": "v1", "kind": "DeploymentConfig"}
                    ]
                },
                "com.github.openshift.api.apps.v1.DeploymentConfigSpec": {
                    "properties": {
                        "replicas": {"type": "integer"},
                        "template": {"$ref": "#/definitions/io.k8s.api.core.v1.PodTemplateSpec"},
                        "selector": {"type": "object", "additionalProperties": {"type": "string"}}
                    }
                },
                "com.github.openshift.api.apps.v1.DeploymentConfigList": {
                    "properties": {
                        "metadata": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"},
                        "items": {
                            "type": "array",
                            "items": {"$ref": "#/definitions/com.github.openshift.api.apps.v1.DeploymentConfig"}
                        }
                    }
                }
            }
        })
    }

    fn reason(result: Result<Schema, Error>) -> String {
        match result {
            Err(Error::InvalidOpenApi { reason }) => reason,
            Err(other) => panic!("another error: {other}"),
            Ok(_) => panic!("read"),
        }
    }

    /// Walks two types side by side and asserts that they merge alike everywhere below.
    fn assert_alike(
        left: TypeRef<'_>,
        right: TypeRef<'_>,
        at: &str,
        seen: &mut HashSet<(u32, u32)>,
    ) {
        assert_eq!(left.kind(), right.kind(), "{at}: kind");
        assert_eq!(left.name(), right.name(), "{at}: name");
        assert_eq!(left.list(), right.list(), "{at}: list");
        assert_eq!(left.object(), right.object(), "{at}: object");
        assert_eq!(left.site.builtin, right.site.builtin, "{at}: builtin");
        match (left.as_list(), right.as_list()) {
            (Some(l), Some(r)) => assert_alike(l, r, &format!("{at}(as list)"), seen),
            (None, None) => {}
            _ => panic!("{at}: as_list differs"),
        }
        if !seen.insert((left.ty, right.ty)) {
            return;
        }
        let left_fields: Vec<_> = left.fields().collect();
        let right_fields: Vec<_> = right.fields().collect();
        assert_eq!(left_fields.len(), right_fields.len(), "{at}: fields");
        for ((l_name, l), (r_name, r)) in left_fields.into_iter().zip(right_fields) {
            assert_eq!(l_name, r_name, "{at}: field names");
            assert_alike(l, r, &format!("{at}.{l_name}"), seen);
        }
        if left.kind() == TypeKind::Unknown {
            return;
        }
        match (left.items(), right.items()) {
            (Some(l), Some(r)) => assert_alike(l, r, &format!("{at}[]"), seen),
            (None, None) => {}
            _ => panic!("{at}: items differ"),
        }
        match (left.values(), right.values()) {
            (Some(l), Some(r)) => assert_alike(l, r, &format!("{at}{{}}"), seen),
            (None, None) => {}
            _ => panic!("{at}: values differ"),
        }
    }

    #[test]
    fn a_missing_ref_is_refused_without_a_base() {
        let reason = reason(Schema::from_openapi_v2(&deployment_config()));
        assert!(reason.contains("names no definition"), "{reason}");
    }

    #[test]
    fn a_missing_ref_is_resolved_in_the_base() {
        let schema = Schema::from_openapi_v2_over(&deployment_config(), Schema::kubernetes())
            .expect("resolved in the built-in table");
        let config = schema
            .for_kind("apps.openshift.io", "v1", "DeploymentConfig")
            .expect("a root");
        let template = config.pointer("/spec/template").expect("template");
        assert_eq!(template.name(), Some(POD_TEMPLATE_SPEC));

        let containers = template
            .pointer("/spec/containers")
            .and_then(|t| t.list())
            .expect("a list");
        assert_eq!(
            containers.strategy,
            ListStrategy::Merge { key: Some("name") }
        );
        assert_eq!(
            containers.list_type,
            ListType::Map {
                keys: &["name".into()]
            }
        );
        let volumes = template.pointer("/spec/volumes").expect("volumes");
        assert_eq!(
            volumes.list().map(|l| l.strategy),
            Some(ListStrategy::Merge { key: Some("name") })
        );
        assert_eq!(
            volumes.items().and_then(|t| t.object()).map(|o| o.strategy),
            Some(ObjectStrategy::RetainKeys)
        );
        let ports = template
            .pointer("/spec/containers/0/ports")
            .and_then(|t| t.list())
            .expect("a list");
        assert_eq!(
            ports.strategy,
            ListStrategy::Merge {
                key: Some("containerPort")
            }
        );
        assert_eq!(
            config
                .pointer("/metadata/finalizers")
                .and_then(|t| t.list())
                .map(|l| l.strategy),
            Some(ListStrategy::Merge { key: None })
        );

        // The copies are the schema's own, and merge as the built-in types do throughout.
        assert!(std::ptr::eq(template.schema, &schema));
        let built_in = Schema::kubernetes()
            .definition(POD_TEMPLATE_SPEC)
            .expect("built in");
        assert_alike(template, built_in, "template", &mut HashSet::new());
        let pod = Schema::kubernetes()
            .for_kind("", "v1", "Pod")
            .expect("built in");
        assert_alike(
            template.field("spec").expect("spec"),
            pod.field("spec").expect("spec"),
            "spec",
            &mut HashSet::new(),
        );
    }

    #[test]
    fn only_the_documents_kinds_and_each_type_copied_once() {
        let schema = Schema::from_openapi_v2_over(&deployment_config(), Schema::kubernetes())
            .expect("resolved");
        let kinds: Vec<_> = schema.kinds().map(|k| k.kind).collect();
        assert_eq!(kinds, ["DeploymentConfig"]);
        assert!(schema.for_kind("", "v1", "Pod").is_none());
        // ObjectMeta is referred to by the document and by PodTemplateSpec: one copy.
        let named = |name: &str| {
            schema
                .types
                .iter()
                .filter(|t| t.name.as_deref() == Some(name))
                .count()
        };
        assert_eq!(named("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1);
        assert_eq!(named("io.k8s.api.core.v1.Container"), 1);
        assert_eq!(named("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"), 1);
        assert!(schema.types.len() < Schema::kubernetes().types.len());
        assert!(schema.definition(POD_TEMPLATE_SPEC).is_some());
    }

    #[test]
    fn a_ref_missing_from_both_is_named() {
        let mut document = deployment_config();
        document["definitions"]["com.github.openshift.api.apps.v1.DeploymentConfigSpec"]["properties"]
            ["triggers"] = json!({
            "type": "array",
            "items": {"$ref": "#/definitions/com.github.openshift.api.apps.v1.DeploymentTriggerPolicy"}
        });
        let reason = reason(Schema::from_openapi_v2_over(
            &document,
            Schema::kubernetes(),
        ));
        assert!(
            reason.contains("com.github.openshift.api.apps.v1.DeploymentTriggerPolicy"),
            "{reason}"
        );
        assert!(reason.contains("names no definition"), "{reason}");
    }

    #[test]
    fn the_document_wins_over_the_base() {
        let mut document = deployment_config();
        // The document's own PodTemplateSpec: a map, nothing like the built-in one.
        document["definitions"][POD_TEMPLATE_SPEC] = json!({"type": "object"});
        let schema = Schema::from_openapi_v2_over(&document, Schema::kubernetes()).expect("read");
        let config = schema
            .for_kind("apps.openshift.io", "v1", "DeploymentConfig")
            .expect("a root");
        let template = config.pointer("/spec/template").expect("template");
        assert_eq!(template.kind(), TypeKind::Map);
        assert_eq!(
            schema.definition(POD_TEMPLATE_SPEC).map(|t| t.kind()),
            Some(TypeKind::Map)
        );
    }

    #[test]
    fn markers_on_the_use_site_and_aliases_of_base_types() {
        let document = json!({
            "swagger": "2.0",
            "definitions": {
                "com.example.v1.Widget": {
                    "properties": {
                        "rollout": {
                            "$ref": "#/definitions/io.k8s.api.apps.v1.DeploymentStrategy",
                            "x-kubernetes-patch-strategy": "replace"
                        },
                        "container": {
                            "$ref": "#/definitions/io.k8s.api.core.v1.Container",
                            "x-kubernetes-patch-strategy": "merge",
                            "x-kubernetes-patch-merge-key": "name"
                        },
                        "template": {"$ref": "#/definitions/com.example.v1.Template"}
                    },
                    "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "Widget"}]
                },
                "com.example.v1.Template": {"$ref": "#/definitions/io.k8s.api.core.v1.PodTemplateSpec"}
            }
        });
        let schema = Schema::from_openapi_v2_over(&document, Schema::kubernetes()).expect("read");
        let widget = schema
            .for_kind("example.com", "v1", "Widget")
            .expect("a root");
        assert_eq!(
            widget
                .field("rollout")
                .and_then(|t| t.object())
                .map(|o| o.strategy),
            Some(ObjectStrategy::Replace)
        );
        let as_list = widget
            .field("container")
            .and_then(|t| t.as_list())
            .and_then(|t| t.list())
            .expect("a list where one container is declared");
        assert_eq!(as_list.strategy, ListStrategy::Merge { key: Some("name") });

        let template = widget.field("template").expect("template");
        assert_eq!(template.name(), Some("com.example.v1.Template"));
        let built_in = Schema::kubernetes()
            .definition(POD_TEMPLATE_SPEC)
            .expect("built in");
        assert_eq!(
            template.fields().map(|(name, _)| name).collect::<Vec<_>>(),
            built_in.fields().map(|(name, _)| name).collect::<Vec<_>>()
        );
        assert_alike(
            template.field("spec").expect("spec"),
            built_in.field("spec").expect("spec"),
            "spec",
            &mut HashSet::new(),
        );
    }

    #[test]
    fn recursive_types_are_copied() {
        let document = json!({
            "openapi": "3.0.0",
            "components": {"schemas": {
                "com.example.v1.Shape": {
                    "type": "object",
                    "properties": {"schema": {
                        "allOf": [{"$ref": "#/components/schemas/io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"}]
                    }},
                    "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "Shape"}]
                }
            }}
        });
        assert!(Schema::from_openapi_v3(&document).is_err());
        let schema = Schema::from_openapi_v3_over(&document, Schema::kubernetes()).expect("read");
        let shape = schema
            .for_kind("example.com", "v1", "Shape")
            .expect("a root");
        let deep = shape
            .pointer("/schema/properties/a/properties/b/items")
            .expect("deep");
        assert_eq!(
            deep.name(),
            Some("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray")
        );
    }

    #[test]
    fn a_base_with_edges_into_the_built_in_table() {
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "names": {"kind": "Widget", "plural": "widgets"},
                "scope": "Namespaced",
                "versions": [{"name": "v1", "served": true, "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {"type": "object", "properties": {"ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["port"],
                        "items": {"type": "object", "properties": {"port": {"type": "integer"}}}
                    }}}}
                }}}]
            }
        });
        let base = Schema::from_crd(&crd).expect("a CRD");
        let document = json!({
            "swagger": "2.0",
            "definitions": {
                "com.example.v1.WidgetSet": {
                    "properties": {"widgets": {
                        "type": "array",
                        "items": {"$ref": "#/definitions/com.example.v1.Widget"}
                    }},
                    "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "WidgetSet"}]
                }
            }
        });
        let schema = Schema::from_openapi_v2_over(&document, &base).expect("read");
        let set = schema
            .for_kind("example.com", "v1", "WidgetSet")
            .expect("a root");
        let widget = set.pointer("/widgets/0").expect("a widget");
        let in_base = base
            .for_kind("example.com", "v1", "Widget")
            .expect("a root");
        assert_alike(widget, in_base, "widget", &mut HashSet::new());
        assert_eq!(
            widget
                .pointer("/metadata/finalizers")
                .and_then(|t| t.list())
                .map(|l| l.strategy),
            Some(ListStrategy::Merge { key: None })
        );
    }

    #[test]
    fn a_named_list_of_the_base_takes_the_markers_of_its_use() {
        let base = Schema::from_openapi_v2(&json!({
            "swagger": "2.0",
            "definitions": {
                "com.example.v1.Parts": {"type": "array", "items": {"$ref": "#/definitions/com.example.v1.Part"}},
                "com.example.v1.Part": {"properties": {"name": {"type": "string"}}}
            }
        }))
        .expect("a base");
        let document = json!({
            "swagger": "2.0",
            "definitions": {
                "com.example.v1.Widget": {
                    "properties": {
                        "parts": {
                            "$ref": "#/definitions/com.example.v1.Parts",
                            "x-kubernetes-patch-strategy": "merge",
                            "x-kubernetes-patch-merge-key": "name"
                        },
                        "spares": {"$ref": "#/definitions/com.example.v1.Parts"}
                    },
                    "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "Widget"}]
                }
            }
        });
        let schema = Schema::from_openapi_v2_over(&document, &base).expect("read");
        let widget = schema
            .for_kind("example.com", "v1", "Widget")
            .expect("a root");
        let parts = widget
            .field("parts")
            .and_then(|t| t.list())
            .expect("a list");
        assert_eq!(parts.strategy, ListStrategy::Merge { key: Some("name") });
        assert_eq!(
            parts.list_type,
            ListType::Map {
                keys: &["name".into()]
            }
        );
        let spares = widget.field("spares").expect("a list");
        assert_eq!(
            spares.list().map(|l| l.strategy),
            Some(ListStrategy::Replace)
        );
        assert_eq!(
            spares.items().and_then(|t| t.name()),
            Some("com.example.v1.Part")
        );
    }
}
