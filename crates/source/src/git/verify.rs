//! Commit and tag signature verification against configured keys, with `ssh-keygen` and
//! `gpg` as git itself runs them.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use gix::bstr::{BStr, ByteSlice};
use gix::objs::signature::Format;
use gix::objs::signature::verify::{Options, Outcome, Status, TrustLevel};

use crate::Error;

/// What must be signed for a [`GitSource`](crate::GitSource) to accept a revision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyMode {
    /// The commit the reference points at (Flux's `HEAD`).
    #[default]
    Head,
    /// The annotated tag the reference names (Flux's `Tag`): the reference must be a tag.
    Tag,
    /// Both the annotated tag and the commit it points at (Flux's `TagAndHEAD`).
    TagAndHead,
}

/// Signature verification: which objects must be signed ([`VerifyMode`]) and the keys trusted
/// to sign them. A revision whose signature is missing, does not verify, or comes from another
/// key is refused with [`Error::Verification`]; no snapshot is returned.
///
/// SSH signatures are checked with `ssh-keygen -Y verify` (namespace `git`) and OpenPGP
/// signatures with `gpg` against a keyring holding only the configured keys, as `git
/// verify-commit` does; the programs must be installed for the kinds of keys configured.
///
/// ```
/// use converge_source::{GitOptions, Verification, VerifyMode};
///
/// let verification = Verification::new(VerifyMode::Head)
///     .with_ssh_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBnoWr4Q4DU0mFMT3tbN5gr2ZIFUTNzNsWTg0c0Ul+xr release");
/// let options = GitOptions::default().with_verification(verification);
/// # let _ = options;
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Verification {
    /// What must be signed.
    pub mode: VerifyMode,
    /// Trusted SSH public keys, one `authorized_keys`-style line each (`ssh-ed25519 AAAA…
    /// comment`).
    pub ssh_keys: Vec<String>,
    /// Trusted OpenPGP public keys, ASCII-armored (one or more keys per entry).
    pub gpg_keys: Vec<String>,
}

impl Verification {
    /// Verification in `mode`, trusting no key yet.
    pub fn new(mode: VerifyMode) -> Verification {
        Verification {
            mode,
            ..Verification::default()
        }
    }

    /// Trusts the SSH public key `line` (`ssh-ed25519 AAAA… comment`).
    pub fn with_ssh_key(mut self, line: impl Into<String>) -> Verification {
        self.ssh_keys.push(line.into());
        self
    }

    /// Trusts the ASCII-armored OpenPGP public keys in `armored`.
    pub fn with_gpg_keys(mut self, armored: impl Into<String>) -> Verification {
        self.gpg_keys.push(armored.into());
        self
    }
}

/// A [`Verification`] made ready: the allowed-signers file and the keyring in a private
/// directory.
pub(super) struct Verifier {
    mode: VerifyMode,
    dir: tempfile::TempDir,
    ssh: bool,
    gpg: bool,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("mode", &self.mode)
            .field("ssh", &self.ssh)
            .field("gpg", &self.gpg)
            .finish()
    }
}

fn config_error(message: impl Into<String>) -> Error {
    Error::Config {
        message: message.into(),
    }
}

impl Verifier {
    /// Checks the keys and writes them where `ssh-keygen` and `gpg` read them.
    pub(super) fn new(verification: &Verification) -> Result<Verifier, Error> {
        if verification.ssh_keys.is_empty() && verification.gpg_keys.is_empty() {
            return Err(config_error(
                "signature verification needs at least one trusted SSH or OpenPGP key",
            ));
        }
        let dir = tempfile::Builder::new()
            .prefix("converge-verify-")
            .tempdir()
            .map_err(|e| config_error(format!("creating a directory for verification: {e}")))?;
        let mut allowed = String::new();
        for (i, line) in verification.ssh_keys.iter().enumerate() {
            let mut fields = line.split_whitespace();
            let (Some(kind), Some(key)) = (fields.next(), fields.next()) else {
                return Err(config_error(format!(
                    "trusted SSH key {} is not `<type> <base64 key> [comment]`",
                    i + 1
                )));
            };
            if !(kind.starts_with("ssh-") || kind.starts_with("ecdsa-") || kind.starts_with("sk-"))
                || key.len() % 4 != 0
                || !key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
            {
                return Err(config_error(format!(
                    "trusted SSH key {} is not an SSH public key (`{kind} …`)",
                    i + 1
                )));
            }
            // The principal only names the key in messages: any trusted key may sign.
            let principal = fields
                .next()
                .filter(|c| c.bytes().all(|b| b.is_ascii_graphic() && b != b','))
                .map_or_else(|| format!("key-{}", i + 1), str::to_owned);
            allowed.push_str(&format!("{principal} namespaces=\"git\" {kind} {key}\n"));
        }
        std::fs::write(dir.path().join("allowed_signers"), allowed)
            .map_err(|e| config_error(format!("writing the allowed signers: {e}")))?;
        let gpg = !verification.gpg_keys.is_empty();
        if gpg {
            import_gpg_keys(&dir.path().join("gnupg"), &verification.gpg_keys)?;
        }
        Ok(Verifier {
            mode: verification.mode,
            dir,
            ssh: !verification.ssh_keys.is_empty(),
            gpg,
        })
    }

    pub(super) fn mode(&self) -> VerifyMode {
        self.mode
    }

    /// Verifies the signature of the commit or tag object `data` (its raw content).
    /// `Ok` names the signer; `Err` says why the object is refused.
    pub(super) fn verify(
        &self,
        kind: gix::object::Kind,
        data: &[u8],
        hash: gix::hash::Kind,
    ) -> Result<String, String> {
        let (signature, signed, time) = match kind {
            gix::object::Kind::Commit => {
                let (signature, signed) = gix::objs::CommitRefIter::signature(data, hash)
                    .map_err(|e| format!("the commit does not parse: {e}"))?
                    .ok_or("it is not signed")?;
                let time = gix::objs::CommitRef::from_bytes(data, hash)
                    .ok()
                    .and_then(|c| c.committer().ok()?.time().ok());
                (signature.into_owned(), signed, time)
            }
            gix::object::Kind::Tag => {
                let (signature, signed) =
                    gix::objs::TagRefIter::signature(data).ok_or("it is not signed")?;
                let time = gix::objs::TagRef::from_bytes(data, hash)
                    .ok()
                    .and_then(|t| t.tagger().ok().flatten()?.time().ok());
                (signature.data.to_owned(), signed, time)
            }
            other => return Err(format!("a {other} carries no signature")),
        };
        let options = self.options(signature.as_ref(), time.unwrap_or_default())?;
        let outcome = signed
            .verify(signature.as_ref(), options)
            .map_err(|e| format!("the signature could not be checked: {e}"))?;
        judge(&outcome)
    }

    fn options(&self, signature: &BStr, time: gix::date::Time) -> Result<Options, String> {
        match Format::from_signature(signature) {
            Some(Format::Ssh) if self.ssh => Ok(Options::Ssh {
                program: "ssh-keygen".into(),
                program_arguments: Vec::new(),
                environment: Vec::new(),
                allowed_signers: self.dir.path().join("allowed_signers"),
                revocation_file: None,
                verify_time: time,
                // Fully: the signer is one of the trusted keys, not just any valid key.
                minimum_trust: TrustLevel::Fully,
            }),
            Some(Format::OpenPgp) if self.gpg => Ok(Options::OpenPgp {
                program: "gpg".into(),
                program_arguments: gpg_home(&self.dir.path().join("gnupg")),
                environment: Vec::new(),
                // The keyring holds only trusted keys: a good signature from it is enough.
                minimum_trust: TrustLevel::Undefined,
            }),
            Some(Format::Ssh) => Err("it is signed with SSH and no SSH key is trusted".to_owned()),
            Some(Format::OpenPgp) => {
                Err("it is signed with OpenPGP and no OpenPGP key is trusted".to_owned())
            }
            Some(Format::X509) => Err("X.509 signatures are not supported".to_owned()),
            None => Err("its signature is in an unknown format".to_owned()),
        }
    }
}

fn judge(outcome: &Outcome) -> Result<String, String> {
    let signer = || {
        outcome
            .signer
            .as_ref()
            .or(outcome.fingerprint.as_ref())
            .map(|s| s.to_str_lossy().into_owned())
            .unwrap_or_else(|| "a trusted key".to_owned())
    };
    if outcome.is_valid() {
        return Ok(signer());
    }
    let detail = outcome
        .output
        .to_str_lossy()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let why = match outcome.status {
        // Valid, but from a key outside the trusted ones.
        Status::Good => "the signature is not from a trusted key",
        Status::Bad => "the signature does not match",
        Status::Expired => "the signature has expired",
        Status::ExpiredKey => "the signing key has expired",
        Status::RevokedKey => "the signing key was revoked",
        Status::Error | Status::Unknown => "the signature is not from a trusted key",
    };
    Err(if detail.is_empty() {
        why.to_owned()
    } else {
        format!("{why} ({detail})")
    })
}

fn gpg_home(home: &Path) -> Vec<OsString> {
    vec![
        "--homedir".into(),
        home.as_os_str().to_owned(),
        "--no-autostart".into(),
        "--batch".into(),
    ]
}

/// Imports `keys` into a new keyring at `home`.
fn import_gpg_keys(home: &PathBuf, keys: &[String]) -> Result<(), Error> {
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(home)
            .map_err(|e| config_error(format!("creating the OpenPGP keyring: {e}")))?;
    }
    let mut child = Command::new("gpg")
        .args(gpg_home(home))
        .args(["--quiet", "--import"])
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            config_error(format!(
                "gpg is needed to verify OpenPGP signatures and did not run: {e}"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        for key in keys {
            stdin
                .write_all(key.as_bytes())
                .and_then(|()| stdin.write_all(b"\n"))
                .map_err(|e| config_error(format!("importing the OpenPGP keys: {e}")))?;
        }
    }
    let output = child
        .wait_with_output()
        .map_err(|e| config_error(format!("importing the OpenPGP keys: {e}")))?;
    if !output.status.success() {
        return Err(config_error(format!(
            "the trusted OpenPGP keys do not import: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}
