//! Name references: after prefixes, suffixes and hashes renamed resources, the fields that
//! named them (a Pod's ConfigMap volume, a RoleBinding's roleRef, …) follow.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::Value;

use super::config::{Config, NameReference};
use super::fieldspec::{FieldSpec, walk};
use super::resource::{ResId, Resource, effective_namespace, is_cluster_scoped};

/// What name fixing needs to know of each resource, taken before any field changes:
/// moved out of the resources being fixed (and put back after), borrowed from ghosts.
struct Known<'a> {
    current: Cow<'a, ResId>,
    previous: Cow<'a, [ResId]>,
    prefixes: Cow<'a, [String]>,
    suffixes: Cow<'a, [String]>,
    cluster: bool,
}

impl<'a> Known<'a> {
    fn taken(resource: &mut Resource, config: &Config) -> Known<'a> {
        let current = resource.id();
        Known {
            cluster: cluster_scoped(&current, config),
            current: Cow::Owned(current),
            previous: Cow::Owned(std::mem::take(&mut resource.previous)),
            prefixes: Cow::Owned(std::mem::take(&mut resource.prefixes)),
            suffixes: Cow::Owned(std::mem::take(&mut resource.suffixes)),
        }
    }

    fn borrowed(current: &'a ResId, resource: &'a Resource, config: &Config) -> Known<'a> {
        Known {
            cluster: cluster_scoped(current, config),
            current: Cow::Borrowed(current),
            previous: Cow::Borrowed(&resource.previous),
            prefixes: Cow::Borrowed(&resource.prefixes),
            suffixes: Cow::Borrowed(&resource.suffixes),
        }
    }

    /// The id the resource had when it was read or generated.
    fn original(&self) -> ResId {
        self.previous
            .first()
            .cloned()
            .unwrap_or_else(|| self.current.clone().into_owned())
    }

    fn namespace(&self) -> &str {
        effective_namespace(&self.current.namespace, self.cluster)
    }
}

fn cluster_scoped(id: &ResId, config: &Config) -> bool {
    is_cluster_scoped(&id.group, &id.kind)
        || config
            .cluster_scoped_kinds
            .iter()
            .any(|(g, k)| *g == id.group && *k == id.kind)
}

/// Points every configured reference at its referral's current name. `ghosts` are further
/// resources to refer to, whose own fields are not fixed.
pub(crate) fn fix(
    resources: &mut [Resource],
    ghosts: &[(&ResId, &Resource)],
    config: &Config,
) -> Result<(), String> {
    let mut known: Vec<Known> = resources
        .iter_mut()
        .map(|r| Known::taken(r, config))
        .collect();
    known.extend(ghosts.iter().map(|(id, r)| Known::borrowed(id, r, config)));
    let result = fix_with(resources, &known, config);
    // What was taken goes back.
    for (resource, k) in resources.iter_mut().zip(known) {
        resource.previous = k.previous.into_owned();
        resource.prefixes = k.prefixes.into_owned();
        resource.suffixes = k.suffixes.into_owned();
    }
    result
}

fn fix_with(
    resources: &mut [Resource],
    known: &[Known<'_>],
    config: &Config,
) -> Result<(), String> {
    // Resources by every name they had: a reference is looked up, not searched for.
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, k) in known.iter().enumerate() {
        let mut names: Vec<&str> = k.previous.iter().map(|p| p.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            by_name.entry(name).or_default().push(i);
        }
    }
    for r in 0..resources.len() {
        let referrer_org = known[r].original();
        let referrer_current = known[r].current.clone();
        // A RoleBinding may also name what lives in its ServiceAccount subjects' namespaces.
        let mut subject_namespaces = Vec::new();
        if referrer_current.kind == "RoleBinding"
            && let Some(Value::Array(subjects)) = resources[r].object.get("subjects")
        {
            for subject in subjects {
                if subject.get("kind").and_then(Value::as_str) != Some("ServiceAccount") {
                    continue;
                }
                match subject.get("namespace") {
                    None => {}
                    Some(Value::String(ns)) if !ns.is_empty() => {
                        subject_namespaces.push(ns.clone())
                    }
                    Some(_) => {
                        return Err(format!(
                            "Invalid Input: namespace is blank for resource {referrer_current}"
                        ));
                    }
                }
            }
        }
        for reference in &config.name_reference {
            for spec in &reference.referrers {
                if !spec_selects(spec, &referrer_org) {
                    continue;
                }
                let context = Context {
                    known,
                    by_name: &by_name,
                    subject_namespaces: &subject_namespaces,
                    reference,
                    referrer: r,
                    roleref: roleref(&resources[r].object, spec),
                };
                let object = &mut resources[r].object;
                walk(object, &spec.path, false, &mut |value| {
                    context.fix_value(value)
                })
                .map_err(|e| {
                    format!(
                        "updating name reference in '{}' field of '{}': {e}",
                        spec.path_string(),
                        referrer_current
                    )
                })?;
            }
        }
    }
    Ok(())
}

/// Whether `spec`'s kind filter selects `id` (the referrer's original id).
fn spec_selects(spec: &FieldSpec, id: &ResId) -> bool {
    (spec.group.is_empty() || spec.group == id.group)
        && (spec.version.is_empty() || spec.version == id.version)
        && (spec.kind.is_empty() || spec.kind == id.kind)
}

/// `roleRef.apiGroup` and `roleRef.kind` when the path is `roleRef/name`.
fn roleref(object: &Value, spec: &FieldSpec) -> Option<(String, String)> {
    if spec.path != ["roleRef", "name"] {
        return None;
    }
    let role_ref = object.get("roleRef")?;
    let group = role_ref.get("apiGroup")?.as_str()?.to_owned();
    let kind = role_ref.get("kind")?.as_str()?.to_owned();
    Some((group, kind))
}

struct Context<'a> {
    known: &'a [Known<'a>],
    by_name: &'a HashMap<&'a str, Vec<usize>>,
    subject_namespaces: &'a [String],
    reference: &'a NameReference,
    referrer: usize,
    roleref: Option<(String, String)>,
}

impl Context<'_> {
    /// Whether resource `i` is one the referrer may name: cluster-scoped, in its namespace,
    /// or in one of its ServiceAccount subjects' namespaces.
    fn reachable(&self, i: usize) -> bool {
        let referrer = &self.known[self.referrer];
        let k = &self.known[i];
        referrer.cluster
            || k.cluster
            || k.namespace() == referrer.namespace()
            || self.subject_namespaces.contains(&k.current.namespace)
    }

    fn fix_value(&self, value: &mut Value) -> Result<(), String> {
        match value {
            Value::String(old) => {
                if let Some(i) = self.select(old, &|_| true, false)? {
                    let name = &self.known[i].current.name;
                    if name != old {
                        *old = name.clone();
                    }
                }
                Ok(())
            }
            Value::Object(_) => self.fix_mapping(value),
            _ => Ok(()),
        }
    }

    fn fix_mapping(&self, value: &mut Value) -> Result<(), String> {
        let Some(old) = value.get("name").and_then(Value::as_str).map(str::to_owned) else {
            return Err("path config error; no 'name' field in node".to_owned());
        };
        let namespace = value
            .get("namespace")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let selected = match &namespace {
            Some(namespace) => {
                // Those originally in that namespace, else those in it now.
                let original = |i: usize| {
                    let k = &self.known[i];
                    let org = k.previous.first().unwrap_or(&k.current);
                    effective_namespace(&org.namespace, k.cluster) == namespace.as_str()
                };
                let now = |i: usize| self.known[i].current.namespace == *namespace;
                let any_original = self
                    .by_name
                    .get(old.as_str())
                    .is_some_and(|c| c.iter().any(|&i| self.reachable(i) && original(i)));
                if any_original {
                    self.select(&old, &original, true)?
                } else {
                    self.select(&old, &now, true)?
                }
            }
            None => self.select(&old, &|_| true, true)?,
        };
        let Some(i) = selected else {
            return Ok(());
        };
        let current = &self.known[i].current;
        if current.name == old && current.namespace.is_empty() {
            return Ok(());
        }
        if let Value::Object(map) = value {
            map.insert("name".to_owned(), Value::String(current.name.clone()));
            if !current.namespace.is_empty() {
                map.insert(
                    "namespace".to_owned(),
                    Value::String(current.namespace.clone()),
                );
            }
        }
        Ok(())
    }

    /// With `by_namespace`, candidates count as the same only with the same namespace too.
    fn select(
        &self,
        old: &str,
        keep: &dyn Fn(usize) -> bool,
        by_namespace: bool,
    ) -> Result<Option<usize>, String> {
        let target = self.reference;
        let selects = |id: &ResId| {
            (target.group.is_empty() || target.group == id.group)
                && (target.version.is_empty() || target.version == id.version)
                && (target.kind.is_empty() || target.kind == id.kind)
        };
        let referrer = &self.known[self.referrer];
        let Some(named) = self.by_name.get(old) else {
            return Ok(None);
        };
        let mut left: Vec<usize> = named
            .iter()
            .copied()
            .filter(|&i| self.reachable(i) && keep(i))
            .filter(|&i| {
                let k = &self.known[i];
                k.previous.iter().any(|p| selects(&with_gv(p, &k.current)))
            })
            .collect();
        if let Some((group, kind)) = &self.roleref {
            left.retain(|&i| {
                self.known[i]
                    .previous
                    .iter()
                    .any(|p| p.group == *group && p.kind == *kind)
            });
        }
        if !referrer.cluster {
            left.retain(|&i| {
                let k = &self.known[i];
                k.cluster
                    || k.current.kind == "ServiceAccount"
                    || k.namespace() == referrer.namespace()
            });
        }
        if left.len() == 1 {
            return Ok(left.first().copied());
        }
        // Candidates named at the same levels as the referrer: the same prefixes and
        // suffixes from the outside in; failing that, those whose names got nothing the
        // referrer's did not.
        let strict: Vec<usize> = left
            .iter()
            .copied()
            .filter(|&i| {
                let k = &self.known[i];
                same_ending(&k.prefixes, &referrer.prefixes)
                    && same_ending(&k.suffixes, &referrer.suffixes)
            })
            .collect();
        if strict.is_empty() {
            left.retain(|&i| {
                let k = &self.known[i];
                outer_end_of(&k.prefixes, &referrer.prefixes)
                    && outer_end_of(&k.suffixes, &referrer.suffixes)
            });
        } else {
            left = strict;
        }
        match left.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            [first, rest @ ..] => {
                let first_id = &self.known[*first].current;
                let same = |i: usize| {
                    let id = &self.known[i].current;
                    id.name == first_id.name
                        && (!by_namespace || id.namespace == first_id.namespace)
                };
                if rest.iter().all(|&i| same(i)) {
                    return Ok(Some(*first));
                }
                Err(format!(
                    " found multiple possible referrals: {}",
                    left.iter()
                        .map(|&i| super::transform::go_id(&self.known[i].current))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
    }
}

/// A previous id with the current group and version, as kustomize records them.
fn with_gv(previous: &ResId, current: &ResId) -> ResId {
    ResId {
        group: current.group.clone(),
        version: current.version.clone(),
        ..previous.clone()
    }
}

/// Whether two lists of prefixes (or suffixes) end the same way: equal over the shorter
/// length from the end, and both empty or both not.
fn same_ending(a: &[String], b: &[String]) -> bool {
    a.is_empty() == b.is_empty() && a.iter().rev().zip(b.iter().rev()).all(|(x, y)| x == y)
}

/// Whether a candidate's prefixes (or suffixes) are the outer end of the referrer's: the
/// candidate got none the referrer did not also get, level for level from the outside.
fn outer_end_of(candidate: &[String], referrer: &[String]) -> bool {
    candidate.len() <= referrer.len()
        && candidate
            .iter()
            .rev()
            .zip(referrer.iter().rev())
            .all(|(x, y)| x == y)
}
