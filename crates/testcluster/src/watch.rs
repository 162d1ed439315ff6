//! Watches: a stream of `ADDED`, `MODIFIED` and `DELETED` events after a resourceVersion,
//! with bookmarks, streaming lists (`sendInitialEvents`), and `410 Gone` when the version is
//! older than the events kept.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::kinds::Kind;
use crate::server::{Query, Shared};
use crate::status::ApiError;
use crate::store::{ListOptions, Store};

/// How long a watch lasts when the request does not say.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// How often an idle watch that allows bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(10);

/// A watch request, read and checked.
#[derive(Debug)]
pub(crate) struct WatchRequest {
    kind: Kind,
    namespace: Option<String>,
    selectors: ListOptions,
    /// Events go out after this revision.
    after: u64,
    /// Sent first: the current objects, when the watch starts from "now".
    initial: VecDeque<Value>,
    timeout: Duration,
    bookmarks: bool,
}

impl WatchRequest {
    pub(crate) fn new(
        store: &Store,
        kind: Kind,
        namespace: Option<String>,
        selectors: ListOptions,
        query: &Query,
    ) -> Result<WatchRequest, ApiError> {
        let timeout = query
            .get("timeoutSeconds")
            .and_then(|t| t.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_TIMEOUT);
        let streaming_list = query.flag("sendInitialEvents");
        let (after, mut initial) = match query.get("resourceVersion") {
            _ if streaming_list => (
                store.revision(),
                current(store, &kind, namespace.as_deref(), &selectors)?,
            ),
            None | Some("" | "0") => {
                // From now: the current objects first, as ADDED events.
                (
                    store.revision(),
                    current(store, &kind, namespace.as_deref(), &selectors)?,
                )
            }
            Some(version) => {
                let after = version.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid resourceVersion {version:?}"))
                })?;
                (after, VecDeque::new())
            }
        };
        if streaming_list {
            // A streaming list: the bookmark after the current objects says they are all.
            initial.push_back(event(
                "BOOKMARK",
                json!({
                    "apiVersion": kind.api_version(),
                    "kind": kind.kind,
                    "metadata": {
                        "resourceVersion": after.to_string(),
                        "annotations": {"k8s.io/initial-events-end": "true"},
                    },
                }),
            ));
        }
        Ok(WatchRequest {
            kind,
            namespace,
            selectors,
            after,
            initial,
            timeout,
            bookmarks: query.flag("allowWatchBookmarks"),
        })
    }

    fn selects(&self, object: &Value) -> bool {
        let namespace = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.namespace.as_deref().is_none_or(|ns| ns == namespace)
            && self
                .selectors
                .labels
                .as_ref()
                .is_none_or(|s| s.matches(object))
            && self
                .selectors
                .fields
                .as_ref()
                .is_none_or(|s| s.matches(object))
    }

    fn bookmark(&self) -> Value {
        event(
            "BOOKMARK",
            json!({
                "apiVersion": self.kind.api_version(),
                "kind": self.kind.kind,
                "metadata": {"resourceVersion": self.after.to_string()},
            }),
        )
    }
}

/// The objects a watch from "now" starts with, as `ADDED` events.
fn current(
    store: &Store,
    kind: &Kind,
    namespace: Option<&str>,
    selectors: &ListOptions,
) -> Result<VecDeque<Value>, ApiError> {
    let list = store.list(kind, namespace, selectors)?;
    Ok(list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            let mut object = item.clone();
            object["apiVersion"] = json!(kind.api_version());
            object["kind"] = json!(kind.kind);
            event("ADDED", object)
        })
        .collect())
}

fn event(kind: &str, object: Value) -> Value {
    json!({"type": kind, "object": object})
}

/// What a watch stream carries between polls.
struct Watching {
    shared: Shared,
    request: WatchRequest,
    changes: tokio::sync::watch::Receiver<u64>,
    pending: VecDeque<Value>,
    deadline: Instant,
    next_bookmark: Instant,
    done: bool,
}

impl Watching {
    /// Moves the events after the last one sent into `pending`; `false` when the watch must
    /// end (its resourceVersion is too old).
    fn collect(&mut self) -> bool {
        let store = self.shared.store.lock().unwrap_or_else(|p| p.into_inner());
        match store.events_after(&self.request.kind, self.request.after) {
            Ok(events) => {
                for e in events {
                    if self.request.selects(&e.object) {
                        self.pending
                            .push_back(event(e.change.name(), e.object.clone()));
                    }
                    self.request.after = e.revision;
                }
                true
            }
            Err(oldest) => {
                let gone = ApiError {
                    code: 410,
                    reason: "Expired",
                    message: format!(
                        "too old resource version: {} ({})",
                        self.request.after,
                        oldest.saturating_sub(1)
                    ),
                    details: None,
                };
                self.pending.push_back(event("ERROR", gone.to_status()));
                false
            }
        }
    }
}

/// The streaming response of a watch: one JSON event per line.
pub(crate) fn respond(shared: Shared, mut request: WatchRequest) -> Response {
    let now = Instant::now();
    let watching = Watching {
        changes: shared.changes.subscribe(),
        shared,
        pending: std::mem::take(&mut request.initial),
        deadline: now + request.timeout,
        next_bookmark: now + BOOKMARK_EVERY,
        request,
        done: false,
    };
    let stream = futures_util::stream::unfold(watching, |mut w| async move {
        loop {
            if let Some(next) = w.pending.pop_front() {
                let mut line = next.to_string();
                line.push('\n');
                return Some((Ok::<Bytes, Infallible>(Bytes::from(line)), w));
            }
            if w.done {
                return None;
            }
            if !w.collect() {
                w.done = true;
                continue;
            }
            if !w.pending.is_empty() {
                continue;
            }
            let now = Instant::now();
            if now >= w.deadline {
                w.done = true;
                if w.request.bookmarks {
                    w.pending.push_back(w.request.bookmark());
                }
                continue;
            }
            if w.request.bookmarks && now >= w.next_bookmark {
                w.next_bookmark = now + BOOKMARK_EVERY;
                w.pending.push_back(w.request.bookmark());
                continue;
            }
            let wake = w.deadline.min(if w.request.bookmarks {
                w.next_bookmark
            } else {
                w.deadline
            });
            // A write, the deadline or a bookmark, whichever comes first; a closed
            // cluster ends the watch.
            tokio::select! {
                changed = w.changes.changed() => {
                    if changed.is_err() {
                        w.done = true;
                    }
                }
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}
