//! Writes the CustomResourceDefinitions of the reference controller's kinds (`GitSource`,
//! `Sync`, group `converge.dev`), generated from their Rust types in `converge::api`.
//!
//! ```text
//! cargo run --example crdgen                      # both, as one YAML stream on stdout
//! cargo run --example crdgen -- --out config/crds # one file per kind
//! ```
//!
//! The files in `config/crds/` are this program's output, committed; a test keeps them so.
//! Exit code 0, or 2 when a file cannot be written.

#[path = "common/cli.rs"]
mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use converge::api::{GitSource, Sync};
use kube::CustomResourceExt;

/// Write the CRDs of GitSource and Sync.
#[derive(Debug, Parser)]
#[command(name = "crdgen")]
struct Args {
    /// Write `gitsources.yaml` and `syncs.yaml` into this directory instead of stdout.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(run(&args))
}

async fn run(args: &Args) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let crds = [
        ("gitsources.yaml", serde_json::to_value(GitSource::crd())?),
        ("syncs.yaml", serde_json::to_value(Sync::crd())?),
    ];
    match &args.out {
        None => {
            let yaml = converge::core::to_yaml_stream(crds.iter().map(|(_, crd)| crd))?;
            cli::print(&yaml)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            for (file, crd) in &crds {
                let path = dir.join(file);
                let yaml = converge::core::to_yaml_stream(std::iter::once(crd))?;
                std::fs::write(&path, yaml).map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
