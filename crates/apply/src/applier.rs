//! The [`Applier`] trait: one way of making a live object what git says.

use std::fmt;

use async_trait::async_trait;
use converge_core::ObjectRef;
use kube::api::{Api, ApiResource, DynamicObject};
use serde_json::Value;

use crate::Error;

/// What to apply, and where: the object as rendered from git, the live object as last
/// listed (or `None`), and the API resource that serves its kind.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ApplyRequest<'a> {
    /// The desired object: `apiVersion`, `kind`, `metadata.name` and what it sets.
    pub desired: &'a Value,
    /// The live object, as the cluster last returned it; `None` when it does not exist.
    pub live: Option<&'a Value>,
    /// The resource serving the kind (from discovery): group, version, kind, plural.
    pub resource: &'a ApiResource,
    /// The namespace to apply in, for a namespaced kind; `None` for cluster-scoped kinds.
    pub namespace: Option<&'a str>,
    /// Ask the server to validate and compute the result, and store nothing (`dryRun=All`).
    pub dry_run: bool,
}

impl<'a> ApplyRequest<'a> {
    /// A request to apply `desired` (and find it absent, or as `live`) through `resource`.
    ///
    /// ```
    /// use converge_apply::ApplyRequest;
    /// use kube::api::{ApiResource, GroupVersionKind};
    /// use serde_json::json;
    ///
    /// let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"));
    /// let desired = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web"}});
    /// let request = ApplyRequest::new(&desired, None, &resource).namespace(Some("prod")).dry_run(true);
    /// assert_eq!(request.object().to_string(), "v1 ConfigMap prod/web");
    /// ```
    pub fn new(desired: &'a Value, live: Option<&'a Value>, resource: &'a ApiResource) -> Self {
        ApplyRequest {
            desired,
            live,
            resource,
            namespace: None,
            dry_run: false,
        }
    }

    /// Applies in `namespace` (for namespaced kinds).
    pub fn namespace(mut self, namespace: Option<&'a str>) -> Self {
        self.namespace = namespace;
        self
    }

    /// Stores nothing: the server validates and returns what it would store.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// The object's identity, for progress and errors.
    pub fn object(&self) -> ObjectRef {
        ObjectRef::new(
            self.resource.group.as_str(),
            self.resource.version.as_str(),
            self.resource.kind.as_str(),
            self.namespace,
            self.name().unwrap_or("(unnamed)"),
        )
    }

    /// The desired object's `metadata.name`.
    pub fn name(&self) -> Option<&'a str> {
        self.desired
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
    }

    /// The name, or an error saying the object has none.
    pub(crate) fn required_name(&self) -> Result<&'a str, Error> {
        self.name().ok_or_else(|| Error::Invalid {
            object: self.object().to_string(),
            reason: "metadata.name is missing".to_owned(),
        })
    }

    /// The dynamic API of the object's resource, in its namespace.
    pub(crate) fn api(&self, client: &kube::Client) -> Api<DynamicObject> {
        match self.namespace {
            Some(namespace) => Api::namespaced_with(client.clone(), namespace, self.resource),
            None => Api::all_with(client.clone(), self.resource),
        }
    }

    /// An API error, naming the object.
    pub(crate) fn failed(&self, source: kube::Error) -> Error {
        Error::Api {
            object: self.object().to_string(),
            source: Box::new(source),
        }
    }
}

/// What an apply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The object did not exist and was created.
    Created,
    /// The object existed and changed.
    Updated,
    /// The object already was as desired: nothing changed (and, where the strategy can tell
    /// beforehand, nothing was sent).
    Unchanged,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
        })
    }
}

/// The result of an apply: the object as the server returned it (or, for a dry run, as it
/// would store it), and what happened.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Applied {
    /// The object.
    pub object: Value,
    /// Created, updated or unchanged.
    pub outcome: Outcome,
}

impl Applied {
    /// The result `object` and its outcome, judged against `live`: created when there was no
    /// live object, unchanged when nothing but server bookkeeping differs.
    pub(crate) fn judged(object: Value, live: Option<&Value>) -> Applied {
        let outcome = match live {
            None => Outcome::Created,
            Some(live) if same(live, &object) => Outcome::Unchanged,
            Some(_) => Outcome::Updated,
        };
        Applied { object, outcome }
    }
}

/// True when two versions of an object differ only in what the server keeps track of
/// (`resourceVersion`, `managedFields`).
pub(crate) fn same(a: &Value, b: &Value) -> bool {
    fn strip(object: &Value) -> Value {
        let mut object = object.clone();
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.remove("resourceVersion");
            metadata.remove("managedFields");
        }
        object
    }
    strip(a) == strip(b)
}

/// One way of making a live object what git says: server-side apply, client-side apply,
/// replace, create-only — or a strategy of your own.
///
/// Implementations are object-safe (`Box<dyn Applier>`), and prove themselves with the
/// shared conformance suite (the `conformance` feature: `conformance::check`).
///
/// ```no_run
/// use converge_apply::{Applier, ApplyRequest, ServerSideApply};
/// use kube::api::{ApiResource, GroupVersionKind};
/// use serde_json::json;
///
/// # async fn run(client: kube::Client) -> Result<(), converge_apply::Error> {
/// let applier: Box<dyn Applier> = Box::new(ServerSideApply::new("converge"));
/// let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"));
/// let desired = json!({"apiVersion": "v1", "kind": "ConfigMap",
///     "metadata": {"name": "web"}, "data": {"color": "blue"}});
/// let request = ApplyRequest::new(&desired, None, &resource).namespace(Some("default"));
/// let applied = applier.apply(&client, &request).await?;
/// println!("{} {}", request.object(), applied.outcome);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait Applier: Send + Sync + fmt::Debug {
    /// A short name for progress and errors: `server-side`, `client-side`, `replace`,
    /// `create-only`.
    fn name(&self) -> &str;

    /// Makes the live object what `request.desired` says, or, with `request.dry_run`, says
    /// what the server would store.
    ///
    /// # Errors
    /// [`Error`], naming the object: the server's refusal (a conflict, an invalid field), or
    /// an object that cannot be applied.
    async fn apply(
        &self,
        client: &kube::Client,
        request: &ApplyRequest<'_>,
    ) -> Result<Applied, Error>;
}

/// A boxed strategy is a strategy: pick one at run time (`Box<dyn Applier>`) and hand it to
/// the [`Engine`](crate::Engine).
#[async_trait]
impl<A: Applier + ?Sized> Applier for Box<A> {
    fn name(&self) -> &str {
        (**self).name()
    }

    async fn apply(
        &self,
        client: &kube::Client,
        request: &ApplyRequest<'_>,
    ) -> Result<Applied, Error> {
        (**self).apply(client, request).await
    }
}
