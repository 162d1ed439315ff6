//! What a poll and a sync do, in the tasks the loop spawns: make a source from a GitSource
//! and its Secrets, list and fetch a revision; render a Sync's path, shape the objects (target
//! namespace, ignore rules, a preview environment's namespace) and hand them to the engine; or
//! prune an environment that went.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use converge::api::{self, GitSource, GitSourceSpec, Sync, parse_duration};
use converge::render::{Auto, Renderer, Substitute};
use converge::source::{GitOptions, Reference, Revision, Source, SshAuth, Verification};
use converge_apply::{Engine, Error as SyncError, Inventory, Summary, SyncOptions};
use kube::ResourceExt;
use kube::api::Api;
use serde_json::{Value, json};

use crate::cli::chain;
use crate::scheduler::{human, ignore_rules, inventory_name, verify_mode};

/// What the spawned tasks share.
pub(crate) struct Shared {
    pub(crate) client: kube::Client,
    pub(crate) server_side: Engine,
    pub(crate) client_side: Engine,
    pub(crate) replace: Engine,
    pub(crate) cache: PathBuf,
}

pub(crate) struct PollResult {
    /// The spec polled for: a result for an older one is dropped.
    pub(crate) spec: GitSourceSpec,
    pub(crate) source: Option<Arc<dyn Source>>,
    /// The revision, and when it moved, the fetched content's digest.
    pub(crate) revision: Result<(Revision, Option<String>), String>,
    pub(crate) branches: BTreeMap<String, Vec<Revision>>,
    pub(crate) seconds: f64,
}

pub(crate) enum SyncResult {
    Applied {
        revision: String,
        summary: Summary,
        seconds: f64,
    },
    TornDown {
        summary: Summary,
        seconds: f64,
    },
    Failed {
        revision: Option<String>,
        reason: &'static str,
        message: String,
        summary: Summary,
        seconds: f64,
    },
}

/// `url` with any credentials in it replaced by `***`, fit for statuses, Events and logs.
pub(crate) fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find('/').unwrap_or(rest.len());
            match rest[..end].rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://***@{host}{}", &rest[end..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

/// Polls one source: makes it if needed (credentials and keys from its Secrets), lists the
/// ref, and fetches the revision when it moved.
pub(crate) async fn poll(
    shared: Arc<Shared>,
    object: GitSource,
    source: Option<Arc<dyn Source>>,
    previous: Option<Revision>,
    patterns: Vec<String>,
) -> PollResult {
    let started = std::time::Instant::now();
    let mut result = PollResult {
        spec: object.spec.clone(),
        source: None,
        revision: Err(String::new()),
        branches: BTreeMap::new(),
        seconds: 0.0,
    };
    let source = match source {
        Some(source) => source,
        None => match make_source(&shared, &object).await {
            Ok(source) => {
                result.source = Some(source.clone());
                source
            }
            Err(message) => {
                result.revision = Err(message);
                result.seconds = started.elapsed().as_secs_f64();
                return result;
            }
        },
    };
    let wanted = object.spec.reference.to_reference();
    result.revision = async {
        let revision = source
            .resolve(&wanted)
            .await
            .map_err(|e| format!("cannot resolve {wanted}: {}", chain(&e)))?;
        if previous.as_ref() == Some(&revision) {
            return Ok((revision, None));
        }
        // It moved: fetch it (which verifies it) and digest its content.
        let snapshot = source
            .fetch(&wanted)
            .await
            .map_err(|e| format!("cannot fetch {wanted}: {}", chain(&e)))?;
        let digest = snapshot
            .digest("")
            .map_err(|e| format!("cannot digest {}: {}", snapshot.revision, chain(&e)))?;
        Ok((snapshot.revision, Some(digest)))
    }
    .await;
    for pattern in patterns {
        match source.branches(&pattern).await {
            Ok(branches) => {
                result.branches.insert(pattern, branches);
            }
            Err(e) => {
                if result.revision.is_ok() {
                    result.revision = Err(format!("cannot list branches {pattern}: {}", chain(&e)));
                }
            }
        }
    }
    result.seconds = started.elapsed().as_secs_f64();
    result
}

/// The data of a Secret of `namespace`, decoded.
pub(crate) async fn secret_data(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, String>, String> {
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), namespace);
    let secret = secrets
        .get(name)
        .await
        .map_err(|e| format!("cannot read Secret {namespace}/{name}: {}", chain(&e)))?;
    let mut data: BTreeMap<String, String> = secret.string_data.unwrap_or_default();
    for (k, v) in secret.data.unwrap_or_default() {
        let text = String::from_utf8(v.0)
            .map_err(|_| format!("Secret {namespace}/{name}: {k} is not text"))?;
        data.insert(k, text);
    }
    Ok(data)
}

pub(crate) async fn make_source(
    shared: &Shared,
    object: &GitSource,
) -> Result<Arc<dyn Source>, String> {
    let namespace = object.namespace().unwrap_or_default();
    let spec = &object.spec;
    let mut options =
        GitOptions::default().with_cache_dir(shared.cache.join(&namespace).join(object.name_any()));
    if let Some(secret) = &spec.secret_ref {
        let data = secret_data(&shared.client, &namespace, &secret.name).await?;
        if let Some(password) = data.get("password") {
            options = options.with_basic_auth(
                data.get("username").map_or("git", String::as_str),
                password.as_str(),
            );
        }
        if let Some(token) = data.get("bearerToken") {
            options = options.with_bearer_token(token.as_str());
        }
        if let Some(ca) = data.get("ca.crt") {
            options = options.with_ca_certificates(ca.as_bytes().to_vec());
        }
        if let Some(identity) = data.get("identity") {
            let mut ssh = SshAuth::new(identity.as_str());
            if let Some(known) = data.get("known_hosts") {
                ssh = ssh.with_known_hosts(known.as_str());
            }
            options = options.with_ssh(ssh);
        }
    }
    if let Some(verify) = &spec.verify {
        let mode = verify_mode(&verify.mode).unwrap_or_default();
        let keys = secret_data(&shared.client, &namespace, &verify.secret_ref.name).await?;
        let mut verification = Verification::new(mode);
        for key in keys.values() {
            if key.contains("BEGIN PGP PUBLIC KEY BLOCK") {
                verification = verification.with_gpg_keys(key.as_str());
            } else {
                for line in key
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                {
                    verification = verification.with_ssh_key(line);
                }
            }
        }
        options = options.with_verification(verification);
    }
    let source = converge::source::GitSource::with_options(spec.url.as_str(), options)
        .map_err(|e| format!("cannot use {}: {}", redact(&spec.url), chain(&e)))?;
    Ok(Arc::new(source))
}

/// One run of a sync (or of one preview environment).
pub(crate) struct Job {
    pub(crate) sync: Sync,
    /// What to render, and the revision it is (`main@sha1:…`).
    pub(crate) reference: Reference,
    pub(crate) revision: String,
    pub(crate) branch: Option<String>,
    pub(crate) teardown: bool,
    /// None for a teardown, which renders nothing.
    pub(crate) source: Option<Arc<dyn Source>>,
}

pub(crate) fn path(spec_path: &str) -> String {
    let path = spec_path
        .trim()
        .trim_start_matches("./")
        .trim_end_matches('/');
    if path == "." {
        String::new()
    } else {
        path.to_owned()
    }
}

pub(crate) async fn run_sync(shared: Arc<Shared>, job: Job) -> SyncResult {
    let started = std::time::Instant::now();
    let seconds = || started.elapsed().as_secs_f64();
    let spec = &job.sync.spec;
    let namespace = job.sync.namespace().unwrap_or_default();
    let environment = job.branch.as_deref().map(converge::preview::namespace);
    let engine = match spec.strategy {
        api::Strategy::ServerSide => &shared.server_side,
        api::Strategy::ClientSide => &shared.client_side,
        api::Strategy::Replace => &shared.replace,
    };
    let inventory = Inventory::new(
        namespace.as_str(),
        inventory_name(&job.sync.name_any(), environment.as_deref()),
    );
    let target = environment
        .clone()
        .or_else(|| spec.target_namespace.clone());
    let timeout = spec
        .timeout
        .as_deref()
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(300));
    let mut options = SyncOptions::default()
        .inventory(inventory.clone(), spec.prune || environment.is_some())
        .default_namespace(target.clone().unwrap_or_else(|| namespace.clone()))
        .wait(spec.wait.then_some(timeout))
        .timeout(Some(timeout));
    if let Some(account) = &spec.service_account_name {
        options = options.service_account(namespace.as_str(), account.as_str());
    }
    let mut log =
        |event: &converge_apply::Event| tracing::debug!(sync = %job.sync.name_any(), "{event}");

    if job.teardown {
        // Nothing to prune when the inventory is gone, or goes with its namespace (what is in
        // the namespace goes too; the inventory cannot be written there any more).
        let account = spec.service_account_name.as_deref();
        match nothing_to_prune(&shared.client, &namespace, &inventory.name, account).await {
            Ok(true) => {
                return SyncResult::TornDown {
                    summary: Summary::default(),
                    seconds: seconds(),
                };
            }
            Ok(false) => {}
            Err(message) => {
                return SyncResult::Failed {
                    revision: None,
                    reason: "PruneFailed",
                    message,
                    summary: Summary::default(),
                    seconds: seconds(),
                };
            }
        }
        // Every object of the environment, its namespace last, then the inventory itself.
        let options = options.allow_empty(true);
        return match engine.sync(&[], &options, &mut log).await {
            Ok(summary) => {
                let secrets: Api<k8s_openapi::api::core::v1::Secret> =
                    Api::namespaced(shared.client.clone(), &namespace);
                match secrets.delete(&inventory.name, &Default::default()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(status)) if status.code == 404 => {}
                    Err(err) => {
                        return SyncResult::Failed {
                            revision: None,
                            reason: "PruneFailed",
                            message: format!("cannot delete the inventory: {}", chain(&err)),
                            summary,
                            seconds: seconds(),
                        };
                    }
                }
                SyncResult::TornDown {
                    summary,
                    seconds: seconds(),
                }
            }
            Err(err) => failed(None, &err, false, seconds()),
        };
    }

    let mut vars = spec.substitute.clone();
    if let (Some(branch), Some(ns)) = (&job.branch, &environment) {
        vars.insert("PREVIEW_BRANCH".to_owned(), branch.clone());
        vars.insert("PREVIEW_NAMESPACE".to_owned(), ns.clone());
    }
    let renderer: Arc<dyn Renderer> = if vars.is_empty() {
        Arc::new(Auto::new())
    } else {
        Arc::new(Substitute::new(Auto::new()).with_vars(vars))
    };
    let Some(source) = job.source.clone() else {
        return SyncResult::Failed {
            revision: None,
            reason: "ArtifactFailed",
            message: "no source to render".to_owned(),
            summary: Summary::default(),
            seconds: seconds(),
        };
    };
    let pipeline = converge::Pipeline::from_shared(source, renderer).with_path(path(&spec.path));
    let rendered = match tokio::time::timeout(timeout, pipeline.render(&job.reference)).await {
        Err(_) => {
            return SyncResult::Failed {
                revision: None,
                reason: "ArtifactFailed",
                message: format!(
                    "reading and rendering {} timed out after {}",
                    job.revision,
                    human(timeout)
                ),
                summary: Summary::default(),
                seconds: seconds(),
            };
        }
        Ok(Ok(rendered)) => rendered,
        Ok(Err(err)) => {
            let reason = match &err {
                converge::Error::Source { .. } => "ArtifactFailed",
                _ => "BuildFailed",
            };
            return SyncResult::Failed {
                revision: None,
                reason,
                message: chain(&err),
                summary: Summary::default(),
                seconds: seconds(),
            };
        }
    };
    let revision = rendered.revision.to_string();
    let normalizer = match ignore_rules(&job.sync) {
        Ok(normalizer) => normalizer,
        Err(message) => {
            return SyncResult::Failed {
                revision: Some(revision),
                reason: "InvalidSpec",
                message,
                summary: Summary::default(),
                seconds: seconds(),
            };
        }
    };
    let mut objects: Vec<Value> = rendered
        .manifests
        .iter()
        .map(|m| {
            let mut object = m.object().clone();
            // Fields left to others are not applied: whoever owns them keeps them.
            if !job.sync.spec.ignore.is_empty() {
                normalizer.normalize(&mut object);
            }
            object
        })
        .collect();
    if let Some(target) = &target {
        for object in &mut objects {
            place(object, target);
        }
    }
    if let Some(ns) = &environment
        && !objects.iter().any(|o| {
            o["kind"] == "Namespace"
                && o["apiVersion"] == "v1"
                && o["metadata"]["name"] == ns.as_str()
        })
    {
        // The environment's namespace belongs to it, and goes with it.
        objects.insert(
            0,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {
                "name": ns,
                "labels": {"converge.dev/preview": job.sync.name_any()},
                "annotations": {"converge.dev/preview-branch": job.branch},
            }}),
        );
    }
    match engine.sync(&objects, &options, &mut log).await {
        Ok(summary) => SyncResult::Applied {
            revision,
            summary,
            seconds: seconds(),
        },
        Err(err) => failed(Some(revision), &err, spec.wait, seconds()),
    }
}

/// Whether a teardown has nothing it can prune: the inventory Secret is gone, its namespace
/// is being deleted, or the service account it would act as is gone (as Flux lets go then).
pub(crate) async fn nothing_to_prune(
    client: &kube::Client,
    namespace: &str,
    inventory: &str,
    account: Option<&str>,
) -> Result<bool, String> {
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), namespace);
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let read = |e: kube::Error| {
        format!(
            "cannot read the inventory {namespace}/{inventory}: {}",
            chain(&e)
        )
    };
    if secrets.get_opt(inventory).await.map_err(read)?.is_none() {
        return Ok(true);
    }
    let terminating = namespaces
        .get_opt(namespace)
        .await
        .map_err(read)?
        .is_none_or(|ns| ns.metadata.deletion_timestamp.is_some());
    if terminating {
        return Ok(true);
    }
    let Some(account) = account else {
        return Ok(false);
    };
    let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> =
        Api::namespaced(client.clone(), namespace);
    let missing = accounts
        .get_opt(account)
        .await
        .map_err(|e| {
            format!(
                "cannot read the service account {namespace}/{account}: {}",
                chain(&e)
            )
        })?
        .is_none();
    Ok(missing)
}

/// A failed sync; running out of time counts as a failed health check when the sync waits.
pub(crate) fn failed(
    revision: Option<String>,
    err: &SyncError,
    waits: bool,
    seconds: f64,
) -> SyncResult {
    let (reason, summary) = match err {
        SyncError::Unhealthy { summary, .. } => ("HealthCheckFailed", *summary),
        SyncError::Failed { summary, .. } => ("ReconciliationFailed", *summary),
        SyncError::TimedOut { .. } if waits => ("HealthCheckFailed", Summary::default()),
        _ => ("ReconciliationFailed", Summary::default()),
    };
    SyncResult::Failed {
        revision,
        reason,
        message: chain(err),
        summary,
        seconds,
    }
}

/// Moves a namespaced object into `namespace` (Flux's `targetNamespace`); the built-in kinds
/// that live outside namespaces are left as they are.
pub(crate) fn place(object: &mut Value, namespace: &str) {
    let api_version = object["apiVersion"].as_str().unwrap_or("");
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let kind = object["kind"].as_str().unwrap_or("");
    if converge::render::is_cluster_scoped(group, kind) {
        return;
    }
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("namespace".to_owned(), Value::String(namespace.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_namespace_moves_namespaced_objects_only() {
        let mut objects = [
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "namespace": "x"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "c"}}),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "d"}}),
        ];
        for object in &mut objects {
            place(object, "shop");
        }
        let namespaces: Vec<&Value> = objects
            .iter()
            .map(|o| &o["metadata"]["namespace"])
            .collect();
        assert_eq!(
            namespaces,
            [&json!("shop"), &json!("shop"), &Value::Null, &Value::Null]
        );
    }

    #[test]
    fn credentials_in_urls_are_not_repeated() {
        assert_eq!(
            redact("https://ci:s3cret@git.example/org/app.git"),
            "https://***@git.example/org/app.git"
        );
        assert_eq!(
            redact("ssh://git@git.example/org/app.git"),
            "ssh://***@git.example/org/app.git"
        );
        assert_eq!(redact("https://git.example/a@b"), "https://git.example/a@b");
        assert_eq!(redact("git@git.example:org/app"), "git@git.example:org/app");
    }
}
