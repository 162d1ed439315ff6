//! Renders a directory or a git revision to multi-document YAML on stdout, like
//! `kustomize build`.
//!
//! ```text
//! cargo run --example render -- <DIR|GIT-URL> [--path P] [--branch B | --tag T | --semver RANGE | --commit SHA | --ref NAME] [--var KEY=VALUE]...
//! cargo run --example render -- examples/demo --path production
//! ```
//!
//! A directory is read as it is; with a reference flag, or given a git URL, the revision is
//! fetched with `GitSource` and read straight from git objects. The path is rendered by what
//! it holds: a kustomization file as an overlay, a `Chart.yaml` with `helm template`, anything
//! else as plain YAML. `--var` values are substituted as Flux's post-build step does
//! (`${KEY}`, `${KEY:=default}`), strictly: a variable with neither value nor default is an
//! error. Exit code 0 on success, 2 on any error (which names the file and line, or the ref).

#[path = "common/cli.rs"]
mod cli;

use std::process::ExitCode;

use clap::Parser;

/// Render the manifests of a directory or a git revision.
#[derive(Debug, Parser)]
#[command(name = "render")]
struct Args {
    /// A directory, or a git URL (file://, a path with a reference flag, …).
    location: String,
    #[command(flatten)]
    tree: cli::TreeArgs,
    #[command(flatten)]
    refs: cli::RefArgs,
    /// A variable for `${KEY}` substitution (repeatable).
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = cli::parse_var)]
    vars: Vec<(String, String)>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(run(&args))
}

async fn run(args: &Args) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let rendered = cli::render(&args.location, &args.tree, &args.refs, &args.vars).await?;
    let yaml = converge::core::to_yaml_stream(rendered.manifests.iter().map(|m| m.object()))?;
    cli::print(&yaml)?;
    Ok(ExitCode::SUCCESS)
}
