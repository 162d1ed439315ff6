//! The Helm renderer: `helm template` on a chart read from the tree.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use async_trait::async_trait;
use converge_core::{
    EntryKind, FileTree, Manifest, Origin, index_by_key, normalize_path, parse_documents,
    parse_manifests, walk_all_files,
};

use crate::{Error, Renderer};

/// The environment variable naming the `helm` binary when [`Helm::with_binary`] was not used.
const HELM_ENV: &str = "CONVERGE_HELM";

/// Renders a Helm chart with `helm template`.
///
/// `path` is the chart's directory in the tree; it must hold a `Chart.yaml`. The chart's files
/// (dot files such as `.helmignore` included, which helm then honours) are copied into a
/// private temporary directory, because trees may come straight from git and never exist on
/// disk, and `helm template` runs there:
///
/// - **release name**: [`with_release_name`](Helm::with_release_name), else the chart's
///   `name` in `Chart.yaml`;
/// - **namespace**: [`with_namespace`](Helm::with_namespace), else `default` (what helm uses
///   without a kubeconfig);
/// - values files ([`with_values_file`](Helm::with_values_file), paths in the tree, copied
///   too), `--set`, `--set-string`, `--kube-version`, `--api-versions`, `--include-crds` and
///   `--skip-tests` as the `with_*` methods say.
///
/// **The binary**: [`with_binary`](Helm::with_binary), else the `CONVERGE_HELM` environment
/// variable (read at each render), else `helm` on `PATH`. Tested with helm v4.1.4.
///
/// **Isolation**: helm runs with every `HELM_*` variable of the environment removed, and with
/// its cache, configuration and data homes and its kubeconfig (an empty file) inside the
/// temporary directory: it reads none of the user's repositories, registries, plugins or
/// clusters, and `helm template` contacts no network. Dependencies vendored under `charts/`
/// (directories or `.tgz` archives) render; a dependency that would have to be downloaded
/// fails with helm's own error (`helm dependency build` is not run).
///
/// **Output**: helm's YAML stream is parsed with the codec of `converge-core` (lists
/// flattened, empty documents skipped) in helm's order. Each manifest's
/// [`Origin`] names the template it came from as a path in the tree — helm's
/// `# Source: podinfo/templates/deployment.yaml` becomes
/// `charts/podinfo/templates/deployment.yaml` for a chart at `charts/podinfo`, and
/// `charts/podinfo/charts/redis/templates/…` for a vendored subchart (a path inside the
/// archive when the subchart is vendored as a `.tgz`). The line is 0 (rendered
/// documents have no line in the template), and the document counts the template's rendered
/// documents from 0, so origins display as `charts/podinfo/templates/deployment.yaml
/// (document 0)`.
///
/// **Errors**, never a partial result: a missing `helm` (saying how to point at one), helm's
/// own message (its stderr, temporary paths replaced by tree paths) when it fails, a rendered
/// document that is not a Kubernetes object, or an object defined twice (naming both
/// templates).
///
/// Rendering runs `helm` and waits for it, blocking the calling thread (well under a second
/// for most charts): on a current-thread runtime that stalls other tasks meanwhile.
///
/// ```no_run
/// use converge_core::DirTree;
/// use converge_render::{Helm, Renderer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let helm = Helm::new()
///     .with_namespace("demo")
///     .with_values_file("environments/prod/podinfo-values.yaml")
///     .with_set("replicaCount", "3")
///     .with_skip_tests(true);
/// let manifests = helm.render(&DirTree::new(".")?, "charts/podinfo").await?;
/// for manifest in &manifests {
///     println!("{} from {}", manifest.id(), manifest.origin());
/// }
/// # Ok(()) }
/// ```
///
/// Without helm, rendering fails with an error that says where to point:
///
/// ```
/// use converge_core::DirTree;
/// use converge_render::{Error, Helm, Renderer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// std::fs::create_dir_all(dir.path().join("chart/templates"))?;
/// std::fs::write(dir.path().join("chart/Chart.yaml"), "apiVersion: v2\nname: web\nversion: 1.0.0\n")?;
/// let helm = Helm::new().with_binary("/nonexistent/helm");
/// let err = helm.render(&DirTree::new(dir.path())?, "chart").await.unwrap_err();
/// assert!(matches!(err, Error::Helm { .. }));
/// assert!(err.to_string().contains("CONVERGE_HELM"), "{err}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Helm {
    binary: Option<PathBuf>,
    release_name: Option<String>,
    namespace: Option<String>,
    values_files: Vec<String>,
    set: Vec<String>,
    set_string: Vec<String>,
    kube_version: Option<String>,
    api_versions: Vec<String>,
    include_crds: bool,
    skip_tests: bool,
    skip_hooks: bool,
    name_template: Option<String>,
    values_yaml: Vec<String>,
}

impl Helm {
    /// The Helm renderer with helm's defaults: release named after the chart, namespace
    /// `default`, the chart's own values, no CRDs from `crds/`, test hooks included.
    ///
    /// ```
    /// let helm = converge_render::Helm::new();
    /// # let _ = helm;
    /// ```
    pub fn new() -> Self {
        Helm::default()
    }

    /// Adds values given as YAML text, after the values files (later ones win), as kustomize's
    /// `valuesInline` does.
    ///
    /// ```
    /// let helm = converge_render::Helm::new().with_values_yaml("replicaCount: 3\n");
    /// # let _ = helm;
    /// ```
    pub fn with_values_yaml(mut self, yaml: impl Into<String>) -> Self {
        self.values_yaml.push(yaml.into());
        self
    }

    /// Leaves hooks out (`helm template --no-hooks`).
    pub fn with_skip_hooks(mut self, skip: bool) -> Self {
        self.skip_hooks = skip;
        self
    }

    /// Names the release by a template (`helm template --name-template`).
    pub fn with_name_template(mut self, template: impl Into<String>) -> Self {
        self.name_template = Some(template.into());
        self
    }

    /// Runs the `helm` binary at `path` instead of `$CONVERGE_HELM` or `helm` on `PATH`.
    ///
    /// ```
    /// let helm = converge_render::Helm::new().with_binary("/opt/helm/v4/helm");
    /// # let _ = helm;
    /// ```
    pub fn with_binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = Some(path.into());
        self
    }

    /// Names the release (`.Release.Name`); without it, the release is named after the chart.
    ///
    /// ```
    /// let helm = converge_render::Helm::new().with_release_name("onlineboutique");
    /// # let _ = helm;
    /// ```
    pub fn with_release_name(mut self, name: impl Into<String>) -> Self {
        self.release_name = Some(name.into());
        self
    }

    /// Renders into `namespace` (`.Release.Namespace`, `--namespace`); `default` without it.
    ///
    /// ```
    /// let helm = converge_render::Helm::new().with_namespace("cert-manager");
    /// # let _ = helm;
    /// ```
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Adds a values file (`--values`), given as a path in the tree (relative to the tree's
    /// root, not to the chart). Later files override earlier ones, and `--set` values override
    /// them all, as in helm.
    ///
    /// ```
    /// let helm = converge_render::Helm::new()
    ///     .with_values_file("charts/podinfo/values-prod.yaml")
    ///     .with_values_file("environments/eu/values.yaml");
    /// # let _ = helm;
    /// ```
    pub fn with_values_file(mut self, path: impl Into<String>) -> Self {
        self.values_files.push(path.into());
        self
    }

    /// Adds a value (`--set key=value`). Both are read with helm's `--set` syntax: `a.b` is a
    /// nested key, `{x,y}` a list, a comma starts another assignment unless written `\,`, and
    /// `true` or `3` are a boolean and a number.
    ///
    /// ```
    /// let helm = converge_render::Helm::new()
    ///     .with_set("hpa.enabled", "true")
    ///     .with_set("ingress.hosts[0].host", "podinfo.example.com");
    /// # let _ = helm;
    /// ```
    pub fn with_set(mut self, key: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        self.set
            .push(format!("{}={}", key.as_ref(), value.as_ref()));
        self
    }

    /// Adds a string value (`--set-string key=value`): as [`with_set`](Helm::with_set), but
    /// `true` or `3` stay strings.
    ///
    /// ```
    /// let helm = converge_render::Helm::new().with_set_string("image.tag", "1.0");
    /// # let _ = helm;
    /// ```
    pub fn with_set_string(mut self, key: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        self.set_string
            .push(format!("{}={}", key.as_ref(), value.as_ref()));
        self
    }

    /// Sets the Kubernetes version templates see in `.Capabilities.KubeVersion`
    /// (`--kube-version`); helm's built-in default without it.
    ///
    /// ```
    /// let helm = converge_render::Helm::new().with_kube_version("1.31.0");
    /// # let _ = helm;
    /// ```
    pub fn with_kube_version(mut self, version: impl Into<String>) -> Self {
        self.kube_version = Some(version.into());
        self
    }

    /// Adds an API version templates see in `.Capabilities.APIVersions` (`--api-versions`),
    /// such as `monitoring.coreos.com/v1` or `monitoring.coreos.com/v1/ServiceMonitor`.
    ///
    /// ```
    /// let helm = converge_render::Helm::new()
    ///     .with_api_version("monitoring.coreos.com/v1")
    ///     .with_api_version("cert-manager.io/v1");
    /// # let _ = helm;
    /// ```
    pub fn with_api_version(mut self, api_version: impl Into<String>) -> Self {
        self.api_versions.push(api_version.into());
        self
    }

    /// Whether to render the chart's `crds/` folder too (`--include-crds`); off by default,
    /// as in helm.
    ///
    /// ```
    /// let helm = converge_render::Helm::new().with_include_crds(true);
    /// # let _ = helm;
    /// ```
    pub fn with_include_crds(mut self, include: bool) -> Self {
        self.include_crds = include;
        self
    }

    /// Whether to leave out test hooks (`--skip-tests`); off by default, as in helm. Test
    /// pods often carry random names, so skipping them keeps renders deterministic.
    ///
    /// ```
    /// let helm = converge_render::Helm::new().with_skip_tests(true);
    /// # let _ = helm;
    /// ```
    pub fn with_skip_tests(mut self, skip: bool) -> Self {
        self.skip_tests = skip;
        self
    }

    /// Renders synchronously; [`Renderer::render`] runs this.
    ///
    /// ```no_run
    /// use converge_core::DirTree;
    /// use converge_render::Helm;
    ///
    /// let tree = DirTree::new(".")?;
    /// let manifests = Helm::new()
    ///     .with_skip_tests(true)
    ///     .render_sync(&tree, "charts/podinfo")?;
    /// assert_eq!(manifests[0].origin().file, "charts/podinfo/templates/service.yaml");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Renderer::render`]; see [`Helm`] for the cases.
    pub fn render_sync(&self, tree: &dyn FileTree, path: &str) -> Result<Vec<Manifest>, Error> {
        let chart = normalize_path(path)?;
        let helm_error = |message: String| Error::Helm {
            chart: shown(&chart).to_owned(),
            message,
        };
        match tree.kind(&chart)? {
            None => return Err(converge_core::Error::NotFound { path: chart }.into()),
            Some(EntryKind::File) => {
                return Err(helm_error(
                    "is a file; a chart is a directory holding Chart.yaml".to_owned(),
                ));
            }
            Some(_) => {}
        }
        let chart_yaml = join(&chart, "Chart.yaml");
        if tree.kind(&chart_yaml)? != Some(EntryKind::File) {
            return Err(helm_error(
                "no Chart.yaml in this directory: it is not a Helm chart".to_owned(),
            ));
        }
        let release = match &self.release_name {
            Some(name) => name.clone(),
            None => chart_name(&chart_yaml, &tree.read(&chart_yaml)?).map_err(helm_error)?,
        };

        let work = tempfile::Builder::new()
            .prefix("converge-helm-")
            .tempdir()
            .map_err(|e| helm_error(format!("cannot create a temporary directory: {e}")))?;
        let root = work.path().join("tree");
        let home = work.path().join("helm");
        let write = |tree_path: &str, bytes: &[u8]| -> Result<(), Error> {
            let target = on_disk(&root, tree_path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| helm_error(format!("cannot copy {tree_path}: {e}")))?;
            }
            std::fs::write(&target, bytes)
                .map_err(|e| helm_error(format!("cannot copy {tree_path}: {e}")))
        };
        for file in walk_all_files(tree, &chart)? {
            write(&file, &tree.read(&file)?)?;
        }
        let mut values_files = Vec::with_capacity(self.values_files.len());
        for file in &self.values_files {
            let file = normalize_path(file)?;
            write(&file, &tree.read(&file)?)?;
            values_files.push(on_disk(&root, &file));
        }
        for (i, yaml) in self.values_yaml.iter().enumerate() {
            let file = work.path().join(format!("values-inline-{i}.yaml"));
            std::fs::write(&file, yaml)
                .map_err(|e| helm_error(format!("cannot write inline values: {e}")))?;
            values_files.push(file);
        }
        for dir in ["cache", "config", "data"] {
            std::fs::create_dir_all(home.join(dir))
                .map_err(|e| helm_error(format!("cannot prepare helm's home: {e}")))?;
        }
        let kubeconfig = home.join("kubeconfig");
        std::fs::write(&kubeconfig, b"")
            .map_err(|e| helm_error(format!("cannot prepare helm's home: {e}")))?;

        let binary = self.binary();
        let mut command = Command::new(&binary);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("HELM_") {
                command.env_remove(name);
            }
        }
        command
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env("KUBECONFIG", &kubeconfig)
            .args(self.arguments(&values_files))
            .arg("--");
        // A name template names the release itself, unless a name is given too.
        if self.name_template.is_none() || self.release_name.is_some() {
            command.arg(&release);
        }
        command.arg(on_disk(&root, &chart));
        let output = command.output().map_err(|e| {
            helm_error(if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "helm was not found (tried `{}`): install helm v3 or v4 on PATH, or point \
                     the {HELM_ENV} environment variable (or Helm::with_binary) at it",
                    binary.display()
                )
            } else {
                format!("cannot run {}: {e}", binary.display())
            })
        })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stderr = untemp(stderr.trim(), &root);
            let status = match output.status.code() {
                Some(code) => format!("exit status {code}"),
                None => "killed by a signal".to_owned(),
            };
            return Err(helm_error(if stderr.is_empty() {
                format!("helm template failed ({status}) and said nothing")
            } else {
                format!("helm template failed ({status}): {stderr}")
            }));
        }
        let stdout = String::from_utf8(output.stdout)
            .map_err(|_| helm_error("helm printed output that is not UTF-8".to_owned()))?;
        let manifests = parse_output(&chart, &stdout).map_err(|e| match e {
            Parse::Helm(message) => helm_error(message),
            Parse::Core(e) => e.into(),
        })?;
        index_by_key(&manifests)?;
        Ok(manifests)
    }

    /// The binary to run: the one given, else `$CONVERGE_HELM`, else `helm` on `PATH`.
    fn binary(&self) -> PathBuf {
        if let Some(binary) = &self.binary {
            return binary.clone();
        }
        match std::env::var_os(HELM_ENV) {
            Some(path) if !path.is_empty() => PathBuf::from(path),
            _ => PathBuf::from("helm"),
        }
    }

    /// `template` and its flags, values files already on disk. Flags are written `--flag=value`
    /// so that a value starting with `-` is never read as a flag.
    fn arguments(&self, values_files: &[PathBuf]) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["template".into()];
        let flag = |name: &str, value: &str| OsString::from(format!("--{name}={value}"));
        args.push(flag(
            "namespace",
            self.namespace.as_deref().unwrap_or("default"),
        ));
        for file in values_files {
            let mut arg = OsString::from("--values=");
            arg.push(file);
            args.push(arg);
        }
        args.extend(self.set.iter().map(|s| flag("set", s)));
        args.extend(self.set_string.iter().map(|s| flag("set-string", s)));
        if let Some(version) = &self.kube_version {
            args.push(flag("kube-version", version));
        }
        args.extend(self.api_versions.iter().map(|v| flag("api-versions", v)));
        if self.include_crds {
            args.push("--include-crds".into());
        }
        if self.skip_tests {
            args.push("--skip-tests".into());
        }
        if self.skip_hooks {
            args.push("--no-hooks".into());
        }
        if let Some(template) = &self.name_template {
            args.push(flag("name-template", template));
        }
        args
    }
}

#[async_trait]
impl Renderer for Helm {
    async fn render(&self, tree: &dyn FileTree, path: &str) -> Result<Vec<Manifest>, Error> {
        self.render_sync(tree, path)
    }
}

/// The chart's `name` from its `Chart.yaml`.
fn chart_name(file: &str, bytes: &[u8]) -> Result<String, String> {
    let docs = parse_documents(file, bytes).map_err(|e| e.to_string())?;
    docs.first()
        .and_then(|doc| doc.value.get("name"))
        .and_then(|name| name.as_str())
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| format!("{file} has no name"))
}

/// Why helm's output could not be read.
enum Parse {
    /// Something about the output itself (the message names the template).
    Helm(String),
    /// An error of the codec that stands as it is.
    Core(converge_core::Error),
}

/// Reads helm's output: sections opened by `---` and `# Source: <chart>/<file>`, each holding
/// the documents one template rendered (several for a file of `crds/`).
fn parse_output(chart: &str, stdout: &str) -> Result<Vec<Manifest>, Parse> {
    let mut sections: Vec<(Option<&str>, String)> = vec![(None, String::new())];
    let mut lines = stdout.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        let source = lines
            .peek()
            .and_then(|next| next.strip_prefix("# Source: "))
            .map(str::trim);
        match source {
            Some(source) if line.trim_end() == "---" => {
                lines.next();
                sections.push((Some(source), String::new()));
            }
            _ => {
                if let Some((_, text)) = sections.last_mut() {
                    text.push_str(line);
                }
            }
        }
    }

    let mut manifests = Vec::new();
    let mut documents: HashMap<String, usize> = HashMap::new();
    for (source, text) in sections {
        let file = match source {
            Some(source) => template_path(chart, source),
            None => shown(chart).to_owned(),
        };
        let parsed = parse_manifests(&file, text.as_bytes()).map_err(|e| rendered(&file, e))?;
        let first = documents.entry(file.clone()).or_insert(0);
        let base = *first;
        for manifest in parsed {
            let document = base + manifest.origin().document;
            *first = (*first).max(document + 1);
            let origin = Origin::new(file.clone(), document, 0);
            manifests.push(Manifest::new(manifest.into_object(), origin).map_err(Parse::Core)?);
        }
    }
    Ok(manifests)
}

/// A codec error on rendered text: its line is a line of helm's output, not of the template,
/// so the message names the template and the rendered document instead.
fn rendered(file: &str, error: converge_core::Error) -> Parse {
    use converge_core::Error as E;
    Parse::Helm(match error {
        E::Syntax {
            format, message, ..
        } => format!("{file} rendered invalid {format}: {message}"),
        E::NotAnObject {
            document, reason, ..
        } => format!(
            "{file} rendered a document that is not a Kubernetes object (document {document}): {reason}"
        ),
        E::InvalidList { reason, .. } => format!("{file} rendered an invalid list: {reason}"),
        other => return Parse::Core(other),
    })
}

/// The tree path of the file helm names `<chart name>/<path in the chart>` in `# Source:`.
fn template_path(chart: &str, source: &str) -> String {
    let in_chart = source.split_once('/').map_or(source, |(_, rest)| rest);
    join(chart, in_chart)
}

/// Replaces the temporary copy's paths in helm's messages with tree paths.
fn untemp(message: &str, root: &Path) -> String {
    let root = root.to_string_lossy();
    message
        .replace(&format!("{root}/"), "")
        .replace(root.as_ref(), ".")
}

/// Where the copy of the tree path `path` lives under `root`.
fn on_disk(root: &Path, path: &str) -> PathBuf {
    if path.is_empty() {
        root.to_path_buf()
    } else {
        root.join(path)
    }
}

/// A tree path as shown in messages: `.` for the root.
fn shown(path: &str) -> &str {
    if path.is_empty() { "." } else { path }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(chart: &str, stdout: &str) -> Vec<String> {
        match parse_output(chart, stdout) {
            Ok(manifests) => manifests
                .iter()
                .map(|m| format!("{} @ {}", m.id(), m.origin()))
                .collect(),
            Err(Parse::Helm(message)) => panic!("{message}"),
            Err(Parse::Core(e)) => panic!("{e}"),
        }
    }

    #[test]
    fn sections_name_their_templates_in_the_tree() {
        let stdout = "---\n# Source: web/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n\
                      ---\n# Source: web/templates/empty.yaml\n# nothing rendered\n\
                      ---\n# Source: web/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n\
                      ---\n# Source: web/crds/crds.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: c\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: d\n\
                      ---\n# Source: web/charts/redis/templates/svc.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: redis\n";
        assert_eq!(
            origins("apps/web", stdout),
            [
                "v1 ConfigMap a @ apps/web/templates/cm.yaml (document 0)",
                "v1 ConfigMap b @ apps/web/templates/cm.yaml (document 1)",
                "v1 Secret c @ apps/web/crds/crds.yaml (document 0)",
                "v1 Secret d @ apps/web/crds/crds.yaml (document 1)",
                "v1 Service redis @ apps/web/charts/redis/templates/svc.yaml (document 0)",
            ]
        );
        assert_eq!(
            origins(
                "",
                "---\n# Source: web/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
            ),
            ["v1 ConfigMap a @ templates/cm.yaml (document 0)"]
        );
        assert!(origins("web", "").is_empty());
    }

    #[test]
    fn rendered_documents_that_are_not_objects_name_the_template() {
        let Err(Parse::Helm(message)) = parse_output(
            "web",
            "---\n# Source: web/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n# Source: web/templates/b.yaml\nfoo: bar\n",
        ) else {
            panic!("must fail");
        };
        assert_eq!(
            message,
            "web/templates/b.yaml rendered a document that is not a Kubernetes object (document 0): missing apiVersion"
        );
    }

    #[test]
    fn arguments_follow_the_options() {
        let helm = Helm::new()
            .with_namespace("-n")
            .with_set("a", "1")
            .with_set_string("b", "2")
            .with_kube_version("1.30.0")
            .with_api_version("x/v1")
            .with_include_crds(true)
            .with_skip_tests(true);
        let args: Vec<String> = helm
            .arguments(&[PathBuf::from("/t/v.yaml")])
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "template",
                "--namespace=-n",
                "--values=/t/v.yaml",
                "--set=a=1",
                "--set-string=b=2",
                "--kube-version=1.30.0",
                "--api-versions=x/v1",
                "--include-crds",
                "--skip-tests",
            ]
        );
    }

    #[test]
    fn temporary_paths_become_tree_paths() {
        let root = Path::new("/tmp/converge-helm-x/tree");
        assert_eq!(
            untemp(
                "open /tmp/converge-helm-x/tree/values/prod.yaml: bad; in /tmp/converge-helm-x/tree",
                root
            ),
            "open values/prod.yaml: bad; in ."
        );
    }
}
