//! `kustomize build`: accumulating a kustomization's resources, generating, transforming.

use converge_core::{
    DuplicateKeys, EntryKind, FileTree, Origin, normalize_path, parse_manifests,
    parse_yaml_documents,
};
use std::collections::HashSet;

use serde_json::Value;

use super::config::Config;
use super::generate;
use super::incremental::Recorder;
use super::nameref;
use super::order::LegacyOrder;
use super::plugins;
use super::resource::{Behavior, ResId, Resource, Transformation, effective_namespace};
use super::transform;
use super::types::{FILE_NAMES, HelmChart, Kustomization, Var};
use super::vars;

/// The kustomize release whose behaviour this renderer follows.
pub(crate) const KUSTOMIZE_VERSION: &str = "v5.7.1";

/// A build error before it is given its file: what went wrong.
pub(crate) struct Failure {
    pub file: String,
    pub message: String,
}

pub(crate) type Result<T> = std::result::Result<T, Failure>;

/// A failure in `file`.
pub(crate) fn at(file: &str, message: impl std::fmt::Display) -> Failure {
    Failure {
        file: file.to_owned(),
        message: message.to_string(),
    }
}

pub(crate) fn fail<T>(file: &str, message: impl Into<String>) -> Result<T> {
    Err(Failure {
        file: file.to_owned(),
        message: message.into(),
    })
}

/// What a kustomization (and everything below it) accumulated.
#[derive(Default)]
pub(crate) struct Accumulated {
    pub resources: Vec<Resource>,
    pub config: Config,
    pub vars: Vec<(Var, String)>,
    /// The ids of `resources` by position, while no transformer has run since they were
    /// taken: adding checks against it instead of scanning.
    ids: Option<std::collections::HashMap<ResId, usize>>,
    /// Schemas from `openapi` files, the nearest kustomization's last.
    pub schemas: Vec<std::sync::Arc<converge_diff::schema::Schema>>,
    /// Resources by (kind, name), current and earlier, under the same rule.
    kind_names: Option<std::collections::HashMap<(String, String), Vec<usize>>>,
    /// Part of the resources were left out (an incremental re-render): a patch may miss
    /// its target.
    pub partial: bool,
}

impl Accumulated {
    fn new() -> Accumulated {
        Accumulated {
            resources: Vec::new(),
            config: Config::defaults(),
            vars: Vec::new(),
            schemas: Vec::new(),
            ids: None,
            kind_names: None,
            partial: false,
        }
    }

    /// Forgets the id index: resources were renamed, moved or removed.
    pub(crate) fn touched(&mut self) {
        self.ids = None;
        self.kind_names = None;
    }

    /// The positions of the resources that have, or had, `kind` and `name`.
    pub(crate) fn with_kind_name(&mut self, kind: &str, name: &str) -> Vec<usize> {
        let resources = &self.resources;
        let index = self.kind_names.get_or_insert_with(|| {
            let mut index: std::collections::HashMap<(String, String), Vec<usize>> =
                std::collections::HashMap::new();
            for (i, r) in resources.iter().enumerate() {
                let (_, _, kind, _, name) = r.id_parts();
                let mut keys = vec![(kind.to_owned(), name.to_owned())];
                keys.extend(r.previous.iter().map(|p| (p.kind.clone(), p.name.clone())));
                keys.sort();
                keys.dedup();
                for key in keys {
                    index.entry(key).or_default().push(i);
                }
            }
            index
        });
        index
            .get(&(kind.to_owned(), name.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    /// Adds `resource`, refusing a second resource with the same id.
    pub(crate) fn add(&mut self, resource: Resource, file: &str) -> Result<()> {
        let resources = &self.resources;
        let ids = self.ids.get_or_insert_with(|| {
            resources
                .iter()
                .enumerate()
                .map(|(i, r)| (r.id(), i))
                .collect()
        });
        let id = resource.id();
        if let Some(&existing) = ids.get(&id) {
            return fail(
                file,
                format!(
                    "may not add resource with an already registered id: {} (from {} and {})",
                    super::transform::go_id(&id),
                    self.resources[existing].origin,
                    resource.origin
                ),
            );
        }
        ids.insert(id, self.resources.len());
        self.resources.push(resource);
        Ok(())
    }
}

/// One build over a tree.
pub(crate) struct Builder<'t> {
    tree: &'t dyn FileTree,
    /// Renders `helmCharts`; `None` refuses them.
    helm: Option<&'t crate::Helm>,
    /// Parsed resource files by content.
    cache: Option<&'t crate::ParseCache>,
    /// Whether files must lie in or below the kustomization that names them.
    restricted: bool,
    /// Kustomization directories being built, outermost first: a cycle is an error.
    stack: Vec<String>,
    /// Records what the build reads, for a later incremental re-render.
    recorder: Option<&'t Recorder<'t>>,
    /// Resource files left out (an incremental re-render), and the ghosts standing in for
    /// their resources at the end.
    skip: HashSet<String>,
    ghosts: Vec<(&'t ResId, &'t Resource)>,
    /// Whether every transformer met changes each resource on its own (see `incremental`).
    pub(crate) local: bool,
    /// Whether a Helm chart was inflated.
    pub(crate) inflated: bool,
    /// Whether to note on each resource the transformers that ran
    /// (`buildMetadata: [transformerAnnotations]` on the kustomization built).
    transformations: bool,
}

/// A kustomization file read from the tree.
pub(crate) struct Loaded {
    pub dir: String,
    pub file: String,
    pub kustomization: std::sync::Arc<Kustomization>,
}

impl<'t> Builder<'t> {
    pub(crate) fn new(
        tree: &'t dyn FileTree,
        restricted: bool,
        helm: Option<&'t crate::Helm>,
        cache: Option<&'t crate::ParseCache>,
    ) -> Builder<'t> {
        Builder {
            tree,
            helm,
            cache,
            restricted,
            stack: Vec::new(),
            recorder: None,
            skip: HashSet::new(),
            ghosts: Vec::new(),
            local: true,
            inflated: false,
            transformations: false,
        }
    }

    /// Records through `recorder` (which must also be the tree the builder reads).
    pub(crate) fn recording(mut self, recorder: &'t Recorder<'t>) -> Builder<'t> {
        self.recorder = Some(recorder);
        self
    }

    /// Leaves out the resource files in `skip`; `ghosts` (their resources' final ids and
    /// renames) stand in for them when name references are fixed.
    /// The output is then unsorted and holds only what was built.
    pub(crate) fn reduced(
        mut self,
        skip: HashSet<String>,
        ghosts: Vec<(&'t ResId, &'t Resource)>,
    ) -> Builder<'t> {
        self.skip = skip;
        self.ghosts = ghosts;
        self
    }

    /// Notes that `transformation` ran over every resource in `acc` (when asked to).
    pub(crate) fn ran(&self, acc: &mut Accumulated, transformation: Transformation) {
        if !self.transformations {
            return;
        }
        let shared = std::sync::Arc::new(transformation);
        for resource in &mut acc.resources {
            resource.transformations.push(shared.clone());
        }
    }

    fn new_acc(&self) -> Accumulated {
        let mut acc = Accumulated::new();
        acc.partial = !self.skip.is_empty();
        acc
    }

    /// Builds the kustomization in `dir`: the resources in output order, internal marks gone.
    pub(crate) fn build(&mut self, dir: &str) -> Result<Vec<Resource>> {
        let loaded = self.load(dir)?;
        // kustomize gives the built kustomization's buildMetadata to every one below it.
        let metadata = |option: &str| {
            loaded
                .kustomization
                .build_metadata
                .iter()
                .flatten()
                .any(|o| o == option)
        };
        self.transformations = metadata("transformerAnnotations");
        let mut acc = self.new_acc();
        self.accumulate(&loaded, &mut acc)?;
        // Done once, at the top: hashes, back references, vars.
        generate_hashes(&mut acc);
        let reduced = acc.partial;
        nameref::fix(&mut acc.resources, &self.ghosts, &acc.config)
            .map_err(|m| at(&loaded.file, m))?;
        vars::resolve(&mut acc.resources, &acc.vars, &acc.config)
            .map_err(|m| at(&loaded.file, m))?;
        let mut resources = acc.resources;
        resources.retain(|r| {
            r.object
                .pointer("/metadata/annotations/config.kubernetes.io~1local-config")
                .is_none_or(|v| v.as_str() == Some("false"))
        });
        let sort = loaded.kustomization.sort_options.as_ref();
        let fifo = sort.and_then(|s| s.order.as_deref()) == Some("fifo");
        if !fifo && !reduced {
            let order = match sort.and_then(|s| s.legacy_sort_options.as_ref()) {
                Some(custom) => {
                    LegacyOrder::custom(custom.order_first.clone(), custom.order_last.clone())
                }
                None => LegacyOrder::default(),
            };
            resources.sort_by_cached_key(|r| order.key(&r.id()));
        }
        let origins = metadata("originAnnotations");
        for resource in &mut resources {
            let mut notes = Vec::new();
            if self.transformations && !resource.transformations.is_empty() {
                let note = transformations_note(&resource.transformations, &loaded.dir);
                notes.push(("alpha.config.kubernetes.io/transformations", note));
            }
            if origins {
                notes.push((
                    "config.kubernetes.io/origin",
                    origin_note(resource, &loaded.dir),
                ));
            }
            if notes.is_empty() {
                continue;
            }
            let meta = resource.metadata_mut();
            let annotations = meta
                .entry("annotations")
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if let Value::Object(annotations) = annotations {
                for (key, note) in notes {
                    annotations.insert(key.to_owned(), Value::String(note));
                }
            }
        }
        let managed_by = metadata("managedByLabel");
        for resource in &mut resources {
            transform::strip_internal(&mut resource.object);
            if managed_by {
                let meta = resource.metadata_mut();
                let labels = meta
                    .entry("labels")
                    .or_insert_with(|| Value::Object(serde_json::Map::new()));
                if let Value::Object(labels) = labels {
                    labels.insert(
                        "app.kubernetes.io/managed-by".to_owned(),
                        Value::String(format!("kustomize-{KUSTOMIZE_VERSION}")),
                    );
                }
            }
        }
        Ok(resources)
    }

    /// Reads the kustomization file of `dir`.
    pub(crate) fn load(&self, dir: &str) -> Result<Loaded> {
        let mut found = None;
        for name in FILE_NAMES {
            let file = join(dir, name);
            if self.tree.kind(&file).ok().flatten() == Some(EntryKind::File) {
                if found.is_some() {
                    return fail(
                        dir,
                        "found multiple kustomization files (kustomization.yaml, kustomization.yml, Kustomization)",
                    );
                }
                found = Some(file);
            }
        }
        let Some(file) = found else {
            return fail(
                if dir.is_empty() { "." } else { dir },
                "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory",
            );
        };
        let bytes = self.read(&file, &file)?;
        let parse = || -> Result<Kustomization> {
            let docs = parse_yaml_documents(&file, &bytes, DuplicateKeys::LastWins)
                .map_err(|e| at(&file, e))?;
            let mut value = docs
                .into_iter()
                .next()
                .map(|d| d.value)
                .unwrap_or(Value::Null);
            if value.is_null() {
                value = Value::Object(serde_json::Map::new());
            }
            super::types::canonical_keys(&mut value);
            serde_json::from_value(value).map_err(|e| Failure {
                file: file.clone(),
                message: format!("invalid Kustomization: {e}"),
            })
        };
        let kustomization = match self.cache {
            Some(cache) => cache.memo("kustomization", &file, &bytes, parse)?,
            None => std::sync::Arc::new(parse()?),
        };
        if let Some(sort) = &kustomization.sort_options {
            match (sort.order.as_deref(), &sort.legacy_sort_options) {
                (Some("legacy"), _) | (Some("fifo"), None) => {}
                (Some("fifo"), Some(_)) => {
                    return fail(
                        &file,
                        "the field 'sortOptions.legacySortOptions' is set but the selected sort order is 'fifo', not 'legacy'",
                    );
                }
                _ => {
                    return fail(
                        &file,
                        "the field 'sortOptions.order' must be one of [fifo, legacy]",
                    );
                }
            }
        }
        let expected_api = match kustomization.kind.as_deref() {
            Some("Component") => "kustomize.config.k8s.io/v1alpha1",
            _ => "kustomize.config.k8s.io/v1beta1",
        };
        if let Some(api) = kustomization.api_version.as_deref()
            && api != expected_api
        {
            return fail(
                &file,
                format!(
                    "apiVersion for {} should be {expected_api}",
                    kustomization.kind.as_deref().unwrap_or("Kustomization")
                ),
            );
        }
        match kustomization.kind.as_deref() {
            None | Some("Kustomization") | Some("Component") => {}
            Some(other) => {
                return fail(
                    &file,
                    format!("kind {other:?} is not Kustomization or Component"),
                );
            }
        }
        Ok(Loaded {
            dir: dir.to_owned(),
            file,
            kustomization,
        })
    }

    /// What `path` is in the tree.
    pub(crate) fn kind(&self, path: &str) -> Option<EntryKind> {
        self.tree.kind(path).ok().flatten()
    }

    /// The resources a kustomization in `dir` accumulates on its own (for plugin
    /// configurations given as a kustomization).
    pub(crate) fn build_nested(&mut self, dir: &str) -> Result<Vec<Resource>> {
        let loaded = self.load(dir)?;
        let mut acc = self.new_acc();
        self.accumulate(&loaded, &mut acc)?;
        Ok(acc.resources)
    }

    /// A patch's documents (see [`parse_patch`]), from the cache when there is one.
    pub(crate) fn parse_patch(
        &self,
        file: &str,
        text: &[u8],
    ) -> std::result::Result<Vec<Value>, String> {
        match self.cache {
            Some(cache) => cache
                .memo("patch", file, text, || parse_patch(file, text))
                .map(|documents| Vec::clone(&documents)),
            None => parse_patch(file, text),
        }
    }

    fn read(&self, path: &str, file: &str) -> Result<Vec<u8>> {
        self.tree.read(path).map_err(|e| at(file, e))
    }

    /// Accumulates `loaded` into `acc`: its resources, components, generators, transformers.
    pub(crate) fn accumulate(&mut self, loaded: &Loaded, acc: &mut Accumulated) -> Result<()> {
        if self.stack.contains(&loaded.dir) {
            return fail(
                &loaded.file,
                format!(
                    "cycle detected: {} includes itself through {}",
                    loaded.dir,
                    self.stack.join(" → ")
                ),
            );
        }
        self.stack.push(loaded.dir.clone());
        let result = self.accumulate_inner(loaded, acc);
        self.stack.pop();
        result
    }

    fn accumulate_inner(&mut self, loaded: &Loaded, acc: &mut Accumulated) -> Result<()> {
        let k = &loaded.kustomization;
        let file = loaded.file.as_str();
        if k.validators.as_ref().is_some_and(|v| !v.is_empty()) {
            return fail(
                file,
                "validators run exec or Go plugins, which are not supported",
            );
        }
        for option in k.build_metadata.iter().flatten() {
            if !matches!(
                option.as_str(),
                "originAnnotations" | "transformerAnnotations" | "managedByLabel"
            ) {
                return fail(
                    file,
                    format!(
                        "invalid buildMetadata option {option:?}: must be originAnnotations, transformerAnnotations or managedByLabel"
                    ),
                );
            }
        }
        let merges = k
            .config_map_generator
            .iter()
            .chain(&k.secret_generator)
            .flatten()
            .any(|g| g.behavior.as_deref().is_some_and(|b| b != "create"));
        let nonempty = |list: &Option<Vec<String>>| list.as_ref().is_some_and(|l| !l.is_empty());
        if merges
            || k.vars.as_ref().is_some_and(|v| !v.is_empty())
            || k.replacements.as_ref().is_some_and(|r| !r.is_empty())
            || nonempty(&k.generators)
            || nonempty(&k.transformers)
        {
            self.local = false;
        }
        let entries = k.bases.iter().flatten().chain(k.resources.iter().flatten());
        for entry in entries {
            self.accumulate_resource(loaded, entry, acc)?;
        }
        if let Some(openapi) = &k.openapi {
            // A kustomization's own openapi setting replaces what its bases set.
            acc.schemas.clear();
            match (&openapi.path, &openapi.version) {
                (Some(_), Some(_)) => {
                    return fail(
                        file,
                        "the openapi field sets both path and version: builtin version and custom schema provided, cannot use both",
                    );
                }
                (Some(path), None) => {
                    let resolved = self.resolve_file(loaded, path)?;
                    let bytes = self.read(&resolved, file)?;
                    let document = parse_yaml_documents(&resolved, &bytes, DuplicateKeys::LastWins)
                        .map_err(|e| at(file, e))?
                        .into_iter()
                        .next()
                        .map(|d| d.value)
                        .unwrap_or(Value::Null);
                    let schema = converge_diff::schema::Schema::from_openapi_v2_over(
                        &document,
                        converge_diff::schema::Schema::kubernetes(),
                    )
                    .map_err(|e| Failure {
                        file: file.to_owned(),
                        message: format!("openapi {path}: {e}"),
                    })?;
                    acc.schemas.push(std::sync::Arc::new(schema));
                }
                (None, Some(version)) => {
                    // One Kubernetes schema is built in (1.35); kustomize's own is 1.21.2.
                    if version != "v1.21.2" && !version.starts_with("v1.35.") {
                        return fail(
                            file,
                            format!(
                                "the openapi version {version:?} is not built in: use v1.21.2 or v1.35.x, or give a schema file as path"
                            ),
                        );
                    }
                }
                (None, None) => {}
            }
        }
        for configuration in k.configurations.iter().flatten() {
            let path = self.resolve_file(loaded, configuration)?;
            let bytes = self.read(&path, file)?;
            let config = Config::from_yaml(&path, &bytes).map_err(|m| at(file, m))?;
            acc.config.merge(&config).map_err(|m| at(file, m))?;
        }
        for crd in k.crds.iter().flatten() {
            let path = self.resolve_file(loaded, crd)?;
            let bytes = self.read(&path, file)?;
            acc.config
                .add_crds(&path, &bytes)
                .map_err(|m| at(file, m))?;
        }
        acc.touched();
        self.run_generators(loaded, acc)?;
        let charts: Vec<&HelmChart> = k
            .helm_charts
            .iter()
            .flatten()
            .chain(k.helm_chart_inflation_generator.iter().flatten())
            .collect();
        for chart in charts {
            self.inflate(loaded, chart, acc)?;
        }
        plugins::run_generators(self, loaded, acc)?;
        for component in k.components.iter().flatten() {
            let dir = self.resolve_dir(loaded, component)?;
            let sub = self.load(&dir)?;
            if sub.kustomization.kind.as_deref() != Some("Component") {
                return fail(
                    &sub.file,
                    format!(
                        "{component} is not a Component: its kind is {}",
                        sub.kustomization.kind.as_deref().unwrap_or("Kustomization")
                    ),
                );
            }
            self.accumulate(&sub, acc)?;
        }
        acc.touched();
        transform::run_builtin(self, loaded, acc)?;
        acc.touched();
        for var in k.vars.iter().flatten() {
            if acc.vars.iter().any(|(v, _)| v.name == var.name) {
                return fail(file, format!("var '{}' already encountered", var.name));
            }
            // The var reads the one resource of this kustomization (and below) it names.
            let matches = vars::matching(&acc.resources, var);
            match matches.as_slice() {
                [one] => acc.resources[*one].vars.push(var.name.clone()),
                [] => {
                    return fail(
                        file,
                        format!(
                            "var '{}' cannot be mapped to a field in the set of known resources",
                            var.name
                        ),
                    );
                }
                _ => {
                    return fail(
                        file,
                        format!(
                            "found {} resId matches for var {} (unable to disambiguate)",
                            matches.len(),
                            var.name
                        ),
                    );
                }
            }
            acc.vars.push((var.clone(), file.to_owned()));
        }
        Ok(())
    }

    /// Adds a `resources` entry: a file of manifests, or a directory with a kustomization.
    fn accumulate_resource(
        &mut self,
        loaded: &Loaded,
        entry: &str,
        acc: &mut Accumulated,
    ) -> Result<()> {
        let file = loaded.file.as_str();
        if is_remote(entry) {
            return fail(
                file,
                format!(
                    "resource {entry}: remote resources are not supported; vendor them into the repository"
                ),
            );
        }
        let path = normalize_path(&join(&loaded.dir, entry)).map_err(|e| Failure {
            file: file.to_owned(),
            message: format!("resource {entry}: {e}"),
        })?;
        match self.tree.kind(&path).ok().flatten() {
            Some(EntryKind::Dir) => {
                let sub = self.load(&path).map_err(|f| Failure {
                    file: file.to_owned(),
                    message: if f.file == path {
                        format!("accumulating resources: {entry}: {}", f.message)
                    } else {
                        format!("accumulating resources: {entry}: {}: {}", f.file, f.message)
                    },
                })?;
                if sub.kustomization.kind.as_deref() == Some("Component") {
                    return fail(
                        &sub.file,
                        format!("{entry} is a Component: list it under components, not resources"),
                    );
                }
                let mut sub_acc = self.new_acc();
                self.accumulate(&sub, &mut sub_acc)?;
                for resource in sub_acc.resources {
                    acc.add(resource, file)?;
                }
                acc.schemas.extend(sub_acc.schemas);
                acc.config.merge(&sub_acc.config).map_err(|m| at(file, m))?;
                for (var, origin) in sub_acc.vars {
                    if acc.vars.iter().any(|(v, _)| v.name == var.name) {
                        return fail(file, format!("var '{}' already encountered", var.name));
                    }
                    acc.vars.push((var, origin));
                }
                Ok(())
            }
            Some(EntryKind::File) => {
                let dir_prefix = if loaded.dir.is_empty() {
                    String::new()
                } else {
                    format!("{}/", loaded.dir)
                };
                if self.restricted && !path.starts_with(&dir_prefix) {
                    return fail(
                        file,
                        format!(
                            "security; file '{path}' is not in or below '{}'",
                            if loaded.dir.is_empty() {
                                "."
                            } else {
                                &loaded.dir
                            }
                        ),
                    );
                }
                if self.skip.contains(&path) {
                    return Ok(());
                }
                // A tree that names its files' contents (git) lets the cache answer unread.
                let id = self.cache.and(self.tree.content_id(&path));
                let known = match (self.cache, &id) {
                    (Some(cache), Some(id)) => cache.by_id(&path, id),
                    _ => None,
                };
                let parsed = match known {
                    Some(manifests) => {
                        if let (Some(recorder), Some(id)) = (self.recorder, &id) {
                            recorder.resource_known(&path, id);
                        }
                        Ok(manifests)
                    }
                    None => {
                        let bytes = match self.recorder {
                            Some(recorder) => {
                                recorder.read_resource(&path).map_err(|e| at(file, e))?
                            }
                            None => self.read(&path, file)?,
                        };
                        match self.cache {
                            Some(cache) => cache.parse_identified(&path, id.as_deref(), &bytes),
                            None => parse_manifests(&path, &bytes),
                        }
                    }
                };
                let resources: Vec<Resource> = parsed
                    .map_err(|e| at(file, e))?
                    .into_iter()
                    .map(|manifest| {
                        let origin = manifest.origin().clone();
                        Resource::new(manifest.into_object(), origin)
                    })
                    .collect();
                if let Some(recorder) = self.recorder {
                    recorder.resources_read(&path, &resources);
                }
                for resource in resources {
                    acc.add(resource, file)?;
                }
                Ok(())
            }
            _ => fail(
                file,
                format!("accumulating resources: '{entry}': no such file or directory"),
            ),
        }
    }

    /// The directory `entry` names relative to `loaded`.
    fn resolve_dir(&self, loaded: &Loaded, entry: &str) -> Result<String> {
        if is_remote(entry) {
            return fail(
                &loaded.file,
                format!("{entry}: remote components are not supported"),
            );
        }
        let path = normalize_path(&join(&loaded.dir, entry)).map_err(|e| Failure {
            file: loaded.file.clone(),
            message: format!("{entry}: {e}"),
        })?;
        match self.tree.kind(&path).ok().flatten() {
            Some(EntryKind::Dir) => Ok(path),
            _ => fail(&loaded.file, format!("{entry}: no such directory")),
        }
    }

    /// The file `entry` names relative to `loaded`, which must lie in or below its directory.
    pub(crate) fn resolve_file(&self, loaded: &Loaded, entry: &str) -> Result<String> {
        let path = normalize_path(&join(&loaded.dir, entry)).map_err(|e| Failure {
            file: loaded.file.clone(),
            message: format!("{entry}: {e}"),
        })?;
        let inside = !self.restricted
            || loaded.dir.is_empty()
            || path.starts_with(&format!("{}/", loaded.dir));
        if !inside {
            return fail(
                &loaded.file,
                format!(
                    "security; file '{path}' is not in or below '{}'",
                    loaded.dir
                ),
            );
        }
        Ok(path)
    }

    /// Reads `entry` relative to `loaded`.
    pub(crate) fn read_file(&self, loaded: &Loaded, entry: &str) -> Result<Vec<u8>> {
        let path = self.resolve_file(loaded, entry)?;
        self.read(&path, &loaded.file)
    }

    /// Renders a `helmCharts` entry with helm, from the chart vendored in the chart home.
    pub(crate) fn inflate(
        &mut self,
        loaded: &Loaded,
        chart: &HelmChart,
        acc: &mut Accumulated,
    ) -> Result<()> {
        let file = loaded.file.as_str();
        let Some(helm) = self.helm else {
            return fail(
                file,
                format!(
                    "helmCharts ({}) need helm: enable it with Kustomize::with_helm, as kubectl kustomize needs --enable-helm",
                    chart.name
                ),
            );
        };
        // Charts are programs: their output is never reused.
        self.inflated = true;
        self.local = false;
        let home = loaded
            .kustomization
            .helm_globals
            .as_ref()
            .and_then(|g| g.chart_home.clone())
            .unwrap_or_else(|| "charts".to_owned());
        let home_dir = join(&loaded.dir, &home);
        // A chart pulled at a version lives in `<name>-<version>`; a vendored one in `<name>`.
        let versioned = chart
            .version
            .as_ref()
            .map(|v| join(&home_dir, &format!("{}-{v}", chart.name)))
            .filter(|dir| self.kind(dir) == Some(EntryKind::Dir));
        let chart_dir = normalize_path(&versioned.unwrap_or_else(|| join(&home_dir, &chart.name)))
            .map_err(|e| Failure {
                file: file.to_owned(),
                message: format!("helm chart {}: {e}", chart.name),
            })?;
        if self.kind(&chart_dir) != Some(EntryKind::Dir) {
            return fail(
                file,
                match &chart.repo {
                    Some(repo) => format!(
                        "helm chart {} from {repo} is not in {chart_dir}: charts are not downloaded; vendor it into the repository",
                        chart.name
                    ),
                    None => format!("helm chart {} is not in {chart_dir}", chart.name),
                },
            );
        }
        let mut renderer = helm
            .clone()
            .with_include_crds(chart.include_crds)
            .with_skip_tests(chart.skip_tests)
            .with_skip_hooks(chart.skip_hooks);
        if let Some(namespace) = &chart.namespace {
            renderer = renderer.with_namespace(namespace.clone());
        }
        if let Some(version) = &chart.kube_version {
            renderer = renderer.with_kube_version(version.clone());
        }
        for version in &chart.api_versions {
            renderer = renderer.with_api_version(version.clone());
        }
        match (&chart.release_name, &chart.name_template) {
            (Some(name), _) => renderer = renderer.with_release_name(name.clone()),
            (None, Some(template)) => renderer = renderer.with_name_template(template.clone()),
            (None, None) => renderer = renderer.with_release_name("release-name"),
        }
        if let (Some(_), Some(template)) = (&chart.release_name, &chart.name_template) {
            renderer = renderer.with_name_template(template.clone());
        }
        // The values: the values file (the chart's own by default) with the inline values
        // over it, under it, or instead of it; then the additional files.
        let values_file = match &chart.values_file {
            Some(path) => Some(self.resolve_file(loaded, path)?),
            None => {
                let own = join(&chart_dir, "values.yaml");
                (self.kind(&own) == Some(EntryKind::File)).then_some(own)
            }
        };
        match (&chart.values_inline, &values_file) {
            (Some(inline), path) => {
                let from_file = match path {
                    Some(path) => {
                        let bytes = self.read(path, file)?;
                        parse_yaml_documents(path, &bytes, DuplicateKeys::LastWins)
                            .map_err(|e| at(file, e))?
                            .into_iter()
                            .next()
                            .map(|d| d.value)
                            .unwrap_or(Value::Null)
                    }
                    None => Value::Null,
                };
                let combined = match chart.values_merge.as_deref().unwrap_or("override") {
                    "override" => merged_values(from_file, inline),
                    "merge" => merged_values(inline.clone(), &from_file),
                    "replace" => inline.clone(),
                    other => {
                        return fail(
                            file,
                            format!(
                                "valuesMerge must be one of merge, override or replace, not {other:?}"
                            ),
                        );
                    }
                };
                let yaml = converge_core::to_yaml(&combined).map_err(|e| at(file, e))?;
                renderer = renderer.with_values_yaml(yaml);
            }
            (None, Some(path)) if chart.values_file.is_some() => {
                renderer = renderer.with_values_file(path.clone());
            }
            (None, _) => {}
        }
        for extra in &chart.additional_values_files {
            renderer = renderer.with_values_file(self.resolve_file(loaded, extra)?);
        }
        let manifests = renderer
            .render_sync(self.tree, &chart_dir)
            .map_err(|e| at(file, e))?;
        for manifest in manifests {
            let origin = manifest.origin().clone();
            acc.add(Resource::new(manifest.into_object(), origin), file)?;
        }
        Ok(())
    }

    fn run_generators(&mut self, loaded: &Loaded, acc: &mut Accumulated) -> Result<()> {
        let k = &loaded.kustomization;
        let file = loaded.file.as_str();
        let global = k.generator_options.as_ref();
        let generators = k
            .config_map_generator
            .iter()
            .flatten()
            .map(|g| (g, false))
            .chain(k.secret_generator.iter().flatten().map(|g| (g, true)));
        for (args, secret) in generators {
            let mut read = |path: &str| -> std::result::Result<Vec<u8>, String> {
                self.read_file(loaded, path).map_err(|f| f.message)
            };
            let (object, hash) =
                generate::generate(args, global, secret, &mut read).map_err(|m| at(file, m))?;
            let behavior = match args.behavior.as_deref() {
                None | Some("") | Some("create") => Behavior::Create,
                Some("merge") => Behavior::Merge,
                Some("replace") => Behavior::Replace,
                Some(other) => {
                    return fail(file, format!("unknown generator behavior {other:?}"));
                }
            };
            let mut resource = Resource::new(object, Origin::new(file, 0, 0));
            resource.needs_hash = hash;
            resource.behavior = behavior;
            resource.source = super::resource::Source::Generator {
                configured_in: file.to_owned(),
                api_version: "builtin".to_owned(),
                kind: if secret {
                    "SecretGenerator"
                } else {
                    "ConfigMapGenerator"
                }
                .to_owned(),
                name: None,
            };
            absorb(acc, resource, file)?;
        }
        Ok(())
    }
}

/// Adds a generated resource according to its behaviour: a new one, or merged into (or
/// replacing) the resource that has, or had, its id.
pub(crate) fn absorb(acc: &mut Accumulated, mut resource: Resource, file: &str) -> Result<()> {
    acc.touched();
    let id = resource.id();
    let cluster = super::resource::is_cluster_scoped(&id.group, &id.kind);
    let same = |other: &ResId| {
        other.group == id.group
            && other.version == id.version
            && other.kind == id.kind
            && other.name == id.name
            && effective_namespace(&other.namespace, cluster)
                == effective_namespace(&id.namespace, cluster)
    };
    let matches: Vec<usize> = acc
        .resources
        .iter()
        .enumerate()
        .filter(|(_, r)| same(&r.id()) || r.previous.iter().any(same))
        .map(|(i, _)| i)
        .collect();
    let go_id = super::transform::go_id(&id);
    match matches.as_slice() {
        [] => match resource.behavior {
            Behavior::Create => {
                acc.resources.push(resource);
                Ok(())
            }
            _ => fail(
                file,
                format!("id {go_id} does not exist; cannot merge or replace"),
            ),
        },
        [i] => {
            if resource.behavior == Behavior::Create {
                return fail(
                    file,
                    format!("id {go_id} exists; behavior must be merge or replace"),
                );
            }
            let existing = &acc.resources[*i];
            merge_generated(
                &mut resource.object,
                &existing.object,
                resource.behavior == Behavior::Merge,
            );
            // The existing resource's name, namespace and build history stay.
            let existing_id = existing.id();
            let meta = resource.metadata_mut();
            meta.insert("name".to_owned(), Value::String(existing_id.name.clone()));
            if existing_id.namespace.is_empty() {
                meta.remove("namespace");
            } else {
                meta.insert("namespace".to_owned(), Value::String(existing_id.namespace));
            }
            let existing = &acc.resources[*i];
            resource.previous = existing.previous.clone();
            resource.prefixes = existing.prefixes.clone();
            resource.suffixes = existing.suffixes.clone();
            // A hash only when both want one: merging into a plain resource keeps its name, and
            // an overlay may turn the hash off.
            resource.needs_hash = resource.needs_hash && acc.resources[*i].needs_hash;
            // A merge keeps where the object came from; a replacement is the new one's.
            if resource.behavior == Behavior::Merge {
                resource.origin = existing.origin.clone();
                resource.source = existing.source.clone();
            }
            resource.behavior = Behavior::Create;
            acc.resources[*i] = resource;
            Ok(())
        }
        _ => fail(
            file,
            format!(
                "found multiple objects {} that could accept merge of {go_id}",
                matches
                    .iter()
                    .map(|&i| super::transform::go_id(&acc.resources[i].id()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    }
}

/// Carries an existing object's labels and annotations (and, when merging, its data) into
/// the new one; the new one's values win.
fn merge_generated(new: &mut Value, old: &Value, data: bool) {
    let fields: &[&str] = if data { &["data", "binaryData"] } else { &[] };
    for field in fields {
        if let Some(Value::Object(old_map)) = old.get(*field) {
            let mut merged = old_map.clone();
            if let Some(Value::Object(new_map)) = new.get(*field) {
                for (k, v) in new_map {
                    merged.insert(k.clone(), v.clone());
                }
            }
            if let Value::Object(obj) = new {
                obj.insert((*field).to_owned(), Value::Object(merged));
            }
        }
    }
    for field in ["labels", "annotations"] {
        if let Some(Value::Object(old_map)) = old.pointer(&format!("/metadata/{field}")) {
            let mut merged = old_map.clone();
            if let Some(Value::Object(new_map)) = new.pointer(&format!("/metadata/{field}")) {
                for (k, v) in new_map {
                    merged.insert(k.clone(), v.clone());
                }
            }
            if let Some(Value::Object(meta)) = new.get_mut("metadata") {
                meta.insert(field.to_owned(), Value::Object(merged));
            }
        }
    }
}

/// The `config.kubernetes.io/origin` annotation of `resource`, with paths relative to `top`
/// (the directory of the kustomization built).
fn origin_note(resource: &Resource, top: &str) -> String {
    match &resource.source {
        super::resource::Source::File => {
            format!("path: {}\n", relative(top, &resource.origin.file))
        }
        super::resource::Source::Generator {
            configured_in,
            api_version,
            kind,
            name,
        } => {
            let mut note = format!(
                "configuredIn: {}\nconfiguredBy:\n  apiVersion: {api_version}\n  kind: {kind}\n",
                relative(top, configured_in)
            );
            if let Some(name) = name {
                note.push_str(&format!("  name: {name}\n"));
            }
            note
        }
    }
}

/// The `alpha.config.kubernetes.io/transformations` annotation: the transformers that ran
/// over a resource, with paths relative to `top`.
fn transformations_note(
    transformations: &[std::sync::Arc<super::resource::Transformation>],
    top: &str,
) -> String {
    let mut note = String::new();
    for t in transformations {
        note.push_str(&format!(
            "- configuredIn: {}\n  configuredBy:\n    apiVersion: {}\n    kind: {}\n",
            relative(top, &t.configured_in),
            t.api_version,
            t.kind
        ));
        if let Some(name) = &t.name {
            note.push_str(&format!("    name: {name}\n"));
        }
        if let Some(namespace) = &t.namespace {
            note.push_str(&format!("    namespace: {namespace}\n"));
        }
    }
    note
}

/// `path` (a tree path) as seen from the directory `from`.
fn relative(from: &str, path: &str) -> String {
    let from: Vec<&str> = from.split('/').filter(|p| !p.is_empty()).collect();
    let to: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    parts.join("/")
}

/// `base` with `over` merged into it: mappings merge key by key, anything else from `over`.
fn merged_values(base: Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(mut base), Value::Object(over)) => {
            for (key, value) in over {
                let merged = match base.remove(key) {
                    Some(existing) => merged_values(existing, value),
                    None => value.clone(),
                };
                base.insert(key.clone(), merged);
            }
            Value::Object(base)
        }
        (_, over) => over.clone(),
    }
}

/// Appends the content hash to the names of generated ConfigMaps and Secrets.
pub(crate) fn generate_hashes(acc: &mut Accumulated) {
    acc.touched();
    for resource in acc.resources.iter_mut().filter(|r| r.needs_hash) {
        let hash = generate::content_hash(&resource.object);
        let name = resource.id().name;
        resource.set_name(&format!("{name}-{hash}"));
        resource.needs_hash = false;
    }
}

/// Whether a resource entry names something remote.
fn is_remote(entry: &str) -> bool {
    entry.contains("://")
        || entry.starts_with("github.com/")
        || entry.starts_with("gitlab.com/")
        || entry.starts_with("bitbucket.org/")
        || entry.starts_with("git@")
}

pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// Parses a patch's text: one or more YAML or JSON documents.
pub(crate) fn parse_patch(file: &str, text: &[u8]) -> std::result::Result<Vec<Value>, String> {
    parse_yaml_documents(file, text, DuplicateKeys::LastWins)
        .map(|docs| docs.into_iter().map(|d| d.value).collect())
        .map_err(|e| e.to_string())
}
