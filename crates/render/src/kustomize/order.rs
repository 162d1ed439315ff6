//! The order `kustomize build` prints resources in by default ("legacy" order).

use converge_diff::{LEGACY_ORDER_FIRST, LEGACY_ORDER_LAST};

use super::resource::ResId;

/// The legacy order, optionally with custom first and last kinds (`legacySortOptions`).
#[derive(Debug, Clone)]
pub(crate) struct LegacyOrder {
    first: Vec<String>,
    last: Vec<String>,
}

impl Default for LegacyOrder {
    fn default() -> Self {
        LegacyOrder {
            first: LEGACY_ORDER_FIRST.iter().map(|s| (*s).to_owned()).collect(),
            last: LEGACY_ORDER_LAST.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

impl LegacyOrder {
    pub(crate) fn custom(first: Vec<String>, last: Vec<String>) -> LegacyOrder {
        LegacyOrder { first, last }
    }

    fn rank(&self, kind: &str) -> i64 {
        if let Some(i) = self.first.iter().position(|k| k == kind) {
            return i as i64 - self.first.len() as i64;
        }
        if let Some(i) = self.last.iter().position(|k| k == kind) {
            return 1 + i as i64;
        }
        0
    }

    /// The key `id` sorts by in legacy order: the kind's rank, then group, version and kind,
    /// then namespace and name (each missing part replaced by a placeholder, as kustomize
    /// does, so that it sorts after the given ones).
    pub(crate) fn key(&self, id: &ResId) -> (i64, String, String) {
        let gvk = format!(
            "{}_{}_{}",
            or(&id.group, "~G"),
            or(&id.version, "~V"),
            or(&id.kind, "~K")
        );
        let rest = format!("{}|{}", or(&id.namespace, "~X"), or(&id.name, "~N"));
        (self.rank(&id.kind), gvk, rest)
    }
}

fn or<'a>(value: &'a str, placeholder: &'a str) -> &'a str {
    if value.is_empty() { placeholder } else { value }
}
