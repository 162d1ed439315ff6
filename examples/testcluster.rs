//! Serves an in-process Kubernetes API server on 127.0.0.1 until interrupted, for kubectl or
//! any client.
//!
//! ```text
//! cargo run --example testcluster -- [--port N] [--state DIR] [--kubeconfig-out FILE] [--https]
//! kubectl --kubeconfig FILE get namespaces
//! ```
//!
//! `--port` picks the port (a free one by default); `--state` keeps the objects in DIR, so
//! that the next start finds them; `--kubeconfig-out` writes a kubeconfig for the cluster
//! (context `testcluster`, namespace `default`); `--https` serves HTTPS with a certificate
//! authority made at start, and the kubeconfig then carries it with a client certificate
//! (and, in the context `testcluster-token`, a bearer token). It prints the server's URL, then
//! serves until Ctrl-C. Exit code 0 when interrupted, 2 when it cannot start.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use converge_testcluster::TestCluster;

/// Serve an in-process Kubernetes API server on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "testcluster")]
struct Args {
    /// The port to listen on (default: a free one).
    #[arg(long, value_name = "N", default_value_t = 0)]
    port: u16,
    /// A directory to keep the cluster's objects in across starts.
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Where to write a kubeconfig for the cluster.
    #[arg(long = "kubeconfig-out", value_name = "FILE")]
    kubeconfig_out: Option<PathBuf>,
    /// Serve HTTPS; callers need the kubeconfig's client certificate or token.
    #[arg(long)]
    https: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut builder = TestCluster::builder().port(args.port).https(args.https);
    if let Some(dir) = &args.state {
        builder = builder.state_dir(dir);
    }
    let cluster = match builder.start().await {
        Ok(cluster) => cluster,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(file) = &args.kubeconfig_out
        && let Err(e) = std::fs::write(file, cluster.kubeconfig())
    {
        eprintln!("error: cannot write {}: {e}", file.display());
        return ExitCode::from(2);
    }
    println!("testcluster: serving at {}", cluster.url());
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    drop(cluster);
    ExitCode::SUCCESS
}
