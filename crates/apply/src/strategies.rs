//! The four built-in strategies: server-side apply, client-side three-way apply, replace and
//! create-only.

use async_trait::async_trait;
use converge_diff::schema::Schema;
use converge_diff::{PatchType, three_way, with_last_applied};
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::Value;

use crate::Error;
use crate::applier::{Applied, Applier, ApplyRequest, Outcome};

/// The object as JSON, as the server returned it.
fn to_value(request: &ApplyRequest<'_>, object: DynamicObject) -> Result<Value, Error> {
    serde_json::to_value(object).map_err(|e| Error::Invalid {
        object: request.object().to_string(),
        reason: format!("the server's answer cannot be read: {e}"),
    })
}

/// The desired object as a typed request body.
fn to_object(request: &ApplyRequest<'_>, value: &Value) -> Result<DynamicObject, Error> {
    serde_json::from_value(value.clone()).map_err(|e| Error::Invalid {
        object: request.object().to_string(),
        reason: format!("not a Kubernetes object: {e}"),
    })
}

fn post_params(request: &ApplyRequest<'_>, field_manager: &str) -> PostParams {
    PostParams {
        dry_run: request.dry_run,
        field_manager: Some(field_manager.to_owned()),
    }
}

/// Creates the object (with `body` as it is).
async fn create(
    client: &kube::Client,
    request: &ApplyRequest<'_>,
    body: &Value,
    field_manager: &str,
) -> Result<Applied, Error> {
    let created = request
        .api(client)
        .create(
            &post_params(request, field_manager),
            &to_object(request, body)?,
        )
        .await
        .map_err(|e| request.failed(e))?;
    Ok(Applied {
        object: to_value(request, created)?,
        outcome: Outcome::Created,
    })
}

/// Server-side apply (`PATCH` with `application/apply-patch+yaml`): the API server merges the
/// object and records what this field manager owns; fields another manager owns with another
/// value are a conflict unless `force` takes them. What the manager stops applying is
/// removed when nobody else owns it. The strategy Flux uses.
///
/// ```
/// use converge_apply::{Applier, ServerSideApply};
///
/// let applier = ServerSideApply::new("converge").force(true);
/// assert_eq!(applier.name(), "server-side");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerSideApply {
    /// The field manager the apply is recorded under.
    pub field_manager: String,
    /// Take fields other managers own (`force=true`).
    pub force: bool,
}

impl ServerSideApply {
    /// Server-side apply as `field_manager`, without force.
    pub fn new(field_manager: impl Into<String>) -> ServerSideApply {
        ServerSideApply {
            field_manager: field_manager.into(),
            force: false,
        }
    }

    /// Takes conflicting fields from their owners.
    pub fn force(mut self, force: bool) -> ServerSideApply {
        self.force = force;
        self
    }
}

#[async_trait]
impl Applier for ServerSideApply {
    fn name(&self) -> &str {
        "server-side"
    }

    async fn apply(
        &self,
        client: &kube::Client,
        request: &ApplyRequest<'_>,
    ) -> Result<Applied, Error> {
        let name = request.required_name()?;
        let mut params = PatchParams::apply(&self.field_manager);
        params.force = self.force;
        params.dry_run = request.dry_run;
        let applied = request
            .api(client)
            .patch(name, &params, &Patch::Apply(request.desired))
            .await
            .map_err(|e| request.failed(e))?;
        Ok(Applied::judged(to_value(request, applied)?, request.live))
    }
}

/// Client-side three-way apply, as `kubectl apply` does it: the previous configuration is
/// kept in the `kubectl.kubernetes.io/last-applied-configuration` annotation; the patch sent
/// sets what changed since, deletes what the previous apply set and this one does not, and
/// leaves what others set alone. A strategic merge patch for built-in kinds, a JSON merge
/// patch for custom resources. An object absent is created with the annotation; an object
/// with nothing to change gets no request at all.
///
/// ```
/// use converge_apply::{Applier, ClientSideApply};
///
/// let applier = ClientSideApply::new("converge");
/// assert_eq!(applier.name(), "client-side");
/// assert!(applier.overwrite);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientSideApply {
    /// The field manager the update is recorded under (kubectl's is
    /// `kubectl-client-side-apply`).
    pub field_manager: String,
    /// Overwrite changes made to the live object since the last apply (`kubectl apply`'s
    /// default); with `false` they are a conflict.
    pub overwrite: bool,
}

impl ClientSideApply {
    /// Client-side apply as `field_manager`, overwriting live changes as kubectl does.
    pub fn new(field_manager: impl Into<String>) -> ClientSideApply {
        ClientSideApply {
            field_manager: field_manager.into(),
            overwrite: true,
        }
    }

    /// Whether changes made to the live object since the last apply are overwritten.
    pub fn overwrite(mut self, overwrite: bool) -> ClientSideApply {
        self.overwrite = overwrite;
        self
    }
}

#[async_trait]
impl Applier for ClientSideApply {
    fn name(&self) -> &str {
        "client-side"
    }

    async fn apply(
        &self,
        client: &kube::Client,
        request: &ApplyRequest<'_>,
    ) -> Result<Applied, Error> {
        let name = request.required_name()?;
        // As kubectl, the object carries the namespace it is applied in, in what is sent and
        // in what is recorded.
        let mut desired = request.desired.clone();
        if let (Some(namespace), Some(metadata)) = (
            request.namespace,
            desired.get_mut("metadata").and_then(Value::as_object_mut),
        ) {
            metadata
                .entry("namespace")
                .or_insert_with(|| Value::from(namespace));
        }
        let Some(live) = request.live else {
            let body = with_last_applied(&desired);
            return create(client, request, &body, &self.field_manager).await;
        };
        let resource = request.resource;
        let ty = Schema::kubernetes().for_kind(&resource.group, &resource.version, &resource.kind);
        let planned =
            three_way(None, &desired, live, ty, self.overwrite).map_err(|source| Error::Diff {
                object: request.object().to_string(),
                source: Box::new(source),
            })?;
        if planned.patch.as_object().is_some_and(|p| p.is_empty()) {
            return Ok(Applied {
                object: live.clone(),
                outcome: Outcome::Unchanged,
            });
        }
        let patch = match planned.patch_type {
            PatchType::Strategic => Patch::Strategic(planned.patch),
            _ => Patch::Merge(planned.patch),
        };
        let params = PatchParams {
            dry_run: request.dry_run,
            field_manager: Some(self.field_manager.clone()),
            ..PatchParams::default()
        };
        let patched = request
            .api(client)
            .patch(name, &params, &patch)
            .await
            .map_err(|e| request.failed(e))?;
        Ok(Applied::judged(to_value(request, patched)?, request.live))
    }
}

/// Replace (`PUT`): the live object becomes exactly the desired one, guarded by the live
/// `resourceVersion`. Fields the server refuses to change (a Job's template, a workload's
/// selector) fail the apply, or, with `recreate`, the object is deleted and created again.
///
/// ```
/// use converge_apply::{Applier, Replace};
///
/// let applier = Replace::new("converge").recreate(true);
/// assert_eq!(applier.name(), "replace");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Replace {
    /// The field manager the update is recorded under.
    pub field_manager: String,
    /// Delete and create again when the server refuses an immutable field's change.
    pub recreate: bool,
}

impl Replace {
    /// Replace as `field_manager`, never recreating.
    pub fn new(field_manager: impl Into<String>) -> Replace {
        Replace {
            field_manager: field_manager.into(),
            recreate: false,
        }
    }

    /// Whether an object whose immutable fields changed is deleted and created again.
    pub fn recreate(mut self, recreate: bool) -> Replace {
        self.recreate = recreate;
        self
    }
}

/// True when the server refused the change of an immutable field.
fn immutable(error: &kube::Error) -> bool {
    let kube::Error::Api(status) = error else {
        return false;
    };
    status.code == 422
        && (status.message.contains("field is immutable")
            || status.details.as_ref().is_some_and(|d| {
                d.causes
                    .iter()
                    .any(|c| c.message.contains("field is immutable"))
            }))
}

#[async_trait]
impl Applier for Replace {
    fn name(&self) -> &str {
        "replace"
    }

    async fn apply(
        &self,
        client: &kube::Client,
        request: &ApplyRequest<'_>,
    ) -> Result<Applied, Error> {
        let name = request.required_name()?;
        let Some(live) = request.live else {
            return create(client, request, request.desired, &self.field_manager).await;
        };
        let mut body = request.desired.clone();
        if let (Some(metadata), Some(version)) = (
            body.get_mut("metadata").and_then(Value::as_object_mut),
            live.pointer("/metadata/resourceVersion"),
        ) {
            metadata.insert("resourceVersion".to_owned(), version.clone());
        }
        let api = request.api(client);
        let params = post_params(request, &self.field_manager);
        match api
            .replace(name, &params, &to_object(request, &body)?)
            .await
        {
            Ok(replaced) => Ok(Applied::judged(to_value(request, replaced)?, Some(live))),
            Err(e) if self.recreate && immutable(&e) => {
                let delete = DeleteParams {
                    dry_run: request.dry_run,
                    ..DeleteParams::foreground()
                };
                api.delete(name, &delete)
                    .await
                    .map_err(|e| request.failed(e))?;
                if request.dry_run {
                    // Nothing was deleted: the create can only be checked as a new object.
                    return Ok(Applied {
                        object: request.desired.clone(),
                        outcome: Outcome::Updated,
                    });
                }
                wait_gone(&api, name).await.map_err(|e| request.failed(e))?;
                let created = api
                    .create(&params, &to_object(request, request.desired)?)
                    .await
                    .map_err(|e| request.failed(e))?;
                Ok(Applied {
                    object: to_value(request, created)?,
                    outcome: Outcome::Updated,
                })
            }
            Err(e) => Err(request.failed(e)),
        }
    }
}

/// Waits until a deleted object is gone (its finalizers and dependents done).
async fn wait_gone(api: &kube::Api<DynamicObject>, name: &str) -> Result<(), kube::Error> {
    let mut delay = std::time::Duration::from_millis(20);
    loop {
        match api.get_opt(name).await? {
            None => return Ok(()),
            Some(_) => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(1));
            }
        }
    }
}

/// Create-only: an absent object is created; an existing one is never touched, whatever it
/// holds — for objects a controller or a person owns once they exist (Flux's
/// `kustomize.toolkit.fluxcd.io/ssa: IfNotPresent`).
///
/// ```
/// use converge_apply::{Applier, CreateOnly};
///
/// assert_eq!(CreateOnly::new("converge").name(), "create-only");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateOnly {
    /// The field manager the create is recorded under.
    pub field_manager: String,
}

impl CreateOnly {
    /// Create-only as `field_manager`.
    pub fn new(field_manager: impl Into<String>) -> CreateOnly {
        CreateOnly {
            field_manager: field_manager.into(),
        }
    }
}

#[async_trait]
impl Applier for CreateOnly {
    fn name(&self) -> &str {
        "create-only"
    }

    async fn apply(
        &self,
        client: &kube::Client,
        request: &ApplyRequest<'_>,
    ) -> Result<Applied, Error> {
        request.required_name()?;
        match request.live {
            Some(live) => Ok(Applied {
                object: live.clone(),
                outcome: Outcome::Unchanged,
            }),
            None => create(client, request, request.desired, &self.field_manager).await,
        }
    }
}
