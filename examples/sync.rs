//! Syncs a directory or a git revision into a cluster: source → render → apply, with the
//! sync engine of converge-apply.
//!
//! ```text
//! cargo run --example sync -- <DIR|GIT-URL> [--path P] [--branch B | --tag T | --semver RANGE | --commit SHA | --ref NAME]
//!     [--kubeconfig F] [--context C] [--namespace N] [--strategy server-side|client-side|replace]
//!     [--prune] [--dry-run] [--wait] [--timeout D] [--var KEY=VALUE]... [--state DIR]
//! cargo run --example sync -- examples/demo --path production --prune --wait
//! ```
//!
//! With `--kubeconfig`, or `KUBECONFIG` set, it syncs that cluster. With neither, it starts
//! the embedded testcluster, whose objects persist in `--state` (`.converge/testcluster` by
//! default): a second run finds what the first applied, reports every object unchanged and
//! writes nothing. The inventory (an ApplySet, a Secret in `--namespace`) is named after the
//! path, so each path of a repository is its own set. It prints each step as it goes, and its
//! last line is exactly `sync: N created, N updated, N unchanged, N pruned, N failed`.
//!
//! Exit code 0 when the sync succeeded, 1 when it failed (an object refused, a wait timed
//! out), 2 on bad input (flags, a ref that does not resolve, manifests that do not render).

#[path = "common/cli.rs"]
mod cli;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use converge_apply::{
    Applier, ClientSideApply, Engine, Error as SyncError, Inventory, Replace, ServerSideApply,
    Summary, SyncOptions,
};
use converge_testcluster::TestCluster;

/// The field manager Converge writes as.
const MANAGER: &str = "converge";

/// How objects are written.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Strategy {
    /// Server-side apply (field ownership; what Flux does).
    ServerSide,
    /// Client-side three-way apply with the last-applied annotation (what `kubectl apply` does).
    ClientSide,
    /// Replace the whole object (`PUT`).
    Replace,
}

/// Sync the manifests of a directory or a git revision into a cluster.
#[derive(Debug, Parser)]
#[command(name = "sync")]
struct Args {
    /// A directory, or a git URL (file://, a path with a reference flag, …).
    location: String,
    #[command(flatten)]
    tree: cli::TreeArgs,
    #[command(flatten)]
    refs: cli::RefArgs,
    /// The kubeconfig of the cluster (default: `KUBECONFIG`; with neither, the embedded
    /// testcluster).
    #[arg(long, value_name = "F")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, value_name = "C")]
    context: Option<String>,
    /// The namespace of objects that name none, and of the inventory.
    #[arg(long, short = 'n', value_name = "N", default_value = "default")]
    namespace: String,
    /// How objects are written.
    #[arg(long, value_enum, default_value = "server-side")]
    strategy: Strategy,
    /// Delete what the previous sync of this path applied and git no longer holds.
    #[arg(long)]
    prune: bool,
    /// Check everything with the server, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Wait for what was applied to become healthy, wave by wave.
    #[arg(long)]
    wait: bool,
    /// How long `--wait` waits (`90s`, `5m`, `1h`).
    #[arg(long, value_name = "D", default_value = "5m", value_parser = converge::api::parse_duration)]
    timeout: Duration,
    /// A variable for `${KEY}` substitution (repeatable).
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = cli::parse_var)]
    vars: Vec<(String, String)>,
    /// Where the embedded testcluster keeps its objects.
    #[arg(long, value_name = "DIR", default_value = ".converge/testcluster")]
    state: PathBuf,
}

/// The inventory's name for a path: `converge-production`, `converge` at the root.
fn inventory_name(path: &str) -> String {
    let slug: String = path
        .trim_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug.trim_matches('-');
    if slug.is_empty() {
        "converge".to_owned()
    } else {
        format!("converge-{slug}").chars().take(253).collect()
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(run(&args))
}

async fn run(args: &Args) -> Result<ExitCode, Box<dyn std::error::Error>> {
    // Render first: bad input is found before any cluster is touched.
    let rendered = cli::render(&args.location, &args.tree, &args.refs, &args.vars).await?;
    let objects: Vec<serde_json::Value> = rendered
        .manifests
        .iter()
        .map(|m| m.object().clone())
        .collect();
    println!(
        "sync: {} objects rendered from {}",
        objects.len(),
        args.location
    );

    // The cluster: the kubeconfig's, or the embedded one.
    let kubeconfig = cli::kubeconfig(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
    let (client, _embedded) = match kubeconfig {
        Some(config) => (kube::Client::try_from(config)?, None),
        None => {
            let cluster = TestCluster::builder()
                .state_dir(&args.state)
                .start()
                .await?;
            println!(
                "sync: no kubeconfig: using the embedded testcluster at {} (state in {})",
                cluster.url(),
                args.state.display()
            );
            let url = cluster.url().parse()?;
            (
                kube::Client::try_from(kube::Config::new(url))?,
                Some(cluster),
            )
        }
    };

    let applier: Box<dyn Applier> = match args.strategy {
        // Git is the truth: fields someone changed by hand are taken back, as Flux does.
        Strategy::ServerSide => Box::new(ServerSideApply::new(MANAGER).force(true)),
        Strategy::ClientSide => Box::new(ClientSideApply::new(MANAGER)),
        Strategy::Replace => Box::new(Replace::new(MANAGER)),
    };
    let engine = Engine::new(client, applier);
    let options = SyncOptions::default()
        .inventory(
            Inventory::new(args.namespace.as_str(), inventory_name(&args.tree.path)),
            args.prune,
        )
        .default_namespace(args.namespace.as_str())
        .dry_run(args.dry_run)
        .wait(args.wait.then_some(args.timeout));
    let outcome = engine
        .sync(&objects, &options, &mut |event| {
            // As kubectl marks it: nothing of a dry run was stored.
            let marker = if args.dry_run { " (dry run)" } else { "" };
            println!("{event}{marker}");
        })
        .await;
    let (summary, code) = match outcome {
        Ok(summary) => (summary, ExitCode::SUCCESS),
        Err(err) => {
            eprintln!("error: {err}");
            let summary = match &err {
                SyncError::Failed { summary, .. } | SyncError::Unhealthy { summary, .. } => {
                    *summary
                }
                _ => Summary::default(),
            };
            (summary, ExitCode::from(1))
        }
    };
    cli::print(&format!("sync: {summary}\n"))?;
    Ok(code)
}
