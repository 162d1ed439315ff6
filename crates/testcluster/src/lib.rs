//! An in-process Kubernetes API server over real HTTP on loopback, for tests and benchmarks.
//!
//! [`TestCluster::start`] serves the Kubernetes REST protocol on `127.0.0.1` from a task of
//! the current tokio runtime: discovery, the built-in kinds a GitOps tool meets, and get,
//! list (label and field selectors, `limit`/`continue`), create (`generateName` too), update
//! with optimistic concurrency, JSON, merge and strategic merge patches, delete (finalizers,
//! namespaces that terminate), deletecollection, the status subresource, `dryRun=All` and
//! watch (resumable, with bookmarks and streaming lists), with Kubernetes' `Status` errors. Any client speaks to it: `kube::Client`, `kubectl` with
//! the [`kubeconfig`](TestCluster::kubeconfig) it writes, or plain HTTP.
//!
//! ```
//! use converge_testcluster::TestCluster;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cluster = TestCluster::start().await?;
//! assert!(cluster.url().starts_with("http://127.0.0.1:"));
//! assert!(cluster.kubeconfig().contains(&format!("server: {}", cluster.url())));
//! # Ok(()) }
//! ```

mod controller;
mod custom;
mod defaults;
mod error;
mod fields;
mod kinds;
mod log;
mod meta;
mod openapi;
mod select;
mod server;
mod status;
mod store;
mod tls;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use controller::JOB_OUTCOME_ANNOTATION;
pub use error::Error;
pub use log::{Fault, Request};

/// A running cluster. Dropping it stops the server.
#[derive(Debug)]
pub struct TestCluster {
    url: String,
    /// The certificates and token, when serving HTTPS.
    tls: Option<Arc<tls::Identity>>,
    task: tokio::task::JoinHandle<()>,
    controller: Option<tokio::task::JoinHandle<()>>,
    log: Arc<Mutex<log::Log>>,
}

/// How to start a cluster: [`TestCluster::builder`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Builder {
    port: u16,
    state: Option<PathBuf>,
    ready_after: Option<Duration>,
    https: bool,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder {
            port: 0,
            state: None,
            ready_after: Some(Duration::from_millis(100)),
            https: false,
        }
    }
}

impl Builder {
    /// Listens on `port` of 127.0.0.1 (0, the default, picks a free one).
    pub fn port(mut self, port: u16) -> Builder {
        self.port = port;
        self
    }

    /// Keeps the cluster's objects in `dir` (`state.json`): loaded at start when there, saved
    /// after every write, so that a cluster started again finds them.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.state = Some(dir.into());
        self
    }

    /// How long after a change workloads become ready and Jobs finish (100 ms by default):
    /// the cluster's stand-in controller then writes the status a real one would
    /// (Deployments, StatefulSets, DaemonSets and ReplicaSets with every replica ready and
    /// `observedGeneration` caught up; Jobs complete, or fail when annotated
    /// [`JOB_OUTCOME_ANNOTATION`]`: failed`; Pods run with every container ready;
    /// PersistentVolumeClaims are bound; Services of type LoadBalancer get an ingress
    /// address). `None` turns it off: statuses then stay as clients write them.
    pub fn ready_after(mut self, delay: Option<Duration>) -> Builder {
        self.ready_after = delay;
        self
    }

    /// Serves HTTPS instead of plain HTTP: a certificate authority is generated at start, and
    /// every request must come with a client certificate it signed or with the cluster's
    /// bearer token ([`TestCluster::token`]), else it gets `401 Unauthorized`. The
    /// [`kubeconfig`](TestCluster::kubeconfig) then carries the authority and both
    /// credentials.
    ///
    /// ```
    /// use converge_testcluster::TestCluster;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cluster = TestCluster::builder().https(true).start().await?;
    /// assert!(cluster.url().starts_with("https://127.0.0.1:"));
    /// assert!(cluster.kubeconfig().contains("client-certificate-data: "));
    /// # Ok(()) }
    /// ```
    pub fn https(mut self, https: bool) -> Builder {
        self.https = https;
        self
    }

    /// Starts the cluster, served by a task of the current tokio runtime.
    ///
    /// # Errors
    /// [`Error::Io`] when the port cannot be bound, [`Error::State`] when the saved state
    /// cannot be read.
    pub async fn start(self) -> Result<TestCluster, Error> {
        let state_file = self.state.map(|dir| dir.join("state.json"));
        let store = match &state_file {
            Some(file) if file.exists() => load(file)?,
            Some(file) => {
                if let Some(dir) = file.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| state_error(file, e))?;
                }
                store::Store::new()
            }
            None => store::Store::new(),
        };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .map_err(Error::Io)?;
        let address = listener.local_addr().map_err(Error::Io)?.to_string();
        let (changes, _) = tokio::sync::watch::channel(store.revision());
        let log = Arc::new(Mutex::new(log::Log::default()));
        let shared = server::Shared {
            store: Arc::new(Mutex::new(store)),
            address: address.clone(),
            changes: Arc::new(changes),
            state_file,
            log: log.clone(),
        };
        let controller = self.ready_after.map(|delay| {
            tokio::spawn(controller::run(
                shared.store.clone(),
                shared.changes.clone(),
                delay,
            ))
        });
        let app = axum::Router::new()
            .fallback(server::handle)
            .with_state(shared);
        let tls = match self.https {
            true => Some(Arc::new(tls::Identity::generate()?)),
            false => None,
        };
        let task = match &tls {
            Some(identity) => tokio::spawn(tls::serve(listener, app, identity.clone())),
            None => tokio::spawn(async move {
                // The server runs until the task is aborted; an accept error ends it.
                let _ = axum::serve(listener, app).await;
            }),
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        Ok(TestCluster {
            url: format!("{scheme}://{address}"),
            tls,
            task,
            controller,
            log,
        })
    }
}

fn state_error(file: &Path, e: impl std::fmt::Display) -> Error {
    Error::State {
        path: file.display().to_string(),
        message: e.to_string(),
    }
}

fn load(file: &Path) -> Result<store::Store, Error> {
    let bytes = std::fs::read(file).map_err(|e| state_error(file, e))?;
    let snapshot: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| state_error(file, e))?;
    store::Store::restore(&snapshot).map_err(|e| state_error(file, e))
}

/// Writes the store's objects to `file`, through a temporary file so that a crash leaves the
/// previous state whole.
pub(crate) fn save(store: &store::Store, file: &Path) -> Result<(), Error> {
    let temporary = file.with_extension("json.tmp");
    std::fs::write(&temporary, store.snapshot().to_string()).map_err(|e| state_error(file, e))?;
    std::fs::rename(&temporary, file).map_err(|e| state_error(file, e))
}

impl TestCluster {
    /// Starts a cluster on a free port of 127.0.0.1, served by a task of the current tokio
    /// runtime.
    ///
    /// # Errors
    /// [`Error::Io`] when no port can be bound.
    pub async fn start() -> Result<TestCluster, Error> {
        TestCluster::builder().start().await
    }

    /// A cluster to configure before starting it.
    ///
    /// ```
    /// use converge_testcluster::TestCluster;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let cluster = TestCluster::builder().state_dir(dir.path()).start().await?;
    /// # drop(cluster);
    /// # Ok(()) }
    /// ```
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The requests answered so far (the latest 10,000), oldest first; also served as JSON at
    /// `GET /debug/requests`.
    pub fn requests(&self) -> Vec<Request> {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .requests()
    }

    /// How many requests with `verb` on `resource` (`"list"`, `"configmaps"`) were answered.
    pub fn count(&self, verb: &str, resource: &str) -> u64 {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .count(verb, resource)
    }

    /// Injects `fault` into the requests it matches, until [`clear_faults`](Self::clear_faults)
    /// (or its `times` run out).
    ///
    /// ```
    /// use converge_testcluster::{Fault, TestCluster};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cluster = TestCluster::start().await?;
    /// cluster.inject(Fault::status(500).verb("list").times(1));
    /// # Ok(()) }
    /// ```
    pub fn inject(&self, fault: Fault) {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .inject(fault);
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear_faults();
    }

    /// The base URL: `http://127.0.0.1:<port>` (`https://` with [`Builder::https`]).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The PEM certificate of the authority that signed the server's and the client's
    /// certificates, when serving HTTPS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    /// The bearer token the cluster accepts, when serving HTTPS.
    pub fn token(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.token.as_str())
    }

    /// A kubeconfig for the cluster (context `testcluster`, namespace `default`), for
    /// `kubectl --kubeconfig` or any client that reads one. Over HTTPS it trusts the
    /// cluster's authority and authenticates with its client certificate; the context
    /// `testcluster-token` uses the bearer token instead.
    pub fn kubeconfig(&self) -> String {
        let data = |pem: &str| converge_core::base64(pem.as_bytes());
        let (authority, users, token_context) = match &self.tls {
            None => (
                String::new(),
                "- name: testcluster\n  user: {}\n".to_owned(),
                "",
            ),
            Some(tls) => (
                format!("    certificate-authority-data: {}\n", data(&tls.ca_pem)),
                format!(
                    "- name: testcluster\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n\
                     - name: testcluster-token\n  user:\n    token: {}\n",
                    data(&tls.client_cert_pem),
                    data(&tls.client_key_pem),
                    tls.token,
                ),
                "- name: testcluster-token\n  context:\n    cluster: testcluster\n    user: testcluster-token\n    namespace: default\n",
            ),
        };
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: testcluster\n  cluster:\n    server: {url}\n{authority}\
             users:\n{users}\
             contexts:\n- name: testcluster\n  context:\n    cluster: testcluster\n    user: testcluster\n    namespace: default\n{token_context}\
             current-context: testcluster\n",
            url = self.url,
        )
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(controller) = &self.controller {
            controller.abort();
        }
    }
}
