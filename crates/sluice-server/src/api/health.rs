//! `GET /healthz`: 200 once the server accepts work.

use crate::service::App;
use axum::{Json, Router, routing::get};
use sluice_types::Health;

pub fn routes() -> Router<App> {
    Router::new().route("/healthz", get(health))
}

#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The server accepts work", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}
