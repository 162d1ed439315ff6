//! Semantic versions and version ranges, for picking a release tag.
//!
//! Ranges are written as Flux's GitRepository `semver` field takes them (the constraint
//! syntax of the Go Masterminds/semver library): comparators `=`, `!=`, `>`, `<`, `>=`, `<=`,
//! `~` (patch level), `^` (major level, minor below 1.0), wildcards `x`, `X` and `*` (a missing
//! part is one too), hyphen ranges `1.2 - 1.4.5`; comparators joined by commas or spaces must
//! all hold, groups joined by `||` are alternatives. A pre-release version only matches a group
//! that names a pre-release itself (`>=1.2.0-0`).

use std::cmp::Ordering;
use std::fmt;

/// A semantic version (SemVer 2.0), read from a tag as Flux reads them: an optional `v`, and
/// missing minor or patch numbers taken as 0 (`v1.2` is 1.2.0).
///
/// ```
/// use converge_source::semver::Version;
///
/// let v: Version = "v1.2.3-rc.1+build.5".parse()?;
/// assert_eq!((v.major, v.minor, v.patch), (1, 2, 3));
/// assert!(v.is_prerelease());
/// assert!(v < "1.2.3".parse()?);
/// assert!("1.2.3-rc.2".parse::<Version>()? > v);
/// assert_eq!(v.to_string(), "1.2.3-rc.1+build.5");
/// # Ok::<(), converge_source::semver::SemverError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    /// Major version.
    pub major: u64,
    /// Minor version.
    pub minor: u64,
    /// Patch version.
    pub patch: u64,
    /// Pre-release identifiers (`rc.1` is `["rc", "1"]`); empty for a release.
    pub pre: Vec<String>,
    /// Build metadata, ignored when comparing.
    pub build: String,
}

/// Text that is not a version or a range, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a valid {what}: {reason}")]
pub struct SemverError {
    text: String,
    what: &'static str,
    reason: String,
}

impl SemverError {
    fn new(text: &str, what: &'static str, reason: impl Into<String>) -> SemverError {
        SemverError {
            text: text.to_owned(),
            what,
            reason: reason.into(),
        }
    }
}

impl Version {
    /// A release version.
    pub fn new(major: u64, minor: u64, patch: u64) -> Version {
        Version {
            major,
            minor,
            patch,
            pre: Vec::new(),
            build: String::new(),
        }
    }

    /// True for a pre-release (`1.0.0-rc.1`).
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }

    fn triple(&self) -> (u64, u64, u64) {
        (self.major, self.minor, self.patch)
    }
}

impl std::str::FromStr for Version {
    type Err = SemverError;

    fn from_str(text: &str) -> Result<Version, SemverError> {
        let partial = Partial::parse(text, "version")?;
        if partial.starred {
            return Err(SemverError::new(
                text,
                "version",
                "wildcards are for ranges",
            ));
        }
        Ok(partial.floor())
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.triple().cmp(&other.triple()).then_with(|| {
            match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_pre(&self.pre, &other.pre),
            }
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Pre-release precedence (SemVer 2.0 item 11): numeric identifiers by value and below
/// alphanumeric ones, those in ASCII order, a longer list above its prefix.
fn compare_pre(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(i), Ok(j)) => i.cmp(&j),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if order.is_ne() {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre.join("."))?;
        }
        if !self.build.is_empty() {
            write!(f, "+{}", self.build)?;
        }
        Ok(())
    }
}

/// A version as a range writes it: numbers up to the first missing or wildcard part.
#[derive(Debug, Clone)]
struct Partial {
    /// The numbers given, before any wildcard: 0 to 3 of them.
    parts: Vec<u64>,
    /// Whether a part was missing or a wildcard.
    wildcard: bool,
    /// Whether a part was written as `x`, `X` or `*`.
    starred: bool,
    pre: Vec<String>,
    build: String,
}

impl Partial {
    fn parse(text: &str, what: &'static str) -> Result<Partial, SemverError> {
        let err = |reason: &str| SemverError::new(text, what, reason);
        let body = text.trim();
        let body = body.strip_prefix(['v', 'V']).unwrap_or(body);
        if body.is_empty() {
            return Err(err("no version number"));
        }
        let (body, build) = match body.split_once('+') {
            Some((body, build)) => (body, build.to_owned()),
            None => (body, String::new()),
        };
        let (core, pre) = match body.split_once('-') {
            Some((core, pre)) => (core, pre),
            None => (body, ""),
        };
        let pre: Vec<String> = if pre.is_empty() {
            Vec::new()
        } else {
            pre.split('.').map(str::to_owned).collect()
        };
        let identifier =
            |s: &String| !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-');
        if !pre.iter().all(identifier) || body.ends_with('-') {
            return Err(err(
                "pre-release identifiers are ASCII letters, digits and -",
            ));
        }
        if !build.is_empty()
            && !build
                .split('.')
                .all(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'))
        {
            return Err(err("build identifiers are ASCII letters, digits and -"));
        }
        let mut parts = Vec::new();
        let mut wildcard = false;
        let mut starred = false;
        let fields: Vec<&str> = core.split('.').collect();
        if fields.len() > 3 {
            return Err(err("more than three numbers"));
        }
        for field in &fields {
            if matches!(*field, "x" | "X" | "*") {
                wildcard = true;
                starred = true;
                continue;
            }
            if wildcard {
                return Err(err("a number after a wildcard"));
            }
            if field.is_empty() || !field.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err("major, minor and patch are numbers"));
            }
            parts.push(field.parse().map_err(|_| err("a number too large"))?);
        }
        if fields.len() < 3 {
            wildcard = true;
        }
        if wildcard && !pre.is_empty() {
            return Err(err("a pre-release needs major, minor and patch"));
        }
        Ok(Partial {
            parts,
            wildcard,
            starred,
            pre,
            build,
        })
    }

    /// The lowest version this names (missing parts 0).
    fn floor(&self) -> Version {
        let part = |i: usize| self.parts.get(i).copied().unwrap_or(0);
        Version {
            major: part(0),
            minor: part(1),
            patch: part(2),
            pre: self.pre.clone(),
            build: self.build.clone(),
        }
    }

    /// The lowest version above everything this names: `1.2.x` → 1.3.0, `1.x` → 2.0.0; `None`
    /// for `*` (nothing is above it). Only for wildcards.
    fn ceiling(&self) -> Option<Version> {
        match self.parts[..] {
            [] => None,
            [major] => Some(Version::new(major + 1, 0, 0)),
            [major, minor] => Some(Version::new(major, minor + 1, 0)),
            [major, minor, patch] => Some(Version::new(major, minor, patch + 1)),
            _ => None,
        }
    }
}

/// One bound of a comparator.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bound {
    AtLeast(Version),
    Above(Version),
    Below(Version),
    AtMost(Version),
    Not(Version),
    /// Outside `[low, high)`: `!=` on a wildcard.
    Outside(Version, Option<Version>),
}

impl Bound {
    fn holds(&self, v: &Version) -> bool {
        match self {
            Bound::AtLeast(b) => v >= b,
            Bound::Above(b) => v > b,
            Bound::Below(b) => v < b,
            Bound::AtMost(b) => v <= b,
            Bound::Not(b) => v != b,
            Bound::Outside(low, high) => v < low || high.as_ref().is_some_and(|h| v >= h),
        }
    }
}

/// A version range: alternatives (`||`) of comparators that must all hold.
///
/// ```
/// use converge_source::semver::{Range, Version};
///
/// let range: Range = ">=1.2.0 <2.0.0".parse()?;
/// let tags = ["v1.1.0", "v1.4.2", "v1.10.0", "v2.0.0", "v1.11.0-rc.1", "not-a-version"];
/// assert_eq!(range.highest(tags).map(|(tag, _)| tag), Some("v1.10.0"));
/// // A pre-release only when the range names one.
/// let rc: Range = ">=1.11.0-0 <2".parse()?;
/// assert_eq!(rc.highest(tags).map(|(tag, _)| tag), Some("v1.11.0-rc.1"));
/// assert!("^1.4".parse::<Range>()?.matches(&"1.9.9".parse()?));
/// assert!(!"~1.4".parse::<Range>()?.matches(&"1.5.0".parse::<Version>()?));
/// # Ok::<(), converge_source::semver::SemverError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    text: String,
    groups: Vec<Group>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    bounds: Vec<Bound>,
    /// The group names a pre-release, so pre-releases may match it.
    allows_pre: bool,
}

impl std::str::FromStr for Range {
    type Err = SemverError;

    fn from_str(text: &str) -> Result<Range, SemverError> {
        let err = |reason: &str| SemverError::new(text, "range", reason);
        // A bad version in a range is named within the whole range.
        let in_range = |e: SemverError| err(&format!("{}: {}", e.text.trim(), e.reason));
        let mut groups = Vec::new();
        for alternative in text.split("||") {
            let tokens = tokenize(alternative);
            if tokens.is_empty() {
                return Err(err("an empty alternative"));
            }
            let mut bounds = Vec::new();
            let mut allows_pre = false;
            let mut i = 0;
            while i < tokens.len() {
                // A hyphen range: `low - high`.
                if tokens.get(i + 1).is_some_and(|t| t == "-") {
                    let high = tokens
                        .get(i + 2)
                        .ok_or_else(|| err("a hyphen range needs two ends"))?;
                    let low = Partial::parse(&tokens[i], "range").map_err(in_range)?;
                    let high = Partial::parse(high, "range").map_err(in_range)?;
                    allows_pre |= !low.pre.is_empty() || !high.pre.is_empty();
                    bounds.push(Bound::AtLeast(low.floor()));
                    bounds.push(match (high.wildcard, high.ceiling()) {
                        (true, Some(ceiling)) => Bound::Below(ceiling),
                        (true, None) => Bound::AtLeast(Version::new(0, 0, 0)),
                        (false, _) => Bound::AtMost(high.floor()),
                    });
                    i += 3;
                    continue;
                }
                let (op, version) = split_operator(&tokens[i]);
                let partial = Partial::parse(version, "range").map_err(in_range)?;
                allows_pre |= !partial.pre.is_empty();
                comparator(op, &partial, &mut bounds).map_err(|reason| err(&reason))?;
                i += 1;
            }
            groups.push(Group { bounds, allows_pre });
        }
        Ok(Range {
            text: text.trim().to_owned(),
            groups,
        })
    }
}

/// Splits a group into comparators: commas and spaces separate them, and an operator written
/// apart from its version (`>= 1.2`) is joined to it.
fn tokenize(group: &str) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::new();
    let mut pending_operator: Option<String> = None;
    for word in group.split([',', ' ', '\t']).filter(|w| !w.is_empty()) {
        if let Some(op) = pending_operator.take() {
            tokens.push(format!("{op}{word}"));
        } else if word.bytes().all(|c| b"=!<>~^".contains(&c)) {
            pending_operator = Some(word.to_owned());
        } else {
            tokens.push(word.to_owned());
        }
    }
    if let Some(op) = pending_operator {
        tokens.push(op);
    }
    tokens
}

fn split_operator(token: &str) -> (&str, &str) {
    for op in [">=", "=>", "<=", "=<", "!=", "~>", ">", "<", "=", "~", "^"] {
        if let Some(rest) = token.strip_prefix(op) {
            return (op, rest);
        }
    }
    ("", token)
}

/// The bounds one comparator stands for.
fn comparator(op: &str, v: &Partial, bounds: &mut Vec<Bound>) -> Result<(), String> {
    let floor = v.floor();
    let ceiling = v.ceiling();
    match op {
        "" | "=" if v.wildcard => {
            bounds.push(Bound::AtLeast(floor));
            if let Some(ceiling) = ceiling {
                bounds.push(Bound::Below(ceiling));
            }
        }
        "" | "=" => {
            bounds.push(Bound::AtLeast(floor.clone()));
            bounds.push(Bound::AtMost(floor));
        }
        "!=" if v.wildcard => bounds.push(Bound::Outside(floor, ceiling)),
        "!=" => bounds.push(Bound::Not(floor)),
        ">" if v.wildcard => match ceiling {
            Some(ceiling) => bounds.push(Bound::AtLeast(ceiling)),
            None => return Err("nothing is greater than *".to_owned()),
        },
        ">" => bounds.push(Bound::Above(floor)),
        ">=" | "=>" => bounds.push(Bound::AtLeast(floor)),
        "<" => bounds.push(Bound::Below(floor)),
        "<=" | "=<" if v.wildcard => match ceiling {
            Some(ceiling) => bounds.push(Bound::Below(ceiling)),
            None => bounds.push(Bound::AtLeast(Version::new(0, 0, 0))),
        },
        "<=" | "=<" => bounds.push(Bound::AtMost(floor)),
        "~" | "~>" => {
            // Patch-level changes when a minor is given, minor-level when only a major is.
            let upper = match v.parts[..] {
                [] => None,
                [major] => Some(Version::new(major + 1, 0, 0)),
                [major, minor, ..] => Some(Version::new(major, minor + 1, 0)),
            };
            bounds.push(Bound::AtLeast(floor));
            if let Some(upper) = upper {
                bounds.push(Bound::Below(upper));
            }
        }
        "^" => {
            // Changes that do not touch the leftmost non-zero part given.
            let upper = match v.parts[..] {
                [] => None,
                [major] => Some(Version::new(major + 1, 0, 0)),
                [0, minor] => Some(Version::new(0, minor + 1, 0)),
                [0, 0, patch] => Some(Version::new(0, 0, patch + 1)),
                [0, minor, _] => Some(Version::new(0, minor + 1, 0)),
                [major, ..] => Some(Version::new(major + 1, 0, 0)),
            };
            bounds.push(Bound::AtLeast(floor));
            if let Some(upper) = upper {
                bounds.push(Bound::Below(upper));
            }
        }
        other => return Err(format!("unknown operator {other:?}")),
    }
    Ok(())
}

impl Range {
    /// True when `version` is in the range.
    pub fn matches(&self, version: &Version) -> bool {
        self.groups.iter().any(|group| {
            (group.allows_pre || !version.is_prerelease())
                && group.bounds.iter().all(|b| b.holds(version))
        })
    }

    /// The highest version among `names` (tags: those that are not versions are skipped) that
    /// is in the range, with the name it was read from.
    pub fn highest<'n, I>(&self, names: I) -> Option<(&'n str, Version)>
    where
        I: IntoIterator<Item = &'n str>,
    {
        names
            .into_iter()
            .filter_map(|name| name.parse::<Version>().ok().map(|v| (name, v)))
            .filter(|(_, v)| self.matches(v))
            .max_by(|(a, x), (b, y)| x.cmp(y).then_with(|| b.cmp(a)))
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        text.parse().expect("a version")
    }

    fn matches(range: &str, version: &str) -> bool {
        range
            .parse::<Range>()
            .expect("a range")
            .matches(&v(version))
    }

    #[test]
    fn versions_order_as_semver_says() {
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.10.0",
            "2.0.0",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("v1.2"), Version::new(1, 2, 0));
        assert_eq!(v("1.2.3+a").cmp(&v("1.2.3+b")), Ordering::Equal);
        for bad in [
            "",
            "v",
            "1.2.3.4",
            "1.a.3",
            "1.2.3-",
            "1.2.3-a..b",
            "latest",
            "1.x",
        ] {
            assert!(bad.parse::<Version>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges_follow_the_documented_equivalences() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            (
                ">= 1.2, < 3.0.0 || >= 4.2.3",
                &["1.2.0", "2.9.9", "4.2.3"],
                &["1.1.9", "3.0.0", "4.2.2"],
            ),
            (">=1.0.0 <2.0.0", &["1.0.0", "1.99.0"], &["2.0.0", "0.9.0"]),
            ("1.2 - 1.4.5", &["1.2.0", "1.4.5"], &["1.4.6", "1.1.9"]),
            ("2.3.4 - 4.5", &["2.3.4", "4.5.9"], &["4.6.0"]),
            ("1.2.x", &["1.2.0", "1.2.99"], &["1.3.0", "1.1.0"]),
            (">= 1.2.x", &["1.2.0", "9.0.0"], &["1.1.9"]),
            ("<= 2.x", &["2.99.0"], &["3.0.0"]),
            ("*", &["0.0.0", "10.0.0"], &["1.0.0-rc.1"]),
            ("~1.2.3", &["1.2.3", "1.2.9"], &["1.3.0", "1.2.2"]),
            ("~1", &["1.0.0", "1.9.0"], &["2.0.0"]),
            ("~2.3", &["2.3.0", "2.3.9"], &["2.4.0"]),
            ("^1.2.3", &["1.2.3", "1.99.0"], &["2.0.0", "1.2.2"]),
            ("^2.x", &["2.0.0", "2.9.0"], &["3.0.0"]),
            ("^0.2.3", &["0.2.3", "0.2.9"], &["0.3.0"]),
            ("^0.0.3", &["0.0.3"], &["0.0.4"]),
            ("^0.0", &["0.0.9"], &["0.1.0"]),
            ("^0", &["0.9.9"], &["1.0.0"]),
            ("!=1.2.3", &["1.2.4"], &["1.2.3"]),
            ("!=1.2.x", &["1.3.0", "1.1.0"], &["1.2.5"]),
            (">1.2", &["1.3.0"], &["1.2.9"]),
            ("1.2.3", &["1.2.3"], &["1.2.4"]),
            ("v1.2.3", &["1.2.3"], &[]),
        ];
        for (range, yes, no) in cases {
            for version in *yes {
                assert!(matches(range, version), "{range} should match {version}");
            }
            for version in *no {
                assert!(
                    !matches(range, version),
                    "{range} should not match {version}"
                );
            }
        }
    }

    #[test]
    fn pre_releases_match_only_ranges_that_name_one() {
        assert!(!matches(">=1.0.0", "1.1.0-rc.1"));
        assert!(matches(">=1.0.0-0", "1.1.0-rc.1"));
        assert!(matches(">1.0.0-beta.1 <2", "1.5.0-alpha"));
        assert!(
            !matches(">=1.0.0-0 <2 || >=3", "3.1.0-rc.1"),
            "only its own group"
        );
        assert!(matches("1.0.0-rc.1", "1.0.0-rc.1"));
    }

    #[test]
    fn bad_ranges_say_why() {
        for (bad, why) in [
            ("", "an empty alternative"),
            (">=1.0 ||", "an empty alternative"),
            ("1.2 -", "a hyphen range needs two ends"),
            ("~>1.x.3", "a number after a wildcard"),
            (">*", "nothing is greater than *"),
            ("1.2.3.4", "more than three numbers"),
            ("latest", "major, minor and patch are numbers"),
        ] {
            let err = bad.parse::<Range>().expect_err(bad).to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn the_highest_match_wins_and_ties_take_the_name_that_sorts_first() {
        let range: Range = "^1".parse().expect("range");
        let tags = ["1.2.0", "v1.3.0", "1.3.0", "2.0.0"];
        assert_eq!(range.highest(tags).map(|(t, _)| t), Some("1.3.0"));
        assert_eq!(range.highest(["2.0.0", "junk"]), None);
    }
}
