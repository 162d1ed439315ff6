//! Renders two revisions of a git repository and prints what changed between them, object by
//! object, as `kubectl diff` does, then a one-line summary.
//!
//! ```text
//! cargo run --example diff -- <DIR|GIT-URL> --base REF --head REF [--path P]
//! ```
//!
//! A REF is a branch, a tag, a full ref name or a commit id, resolved as `git rev-parse`
//! would. Server-set fields and `status` are not compared; Secret values are masked.
//! `--output text` (the default; coloured on a terminal unless `NO_COLOR` is set), `json` for
//! machines, `markdown` for a pull-request comment. Exit code as `kubectl diff`: 0 when
//! nothing differs, 1 when something does, 2 on any error.

#[path = "common/cli.rs"]
mod cli;

use std::process::ExitCode;

use clap::Parser;
use converge::Pipeline;
use std::io::IsTerminal as _;

use converge::diff::{TextDiffOptions, colorize};
use converge::render::Auto;
use converge::source::Reference;

/// Show what changed between two revisions of a repository.
#[derive(Debug, Parser)]
#[command(name = "diff")]
struct Args {
    /// A git repository: a directory or a URL.
    location: String,
    /// The revision to compare from: a name (`main`, `v1`, `refs/pull/42/head`) or
    /// `branch:B`, `tag:T`, `semver:RANGE`, `commit:SHA`, `ref:NAME`.
    #[arg(long, value_name = "REF", value_parser = cli::parse_reference)]
    base: Reference,
    /// The revision to compare to, in the same forms.
    #[arg(long, value_name = "REF", value_parser = cli::parse_reference)]
    head: Reference,
    #[command(flatten)]
    tree: cli::TreeArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Output {
    Text,
    Json,
    Markdown,
}

/// The name a reference gives the diff headers: what the user wrote, without a kind prefix.
fn label(reference: &Reference) -> &str {
    match reference {
        Reference::Branch(name)
        | Reference::Tag(name)
        | Reference::Semver(name)
        | Reference::Commit(name)
        | Reference::Any(name) => name,
        _ => "HEAD",
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(run(&args))
}

/// Prints the diff; exit code 1 when something differs, 0 when nothing does.
async fn run(args: &Args) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let source = converge::source_for(&args.location, true, args.tree.cache.as_deref())?;
    let pipeline = Pipeline::from_shared(source, std::sync::Arc::new(Auto::new()))
        .with_path(args.tree.path.as_str());
    let result = pipeline.diff(&args.base, &args.head).await?;
    let options = TextDiffOptions::default().with_labels(label(&args.base), label(&args.head));
    let diff = &result.diff;
    match args.output {
        Output::Text => {
            let text = diff.to_text(&options)?;
            let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            cli::print(&if colour { colorize(&text) } else { text })?;
            cli::print(&format!(
                "summary: {} ({} → {})\n",
                diff.summary(),
                result.base,
                result.head
            ))?;
        }
        Output::Json => {
            let mut json = diff.to_json();
            json["base"] = result.base.to_string().into();
            json["head"] = result.head.to_string().into();
            cli::print(&format!("{}\n", serde_json::to_string_pretty(&json)?))?;
        }
        Output::Markdown => {
            cli::print(&format!("`{}` → `{}`\n\n", result.base, result.head))?;
            cli::print(&diff.to_markdown(&options)?)?;
        }
    }
    Ok(if result.diff.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
