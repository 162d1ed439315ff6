//! The `transformers` and `generators` fields: configurations of kustomize's built-in plugins,
//! from files, inline, or a kustomization that renders them.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::build::{Accumulated, Builder, Failure, Loaded, Result, absorb, at, fail, parse_patch};
use super::fieldspec::FieldSpec;
use super::generate;
use super::replace;
use super::resource::{Behavior, Resource};
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

/// The plugin configurations an entry stands for.
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
    resource.source = super::resource::Source::Generator {
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
    resource.behavior = match args.behavior.as_deref() {
        Some("merge") => Behavior::Merge,
        Some("replace") => Behavior::Replace,
        _ => Behavior::Create,
    };
    absorb(acc, resource, file)
}
