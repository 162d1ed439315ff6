//! The HTTP side: Kubernetes REST paths, discovery, and the verbs on resources.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::fields::Writer;
use crate::kinds::{Kind, VERBS};
use crate::select::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{ListOptions, Propagation, Store, WriteOptions};

/// What every request handler shares.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    pub store: Arc<Mutex<Store>>,
    /// `host:port` the cluster listens on, for discovery.
    pub address: String,
    /// The cluster's revision after each request, for watches to wait on.
    pub changes: Arc<tokio::sync::watch::Sender<u64>>,
    /// Where the objects are saved after every write, if anywhere.
    pub state_file: Option<std::path::PathBuf>,
    /// The request log and the faults to inject.
    pub log: Arc<Mutex<crate::log::Log>>,
}

/// The Kubernetes version the cluster answers as.
pub(crate) const KUBERNETES_VERSION: (&str, &str) = ("1", "35");

/// Serves one request.
pub(crate) async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = Query::parse(uri.query().unwrap_or_default());
    if method == Method::GET && uri.path() == "/debug/requests" {
        let log = shared
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .to_json();
        return json_response(200, &log);
    }
    let mut request = describe(&method, uri.path(), &query);
    if let Some(request) = &mut request {
        request.impersonate = headers
            .get("impersonate-user")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
    }
    let mut drop_after = false;
    let strike = request.as_ref().and_then(|r| {
        shared
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .strike(r)
    });
    match strike {
        Some(crate::log::Strike::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(crate::log::Strike::Answer(code, retry_after)) => {
            let error = ApiError::injected(code, retry_after);
            if let Some(mut request) = request {
                request.code = code;
                shared
                    .log
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .record(request);
            }
            let mut response = json_response(code, &error.to_status());
            if let Some(seconds) = retry_after
                && let Ok(value) = seconds.to_string().parse()
            {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        Some(crate::log::Strike::Drop { served: false }) => {
            if let Some(mut request) = request {
                request.code = 0;
                shared
                    .log
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .record(request);
            }
            return dropped();
        }
        Some(crate::log::Strike::Drop { served: true }) => drop_after = true,
        None => {}
    }
    let (result, warnings) = route(&shared, &method, uri.path(), &query, &headers, &body);
    if let Some(mut request) = request.take() {
        request.code = match &result {
            Ok(Reply::Json(code, _) | Reply::Text(code, _)) => *code,
            Ok(Reply::Discovery(..) | Reply::Watch(_)) => 200,
            Err(error) => error.code,
        };
        shared
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(request);
    }
    // Watches wake up to look for what this request wrote; the saved state follows it.
    let (revision, saved) = {
        let store = shared.store.lock().unwrap_or_else(|p| p.into_inner());
        let revision = store.revision();
        let saved = match &shared.state_file {
            Some(file) if *shared.changes.borrow() != revision => crate::save(&store, file),
            _ => Ok(()),
        };
        (revision, saved)
    };
    shared.changes.send_if_modified(|last| {
        let changed = *last != revision;
        *last = revision;
        changed
    });
    if let Err(error) = saved {
        return json_response(500, &ApiError::internal(error.to_string()).to_status());
    }
    if drop_after {
        return dropped();
    }
    let mut response = match result {
        Ok(Reply::Json(code, value)) => json_response(code, &value),
        Ok(Reply::Text(code, text)) => (
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(header::CONTENT_TYPE, "application/json")],
            text,
        )
            .into_response(),
        Ok(Reply::Discovery(value, content_type)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, content_type)],
            value.to_string(),
        )
            .into_response(),
        Ok(Reply::Watch(watch)) => crate::watch::respond(shared, *watch),
        Err(error) => json_response(error.code, &error.to_status()),
    };
    for warning in warnings {
        // As the API server sends them: `299 - "<text>"`, the text quoted.
        let value = format!("299 - {}", Value::from(warning));
        if let Ok(value) = header::HeaderValue::from_str(&value) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}

/// A response whose body fails at once: the connection closes with no response read.
fn dropped() -> Response {
    let failure = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "the connection was dropped by an injected fault",
        ))
    });
    Response::new(axum::body::Body::from_stream(failure))
}

/// What a request gets back.
enum Reply {
    Json(u16, Value),
    /// JSON already written out.
    Text(u16, String),
    /// Aggregated discovery, with the content type that names its version.
    Discovery(Value, &'static str),
    Watch(Box<crate::watch::WatchRequest>),
}

impl From<(u16, Value)> for Reply {
    fn from((code, value): (u16, Value)) -> Reply {
        Reply::Json(code, value)
    }
}

fn json_response(code: u16, value: &Value) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// A request's query parameters, percent-decoded.
#[derive(Debug, Default)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(text: &str) -> Query {
        Query(
            text.split('&')
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }
}

/// Percent-decoding, with `+` as a space.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a resource path names.
enum Target {
    Collection {
        namespace: Option<String>,
    },
    Object {
        namespace: Option<String>,
        name: String,
        subresource: Option<String>,
    },
}

/// Serves a request from the store, and returns with its answer the warnings the write
/// raised (unknown fields dropped).
fn route(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &Query,
    headers: &HeaderMap,
    body: &[u8],
) -> (Result<Reply, ApiError>, Vec<String>) {
    let mut store = shared.store.lock().unwrap_or_else(|p| p.into_inner());
    let result = serve(
        &mut store,
        &shared.address,
        method,
        path,
        query,
        headers,
        body,
    );
    (result, store.take_warnings())
}

fn serve(
    store: &mut Store,
    address: &str,
    method: &Method,
    path: &str,
    query: &Query,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest): (&str, &str, &[&str]) = match segments.as_slice() {
        ["version"] => return Ok((200, version_info()).into()),
        ["openapi", "v3"] => {
            let crd = |kind: &Kind| store.custom_schema(kind);
            return Ok((200, crate::openapi::root(store.kinds(), &crd)).into());
        }
        ["openapi", "v3", "api", version] | ["openapi", "v3", "apis", _, version] => {
            let group = match segments.as_slice() {
                [_, _, "apis", group, _] => *group,
                _ => "",
            };
            let crd = |kind: &Kind| store.custom_schema(kind);
            return crate::openapi::document(store.kinds(), group, version, &crd)
                .map(|document| (200, document).into())
                .ok_or_else(ApiError::no_route);
        }
        ["api"] | ["apis"] if let Some(version) = aggregated_discovery(headers) => {
            let core = segments == ["api"];
            return Ok(Reply::Discovery(
                aggregated(store.kinds(), core, version),
                match version {
                    "v2" => "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
                    _ => {
                        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
                    }
                },
            ));
        }
        ["api"] => {
            return Ok((
                200,
                json!({
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": address}
                    ],
                }),
            )
                .into());
        }
        ["apis"] => return Ok((200, group_list(store.kinds())).into()),
        ["apis", group] => {
            return group_list(store.kinds())["groups"]
                .as_array()
                .and_then(|groups| groups.iter().find(|g| g["name"] == *group))
                .map(|g| {
                    let mut g = g.clone();
                    g["kind"] = json!("APIGroup");
                    g["apiVersion"] = json!("v1");
                    (200, g).into()
                })
                .ok_or_else(ApiError::no_route);
        }
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(ApiError::no_route()),
    };
    if rest.is_empty() {
        return resource_list(store.kinds(), group, version).map(|v| (200, v).into());
    }
    let (plural, target) = resource_target(rest).ok_or_else(ApiError::no_route)?;
    let kind = store
        .kind_at(group, version, plural)
        .cloned()
        .ok_or_else(ApiError::no_route)?;
    let namespace_given = match &target {
        Target::Collection { namespace } | Target::Object { namespace, .. } => namespace.is_some(),
    };
    if namespace_given && !kind.namespaced {
        return Err(ApiError::no_route());
    }
    // DeleteOptions come in the body of a DELETE, or as query parameters.
    let delete_options: Value = if *method == Method::DELETE && !body.is_empty() {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
    } else {
        Value::Null
    };
    let dry_run = query.get("dryRun") == Some("All")
        || delete_options["dryRun"]
            .as_array()
            .is_some_and(|d| d.iter().any(|v| v == "All"));
    let propagation = match delete_options["propagationPolicy"]
        .as_str()
        .or(query.get("propagationPolicy"))
    {
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "invalid propagationPolicy {other:?}: must be Orphan, Foreground or Background"
            )));
        }
    };
    let named_manager = crate::fields::manager(query)?;
    let options = WriteOptions {
        dry_run,
        propagation,
        validation: crate::fields::FieldValidation::from_query(query)?,
        writer: Writer::Manager(
            named_manager
                .clone()
                .unwrap_or_else(|| crate::fields::user_agent_manager(headers)),
        ),
    };
    let kind_for_watch = kind.clone();
    match target {
        Target::Collection { namespace } => {
            let namespace = namespace.as_deref();
            match *method {
                Method::GET => {
                    if query.flag("watch") {
                        let watch = crate::watch::WatchRequest::new(
                            store,
                            kind,
                            namespace.map(str::to_owned),
                            selectors(query, &kind_for_watch)?,
                            query,
                        )?;
                        return Ok(Reply::Watch(Box::new(watch)));
                    }
                    let list = ListOptions {
                        limit: query.get("limit").and_then(|l| l.parse().ok()),
                        continue_from: query
                            .get("continue")
                            .filter(|c| !c.is_empty())
                            .map(str::to_owned),
                        ..selectors(query, &kind)?
                    };
                    store
                        .list_text(&kind, namespace, &list)
                        .map(|text| Reply::Text(200, text))
                }
                Method::POST => {
                    if kind.namespaced && namespace.is_none() {
                        return Err(ApiError::method_not_allowed());
                    }
                    let object = parse_body(headers, body)?;
                    store
                        .create(&kind, namespace, object, &options)
                        .map(|v| (201, v).into())
                }
                Method::DELETE => {
                    let listed = store.list(&kind, namespace, &selectors(query, &kind)?)?;
                    let mut deleted = Vec::new();
                    for item in listed["items"].as_array().into_iter().flatten() {
                        let ns = item.pointer("/metadata/namespace").and_then(Value::as_str);
                        let name = item
                            .pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        deleted.push(store.delete(&kind, ns, name, &options)?);
                    }
                    Ok((
                        200,
                        json!({
                            "apiVersion": kind.api_version(),
                            "kind": format!("{}List", kind.kind),
                            "metadata": {"resourceVersion": store.revision().to_string()},
                            "items": deleted,
                        }),
                    )
                        .into())
                }
                _ => Err(ApiError::method_not_allowed()),
            }
        }
        Target::Object {
            namespace,
            name,
            subresource,
        } => {
            let (namespace, subresource) = (namespace.as_deref(), subresource.as_deref());
            check_object_target(&kind, namespace, subresource)?;
            match *method {
                Method::GET => store.get(&kind, namespace, &name).map(|v| (200, v).into()),
                Method::PUT => {
                    let object = parse_body(headers, body)?;
                    store
                        .update(&kind, namespace, &name, object, subresource, &options)
                        .map(|v| (200, v).into())
                }
                Method::PATCH => {
                    let content_type = headers
                        .get(header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .split(';')
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_owned();
                    if content_type == APPLY_PATCH {
                        let manager = named_manager.ok_or_else(|| {
                            crate::fields::options_invalid(
                                "fieldManager",
                                "FieldValueRequired",
                                "Required value: is required for apply patch",
                            )
                        })?;
                        let force = match query.get("force") {
                            None | Some("false") => false,
                            Some("true") => true,
                            Some(other) => {
                                return Err(ApiError::bad_request(format!(
                                    "invalid value for force: {other:?}"
                                )));
                            }
                        };
                        let config = parse_apply(body)?;
                        return store
                            .apply(
                                &kind,
                                namespace,
                                &name,
                                config,
                                &manager,
                                force,
                                subresource,
                                &options,
                            )
                            .map(Reply::from);
                    }
                    if query.get("force").is_some() {
                        return Err(crate::fields::options_invalid(
                            "force",
                            "FieldValueForbidden",
                            "Forbidden: may not be specified for non-apply patch",
                        ));
                    }
                    let current = store.get(&kind, namespace, &name)?;
                    let patched = patch(&kind, &current, &content_type, body)?;
                    store
                        .update(&kind, namespace, &name, patched, subresource, &options)
                        .map(|v| (200, v).into())
                }
                Method::DELETE if subresource.is_none() => store
                    .delete(&kind, namespace, &name, &options)
                    .map(|v| (200, v).into()),
                _ => Err(ApiError::method_not_allowed()),
            }
        }
    }
}

/// The label and field selectors of a list or deletecollection request.
fn selectors(query: &Query, kind: &Kind) -> Result<ListOptions, ApiError> {
    Ok(ListOptions {
        labels: query
            .get("labelSelector")
            .map(LabelSelector::parse)
            .transpose()?,
        fields: query
            .get("fieldSelector")
            .map(|s| FieldSelector::parse(s, &kind.kind))
            .transpose()?,
        ..ListOptions::default()
    })
}

/// What the part of a resource path after the group and version names: the resource, and
/// the collection or object.
fn resource_target<'a>(rest: &[&'a str]) -> Option<(&'a str, Target)> {
    Some(match rest {
        ["namespaces", name, sub @ ("status" | "finalize")] => (
            "namespaces",
            Target::Object {
                namespace: None,
                name: (*name).to_owned(),
                subresource: Some((*sub).to_owned()),
            },
        ),
        ["namespaces", ns, plural] => (
            *plural,
            Target::Collection {
                namespace: Some((*ns).to_owned()),
            },
        ),
        ["namespaces", ns, plural, name] => (
            *plural,
            Target::Object {
                namespace: Some((*ns).to_owned()),
                name: (*name).to_owned(),
                subresource: None,
            },
        ),
        ["namespaces", ns, plural, name, sub] => (
            *plural,
            Target::Object {
                namespace: Some((*ns).to_owned()),
                name: (*name).to_owned(),
                subresource: Some((*sub).to_owned()),
            },
        ),
        [plural] => (*plural, Target::Collection { namespace: None }),
        [plural, name] => (
            *plural,
            Target::Object {
                namespace: None,
                name: (*name).to_owned(),
                subresource: None,
            },
        ),
        [plural, name, sub] => (
            *plural,
            Target::Object {
                namespace: None,
                name: (*name).to_owned(),
                subresource: Some((*sub).to_owned()),
            },
        ),
        _ => return None,
    })
}

/// Who asked what, for the request log and fault injection: the verb as Kubernetes names it
/// (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`), and
/// the resource; `None` for discovery and other paths.
pub(crate) fn describe(method: &Method, path: &str, query: &Query) -> Option<crate::Request> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, rest): (&str, &[&str]) = match segments.as_slice() {
        ["api", _, rest @ ..] => ("", rest),
        ["apis", group, _, rest @ ..] => (*group, rest),
        _ => return None,
    };
    let (plural, target) = resource_target(rest)?;
    let (verb, namespace, name) = match (method, target) {
        (&Method::GET, Target::Collection { namespace }) if query.flag("watch") => {
            ("watch", namespace, None)
        }
        (&Method::GET, Target::Collection { namespace }) => ("list", namespace, None),
        (&Method::POST, Target::Collection { namespace }) => ("create", namespace, None),
        (&Method::DELETE, Target::Collection { namespace }) => {
            ("deletecollection", namespace, None)
        }
        (
            &Method::GET,
            Target::Object {
                namespace, name, ..
            },
        ) => ("get", namespace, Some(name)),
        (
            &Method::PUT,
            Target::Object {
                namespace, name, ..
            },
        ) => ("update", namespace, Some(name)),
        (
            &Method::PATCH,
            Target::Object {
                namespace, name, ..
            },
        ) => ("patch", namespace, Some(name)),
        (
            &Method::DELETE,
            Target::Object {
                namespace, name, ..
            },
        ) => ("delete", namespace, Some(name)),
        _ => return None,
    };
    Some(crate::Request {
        verb: verb.to_owned(),
        group: group.to_owned(),
        resource: plural.to_owned(),
        namespace,
        name,
        code: 0,
        dry_run: query.get("dryRun") == Some("All"),
        impersonate: None,
    })
}

/// Refuses object paths the kind does not serve: a namespaced kind without its namespace, a
/// subresource other than `status`.
fn check_object_target(
    kind: &Kind,
    namespace: Option<&str>,
    subresource: Option<&str>,
) -> Result<(), ApiError> {
    if kind.namespaced && namespace.is_none() {
        return Err(ApiError::no_route());
    }
    match subresource {
        None => Ok(()),
        Some("status") if kind.status => Ok(()),
        Some("finalize") if kind.kind == "Namespace" => Ok(()),
        Some(_) => Err(ApiError::no_route()),
    }
}

/// The request's object: JSON, or YAML when the request says so.
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if !content_type.starts_with("application/json") {
        return Err(ApiError::unsupported_media_type(content_type));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

/// The content type of a server-side apply patch.
const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// The configuration of a server-side apply: one YAML (or JSON) document.
fn parse_apply(body: &[u8]) -> Result<Value, ApiError> {
    let mut documents = converge_core::parse_documents("apply patch", body)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    match documents.len() {
        1 => Ok(documents.remove(0).value),
        n => Err(ApiError::bad_request(format!(
            "error decoding YAML: the apply patch holds {n} documents; it must hold one object"
        ))),
    }
}

/// `current` with the patch in `body` applied, by its content type.
fn patch(kind: &Kind, current: &Value, content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let patch: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the patch is not valid JSON: {e}")))?;
    match content_type {
        "application/merge-patch+json" => {
            let mut patched = current.clone();
            converge_diff::merge_patch::apply_merge_patch(&mut patched, &patch);
            Ok(patched)
        }
        "application/json-patch+json" => {
            let operations = converge_diff::json_patch::JsonPatch::from_value(&patch)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            let mut patched = current.clone();
            operations.apply(&mut patched).map_err(|e| {
                ApiError::invalid(
                    &kind.group,
                    &kind.kind,
                    "",
                    vec![(String::new(), "FieldValueInvalid".to_owned(), e.to_string())],
                )
            })?;
            Ok(patched)
        }
        "application/strategic-merge-patch+json" => {
            let schema = converge_diff::schema::Schema::kubernetes()
                .for_kind(&kind.group, &kind.version, &kind.kind)
                .ok_or_else(|| ApiError::unsupported_media_type(content_type))?;
            converge_diff::strategic::apply_strategic_patch(current, &patch, schema)
                .map_err(|e| ApiError::bad_request(e.to_string()))
        }
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

fn version_info() -> Value {
    let (major, minor) = KUBERNETES_VERSION;
    json!({
        "major": major,
        "minor": minor,
        "gitVersion": format!("v{major}.{minor}.0"),
        "gitCommit": "converge-testcluster",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `/apis`: every group but the core one, with its versions.
fn group_list(kinds: &[Kind]) -> Value {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for kind in kinds.iter().filter(|k| !k.group.is_empty()) {
        match groups.iter_mut().find(|(g, _)| *g == kind.group) {
            Some((_, versions)) => {
                if !versions.contains(&kind.version) {
                    versions.push(kind.version.clone());
                }
            }
            None => groups.push((kind.group.clone(), vec![kind.version.clone()])),
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(group, versions)| {
            let entries: Vec<Value> = versions
                .iter()
                .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
                .collect();
            json!({
                "name": group,
                "versions": entries,
                "preferredVersion": entries.first().cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// The version of aggregated discovery the client accepts (`v2`, else `v2beta1`), if it
/// asks for it: `Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`.
fn aggregated_discovery(headers: &HeaderMap) -> Option<&'static str> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    let mut found = None;
    for choice in accept.split(',') {
        let params: Vec<&str> = choice.split(';').map(str::trim).collect();
        let has = |p: &str| params.contains(&p);
        if !(has("g=apidiscovery.k8s.io") && has("as=APIGroupDiscoveryList")) {
            continue;
        }
        if has("v=v2") {
            return Some("v2");
        }
        if has("v=v2beta1") {
            found = Some("v2beta1");
        }
    }
    found
}

/// `/api` or `/apis` as aggregated discovery: every group with its versions and their
/// resources in one document (`APIGroupDiscoveryList`).
fn aggregated(kinds: &[Kind], core: bool, version: &str) -> Value {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for kind in kinds.iter().filter(|k| k.group.is_empty() == core) {
        match groups.iter_mut().find(|(g, _)| *g == kind.group) {
            Some((_, versions)) => {
                if !versions.contains(&kind.version.as_str()) {
                    versions.push(&kind.version);
                }
            }
            None => groups.push((&kind.group, vec![&kind.version])),
        }
    }
    let items: Vec<Value> = groups
        .into_iter()
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .into_iter()
                .map(|version| {
                    let resources: Vec<Value> = kinds
                        .iter()
                        .filter(|k| k.group == group && k.version == version)
                        .map(|k| {
                            let response =
                                json!({"group": k.group, "version": k.version, "kind": k.kind});
                            let mut resource = json!({
                                "resource": k.plural,
                                "responseKind": response,
                                "scope": if k.namespaced { "Namespaced" } else { "Cluster" },
                                "singularResource": k.singular,
                                "verbs": VERBS,
                            });
                            if !k.short_names.is_empty() {
                                resource["shortNames"] = json!(k.short_names);
                            }
                            if k.status {
                                resource["subresources"] = json!([{
                                    "subresource": "status",
                                    "responseKind": response,
                                    "verbs": ["get", "patch", "update"],
                                }]);
                            }
                            resource
                        })
                        .collect();
                    json!({"version": version, "resources": resources, "freshness": "Current"})
                })
                .collect();
            let mut metadata = json!({"creationTimestamp": null});
            if !group.is_empty() {
                metadata["name"] = json!(group);
            }
            json!({"metadata": metadata, "versions": versions})
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    })
}

/// `/api/v1` or `/apis/<group>/<version>`: the resources served there.
fn resource_list(kinds: &[Kind], group: &str, version: &str) -> Result<Value, ApiError> {
    let served: Vec<&Kind> = kinds
        .iter()
        .filter(|k| k.group == group && k.version == version)
        .collect();
    if served.is_empty() {
        return Err(ApiError::no_route());
    }
    let mut resources = Vec::new();
    for kind in served {
        resources.push(json!({
            "name": kind.plural,
            "singularName": kind.singular,
            "namespaced": kind.namespaced,
            "kind": kind.kind,
            "verbs": VERBS,
            "shortNames": kind.short_names,
        }));
        if kind.status {
            resources.push(json!({
                "name": format!("{}/status", kind.plural),
                "singularName": "",
                "namespaced": kind.namespaced,
                "kind": kind.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    Ok(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") },
        "resources": resources,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_percent_decoded() {
        let query = Query::parse("labelSelector=app%3Dweb%2Ctier+in+(a)&dryRun=All&x");
        assert_eq!(query.get("labelSelector"), Some("app=web,tier in (a)"));
        assert_eq!(query.get("dryRun"), Some("All"));
        assert_eq!(query.get("x"), Some(""));
    }
}
