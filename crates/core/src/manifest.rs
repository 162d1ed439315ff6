//! Manifests: an object and where it came from.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::{Error, ObjectKey, ObjectRef};

/// Where a manifest was read from.
///
/// `file` is relative to the tree it was read from, with `/` separators. `document` counts the
/// non-empty documents of the file from 0, and `line` is the 1-based line the document starts
/// on (0 when unknown, as for generated objects).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct Origin {
    /// The file, relative to the tree's root.
    pub file: String,
    /// 0-based index of the document within the file.
    pub document: usize,
    /// 1-based line where the document starts; 0 when unknown.
    pub line: u64,
}

impl Origin {
    /// An origin in `file`, document `document`, starting on `line`.
    pub fn new(file: impl Into<String>, document: usize, line: u64) -> Self {
        Origin {
            file: file.into(),
            document,
            line,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}", self.file, self.line)
        } else {
            write!(f, "{} (document {})", self.file, self.document)
        }
    }
}

/// A Kubernetes object together with its identity and origin.
///
/// A `Manifest` always holds a mapping with a string `apiVersion`, a string `kind` and a
/// non-empty string `metadata.name`; [`Manifest::new`] checks this, so downstream stages can
/// rely on [`Manifest::id`].
///
/// ```
/// use converge_core::{Manifest, Origin};
/// use serde_json::json;
///
/// let m = Manifest::new(
///     json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web", "namespace": "prod"}}),
///     Origin::new("base/web.yaml", 0, 1),
/// )?;
/// assert_eq!(m.id().to_string(), "v1 ConfigMap prod/web");
/// assert_eq!(m.origin().to_string(), "base/web.yaml:1");
/// # Ok::<(), converge_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Shared: manifests are cloned often (caches, plans) and never changed in place.
    inner: Arc<Inner>,
}

#[derive(Debug, PartialEq)]
struct Inner {
    object: Value,
    id: ObjectRef,
    origin: Origin,
}

impl Manifest {
    /// Wraps `object`, checking that it is a Kubernetes object.
    ///
    /// # Errors
    /// [`Error::NotAnObject`] naming the origin when `object` is not a mapping or lacks
    /// `apiVersion`, `kind` or `metadata.name`.
    pub fn new(object: Value, origin: Origin) -> Result<Self, Error> {
        match identify(&object) {
            Ok(id) => Ok(Manifest {
                inner: Arc::new(Inner { object, id, origin }),
            }),
            Err(reason) => Err(Error::NotAnObject {
                file: origin.file,
                line: origin.line,
                document: origin.document,
                reason,
            }),
        }
    }

    /// The object.
    pub fn object(&self) -> &Value {
        &self.inner.object
    }

    /// The object's identity.
    pub fn id(&self) -> &ObjectRef {
        &self.inner.id
    }

    /// Where the object came from.
    pub fn origin(&self) -> &Origin {
        &self.inner.origin
    }

    /// Takes the object out (a copy when a clone of this manifest still holds it).
    pub fn into_object(self) -> Value {
        match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner.object,
            Err(shared) => shared.object.clone(),
        }
    }

    /// Replaces the object, keeping the origin; the identity is read again from the new object.
    ///
    /// # Errors
    /// As [`Manifest::new`].
    pub fn with_object(self, object: Value) -> Result<Self, Error> {
        let origin = match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner.origin,
            Err(shared) => shared.origin.clone(),
        };
        Manifest::new(object, origin)
    }
}

/// Indexes manifests by [`ObjectKey`], refusing two manifests for one object.
///
/// ```
/// use converge_core::{index_by_key, Manifest, Origin};
/// use serde_json::json;
///
/// let cm = |file: &str| Manifest::new(
///     json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web"}}),
///     Origin::new(file, 0, 1),
/// );
/// let err = index_by_key(&[cm("a.yaml")?, cm("b.yaml")?]).unwrap_err();
/// assert_eq!(err.to_string(), "ConfigMap web is defined twice: in a.yaml:1 and in b.yaml:1");
/// # Ok::<(), converge_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::Duplicate`] naming both origins of the first object defined twice.
pub fn index_by_key(manifests: &[Manifest]) -> Result<HashMap<ObjectKey, usize>, Error> {
    let mut index = HashMap::with_capacity(manifests.len());
    for (i, manifest) in manifests.iter().enumerate() {
        if let Some(first) = index.insert(manifest.id().key(), i) {
            return Err(Error::Duplicate {
                id: manifest.id().key().to_string(),
                first: manifests[first].origin().to_string(),
                second: manifest.origin().to_string(),
            });
        }
    }
    Ok(index)
}

/// Reads the identity of `object`, or says what is missing.
fn identify(object: &Value) -> Result<ObjectRef, String> {
    let Value::Object(map) = object else {
        return Err(format!("expected a mapping, found {}", kind_of(object)));
    };
    let string_field = |name: &str| -> Result<&str, String> {
        match map.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s),
            Some(Value::String(_)) | None | Some(Value::Null) => Err(format!("missing {name}")),
            Some(other) => Err(format!("{name} must be a string, found {}", kind_of(other))),
        }
    };
    let api_version = string_field("apiVersion")?;
    let kind = string_field("kind")?;
    let metadata = match map.get("metadata") {
        Some(Value::Object(meta)) => meta,
        None | Some(Value::Null) => return Err("missing metadata.name".to_owned()),
        Some(other) => {
            return Err(format!(
                "metadata must be a mapping, found {}",
                kind_of(other)
            ));
        }
    };
    let name = match metadata.get("name") {
        Some(Value::String(s)) if !s.is_empty() => s.as_str(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err("missing metadata.name".to_owned());
        }
        Some(other) => {
            return Err(format!(
                "metadata.name must be a string, found {}",
                kind_of(other)
            ));
        }
    };
    let namespace = match metadata.get("namespace") {
        Some(Value::String(s)) => Some(s.as_str()),
        None | Some(Value::Null) => None,
        Some(other) => {
            return Err(format!(
                "metadata.namespace must be a string, found {}",
                kind_of(other)
            ));
        }
    };
    let (group, version) = ObjectRef::split_api_version(api_version);
    if version.is_empty() || api_version.matches('/').count() > 1 {
        return Err(format!(
            "apiVersion {api_version:?} is not GROUP/VERSION or VERSION"
        ));
    }
    Ok(ObjectRef::new(group, version, kind, namespace, name))
}

/// A short name for the type of a JSON value, for error messages.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reason(object: Value) -> String {
        match Manifest::new(object, Origin::new("f.yaml", 2, 7)) {
            Err(Error::NotAnObject {
                reason,
                file,
                line,
                document,
            }) => {
                assert_eq!((file.as_str(), line, document), ("f.yaml", 7, 2));
                reason
            }
            other => panic!("expected NotAnObject, got {other:?}"),
        }
    }

    #[test]
    fn identity_of_namespaced_and_cluster_objects() {
        let m = Manifest::new(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "prod"}}),
            Origin::default(),
        )
        .expect("valid");
        assert_eq!(
            m.id(),
            &ObjectRef::new("apps", "v1", "Deployment", Some("prod"), "web")
        );
        let m = Manifest::new(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod", "namespace": ""}}),
            Origin::default(),
        )
        .expect("valid");
        assert_eq!(m.id().namespace, None);
        assert_eq!(m.id().api_version(), "v1");
    }

    #[test]
    fn missing_fields_are_named() {
        assert_eq!(
            reason(json!({"kind": "A", "metadata": {"name": "a"}})),
            "missing apiVersion"
        );
        assert_eq!(
            reason(json!({"apiVersion": "v1", "metadata": {"name": "a"}})),
            "missing kind"
        );
        assert_eq!(
            reason(json!({"apiVersion": "v1", "kind": "A"})),
            "missing metadata.name"
        );
        assert_eq!(
            reason(json!({"apiVersion": "v1", "kind": "A", "metadata": {"generateName": "a-"}})),
            "missing metadata.name"
        );
        assert_eq!(reason(json!(["a"])), "expected a mapping, found a list");
        assert_eq!(
            reason(json!({"apiVersion": 1, "kind": "A", "metadata": {"name": "a"}})),
            "apiVersion must be a string, found a number"
        );
        assert_eq!(
            reason(json!({"apiVersion": "a/b/c", "kind": "A", "metadata": {"name": "a"}})),
            "apiVersion \"a/b/c\" is not GROUP/VERSION or VERSION"
        );
    }
}
