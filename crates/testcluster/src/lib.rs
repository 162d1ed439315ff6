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

mod error;
mod kinds;
mod meta;
mod select;
mod server;
mod status;
mod store;
mod watch;

use std::sync::{Arc, Mutex};

pub use error::Error;

/// A running cluster. Dropping it stops the server.
#[derive(Debug)]
pub struct TestCluster {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl TestCluster {
    /// Starts a cluster on a free port of 127.0.0.1, served by a task of the current tokio
    /// runtime.
    ///
    /// # Errors
    /// [`Error::Io`] when no port can be bound.
    pub async fn start() -> Result<TestCluster, Error> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(Error::Io)?;
        let address = listener.local_addr().map_err(Error::Io)?.to_string();
        let store = store::Store::new();
        let (changes, _) = tokio::sync::watch::channel(store.revision());
        let shared = server::Shared {
            store: Arc::new(Mutex::new(store)),
            address: address.clone(),
            changes: Arc::new(changes),
        };
        let app = axum::Router::new()
            .fallback(server::handle)
            .with_state(shared);
        let task = tokio::spawn(async move {
            // The server runs until the task is aborted; an accept error ends it.
            let _ = axum::serve(listener, app).await;
        });
        Ok(TestCluster {
            url: format!("http://{address}"),
            task,
        })
    }

    /// The base URL: `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A kubeconfig for the cluster (context `testcluster`, namespace `default`), for
    /// `kubectl --kubeconfig` or any client that reads one.
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: testcluster
  cluster:
    server: {url}
users:
- name: testcluster
  user: {{}}
contexts:
- name: testcluster
  context:
    cluster: testcluster
    user: testcluster
    namespace: default
current-context: testcluster
",
            url = self.url
        )
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        self.task.abort();
    }
}
