//! Target selectors of patches and replacements: group, version, kind, name and namespace as
//! anchored regular expressions, and label and annotation selectors.

use converge_core::LabelSelector;
use regex::Regex;

use super::resource::Resource;
use super::types::Selector;

/// A compiled [`Selector`].
#[derive(Debug)]
pub(crate) struct Selection {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Option<LabelSelector>,
    annotations: Option<LabelSelector>,
}

impl Selection {
    pub(crate) fn new(selector: &Selector) -> Result<Selection, String> {
        let anchored = |field: &str, pattern: &Option<String>| -> Result<Option<Regex>, String> {
            match pattern.as_deref() {
                None | Some("") => Ok(None),
                Some(pattern) => Regex::new(&format!("^(?:{pattern})$"))
                    .map(Some)
                    .map_err(|e| {
                        format!("target {field} {pattern:?} is not a regular expression: {e}")
                    }),
            }
        };
        Ok(Selection {
            group: anchored("group", &selector.group)?,
            version: anchored("version", &selector.version)?,
            kind: anchored("kind", &selector.kind)?,
            name: anchored("name", &selector.name)?,
            namespace: anchored("namespace", &selector.namespace)?,
            labels: selector
                .label_selector
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(|s| LabelSelector::parse(s).map_err(|e| e.to_string()))
                .transpose()?,
            annotations: selector
                .annotation_selector
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(|s| LabelSelector::parse(s).map_err(|e| e.to_string()))
                .transpose()?,
        })
    }

    /// Whether `resource` (by its current id, or any earlier name) is selected.
    pub(crate) fn matches(&self, resource: &Resource) -> bool {
        let id = resource.id();
        let fits =
            |re: &Option<Regex>, value: &str| re.as_ref().is_none_or(|re| re.is_match(value));
        let names_fit = self.name.as_ref().is_none_or(|re| {
            re.is_match(&id.name) || resource.previous.iter().any(|p| re.is_match(&p.name))
        });
        fits(&self.group, &id.group)
            && fits(&self.version, &id.version)
            && fits(&self.kind, &id.kind)
            && names_fit
            && fits(&self.namespace, &id.namespace)
            && self
                .labels
                .as_ref()
                .is_none_or(|s| s.matches(&resource.labels()))
            && self
                .annotations
                .as_ref()
                .is_none_or(|s| s.matches(&resource.annotations()))
    }
}
