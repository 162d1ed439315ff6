//! Post-build variable substitution: `${VAR}` references replaced in rendered manifests, as
//! Flux's kustomize-controller does after `kustomize build` (`spec.postBuild.substitute`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use converge_core::{FileTree, Manifest, Value, index_by_key, parse_documents, to_yaml};

use crate::{Error, Renderer};

/// The label or annotation that turns substitution off for one object when its value is
/// `disabled`, as in Flux.
///
/// ```
/// use converge_core::{Manifest, Origin};
/// use converge_render::{SUBSTITUTE_ANNOTATION, substitute_manifests};
/// use std::collections::BTreeMap;
///
/// let script = Manifest::new(
///     serde_json::json!({
///         "apiVersion": "v1", "kind": "ConfigMap",
///         "metadata": {"name": "script", "annotations": {SUBSTITUTE_ANNOTATION: "disabled"}},
///         "data": {"run.sh": "echo ${HOME}"},
///     }),
///     Origin::new("script.yaml", 0, 1),
/// )?;
/// let out = substitute_manifests(vec![script], &BTreeMap::new(), true)?;
/// assert_eq!(out[0].object()["data"]["run.sh"], "echo ${HOME}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const SUBSTITUTE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// What variable names must look like; Flux checks its variables against the same pattern.
const NAME_PATTERN: &str = "^[_a-zA-Z][_a-zA-Z0-9]*$";

/// Replaces the `${VAR}` references in `text` with the values of `vars`; `what` names the
/// text (a file, an object) in errors.
///
/// The syntax is the one Flux's post-build substitution documents:
///
/// | in the text | becomes |
/// |---|---|
/// | `${VAR}` | the value of `VAR`; when it is not set, the empty string, or an error in strict mode |
/// | `${VAR:=default}`, `${VAR:-default}` | the value of `VAR`, or `default` when `VAR` is not set or is empty |
/// | `${VAR=default}`, `${VAR-default}` | the same: as in Flux, an empty value counts as not set |
/// | `$${VAR}` | `${VAR}`: `$${` is the escape for a literal `${` |
/// | `$VAR`, `$(cmd)`, `$`, `$$` | themselves: only the braced form is a reference |
///
/// - A default is itself substituted (`${A:=${B}}`), and in strict mode a reference in it
///   must resolve even when the default is not used, as in Flux.
/// - Line breaks in values are dropped (`"a\nb\n"` is substituted as `ab`), as Flux drops
///   them when it loads variables: a value cannot add lines, and so structure, to YAML.
/// - Variable names, in `vars` and in references, must match `^[_a-zA-Z][_a-zA-Z0-9]*$`.
/// - The other bash expansions Flux's envsubst knows (`${#VAR}`, `${VAR^^}`, `${VAR:1:2}`,
///   `${VAR/a/b}`, …) are refused with an error naming them, never passed through.
///
/// ```
/// use converge_render::substitute_text;
/// use std::collections::BTreeMap;
///
/// let vars = BTreeMap::from([
///     ("ENV".to_owned(), "prod".to_owned()),
///     ("EMPTY".to_owned(), String::new()),
/// ]);
/// let out = substitute_text(
///     "app.yaml",
///     "env: ${ENV}, tier: ${TIER:=web}, empty: ${EMPTY:-none}, kept: $${ENV} $ENV",
///     &vars,
///     true,
/// )?;
/// assert_eq!(out, "env: prod, tier: web, empty: none, kept: ${ENV} $ENV");
///
/// let err = substitute_text("app.yaml", "replicas: ${REPLICAS}", &vars, true)
///     .expect_err("strict mode needs every variable");
/// assert_eq!(
///     err.to_string(),
///     r#"app.yaml: substitution: variable not set (strict mode): "REPLICAS""#,
/// );
/// // Without strict mode, a variable that is not set becomes the empty string.
/// assert_eq!(substitute_text("app.yaml", "[${REPLICAS}]", &vars, false)?, "[]");
/// # Ok::<(), converge_render::Error>(())
/// ```
///
/// # Errors
/// [`Error::Substitution`] naming `what` and: in strict mode, the first variable that is
/// referenced without a default and not set; a `${` without its closing `}`; a variable name
/// that does not match the pattern, in `vars` or in a reference; an expansion other than the
/// ones above.
pub fn substitute_text(
    what: &str,
    text: &str,
    vars: &BTreeMap<String, String>,
    strict: bool,
) -> Result<String, Error> {
    let fail = |message: String| Error::Substitution {
        object: what.to_owned(),
        message,
    };
    if let Some(bad) = vars.keys().find(|name| !is_valid_name(name)) {
        return Err(fail(format!(
            "variable name {bad:?} is invalid: it must match {NAME_PATTERN}"
        )));
    }
    if !text.contains('$') {
        return Ok(text.to_owned());
    }
    let mut expansion = Expansion {
        text,
        pos: 0,
        vars,
        strict,
    };
    let mut out = String::with_capacity(text.len());
    expansion.expand(&mut out, None).map_err(fail)?;
    Ok(out)
}

/// Substitutes variables in each manifest, as Flux does after `kustomize build`: the object
/// is written as YAML, the text substituted with [`substitute_text`], and the result read
/// back. Each manifest keeps its [`Origin`](converge_core::Origin); its identity is read
/// again, so `name: web-${ENV}` works.
///
/// - An object labelled or annotated [`SUBSTITUTE_ANNOTATION`]` = disabled` is left as it
///   is, references and all.
/// - Values are substituted as text, so after reading back `replicas: ${N}` with `N=3` is
///   the number 3 and `enabled: ${ON}` with `ON=true` a boolean, exactly as in Flux; a field
///   that must stay a string needs quotes around the reference in the YAML Flux writes, which
///   Flux documents as `${quote}${N}${quote}` with a variable `quote` holding `"`.
///
/// ```
/// use converge_core::{Manifest, Origin};
/// use converge_render::substitute_manifests;
/// use std::collections::BTreeMap;
///
/// let deploy = Manifest::new(
///     serde_json::json!({
///         "apiVersion": "apps/v1", "kind": "Deployment",
///         "metadata": {"name": "web-${ENV}", "namespace": "${ENV}"},
///         "spec": {"replicas": "${REPLICAS:=2}"},
///     }),
///     Origin::new("web.yaml", 0, 1),
/// )?;
/// let vars = BTreeMap::from([("ENV".to_owned(), "prod".to_owned())]);
/// let out = substitute_manifests(vec![deploy], &vars, true)?;
/// assert_eq!(out[0].id().to_string(), "apps/v1 Deployment prod/web-prod");
/// assert_eq!(out[0].object()["spec"]["replicas"], 2);
/// assert_eq!(out[0].origin().to_string(), "web.yaml:1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::Substitution`] naming the first object that fails (`Kind namespace/name`, as it
/// was before substitution) and the reason: those of [`substitute_text`], a substituted text
/// that is not valid YAML, or one that is no longer a Kubernetes object.
pub fn substitute_manifests(
    manifests: Vec<Manifest>,
    vars: &BTreeMap<String, String>,
    strict: bool,
) -> Result<Vec<Manifest>, Error> {
    manifests
        .into_iter()
        .map(|manifest| substitute_manifest(manifest, vars, strict))
        .collect()
}

/// Substitutes one manifest; see [`substitute_manifests`].
fn substitute_manifest(
    manifest: Manifest,
    vars: &BTreeMap<String, String>,
    strict: bool,
) -> Result<Manifest, Error> {
    if is_disabled(manifest.object()) {
        return Ok(manifest);
    }
    let id = manifest.id();
    let object = match &id.namespace {
        Some(ns) => format!("{} {ns}/{}", id.kind, id.name),
        None => format!("{} {}", id.kind, id.name),
    };
    let fail = |message: String| Error::Substitution {
        object: object.clone(),
        message,
    };
    let yaml = to_yaml(manifest.object()).map_err(|e| fail(e.to_string()))?;
    let substituted = substitute_text(&object, &yaml, vars, strict)?;
    if substituted == yaml {
        return Ok(manifest);
    }
    let value = read_back(&substituted).map_err(fail)?;
    manifest.with_object(value).map_err(|e| fail(e.to_string()))
}

/// Reads the one YAML document a substituted object was written as.
fn read_back(yaml: &str) -> Result<Value, String> {
    // A fixed file name: the object's own could end in `.json` and ask for JSON.
    let mut documents =
        parse_documents("substituted.yaml", yaml.as_bytes()).map_err(|e| match e {
            converge_core::Error::Syntax {
                line,
                column,
                message,
                ..
            } => format!(
                "the substituted object is not valid YAML (line {line}, column {column} of the \
                 object written as YAML): {message}"
            ),
            other => other.to_string(),
        })?;
    match documents.len() {
        1 => Ok(documents.remove(0).value),
        n => Err(format!(
            "the substituted object is {n} YAML documents, not one"
        )),
    }
}

/// Whether `object` is labelled or annotated to be left alone.
fn is_disabled(object: &Value) -> bool {
    ["labels", "annotations"]
        .iter()
        .any(|field| object["metadata"][field][SUBSTITUTE_ANNOTATION].as_str() == Some("disabled"))
}

/// Whether `name` matches [`NAME_PATTERN`].
fn is_valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b == b'_' || b.is_ascii_alphabetic())
        && bytes.all(|b| b == b'_' || b.is_ascii_alphanumeric())
}

/// One pass over a text: the text, how far it has been read, and what to substitute.
struct Expansion<'a> {
    text: &'a str,
    pos: usize,
    vars: &'a BTreeMap<String, String>,
    strict: bool,
}

impl Expansion<'_> {
    /// Copies the text from `pos` into `out`, substituting references, up to the end of the
    /// text — or, inside the default of the reference opened at `open`, up to the `}` that
    /// closes it.
    fn expand(&mut self, out: &mut String, open: Option<usize>) -> Result<(), String> {
        let bytes = self.text.as_bytes();
        loop {
            let next = bytes[self.pos..]
                .iter()
                .position(|&b| b == b'$' || (b == b'}' && open.is_some()));
            let Some(offset) = next else {
                if let Some(start) = open {
                    return Err(unterminated(self.text, start));
                }
                out.push_str(&self.text[self.pos..]);
                self.pos = self.text.len();
                return Ok(());
            };
            let at = self.pos + offset;
            out.push_str(&self.text[self.pos..at]);
            let rest = &bytes[at..];
            if rest[0] == b'}' {
                self.pos = at + 1;
                return Ok(());
            } else if rest.starts_with(b"$${") {
                out.push_str("${");
                self.pos = at + 3;
            } else if rest.starts_with(b"${") {
                self.reference(at, out)?;
            } else {
                out.push('$');
                self.pos = at + 1;
            }
        }
    }

    /// Substitutes the reference that starts (with `${`) at `start`.
    fn reference(&mut self, start: usize, out: &mut String) -> Result<(), String> {
        let bytes = self.text.as_bytes();
        let name_start = start + 2;
        let name_end = name_start
            + bytes[name_start..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
        let name = &self.text[name_start..name_end];
        let rest = &bytes[name_end..];
        let default_op = match rest {
            [] => return Err(unterminated(self.text, start)),
            [b'}', ..] => None,
            [b':', b'-' | b'=', ..] => Some(2),
            [b'-' | b'=', ..] => Some(1),
            [op, ..] => return Err(self.refused(start, name, *op)),
        };
        if !is_valid_name(name) {
            return Err(self.refused(start, name, rest[0]));
        }
        match default_op {
            None => {
                self.pos = name_end + 1;
                match self.value(name) {
                    Some(value) => out.push_str(&value),
                    None if self.strict => {
                        return Err(format!("variable not set (strict mode): {name:?}"));
                    }
                    None => {}
                }
            }
            Some(op_len) => {
                self.pos = name_end + op_len;
                let mut default = String::new();
                self.expand(&mut default, Some(start))?;
                match self.value(name) {
                    Some(value) if !value.is_empty() => out.push_str(&value),
                    _ => out.push_str(&default),
                }
            }
        }
        Ok(())
    }

    /// The value of `name`, line breaks dropped.
    fn value(&self, name: &str) -> Option<Cow<'_, str>> {
        self.vars.get(name).map(|value| {
            if value.contains('\n') {
                Cow::Owned(value.replace('\n', ""))
            } else {
                Cow::Borrowed(value.as_str())
            }
        })
    }

    /// Why the reference at `start`, whose name part is `name` and which goes on with
    /// `next`, is refused: an expansion this module does not do, a bad name, or no `}`.
    fn refused(&self, start: usize, name: &str, next: u8) -> String {
        let Some(close) = self.text[start..].find('}') else {
            return unterminated(self.text, start);
        };
        let reference = &self.text[start..=start + close];
        let is_operator = b":^,#%/+?".contains(&next);
        if is_operator && (is_valid_name(name) || (name.is_empty() && next == b'#')) {
            format!(
                "unsupported expansion {:?}: only ${{VAR}}, ${{VAR:=default}}, \
                 ${{VAR:-default}}, ${{VAR=default}} and ${{VAR-default}} are substituted \
                 (write $${{ for a literal ${{)",
                shorten(reference)
            )
        } else {
            format!(
                "invalid variable name in {:?}: a name must match {NAME_PATTERN}",
                shorten(reference)
            )
        }
    }
}

/// The error for a `${` at `start` that is never closed.
fn unterminated(text: &str, start: usize) -> String {
    let line = text[start..].lines().next().unwrap_or_default();
    format!(
        "missing closing brace: {:?} has no matching }}",
        shorten(line)
    )
}

/// `text`, cut after 60 characters.
fn shorten(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(60) {
        Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
        None => Cow::Borrowed(text),
    }
}

/// A renderer that substitutes variables in what another renderer renders, as Flux's
/// `spec.postBuild.substitute` does after `kustomize build`.
///
/// Each manifest of the inner renderer goes through [`substitute_manifests`]: `${VAR}`,
/// `${VAR:=default}` and `${VAR:-default}` are replaced, `$${VAR}` gives a literal `${VAR}`,
/// and objects labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` are
/// left alone. In strict mode (Flux's `StrictPostBuildSubstitutions`) a variable that is
/// neither set nor given a default is an error; otherwise it becomes the empty string.
///
/// Unlike Flux, which skips substitution when a Kustomization defines no variable at all,
/// `Substitute` always substitutes: wrapping a renderer is the request, and defaults and
/// escapes work without a placeholder variable.
///
/// The result keeps the guarantees of [`Renderer`]: a substitution that makes two objects
/// one (`name: ${APP}` in two files) is an error naming both origins. `Debug` shows the
/// variable names, never their values, which may come from Secrets.
///
/// ```
/// use converge_core::DirTree;
/// use converge_render::{PlainYaml, Renderer, Substitute};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("ns.yaml"), "\
/// apiVersion: v1
/// kind: Namespace
/// metadata:
///   name: ${ENV}
///   labels:
///     region: ${REGION:=eu-west-1}
/// ")?;
/// let renderer = Substitute::new(PlainYaml::new()).with_var("ENV", "prod").strict(true);
/// let manifests = renderer.render(&DirTree::new(dir.path())?, "").await?;
/// assert_eq!(manifests[0].id().to_string(), "v1 Namespace prod");
/// assert_eq!(manifests[0].object()["metadata"]["labels"]["region"], "eu-west-1");
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Substitute {
    inner: Arc<dyn Renderer>,
    vars: BTreeMap<String, String>,
    strict: bool,
}

impl Substitute {
    /// Substitutes in what `inner` renders; no variables yet, not strict.
    ///
    /// ```
    /// use converge_render::{PlainYaml, Substitute};
    ///
    /// let renderer = Substitute::new(PlainYaml::new());
    /// assert_eq!(format!("{renderer:?}"), "Substitute { inner: PlainYaml, vars: [], strict: false }");
    /// ```
    pub fn new(inner: impl Renderer + 'static) -> Self {
        Substitute::from_arc(Arc::new(inner))
    }

    /// As [`Substitute::new`], for a renderer already shared.
    ///
    /// ```
    /// use converge_render::{PlainYaml, Renderer, Substitute};
    /// use std::sync::Arc;
    ///
    /// let shared: Arc<dyn Renderer> = Arc::new(PlainYaml::new());
    /// let renderer = Substitute::from_arc(Arc::clone(&shared)).with_var("ENV", "prod");
    /// assert!(format!("{renderer:?}").contains(r#"vars: ["ENV"]"#));
    /// ```
    pub fn from_arc(inner: Arc<dyn Renderer>) -> Self {
        Substitute {
            inner,
            vars: BTreeMap::new(),
            strict: false,
        }
    }

    /// Sets variable `name` to `value`, replacing an earlier value.
    ///
    /// Names are checked when rendering: one that does not match
    /// `^[_a-zA-Z][_a-zA-Z0-9]*$` makes the render fail, as it makes Flux's fail.
    ///
    /// ```
    /// use converge_render::{PlainYaml, Substitute};
    ///
    /// let renderer = Substitute::new(PlainYaml::new())
    ///     .with_var("ENV", "staging")
    ///     .with_var("ENV", "prod");
    /// assert_eq!(renderer.vars()["ENV"], "prod");
    /// ```
    #[must_use]
    pub fn with_var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// Sets several variables; later values replace earlier ones, as later `substituteFrom`
    /// sources and then `substitute` do in Flux.
    ///
    /// ```
    /// use converge_render::{PlainYaml, Substitute};
    /// use std::collections::BTreeMap;
    ///
    /// let from_config_map = BTreeMap::from([("ENV", "staging"), ("REGION", "eu-west-1")]);
    /// let renderer = Substitute::new(PlainYaml::new())
    ///     .with_vars(from_config_map)
    ///     .with_vars([("ENV", "prod")]);
    /// assert_eq!(renderer.vars()["ENV"], "prod");
    /// assert_eq!(renderer.vars()["REGION"], "eu-west-1");
    /// ```
    #[must_use]
    pub fn with_vars<K, V>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.vars
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// In strict mode, a reference to a variable that is not set and has no default fails
    /// the render (Flux's `StrictPostBuildSubstitutions` feature gate); otherwise it becomes
    /// the empty string.
    ///
    /// ```
    /// use converge_render::{PlainYaml, Substitute};
    ///
    /// let renderer = Substitute::new(PlainYaml::new()).strict(true);
    /// assert!(renderer.is_strict());
    /// ```
    #[must_use]
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// The variables.
    ///
    /// ```
    /// use converge_render::{PlainYaml, Substitute};
    ///
    /// let renderer = Substitute::new(PlainYaml::new()).with_var("ENV", "prod");
    /// assert_eq!(renderer.vars().len(), 1);
    /// ```
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    /// Whether the renderer is strict; see [`Substitute::strict`].
    ///
    /// ```
    /// use converge_render::{PlainYaml, Substitute};
    ///
    /// assert!(!Substitute::new(PlainYaml::new()).is_strict());
    /// ```
    pub fn is_strict(&self) -> bool {
        self.strict
    }
}

impl fmt::Debug for Substitute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Substitute")
            .field("inner", &self.inner)
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .field("strict", &self.strict)
            .finish()
    }
}

#[async_trait]
impl Renderer for Substitute {
    async fn render(&self, tree: &dyn FileTree, path: &str) -> Result<Vec<Manifest>, Error> {
        let manifests = self.inner.render(tree, path).await?;
        let manifests = substitute_manifests(manifests, &self.vars, self.strict)?;
        index_by_key(&manifests)?;
        Ok(manifests)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(text: &str, strict: bool) -> Result<String, String> {
        let vars = BTreeMap::from([
            ("A".to_owned(), "a".to_owned()),
            ("EMPTY".to_owned(), String::new()),
        ]);
        substitute_text("t", text, &vars, strict).map_err(|e| match e {
            Error::Substitution { message, .. } => message,
            other => other.to_string(),
        })
    }

    #[test]
    fn names() {
        for good in ["A", "_", "a_1", "_9", "Abc_DEF"] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in ["", "1a", "a-b", "a.b", "é", "a b"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn dollars_that_are_not_references_stay() {
        for text in ["$", "$$", "a$", "$A", "$(A)", "$1", "$ {A}", "}", "$}{"] {
            assert_eq!(expand(text, true).as_deref(), Ok(text), "{text}");
        }
    }

    #[test]
    fn escapes_and_references_next_to_each_other() {
        assert_eq!(expand("${A}${A}$${A}${A}", true).as_deref(), Ok("aa${A}a"));
        // `$${` is the escape wherever it is, even without a closing brace.
        assert_eq!(expand("$${A $${", true).as_deref(), Ok("${A ${"));
        // `$$${A}`: a lone `$`, then the escape.
        assert_eq!(expand("$$${A}", true).as_deref(), Ok("$${A}"));
    }

    #[test]
    fn defaults_nest_and_may_be_empty() {
        assert_eq!(expand("${X:=${A}-${EMPTY:-e}}", true).as_deref(), Ok("a-e"));
        assert_eq!(expand("${X:-}|${A:-}", true).as_deref(), Ok("|a"));
        // The escape's `{` opens nothing: the first `}` ends the default, the second is text.
        assert_eq!(expand("${X:=$${A}}", true).as_deref(), Ok("${A}"));
        assert_eq!(expand("${A:=$${B}}", true).as_deref(), Ok("a}"));
        // Defaults are substituted even when unused, so strict mode sees their references.
        assert_eq!(
            expand("${A:=${MISSING}}", true).expect_err("must fail"),
            r#"variable not set (strict mode): "MISSING""#
        );
        assert_eq!(expand("${A:=${MISSING}}", false).as_deref(), Ok("a"));
    }

    #[test]
    fn refusals_quote_the_reference() {
        assert_eq!(
            expand("x: ${A^^}", true).expect_err("must fail"),
            "unsupported expansion \"${A^^}\": only ${VAR}, ${VAR:=default}, ${VAR:-default}, \
             ${VAR=default} and ${VAR-default} are substituted (write $${ for a literal ${)"
        );
        assert!(
            expand("${#A}", true)
                .expect_err("must fail")
                .starts_with("unsupported expansion \"${#A}\"")
        );
        assert!(
            expand("${A:1:2}", true)
                .expect_err("must fail")
                .starts_with("unsupported")
        );
        assert!(
            expand("${A/x/y}", true)
                .expect_err("must fail")
                .starts_with("unsupported")
        );
        assert_eq!(
            expand("${}", true).expect_err("must fail"),
            "invalid variable name in \"${}\": a name must match ^[_a-zA-Z][_a-zA-Z0-9]*$"
        );
        assert!(
            expand("${1A^}", true)
                .expect_err("must fail")
                .starts_with("invalid variable name in \"${1A^}\"")
        );
        assert_eq!(
            expand("${A:=x\nmore", true).expect_err("must fail"),
            "missing closing brace: \"${A:=x\" has no matching }"
        );
        assert_eq!(
            expand("${a.b", true).expect_err("must fail"),
            "missing closing brace: \"${a.b\" has no matching }"
        );
        let long = format!("${{{}", "A".repeat(100));
        assert_eq!(
            expand(&long, true).expect_err("must fail"),
            format!(
                "missing closing brace: \"${{{}…\" has no matching }}",
                "A".repeat(58)
            )
        );
    }

    #[test]
    fn disabled_by_label_or_annotation() {
        let with = |field: &str, value: &str| serde_json::json!({"metadata": {field: {SUBSTITUTE_ANNOTATION: value}}});
        assert!(is_disabled(&with("labels", "disabled")));
        assert!(is_disabled(&with("annotations", "disabled")));
        assert!(!is_disabled(&with("annotations", "enabled")));
        assert!(!is_disabled(&serde_json::json!({"metadata": {}})));
    }
}
