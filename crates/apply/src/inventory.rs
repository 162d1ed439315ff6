//! The inventory of a sync, kept in the cluster as an ApplySet (KEP-3659): a parent Secret
//! labelled with the set's id and annotated with the group-kinds it contains, and each member
//! labelled `applyset.kubernetes.io/part-of: <id>`. kubectl (`--applyset`) and other
//! ApplySet-aware tools read the same inventory.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

/// The label on the parent: the set's id.
pub const APPLYSET_ID: &str = "applyset.kubernetes.io/id";
/// The label on every member: the id of the set it belongs to.
pub const APPLYSET_PART_OF: &str = "applyset.kubernetes.io/part-of";
/// The annotation on the parent: the tool that manages the set.
pub const APPLYSET_TOOLING: &str = "applyset.kubernetes.io/tooling";
/// The annotation on the parent: the group-kinds of its members (`Deployment.apps,Service`).
pub const APPLYSET_CONTAINS: &str = "applyset.kubernetes.io/contains-group-kinds";
/// An annotation that keeps an object from ever being pruned (`converge.dev/prune: disabled`).
pub const PRUNE_ANNOTATION: &str = "converge.dev/prune";

/// Where a sync keeps its inventory: the parent Secret's name and namespace.
///
/// ```
/// use converge_apply::Inventory;
///
/// let inventory = Inventory::new("prod", "converge-web");
/// // As kubectl computes it: base64url(sha256("<name>.<namespace>.Secret.")).
/// assert!(inventory.id().starts_with("applyset-"));
/// assert!(inventory.id().ends_with("-v1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Inventory {
    /// The parent's namespace.
    pub namespace: String,
    /// The parent's name.
    pub name: String,
}

impl Inventory {
    /// The inventory kept in the Secret `name` of `namespace`.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Inventory {
        Inventory {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The set's id, as KEP-3659 derives it from the parent:
    /// `applyset-<base64url(sha256(<name>.<namespace>.<kind>.<group>))>-v1`.
    pub fn id(&self) -> String {
        let digest = Sha256::digest(format!("{}.{}.Secret.", self.name, self.namespace));
        format!("applyset-{}-v1", base64url(&digest))
    }
}

/// Unpadded URL-safe base64.
fn base64url(bytes: &[u8]) -> String {
    converge_core::base64(bytes)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

/// A group-kind as the ApplySet annotation writes it: `Deployment.apps`, `Service`.
pub(crate) fn group_kind(group: &str, kind: &str) -> String {
    if group.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}.{group}")
    }
}

/// The group-kinds an annotation lists.
pub(crate) fn parse_group_kinds(annotation: &str) -> BTreeSet<String> {
    annotation
        .split(',')
        .map(str::trim)
        .filter(|gk| !gk.is_empty())
        .map(str::to_owned)
        .collect()
}

/// (group, kind) of a group-kind.
pub(crate) fn split_group_kind(gk: &str) -> (&str, &str) {
    match gk.split_once('.') {
        Some((kind, group)) => (group, kind),
        None => ("", gk),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_kubectls() {
        // kubectl apply --applyset=secret/web -n prod prints this id for the same parent.
        let id = Inventory::new("prod", "web").id();
        let digest = Sha256::digest("web.prod.Secret.");
        assert_eq!(id, format!("applyset-{}-v1", base64url(&digest)));
        assert!(!id.contains(['+', '/', '=']));
        assert_eq!(id.len(), "applyset-".len() + 43 + "-v1".len());
    }

    #[test]
    fn group_kinds_round_trip() {
        let kinds = parse_group_kinds("Deployment.apps, Service,,Widget.example.com");
        assert_eq!(
            kinds
                .iter()
                .map(|gk| split_group_kind(gk))
                .collect::<Vec<_>>(),
            [
                ("apps", "Deployment"),
                ("", "Service"),
                ("example.com", "Widget")
            ]
        );
        assert_eq!(group_kind("apps", "Deployment"), "Deployment.apps");
    }
}
