//! The built-in transformers, in the order kustomize runs them.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::{Map, Value, json};

use super::build::{Accumulated, Builder, Failure, Loaded, Result, at, fail};
use super::fieldspec::{FieldSpec, apply_specs};
use super::patch;
use super::plugins;
use super::replace;
use super::resource::{
    ResId, Transformation, effective_namespace, ensure_object, is_cluster_scoped,
};
use super::select::Selection;
use super::types::{Image, Label, Patch, Replica};

/// Annotations kustomize uses while building, removed from the output.
const INTERNAL_ANNOTATIONS: [&str; 4] = [
    "internal.config.kubernetes.io/",
    "config.kubernetes.io/path",
    "config.kubernetes.io/index",
    "kustomize.config.k8s.io/",
];

/// Removes build-internal annotations (and `metadata.annotations` when nothing is left).
pub(crate) fn strip_internal(object: &mut Value) {
    let Some(Value::Object(meta)) = object.get_mut("metadata") else {
        return;
    };
    if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
        annotations.retain(|k, _| !INTERNAL_ANNOTATIONS.iter().any(|p| k.starts_with(p)));
        if annotations.is_empty() {
            meta.remove("annotations");
        }
    }
}

/// Runs the transformers a kustomization configures, in kustomize's order, then the
/// `transformers` entries.
pub(crate) fn run_builtin(
    builder: &mut Builder<'_>,
    loaded: &Loaded,
    acc: &mut Accumulated,
) -> Result<()> {
    let k = &loaded.kustomization;
    let file = loaded.file.as_str();
    let err = |message: String| Failure {
        file: file.to_owned(),
        message,
    };
    let builtin = |kind: &str| Transformation {
        configured_in: file.to_owned(),
        api_version: "builtin".to_owned(),
        kind: kind.to_owned(),
        name: None,
        namespace: None,
    };
    if let Some(entries) = k.patches_strategic_merge.as_ref().filter(|e| !e.is_empty()) {
        for entry in entries {
            patch_strategic_entry(builder, loaded, acc, entry)?;
        }
        builder.ran(acc, builtin("PatchStrategicMergeTransformer"));
    }
    for entry in k.patches.iter().flatten() {
        patch_entry(builder, loaded, acc, entry, false)?;
        builder.ran(acc, builtin("PatchTransformer"));
    }
    if let Some(namespace) = k.namespace.as_deref().filter(|n| !n.is_empty()) {
        let specs = acc.config.namespace.clone();
        namespace_with(acc, namespace, &specs, false, "defaultOnly").map_err(err)?;
        builder.ran(acc, builtin("NamespaceTransformer"));
    }
    if let Some(prefix) = k.name_prefix.as_deref().filter(|p| !p.is_empty()) {
        let specs = acc.config.name_prefix.clone();
        prefix_suffix_with(acc, prefix, "", &specs);
        builder.ran(acc, builtin("PrefixTransformer"));
    }
    if let Some(suffix) = k.name_suffix.as_deref().filter(|s| !s.is_empty()) {
        let specs = acc.config.name_suffix.clone();
        prefix_suffix_with(acc, "", suffix, &specs);
        builder.ran(acc, builtin("SuffixTransformer"));
    }
    for label in k.labels.iter().flatten() {
        apply_labels(acc, label).map_err(err)?;
        builder.ran(acc, builtin("LabelTransformer"));
    }
    if let Some(labels) = k.common_labels.as_ref().filter(|l| !l.is_empty()) {
        let mut specs = acc.config.common_labels.clone();
        specs.extend(acc.config.labels.iter().cloned());
        add_pairs(acc, labels, &specs).map_err(err)?;
        builder.ran(acc, builtin("LabelTransformer"));
    }
    if let Some(annotations) = k.common_annotations.as_ref().filter(|a| !a.is_empty()) {
        let specs = acc.config.common_annotations.clone();
        add_pairs(acc, annotations, &specs).map_err(err)?;
        builder.ran(acc, builtin("AnnotationsTransformer"));
    }
    for entry in k.patches_json6902.iter().flatten() {
        if entry
            .target
            .as_ref()
            .and_then(|t| t.name.as_deref())
            .is_none_or(str::is_empty)
        {
            return fail(file, "patchesJson6902: must specify the target name");
        }
        patch_entry(builder, loaded, acc, entry, true)?;
        builder.ran(acc, builtin("PatchJson6902Transformer"));
    }
    for replica in k.replicas.iter().flatten() {
        let specs = acc.config.replicas.clone();
        replicas_with(acc, replica, &specs).map_err(err)?;
        builder.ran(acc, builtin("ReplicaCountTransformer"));
    }
    for image in k
        .images
        .iter()
        .flatten()
        .chain(k.image_tags.iter().flatten())
    {
        let specs = acc.config.images.clone();
        image_with(acc, image, &specs, true).map_err(err)?;
        builder.ran(acc, builtin("ImageTagTransformer"));
    }
    for entry in k.replacements.iter().flatten() {
        replace::apply_entry(builder, loaded, acc, entry)?;
        builder.ran(acc, builtin("ReplacementTransformer"));
    }
    plugins::run_transformers(builder, loaded, acc)?;
    Ok(())
}

/// A `patchesStrategicMerge` entry: a file, or inline YAML; each document patches the
/// resource it names.
pub(crate) fn patch_strategic_entry(
    builder: &Builder<'_>,
    loaded: &Loaded,
    acc: &mut Accumulated,
    entry: &str,
) -> Result<()> {
    let file = loaded.file.as_str();
    let inline = entry.contains('\n') || entry.trim_start().starts_with('{');
    let (text, name) = if inline {
        (entry.as_bytes().to_vec(), file.to_owned())
    } else {
        (
            builder.read_file(loaded, entry)?,
            builder.resolve_file(loaded, entry)?,
        )
    };
    let documents = builder.parse_patch(&name, &text).map_err(|m| at(file, m))?;
    if documents.is_empty() {
        return fail(file, format!("patch appears to be empty; files={entry}"));
    }
    for document in &documents {
        if document.is_array() {
            return fail(
                file,
                format!("{name}: a strategic merge patch is a mapping, not a list"),
            );
        }
        patch_by_own_id(acc, document, file, false)?;
    }
    Ok(())
}

/// A strategic merge patch applied to the one resource with its id (now or before).
fn patch_by_own_id(acc: &mut Accumulated, patch: &Value, file: &str, infer: bool) -> Result<()> {
    let id = ResId::of(patch);
    let cluster = is_cluster_scoped(&id.group, &id.kind);
    let wanted_ns = effective_namespace(&id.namespace, cluster);
    let candidates = acc.with_kind_name(&id.kind, &id.name);
    let matches: Vec<usize> = candidates
        .into_iter()
        .map(|i| (i, &acc.resources[i]))
        .filter(|(_, r)| {
            let (group, version, kind, namespace, name) = r.id_parts();
            let now = group == id.group
                && version == id.version
                && kind == id.kind
                && name == id.name
                && effective_namespace(namespace, cluster) == wanted_ns;
            now || r.previous.iter().any(|candidate| {
                candidate.group == id.group
                    && candidate.version == id.version
                    && candidate.kind == id.kind
                    && candidate.name == id.name
                    && effective_namespace(&candidate.namespace, cluster) == wanted_ns
            })
        })
        .map(|(i, _)| i)
        .collect();
    let index = match matches.as_slice() {
        [one] => *one,
        // The target was left out of an incremental re-render.
        [] if acc.partial => return Ok(()),
        [] => {
            return fail(
                file,
                format!(
                    "no matches for Id {}; failed to find unique target for patch {}",
                    go_id(&id),
                    go_id(&id)
                ),
            );
        }
        _ => {
            return fail(
                file,
                format!(
                    "multiple matches for Id {}; failed to find unique target for patch {}",
                    go_id(&id),
                    go_id(&id)
                ),
            );
        }
    };
    apply_smp(acc, index, patch, false, false, infer).map_err(|m| at(file, m))
}

/// kustomize's way of writing an id in messages: `Kind.version.group/name.namespace`.
pub(crate) fn go_id(id: &ResId) -> String {
    let or = |v: &str, p: &str| {
        if v.is_empty() {
            p.to_owned()
        } else {
            v.to_owned()
        }
    };
    format!(
        "{}.{}.{}/{}.{}",
        or(&id.kind, "[noKind]"),
        or(&id.version, "[noVer]"),
        or(&id.group, "[noGrp]"),
        or(&id.name, "[noName]"),
        or(&id.namespace, "[noNs]")
    )
}

/// Merges a strategic merge patch into resource `index`: its name, namespace and kind stay
/// unless the patch may change them; `$patch: delete` removes the resource.
fn apply_smp(
    acc: &mut Accumulated,
    index: usize,
    patch_doc: &Value,
    allow_name_change: bool,
    allow_kind_change: bool,
    infer: bool,
) -> std::result::Result<(), String> {
    if patch::deletes_object(patch_doc) {
        acc.resources.remove(index);
        acc.touched();
        return Ok(());
    }
    let schemas = acc.schemas.clone();
    let resource = &mut acc.resources[index];
    let before = resource.id();
    let api_version = resource.object.get("apiVersion").cloned();
    let mut document = patch_doc.clone();
    if let (Value::Object(map), Some(api_version)) = (&mut document, api_version)
        && map.contains_key("apiVersion")
    {
        map.insert("apiVersion".to_owned(), api_version);
    }
    let mut merged = resource.object.clone();
    patch::strategic_merge(&mut merged, &document, infer, &schemas)
        .map_err(|m| format!("applying a strategic merge patch to {before}: {m}"))?;
    let after = ResId::of(&merged);
    let renamed = (after.name != before.name && allow_name_change)
        || (after.kind != before.kind && allow_kind_change);
    if renamed {
        resource.remember_id();
    }
    resource.object = merged;
    let meta = resource.metadata_mut();
    if !allow_name_change {
        meta.insert("name".to_owned(), json!(before.name));
    }
    if before.namespace.is_empty() {
        meta.remove("namespace");
    } else {
        meta.insert("namespace".to_owned(), json!(before.namespace));
    }
    if !allow_kind_change && let Value::Object(object) = &mut resource.object {
        object.insert("kind".to_owned(), json!(before.kind));
    }
    if resource.object.as_object().is_some_and(|o| o.is_empty()) {
        acc.resources.remove(index);
        acc.touched();
    } else if renamed {
        acc.touched();
    }
    Ok(())
}

/// A `patches` or `patchesJson6902` entry.
pub(crate) fn patch_entry(
    builder: &Builder<'_>,
    loaded: &Loaded,
    acc: &mut Accumulated,
    entry: &Patch,
    json6902: bool,
) -> Result<()> {
    let file = loaded.file.as_str();
    let (text, name) = match (&entry.path, &entry.patch) {
        (Some(_), Some(_)) if json6902 => {
            return fail(file, "must specify a file path or jsonOp, not both");
        }
        (Some(_), Some(_)) => return fail(file, "patch and path can't be set at the same time"),
        (Some(path), None) => (
            builder.read_file(loaded, path)?,
            builder.resolve_file(loaded, path)?,
        ),
        (None, Some(patch)) if !patch.trim().is_empty() => {
            (patch.trim().as_bytes().to_vec(), file.to_owned())
        }
        (None, _) if json6902 => return fail(file, "empty file path and empty jsonOp"),
        (None, _) => {
            return fail(
                file,
                "must specify one of patch and path in a patches entry".to_owned(),
            );
        }
    };
    let err = |m: String| at(file, m);
    let mut documents = builder.parse_patch(&name, &text).map_err(err)?;
    // A JSON 6902 patch is one list of operations: kustomize reads the first document only.
    let is_json = matches!(documents.first(), Some(Value::Array(_)));
    if is_json {
        documents.truncate(1);
    }
    if json6902 && !is_json {
        return fail(
            file,
            format!("{name}: a JSON 6902 patch must be a list of operations"),
        );
    }
    if documents.is_empty() {
        return fail(file, format!("patch appears to be empty; {name}"));
    }
    let allow_name_change = entry
        .options
        .get("allowNameChange")
        .copied()
        .unwrap_or(false);
    let allow_kind_change = entry
        .options
        .get("allowKindChange")
        .copied()
        .unwrap_or(false);
    let Some(target) = &entry.target else {
        if is_json {
            return fail(
                file,
                format!(
                    "must specify a target for JSON patch {}",
                    String::from_utf8_lossy(&text).trim()
                ),
            );
        }
        for document in &documents {
            if document.get("kind").is_none() || document.pointer("/metadata/name").is_none() {
                return fail(
                    file,
                    format!(
                        "unable to parse SM or JSON patch from [{}]",
                        String::from_utf8_lossy(&text).trim()
                    ),
                );
            }
            patch_by_own_id(acc, document, file, true)?;
        }
        return Ok(());
    };
    if !is_json && documents.len() > 1 {
        return fail(
            file,
            "Multiple Strategic-Merge Patches in one `patches` entry is not allowed to set `patches.target` field",
        );
    }
    let selection = Selection::new(target).map_err(err)?;
    acc.touched();
    let mut index = 0;
    while index < acc.resources.len() {
        if !selection.matches(&acc.resources[index]) {
            index += 1;
            continue;
        }
        let before_len = acc.resources.len();
        if is_json {
            let resource = &mut acc.resources[index];
            let before = resource.id();
            resource.remember_id();
            patch::json_patch(&mut resource.object, &documents[0])
                .map_err(|m| err(format!("{name}: applying the patch to {before}: {m}")))?;
            if resource.id() == before {
                // Nothing about the id changed: no history to keep.
                resource.previous.pop_if(|p| *p == before);
            }
        } else {
            for document in &documents {
                apply_smp(
                    acc,
                    index,
                    document,
                    allow_name_change,
                    allow_kind_change,
                    true,
                )
                .map_err(err)?;
                if acc.resources.len() < before_len {
                    break;
                }
            }
        }
        if acc.resources.len() == before_len {
            index += 1;
        }
    }
    Ok(())
}

/// The namespace transformer.
pub(crate) fn namespace_with(
    acc: &mut Accumulated,
    namespace: &str,
    specs: &[FieldSpec],
    unset_only: bool,
    role_binding_subjects: &str,
) -> std::result::Result<(), String> {
    if !matches!(
        role_binding_subjects,
        "defaultOnly" | "none" | "allServiceAccounts"
    ) {
        return Err(format!(
            "invalid value {role_binding_subjects:?} for setRoleBindingSubjects: must be one of \"defaultOnly\", \"none\" or \"allServiceAccounts\""
        ));
    }
    acc.touched();
    let cluster_kinds = acc.config.cluster_scoped_kinds.clone();
    // `metadata/namespace` and binding subjects are handled here, not by field specs.
    let specs: Vec<FieldSpec> = specs
        .iter()
        .filter(|s| s.path != ["metadata", "namespace"])
        .filter(|s| {
            !(matches!(s.kind.as_str(), "RoleBinding" | "ClusterRoleBinding")
                && s.path == ["subjects", "namespace"])
        })
        .cloned()
        .collect();
    let specs = specs.as_slice();
    for resource in &mut acc.resources {
        let id = resource.id();
        let cluster = is_cluster_scoped(&id.group, &id.kind)
            || cluster_kinds
                .iter()
                .any(|(g, k)| *g == id.group && *k == id.kind);
        resource.remember_id();
        if !cluster && (!unset_only || id.namespace.is_empty()) {
            resource
                .metadata_mut()
                .insert("namespace".to_owned(), json!(namespace));
        }
        if matches!(id.kind.as_str(), "RoleBinding" | "ClusterRoleBinding")
            && role_binding_subjects != "none"
            && let Some(Value::Array(subjects)) = resource.object.get_mut("subjects")
        {
            for subject in subjects {
                let update = match role_binding_subjects {
                    "allServiceAccounts" => {
                        subject.get("kind").and_then(Value::as_str) == Some("ServiceAccount")
                    }
                    _ => subject.get("name").and_then(Value::as_str) == Some("default"),
                };
                let has = subject
                    .get("namespace")
                    .and_then(Value::as_str)
                    .is_some_and(|n| !n.is_empty());
                if update && !(unset_only && has) {
                    ensure_object(subject).insert("namespace".to_owned(), json!(namespace));
                }
            }
        }
        let api_version = resource
            .object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        apply_specs(&mut resource.object, specs, &mut |spec, value| {
            if spec.path == ["metadata", "name"] && api_version != "v1" {
                return Ok(());
            }
            match value {
                Value::String(s) if unset_only && !s.is_empty() => Ok(()),
                Value::String(_) | Value::Null => {
                    *value = json!(namespace);
                    Ok(())
                }
                _ => Err(format!(
                    "namespace field specs must target scalar nodes: considering field '{}' of object {}",
                    spec.path.join("/"),
                    go_id(&id)
                )),
            }
        })?;
    }
    let mut seen = std::collections::HashSet::new();
    for resource in &acc.resources {
        let id = resource.id();
        if !seen.insert(id.clone()) {
            return Err(format!(
                "namespace transformation produces ID conflict: {id}"
            ));
        }
    }
    Ok(())
}

/// A prefix and a suffix on the names at `specs`.
pub(crate) fn prefix_suffix_with(
    acc: &mut Accumulated,
    prefix: &str,
    suffix: &str,
    specs: &[FieldSpec],
) {
    acc.touched();
    for resource in &mut acc.resources {
        let org = resource.original_id();
        let skipped = org.kind == "CustomResourceDefinition"
            || org.kind == "Namespace"
            || org.kind == "APIService" && org.group == "apiregistration.k8s.io";
        if skipped {
            continue;
        }
        let id = resource.id();
        let names_object = specs
            .iter()
            .any(|s| s.applies_to(&id) && s.path == ["metadata", "name"]);
        if names_object {
            if !prefix.is_empty() {
                resource.prefixes.push(prefix.to_owned());
            }
            if !suffix.is_empty() {
                resource.suffixes.push(suffix.to_owned());
            }
            resource.remember_id();
        }
        let _ = apply_specs::<()>(&mut resource.object, specs, &mut |_, value| {
            if let Value::String(name) = value {
                *name = format!("{prefix}{name}{suffix}");
            }
            Ok(())
        });
    }
}

/// Adds `pairs` (labels or annotations) at every field spec.
pub(crate) fn add_pairs(
    acc: &mut Accumulated,
    pairs: &BTreeMap<String, String>,
    specs: &[FieldSpec],
) -> std::result::Result<(), String> {
    for resource in &mut acc.resources {
        apply_specs(&mut resource.object, specs, &mut |spec, value| {
            if value.is_null() {
                *value = Value::Object(Map::new());
            }
            let Value::Object(map) = value else {
                return Err(format!("{} is not a mapping", spec.path_string()));
            };
            for (k, v) in pairs {
                map.insert(k.clone(), json!(v));
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// One `labels` entry.
fn apply_labels(acc: &mut Accumulated, label: &Label) -> std::result::Result<(), String> {
    let mut specs: Vec<FieldSpec> = label.fields.iter().map(FieldSpec::from_args).collect();
    specs.extend(acc.config.labels.iter().cloned());
    if label.include_selectors {
        specs.extend(acc.config.common_labels.iter().cloned());
    } else {
        if label.include_templates {
            specs.extend(acc.config.template_labels.iter().cloned());
        }
        specs.push(FieldSpec::new("", "", "metadata/labels", true));
    }
    add_pairs(acc, &label.pairs, &specs)
}

/// A `replicas` entry.
pub(crate) fn replicas_with(
    acc: &mut Accumulated,
    replica: &Replica,
    specs: &[FieldSpec],
) -> std::result::Result<(), String> {
    let mut found = false;
    for resource in &mut acc.resources {
        let id = resource.id();
        let named =
            id.name == replica.name || resource.previous.iter().any(|p| p.name == replica.name);
        if !named || !specs.iter().any(|s| s.applies_to(&id)) {
            continue;
        }
        found = true;
        apply_specs(&mut resource.object, specs, &mut |_, value| {
            *value = json!(replica.count);
            Ok::<(), String>(())
        })?;
    }
    if !found {
        let kinds: Vec<String> = specs
            .iter()
            .map(|s| {
                format!(
                    "{}.{}.{}",
                    s.kind,
                    if s.version.is_empty() {
                        "[noVer]"
                    } else {
                        &s.version
                    },
                    if s.group.is_empty() {
                        "[noGrp]"
                    } else {
                        &s.group
                    }
                )
            })
            .collect();
        return Err(format!(
            "resource with name {} does not match a config with the following GVK [{}]",
            replica.name,
            kinds.join(" ")
        ));
    }
    Ok(())
}

/// An `images` entry: every `containers`/`initContainers` image anywhere (with `legacy`),
/// and the field specs.
pub(crate) fn image_with(
    acc: &mut Accumulated,
    image: &Image,
    specs: &[FieldSpec],
    legacy: bool,
) -> std::result::Result<(), String> {
    let pattern = Regex::new(&format!(
        "^{}(:[a-zA-Z0-9_.{{}}-]*)?(@[a-zA-Z][a-zA-Z0-9]*:[a-zA-Z0-9_.{{}}-]*)?$",
        image.name
    ))
    .map_err(|e| format!("image name {:?} does not make a pattern: {e}", image.name))?;
    let mut rewrite = |value: &mut Value| {
        if let Value::String(current) = value
            && pattern.is_match(current)
        {
            *current = rewrite_image(current, image);
        }
    };
    for resource in &mut acc.resources {
        let id = resource.id();
        if id.kind == "CustomResourceDefinition" {
            continue;
        }
        if legacy {
            containers_anywhere(&mut resource.object, &mut rewrite);
        }
        apply_specs(&mut resource.object, specs, &mut |_, value| {
            rewrite(value);
            Ok::<(), String>(())
        })?;
    }
    Ok(())
}

/// Calls `rewrite` on the `image` of every item of every `containers` or `initContainers` list.
fn containers_anywhere(value: &mut Value, rewrite: &mut dyn FnMut(&mut Value)) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if (key == "containers" || key == "initContainers")
                    && let Value::Array(items) = child
                {
                    for item in items.iter_mut() {
                        if let Some(image) = item.get_mut("image") {
                            rewrite(image);
                        }
                    }
                }
                containers_anywhere(child, rewrite);
            }
        }
        Value::Array(items) => {
            for item in items {
                containers_anywhere(item, rewrite);
            }
        }
        _ => {}
    }
}

/// `current` rewritten by `image`.
fn rewrite_image(current: &str, image: &Image) -> String {
    let (name, tag, digest) = split_image(current);
    let name = image
        .new_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(name);
    let new_tag = image.new_tag.as_deref().filter(|t| !t.is_empty());
    let new_digest = image.digest.as_deref().filter(|d| !d.is_empty());
    let suffix = image.tag_suffix.as_deref().filter(|s| !s.is_empty());
    let (tag, digest): (Option<String>, Option<&str>) = match (new_tag, new_digest, suffix) {
        (Some(t), Some(d), _) => (Some(t.to_owned()), Some(d)),
        (Some(t), None, _) => (Some(t.to_owned()), None),
        (None, Some(d), _) => (None, Some(d)),
        (None, None, Some(s)) => (Some(format!("{}{s}", tag.unwrap_or_default())), None),
        (None, None, None) => (tag.map(str::to_owned), digest),
    };
    let mut out = name.to_owned();
    if let Some(tag) = tag {
        out.push(':');
        out.push_str(&tag);
    }
    if let Some(digest) = digest {
        out.push('@');
        out.push_str(digest);
    }
    out
}

/// `registry:5000/app:1.0@sha256:…` → (`registry:5000/app`, `1.0`, `sha256:…`).
fn split_image(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let search_from = match image.find('/') {
        Some(i) if i > 0 => i,
        _ => 0,
    };
    let rest = &image[search_from..];
    let colon = rest.find(':').map(|i| i + search_from);
    let at = rest.find('@').map(|i| i + search_from);
    match (colon, at) {
        (Some(c), Some(a)) if c < a => (&image[..c], Some(&image[c + 1..a]), Some(&image[a + 1..])),
        (_, Some(a)) => (&image[..a], None, Some(&image[a + 1..])),
        (Some(c), None) => (&image[..c], Some(&image[c + 1..]), None),
        (None, None) => (image, None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_split_with_registry_ports() {
        assert_eq!(split_image("nginx"), ("nginx", None, None));
        assert_eq!(split_image("nginx:1.2"), ("nginx", Some("1.2"), None));
        assert_eq!(
            split_image("reg:5000/app:1@sha256:ab"),
            ("reg:5000/app", Some("1"), Some("sha256:ab"))
        );
        assert_eq!(split_image("reg:5000/app"), ("reg:5000/app", None, None));
        assert_eq!(
            split_image("app@sha256:ab"),
            ("app", None, Some("sha256:ab"))
        );
    }

    #[test]
    fn kustomize_ids_read_as_in_its_messages() {
        let id = ResId {
            group: "apps".into(),
            version: "v1".into(),
            kind: "Deployment".into(),
            namespace: String::new(),
            name: "foo".into(),
        };
        assert_eq!(go_id(&id), "Deployment.v1.apps/foo.[noNs]");
    }
}
