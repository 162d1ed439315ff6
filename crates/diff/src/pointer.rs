//! JSON Pointer (RFC 6901): the addresses patches speak in.

use std::fmt;

use serde_json::Value;

use crate::Error;

/// A JSON Pointer: a path of reference tokens into a JSON document (RFC 6901).
///
/// Tokens are kept decoded; [`Display`](fmt::Display) encodes `~` as `~0` and `/` as `~1`.
///
/// ```
/// use converge_diff::pointer::Pointer;
/// use serde_json::json;
///
/// let doc = json!({"metadata": {"annotations": {"example.com/team": "web"}}, "items": [1, 2]});
/// let p = Pointer::parse("/metadata/annotations/example.com~1team")?;
/// assert_eq!(p.tokens(), ["metadata", "annotations", "example.com/team"]);
/// assert_eq!(p.get(&doc), Some(&json!("web")));
/// assert_eq!(Pointer::parse("/items/1")?.get(&doc), Some(&json!(2)));
/// assert_eq!(p.to_string(), "/metadata/annotations/example.com~1team");
/// assert!(Pointer::parse("items").is_err());
/// # Ok::<(), converge_diff::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Pointer {
    tokens: Vec<String>,
}

impl Pointer {
    /// The pointer to the whole document (`""`).
    pub fn root() -> Pointer {
        Pointer { tokens: Vec::new() }
    }

    /// A pointer made of already-decoded tokens.
    pub fn from_tokens<I, S>(tokens: I) -> Pointer
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Pointer {
            tokens: tokens.into_iter().map(Into::into).collect(),
        }
    }

    /// Parses the string form: `""` or `/`-separated tokens with `~0` and `~1` escapes.
    ///
    /// # Errors
    /// [`Error::InvalidPatch`] when the pointer does not start with `/` or holds a `~` that is
    /// not `~0` or `~1`.
    pub fn parse(text: &str) -> Result<Pointer, Error> {
        if text.is_empty() {
            return Ok(Pointer::root());
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(invalid(text, "a JSON Pointer starts with /"));
        };
        let tokens = rest
            .split('/')
            .map(|raw| decode(raw).ok_or_else(|| invalid(text, "~ must be followed by 0 or 1")))
            .collect::<Result<_, _>>()?;
        Ok(Pointer { tokens })
    }

    /// The decoded reference tokens.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// True for the pointer to the whole document.
    pub fn is_root(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Appends a token.
    pub fn push(&mut self, token: impl Into<String>) {
        self.tokens.push(token.into());
    }

    /// Removes and returns the last token.
    pub fn pop(&mut self) -> Option<String> {
        self.tokens.pop()
    }

    /// This pointer with one more token.
    pub fn child(&self, token: impl Into<String>) -> Pointer {
        let mut child = self.clone();
        child.push(token);
        child
    }

    /// The parent pointer and the last token; `None` for the root.
    pub fn split_last(&self) -> Option<(Pointer, &str)> {
        let (last, parent) = self.tokens.split_last()?;
        Some((
            Pointer {
                tokens: parent.to_vec(),
            },
            last,
        ))
    }

    /// True when `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &Pointer) -> bool {
        self.tokens.starts_with(&other.tokens)
    }

    /// The value this pointer addresses in `doc`.
    pub fn get<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        self.tokens
            .iter()
            .try_fold(doc, |value, token| match value {
                Value::Object(map) => map.get(token),
                Value::Array(items) => array_index(token).and_then(|i| items.get(i)),
                _ => None,
            })
    }

    /// The value this pointer addresses in `doc`, mutably.
    pub fn get_mut<'a>(&self, doc: &'a mut Value) -> Option<&'a mut Value> {
        self.tokens
            .iter()
            .try_fold(doc, |value, token| match value {
                Value::Object(map) => map.get_mut(token),
                Value::Array(items) => array_index(token).and_then(|i| items.get_mut(i)),
                _ => None,
            })
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for token in &self.tokens {
            f.write_str("/")?;
            if token.contains(['~', '/']) {
                f.write_str(&token.replace('~', "~0").replace('/', "~1"))?;
            } else {
                f.write_str(token)?;
            }
        }
        Ok(())
    }
}

/// An array index as RFC 6901 writes it: `0`, or digits without a leading zero.
pub(crate) fn array_index(token: &str) -> Option<usize> {
    let canonical = token == "0"
        || (!token.is_empty()
            && !token.starts_with('0')
            && token.bytes().all(|b| b.is_ascii_digit()));
    if canonical { token.parse().ok() } else { None }
}

fn decode(raw: &str) -> Option<String> {
    if !raw.contains('~') {
        return Some(raw.to_owned());
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn invalid(text: &str, reason: &str) -> Error {
    Error::InvalidPatch {
        reason: format!("{text:?}: {reason}"),
    }
}

/// One step of a path being walked: borrowed, so walking allocates nothing until a change is
/// recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// A map member.
    Key(&'a str),
    /// A list item.
    Index(usize),
}

impl Token<'_> {
    /// True when this step is the decoded pointer token `token`.
    pub(crate) fn matches(&self, token: &str) -> bool {
        match self {
            Token::Key(key) => *key == token,
            Token::Index(i) => array_index(token) == Some(*i),
        }
    }
}

impl fmt::Display for Token<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Key(key) => f.write_str(key),
            Token::Index(i) => write!(f, "{i}"),
        }
    }
}

/// The pointer a walked path spells.
pub(crate) fn pointer(path: &[Token<'_>]) -> Pointer {
    Pointer::from_tokens(path.iter().map(ToString::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_round_trip() {
        let p = Pointer::parse("/a~1b/c~0d/~01").expect("valid");
        assert_eq!(p.tokens(), ["a/b", "c~d", "~1"]);
        assert_eq!(p.to_string(), "/a~1b/c~0d/~01");
        assert!(Pointer::parse("/a~2").is_err());
        assert!(Pointer::parse("/a~").is_err());
        assert_eq!(Pointer::parse("/").expect("valid").tokens(), [""]);
    }

    #[test]
    fn array_indexes_are_canonical() {
        let doc = json!([1, 2, 3]);
        assert_eq!(Pointer::parse("/0").expect("p").get(&doc), Some(&json!(1)));
        assert_eq!(Pointer::parse("/01").expect("p").get(&doc), None);
        assert_eq!(Pointer::parse("/-").expect("p").get(&doc), None);
        assert_eq!(Pointer::parse("/3").expect("p").get(&doc), None);
        assert_eq!(Pointer::parse("/+1").expect("p").get(&doc), None);
    }
}
