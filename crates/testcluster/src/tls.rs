//! HTTPS: a certificate authority generated at start, a server certificate for `127.0.0.1`
//! and `localhost`, and two ways in — a client certificate the authority signed
//! (`CN=testcluster-admin`, `O=system:masters`) or a bearer token. Other requests get `401
//! Unauthorized`, as from an API server that does not know the caller.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tower::ServiceExt;

use crate::Error;

/// What the cluster and its clients need for HTTPS, generated at start.
pub(crate) struct Identity {
    /// The authority's certificate, PEM: what clients trust.
    pub ca_pem: String,
    /// A client certificate and its key, PEM.
    pub client_cert_pem: String,
    pub client_key_pem: String,
    /// The bearer token the cluster accepts.
    pub token: String,
    config: Arc<rustls::ServerConfig>,
}

// The key and the token are secrets: they are never shown.
impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").finish_non_exhaustive()
    }
}

fn failed(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Tls(format!("{what}: {e}"))
}

impl Identity {
    /// A new authority, server certificate, client certificate and token.
    pub(crate) fn generate() -> Result<Identity, Error> {
        let ca_key = rcgen::KeyPair::generate().map_err(|e| failed("a CA key", e))?;
        let mut ca_params =
            rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| failed("the CA", e))?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "testcluster-ca");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key)
            .map_err(|e| failed("the CA", e))?;

        let server_key = rcgen::KeyPair::generate().map_err(|e| failed("a server key", e))?;
        let mut server =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .map_err(|e| failed("the server certificate", e))?;
        server
            .distinguished_name
            .push(rcgen::DnType::CommonName, "testcluster");
        server.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server
            .signed_by(&server_key, &ca)
            .map_err(|e| failed("the server certificate", e))?;

        let client_key = rcgen::KeyPair::generate().map_err(|e| failed("a client key", e))?;
        let mut client = rcgen::CertificateParams::new(Vec::<String>::new())
            .map_err(|e| failed("the client certificate", e))?;
        client
            .distinguished_name
            .push(rcgen::DnType::CommonName, "testcluster-admin");
        client
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "system:masters");
        client.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client
            .signed_by(&client_key, &ca)
            .map_err(|e| failed("the client certificate", e))?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(ca.der().clone())
            .map_err(|e| failed("the CA", e))?;
        // Clients without a certificate may still come in with the token.
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .map_err(|e| failed("the client verifier", e))?;
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| failed("TLS versions", e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![server_cert.der().clone(), CertificateDer::clone(ca.der())],
                PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
            )
            .map_err(|e| failed("the server configuration", e))?;
        Ok(Identity {
            ca_pem: ca.pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
            token: crate::meta::uid().replace('-', ""),
            config: Arc::new(config),
        })
    }
}

/// Serves `app` over TLS on `listener` until the task is aborted: each connection is
/// authenticated by its client certificate, else each request by its bearer token.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    identity: Arc<Identity>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(identity.config.clone());
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (acceptor, app, identity) = (acceptor.clone(), app.clone(), identity.clone());
        tokio::spawn(async move {
            // A client that fails the handshake (an unknown CA, a bad certificate) is gone.
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let by_certificate = tls
                .get_ref()
                .1
                .peer_certificates()
                .is_some_and(|certificates| !certificates.is_empty());
            let service =
                hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                    let (app, identity) = (app.clone(), identity.clone());
                    async move {
                        if !by_certificate && !has_token(&request, &identity.token) {
                            return Ok::<_, std::convert::Infallible>(unauthorized());
                        }
                        app.oneshot(request.map(Body::new)).await
                    }
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

fn has_token(request: &Request<hyper::body::Incoming>, token: &str) -> bool {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.trim().as_bytes(), token.as_bytes()))
}

/// Compares without stopping at the first difference, so timing tells nothing of the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unauthorized() -> Response<Body> {
    let status = crate::status::ApiError::unauthorized().to_status();
    let mut response = Response::new(Body::from(status.to_string()));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}
