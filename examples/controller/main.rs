//! The reference controller: Converge's crates assembled into a continuous GitOps loop, in the
//! spirit of Flux's source and kustomize controllers.
//!
//! ```text
//! cargo run --example controller -- [--kubeconfig F] [--context C] [--file RESOURCES.yaml]
//!     [--namespace N] [--watch-label-selector S] [--listen ADDR] [--webhook-secret-file F]
//!     [--concurrency N] [--leader-elect] [--lease-namespace N] [--lease-name NAME]
//!     [--lease-duration D] [--identity ID] [--backoff-base D] [--backoff-max D]
//!     [--shutdown-timeout D] [--source-timeout D] [--no-cross-namespace-refs] [--cache DIR]
//!     [--state DIR] [--log-format text|json]
//! cargo run --example controller -- --file examples/controller.yaml
//! ```
//!
//! It follows the `GitSource` and `Sync` objects of the cluster (`config/crds/`), or those of
//! `--file` when the cluster has no CRDs for them. Each source is polled on its interval with
//! a ref listing; a Sync is reconciled when its source moves to a new revision, on its own
//! interval (taking back drift), and at once when asked (the `converge.dev/requested-at`
//! annotation, or a verified push to the webhook receiver). Status goes back to each object —
//! `Ready`, `Reconciling` and `Stalled` conditions with reasons, revisions, inventory counts —
//! with a Kubernetes Event for each outcome.
//!
//! One HTTP listener serves `/metrics` (Prometheus), `/healthz`, `/readyz`, `/hook` (GitHub
//! and GitLab pushes, when a webhook secret is given) and `/status` (the statuses as JSON:
//! the only place they go with `--file`). With `--leader-elect`, replicas share a Lease and
//! only its holder reconciles. SIGTERM or Ctrl-C stops taking work, lets what is running
//! finish for `--shutdown-timeout`, abandons the rest (a sync is safe to cut short: the next
//! run completes it) and lets go of the Lease.
//!
//! Without `--kubeconfig` or `KUBECONFIG`, it starts the embedded testcluster (state in
//! `--state`), installs the CRDs and works there.
//!
//! The files: `main.rs` (flags, wiring, leader election, shutdown), `scheduler.rs` (the loop's
//! decisions and the statuses), `work.rs` (what a poll and a sync do), `store.rs` (the objects
//! as last seen, and writing statuses and Events back), `http.rs` and `metrics.rs`.

// The binaries' shared command-line pieces; the controller takes the kubeconfig and the
// error chain.
#[allow(dead_code, reason = "the controller takes flags of its own")]
#[path = "../common/cli.rs"]
mod cli;
mod http;
mod metrics;
mod scheduler;
mod store;
mod work;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use converge::api::parse_duration;
use converge::leader::LeaseLock;
use converge_testcluster::TestCluster;
use tokio::sync::watch;

/// The field manager and event source Converge writes as.
pub(crate) const MANAGER: &str = "converge-controller";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log pipelines.
    Json,
}

/// Keep the GitSources and Syncs of a cluster (or of a file) applied, continuously.
#[derive(Debug, Parser)]
#[command(name = "controller")]
struct Args {
    /// The kubeconfig of the cluster (default: `KUBECONFIG`; with neither, the embedded
    /// testcluster).
    #[arg(long, value_name = "F")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, value_name = "C")]
    context: Option<String>,
    /// Read GitSources and Syncs from this file (once, at start) instead of the cluster's
    /// CRDs; statuses are then served at `/status` only, and Events only logged.
    #[arg(long, value_name = "F")]
    file: Option<PathBuf>,
    /// Follow only the GitSources and Syncs of this namespace (default: all).
    #[arg(long, short = 'n', value_name = "N")]
    namespace: Option<String>,
    /// Follow only GitSources and Syncs matching this label selector: one shard of many
    /// (`converge.dev/shard=blue`, `!converge.dev/shard`).
    #[arg(long, value_name = "S")]
    watch_label_selector: Option<String>,
    /// Where `/metrics`, `/healthz`, `/readyz`, `/status` and `/hook` are served.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// A file holding the webhook secret (GitHub's HMAC secret, GitLab's token); without it
    /// (or `CONVERGE_WEBHOOK_SECRET`) there is no `/hook`.
    #[arg(long, value_name = "F")]
    webhook_secret_file: Option<PathBuf>,
    /// How many syncs and source polls run at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// Take part in leader election: only the holder of the Lease reconciles.
    #[arg(long)]
    leader_elect: bool,
    /// The Lease's namespace.
    #[arg(long, value_name = "N", default_value = "default")]
    lease_namespace: String,
    /// The Lease's name (one per shard).
    #[arg(long, value_name = "NAME", default_value = "converge-controller")]
    lease_name: String,
    /// How long a leader holds the Lease without renewing it.
    #[arg(long, value_name = "D", default_value = "15s", value_parser = parse_duration)]
    lease_duration: Duration,
    /// This replica's identity in the Lease (default: host name and process id).
    #[arg(long, value_name = "ID")]
    identity: Option<String>,
    /// The first wait after a failure; each further failure doubles it.
    #[arg(long, value_name = "D", default_value = "5s", value_parser = parse_duration)]
    backoff_base: Duration,
    /// The longest wait after failures.
    #[arg(long, value_name = "D", default_value = "5m", value_parser = parse_duration)]
    backoff_max: Duration,
    /// How long work in hand may finish after SIGTERM before it is abandoned.
    #[arg(long, value_name = "D", default_value = "30s", value_parser = parse_duration)]
    shutdown_timeout: Duration,
    /// How long polling a source (listing its refs, fetching and verifying a revision) may
    /// take.
    #[arg(long, value_name = "D", default_value = "1m", value_parser = parse_duration)]
    source_timeout: Duration,
    /// Refuse a Sync whose source or dependencies are in another namespace (for clusters
    /// shared by tenants).
    #[arg(long)]
    no_cross_namespace_refs: bool,
    /// Where git caches are kept.
    #[arg(long, value_name = "DIR", default_value = ".converge/cache")]
    cache: PathBuf,
    /// Where the embedded testcluster keeps its objects.
    #[arg(long, value_name = "DIR", default_value = ".converge/testcluster")]
    state: PathBuf,
    /// How logs are written (`RUST_LOG` picks what is logged).
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logs(args.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => return fail(&err),
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(err.as_ref()),
    }
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
}

fn fail(err: &(dyn std::error::Error + 'static)) -> ExitCode {
    tracing::error!("{}", cli::chain(err));
    ExitCode::from(2)
}

/// The cluster's client configuration: the kubeconfig's, or the embedded testcluster's.
async fn cluster(
    args: &Args,
) -> Result<(kube::Config, Option<TestCluster>), Box<dyn std::error::Error>> {
    if let Some(config) =
        cli::kubeconfig(args.kubeconfig.as_deref(), args.context.as_deref()).await?
    {
        return Ok((config, None));
    }
    let cluster = TestCluster::builder()
        .state_dir(&args.state)
        .start()
        .await?;
    tracing::info!(
        url = cluster.url(),
        state = %args.state.display(),
        "no kubeconfig: using the embedded testcluster"
    );
    let config = kube::Config::new(cluster.url().parse()?);
    store::install_crds(kube::Client::try_from(config.clone())?).await?;
    Ok((config, Some(cluster)))
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if args.backoff_base.is_zero() || args.backoff_max < args.backoff_base {
        return Err(
            "--backoff-base must be more than 0, and --backoff-max at least as much".into(),
        );
    }
    let webhook_secret = match &args.webhook_secret_file {
        Some(path) => Some(
            std::fs::read(path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .trim_ascii()
                .to_vec(),
        ),
        None => std::env::var("CONVERGE_WEBHOOK_SECRET")
            .ok()
            .filter(|s| !s.is_empty())
            .map(String::into_bytes),
    };
    // Resources from a file are read (and refused) before anything starts.
    let file = match &args.file {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(converge::api::from_yaml(
                &path.display().to_string(),
                &bytes,
            )?)
        }
        None => None,
    };

    let (config, _embedded) = cluster(&args).await?;
    let client = kube::Client::try_from(config.clone())?;
    let metrics = Arc::new(metrics::Metrics::new());
    let store = store::Store::shared();
    let (shutdown_tx, shutdown) = watch::channel(false);
    let writer = store::Writer::start(file.is_none().then(|| client.clone()), store.clone());
    match file {
        Some(resources) => store::load(&store, resources),
        None => store::reflect(
            client.clone(),
            args.namespace.clone(),
            args.watch_label_selector.clone(),
            store.clone(),
        ),
    }

    let identity = args.identity.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "converge".to_owned());
        format!("{host}-{}", std::process::id())
    });
    let (leading_tx, leading) = watch::channel(!args.leader_elect);
    // The Lease is kept until the scheduler has finished or abandoned its work.
    let (stop_electing, electing) = watch::channel(false);
    // Without election, the sender stays here, unused, for the whole run.
    let (elector, _always_leading) = if args.leader_elect {
        let lock = LeaseLock::new(
            client.clone(),
            &args.lease_namespace,
            &args.lease_name,
            identity.clone(),
        )
        .lease_duration(args.lease_duration);
        let elector = tokio::spawn(elect(
            lock,
            args.lease_duration,
            leading_tx,
            metrics.clone(),
            electing,
        ));
        (Some(elector), None)
    } else {
        (None, Some(leading_tx))
    };
    if !args.leader_elect {
        metrics.leader.set(1);
    }

    let (pushes_tx, pushes) = tokio::sync::mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, webhook = webhook_secret.is_some(), "serving metrics, health and status");
    let app = http::router(
        metrics.clone(),
        store.clone(),
        writer.clone(),
        webhook_secret,
        pushes_tx,
    );
    let mut server_stop = shutdown.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = server_stop.wait_for(|stop| *stop).await;
            })
            .await
    });

    let scheduler = scheduler::Scheduler::new(
        scheduler::Settings {
            concurrency: usize::from(args.concurrency),
            backoff_base: args.backoff_base,
            backoff_max: args.backoff_max,
            shutdown_timeout: args.shutdown_timeout,
            cache: args.cache.clone(),
            source_timeout: args.source_timeout,
            no_cross_namespace_refs: args.no_cross_namespace_refs,
        },
        config,
        client,
        store,
        writer.clone(),
        metrics,
        args.file.is_some(),
    )?;
    let mut work = tokio::spawn(scheduler.run(leading, pushes, shutdown.clone()));

    tokio::select! {
        () = signal() => {}
        // The loop never ends by itself: if it did (a bug), say so and exit, rather than
        // answer /healthz while nothing is reconciled.
        ended = &mut work => {
            return Err(match ended {
                Ok(()) => "the reconcile loop stopped".into(),
                Err(err) => format!("the reconcile loop failed: {err}").into(),
            });
        }
    }
    tracing::info!("shutting down: finishing the work in hand");
    let _ = shutdown_tx.send(true);
    work.await?;
    // Statuses are written while this replica still holds the Lease.
    let bound = Duration::from_secs(10);
    if tokio::time::timeout(bound, writer.flush()).await.is_err() {
        tracing::warn!("statuses not written within {bound:?}: left");
    }
    let _ = stop_electing.send(true);
    if let Some(elector) = elector
        && tokio::time::timeout(bound, elector).await.is_err()
    {
        tracing::warn!("the Lease not released within {bound:?}: it expires");
    }
    server.await??;
    tracing::info!("stopped");
    Ok(())
}

/// Waits for SIGTERM or SIGINT.
async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Leader election, as client-go runs it: try every fifth of the lease; a leader that could
/// not renew for two thirds of it steps down before anyone else may take over; on shutdown
/// the Lease is let go, so that another replica takes over at once.
async fn elect(
    mut lock: LeaseLock,
    lease: Duration,
    leading: watch::Sender<bool>,
    metrics: Arc<metrics::Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let retry = (lease / 5).max(Duration::from_millis(100));
    let renew_deadline = lease * 2 / 3;
    let mut renewed = None::<tokio::time::Instant>;
    loop {
        let now = tokio::time::Instant::now();
        // A request that hangs must not keep a leader leading past its deadline.
        let attempt = tokio::time::timeout(renew_deadline, lock.try_acquire_or_renew()).await;
        let still_in_time = || {
            let now = tokio::time::Instant::now();
            renewed.is_some_and(|at| now.duration_since(at) < renew_deadline)
        };
        let held = match attempt {
            Ok(Ok(held)) => {
                if held {
                    renewed = Some(now);
                }
                held
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "cannot reach the Lease");
                still_in_time()
            }
            Err(_) => {
                tracing::warn!("the Lease did not answer within {renew_deadline:?}");
                still_in_time()
            }
        };
        if held != *leading.borrow() {
            if held {
                tracing::info!(identity = lock.identity(), "became the leader");
            } else {
                tracing::warn!(identity = lock.identity(), "lost the lead");
                renewed = None;
            }
            let _ = leading.send(held);
            metrics.leader.set(i64::from(held));
        }
        tokio::select! {
            _ = tokio::time::sleep(retry) => {}
            _ = stop.wait_for(|stop| *stop) => break,
        }
    }
    let _ = leading.send(false);
    metrics.leader.set(0);
    if renewed.is_some()
        && let Err(err) = lock.release().await
    {
        tracing::warn!(error = %err, "cannot let go of the Lease");
    }
}
