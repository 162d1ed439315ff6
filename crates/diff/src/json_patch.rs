//! JSON Patch (RFC 6902): applying patches atomically, and generating them.

use serde_json::{Map, Value};

use crate::Error;
use crate::pointer::{Pointer, Token, array_index, pointer};

/// One JSON Patch operation.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Operation {
    /// Adds `value` at `path` (replacing an object member, inserting into an array).
    Add {
        /// Where.
        path: Pointer,
        /// What.
        value: Value,
    },
    /// Removes the value at `path`.
    Remove {
        /// Where.
        path: Pointer,
    },
    /// Replaces the value at `path`, which must exist.
    Replace {
        /// Where.
        path: Pointer,
        /// The new value.
        value: Value,
    },
    /// Moves the value at `from` to `path`.
    Move {
        /// Where the value is.
        from: Pointer,
        /// Where it goes.
        path: Pointer,
    },
    /// Copies the value at `from` to `path`.
    Copy {
        /// Where the value is.
        from: Pointer,
        /// Where the copy goes.
        path: Pointer,
    },
    /// Succeeds when the value at `path` equals `value` (numbers by value).
    Test {
        /// Where.
        path: Pointer,
        /// The expected value.
        value: Value,
    },
}

impl Operation {
    /// The operation's name as RFC 6902 writes it (`add`, `remove`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Add { .. } => "add",
            Operation::Remove { .. } => "remove",
            Operation::Replace { .. } => "replace",
            Operation::Move { .. } => "move",
            Operation::Copy { .. } => "copy",
            Operation::Test { .. } => "test",
        }
    }

    /// The target path.
    pub fn path(&self) -> &Pointer {
        match self {
            Operation::Add { path, .. }
            | Operation::Remove { path }
            | Operation::Replace { path, .. }
            | Operation::Move { path, .. }
            | Operation::Copy { path, .. }
            | Operation::Test { path, .. } => path,
        }
    }
}

/// A JSON Patch document: operations applied in order, all or none.
///
/// ```
/// use converge_diff::json_patch::JsonPatch;
/// use serde_json::json;
///
/// let patch = JsonPatch::from_value(&json!([
///     {"op": "test", "path": "/spec/replicas", "value": 2},
///     {"op": "replace", "path": "/spec/replicas", "value": 3},
///     {"op": "add", "path": "/metadata/labels/tier", "value": "web"},
/// ]))?;
/// let mut doc = json!({"metadata": {"labels": {}}, "spec": {"replicas": 2}});
/// patch.apply(&mut doc)?;
/// assert_eq!(doc, json!({"metadata": {"labels": {"tier": "web"}}, "spec": {"replicas": 3}}));
///
/// // A failing operation leaves the document as it was.
/// let failing = JsonPatch::from_value(&json!([
///     {"op": "remove", "path": "/spec"},
///     {"op": "test", "path": "/spec/replicas", "value": 3},
/// ]))?;
/// assert!(failing.apply(&mut doc).is_err());
/// assert_eq!(doc["spec"]["replicas"], 3);
/// # Ok::<(), converge_diff::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JsonPatch(pub Vec<Operation>);

impl JsonPatch {
    /// Reads a patch document (a JSON array of operation objects). Members an operation does
    /// not use are ignored, as RFC 6902 asks.
    ///
    /// # Errors
    /// [`Error::InvalidPatch`] naming the operation: not an array, an unknown `op`, a missing
    /// `path`, `from` or `value`, a malformed pointer.
    pub fn from_value(patch: &Value) -> Result<JsonPatch, Error> {
        let Value::Array(ops) = patch else {
            return Err(Error::InvalidPatch {
                reason: "a JSON Patch is a list of operations".to_owned(),
            });
        };
        ops.iter()
            .enumerate()
            .map(|(index, op)| parse_operation(index, op))
            .collect::<Result<_, _>>()
            .map(JsonPatch)
    }

    /// The patch as a JSON document.
    pub fn to_value(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|op| {
                    let mut object = Map::new();
                    object.insert("op".to_owned(), Value::from(op.name()));
                    if let Operation::Move { from, .. } | Operation::Copy { from, .. } = op {
                        object.insert("from".to_owned(), Value::from(from.to_string()));
                    }
                    object.insert("path".to_owned(), Value::from(op.path().to_string()));
                    if let Operation::Add { value, .. }
                    | Operation::Replace { value, .. }
                    | Operation::Test { value, .. } = op
                    {
                        object.insert("value".to_owned(), value.clone());
                    }
                    Value::Object(object)
                })
                .collect(),
        )
    }

    /// True when the patch has no operations.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Applies every operation in order. Atomic: when one fails, `doc` is left exactly as it
    /// was.
    ///
    /// # Errors
    /// [`Error::PatchFailed`] naming the operation, its path and why.
    pub fn apply(&self, doc: &mut Value) -> Result<(), Error> {
        match self.0.as_slice() {
            [] => Ok(()),
            // A single operation other than `move` checks everything before it changes
            // anything, so it needs no copy to roll back to.
            [op] if !matches!(op, Operation::Move { .. }) => {
                apply_operation(doc, op).map_err(|reason| failed(0, op, reason))
            }
            ops => {
                let mut work = doc.clone();
                for (index, op) in ops.iter().enumerate() {
                    apply_operation(&mut work, op).map_err(|reason| failed(index, op, reason))?;
                }
                *doc = work;
                Ok(())
            }
        }
    }
}

fn failed(index: usize, op: &Operation, reason: String) -> Error {
    Error::PatchFailed {
        index,
        op: op.name().to_owned(),
        path: op.path().to_string(),
        reason,
    }
}

fn parse_operation(index: usize, op: &Value) -> Result<Operation, Error> {
    let invalid = |reason: String| Error::InvalidPatch {
        reason: format!("operation {index}: {reason}"),
    };
    let Value::Object(fields) = op else {
        return Err(invalid("an operation is an object".to_owned()));
    };
    let pointer = |name: &str| -> Result<Pointer, Error> {
        match fields.get(name) {
            Some(Value::String(text)) => {
                Pointer::parse(text).map_err(|e| invalid(format!("{name}: {e}")))
            }
            Some(_) => Err(invalid(format!("{name} must be a string"))),
            None => Err(invalid(format!("missing {name}"))),
        }
    };
    let value = || {
        fields
            .get("value")
            .cloned()
            .ok_or_else(|| invalid("missing value".to_owned()))
    };
    match fields.get("op").and_then(Value::as_str) {
        Some("add") => Ok(Operation::Add {
            path: pointer("path")?,
            value: value()?,
        }),
        Some("remove") => Ok(Operation::Remove {
            path: pointer("path")?,
        }),
        Some("replace") => Ok(Operation::Replace {
            path: pointer("path")?,
            value: value()?,
        }),
        Some("move") => Ok(Operation::Move {
            from: pointer("from")?,
            path: pointer("path")?,
        }),
        Some("copy") => Ok(Operation::Copy {
            from: pointer("from")?,
            path: pointer("path")?,
        }),
        Some("test") => Ok(Operation::Test {
            path: pointer("path")?,
            value: value()?,
        }),
        Some(other) => Err(invalid(format!("unknown op {other:?}"))),
        None => Err(invalid("missing op".to_owned())),
    }
}

fn apply_operation(doc: &mut Value, op: &Operation) -> Result<(), String> {
    match op {
        Operation::Add { path, value } => add(doc, path, value.clone()),
        Operation::Remove { path } => remove(doc, path).map(drop),
        Operation::Replace { path, value } => {
            let target = path.get_mut(doc).ok_or("no value at the path")?;
            *target = value.clone();
            Ok(())
        }
        Operation::Move { from, path } => {
            if from == path {
                return path
                    .get(doc)
                    .map(drop)
                    .ok_or_else(|| "no value at from".to_owned());
            }
            if path.starts_with(from) {
                return Err("cannot move a value into itself".to_owned());
            }
            check_parent(doc, path)?;
            let value = remove(doc, from).map_err(|e| format!("from: {e}"))?;
            add(doc, path, value)
        }
        Operation::Copy { from, path } => {
            let value = from.get(doc).ok_or("no value at from")?.clone();
            add(doc, path, value)
        }
        Operation::Test { path, value } => {
            let actual = path.get(doc).ok_or("no value at the path")?;
            if equal(actual, value) {
                Ok(())
            } else {
                Err("the value differs".to_owned())
            }
        }
    }
}

/// Checks that `path`'s parent exists and can take a member or element named by its last
/// token.
fn check_parent(doc: &Value, path: &Pointer) -> Result<(), String> {
    let Some((parent, last)) = path.split_last() else {
        return Ok(());
    };
    match parent.get(doc) {
        Some(Value::Object(_)) => Ok(()),
        Some(Value::Array(items)) => {
            if last == "-" || array_index(last).is_some_and(|i| i <= items.len()) {
                Ok(())
            } else {
                Err(format!(
                    "{last:?} is not an index of a list of {}",
                    items.len()
                ))
            }
        }
        Some(_) => Err("the parent is neither an object nor a list".to_owned()),
        None => Err("the parent does not exist".to_owned()),
    }
}

fn add(doc: &mut Value, path: &Pointer, value: Value) -> Result<(), String> {
    let Some((parent, last)) = path.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent.get_mut(doc) {
        Some(Value::Object(map)) => {
            map.insert(last.to_owned(), value);
            Ok(())
        }
        Some(Value::Array(items)) => {
            let index = if last == "-" {
                items.len()
            } else {
                array_index(last)
                    .filter(|&i| i <= items.len())
                    .ok_or_else(|| {
                        format!("{last:?} is not an index of a list of {}", items.len())
                    })?
            };
            items.insert(index, value);
            Ok(())
        }
        Some(_) => Err("the parent is neither an object nor a list".to_owned()),
        None => Err("the parent does not exist".to_owned()),
    }
}

fn remove(doc: &mut Value, path: &Pointer) -> Result<Value, String> {
    let Some((parent, last)) = path.split_last() else {
        return Err("cannot remove the whole document".to_owned());
    };
    match parent.get_mut(doc) {
        Some(Value::Object(map)) => map
            .shift_remove(last)
            .ok_or_else(|| "no value at the path".to_owned()),
        Some(Value::Array(items)) => {
            let index = array_index(last)
                .filter(|&i| i < items.len())
                .ok_or_else(|| format!("{last:?} is not an index of a list of {}", items.len()))?;
            Ok(items.remove(index))
        }
        _ => Err("no value at the path".to_owned()),
    }
}

/// JSON equality with numbers compared by value (`1` equals `1.0`), as RFC 6902's `test`
/// requires.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || matches!((x.as_f64(), y.as_f64()), (Some(x), Some(y)) if x == y)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

/// The JSON Patch that turns `from` into `to`.
///
/// Objects are compared member by member and only what differs is sent; lists keep their
/// common beginning and end, patch the items in between in place, and add or remove the rest.
/// Unchanged subtrees are walked, never copied. The patch uses `add`, `remove` and `replace`
/// only.
///
/// ```
/// use converge_diff::json_patch::diff;
/// use serde_json::json;
///
/// let from = json!({"spec": {"replicas": 2, "paused": true, "ports": [80, 443]}});
/// let to = json!({"spec": {"replicas": 3, "ports": [80, 443, 8080]}});
/// let patch = diff(&from, &to);
/// assert_eq!(patch.to_value(), json!([
///     {"op": "replace", "path": "/spec/replicas", "value": 3},
///     {"op": "remove", "path": "/spec/paused"},
///     {"op": "add", "path": "/spec/ports/2", "value": 8080},
/// ]));
/// let mut doc = from.clone();
/// patch.apply(&mut doc)?;
/// assert_eq!(doc, to);
/// # Ok::<(), converge_diff::Error>(())
/// ```
pub fn diff(from: &Value, to: &Value) -> JsonPatch {
    let mut walk = DiffWalk {
        path: Vec::with_capacity(16),
        ops: Vec::new(),
    };
    walk.values(from, to);
    JsonPatch(walk.ops)
}

/// A diff in progress: the path walked (borrowed, so a pointer is only built for an
/// operation) and the operations found.
struct DiffWalk<'a> {
    path: Vec<Token<'a>>,
    ops: Vec<Operation>,
}

impl<'a> DiffWalk<'a> {
    fn here(&self) -> Pointer {
        pointer(&self.path)
    }

    fn at(&mut self, token: Token<'a>) -> Pointer {
        self.path.push(token);
        let at = pointer(&self.path);
        self.path.pop();
        at
    }

    fn values(&mut self, from: &'a Value, to: &'a Value) {
        match (from, to) {
            (Value::Object(a), Value::Object(b)) => self.objects(a, b),
            (Value::Array(a), Value::Array(b)) => self.arrays(a, b),
            _ if from == to => {}
            _ => {
                let path = self.here();
                self.ops.push(Operation::Replace {
                    path,
                    value: to.clone(),
                });
            }
        }
    }

    /// Walks both maps in step: versions of one object list their members in much the same
    /// order, so a member is usually found next in `b` with no hashing at all.
    fn objects(&mut self, a: &'a Map<String, Value>, b: &'a Map<String, Value>) {
        let mut rest = b.iter();
        let mut matched = 0;
        for (key, old) in a {
            let mut ahead = rest.clone();
            let new = match ahead.next() {
                Some((k, v)) if k == key => {
                    rest = ahead;
                    Some(v)
                }
                // One member added in `b` before this one: step over it.
                _ => match ahead.next() {
                    Some((k, v)) if k == key => {
                        rest = ahead;
                        Some(v)
                    }
                    _ => b.get(key),
                },
            };
            match new {
                Some(new) => {
                    matched += 1;
                    self.path.push(Token::Key(key));
                    self.values(old, new);
                    self.path.pop();
                }
                None => {
                    let path = self.at(Token::Key(key));
                    self.ops.push(Operation::Remove { path });
                }
            }
        }
        if matched == b.len() {
            return; // every member of `b` was in `a`: nothing added
        }
        for (key, new) in b {
            if !a.contains_key(key) {
                let path = self.at(Token::Key(key));
                self.ops.push(Operation::Add {
                    path,
                    value: new.clone(),
                });
            }
        }
    }

    fn arrays(&mut self, a: &'a [Value], b: &'a [Value]) {
        // Lists of one length are patched item by item: equal items give no operations, so
        // trimming a common beginning and end first would only compare them twice.
        let (prefix, suffix) = if a.len() == b.len() {
            (0, 0)
        } else {
            let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
            let suffix = a[prefix..]
                .iter()
                .rev()
                .zip(b[prefix..].iter().rev())
                .take_while(|(x, y)| x == y)
                .count();
            (prefix, suffix)
        };
        let old = &a[prefix..a.len() - suffix];
        let new = &b[prefix..b.len() - suffix];
        let common = old.len().min(new.len());
        for (i, (x, y)) in old.iter().zip(new).enumerate() {
            self.path.push(Token::Index(prefix + i));
            self.values(x, y);
            self.path.pop();
        }
        // Surplus old items go from the highest index down, so indexes stay valid.
        for i in (common..old.len()).rev() {
            let path = self.at(Token::Index(prefix + i));
            self.ops.push(Operation::Remove { path });
        }
        for (i, value) in new.iter().enumerate().skip(common) {
            let path = self.at(Token::Index(prefix + i));
            self.ops.push(Operation::Add {
                path,
                value: value.clone(),
            });
        }
    }
}
