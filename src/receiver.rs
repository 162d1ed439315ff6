//! The webhook receiver: GitHub and GitLab push events, verified, turned into reconcile
//! requests for the sources they concern.
//!
//! - GitHub signs each delivery with HMAC-SHA256 of the body under the shared secret
//!   (`X-Hub-Signature-256: sha256=<hex>`); GitLab sends the secret token itself
//!   (`X-Gitlab-Token`). Both are checked in constant time.
//! - A push that passes is answered `202 Accepted` and handed to the callback; a bad or missing
//!   signature gets `401 Unauthorized` and triggers nothing; a body that is not a push event's
//!   JSON gets `400`; other events (GitHub's `ping`) get `200` and trigger nothing.
//!
//! ```
//! use converge::receiver::{Push, router};
//!
//! let app = router(b"s3cret".to_vec(), |push: Push| {
//!     println!("{} pushed {} of {:?}", push.provider, push.reference, push.repositories);
//! });
//! # let _: axum::Router = app;
//! ```

use std::fmt;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Who sent a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Provider {
    /// GitHub (and GitHub Enterprise).
    GitHub,
    /// GitLab.
    GitLab,
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::GitHub => "GitHub",
            Provider::GitLab => "GitLab",
        })
    }
}

/// A verified push.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Push {
    /// Who sent it.
    pub provider: Provider,
    /// The repository's URLs (HTTPS, SSH, web), to match against sources' URLs.
    pub repositories: Vec<String>,
    /// The ref pushed: `refs/heads/main`, `refs/tags/v1.2.0`.
    pub reference: String,
    /// The commit the ref points to now.
    pub commit: String,
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Equal, compared in time that does not depend on where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The signature GitHub sends for `body` under `secret`: `sha256=<hex>`.
///
/// ```
/// // GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
/// assert_eq!(
///     converge::receiver::github_signature(b"It's a Secret to Everybody", b"Hello, World!"),
///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
/// );
/// ```
pub fn github_signature(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hex(&hmac_sha256(secret, body)))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Verifies a delivery and reads its push, or says how to answer.
fn receive(
    secret: &[u8],
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Push, (StatusCode, &'static str)> {
    const UNAUTHORIZED: (StatusCode, &str) = (
        StatusCode::UNAUTHORIZED,
        "the signature or token does not match",
    );
    let provider = if let Some(event) = header(headers, "x-github-event") {
        let signature = header(headers, "x-hub-signature-256").ok_or(UNAUTHORIZED)?;
        let expected = github_signature(secret, body);
        if !constant_time_eq(signature.as_bytes(), expected.as_bytes()) {
            return Err(UNAUTHORIZED);
        }
        if event != "push" {
            return Err((StatusCode::OK, "not a push: nothing to do"));
        }
        Provider::GitHub
    } else if let Some(event) = header(headers, "x-gitlab-event") {
        let token = header(headers, "x-gitlab-token").ok_or(UNAUTHORIZED)?;
        if !constant_time_eq(token.as_bytes(), secret) {
            return Err(UNAUTHORIZED);
        }
        if event != "Push Hook" && event != "Tag Push Hook" {
            return Err((StatusCode::OK, "not a push: nothing to do"));
        }
        Provider::GitLab
    } else {
        return Err((
            StatusCode::BAD_REQUEST,
            "neither a GitHub nor a GitLab delivery",
        ));
    };
    let payload: Value = serde_json::from_slice(body)
        .map_err(|_| (StatusCode::BAD_REQUEST, "the body is not JSON"))?;
    let text = |pointer: &str| {
        payload
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let urls: &[&str] = match provider {
        Provider::GitHub => &[
            "/repository/clone_url",
            "/repository/ssh_url",
            "/repository/git_url",
            "/repository/html_url",
        ],
        Provider::GitLab => &[
            "/project/git_http_url",
            "/project/git_ssh_url",
            "/project/web_url",
        ],
    };
    let repositories: Vec<String> = urls.iter().filter_map(|p| text(p)).collect();
    let reference = text("/ref").ok_or((StatusCode::BAD_REQUEST, "the push names no ref"))?;
    if repositories.is_empty() {
        return Err((StatusCode::BAD_REQUEST, "the push names no repository"));
    }
    Ok(Push {
        provider,
        repositories,
        reference,
        commit: text("/after")
            .or_else(|| text("/checkout_sha"))
            .unwrap_or_default(),
    })
}

/// A router serving the receiver at `POST /hook`, handing each verified push to `on_push`.
pub fn router(secret: Vec<u8>, on_push: impl Fn(Push) + Send + Sync + 'static) -> axum::Router {
    let secret = Arc::new(secret);
    let on_push = Arc::new(on_push);
    axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let (secret, on_push) = (secret.clone(), on_push.clone());
            async move {
                match receive(&secret, &headers, &body) {
                    Ok(push) => {
                        on_push(push);
                        (StatusCode::ACCEPTED, "reconcile requested")
                    }
                    Err(answer) => answer,
                }
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231, test case 2.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
