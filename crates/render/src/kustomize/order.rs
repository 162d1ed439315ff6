//! The order `kustomize build` prints resources in by default ("legacy" order).

use std::cmp::Ordering;

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

    /// Compares two resource ids in legacy order.
    pub(crate) fn compare(&self, a: &ResId, b: &ResId) -> Ordering {
        let gvk = |id: &ResId| {
            format!(
                "{}_{}_{}",
                or(&id.group, "~G"),
                or(&id.version, "~V"),
                or(&id.kind, "~K")
            )
        };
        let (ga, gb) = (gvk(a), gvk(b));
        if ga != gb {
            let (ra, rb) = (self.rank(&a.kind), self.rank(&b.kind));
            if ra != rb {
                return ra.cmp(&rb);
            }
            return ga.cmp(&gb);
        }
        let rest = |id: &ResId| {
            format!(
                "{}|{}|{}",
                gvk(id),
                or(&id.namespace, "~X"),
                or(&id.name, "~N")
            )
        };
        rest(a).cmp(&rest(b))
    }
}

fn or<'a>(value: &'a str, placeholder: &'a str) -> &'a str {
    if value.is_empty() { placeholder } else { value }
}
