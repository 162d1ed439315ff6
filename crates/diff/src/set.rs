//! Matching two sets of manifests by identity.

use std::fmt;

use converge_core::{Manifest, ObjectRef, index_by_key};
use serde_json::{Map, Value, json};

use crate::{Error, TextDiffOptions, unified_diff};

/// What happened to one object between the base and the head set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Action {
    /// Only in the head set.
    Added,
    /// In both, with different content.
    Changed,
    /// Only in the base set.
    Removed,
    /// In both, with equal content.
    Unchanged,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Added => "added",
            Action::Changed => "changed",
            Action::Removed => "removed",
            Action::Unchanged => "unchanged",
        })
    }
}

/// One object of a [`SetDiff`]: its identity, what happened to it, and both sides.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Entry {
    /// The object: as the head set has it, or as the base set had it when removed.
    pub id: ObjectRef,
    /// What happened to it.
    pub action: Action,
    /// The object in the base set (`None` when added).
    pub base: Option<Manifest>,
    /// The object in the head set (`None` when removed).
    pub head: Option<Manifest>,
}

/// The comparison of two sets of manifests, one [`Entry`] per object, sorted by identity.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct SetDiff {
    /// Every object of either set, sorted by group, kind, namespace and name.
    pub entries: Vec<Entry>,
}

impl SetDiff {
    /// How many objects were added, changed, removed and left unchanged.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for entry in &self.entries {
            match entry.action {
                Action::Added => summary.added += 1,
                Action::Changed => summary.changed += 1,
                Action::Removed => summary.removed += 1,
                Action::Unchanged => summary.unchanged += 1,
            }
        }
        summary
    }

    /// True when nothing was added, changed or removed.
    pub fn is_empty(&self) -> bool {
        self.entries.iter().all(|e| e.action == Action::Unchanged)
    }

    /// The entries that are not [`Action::Unchanged`].
    pub fn differences(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| e.action != Action::Unchanged)
    }

    /// Every difference as a unified diff, one object after another, as `kubectl diff` prints.
    ///
    /// # Errors
    /// [`Error::Encode`] if an object cannot be written as YAML.
    pub fn to_text(&self, options: &TextDiffOptions) -> Result<String, Error> {
        self.differences()
            .map(|entry| unified_diff(entry, options))
            .collect()
    }

    /// The comparison for machines: a summary and, per object that differs, its action and
    /// the JSON Patch from base to head (Secret values masked as `***`).
    ///
    /// ```
    /// use converge_core::parse_manifests;
    /// use converge_diff::compare;
    ///
    /// let base = parse_manifests("a.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: a}\n")?;
    /// let head = parse_manifests("b.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: b}\n")?;
    /// let json = compare(base, head)?.to_json();
    /// assert_eq!(json["summary"]["changed"], 1);
    /// assert_eq!(json["entries"][0]["patch"][0]["path"], "/data/k");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_json(&self) -> Value {
        let summary = self.summary();
        let entries: Vec<Value> = self
            .differences()
            .map(|e| {
                let mut entry = Map::new();
                entry.insert("object".to_owned(), Value::from(e.id.to_string()));
                entry.insert("action".to_owned(), Value::from(e.action.to_string()));
                if let (Some(base), Some(head)) = (&e.base, &e.head) {
                    let (mut old, mut new) = (base.object().clone(), head.object().clone());
                    crate::mask_secret_values(Some(&mut old), Some(&mut new));
                    entry.insert(
                        "patch".to_owned(),
                        crate::json_patch::diff(&old, &new).to_value(),
                    );
                }
                Value::Object(entry)
            })
            .collect();
        json!({
            "summary": {
                "added": summary.added,
                "changed": summary.changed,
                "removed": summary.removed,
                "unchanged": summary.unchanged,
            },
            "entries": entries,
        })
    }

    /// The comparison for a pull-request comment: the summary, a table of what differs, and a
    /// collapsed unified diff per object (Secret values masked).
    ///
    /// # Errors
    /// [`Error::Encode`] if an object cannot be written as YAML.
    pub fn to_markdown(&self, options: &TextDiffOptions) -> Result<String, Error> {
        let mut out = format!("**Diff:** {}\n", self.summary());
        if self.is_empty() {
            out.push_str("\nNo changes.\n");
            return Ok(out);
        }
        out.push_str("\n| change | object |\n|---|---|\n");
        for e in self.differences() {
            out.push_str(&format!("| {} | `{}` |\n", e.action, e.id));
        }
        for e in self.differences() {
            out.push_str(&format!(
                "\n<details><summary>{} {}</summary>\n\n```diff\n{}```\n\n</details>\n",
                e.action,
                e.id,
                unified_diff(e, options)?
            ));
        }
        Ok(out)
    }
}

/// Counts of a [`SetDiff`], shown as `1 added, 2 changed, 0 removed, 12 unchanged`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Summary {
    /// Objects only in the head set.
    pub added: usize,
    /// Objects in both, changed.
    pub changed: usize,
    /// Objects only in the base set.
    pub removed: usize,
    /// Objects in both, equal.
    pub unchanged: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} added, {} changed, {} removed, {} unchanged",
            self.added, self.changed, self.removed, self.unchanged
        )
    }
}

/// Matches `base` and `head` by object identity (group, kind, namespace, name: the version may
/// differ) and classifies every object.
///
/// Objects are equal when their values are equal; the order of keys in a mapping does not
/// matter, the order of list items does.
///
/// ```
/// use converge_core::{Manifest, Origin};
/// use converge_diff::{compare, Action};
/// use serde_json::json;
///
/// let cm = |name: &str, value: &str| Manifest::new(
///     json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": value}}),
///     Origin::default(),
/// );
/// let base = vec![cm("a", "1")?, cm("b", "1")?, cm("c", "1")?];
/// let head = vec![cm("b", "2")?, cm("c", "1")?, cm("d", "1")?];
/// let diff = compare(base, head)?;
/// let actions: Vec<_> = diff.entries.iter().map(|e| (e.id.name.as_str(), e.action)).collect();
/// assert_eq!(actions, [("a", Action::Removed), ("b", Action::Changed), ("c", Action::Unchanged), ("d", Action::Added)]);
/// assert_eq!(diff.summary().to_string(), "1 added, 1 changed, 1 removed, 1 unchanged");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::Duplicate`] when either set defines one object twice.
pub fn compare(base: Vec<Manifest>, head: Vec<Manifest>) -> Result<SetDiff, Error> {
    index_by_key(&base).map_err(|source| Error::Duplicate {
        side: "base".to_owned(),
        source,
    })?;
    let head_index = index_by_key(&head).map_err(|source| Error::Duplicate {
        side: "head".to_owned(),
        source,
    })?;

    let mut heads: Vec<Option<Manifest>> = head.into_iter().map(Some).collect();
    let mut entries = Vec::with_capacity(base.len().max(heads.len()));
    for old in base {
        let new = head_index
            .get(&old.id().key())
            .and_then(|&i| heads[i].take());
        entries.push(match new {
            None => Entry {
                id: old.id().clone(),
                action: Action::Removed,
                base: Some(old),
                head: None,
            },
            Some(new) => Entry {
                id: new.id().clone(),
                action: if old.object() == new.object() {
                    Action::Unchanged
                } else {
                    Action::Changed
                },
                base: Some(old),
                head: Some(new),
            },
        });
    }
    entries.extend(heads.into_iter().flatten().map(|new| Entry {
        id: new.id().clone(),
        action: Action::Added,
        base: None,
        head: Some(new),
    }));
    entries.sort_by_cached_key(|e| e.id.key());
    Ok(SetDiff { entries })
}
