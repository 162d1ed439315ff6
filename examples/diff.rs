//! Renders two revisions of a git repository and prints what changed between them, object by
//! object, as `kubectl diff` does, then a one-line summary.
//!
//! ```text
//! cargo run --example diff -- <DIR|GIT-URL> --base REF --head REF [--path P]
//! ```
//!
//! A REF is a branch, a tag, a full ref name or a commit id, resolved as `git rev-parse`
//! would. Secret values are masked. Exit code as `kubectl diff`: 0 when nothing differs, 1 when
//! something does, 2 on any error.

#[path = "common/cli.rs"]
mod cli;

use std::process::ExitCode;

use clap::Parser;
use converge::Pipeline;
use converge::diff::{TextDiffOptions, unified_diff};
use converge::render::PlainYaml;
use converge::source::Reference;

/// Show what changed between two revisions of a repository.
#[derive(Debug, Parser)]
#[command(name = "diff")]
struct Args {
    /// A git repository: a directory or a URL.
    location: String,
    /// The revision to compare from.
    #[arg(long, value_name = "REF")]
    base: String,
    /// The revision to compare to.
    #[arg(long, value_name = "REF")]
    head: String,
    #[command(flatten)]
    tree: cli::TreeArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(run(&args))
}

/// Prints the diff; exit code 1 when something differs, 0 when nothing does.
async fn run(args: &Args) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let source = converge::source_for(&args.location, true, args.tree.cache.as_deref())?;
    let pipeline = Pipeline::from_shared(source, std::sync::Arc::new(PlainYaml::new()))
        .with_path(args.tree.path.as_str());
    let result = pipeline
        .diff(
            &Reference::Any(args.base.clone()),
            &Reference::Any(args.head.clone()),
        )
        .await?;
    let options = TextDiffOptions::default().with_labels(&args.base, &args.head);
    for entry in result.diff.differences() {
        cli::print(&unified_diff(entry, &options)?)?;
    }
    cli::print(&format!(
        "summary: {} ({} → {})\n",
        result.diff.summary(),
        result.base,
        result.head
    ))?;
    Ok(if result.diff.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
