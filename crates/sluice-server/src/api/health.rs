//! `GET /healthz`: 200 while the process serves HTTP (liveness). `GET /readyz`: 200 while this
//! node can do work; 503 while its store does not answer (it resumes by itself) or the store's
//! schema is behind this build (a migration not applied).

use crate::service::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router, routing::get};
use sluice_types::{Health, Readiness};
use std::time::Duration;

/// How long the store gets to answer a readiness probe.
const STORE_PATIENCE: Duration = Duration::from_secs(3);

pub fn routes() -> Router<App> {
    Router::new()
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
}

#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The server accepts work", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "This node's store answers: it can take work", body = Readiness),
        (status = 503, description = "The store does not answer (the node retries by itself), or its schema is behind this build", body = Readiness)))]
pub async fn ready(State(app): State<App>) -> (StatusCode, Json<Readiness>) {
    let store = match tokio::time::timeout(STORE_PATIENCE, app.store.pending_migrations()).await {
        Ok(Ok(pending)) if pending.is_empty() => Ok(()),
        Ok(Ok(pending)) => Err(format!(
            "the schema is behind this build: migrations {pending:?} are not applied"
        )),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {}s", STORE_PATIENCE.as_secs())),
    };
    let (code, status, store) = match store {
        Ok(()) => (StatusCode::OK, "ready", "ok".to_string()),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, "not ready", why),
    };
    let body = Readiness {
        status: status.into(),
        node: app.config.node_name.clone(),
        store,
    };
    (code, Json(body))
}
