//! The webhook receiver over HTTP on loopback: verified pushes trigger, forged ones do not.

use std::sync::{Arc, Mutex};

use converge::receiver::{Provider, Push, github_signature, router};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves the receiver; the pushes it hands on are collected.
async fn serve(secret: &[u8]) -> (String, Arc<Mutex<Vec<Push>>>) {
    let pushes = Arc::new(Mutex::new(Vec::new()));
    let seen = pushes.clone();
    let app = router(secret.to_vec(), move |push| {
        seen.lock().expect("lock").push(push)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (address, pushes)
}

/// POSTs `body` to `/hook` with `headers`: the status code.
pub(crate) async fn post(address: &str, headers: &[(&str, &str)], body: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let mut request = format!(
        "POST /hook HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"))
}

const GITHUB_PUSH: &str = r#"{"ref":"refs/heads/main","after":"0a1b2c3d","repository":{"clone_url":"https://github.com/acme/app.git","ssh_url":"git@github.com:acme/app.git","html_url":"https://github.com/acme/app"}}"#;
const GITLAB_PUSH: &str = r#"{"ref":"refs/heads/preview/feature-1","after":"4e5f","project":{"git_http_url":"https://gitlab.com/acme/app.git","git_ssh_url":"git@gitlab.com:acme/app.git"}}"#;

#[tokio::test]
async fn signed_pushes_trigger_and_forged_ones_do_not() {
    let secret = b"s3cret";
    let (address, pushes) = serve(secret).await;

    let signature = github_signature(secret, GITHUB_PUSH.as_bytes());
    let github = [
        ("X-GitHub-Event", "push"),
        ("X-Hub-Signature-256", signature.as_str()),
    ];
    assert_eq!(post(&address, &github, GITHUB_PUSH).await, 202);
    let gitlab = [
        ("X-Gitlab-Event", "Push Hook"),
        ("X-Gitlab-Token", "s3cret"),
    ];
    assert_eq!(post(&address, &gitlab, GITLAB_PUSH).await, 202);
    {
        let pushes = pushes.lock().expect("lock");
        assert_eq!(pushes.len(), 2);
        assert_eq!(pushes[0].provider, Provider::GitHub);
        assert_eq!(pushes[0].reference, "refs/heads/main");
        assert_eq!(pushes[0].commit, "0a1b2c3d");
        assert!(
            pushes[0]
                .repositories
                .contains(&"https://github.com/acme/app.git".to_owned())
        );
        assert_eq!(pushes[1].provider, Provider::GitLab);
        assert_eq!(pushes[1].reference, "refs/heads/preview/feature-1");
    }

    // Forged: another secret's signature, a body changed after signing, no signature, a
    // wrong token — 401, and nothing triggered.
    let forged = github_signature(b"guess", GITHUB_PUSH.as_bytes());
    let tampered = GITHUB_PUSH.replace("main", "prod");
    for (headers, body) in [
        (
            vec![
                ("X-GitHub-Event", "push"),
                ("X-Hub-Signature-256", forged.as_str()),
            ],
            GITHUB_PUSH.to_owned(),
        ),
        (
            vec![
                ("X-GitHub-Event", "push"),
                ("X-Hub-Signature-256", signature.as_str()),
            ],
            tampered,
        ),
        (vec![("X-GitHub-Event", "push")], GITHUB_PUSH.to_owned()),
        (
            vec![("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", "s3cre")],
            GITLAB_PUSH.to_owned(),
        ),
    ] {
        assert_eq!(post(&address, &headers, &body).await, 401, "{headers:?}");
    }
    // A signed ping is answered and triggers nothing; a body that is no push is refused.
    let ping = r#"{"zen":"Keep it logically awesome."}"#;
    let ping_signature = github_signature(secret, ping.as_bytes());
    assert_eq!(
        post(
            &address,
            &[
                ("X-GitHub-Event", "ping"),
                ("X-Hub-Signature-256", &ping_signature)
            ],
            ping
        )
        .await,
        200
    );
    let not_json = "not json";
    let not_json_signature = github_signature(secret, not_json.as_bytes());
    assert_eq!(
        post(
            &address,
            &[
                ("X-GitHub-Event", "push"),
                ("X-Hub-Signature-256", &not_json_signature)
            ],
            not_json
        )
        .await,
        400
    );
    assert_eq!(pushes.lock().expect("lock").len(), 2);
}
