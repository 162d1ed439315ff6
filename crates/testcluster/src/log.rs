//! The request log, counters, and injected faults.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde_json::{Value, json};

/// How many requests the log keeps.
const KEPT: usize = 10_000;

/// One request the cluster answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Request {
    /// As Kubernetes names it: `get`, `list`, `watch`, `create`, `update`, `patch`,
    /// `delete`, `deletecollection`.
    pub verb: String,
    /// API group; empty for the core group.
    pub group: String,
    /// The resource (`configmaps`).
    pub resource: String,
    /// The namespace of the request's path, if any.
    pub namespace: Option<String>,
    /// The object's name, for requests on one object.
    pub name: Option<String>,
    /// The HTTP status code answered (200 for a watch that started; 0 when an injected fault
    /// dropped the connection before serving the request).
    pub code: u16,
    /// A write with `dryRun=All` (its `DeleteOptions` body is not read for this).
    pub dry_run: bool,
    /// The user the client asked to act as (`Impersonate-User`), if any. The cluster does
    /// not authorize: it records the request as made.
    pub impersonate: Option<String>,
}

/// A fault to inject into matching requests: see [`TestCluster::inject`](crate::TestCluster::inject).
///
/// ```
/// use converge_testcluster::Fault;
/// // The third create of a ConfigMap, and the one after it, get 429 with Retry-After: 1.
/// let fault = Fault::too_many_requests(1).verb("create").resource("configmaps").after(2).times(2);
/// # let _ = fault;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fault {
    verb: Option<String>,
    resource: Option<String>,
    after: usize,
    times: Option<usize>,
    action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Status(u16),
    TooManyRequests(u64),
    Delay(Duration),
    Drop { served: bool },
}

impl Fault {
    fn new(action: Action) -> Fault {
        Fault {
            verb: None,
            resource: None,
            after: 0,
            times: None,
            action,
        }
    }

    /// Answers with this HTTP status (500 `InternalError`, 409 `Conflict`, 503
    /// `ServiceUnavailable`, …) and a Kubernetes `Status`.
    pub fn status(code: u16) -> Fault {
        Fault::new(Action::Status(code))
    }

    /// Answers 429 `TooManyRequests` with `Retry-After: seconds`.
    pub fn too_many_requests(seconds: u64) -> Fault {
        Fault::new(Action::TooManyRequests(seconds))
    }

    /// Serves the request normally, `delay` late.
    pub fn delay(delay: Duration) -> Fault {
        Fault::new(Action::Delay(delay))
    }

    /// Drops the connection instead of answering: the request is not served, and the client
    /// sees its connection close before a response.
    pub fn drop_connection() -> Fault {
        Fault::new(Action::Drop { served: false })
    }

    /// Serves the request (a write is stored), then drops the connection instead of
    /// answering: the client cannot tell whether its write happened.
    pub fn drop_response() -> Fault {
        Fault::new(Action::Drop { served: true })
    }

    /// Only requests with this verb (`create`, `patch`, `list`, …).
    pub fn verb(mut self, verb: &str) -> Fault {
        self.verb = Some(verb.to_owned());
        self
    }

    /// Only requests for this resource (`configmaps`, `deployments`).
    pub fn resource(mut self, resource: &str) -> Fault {
        self.resource = Some(resource.to_owned());
        self
    }

    /// Lets the first `n` matching requests through.
    pub fn after(mut self, n: usize) -> Fault {
        self.after = n;
        self
    }

    /// Strikes `n` matching requests, then no more (every one by default).
    pub fn times(mut self, n: usize) -> Fault {
        self.times = Some(n);
        self
    }

    fn matches(&self, request: &Request) -> bool {
        self.verb.as_deref().is_none_or(|v| v == request.verb)
            && self
                .resource
                .as_deref()
                .is_none_or(|r| r == request.resource)
    }
}

/// What a fault does to a request.
pub(crate) enum Strike {
    /// Answer with this status, and `Retry-After` seconds when set.
    Answer(u16, Option<u64>),
    Delay(Duration),
    /// Close the connection without a response, after serving the request when `served`.
    Drop {
        served: bool,
    },
}

/// Requests answered, counted, and the faults waiting for them.
#[derive(Debug, Default)]
pub(crate) struct Log {
    requests: VecDeque<Request>,
    counts: BTreeMap<(String, String), u64>,
    faults: Vec<Fault>,
}

impl Log {
    pub(crate) fn record(&mut self, request: Request) {
        *self
            .counts
            .entry((request.verb.clone(), request.resource.clone()))
            .or_default() += 1;
        self.requests.push_back(request);
        while self.requests.len() > KEPT {
            self.requests.pop_front();
        }
    }

    pub(crate) fn requests(&self) -> Vec<Request> {
        self.requests.iter().cloned().collect()
    }

    pub(crate) fn count(&self, verb: &str, resource: &str) -> u64 {
        self.counts
            .get(&(verb.to_owned(), resource.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn inject(&mut self, fault: Fault) {
        self.faults.push(fault);
    }

    pub(crate) fn clear_faults(&mut self) {
        self.faults.clear();
    }

    /// The fault `request` meets, if any (the first that matches and has strikes left).
    pub(crate) fn strike(&mut self, request: &Request) -> Option<Strike> {
        let fault = self
            .faults
            .iter_mut()
            .find(|f| f.matches(request) && f.times.is_none_or(|t| t > 0))?;
        if fault.after > 0 {
            fault.after -= 1;
            return None;
        }
        if let Some(times) = &mut fault.times {
            *times -= 1;
        }
        Some(match fault.action {
            Action::Status(code) => Strike::Answer(code, None),
            Action::TooManyRequests(seconds) => Strike::Answer(429, Some(seconds)),
            Action::Delay(delay) => Strike::Delay(delay),
            Action::Drop { served } => Strike::Drop { served },
        })
    }

    /// `GET /debug/requests`: the requests kept, and counts by verb and resource.
    pub(crate) fn to_json(&self) -> Value {
        let requests: Vec<Value> = self
            .requests
            .iter()
            .map(|r| {
                json!({
                    "verb": r.verb, "group": r.group, "resource": r.resource,
                    "namespace": r.namespace, "name": r.name, "code": r.code,
                    "dryRun": r.dry_run, "impersonate": r.impersonate,
                })
            })
            .collect();
        let mut counts = serde_json::Map::new();
        for ((verb, resource), n) in &self.counts {
            counts.insert(format!("{verb} {resource}"), json!(n));
        }
        json!({"requests": requests, "counts": counts})
    }
}
