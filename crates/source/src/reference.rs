//! References: which revision of a source to take.

use std::fmt;

/// Which revision of a source to take.
///
/// ```
/// use converge_source::Reference;
/// assert_eq!(Reference::Branch("main".into()).to_string(), "branch main");
/// assert_eq!(Reference::Any("v1.2.0".into()).to_string(), "v1.2.0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Reference {
    /// What the source offers by default: the remote's `HEAD` (its default branch) for git, the
    /// current content for a directory.
    #[default]
    Default,
    /// A branch, by its short name (`main`, `preview/feature-1`).
    Branch(String),
    /// A tag, by its short name (`v1.2.0`).
    Tag(String),
    /// The highest tag whose version is in a semver range (`>=1.2.0 <2.0.0`, `^1.4`, `1.x`;
    /// see [`Range`](crate::semver::Range) for the syntax, Flux's). Tags that are not versions
    /// are skipped; pre-releases are only taken when the range names one.
    Semver(String),
    /// A commit, by its full 40-hex id (or an unambiguous prefix of at least 7 digits).
    Commit(String),
    /// A name resolved the way `git rev-parse` would (gitrevisions(7)): `HEAD` or a full ref
    /// name (`refs/pull/42/head`) as it is, then `refs/<name>`, a tag, a branch, a
    /// remote-tracking branch (`origin/main`), `refs/remotes/<name>/HEAD`, and last a commit id.
    Any(String),
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Default => f.write_str("the default revision"),
            Reference::Branch(b) => write!(f, "branch {b}"),
            Reference::Tag(t) => write!(f, "tag {t}"),
            Reference::Semver(range) => write!(f, "semver range {range}"),
            Reference::Commit(c) => write!(f, "commit {c}"),
            Reference::Any(name) => f.write_str(name),
        }
    }
}
