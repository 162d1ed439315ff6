//! The controller's HTTP endpoints: `/metrics`, `/healthz`, `/readyz`, `/status` and, with a
//! secret, the webhook receiver at `/hook`.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use converge::receiver::Push;
use tokio::sync::mpsc;

use crate::metrics::Metrics;
use crate::store::{Store, Writer};

pub(crate) fn router(
    metrics: Arc<Metrics>,
    store: Arc<Store>,
    writer: Writer,
    webhook_secret: Option<Vec<u8>>,
    pushes: mpsc::UnboundedSender<Push>,
) -> axum::Router {
    let ready = store.clone();
    let statuses = store;
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        metrics.encode(),
                    )
                }
            }),
        )
        // Alive as long as it answers.
        .route("/healthz", get(|| async { "ok" }))
        // Ready once every kind has been read.
        .route(
            "/readyz",
            get(move || {
                let ready = ready.clone();
                async move {
                    if ready.ready() {
                        (StatusCode::OK, "ok").into_response()
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "not synced yet").into_response()
                    }
                }
            }),
        )
        .route(
            "/status",
            get(move || {
                let statuses = statuses.clone();
                let writer = writer.clone();
                async move {
                    writer.flush().await;
                    let text =
                        serde_json::to_string_pretty(&statuses.lock().statuses).unwrap_or_default();
                    ([(header::CONTENT_TYPE, "application/json")], text)
                }
            }),
        );
    match webhook_secret {
        Some(secret) => app.merge(converge::receiver::router(secret, move |push| {
            let _ = pushes.send(push);
        })),
        None => app,
    }
}
