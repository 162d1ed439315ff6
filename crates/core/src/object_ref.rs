//! Object identity.

use std::fmt;

/// The identity of a Kubernetes object: group, version, kind, namespace and name.
///
/// `Display` writes it the way people read it, `<apiVersion> <Kind> [<namespace>/]<name>`:
///
/// ```
/// use converge_core::ObjectRef;
///
/// let web = ObjectRef::new("apps", "v1", "Deployment", Some("prod"), "web");
/// assert_eq!(web.to_string(), "apps/v1 Deployment prod/web");
///
/// let ns = ObjectRef::new("", "v1", "Namespace", None, "prod");
/// assert_eq!(ns.to_string(), "v1 Namespace prod");
/// assert_eq!(ns.api_version(), "v1");
/// ```
///
/// Ordering is by group, kind, namespace, name and then version, so sorted lists group objects
/// of one kind together.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    /// API group; empty for the core group (`v1`).
    pub group: String,
    /// API version within the group (`v1`, `v1beta1`).
    pub version: String,
    /// Kind (`Deployment`).
    pub kind: String,
    /// Namespace; `None` for cluster-scoped objects and for namespaced objects that leave it
    /// to the namespace they are applied in.
    pub namespace: Option<String>,
    /// Object name.
    pub name: String,
}

impl ObjectRef {
    /// Builds an identity. An empty namespace is the same as none.
    pub fn new(
        group: impl Into<String>,
        version: impl Into<String>,
        kind: impl Into<String>,
        namespace: Option<&str>,
        name: impl Into<String>,
    ) -> Self {
        ObjectRef {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            namespace: namespace.filter(|ns| !ns.is_empty()).map(str::to_owned),
            name: name.into(),
        }
    }

    /// Splits an `apiVersion` (`apps/v1`, `v1`) into group and version.
    ///
    /// ```
    /// assert_eq!(converge_core::ObjectRef::split_api_version("apps/v1"), ("apps", "v1"));
    /// assert_eq!(converge_core::ObjectRef::split_api_version("v1"), ("", "v1"));
    /// ```
    pub fn split_api_version(api_version: &str) -> (&str, &str) {
        match api_version.split_once('/') {
            Some((group, version)) => (group, version),
            None => ("", api_version),
        }
    }

    /// The `apiVersion` this identity was read from: `group/version`, or `version` for the core
    /// group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The identity without the version: the same object in the cluster whatever version it is
    /// written in. This is the key that sets of manifests are matched and de-duplicated by.
    pub fn key(&self) -> ObjectKey {
        ObjectKey {
            group: self.group.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    /// The file name `kubectl diff` gives this object: `group.version.kind.namespace.name`,
    /// with no leading group (and no dot) for the core group.
    ///
    /// ```
    /// use converge_core::ObjectRef;
    /// let web = ObjectRef::new("apps", "v1", "Deployment", Some("prod"), "web");
    /// assert_eq!(web.file_name(), "apps.v1.Deployment.prod.web");
    /// let ns = ObjectRef::new("", "v1", "Namespace", None, "prod");
    /// assert_eq!(ns.file_name(), "v1.Namespace..prod");
    /// ```
    pub fn file_name(&self) -> String {
        let group = if self.group.is_empty() {
            String::new()
        } else {
            format!("{}.", self.group)
        };
        format!(
            "{group}{}.{}.{}.{}",
            self.version,
            self.kind,
            self.namespace.as_deref().unwrap_or(""),
            self.name
        )
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.group.is_empty() {
            write!(f, "{}/", self.group)?;
        }
        write!(f, "{} {} ", self.version, self.kind)?;
        if let Some(ns) = &self.namespace {
            write!(f, "{ns}/")?;
        }
        f.write_str(&self.name)
    }
}

impl Ord for ObjectRef {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (
            &self.group,
            &self.kind,
            &self.namespace,
            &self.name,
            &self.version,
        )
            .cmp(&(
                &other.group,
                &other.kind,
                &other.namespace,
                &other.name,
                &other.version,
            ))
    }
}

impl PartialOrd for ObjectRef {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// An object's identity in the cluster: [`ObjectRef`] without the version.
///
/// Two manifests with one key are the same object, whichever API version each is written in.
///
/// ```
/// use converge_core::ObjectRef;
/// let v2 = ObjectRef::new("autoscaling", "v2", "HorizontalPodAutoscaler", Some("prod"), "web");
/// let v1 = ObjectRef::new("autoscaling", "v1", "HorizontalPodAutoscaler", Some("prod"), "web");
/// assert_eq!(v1.key(), v2.key());
/// assert_eq!(v1.key().to_string(), "autoscaling HorizontalPodAutoscaler prod/web");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// API group; empty for the core group.
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace, if any.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.group.is_empty() {
            write!(f, "{} ", self.group)?;
        }
        write!(f, "{} ", self.kind)?;
        if let Some(ns) = &self.namespace {
            write!(f, "{ns}/")?;
        }
        f.write_str(&self.name)
    }
}
