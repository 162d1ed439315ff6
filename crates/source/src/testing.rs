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
        let date = format!("2026-01-01T00:{:02}:00Z", self.clock);
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
        self.clock += 1;
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
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

/// A smart-HTTP git server on 127.0.0.1: `git http-backend` behind a small HTTP/1.1 server,
/// serving a fixture (and every repository beside it), optionally behind basic auth. Stopped
/// when dropped. The git CLI must be on `PATH`.
///
/// ```
/// use converge_source::testing::{GitFixture, GitHttpServer};
///
/// let mut repo = GitFixture::new();
/// repo.write("app.yaml", "kind: ConfigMap\n");
/// repo.commit("first");
/// let server = GitHttpServer::serve(&repo, Some(("ci", "s3cret")));
/// assert!(server.url().starts_with("http://127.0.0.1:"));
/// ```
#[derive(Debug)]
pub struct GitHttpServer {
    url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    port: u16,
}

impl GitHttpServer {
    /// Serves `repo`; with `auth`, only requests with that basic-auth user and password.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub fn serve(repo: &GitFixture, auth: Option<(&str, &str)>) -> GitHttpServer {
        GitHttpServer::start(repo, auth, false)
    }

    /// Serves `repo`, but dies in the middle of every pack it sends: the ref listing works,
    /// the fetch breaks off after half of the pack.
    pub fn serve_breaking_off(repo: &GitFixture) -> GitHttpServer {
        GitHttpServer::start(repo, None, true)
    }

    fn start(repo: &GitFixture, auth: Option<(&str, &str)>, break_off: bool) -> GitHttpServer {
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
        let expected = auth.map(|(user, password)| {
            format!(
                "Basic {}",
                converge_core::base64(format!("{user}:{password}").as_bytes())
            )
        });
        let stopping = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (base, expected) = (base.clone(), expected.clone());
                std::thread::spawn(move || {
                    let _ = http::serve_connection(stream, &base, expected.as_deref(), break_off);
                });
            }
        });
        GitHttpServer {
            url: format!("http://127.0.0.1:{port}/{name}"),
            stop,
            port,
        }
    }

    /// The `http://` URL of the served repository.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

mod http {
    //! Just enough HTTP/1.1 to put `git http-backend` (CGI) on a socket.

    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::path::Path;
    use std::process::{Command, Stdio};

    pub(super) fn serve_connection(
        stream: TcpStream,
        base: &Path,
        auth: Option<&str>,
        break_off: bool,
    ) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
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
            if let Some(expected) = auth
                && header("authorization") != Some(expected)
            {
                writer.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\n\r\n",
                )?;
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
                return writer.shutdown(std::net::Shutdown::Both);
            }
            writer.write_all(content)?;
            writer.flush()?;
        }
    }
}
