//! The kustomization file, as kustomize v5 reads it.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// The names a kustomization file may have, in the order kustomize looks for them.
pub(crate) const FILE_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// A `Kustomization` or `Component`. Unknown fields are an error, as in kustomize.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Kustomization {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    #[serde(rename = "metadata")]
    pub _metadata: Option<serde::de::IgnoredAny>,
    pub openapi: Option<OpenApi>,
    pub name_prefix: Option<String>,
    pub name_suffix: Option<String>,
    pub namespace: Option<String>,
    pub common_labels: Option<BTreeMap<String, String>>,
    pub labels: Option<Vec<Label>>,
    pub common_annotations: Option<BTreeMap<String, String>>,
    pub patches_strategic_merge: Option<Vec<String>>,
    #[serde(rename = "patchesJson6902")]
    pub patches_json6902: Option<Vec<Patch>>,
    pub patches: Option<Vec<Patch>>,
    pub images: Option<Vec<Image>>,
    pub image_tags: Option<Vec<Image>>,
    pub replacements: Option<Vec<ReplacementEntry>>,
    pub replicas: Option<Vec<Replica>>,
    pub vars: Option<Vec<Var>>,
    pub sort_options: Option<SortOptions>,
    pub resources: Option<Vec<String>>,
    pub components: Option<Vec<String>>,
    pub crds: Option<Vec<String>>,
    pub bases: Option<Vec<String>>,
    pub config_map_generator: Option<Vec<GeneratorArgs>>,
    pub secret_generator: Option<Vec<GeneratorArgs>>,
    pub helm_globals: Option<HelmGlobals>,
    pub helm_charts: Option<Vec<HelmChart>>,
    pub helm_chart_inflation_generator: Option<Vec<HelmChart>>,
    pub generator_options: Option<GeneratorOptions>,
    pub configurations: Option<Vec<String>>,
    pub generators: Option<Vec<String>>,
    pub transformers: Option<Vec<String>>,
    pub validators: Option<Vec<String>>,
    #[serde(rename = "inventory")]
    pub _inventory: Option<serde::de::IgnoredAny>,
    pub build_metadata: Option<Vec<String>>,
}

/// `openapi`: a schema file for custom kinds, or a built-in schema version.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct OpenApi {
    pub path: Option<String>,
    pub version: Option<String>,
}

/// An entry of `labels`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Label {
    #[serde(default)]
    pub pairs: BTreeMap<String, String>,
    #[serde(default)]
    pub include_selectors: bool,
    #[serde(default)]
    pub include_templates: bool,
    #[serde(default)]
    pub fields: Vec<FieldSpecArgs>,
}

/// A field spec as written in a kustomization or configuration file. Other keys (a `name`,
/// say) are ignored, as kustomize ignores them.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FieldSpecArgs {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub create: bool,
}

/// An entry of `patches` or `patchesJson6902`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Patch {
    pub path: Option<String>,
    pub patch: Option<String>,
    pub target: Option<Selector>,
    #[serde(default)]
    pub options: BTreeMap<String, bool>,
}

/// Which resources a patch or replacement selects.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Selector {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    pub annotation_selector: Option<String>,
}

/// An entry of `images`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Image {
    #[serde(default)]
    pub name: String,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub tag_suffix: Option<String>,
    pub digest: Option<String>,
}

/// An entry of `replicas`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Replica {
    pub name: String,
    pub count: i64,
}

/// An entry of `vars`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Var {
    pub name: String,
    #[serde(rename = "objref")]
    pub obj_ref: ObjRef,
    #[serde(rename = "fieldref", default)]
    pub field_ref: Option<FieldRef>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ObjRef {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct FieldRef {
    #[serde(default)]
    pub field_path: String,
}

/// `sortOptions`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SortOptions {
    pub order: Option<String>,
    pub legacy_sort_options: Option<LegacySortOptions>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct LegacySortOptions {
    #[serde(default)]
    pub order_first: Vec<String>,
    #[serde(default)]
    pub order_last: Vec<String>,
}

/// A `configMapGenerator` or `secretGenerator` entry.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct GeneratorArgs {
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub behavior: Option<String>,
    #[serde(default)]
    pub literals: Vec<String>,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub envs: Vec<String>,
    pub env: Option<String>,
    pub options: Option<GeneratorOptions>,
    /// Secrets only.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// `generatorOptions`, or an entry's `options`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct GeneratorOptions {
    pub labels: Option<BTreeMap<String, String>>,
    pub annotations: Option<BTreeMap<String, String>>,
    pub disable_name_suffix_hash: Option<bool>,
    pub immutable: Option<bool>,
}

/// An entry of `replacements`: a file, or the replacement itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum ReplacementEntry {
    Path { path: String },
    Inline(Box<Replacement>),
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Replacement {
    pub source: Option<SourceSelector>,
    #[serde(default)]
    pub targets: Vec<TargetSelector>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SourceSelector {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub field_path: Option<String>,
    pub options: Option<FieldOptions>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct TargetSelector {
    pub select: Option<Selector>,
    #[serde(default)]
    pub reject: Vec<Selector>,
    #[serde(default)]
    pub field_paths: Vec<String>,
    pub options: Option<FieldOptions>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct FieldOptions {
    pub delimiter: Option<String>,
    #[serde(default)]
    pub index: i64,
    pub encoding: Option<String>,
    #[serde(default)]
    pub create: bool,
}

/// A `configurations` file: field specs for the built-in transformers.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct TransformerConfig {
    #[serde(default)]
    pub name_prefix: Vec<FieldSpecArgs>,
    #[serde(default)]
    pub name_suffix: Vec<FieldSpecArgs>,
    #[serde(default)]
    pub name_reference: Vec<NameBackReferences>,
    #[serde(default)]
    pub common_labels: Vec<FieldSpecArgs>,
    #[serde(default)]
    pub labels: Vec<FieldSpecArgs>,
    #[serde(default)]
    pub template_labels: Vec<FieldSpecArgs>,
    #[serde(default)]
    pub common_annotations: Vec<FieldSpecArgs>,
    #[serde(default)]
    pub namespace: Vec<FieldSpecArgs>,
    #[serde(default)]
    pub var_reference: Vec<FieldSpecArgs>,
    #[serde(default)]
    pub images: Vec<FieldSpecArgs>,
    #[serde(default)]
    pub replicas: Vec<FieldSpecArgs>,
}

/// The referrers of one referenced kind.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct NameBackReferences {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default, rename = "fieldSpecs")]
    pub field_specs: Vec<FieldSpecArgs>,
}

/// Every field name of the kustomization file and the configurations it holds.
const FIELD_NAMES: &[&str] = &[
    "allowKindChange",
    "allowNameChange",
    "annotationSelector",
    "annotations",
    "apiVersion",
    "bases",
    "behavior",
    "buildMetadata",
    "commonAnnotations",
    "commonLabels",
    "components",
    "configMapGenerator",
    "configurations",
    "count",
    "create",
    "crds",
    "delimiter",
    "digest",
    "disableNameSuffixHash",
    "encoding",
    "env",
    "envs",
    "fieldPath",
    "fieldPaths",
    "fieldSpecs",
    "fieldref",
    "fields",
    "files",
    "generatorOptions",
    "generators",
    "group",
    "helmChartInflationGenerator",
    "helmCharts",
    "helmGlobals",
    "imageTags",
    "images",
    "immutable",
    "includeSelectors",
    "includeTemplates",
    "index",
    "inventory",
    "kind",
    "labelSelector",
    "labels",
    "legacySortOptions",
    "literals",
    "metadata",
    "name",
    "namePrefix",
    "nameReference",
    "nameSuffix",
    "namespace",
    "newName",
    "newTag",
    "objref",
    "openapi",
    "options",
    "order",
    "orderFirst",
    "orderLast",
    "pairs",
    "patch",
    "patches",
    "patchesJson6902",
    "patchesStrategicMerge",
    "path",
    "reject",
    "replacements",
    "replicas",
    "resources",
    "secretGenerator",
    "select",
    "sortOptions",
    "source",
    "tagSuffix",
    "targets",
    "templateLabels",
    "transformers",
    "type",
    "validators",
    "varReference",
    "vars",
    "version",
];

/// Fields holding the user's own keys: never renamed.
const USER_MAPS: &[&str] = &[
    "commonLabels",
    "commonAnnotations",
    "pairs",
    "labels",
    "annotations",
    "metadata",
    "openapi",
    "helmGlobals",
    "valuesInline",
];

/// Fields whose values are label or annotation strings, which YAML may have typed.
const STRING_MAPS: &[&str] = &[
    "commonLabels",
    "commonAnnotations",
    "pairs",
    "labels",
    "annotations",
];

/// Gives the keys of a kustomization the spelling of its fields, as Go's JSON decoding
/// matches them (without regard to case: `fieldpath` is `fieldPath`), and turns the values of
/// label and annotation maps into strings (`enabled: true` is the label value `"true"`).
pub(crate) fn canonical_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let canonical = FIELD_NAMES
                    .iter()
                    .find(|name| name.eq_ignore_ascii_case(&key))
                    .map(|name| (*name).to_owned())
                    .unwrap_or_else(|| key.clone());
                let Some(mut child) = map.remove(&key) else {
                    continue;
                };
                if USER_MAPS.contains(&canonical.as_str()) && child.is_object() {
                    if STRING_MAPS.contains(&canonical.as_str())
                        && let Value::Object(entries) = &mut child
                    {
                        for entry in entries.values_mut() {
                            match entry {
                                Value::Bool(b) => *entry = Value::String(b.to_string()),
                                Value::Number(n) => *entry = Value::String(n.to_string()),
                                _ => {}
                            }
                        }
                    }
                } else {
                    canonical_keys(&mut child);
                }
                map.insert(canonical, child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(canonical_keys),
        _ => {}
    }
}

/// An entry of `helmCharts` (or a `HelmChartInflationGenerator`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HelmChart {
    #[serde(default)]
    pub name: String,
    pub version: Option<String>,
    pub repo: Option<String>,
    pub release_name: Option<String>,
    pub namespace: Option<String>,
    pub values_file: Option<String>,
    pub values_inline: Option<Value>,
    pub values_merge: Option<String>,
    #[serde(default)]
    pub additional_values_files: Vec<String>,
    #[serde(default, rename = "includeCRDs")]
    pub include_crds: bool,
    #[serde(default)]
    pub skip_tests: bool,
    #[serde(default)]
    pub skip_hooks: bool,
    #[serde(default)]
    pub api_versions: Vec<String>,
    pub kube_version: Option<String>,
    pub name_template: Option<String>,
}

/// `helmGlobals`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HelmGlobals {
    pub chart_home: Option<String>,
    /// Helm's configuration home: the Helm renderer keeps its own.
    #[serde(rename = "configHome")]
    pub _config_home: Option<serde::de::IgnoredAny>,
}
