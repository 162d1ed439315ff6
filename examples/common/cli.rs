//! Command-line pieces the reference binaries share: reference flags and error reporting.

use std::io::Write as _;
use std::process::ExitCode;

use converge::source::Reference;

/// `--path P` and `--cache DIR`: what to render of a directory or repository, and where to keep
/// the git cache.
#[derive(Debug, clap::Args)]
pub(crate) struct TreeArgs {
    /// Render only this path inside the directory or repository.
    #[arg(long, value_name = "P", default_value = "", hide_default_value = true)]
    pub(crate) path: String,
    /// Keep the git cache here across runs.
    #[arg(long, value_name = "DIR")]
    pub(crate) cache: Option<std::path::PathBuf>,
}

/// `--branch B | --tag T | --semver RANGE | --commit SHA | --ref NAME`: which revision to take
/// (default: the default branch, or a directory's current content).
#[derive(Debug, clap::Args)]
#[allow(dead_code, reason = "not every binary takes reference flags")]
#[group(multiple = false)]
pub(crate) struct RefArgs {
    /// A branch of the git repository.
    #[arg(long, value_name = "B")]
    pub(crate) branch: Option<String>,
    /// A tag of the git repository.
    #[arg(long, value_name = "T")]
    pub(crate) tag: Option<String>,
    /// The highest tag whose version is in this semver range (`>=1.2.0 <2.0.0`, `^1.4`).
    #[arg(long, value_name = "RANGE")]
    pub(crate) semver: Option<String>,
    /// A commit of the git repository (full id or an unambiguous prefix).
    #[arg(long, value_name = "SHA")]
    pub(crate) commit: Option<String>,
    /// A full ref name (`refs/pull/42/head`), or any name `git rev-parse` resolves.
    #[arg(long = "ref", value_name = "NAME")]
    pub(crate) name: Option<String>,
}

impl RefArgs {
    /// The reference the flags name.
    #[allow(dead_code, reason = "not every binary takes reference flags")]
    pub(crate) fn reference(&self) -> Reference {
        // The flags exclude one another (one group), so at most one is set.
        if let Some(branch) = &self.branch {
            Reference::Branch(branch.clone())
        } else if let Some(tag) = &self.tag {
            Reference::Tag(tag.clone())
        } else if let Some(range) = &self.semver {
            Reference::Semver(range.clone())
        } else if let Some(commit) = &self.commit {
            Reference::Commit(commit.clone())
        } else if let Some(name) = &self.name {
            Reference::Any(name.clone())
        } else {
            Reference::Default
        }
    }
}

/// A reference as `diff --base`/`--head` take it: `branch:B`, `tag:T`, `semver:RANGE`,
/// `commit:SHA` or `ref:NAME` (the kinds of the reference flags), or a bare name resolved as
/// `git rev-parse` does. Git ref names cannot hold `:`, so a prefix is never part of a name.
#[allow(dead_code, reason = "only diff takes references as values")]
pub(crate) fn parse_reference(value: &str) -> Result<Reference, String> {
    let Some((kind, name)) = value.split_once(':') else {
        return Ok(Reference::Any(value.to_owned()));
    };
    let name = name.to_owned();
    match kind {
        "branch" => Ok(Reference::Branch(name)),
        "tag" => Ok(Reference::Tag(name)),
        "semver" => Ok(Reference::Semver(name)),
        "commit" => Ok(Reference::Commit(name)),
        "ref" => Ok(Reference::Any(name)),
        _ => Err(format!(
            "invalid reference {value:?}: expected NAME, branch:B, tag:T, semver:RANGE, commit:SHA or ref:NAME"
        )),
    }
}

/// A `--var KEY=VALUE` flag's value.
#[allow(dead_code, reason = "only the binaries that render take variables")]
pub(crate) fn parse_var(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

/// The renderer of `render` and `sync`: by what the path holds, with `vars` substituted as
/// Flux's post-build step does, strictly (a variable with neither value nor default is an
/// error).
#[allow(dead_code, reason = "only the binaries that render take variables")]
pub(crate) fn renderer(
    vars: &[(String, String)],
) -> std::sync::Arc<dyn converge::render::Renderer> {
    use converge::render::{Auto, Substitute};
    if vars.is_empty() {
        std::sync::Arc::new(Auto::new())
    } else {
        std::sync::Arc::new(
            Substitute::new(Auto::new())
                .with_vars(vars.iter().cloned())
                .strict(true),
        )
    }
}

/// Renders what `location` holds at the flags' path and revision, with `vars` substituted:
/// what `render` prints and `sync` applies.
#[allow(dead_code, reason = "only render and sync render a location")]
pub(crate) async fn render(
    location: &str,
    tree: &TreeArgs,
    refs: &RefArgs,
    vars: &[(String, String)],
) -> Result<converge::Rendered, Box<dyn std::error::Error>> {
    let reference = refs.reference();
    let source = converge::source_for(
        location,
        reference != Reference::Default,
        tree.cache.as_deref(),
    )?;
    let pipeline =
        converge::Pipeline::from_shared(source, renderer(vars)).with_path(tree.path.as_str());
    Ok(pipeline.render(&reference).await?)
}

/// The client configuration of the kubeconfig `path`, or of `KUBECONFIG` without one, at
/// `context` (the current one by default); `None` with neither, when the binaries start the
/// embedded testcluster instead. Errors name the file.
#[allow(
    dead_code,
    reason = "only the binaries that talk to a cluster read a kubeconfig"
)]
pub(crate) async fn kubeconfig(
    path: Option<&std::path::Path>,
    context: Option<&str>,
) -> Result<Option<kube::Config>, Box<dyn std::error::Error>> {
    let Some(path) = path
        .map(std::path::Path::to_path_buf)
        .or_else(|| std::env::var_os("KUBECONFIG").map(std::path::PathBuf::from))
    else {
        return Ok(None);
    };
    let file = kube::config::Kubeconfig::read_from(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let options = kube::config::KubeConfigOptions {
        context: context.map(str::to_owned),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(file, &options)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(config))
}

/// Writes `text` to stdout. A reader that went away (`render … | head`) is not an error: the
/// rest of the output is dropped and the exit code stays what the work decides.
pub(crate) fn print(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Runs `work` to completion on a single-threaded runtime: its exit code, or 2 after printing
/// its error.
pub(crate) fn run(
    work: impl Future<Output = Result<ExitCode, Box<dyn std::error::Error>>>,
) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime
            .block_on(work)
            .unwrap_or_else(|err| fail(err.as_ref())),
        Err(err) => fail(&err),
    }
}

/// Prints `error: <message>: <cause>: …` to stderr and returns exit code 2, as kubectl does
/// for errors.
fn fail(err: &(dyn std::error::Error + 'static)) -> ExitCode {
    eprintln!("error: {}", chain(err));
    ExitCode::from(2)
}

/// An error and its causes on one line: `<message>: <cause>: …`.
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut message = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        cause = inner.source();
    }
    message
}
