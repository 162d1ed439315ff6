//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does
//! it, so that several replicas of a controller can run and exactly one acts.
//!
//! A candidate holds the Lease while it renews it within the lease duration. Another takes
//! it over only once the holder has not renewed for that long — judged by when the candidate
//! itself last saw the Lease change, never by comparing clocks across machines. Every write
//! is guarded by the Lease's `resourceVersion`: of two candidates racing for it, one wins.
//!
//! ```no_run
//! use std::time::Duration;
//! use converge::leader::LeaseLock;
//!
//! # async fn run(client: kube::Client) -> Result<(), converge::leader::Error> {
//! let mut lock = LeaseLock::new(client, "converge-system", "converge-controller", "replica-a")
//!     .lease_duration(Duration::from_secs(15));
//! loop {
//!     if lock.try_acquire_or_renew().await? {
//!         // The leader: do the work of one renew period.
//!     }
//!     tokio::time::sleep(Duration::from_secs(2)).await;
//! }
//! # }
//! ```

use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Value, json};
use tokio::time::Instant;

/// What can go wrong holding a Lease.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API server refused a request, or could not be reached.
    #[error("Lease {namespace}/{name}: {source}")]
    Api {
        /// The Lease's namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },
}

/// One candidate for a Lease.
#[derive(Debug)]
pub struct LeaseLock {
    api: Api<DynamicObject>,
    namespace: String,
    name: String,
    identity: String,
    lease_duration: Duration,
    /// The Lease as last seen (holder, renew time), and when it was seen to change.
    observed: Option<(String, String, Instant)>,
}

fn leases() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk("coordination.k8s.io", "v1", "Lease"))
}

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

impl LeaseLock {
    /// `identity` (unique per replica: the pod name) as a candidate for the Lease `name` of
    /// `namespace`, held for 15 s at a time by default.
    pub fn new(
        client: kube::Client,
        namespace: &str,
        name: &str,
        identity: impl Into<String>,
    ) -> LeaseLock {
        LeaseLock {
            api: Api::namespaced_with(client, namespace, &leases()),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            observed: None,
        }
    }

    /// How long a holder keeps the Lease without renewing it.
    pub fn lease_duration(mut self, duration: Duration) -> LeaseLock {
        self.lease_duration = duration;
        self
    }

    /// This candidate's identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    fn failed(&self, source: kube::Error) -> Error {
        Error::Api {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            source: Box::new(source),
        }
    }

    /// `lease` as the client sends it.
    fn body(&self, lease: Value) -> DynamicObject {
        serde_json::from_value(lease).unwrap_or_else(|_| DynamicObject::new(&self.name, &leases()))
    }

    /// Writes `lease` over the Lease, guarded by the resourceVersion it carries.
    async fn replace(&self, lease: Value) -> Result<DynamicObject, kube::Error> {
        self.api
            .replace(&self.name, &PostParams::default(), &self.body(lease))
            .await
    }

    /// The Lease's body with this candidate holding it.
    fn held(&self, current: Option<&Value>, now: &str) -> Value {
        let holder = current.map_or("", |c| text(c, "/spec/holderIdentity"));
        let transitions = current
            .and_then(|c| c.pointer("/spec/leaseTransitions"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let taking_over = holder != self.identity;
        let acquired = if taking_over {
            now.to_owned()
        } else {
            current
                .map_or(now, |c| text(c, "/spec/acquireTime"))
                .to_owned()
        };
        let mut lease = json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self.lease_duration.as_secs().max(1),
                "acquireTime": acquired,
                "renewTime": now,
                "leaseTransitions": if taking_over && !holder.is_empty() { transitions + 1 } else { transitions },
            },
        });
        if let Some(version) = current.and_then(|c| c.pointer("/metadata/resourceVersion")) {
            lease["metadata"]["resourceVersion"] = version.clone();
        }
        lease
    }

    /// Takes the Lease if it is free or expired, or renews it if held: `true` when this
    /// candidate holds it afterwards. Losing a race to another candidate is `false`, not an
    /// error.
    ///
    /// # Errors
    /// [`Error::Api`] when the Lease cannot be read or written for another reason.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, Error> {
        let now = converge_core::rfc3339_micros(converge_core::since_epoch());
        let current = match self.api.get_opt(&self.name).await {
            Ok(found) => found.map(|o| serde_json::to_value(o).unwrap_or(Value::Null)),
            Err(e) => return Err(self.failed(e)),
        };
        let Some(current) = current else {
            let body = self.body(self.held(None, &now));
            return match self.api.create(&PostParams::default(), &body).await {
                Ok(_) => {
                    self.observed = Some((self.identity.clone(), now, Instant::now()));
                    Ok(true)
                }
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(e) => Err(self.failed(e)),
            };
        };
        let holder = text(&current, "/spec/holderIdentity").to_owned();
        let renewed = text(&current, "/spec/renewTime").to_owned();
        // When the record last changed, by this candidate's own clock.
        let seen = match &self.observed {
            Some((h, r, at)) if *h == holder && *r == renewed => *at,
            _ => {
                let at = Instant::now();
                self.observed = Some((holder.clone(), renewed.clone(), at));
                at
            }
        };
        let duration = current
            .pointer("/spec/leaseDurationSeconds")
            .and_then(Value::as_u64)
            .map_or(self.lease_duration, Duration::from_secs);
        let ours = holder == self.identity;
        let expired = holder.is_empty() || seen.elapsed() >= duration;
        if !ours && !expired {
            return Ok(false);
        }
        match self.replace(self.held(Some(&current), &now)).await {
            Ok(_) => {
                self.observed = Some((self.identity.clone(), now, Instant::now()));
                Ok(true)
            }
            // Another candidate wrote first.
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(e) => Err(self.failed(e)),
        }
    }

    /// Gives the Lease up, if held, so that another candidate takes it at once (on a
    /// graceful shutdown).
    ///
    /// # Errors
    /// [`Error::Api`] when the Lease cannot be read or written.
    pub async fn release(&mut self) -> Result<(), Error> {
        let current = match self.api.get_opt(&self.name).await {
            Ok(Some(found)) => serde_json::to_value(found).unwrap_or(Value::Null),
            Ok(None) => return Ok(()),
            Err(e) => return Err(self.failed(e)),
        };
        if text(&current, "/spec/holderIdentity") != self.identity {
            return Ok(());
        }
        let mut lease = current;
        lease["spec"]["holderIdentity"] = json!("");
        lease["spec"]["leaseDurationSeconds"] = json!(1);
        match self.replace(lease).await {
            Ok(_) | Err(kube::Error::Api(_)) => {
                self.observed = None;
                Ok(())
            }
            Err(e) => Err(self.failed(e)),
        }
    }
}
