//! Credentials and transport settings: bearer tokens and extra CA certificates for HTTPS,
//! keys and known hosts for SSH.

use std::any::Any;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gix::error::ErrorExt;
use gix::protocol::transport::client::blocking_io::http;

use crate::Error;

/// SSH credentials: a private key, its passphrase, and the host keys to trust.
///
/// The connection runs the system `ssh` with only these settings (the user's `~/.ssh/config`
/// and agent are not consulted), public-key authentication only, and strict host key checking:
/// a host whose key is not in [`SshAuth::with_known_hosts`] is refused, never added. The key
/// and passphrase are written, for `ssh` to read, into a private temporary directory (mode
/// 0700, files 0600) that lives as long as the [`GitSource`](crate::GitSource). `Debug`
/// shows neither.
///
/// ```
/// use converge_source::{GitOptions, SshAuth};
///
/// let key = "-----BEGIN OPENSSH PRIVATE KEY-----\n…\n-----END OPENSSH PRIVATE KEY-----\n";
/// let auth = SshAuth::new(key)
///     .with_passphrase("correct horse")
///     .with_known_hosts("git.example.test ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI…\n");
/// let options = GitOptions::default().with_ssh(auth);
/// let shown = format!("{options:?}");
/// assert!(!shown.contains("PRIVATE KEY") && !shown.contains("horse"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct SshAuth {
    /// The private key, in OpenSSH or PEM format.
    pub private_key: String,
    /// The key's passphrase, when it is encrypted.
    pub passphrase: Option<String>,
    /// Trusted host keys in `known_hosts` format. `None` trusts the keys in the user's
    /// `~/.ssh/known_hosts` and the system's `/etc/ssh/ssh_known_hosts`.
    pub known_hosts: Option<String>,
}

impl std::fmt::Debug for SshAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshAuth")
            .field("private_key", &"***")
            .field("passphrase", &self.passphrase.as_ref().map(|_| "***"))
            .field("known_hosts", &self.known_hosts)
            .finish()
    }
}

impl SshAuth {
    /// Authenticates with `private_key` (its text, as a Kubernetes Secret holds it).
    pub fn new(private_key: impl Into<String>) -> SshAuth {
        SshAuth {
            private_key: private_key.into(),
            passphrase: None,
            known_hosts: None,
        }
    }

    /// Authenticates with the private key in the file at `path`.
    ///
    /// # Errors
    /// [`Error::Config`] naming the file when it cannot be read.
    pub fn from_key_file(path: impl AsRef<Path>) -> Result<SshAuth, Error> {
        let path = path.as_ref();
        std::fs::read_to_string(path)
            .map(SshAuth::new)
            .map_err(|e| Error::Config {
                message: format!("reading the SSH key {}: {e}", path.display()),
            })
    }

    /// Decrypts the key with `passphrase`.
    pub fn with_passphrase(mut self, passphrase: impl Into<String>) -> SshAuth {
        self.passphrase = Some(passphrase.into());
        self
    }

    /// Trusts exactly the host keys in `known_hosts` (the format of `~/.ssh/known_hosts`,
    /// hashed host names too).
    pub fn with_known_hosts(mut self, known_hosts: impl Into<String>) -> SshAuth {
        self.known_hosts = Some(known_hosts.into());
        self
    }
}

/// The `ssh` program a source runs: a wrapper script in a private directory that fixes the
/// options, feeds the passphrase through `SSH_ASKPASS` and keeps `ssh`'s messages for errors.
pub(super) struct SshCommand {
    dir: tempfile::TempDir,
}

impl SshCommand {
    /// Writes the wrapper (and the key, passphrase and known hosts of `auth`) into a new
    /// private directory. Without `auth`, `ssh` uses the user's keys and known hosts, still
    /// without ever prompting.
    pub(super) fn new(auth: Option<&SshAuth>) -> Result<SshCommand, Error> {
        let dir = tempfile::Builder::new()
            .prefix("converge-ssh-")
            .tempdir()
            .map_err(|e| config_error(format!("creating a directory for ssh: {e}")))?;
        let path = |name: &str| shell_quote(&dir.path().join(name));
        let mut options = vec![
            "-o StrictHostKeyChecking=yes".to_owned(),
            "-o PasswordAuthentication=no".to_owned(),
            "-o KbdInteractiveAuthentication=no".to_owned(),
        ];
        let mut environment = String::new();
        match auth {
            Some(auth) => {
                let mut key = auth.private_key.clone();
                if !key.ends_with('\n') {
                    // ssh refuses an OpenSSH key without its final newline.
                    key.push('\n');
                }
                write_private(&dir.path().join("identity"), key.as_bytes(), 0o600)?;
                options.splice(
                    0..0,
                    [
                        "-F none".to_owned(),
                        format!("-i {}", path("identity")),
                        "-o IdentitiesOnly=yes".to_owned(),
                        "-o IdentityAgent=none".to_owned(),
                        "-o PreferredAuthentications=publickey".to_owned(),
                    ],
                );
                if let Some(known_hosts) = &auth.known_hosts {
                    write_private(
                        &dir.path().join("known_hosts"),
                        known_hosts.as_bytes(),
                        0o600,
                    )?;
                    options.push(format!("-o UserKnownHostsFile={}", path("known_hosts")));
                    options.push("-o GlobalKnownHostsFile=none".to_owned());
                }
                match &auth.passphrase {
                    Some(passphrase) => {
                        write_private(
                            &dir.path().join("passphrase"),
                            passphrase.as_bytes(),
                            0o600,
                        )?;
                        let askpass = format!("#!/bin/sh\ncat {}\n", path("passphrase"));
                        write_private(&dir.path().join("askpass"), askpass.as_bytes(), 0o700)?;
                        environment = format!(
                            "SSH_ASKPASS={} SSH_ASKPASS_REQUIRE=force DISPLAY=none ",
                            path("askpass")
                        );
                        options.push("-o BatchMode=no".to_owned());
                        options.push("-o NumberOfPasswordPrompts=1".to_owned());
                    }
                    None => options.push("-o BatchMode=yes".to_owned()),
                }
            }
            None => options.push("-o BatchMode=yes".to_owned()),
        }
        let script = format!(
            "#!/bin/sh\n{environment}exec ssh {} \"$@\" 2>{}\n",
            options.join(" "),
            path("stderr"),
        );
        write_private(&dir.path().join("ssh"), script.as_bytes(), 0o700)?;
        Ok(SshCommand { dir })
    }

    /// The wrapper to give gix as `core.sshCommand`.
    pub(super) fn program(&self) -> PathBuf {
        self.dir.path().join("ssh")
    }

    /// What `ssh` said on its last run (its standard error), trimmed; empty when nothing.
    pub(super) fn last_message(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr"))
            .map(|text| {
                text.lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty() && !is_banner(line))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    }

    /// Forgets what `ssh` said before, so an error reports only the current run.
    pub(super) fn clear_message(&self) {
        let _ = std::fs::remove_file(self.dir.path().join("stderr"));
    }
}

/// The lines of `ssh`'s host-key warning that say nothing the last line does not, or that
/// name our private files.
fn is_banner(line: &str) -> bool {
    const NOISE: [&str; 10] = [
        "@",
        "Warning: Permanently",
        "IT IS POSSIBLE",
        "Someone could",
        "It is also possible",
        "Please contact",
        "Add correct host key",
        "Offending",
        "remove with",
        "ssh-keygen -f",
    ];
    NOISE.iter().any(|noise| line.starts_with(noise))
}

fn config_error(message: String) -> Error {
    Error::Config { message }
}

fn write_private(path: &Path, content: &[u8], mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(mode)
        .open(path)
        .map_err(|e| config_error(format!("writing {}: {e}", path.display())))?;
    file.write_all(content)
        .map_err(|e| config_error(format!("writing {}: {e}", path.display())))
}

/// `path` in single quotes for `sh`.
fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// HTTP settings beyond what gix reads from git configuration: a bearer token on every request
/// and extra trusted CA certificates.
#[derive(Clone, Default)]
pub(super) struct HttpSettings {
    pub(super) bearer_token: Option<String>,
    pub(super) ca_certificates: Option<Vec<u8>>,
}

impl HttpSettings {
    fn is_empty(&self) -> bool {
        self.bearer_token.is_none() && self.ca_certificates.is_none()
    }

    /// Checks the CA bundle once, when the source is made, so a bad bundle is a configuration
    /// error and not a failure at every poll.
    pub(super) fn validate(&self) -> Result<(), Error> {
        if let Some(pem) = &self.ca_certificates {
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| config_error(format!("the CA certificates do not parse: {e}")))?;
            if certificates.is_empty() {
                return Err(config_error(
                    "the CA certificates hold no PEM certificate".to_owned(),
                ));
            }
        }
        if let Some(token) = &self.bearer_token
            && reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).is_err()
        {
            return Err(config_error(
                "the bearer token holds characters a header cannot carry".to_owned(),
            ));
        }
        Ok(())
    }

    /// The transport options for an HTTP(S) URL: those git configuration gives, plus these
    /// settings; `None` when there is nothing to add.
    pub(super) fn transport_options(
        &self,
        configured: Option<Box<dyn Any>>,
    ) -> Option<Box<dyn Any>> {
        if self.is_empty() {
            return None;
        }
        let mut options = configured
            .and_then(|any| any.downcast::<http::Options>().ok())
            .map(|boxed| *boxed)
            .unwrap_or_default();
        let mut backend = http::reqwest::Options::default();
        if let Some(pem) = self.ca_certificates.clone() {
            backend.configure_client = Some(Box::new(move |builder| {
                let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                    gix::error::message!("the CA certificates do not parse: {e}").raise()
                })?;
                Ok(builder.tls_certs_merge(certificates))
            }));
        }
        if let Some(token) = self.bearer_token.clone() {
            backend.configure_request = Some(Box::new(move |request| {
                let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|_| gix::error::message("the bearer token is not a header").raise())?;
                value.set_sensitive(true);
                request
                    .headers_mut()
                    .insert(reqwest::header::AUTHORIZATION, value);
                Ok(())
            }));
        }
        options.backend = Some(Arc::new(Mutex::new(backend)));
        Some(Box::new(options))
    }
}
