//! Preview environments: one per branch matching a pattern (`preview/*`), each in a namespace
//! of its own named after the branch.
//!
//! ```
//! use converge::preview::{matches, namespace};
//!
//! assert!(matches("preview/*", "preview/feature-1234"));
//! assert!(!matches("preview/*", "main"));
//! assert_eq!(namespace("preview/feature-1234"), "preview-feature-1234");
//! ```

use sha2::{Digest, Sha256};

/// Whether `branch` matches `pattern`: `*` stands for any run of characters but `/`, `**` for
/// any run at all (`preview/*` takes `preview/x` but not `preview/x/y`; `preview/**` both).
pub fn matches(pattern: &str, branch: &str) -> bool {
    fn go(p: &[u8], b: &[u8]) -> bool {
        match p {
            [] => b.is_empty(),
            [b'*', b'*', rest @ ..] => (0..=b.len()).any(|i| go(rest, &b[i..])),
            [b'*', rest @ ..] => (0..=b.len())
                .take_while(|&i| i == 0 || b[i - 1] != b'/')
                .any(|i| go(rest, &b[i..])),
            [c, rest @ ..] => b.first() == Some(c) && go(rest, &b[1..]),
        }
    }
    go(pattern.as_bytes(), branch.as_bytes())
}

/// The longest a namespace name may be (a DNS label).
const MAX: usize = 63;

/// The namespace of a branch's environment: a valid DNS label (lowercase letters, digits and
/// `-`, at most 63, starting and ending with a letter or digit).
///
/// A branch keeps its name, with its `/` as `-`, only when nothing else could come out the
/// same: lowercase letters, digits and `-` with one `/` whose prefix has no `-`
/// (`preview/feature-1234`), or with neither `/` nor `-` (`main`). Any other branch —
/// `Feature_1`, `preview/a/b` (which `preview/a-b` would meet), `release-1` (which
/// `release/1` would meet), a name too long — gets a suffix from a hash of the branch, so no
/// two branches share a namespace (short of a collision of the 24-bit hash).
///
/// ```
/// use converge::preview::namespace;
///
/// assert_eq!(namespace("preview/Feature_X"), "preview-feature-x-4f823c");
/// assert_eq!(namespace("preview/a-b"), "preview-a-b");
/// assert_ne!(namespace("preview/a/b"), "preview-a-b");
/// let long = format!("preview/{}", "a".repeat(80));
/// assert_eq!(namespace(&long).len(), 63);
/// assert_ne!(namespace(&long), namespace(&format!("{long}b")));
/// ```
pub fn namespace(branch: &str) -> String {
    let mut name = String::with_capacity(branch.len());
    for c in branch.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && name.ends_with('-')) {
            name.push(c);
        }
    }
    let name = name.trim_matches('-').to_owned();
    // Exact when nothing had to change but one `/` whose place the name still tells (the first
    // `-`), and the name fits; otherwise the branch's hash tells it apart.
    let unambiguous = match branch.split_once('/') {
        None => !branch.contains('-'),
        Some((prefix, rest)) => !prefix.contains('-') && !rest.contains('/'),
    };
    let lossless = unambiguous
        && name.len() <= MAX
        && branch.replace('/', "-") == name
        && branch
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'/');
    if lossless && !name.is_empty() {
        return name;
    }
    let digest = Sha256::digest(branch.as_bytes());
    let suffix: String = digest.iter().take(3).map(|b| format!("{b:02x}")).collect();
    let keep = MAX - suffix.len() - 1;
    let mut short: String = name.to_ascii_lowercase().chars().take(keep).collect();
    while short.ends_with('-') {
        short.pop();
    }
    if short.is_empty() {
        format!("branch-{suffix}")
    } else {
        format!("{short}-{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(matches("preview/*", "preview/a"));
        assert!(!matches("preview/*", "preview/a/b"));
        assert!(matches("preview/**", "preview/a/b"));
        assert!(matches("*", "main"));
        assert!(!matches("release-*", "main"));
        assert!(matches("release-*", "release-1.2"));
    }

    #[test]
    fn names_are_dns_labels_and_never_collide() {
        let branches = [
            "preview/feature-1234",
            "preview/Feature-1234",
            "preview/feature_1234",
            "preview//feature-1234",
            "preview/feature-1234/",
            "-/-",
            "",
            "preview/a/b",
            "preview/a-b",
            "preview-a/b",
            "release-1",
            "release/1",
        ];
        let names: Vec<String> = branches.iter().map(|b| namespace(b)).collect();
        assert_eq!(names[0], "preview-feature-1234");
        for name in &names {
            assert!(!name.is_empty() && name.len() <= 63, "{name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{name}"
            );
            assert!(!name.starts_with('-') && !name.ends_with('-'), "{name}");
        }
        let unique: std::collections::BTreeSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
    }
}
