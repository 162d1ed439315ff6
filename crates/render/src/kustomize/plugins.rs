//! The `transformers` and `generators` fields: configurations of kustomize's built-in plugins,
//! from files, inline, or a kustomization that renders them.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::build::{Accumulated, Builder, Failure, Loaded, Result, absorb, at, fail, parse_patch};
use super::fieldspec::FieldSpec;
use super::generate;
use super::replace;
use super::resource::{Behavior, Resource, Transformation};
use super::transform;
use super::types::{
    FieldSpecArgs, GeneratorArgs, GeneratorOptions, Image, Patch, ReplacementEntry, Selector,
};
use converge_core::EntryKind;

/// Runs the `transformers` entries in order.
pub(crate) fn run_transformers(
    builder: &mut Builder<'_>,
    loaded: &Loaded,
    acc: &mut Accumulated,
) -> Result<()> {
    for entry in loaded.kustomization.transformers.iter().flatten() {
        for (config, source) in configurations(builder, loaded, entry)? {
            transform_with(builder, loaded, acc, &config, &source)?;
            let text = |pointer: &str| config.pointer(pointer).and_then(Value::as_str);
            builder.ran(
                acc,
                Transformation {
                    configured_in: source,
                    api_version: text("/apiVersion").unwrap_or_default().to_owned(),
                    kind: text("/kind").unwrap_or_default().to_owned(),
                    name: text("/metadata/name").map(str::to_owned),
                    namespace: text("/metadata/namespace").map(str::to_owned),
                },
            );
        }
    }
    Ok(())
}

/// Runs the `generators` entries in order.
pub(crate) fn run_generators(
    builder: &mut Builder<'_>,
    loaded: &Loaded,
    acc: &mut Accumulated,
) -> Result<()> {
    for entry in loaded.kustomization.generators.iter().flatten() {
        for (config, source) in configurations(builder, loaded, entry)? {
            generate_with(builder, loaded, acc, &config, &source)?;
        }
    }
    Ok(())
}

/// The plugin configurations an entry stands for, each with the file it is written in.
fn configurations(
    builder: &mut Builder<'_>,
    loaded: &Loaded,
    entry: &str,
) -> Result<Vec<(Value, String)>> {
    let file = loaded.file.as_str();
    let with_file = |values: Vec<Value>, source: &str| {
        values
            .into_iter()
            .map(|v| (v, source.to_owned()))
            .collect::<Vec<_>>()
    };
    if entry.contains('\n') || entry.trim_start().starts_with('{') {
        return parse_patch(file, entry.as_bytes())
            .map(|values| with_file(values, file))
            .map_err(|m| at(file, m));
    }
    let path =
        converge_core::normalize_path(&super::build::join(&loaded.dir, entry)).map_err(|e| {
            Failure {
                file: file.to_owned(),
                message: format!("{entry}: {e}"),
            }
        })?;
    if builder.kind(&path) == Some(EntryKind::Dir) {
        // A kustomization whose output is plugin configurations.
        let resources = builder.build_nested(&path)?;
        return Ok(resources
            .into_iter()
            .map(|r| (r.object, r.origin.file))
            .collect());
    }
    let bytes = builder.read_file(loaded, entry)?;
    let name = builder.resolve_file(loaded, entry)?;
    parse_patch(&name, &bytes)
        .map(|values| with_file(values, &name))
        .map_err(|m| at(file, m))
}

fn describe(config: &Value) -> String {
    let kind = config.get("kind").and_then(Value::as_str).unwrap_or("?");
    let api = config
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("?");
    format!("{api} {kind}")
}

fn is_builtin(config: &Value) -> bool {
    matches!(
        config.get("apiVersion").and_then(Value::as_str),
        Some("builtin") | None
    ) || config
        .get("apiVersion")
        .and_then(Value::as_str)
        .is_some_and(|a| a.starts_with("builtin"))
}

fn parse<T: for<'de> Deserialize<'de>>(config: &Value, file: &str) -> Result<T> {
    let mut config = config.clone();
    super::types::canonical_keys(&mut config);
    if let Value::Object(map) = &mut config {
        map.remove("apiVersion");
        map.remove("kind");
        map.remove("metadata");
    }
    serde_json::from_value(config).map_err(|e| at(file, e))
}

fn specs(args: &[FieldSpecArgs]) -> Vec<FieldSpec> {
    args.iter().map(FieldSpec::from_args).collect()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PrefixSuffix {
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    suffix: String,
    #[serde(default)]
    field_specs: Vec<FieldSpecArgs>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct MapTransformer {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    field_specs: Vec<FieldSpecArgs>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct NamespaceConfig {
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    field_specs: Vec<FieldSpecArgs>,
    #[serde(default)]
    unset_only: bool,
    #[serde(default)]
    set_role_binding_subjects: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PatchSmConfig {
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    patches: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PatchJsonConfig {
    target: Option<Selector>,
    path: Option<String>,
    json_op: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ImageConfig {
    image_tag: Image,
    #[serde(default)]
    field_specs: Vec<FieldSpecArgs>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ReplicaConfig {
    replica: super::types::Replica,
    #[serde(default)]
    field_specs: Vec<FieldSpecArgs>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ReplacementConfig {
    #[serde(default)]
    replacements: Vec<ReplacementEntry>,
}

/// Applies one transformer configuration.
fn transform_with(
    builder: &mut Builder<'_>,
    loaded: &Loaded,
    acc: &mut Accumulated,
    config: &Value,
    configured_in: &str,
) -> Result<()> {
    let file = loaded.file.as_str();
    if !is_builtin(config) {
        return fail(
            file,
            format!(
                "transformer {}: exec and Go plugins are not supported; only kustomize's built-in transformers are",
                describe(config)
            ),
        );
    }
    let err = |message: String| Failure {
        file: file.to_owned(),
        message,
    };
    let kind = config
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match kind {
        "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
            let c: PrefixSuffix = parse(config, file)?;
            transform::prefix_suffix_with(acc, &c.prefix, &c.suffix, &specs(&c.field_specs));
            Ok(())
        }
        "LabelTransformer" => {
            let c: MapTransformer = parse(config, file)?;
            transform::add_pairs(acc, &c.labels, &specs(&c.field_specs)).map_err(err)
        }
        "AnnotationsTransformer" => {
            let c: MapTransformer = parse(config, file)?;
            transform::add_pairs(acc, &c.annotations, &specs(&c.field_specs)).map_err(err)
        }
        "NamespaceTransformer" => {
            let mut c: NamespaceConfig = parse(config, file)?;
            if c.namespace.is_empty()
                && let Some(namespace) = config
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
            {
                c.namespace = namespace.to_owned();
            }
            let field_specs = if c.field_specs.is_empty() {
                acc.config.namespace.clone()
            } else {
                specs(&c.field_specs)
            };
            transform::namespace_with(
                acc,
                &c.namespace,
                &field_specs,
                c.unset_only,
                c.set_role_binding_subjects
                    .as_deref()
                    .unwrap_or("defaultOnly"),
            )
            .map_err(err)
        }
        "PatchTransformer" => {
            let c: Patch = parse(config, file)?;
            transform::patch_entry(builder, loaded, acc, &c, false)
        }
        "PatchStrategicMergeTransformer" => {
            let c: PatchSmConfig = parse(config, file)?;
            if c.paths.is_empty() && c.patches.as_deref().is_none_or(|p| p.trim().is_empty()) {
                return fail(file, "empty file path and empty patch content");
            }
            for path in &c.paths {
                transform::patch_strategic_entry(builder, loaded, acc, path)?;
            }
            if let Some(patches) = &c.patches {
                transform::patch_strategic_entry(builder, loaded, acc, patches)?;
            }
            Ok(())
        }
        "PatchJson6902Transformer" => {
            let c: PatchJsonConfig = parse(config, file)?;
            let patch = Patch {
                path: c.path,
                patch: c.json_op,
                target: c.target,
                options: BTreeMap::new(),
            };
            transform::patch_entry(builder, loaded, acc, &patch, true)
        }
        "ImageTagTransformer" => {
            let c: ImageConfig = parse(config, file)?;
            let field_specs = if c.field_specs.is_empty() {
                acc.config.images.clone()
            } else {
                specs(&c.field_specs)
            };
            transform::image_with(acc, &c.image_tag, &field_specs, c.field_specs.is_empty())
                .map_err(err)
        }
        "ReplicaCountTransformer" => {
            let c: ReplicaConfig = parse(config, file)?;
            let field_specs = if c.field_specs.is_empty() {
                acc.config.replicas.clone()
            } else {
                specs(&c.field_specs)
            };
            transform::replicas_with(acc, &c.replica, &field_specs).map_err(err)
        }
        "ReplacementTransformer" => {
            let c: ReplacementConfig = parse(config, file)?;
            for entry in &c.replacements {
                replace::apply_entry(builder, loaded, acc, entry)?;
            }
            Ok(())
        }
        "ConfigMapGenerator" | "SecretGenerator" => {
            generate_with(builder, loaded, acc, config, configured_in)
        }
        "ValueAddTransformer" => value_add(builder, loaded, acc, config),
        "HashTransformer" => {
            super::build::generate_hashes(acc);
            Ok(())
        }
        other => fail(
            file,
            format!(
                "transformer {}: the built-in {other:?} is not supported",
                describe(config)
            ),
        ),
    }
}

/// Runs one generator configuration.
fn generate_with(
    builder: &mut Builder<'_>,
    loaded: &Loaded,
    acc: &mut Accumulated,
    config: &Value,
    configured_in: &str,
) -> Result<()> {
    let file = loaded.file.as_str();
    if !is_builtin(config) {
        return fail(
            file,
            format!(
                "generator {}: exec and Go plugins are not supported; only kustomize's built-in generators are",
                describe(config)
            ),
        );
    }
    let kind = config
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kind == "HelmChartInflationGenerator" {
        let chart: super::types::HelmChart = parse(config, file)?;
        return builder.inflate(loaded, &chart, acc);
    }
    let generator_source = || super::resource::Source::Generator {
        configured_in: configured_in.to_owned(),
        api_version: config
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("builtin")
            .to_owned(),
        kind: kind.to_owned(),
        name: config
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    if kind == "IAMPolicyGenerator" {
        let object = iam_service_account(config)
            .map_err(|m| at(file, format!("generator {}: {m}", describe(config))))?;
        let mut resource = Resource::new(object, converge_core::Origin::new(file, 0, 0));
        resource.source = generator_source();
        return absorb(acc, resource, file);
    }
    let secret = match kind {
        "ConfigMapGenerator" => false,
        "SecretGenerator" => true,
        other => {
            return fail(
                file,
                format!(
                    "generator {}: the built-in {other:?} is not supported",
                    describe(config)
                ),
            );
        }
    };
    let mut args_value = config.clone();
    if let Value::Object(map) = &mut args_value {
        let name = map.get("metadata").and_then(|m| m.get("name")).cloned();
        let namespace = map
            .get("metadata")
            .and_then(|m| m.get("namespace"))
            .cloned();
        map.remove("apiVersion");
        map.remove("kind");
        map.remove("metadata");
        // The generator's own fields; kustomize ignores others.
        const FIELDS: [&str; 9] = [
            "name",
            "namespace",
            "behavior",
            "literals",
            "files",
            "envs",
            "env",
            "options",
            "type",
        ];
        map.retain(|k, _| FIELDS.contains(&k.as_str()));
        if let Some(name) = name
            && !map.contains_key("name")
        {
            map.insert("name".to_owned(), name);
        }
        if let Some(namespace) = namespace
            && !map.contains_key("namespace")
        {
            map.insert("namespace".to_owned(), namespace);
        }
    }
    let args: GeneratorArgs = serde_json::from_value(args_value).map_err(|e| Failure {
        file: file.to_owned(),
        message: format!("generator {}: {e}", describe(config)),
    })?;
    let mut read = |path: &str| -> std::result::Result<Vec<u8>, String> {
        builder.read_file(loaded, path).map_err(|f| f.message)
    };
    let global: Option<&GeneratorOptions> = None;
    let (object, hash) =
        generate::generate(&args, global, secret, &mut read).map_err(|m| at(file, m))?;
    let mut resource = Resource::new(object, converge_core::Origin::new(file, 0, 0));
    resource.needs_hash = hash;
    resource.source = generator_source();
    resource.behavior = match args.behavior.as_deref() {
        Some("merge") => Behavior::Merge,
        Some("replace") => Behavior::Replace,
        _ => Behavior::Create,
    };
    absorb(acc, resource, file)
}

/// The ServiceAccount kustomize's `IAMPolicyGenerator` makes for GKE workload identity: the
/// Kubernetes service account annotated with the Google service account it acts as.
fn iam_service_account(config: &Value) -> std::result::Result<Value, String> {
    let text = |pointer: &str| config.pointer(pointer).and_then(Value::as_str);
    match text("/cloud") {
        Some("gke") => {}
        Some(other) => return Err(format!("cloud {other:?} is not supported; only gke is")),
        None => return Err("cloud must be set (gke)".to_owned()),
    }
    let required = |pointer: &str, what: &str| {
        text(pointer)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("{what} must be set"))
    };
    let name = required("/kubernetesService/name", "kubernetesService.name")?;
    let account = required("/serviceAccount/name", "serviceAccount.name")?;
    let project = required("/serviceAccount/projectId", "serviceAccount.projectId")?;
    let mut metadata = serde_json::json!({
        "name": name,
        "annotations": {
            "iam.gke.io/gcp-service-account":
                format!("{account}@{project}.iam.gserviceaccount.com"),
        },
    });
    if let Some(namespace) = text("/kubernetesService/namespace").filter(|n| !n.is_empty()) {
        metadata["namespace"] = Value::String(namespace.to_owned());
    }
    Ok(serde_json::json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata,
    }))
}

/// `ValueAddTransformer`'s configuration.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ValueAddConfig {
    #[serde(default)]
    value: String,
    #[serde(default)]
    targets: Vec<ValueAddTarget>,
    #[serde(default)]
    target_file_path: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ValueAddTarget {
    #[serde(default)]
    selector: Option<super::types::Selector>,
    #[serde(default)]
    field_path: String,
    #[serde(default)]
    file_path_position: i64,
}

/// kustomize's `ValueAddTransformer`: writes one value into a field of the selected
/// resources, or inserts it into a path held by that field.
fn value_add(
    builder: &Builder<'_>,
    loaded: &Loaded,
    acc: &mut Accumulated,
    config: &Value,
) -> Result<()> {
    let file = loaded.file.as_str();
    let fail_with = |m: String| at(file, format!("transformer {}: {m}", describe(config)));
    let mut c: ValueAddConfig = parse(config, file)?;
    let mut value = c.value.trim().to_owned();
    if value.is_empty() {
        // The name of the kustomization's directory.
        value = loaded.dir.rsplit('/').next().unwrap_or_default().to_owned();
        if value.is_empty() {
            return Err(fail_with(
                "value must be set: the tree's root has no name to default to".to_owned(),
            ));
        }
    }
    if let Some(path) = &c.target_file_path {
        #[derive(Deserialize)]
        struct Targets {
            #[serde(default)]
            targets: Vec<ValueAddTarget>,
        }
        let bytes = builder.read_file(loaded, path)?;
        let mut document = parse_patch(path, &bytes)
            .map_err(&fail_with)?
            .into_iter()
            .next()
            .unwrap_or(Value::Null);
        super::types::canonical_keys(&mut document);
        let more: Targets =
            serde_json::from_value(document).map_err(|e| fail_with(format!("{path}: {e}")))?;
        c.targets.extend(more.targets);
    }
    if c.targets.is_empty() {
        return Err(fail_with("must specify at least one target".to_owned()));
    }
    for target in &c.targets {
        if target.field_path.is_empty() {
            return Err(fail_with("fieldPath cannot be empty".to_owned()));
        }
        if target.file_path_position < 0 {
            return Err(fail_with(format!(
                "value of FilePathPosition ({}) cannot be negative",
                target.file_path_position
            )));
        }
    }
    acc.touched();
    let cluster_kinds = acc.config.cluster_scoped_kinds.clone();
    for target in &c.targets {
        let selection = target
            .selector
            .as_ref()
            .map(super::select::Selection::new)
            .transpose()
            .map_err(&fail_with)?;
        // Field names may hold `/` escaped as `\/`.
        let mut fields: Vec<String> = Vec::new();
        for part in target.field_path.split('/') {
            match fields.last_mut() {
                Some(last) if last.ends_with('\\') => {
                    last.pop();
                    last.push('/');
                    last.push_str(part);
                }
                _ => fields.push(part.to_owned()),
            }
        }
        for resource in &mut acc.resources {
            if selection.as_ref().is_some_and(|s| !s.matches(resource)) {
                continue;
            }
            if fields == ["metadata", "namespace"] {
                let (group, _, kind, _, _) = resource.id_parts();
                let cluster = super::resource::is_cluster_scoped(group, kind)
                    || cluster_kinds.iter().any(|(g, k)| g == group && k == kind);
                if !cluster {
                    resource.remember_id();
                    resource
                        .metadata_mut()
                        .insert("namespace".to_owned(), Value::String(value.clone()));
                }
                continue;
            }
            let position = usize::try_from(target.file_path_position).unwrap_or(0);
            set_scalar(&mut resource.object, &fields, &value, position)
                .map_err(|m| fail_with(format!("{}: {m}", target.field_path)))?;
        }
    }
    Ok(())
}

/// Sets the scalar at `fields` below `object` (creating mappings on the way) to `value`, or,
/// when `position` is above zero, inserts `value` into the path it holds at `position - 1`.
fn set_scalar(
    object: &mut Value,
    fields: &[String],
    value: &str,
    position: usize,
) -> std::result::Result<(), String> {
    let mut node = object;
    for field in fields {
        let map = match node {
            Value::Object(map) => map,
            Value::Null => {
                *node = Value::Object(serde_json::Map::new());
                match node {
                    Value::Object(map) => map,
                    _ => unreachable!("just made a mapping"),
                }
            }
            _ => return Err(format!("{field} is below a field that is not a mapping")),
        };
        node = map.entry(field.clone()).or_insert(Value::Null);
    }
    let old = match node {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return Err("the field holds a mapping or a list, not a scalar".to_owned()),
    };
    let new = if position > 0 {
        insert_path_part(&old, position - 1, value)
    } else {
        value.to_owned()
    };
    *node = Value::String(new);
    Ok(())
}

/// `path` with `part` inserted as its `index`-th element (at the end when `index` is past
/// it); a leading `/` stays leading.
fn insert_path_part(path: &str, index: usize, part: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    parts.insert(index.min(parts.len()), part);
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

#[cfg(test)]
mod value_add_tests {
    use super::insert_path_part;

    #[test]
    fn path_parts_go_where_kustomize_puts_them() {
        for (old, index, new) in [
            ("", 0, "PEACH"),
            ("/", 0, "/PEACH"),
            ("pie", 0, "PEACH/pie"),
            ("/pie", 0, "/PEACH/pie"),
            ("raw", 1, "raw/PEACH"),
            ("/raw", 9, "/raw/PEACH"),
            ("a/nice/warm/pie", 3, "a/nice/warm/PEACH/pie"),
            ("/a/nice/warm/pie", 3, "/a/nice/warm/PEACH/pie"),
        ] {
            assert_eq!(
                insert_path_part(old, index, "PEACH"),
                new,
                "{old} at {index}"
            );
        }
    }
}
