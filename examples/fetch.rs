//! Fetches a revision of a git repository and prints what it fetched, as Flux's
//! source-controller records an artifact: the revision and the content digest.
//!
//! ```text
//! cargo run --example fetch -- <URL> [--branch B | --tag T | --semver RANGE | --commit SHA | --ref NAME] [--path P] [--out DIR] [--cache DIR]
//! ```
//!
//! Prints exactly two lines:
//!
//! ```text
//! revision: main@sha1:1f3c…(40 hex)
//! digest: sha256:9a0e…(64 hex)
//! ```
//!
//! The revision names the ref it was resolved from (a commit asked for by id alone is
//! `sha1:<id>`, as Flux writes it); the digest covers the files under `--path` (default: the
//! whole tree), and is the same for the same files whatever the clone. With `--out DIR`, those
//! files are written into DIR (which must not exist yet or be empty). Exit code 0 on success, 2
//! on any error, which names the ref and the remote.

#[path = "common/cli.rs"]
mod cli;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use converge::core::{EntryKind, FileTree, normalize_path, walk_all_files};

/// Fetch a revision of a git repository; print its revision and content digest.
#[derive(Debug, Parser)]
#[command(name = "fetch")]
struct Args {
    /// The git repository: a URL (file://, …) or a path.
    url: String,
    #[command(flatten)]
    refs: cli::RefArgs,
    #[command(flatten)]
    tree: cli::TreeArgs,
    /// Write the files under --path into this directory.
    #[arg(long, value_name = "DIR")]
    out: Option<std::path::PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(run(&args))
}

async fn run(args: &Args) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let source = converge::source_for(&args.url, true, args.tree.cache.as_deref())?;
    let snapshot = source.fetch(&args.refs.reference()).await?;
    let path = normalize_path(&args.tree.path)?;
    let digest = snapshot.digest(&path)?;
    if let Some(out) = &args.out {
        write_tree(snapshot.tree.as_ref(), &path, out)?;
    }
    cli::print(&format!(
        "revision: {}\ndigest: {digest}\n",
        snapshot.revision
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the files under `path` of `tree` into `out`, keeping their paths below `path`.
fn write_tree(
    tree: &dyn FileTree,
    path: &str,
    out: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        return Err(format!("{}: exists and is not empty", out.display()).into());
    }
    let is_file = tree.kind(path)? == Some(EntryKind::File);
    for file in walk_all_files(tree, path)? {
        let relative = if is_file {
            file.rsplit('/').next().unwrap_or(&file)
        } else if path.is_empty() {
            &file
        } else {
            file.strip_prefix(path)
                .map(|rest| rest.trim_start_matches('/'))
                .unwrap_or(&file)
        };
        let target = out.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&target, tree.read(&file)?)
            .map_err(|e| format!("{}: {e}", target.display()))?;
    }
    Ok(())
}
