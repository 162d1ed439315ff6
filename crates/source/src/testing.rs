//! Test support: git repositories made with the git CLI, for the tests of Converge and of
//! the controllers built on it. Enabled by the `test-util` feature.

pub mod conformance;

use std::path::Path;
use std::process::Command;

/// A git repository with a work tree, made with `git init` in a temporary directory and
/// committed to with a fixed author, committer and clock, so commit ids are the same on every
/// run. The git CLI must be on `PATH`; the user's and system's git configuration is ignored.
///
/// Methods panic when git fails: this is for tests.
///
/// ```
/// use converge_source::testing::GitFixture;
///
/// let mut repo = GitFixture::new();
/// repo.write("deploy/app.yaml", "kind: ConfigMap\n");
/// let first = repo.commit("first");
/// repo.git(&["tag", "v1"]);
/// assert_eq!(repo.git(&["rev-parse", "v1"]), first);
/// assert!(repo.url().starts_with("file:///"));
/// ```
#[derive(Debug)]
pub struct GitFixture {
    dir: tempfile::TempDir,
    clock: u32,
}

impl Default for GitFixture {
    fn default() -> Self {
        GitFixture::new()
    }
}

impl GitFixture {
    /// An empty repository whose first branch is `main`.
    pub fn new() -> GitFixture {
        let fixture = GitFixture {
            dir: tempfile::tempdir().expect("a temporary directory for the fixture"),
            clock: 0,
        };
        fixture.git(&["init", "-q", "-b", "main"]);
        fixture
    }

    /// The work tree.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The work tree as a string (test directories are UTF-8).
    pub fn path_str(&self) -> &str {
        self.path()
            .to_str()
            .expect("temporary directories have UTF-8 paths")
    }

    /// The repository as a `file://` URL.
    pub fn url(&self) -> String {
        format!("file://{}", self.path().display())
    }

    /// Runs git in the work tree and returns its trimmed standard output.
    pub fn git(&self, args: &[&str]) -> String {
        // 2026-01-01T00:00:00Z plus one minute per commit, in git's raw form: any number of
        // commits gets a valid date.
        let date = format!("{} +0000", 1_767_225_600 + 60 * u64::from(self.clock));
        let out = Command::new("git")
            .args(args)
            .current_dir(self.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Ada Fixture")
            .env("GIT_AUTHOR_EMAIL", "ada@example.test")
            .env("GIT_COMMITTER_NAME", "Ada Fixture")
            .env("GIT_COMMITTER_EMAIL", "ada@example.test")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("the git CLI runs");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("git prints UTF-8 here")
            .trim()
            .to_owned()
    }

    /// Writes a file in the work tree, creating its directories.
    pub fn write(&self, path: &str, content: &str) -> &Self {
        let full = self.path().join(path);
        std::fs::create_dir_all(full.parent().expect("a file has a parent directory"))
            .expect("directories of the fixture file");
        std::fs::write(full, content).expect("the fixture file");
        self
    }

    /// Stages everything, commits it one minute after the previous commit, and returns the
    /// commit id.
    pub fn commit(&mut self, message: &str) -> String {
        self.commit_signed(message, &[])
    }

    /// As [`GitFixture::commit`], signing the commit with the key `signing` configures
    /// ([`SshKey::git_config`], [`GpgKey::git_config`]); no signature when it is empty.
    pub fn commit_signed(&mut self, message: &str, signing: &[String]) -> String {
        self.clock += 1;
        self.git(&["add", "-A"]);
        let mut args: Vec<&str> = signing.iter().map(String::as_str).collect();
        args.extend(["commit", "-q", "-m", message]);
        if !signing.is_empty() {
            args.push("-S");
        }
        self.git(&args);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Tags `HEAD` with an annotated tag `name`, signed with the key `signing` configures
    /// (unsigned when it is empty).
    pub fn tag_annotated(&self, name: &str, signing: &[String]) {
        let mut args: Vec<&str> = signing.iter().map(String::as_str).collect();
        args.extend(["tag", "-m", name, name]);
        if !signing.is_empty() {
            args.push("-s");
        }
        self.git(&args);
    }
}

/// A `git daemon` serving a directory of repositories over `git://` on 127.0.0.1, stopped when
/// dropped. The git CLI must be on `PATH`.
///
/// ```
/// use converge_source::testing::{GitDaemon, GitFixture};
///
/// let mut repo = GitFixture::new();
/// repo.write("app.yaml", "kind: ConfigMap\n");
/// repo.commit("first");
/// let daemon = GitDaemon::serve(&repo);
/// assert!(daemon.url().starts_with("git://127.0.0.1:"));
/// ```
#[derive(Debug)]
pub struct GitDaemon {
    child: std::process::Child,
    url: String,
}

impl GitDaemon {
    /// Serves `repo` (read-only, every repository of its parent directory exported).
    ///
    /// # Panics
    /// When the daemon does not start or does not accept connections within ten seconds.
    pub fn serve(repo: &GitFixture) -> GitDaemon {
        let path = repo.path();
        let base = path.parent().expect("a fixture lives in a directory");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a UTF-8 fixture name");
        // A free port: bound, released, then given to the daemon.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port on 127.0.0.1")
            .port();
        // The daemon itself, not the `git` wrapper: killing the wrapper would leave it running.
        let exec_path = Command::new("git")
            .arg("--exec-path")
            .output()
            .expect("the git CLI runs");
        let exec_path = String::from_utf8(exec_path.stdout).expect("a UTF-8 path");
        let child = Command::new(Path::new(exec_path.trim()).join("git-daemon"))
            .args([
                "--reuseaddr",
                "--export-all",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                &format!("--base-path={}", base.display()),
            ])
            .arg(base)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("git daemon starts");
        let daemon = GitDaemon {
            child,
            url: format!("git://127.0.0.1:{port}/{name}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "git daemon did not listen on port {port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        daemon
    }

    /// The `git://` URL of the served repository.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An SSH key pair made with `ssh-keygen` (ed25519), for tests of SSH transport and of SSH
/// commit signatures.
#[derive(Debug)]
pub struct SshKey {
    dir: tempfile::TempDir,
    /// The private key, in OpenSSH format.
    pub private_key: String,
    /// The public key, one `authorized_keys` line (`ssh-ed25519 AAAA… comment`).
    pub public_key: String,
}

impl SshKey {
    /// A new key, encrypted with `passphrase` when one is given.
    ///
    /// # Panics
    /// When `ssh-keygen` is missing or fails.
    pub fn generate(passphrase: Option<&str>) -> SshKey {
        let dir = tempfile::tempdir().expect("a directory for the key");
        let path = dir.path().join("id_ed25519");
        ssh_keygen(&[
            "-q",
            "-t",
            "ed25519",
            "-C",
            "converge-test",
            "-N",
            passphrase.unwrap_or(""),
            "-f",
            path.to_str().expect("a UTF-8 path"),
        ]);
        let private_key = std::fs::read_to_string(&path).expect("the private key");
        let public_key = std::fs::read_to_string(path.with_extension("pub"))
            .expect("the public key")
            .trim()
            .to_owned();
        SshKey {
            dir,
            private_key,
            public_key,
        }
    }

    /// The private key's file (mode 0600), as `git -c user.signingkey=…` wants it.
    pub fn private_key_path(&self) -> std::path::PathBuf {
        self.dir.path().join("id_ed25519")
    }
}

impl SshKey {
    /// The `git -c` options that make git sign with this key.
    pub fn git_config(&self) -> Vec<String> {
        vec![
            "-c".to_owned(),
            "gpg.format=ssh".to_owned(),
            "-c".to_owned(),
            format!("user.signingkey={}", self.private_key_path().display()),
        ]
    }
}

/// An OpenPGP key made with `gpg` (ed25519, no passphrase) in a keyring of its own, for tests of
/// OpenPGP commit signatures. The keyring's agent is stopped when dropped.
#[derive(Debug)]
pub struct GpgKey {
    dir: tempfile::TempDir,
    /// The key's fingerprint.
    pub fingerprint: String,
    /// The public key, ASCII-armored.
    pub public_key: String,
}

impl GpgKey {
    /// A new signing key for `Ada Fixture <ada@example.test>`.
    ///
    /// # Panics
    /// When `gpg` is missing or fails.
    pub fn generate() -> GpgKey {
        let dir = tempfile::tempdir().expect("a directory for the keyring");
        let home = dir.path().join("gnupg");
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&home)
                .expect("the keyring directory");
        }
        let gpg = |args: &[&str]| {
            let out = Command::new("gpg")
                .arg("--homedir")
                .arg(&home)
                .args(["--batch", "--passphrase", ""])
                .args(args)
                .output()
                .expect("gpg runs (package gnupg)");
            assert!(
                out.status.success(),
                "gpg {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).expect("gpg prints UTF-8")
        };
        gpg(&[
            "--quick-gen-key",
            "Ada Fixture <ada@example.test>",
            "ed25519",
            "sign",
            "never",
        ]);
        let fingerprint = gpg(&["--with-colons", "--list-keys"])
            .lines()
            .find_map(|line| line.strip_prefix("fpr:"))
            .map(|rest| rest.trim_matches(':').to_owned())
            .expect("a fingerprint");
        let public_key = gpg(&["--armor", "--export", &fingerprint]);
        let wrapper = dir.path().join("gpg");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec gpg --homedir '{}' \"$@\"\n",
                home.display()
            ),
        )
        .expect("the gpg wrapper");
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o700))
                .expect("an executable wrapper");
        }
        GpgKey {
            dir,
            fingerprint,
            public_key,
        }
    }

    /// The `git -c` options that make git sign with this key.
    pub fn git_config(&self) -> Vec<String> {
        vec![
            "-c".to_owned(),
            "gpg.format=openpgp".to_owned(),
            "-c".to_owned(),
            format!("gpg.program={}", self.dir.path().join("gpg").display()),
            "-c".to_owned(),
            format!("user.signingkey={}", self.fingerprint),
        ]
    }
}

impl Drop for GpgKey {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.dir.path().join("gnupg"))
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

fn ssh_keygen(args: &[&str]) {
    let out = Command::new("ssh-keygen")
        .args(args)
        .output()
        .expect("ssh-keygen runs (package openssh-client)");
    assert!(
        out.status.success(),
        "ssh-keygen {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An SSH git server on 127.0.0.1: the system's `sshd` (package openssh-server) with a host key
/// and a configuration of its own, letting in the current user with the keys given to
/// [`GitSshServer::serve`], and running `git-upload-pack` as `git` over SSH does. Stopped when
/// dropped.
///
/// ```no_run
/// use converge_source::testing::{GitFixture, GitSshServer, SshKey};
///
/// let mut repo = GitFixture::new();
/// repo.write("app.yaml", "kind: ConfigMap\n");
/// repo.commit("first");
/// let key = SshKey::generate(None);
/// let server = GitSshServer::serve(&repo, &[&key.public_key]);
/// assert!(server.url().starts_with("ssh://"));
/// assert!(server.known_hosts().contains("ssh-ed25519"));
/// ```
#[derive(Debug)]
pub struct GitSshServer {
    child: std::process::Child,
    url: String,
    known_hosts: String,
    _dir: tempfile::TempDir,
}

impl GitSshServer {
    /// Whether an `sshd` is installed to run a server with.
    pub fn available() -> bool {
        sshd_path().is_some()
    }

    /// Serves `repo` to clients holding one of `authorized_keys` (public key lines).
    ///
    /// # Panics
    /// When `sshd` is missing, does not start, or does not listen within ten seconds.
    pub fn serve(repo: &GitFixture, authorized_keys: &[&str]) -> GitSshServer {
        let sshd = sshd_path().expect("sshd is installed (package openssh-server)");
        let dir = tempfile::tempdir().expect("a directory for sshd");
        let host_key = dir.path().join("host_ed25519");
        ssh_keygen(&[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            host_key.to_str().expect("a UTF-8 path"),
        ]);
        let mut keys = authorized_keys.join("\n");
        keys.push('\n');
        std::fs::write(dir.path().join("authorized_keys"), keys).expect("authorized_keys");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port on 127.0.0.1")
            .port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nAuthorizedKeysFile {keys}\n\
             PidFile {pid}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\n\
             UsePAM no\nAcceptEnv GIT_PROTOCOL\nLogLevel ERROR\n",
            host = host_key.display(),
            keys = dir.path().join("authorized_keys").display(),
            pid = dir.path().join("sshd.pid").display(),
        );
        std::fs::write(dir.path().join("sshd_config"), config).expect("sshd_config");
        // sshd started by root wants its privilege-separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = Command::new(sshd)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(dir.path().join("sshd_config"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("sshd starts");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "sshd did not listen on port {port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let public = std::fs::read_to_string(host_key.with_extension("pub")).expect("host key");
        let mut fields = public.split_whitespace();
        let (kind, key) = (
            fields.next().expect("a key type"),
            fields.next().expect("a key"),
        );
        let user = current_user();
        GitSshServer {
            child,
            url: format!("ssh://{user}@127.0.0.1:{port}{}", repo.path().display()),
            known_hosts: format!("[127.0.0.1]:{port} {kind} {key}\n"),
            _dir: dir,
        }
    }

    /// The `ssh://user@127.0.0.1:port/path` URL of the served repository.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A `known_hosts` line for this server's host key.
    pub fn known_hosts(&self) -> &str {
        &self.known_hosts
    }
}

impl Drop for GitSshServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sshd_path() -> Option<std::path::PathBuf> {
    ["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file())
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id runs");
    String::from_utf8(out.stdout)
        .expect("a UTF-8 user name")
        .trim()
        .to_owned()
}

/// How a [`GitHttpServer`] wants requests authenticated.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum HttpAuth<'a> {
    /// HTTP basic auth with this user and password.
    Basic(&'a str, &'a str),
    /// `Authorization: Bearer <token>`.
    Bearer(&'a str),
}

/// A smart-HTTP git server on 127.0.0.1: `git http-backend` behind a small HTTP/1.1 server,
/// serving a fixture (and every repository beside it), over plain HTTP or HTTPS with a CA of
/// its own, optionally behind basic or bearer auth. Stopped when dropped. The git CLI must be
/// on `PATH`.
///
/// ```
/// use converge_source::testing::{GitFixture, GitHttpServer, HttpAuth};
///
/// let mut repo = GitFixture::new();
/// repo.write("app.yaml", "kind: ConfigMap\n");
/// repo.commit("first");
/// let server = GitHttpServer::serve(&repo, Some(("ci", "s3cret")));
/// assert!(server.url().starts_with("http://127.0.0.1:"));
/// let secure = GitHttpServer::serve_https(&repo, Some(HttpAuth::Bearer("t0ken")));
/// assert!(secure.url().starts_with("https://localhost:"));
/// assert!(secure.ca_certificate().unwrap_or_default().contains("BEGIN CERTIFICATE"));
/// ```
#[derive(Debug)]
pub struct GitHttpServer {
    url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    port: u16,
    ca_certificate: Option<String>,
}

impl GitHttpServer {
    /// Serves `repo` over plain HTTP; with `auth`, only requests with that basic-auth user and
    /// password.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub fn serve(repo: &GitFixture, auth: Option<(&str, &str)>) -> GitHttpServer {
        let auth = auth.map(|(user, password)| HttpAuth::Basic(user, password));
        GitHttpServer::start(repo, auth, false, None)
    }

    /// Serves `repo` over HTTPS at `https://localhost:<port>/…`, with a certificate for
    /// `localhost` and `127.0.0.1` from a CA made for this server alone
    /// ([`GitHttpServer::ca_certificate`]); with `auth`, only requests carrying it.
    ///
    /// # Panics
    /// When no loopback port can be bound or the certificates cannot be made.
    pub fn serve_https(repo: &GitFixture, auth: Option<HttpAuth<'_>>) -> GitHttpServer {
        let (config, ca) = tls::server_config();
        GitHttpServer::start(repo, auth, false, Some((config, ca)))
    }

    /// Serves `repo`, but dies in the middle of every pack it sends: the ref listing works,
    /// the fetch breaks off after half of the pack.
    pub fn serve_breaking_off(repo: &GitFixture) -> GitHttpServer {
        GitHttpServer::start(repo, None, true, None)
    }

    fn start(
        repo: &GitFixture,
        auth: Option<HttpAuth<'_>>,
        break_off: bool,
        tls: Option<(std::sync::Arc<rustls::ServerConfig>, String)>,
    ) -> GitHttpServer {
        let path = repo.path();
        let base = path
            .parent()
            .expect("a fixture lives in a directory")
            .to_path_buf();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a UTF-8 fixture name")
            .to_owned();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("an address").port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let expected = auth.map(|auth| match auth {
            HttpAuth::Basic(user, password) => (
                format!(
                    "Basic {}",
                    converge_core::base64(format!("{user}:{password}").as_bytes())
                ),
                "Basic realm=\"git\"",
            ),
            HttpAuth::Bearer(token) => (format!("Bearer {token}"), "Bearer realm=\"git\""),
        });
        let stopping = std::sync::Arc::clone(&stop);
        let config = tls
            .as_ref()
            .map(|(config, _)| std::sync::Arc::clone(config));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (base, expected, config) = (base.clone(), expected.clone(), config.clone());
                std::thread::spawn(move || {
                    let auth = expected
                        .as_ref()
                        .map(|(value, challenge)| (value.as_str(), *challenge));
                    let _ = match config {
                        Some(config) => match rustls::ServerConnection::new(config) {
                            Ok(connection) => http::serve_connection(
                                rustls::StreamOwned::new(connection, stream),
                                &base,
                                auth,
                                break_off,
                            ),
                            Err(_) => Ok(()),
                        },
                        None => http::serve_connection(stream, &base, auth, break_off),
                    };
                });
            }
        });
        let (scheme, host) = match tls {
            Some(_) => ("https", "localhost"),
            None => ("http", "127.0.0.1"),
        };
        GitHttpServer {
            url: format!("{scheme}://{host}:{port}/{name}"),
            stop,
            port,
            ca_certificate: tls.map(|(_, ca)| ca),
        }
    }

    /// The URL of the served repository.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The PEM certificate of the CA that signed an HTTPS server's certificate: give it to
    /// [`GitOptions::with_ca_certificates`](crate::GitOptions::with_ca_certificates).
    pub fn ca_certificate(&self) -> Option<&str> {
        self.ca_certificate.as_deref()
    }
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

mod tls {
    //! A CA and a server certificate made on the spot.

    use std::sync::Arc;

    /// A server configuration for `localhost` and `127.0.0.1`, and the PEM of its CA.
    pub(super) fn server_config() -> (Arc<rustls::ServerConfig>, String) {
        let ca_key = rcgen::KeyPair::generate().expect("a CA key");
        let mut ca_params =
            rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Converge test CA");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("a CA");
        let key = rcgen::KeyPair::generate().expect("a server key");
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("server parameters");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        let certificate = params.signed_by(&key, &ca).expect("a server certificate");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![certificate.der().clone(), ca.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .expect("a server configuration");
        (Arc::new(config), ca.pem())
    }
}

mod http {
    //! Just enough HTTP/1.1 to put `git http-backend` (CGI) on a socket.

    use std::io::{BufRead, BufReader, Read, Write};
    use std::path::Path;
    use std::process::{Command, Stdio};

    /// Answers requests on `stream` until the client closes it. With `auth`, requests must
    /// carry its `Authorization` value; others get 401 with its challenge.
    pub(super) fn serve_connection(
        stream: impl Read + Write,
        base: &Path,
        auth: Option<(&str, &str)>,
        break_off: bool,
    ) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream);
        loop {
            let mut request_line = String::new();
            if reader.read_line(&mut request_line)? == 0 {
                return Ok(());
            }
            let mut parts = request_line.split_whitespace();
            let (method, target) = (
                parts.next().unwrap_or_default().to_owned(),
                parts.next().unwrap_or_default().to_owned(),
            );
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line)?;
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                }
            }
            let header = |name: &str| {
                headers
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
            };
            let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
                let mut body = Vec::new();
                loop {
                    let mut size = String::new();
                    reader.read_line(&mut size)?;
                    let size =
                        usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                            .unwrap_or(0);
                    let mut chunk = vec![0; size + 2];
                    reader.read_exact(&mut chunk)?;
                    if size == 0 {
                        break;
                    }
                    body.extend_from_slice(&chunk[..size]);
                }
                body
            } else {
                let len: usize = header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                reader.read_exact(&mut body)?;
                body
            };
            let writer = reader.get_mut();
            if let Some((expected, challenge)) = auth
                && header("authorization") != Some(expected)
            {
                writer.write_all(
                    format!(
                        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: {challenge}\r\nContent-Length: 0\r\n\r\n"
                    )
                    .as_bytes(),
                )?;
                writer.flush()?;
                continue;
            }
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            let mut cgi = Command::new("git");
            cgi.arg("http-backend")
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("GIT_PROJECT_ROOT", base)
                .env("GIT_HTTP_EXPORT_ALL", "1")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("REQUEST_METHOD", &method)
                .env("PATH_INFO", path)
                .env("QUERY_STRING", query)
                .env("CONTENT_LENGTH", body.len().to_string())
                .env("REMOTE_ADDR", "127.0.0.1")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null());
            if let Some(kind) = header("content-type") {
                cgi.env("CONTENT_TYPE", kind);
            }
            if let Some(protocol) = header("git-protocol") {
                cgi.env("GIT_PROTOCOL", protocol);
            }
            if let Some(encoding) = header("content-encoding") {
                cgi.env("HTTP_CONTENT_ENCODING", encoding);
            }
            let mut child = cgi.spawn()?;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(&body)?;
            }
            let output = child.wait_with_output()?;
            let out = output.stdout;
            let split = out
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map(|i| (i, 4))
                .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
            let (head, content) = match split {
                Some((i, n)) => (&out[..i], &out[i + n..]),
                None => (&out[..0], &out[..]),
            };
            let mut status = "200 OK".to_owned();
            let mut response = Vec::new();
            for line in String::from_utf8_lossy(head).lines() {
                match line.split_once(':') {
                    Some((k, v)) if k.eq_ignore_ascii_case("status") => {
                        status = v.trim().to_owned()
                    }
                    Some(_) => {
                        response.extend_from_slice(line.as_bytes());
                        response.extend_from_slice(b"\r\n");
                    }
                    None => {}
                }
            }
            writer.write_all(format!("HTTP/1.1 {status}\r\n").as_bytes())?;
            writer.write_all(&response)?;
            writer.write_all(format!("Content-Length: {}\r\n\r\n", content.len()).as_bytes())?;
            let lists_refs = body.windows(15).any(|w| w == b"command=ls-refs");
            if break_off && method == "POST" && !lists_refs {
                // Half the pack, then the connection goes away.
                writer.write_all(&content[..content.len() / 2])?;
                writer.flush()?;
                return Ok(());
            }
            writer.write_all(content)?;
            writer.flush()?;
        }
    }
}
