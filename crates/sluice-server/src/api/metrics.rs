//! `GET /metrics`: this node's metrics in the Prometheus text format.

use crate::service::App;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Router, routing::get};
use std::time::Duration;

/// How long the store gets to count the queue; a scrape without it still answers.
const STORE_PATIENCE: Duration = Duration::from_secs(2);

/// Not in the OpenAPI document: it is Prometheus's format, not the native API's.
pub fn routes() -> Router<App> {
    Router::new().route("/metrics", get(metrics))
}

/// The Prometheus text format (version 0.0.4). With `[metrics] token` set, only requests bearing
/// it are answered.
pub async fn metrics(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Some(token) = &app.config.metrics.token {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !bearer.is_some_and(|b| same_secret(b.trim(), token)) {
            return (StatusCode::UNAUTHORIZED, "a bearer token is required\n").into_response();
        }
    }
    let active = tokio::time::timeout(STORE_PATIENCE, app.store.count_active_runs()).await;
    let (active, up) = match active {
        Ok(Ok(counts)) => (counts, true),
        _ => (Vec::new(), false),
    };
    let text = app.telemetry.render(&active, up);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// Compares digests of the two: how long a comparison takes then says nothing of how much of
/// the token a guess got right.
fn same_secret(given: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    Sha256::digest(given.as_bytes()) == Sha256::digest(expected.as_bytes())
}
