//! A git remote as a source, on gix.

mod auth;
mod tree;
mod verify;

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use gix::bstr::ByteSlice;
use gix::protocol::handshake::Ref;
use gix::remote::Direction;
use gix::remote::fetch::Shallow;
use sha2::{Digest, Sha256};

use crate::semver::{Range, SemverError, Version};
use crate::{CommitInfo, Error, Reference, Revision, Snapshot, Source, glob_match};
pub use auth::SshAuth;
use auth::{HttpSettings, SshCommand};
pub use tree::GitTree;
use verify::Verifier;
pub use verify::{Verification, VerifyMode};

/// Options of a [`GitSource`].
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct GitOptions {
    /// Directory for the local cache of the remote (a bare repository). `None` keeps it in a
    /// temporary directory that lives as long as the source. Keep it across runs and polls
    /// move only new objects.
    pub cache_dir: Option<PathBuf>,
    /// HTTP basic-auth user and password (a token in the password, for most forges), sent
    /// when the server asks. Never shown: `Debug` prints `***`.
    pub basic_auth: Option<(String, String)>,
    /// An HTTP bearer token, sent as `Authorization: Bearer …` with every request over
    /// HTTPS (and refused over plain `http://`). Never shown.
    pub bearer_token: Option<String>,
    /// CA certificates (PEM) trusted for HTTPS besides the system's: for a git server with a
    /// private CA.
    pub ca_certificates: Option<Vec<u8>>,
    /// SSH key, passphrase and known hosts for `ssh://` and `user@host:path` URLs.
    pub ssh: Option<SshAuth>,
    /// Signatures required of fetched revisions, and the keys trusted to make them.
    pub verification: Option<Verification>,
}

impl std::fmt::Debug for GitOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitOptions")
            .field("cache_dir", &self.cache_dir)
            .field(
                "basic_auth",
                &self.basic_auth.as_ref().map(|(user, _)| (user, "***")),
            )
            .field("bearer_token", &self.bearer_token.as_ref().map(|_| "***"))
            .field(
                "ca_certificates",
                &self.ca_certificates.as_ref().map(|pem| pem.len()),
            )
            .field("ssh", &self.ssh)
            .field("verification", &self.verification)
            .finish()
    }
}

impl GitOptions {
    /// Keeps the cache in `dir` (one bare repository per remote inside it).
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Authenticates over HTTP(S) with basic auth.
    ///
    /// ```
    /// use converge_source::GitOptions;
    /// let options = GitOptions::default().with_basic_auth("ci", "glpat-s3cret");
    /// assert!(!format!("{options:?}").contains("s3cret"));
    /// ```
    pub fn with_basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.basic_auth = Some((user.into(), password.into()));
        self
    }

    /// Authenticates over HTTP(S) with basic auth read from the environment variables
    /// `user_var` and `password_var`; unchanged when either is unset.
    pub fn with_basic_auth_from_env(self, user_var: &str, password_var: &str) -> Self {
        match (std::env::var(user_var), std::env::var(password_var)) {
            (Ok(user), Ok(password)) => self.with_basic_auth(user, password),
            _ => self,
        }
    }

    /// Authenticates over HTTPS with a bearer token (`Authorization: Bearer <token>`), as
    /// Flux's `bearerToken` secret key does.
    ///
    /// ```
    /// use converge_source::GitOptions;
    /// let options = GitOptions::default().with_bearer_token("ghs_s3cret");
    /// assert!(!format!("{options:?}").contains("s3cret"));
    /// ```
    pub fn with_bearer_token(mut self, token: impl Into<String>) -> Self {
        self.bearer_token = Some(token.into());
        self
    }

    /// Authenticates over HTTPS with the bearer token in the environment variable `var`;
    /// unchanged when it is unset.
    pub fn with_bearer_token_from_env(self, var: &str) -> Self {
        match std::env::var(var) {
            Ok(token) => self.with_bearer_token(token),
            Err(_) => self,
        }
    }

    /// Trusts the CA certificates in `pem` (one or more PEM blocks) for HTTPS, besides the
    /// system's roots.
    pub fn with_ca_certificates(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_certificates = Some(pem.into());
        self
    }

    /// Connects over SSH with `auth`'s key and known hosts.
    pub fn with_ssh(mut self, auth: SshAuth) -> Self {
        self.ssh = Some(auth);
        self
    }

    /// Requires signed revisions: [`Source::fetch`] refuses a revision whose commit (or tag,
    /// by [`VerifyMode`]) is not signed by one of `verification`'s keys.
    pub fn with_verification(mut self, verification: Verification) -> Self {
        self.verification = Some(verification);
        self
    }
}

/// A git remote as a source: a local path, a `file://` URL, `git://`, or smart HTTP(S).
///
/// [`Source::fetch`] brings the remote's branches and tags (and the one ref asked for, when it
/// lies elsewhere) into a local bare cache and reads the wanted commit's tree straight from the
/// object database, with no checkout; a commit already in the cache moves no objects.
/// [`Source::resolve`] costs one ref listing. Both run git work on tokio's blocking pool, so
/// they need a tokio runtime.
///
/// Credentials in the URL never show: not in errors, not in `Debug`, not in
/// [`GitSource::url`].
///
/// ```no_run
/// use converge_source::{GitSource, Reference, Source};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let source = GitSource::new("file:///srv/git/fleet.git")?;
/// let snapshot = source.fetch(&Reference::Branch("main".into())).await?;
/// println!("{}", snapshot.revision); // main@sha1:…
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct GitSource {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GitSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitSource")
            .field("url", &self.inner.shown_url)
            .field("cache", &self.inner.cache)
            .finish_non_exhaustive()
    }
}

struct Inner {
    /// The URL gix connects to, credentials included: never shown.
    remote_url: String,
    shown_url: String,
    cache: PathBuf,
    /// The temporary directory holding `cache` when no cache directory was configured;
    /// removed with the source.
    _temp: Option<tempfile::TempDir>,
    lock: Mutex<()>,
    basic_auth: Option<(String, String)>,
    http: HttpSettings,
    /// The `ssh` wrapper, for SSH remotes only.
    ssh: Option<SshCommand>,
    verifier: Option<Verifier>,
}

impl GitSource {
    /// A source for the remote `url`: a path to a repository (bare or not) or a `file://` URL.
    ///
    /// # Errors
    /// [`Error::Cache`] when the temporary cache cannot be created.
    pub fn new(url: impl Into<String>) -> Result<Self, Error> {
        GitSource::with_options(url, GitOptions::default())
    }

    /// A source for `url` with `options`.
    ///
    /// # Errors
    /// [`Error::Cache`] when the cache directory cannot be created.
    pub fn with_options(url: impl Into<String>, options: GitOptions) -> Result<Self, Error> {
        install_tls_provider();
        let url = normalize_url(url.into());
        let shown_url = redact(&url);
        let cache_error = |path: &Path, e: std::io::Error| Error::Cache {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let (base, temp) = match options.cache_dir {
            Some(dir) => {
                std::fs::create_dir_all(&dir).map_err(|e| cache_error(&dir, e))?;
                (dir, None)
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("converge-git-")
                    .tempdir()
                    .map_err(|e| cache_error(&std::env::temp_dir(), e))?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        // One cache per remote, named by a stable hash of the URL without credentials, so a
        // rotated token or a new toolchain finds the same cache.
        let digest = Sha256::digest(shown_url.as_bytes());
        let name: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        let cache = base.join(format!("{name}.git"));
        let http = HttpSettings {
            bearer_token: options.bearer_token,
            ca_certificates: options.ca_certificates,
        };
        http.validate()?;
        let ssh = if is_ssh(&url) {
            Some(SshCommand::new(options.ssh.as_ref())?)
        } else {
            None
        };
        let verifier = options
            .verification
            .as_ref()
            .map(Verifier::new)
            .transpose()?;
        Ok(GitSource {
            inner: Arc::new(Inner {
                remote_url: url,
                shown_url,
                cache,
                _temp: temp,
                lock: Mutex::new(()),
                basic_auth: options.basic_auth,
                http,
                ssh,
                verifier,
            }),
        })
    }

    /// The remote's URL, without credentials.
    pub fn url(&self) -> &str {
        &self.inner.shown_url
    }

    /// The bare repository this source caches the remote in.
    pub fn cache_path(&self) -> &Path {
        &self.inner.cache
    }
}

#[async_trait]
impl Source for GitSource {
    async fn resolve(&self, reference: &Reference) -> Result<Revision, Error> {
        let inner = Arc::clone(&self.inner);
        let reference = reference.clone();
        self.blocking(move || inner.resolve(&reference)).await
    }

    async fn fetch(&self, reference: &Reference) -> Result<Snapshot, Error> {
        let inner = Arc::clone(&self.inner);
        let reference = reference.clone();
        self.blocking(move || inner.fetch(&reference)).await
    }

    /// The matching branches from one ref listing: no objects move.
    async fn branches(&self, pattern: &str) -> Result<Vec<Revision>, Error> {
        let inner = Arc::clone(&self.inner);
        let pattern = pattern.to_owned();
        self.blocking(move || inner.branches(&pattern)).await
    }
}

impl GitSource {
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| self.inner.git_error(format!("the git worker stopped: {e}")))?
    }
}

/// The cache held: released (mutex and file lock) when dropped.
struct CacheGuard<'a> {
    _in_process: std::sync::MutexGuard<'a, ()>,
    _file: std::fs::File,
}

/// Why a fetch failed: the remote or the request (reported as it is), or a cache whose objects
/// cannot be read (rebuilt and fetched again).
enum Fetch {
    Failed(Error),
    Unreadable(Error),
}

impl Fetch {
    fn into_error(self) -> Error {
        match self {
            Fetch::Failed(e) | Fetch::Unreadable(e) => e,
        }
    }
}

impl From<Error> for Fetch {
    fn from(e: Error) -> Fetch {
        Fetch::Failed(e)
    }
}

/// Makes ring rustls' process-wide crypto provider, once, unless the program chose one: the
/// HTTPS transport needs one, and kube's TLS uses ring too.
fn install_tls_provider() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // An error means a provider is installed already: that one is used.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// What a reference names: a ref the remote advertised, or a commit id only the object
/// database can answer for.
enum Target {
    Ref(Resolved),
    Commit(String),
}

/// What a ref resolved to on the remote.
struct Resolved {
    /// Branch, tag or ref name to show in the revision.
    name: Option<String>,
    /// The full name of the ref on the remote (`refs/heads/main`, `HEAD`).
    full_name: String,
    /// The object the ref points at, peeled through annotated tags.
    object: gix::ObjectId,
    /// The annotated tag object on the way, if any.
    tag: Option<gix::ObjectId>,
}

impl Inner {
    fn git_error(&self, err: impl std::fmt::Display) -> Error {
        Error::Git {
            url: self.shown_url.clone(),
            message: redact(&err.to_string()),
        }
    }

    fn gix_error(&self, err: gix::Error) -> Error {
        let mut message = String::new();
        for cause in err.iter_errors() {
            let text = cause.to_string();
            if !message.contains(&text) {
                if !message.is_empty() {
                    message.push_str(": ");
                }
                message.push_str(&text);
            }
        }
        if message.contains("No credentials were returned") {
            // gix's words for a 401 that no configured credential answers.
            message = if self.http.bearer_token.is_some() {
                "the server refused the bearer token (HTTP 401)".to_owned()
            } else {
                "the server asks for credentials (HTTP 401) and none are configured".to_owned()
            };
        }
        if let Some(said) = self.ssh.as_ref().map(SshCommand::last_message)
            && !said.is_empty()
        {
            message.push_str(": ssh: ");
            message.push_str(&said);
        }
        self.git_error(message)
    }

    /// Holds the cache for one task: the source's own tasks wait on a mutex, other sources and
    /// other processes on the same cache on a file lock beside it (`<cache>.lock`).
    fn lock_cache(&self) -> Result<CacheGuard<'_>, Error> {
        let in_process = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut path = self.cache.clone().into_os_string();
        path.push(".lock");
        let cache_err = |e: std::io::Error| Error::Cache {
            path: self.cache.display().to_string(),
            message: format!("locking: {e}"),
        };
        if let Some(parent) = self.cache.parent() {
            std::fs::create_dir_all(parent).map_err(cache_err)?;
        }
        let file = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(cache_err)?;
        file.lock().map_err(cache_err)?;
        Ok(CacheGuard {
            _in_process: in_process,
            _file: file,
        })
    }

    fn open_cache(&self) -> Result<gix::Repository, Error> {
        let cache_err = |message: String| Error::Cache {
            path: self.cache.display().to_string(),
            message,
        };
        if self.cache.join("HEAD").is_file()
            && let Ok(repo) = gix::open(&self.cache)
        {
            return Ok(repo);
        }
        // Missing, half-created or corrupt: start again.
        if self.cache.exists() {
            std::fs::remove_dir_all(&self.cache).map_err(|e| cache_err(e.to_string()))?;
        }
        gix::init_bare(&self.cache).map_err(|e| cache_err(e.to_string()))
    }

    /// The connection, set up with this source's transport settings (HTTP bearer token and CA
    /// certificates), answering the server's credential requests with the configured basic
    /// auth, or with none: credentials come from configuration only, never from git's
    /// credential helpers or a prompt, which would hang an unattended controller.
    fn prepared<'a, 'repo, T>(
        &'a self,
        repo: &gix::Repository,
        connection: gix::remote::Connection<'a, 'a, 'repo, T>,
    ) -> gix::remote::Connection<'a, 'a, 'repo, T>
    where
        T: gix::protocol::transport::client::blocking_io::Transport,
    {
        let configured = self.basic_auth.clone();
        let mut connection =
            connection.with_credentials(move |action| match (action, &configured) {
                (gix::credentials::helper::Action::Get(context), Some((user, password))) => {
                    Ok(Some(gix::credentials::protocol::Outcome {
                        identity: gix::sec::identity::Account {
                            username: user.clone(),
                            password: password.clone(),
                            oauth_refresh_token: None,
                        },
                        next: context.into(),
                    }))
                }
                _ => Ok(None),
            });
        if is_http(&self.remote_url) {
            let from_config = repo
                .transport_options(self.remote_url.as_str(), None)
                .ok()
                .flatten();
            if let Some(options) = self.http.transport_options(from_config) {
                connection = connection.with_transport_options(options);
            }
        }
        connection
    }

    /// `repo` set up to reach the remote over SSH through this source's `ssh` wrapper; `repo`
    /// itself for other transports.
    fn with_transport(&self, repo: &gix::Repository) -> Result<gix::Repository, Error> {
        let mut repo = repo.clone();
        if let Some(ssh) = &self.ssh {
            ssh.clear_message();
            let program = ssh.program();
            let mut config = repo.config_snapshot_mut();
            config
                .set_value(
                    &gix::config::tree::Core::SSH_COMMAND,
                    program.to_string_lossy().as_ref(),
                )
                .map_err(|e| self.gix_error(e))?;
            config
                .set_value(&gix::config::tree::Ssh::VARIANT, "ssh")
                .map_err(|e| self.gix_error(e))?;
            config.commit().map_err(|e| self.gix_error(e))?;
        }
        Ok(repo)
    }

    /// Lists the remote's refs (one ref listing, no objects moved).
    fn list_refs(&self, repo: &gix::Repository) -> Result<Vec<Ref>, Error> {
        let repo = self.with_transport(repo)?;
        let remote = self.remote(&repo, None)?;
        let connection = remote
            .connect(Direction::Fetch)
            .map_err(|e| self.gix_error(e))?;
        let (ref_map, _handshake) = self
            .prepared(&repo, connection)
            .ref_map(gix::progress::Discard, list_all())
            .map_err(|e| self.gix_error(e))?;
        Ok(ref_map.remote_refs)
    }

    /// The remote with refspecs for its branches and tags, and for `extra` (a full ref name
    /// outside those) when given.
    fn remote<'r>(
        &self,
        repo: &'r gix::Repository,
        extra: Option<&str>,
    ) -> Result<gix::Remote<'r>, Error> {
        let mut specs = vec![
            "+refs/heads/*:refs/heads/*".to_owned(),
            "+refs/tags/*:refs/tags/*".to_owned(),
        ];
        match extra {
            Some(name) if name.starts_with("refs/heads/") || name.starts_with("refs/tags/") => {}
            Some("HEAD") => specs.push("+HEAD:refs/converge/HEAD".to_owned()),
            Some(name) => specs.push(format!("+{name}:{name}")),
            None => {}
        }
        repo.remote_at(self.remote_url.as_str())
            .map_err(|e| self.gix_error(e))?
            .with_refspecs(specs.iter().map(String::as_str), Direction::Fetch)
            .map_err(|e| self.gix_error(e))
            .map(|r| r.with_fetch_tags(gix::remote::fetch::Tags::None))
    }

    fn resolve(&self, reference: &Reference) -> Result<Revision, Error> {
        let guard = self.lock_cache()?;
        let repo = self.open_cache()?;
        match self.resolve_on_remote(reference, &self.list_refs(&repo)?)? {
            Target::Ref(resolved) => Ok(Revision::new(
                resolved.name,
                format!("sha1:{}", resolved.object),
            )),
            Target::Commit(_) => {
                // A commit id: only the fetched objects can tell whether it exists.
                drop(guard);
                Ok(self.fetch(reference)?.revision)
            }
        }
    }

    fn branches(&self, pattern: &str) -> Result<Vec<Revision>, Error> {
        let _guard = self.lock_cache()?;
        let repo = self.open_cache()?;
        let mut branches: Vec<Revision> = self
            .list_refs(&repo)?
            .iter()
            .filter_map(|r| {
                let full = ref_name(r).to_str().ok()?;
                let name = full.strip_prefix("refs/heads/")?;
                let id = peeled(r, full)?;
                glob_match(pattern, name)
                    .then(|| Revision::new(Some(name.to_owned()), format!("sha1:{id}")))
            })
            .collect();
        branches.sort_by(|a, b| a.name().cmp(&b.name()));
        Ok(branches)
    }

    /// Resolves `reference` against the advertised refs.
    fn resolve_on_remote(&self, reference: &Reference, refs: &[Ref]) -> Result<Target, Error> {
        let found = |full: &str, name: &str| {
            refs.iter()
                .find_map(|r| peeled(r, full).map(|object| (object, tag_object(r))))
                .map(|(object, tag)| {
                    Target::Ref(Resolved {
                        name: Some(name.to_owned()),
                        full_name: full.to_owned(),
                        object,
                        tag,
                    })
                })
        };
        let not_found = |wanted: &str, prefix: &str| Error::RefNotFound {
            reference: reference.to_string(),
            url: self.shown_url.clone(),
            candidates: candidates(refs, wanted, prefix),
        };
        match reference {
            Reference::Default => {
                let head = refs.iter().find_map(|r| match r {
                    Ref::Symbolic {
                        full_ref_name,
                        target,
                        object,
                        ..
                    } if full_ref_name == "HEAD" => Some(Resolved {
                        name: Some(short_name(target.to_str_lossy().as_ref())),
                        full_name: "HEAD".to_owned(),
                        object: *object,
                        tag: None,
                    }),
                    // A detached HEAD: the revision is named after HEAD itself.
                    Ref::Direct {
                        full_ref_name,
                        object,
                    } if full_ref_name == "HEAD" => Some(Resolved {
                        name: Some("HEAD".to_owned()),
                        full_name: "HEAD".to_owned(),
                        object: *object,
                        tag: None,
                    }),
                    _ => None,
                });
                head.map(Target::Ref)
                    .ok_or_else(|| not_found("", "refs/heads/"))
            }
            Reference::Branch(branch) => found(&format!("refs/heads/{branch}"), branch)
                .ok_or_else(|| not_found(branch, "refs/heads/")),
            Reference::Tag(tag) => {
                found(&format!("refs/tags/{tag}"), tag).ok_or_else(|| not_found(tag, "refs/tags/"))
            }
            Reference::Semver(range) => {
                let parsed: Range =
                    range
                        .parse()
                        .map_err(|e: SemverError| Error::InvalidReference {
                            reference: reference.to_string(),
                            reason: e.to_string(),
                        })?;
                let tags = refs
                    .iter()
                    .filter_map(|r| ref_name(r).to_str().ok())
                    .filter_map(|name| name.strip_prefix("refs/tags/"))
                    .filter(|name| !name.ends_with("^{}"));
                match parsed.highest(tags) {
                    Some((tag, _)) => found(&format!("refs/tags/{tag}"), tag)
                        .ok_or_else(|| not_found(tag, "refs/tags/")),
                    None => Err(Error::RefNotFound {
                        reference: format!("a tag in {reference}"),
                        url: self.shown_url.clone(),
                        candidates: version_tags(refs),
                    }),
                }
            }
            Reference::Commit(id) => {
                check_commit_id(id).map_err(|reason| Error::RefNotFound {
                    reference: format!("{reference} ({reason})"),
                    url: self.shown_url.clone(),
                    candidates: Vec::new(),
                })?;
                Ok(Target::Commit(id.clone()))
            }
            Reference::Any(name) => {
                // The order of `git rev-parse` (gitrevisions(7)): the name itself when it is
                // HEAD or a full ref name, then refs/, tags, branches, remote-tracking branches.
                let mut tries = Vec::new();
                if name == "HEAD" || name.starts_with("refs/") {
                    tries.push(name.clone());
                }
                for prefix in ["refs/", "refs/tags/", "refs/heads/", "refs/remotes/"] {
                    tries.push(format!("{prefix}{name}"));
                }
                tries.push(format!("refs/remotes/{name}/HEAD"));
                if let Some(target) = tries.iter().find_map(|full| found(full, name)) {
                    return Ok(target);
                }
                if check_commit_id(name).is_ok() {
                    return Ok(Target::Commit(name.clone()));
                }
                Err(not_found(name, "refs/heads/"))
            }
        }
    }

    /// The file a snapshot's tree writes beside the cache when it cannot read a blob.
    fn damage_marker(&self) -> PathBuf {
        let mut path = self.cache.clone().into_os_string();
        path.push(".damaged");
        PathBuf::from(path)
    }

    fn fetch(&self, reference: &Reference) -> Result<Snapshot, Error> {
        let _guard = self.lock_cache()?;
        let marker = self.damage_marker();
        if marker.exists() {
            // A snapshot could not read a blob the cache claimed: start again.
            self.remove_cache()?;
            std::fs::remove_file(&marker).map_err(|e| Error::Cache {
                path: self.cache.display().to_string(),
                message: format!("removing {}: {e}", marker.display()),
            })?;
        }
        match self.fetch_into_cache(reference) {
            // Objects the cache says it has but cannot read: a corrupt cache. Start again
            // from the remote, once.
            Err(Fetch::Unreadable(_)) => {
                self.remove_cache()?;
                self.fetch_into_cache(reference).map_err(Fetch::into_error)
            }
            other => other.map_err(Fetch::into_error),
        }
    }

    fn remove_cache(&self) -> Result<(), Error> {
        match std::fs::remove_dir_all(&self.cache) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Cache {
                path: self.cache.display().to_string(),
                message: format!("removing a corrupt cache: {e}"),
            }),
            _ => Ok(()),
        }
    }

    fn fetch_into_cache(&self, reference: &Reference) -> Result<Snapshot, Fetch> {
        let repo = self.open_cache()?;
        let (name, object, tag) = self.bring(&repo, reference)?;
        let unreadable = |e: gix::Error| Fetch::Unreadable(self.gix_error(e));
        let repo = gix::open(&self.cache).map_err(unreadable)?;
        if let Some(verifier) = &self.verifier {
            self.verify(verifier, &repo, reference, object, tag)?;
        }

        let (commit_id, info, tree_id) = {
            let found = repo.find_object(object).map_err(unreadable)?;
            let kind = found.kind;
            let commit = found.peel_to_commit().map_err(|_| Error::NotACommit {
                reference: reference.to_string(),
                url: self.shown_url.clone(),
                kind: kind.to_string(),
            })?;
            let info = commit_info(&commit).map_err(unreadable)?;
            let tree_id = commit.tree_id().map_err(unreadable)?.detach();
            (commit.id, info, tree_id)
        };
        let tree =
            GitTree::new(repo.into_sync(), tree_id, self.damage_marker()).map_err(unreadable)?;
        Ok(Snapshot::new(
            Revision::new(name, format!("sha1:{commit_id}")),
            Arc::new(tree),
            Some(info),
        ))
    }

    /// Checks the signatures `verifier` asks for: of the annotated tag `tag` and of the commit
    /// `object` points at.
    fn verify(
        &self,
        verifier: &Verifier,
        repo: &gix::Repository,
        reference: &Reference,
        object: gix::ObjectId,
        tag: Option<gix::ObjectId>,
    ) -> Result<(), Fetch> {
        let refused = |what: String, reason: String| {
            Fetch::Failed(Error::Verification {
                reference: reference.to_string(),
                url: self.shown_url.clone(),
                object: what,
                reason,
            })
        };
        let unreadable = |e: gix::Error| Fetch::Unreadable(self.gix_error(e));
        let mode = verifier.mode();
        if matches!(mode, VerifyMode::Tag | VerifyMode::TagAndHead) {
            let Some(tag) = tag else {
                return Err(refused(
                    format!("commit {object}"),
                    "tag verification needs an annotated tag, and the reference names none"
                        .to_owned(),
                ));
            };
            let found = repo.find_object(tag).map_err(unreadable)?;
            verifier
                .verify(found.kind, &found.data, repo.object_hash())
                .map_err(|reason| refused(format!("tag object {tag}"), reason))?;
        }
        if matches!(mode, VerifyMode::Head | VerifyMode::TagAndHead) {
            let commit = repo
                .find_object(object)
                .map_err(unreadable)?
                .peel_to_kind(gix::object::Kind::Commit)
                .map_err(unreadable)?;
            verifier
                .verify(commit.kind, &commit.data, repo.object_hash())
                .map_err(|reason| refused(format!("commit {}", commit.id), reason))?;
        }
        Ok(())
    }

    /// Resolves `reference` from the remote's ref listing and, on the same connection, fetches
    /// what the cache lacks of it: the name to show, the commit (or tag) object, and the
    /// annotated tag on the way. Nothing moves when the cache has it all.
    fn bring(
        &self,
        cache: &gix::Repository,
        reference: &Reference,
    ) -> Result<(Option<String>, gix::ObjectId, Option<gix::ObjectId>), Error> {
        let repo = self.with_transport(cache)?;
        let remote = self.remote(&repo, None)?;
        let connection = remote
            .connect(Direction::Fetch)
            .map_err(|e| self.gix_error(e))?;
        let prepare = self
            .prepared(&repo, connection)
            .prepare_fetch(gix::progress::Discard, list_all())
            .map_err(|e| self.gix_error(e))?;
        let receive = |prepare: gix::remote::fetch::Prepare<'_, '_, _>, shallow: Shallow| {
            prepare
                .with_shallow(shallow)
                .receive(gix::progress::Discard, &AtomicBool::new(false))
                .map(drop)
                .map_err(|e| self.gix_error(e))
        };
        match self.resolve_on_remote(reference, &prepare.ref_map().remote_refs)? {
            Target::Ref(resolved) => {
                let missing_tag = resolved.tag.is_some_and(|tag| !repo.has_object(tag))
                    && self.verifier.is_some();
                if !repo.has_object(resolved.object) || missing_tag {
                    let mapped = ["refs/heads/", "refs/tags/"]
                        .iter()
                        .any(|prefix| resolved.full_name.starts_with(prefix));
                    if mapped {
                        receive(prepare, Shallow::DepthAtRemote(NonZeroU32::MIN))?;
                    } else {
                        // A ref outside branches and tags needs a refspec of its own.
                        drop(prepare);
                        self.receive(&repo, &resolved.full_name)?;
                    }
                }
                Ok((resolved.name, resolved.object, resolved.tag))
            }
            Target::Commit(id) => {
                if let Ok(Some(found)) = self.find_commit_id(&repo, &id) {
                    return Ok((None, found, None));
                }
                // A commit may lie anywhere in the history of the branches: all of it.
                receive(prepare, Shallow::undo())?;
                let repo = gix::open(&self.cache).map_err(|e| self.gix_error(e))?;
                let object =
                    self.find_commit_id(&repo, &id)?
                        .ok_or_else(|| Error::RefNotFound {
                            reference: reference.to_string(),
                            url: self.shown_url.clone(),
                            candidates: Vec::new(),
                        })?;
                Ok((None, object, None))
            }
        }
    }

    /// The object a commit id (or unambiguous prefix) names in the cache; `Ok(None)` when the
    /// cache does not have it.
    fn find_commit_id(
        &self,
        repo: &gix::Repository,
        id: &str,
    ) -> Result<Option<gix::ObjectId>, Error> {
        let Ok(prefix) = gix::hash::Prefix::from_hex(id) else {
            return Ok(None);
        };
        match repo.objects.lookup_prefix(prefix, None) {
            Ok(Some(Ok(found))) => Ok(Some(found)),
            Ok(Some(Err(()))) => Err(Error::RefNotFound {
                reference: format!("commit {id} (ambiguous: several objects start with it)"),
                url: self.shown_url.clone(),
                candidates: Vec::new(),
            }),
            Ok(None) => Ok(None),
            Err(e) => Err(self.git_error(e)),
        }
    }

    /// Fetches the remote's branches and tags and the ref `extra`, at depth 1, into the cache
    /// on a connection of its own.
    fn receive(&self, repo: &gix::Repository, extra: &str) -> Result<(), Error> {
        let shallow = Shallow::DepthAtRemote(NonZeroU32::MIN);
        let remote = self.remote(repo, Some(extra))?;
        let connection = remote
            .connect(Direction::Fetch)
            .map_err(|e| self.gix_error(e))?;
        self.prepared(repo, connection)
            .prepare_fetch(gix::progress::Discard, Default::default())
            .map_err(|e| self.gix_error(e))?
            .with_shallow(shallow)
            .receive(gix::progress::Discard, &AtomicBool::new(false))
            .map_err(|e| self.gix_error(e))?;
        Ok(())
    }
}

fn list_all() -> gix::remote::ref_map::Options {
    gix::remote::ref_map::Options {
        prefix_from_spec_as_filter_on_remote: false,
        ..Default::default()
    }
}

/// The commit `r` points at when its name is `full`.
fn peeled(r: &Ref, full: &str) -> Option<gix::ObjectId> {
    match r {
        Ref::Peeled {
            full_ref_name,
            object,
            ..
        }
        | Ref::Direct {
            full_ref_name,
            object,
        }
        | Ref::Symbolic {
            full_ref_name,
            object,
            ..
        } if full_ref_name == full => Some(*object),
        _ => None,
    }
}

/// The annotated tag object `r` points at, if it does.
fn tag_object(r: &Ref) -> Option<gix::ObjectId> {
    match r {
        Ref::Peeled { tag, .. } => Some(*tag),
        _ => None,
    }
}

fn ref_name(r: &Ref) -> &gix::bstr::BStr {
    match r {
        Ref::Peeled { full_ref_name, .. }
        | Ref::Direct { full_ref_name, .. }
        | Ref::Symbolic { full_ref_name, .. }
        | Ref::Unborn { full_ref_name, .. } => full_ref_name.as_ref(),
    }
}

fn short_name(full: &str) -> String {
    full.strip_prefix("refs/heads/")
        .or_else(|| full.strip_prefix("refs/tags/"))
        .unwrap_or(full)
        .to_owned()
}

/// Names under `prefix` that look like `wanted`, closest first (at most five).
fn candidates(refs: &[Ref], wanted: &str, prefix: &str) -> Vec<String> {
    let mut names: Vec<(usize, String)> = refs
        .iter()
        .filter_map(|r| ref_name(r).to_str().ok())
        .filter_map(|name| name.strip_prefix(prefix))
        .map(|name| (edit_distance(wanted, name), name.to_owned()))
        .filter(|(distance, name)| {
            wanted.is_empty() || *distance <= wanted.len().max(name.len()) / 2
        })
        .collect();
    names.sort();
    names.into_iter().take(5).map(|(_, name)| name).collect()
}

/// The highest version tags, for an error that found none in a range.
fn version_tags(refs: &[Ref]) -> Vec<String> {
    let mut versions: Vec<(Version, String)> = refs
        .iter()
        .filter_map(|r| ref_name(r).to_str().ok())
        .filter_map(|name| name.strip_prefix("refs/tags/"))
        .filter_map(|tag| tag.parse().ok().map(|v| (v, tag.to_owned())))
        .collect();
    versions.sort();
    versions.dedup_by(|a, b| a.1 == b.1);
    versions
        .into_iter()
        .rev()
        .take(5)
        .map(|(_, tag)| tag)
        .collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn check_commit_id(id: &str) -> Result<(), &'static str> {
    if id.len() < 7 || id.len() > 40 {
        return Err("a commit id has 7 to 40 hex digits");
    }
    if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("not a hex commit id");
    }
    Ok(())
}

fn commit_info(commit: &gix::Commit<'_>) -> Result<CommitInfo, gix::Error> {
    let author = commit.author()?;
    let time = author.time()?.seconds;
    Ok(CommitInfo {
        author: format!("{} <{}>", author.name, author.email),
        time,
        message: commit.message_raw_sloppy().to_str_lossy().into_owned(),
    })
}

/// Whether `url` reaches its remote over SSH (`ssh://…` or scp-like `user@host:path`).
fn is_ssh(url: &str) -> bool {
    gix::url::parse(gix::bstr::BStr::new(url)).is_ok_and(|u| u.scheme == gix::url::Scheme::Ssh)
}

fn is_http(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// Turns a plain path into a `file://` URL; leaves URLs alone.
fn normalize_url(url: String) -> String {
    let is_url = url.contains("://") || (url.contains('@') && url.contains(':'));
    if is_url {
        return url;
    }
    let path = Path::new(&url);
    let absolute = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    format!("file://{}", absolute.display())
}

/// Removes `user:password@` from URLs in `text`.
pub(crate) fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace())
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(userinfo) => rest = &tail[userinfo + 1..],
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_removed_from_urls() {
        assert_eq!(
            redact("fetch https://bob:hunter2@example.test/repo.git failed"),
            "fetch https://example.test/repo.git failed"
        );
        assert_eq!(redact("file:///srv/a.git"), "file:///srv/a.git");
        assert_eq!(redact("ssh://git@host:22/x"), "ssh://host:22/x");
    }

    #[test]
    fn commit_ids_are_checked() {
        assert!(check_commit_id("abcdef0").is_ok());
        assert!(check_commit_id("abc").is_err());
        assert!(check_commit_id("main-branch").is_err());
    }

    #[test]
    fn edit_distance_ranks_near_names() {
        assert_eq!(edit_distance("main", "main"), 0);
        assert_eq!(edit_distance("mian", "main"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
