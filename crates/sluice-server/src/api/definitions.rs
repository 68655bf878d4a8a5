//! `/api/v1/definitions`: apply a bundle of definition files, export the org's as files.

use super::{ApiJson, ApiResult, Auth};
use crate::service::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router, routing::get, routing::post};
use sluice_types::{ApplyReport, DefinitionBundle};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/definitions/apply", post(apply))
        .route("/definitions/export", get(export))
}

/// Creates or updates every task and connection in the bundle. Files with problems are reported
/// (`<file>: <field>: <message>`) and skipped; the rest are applied. 200 when all applied, 422 when
/// some had problems.
#[utoipa::path(post, path = "/api/v1/definitions/apply", tag = "definitions", request_body = DefinitionBundle,
    security(("bearer" = [])), responses((status = 200, body = ApplyReport), (status = 422, body = ApplyReport)))]
pub async fn apply(
    State(app): State<App>,
    Auth(who): Auth,
    ApiJson(bundle): ApiJson<DefinitionBundle>,
) -> ApiResult<(StatusCode, Json<ApplyReport>)> {
    let report = app.apply_bundle(&who, &bundle).await;
    let status = if report.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, Json(report)))
}

#[utoipa::path(get, path = "/api/v1/definitions/export", tag = "definitions", security(("bearer" = [])),
    responses((status = 200, body = DefinitionBundle)))]
pub async fn export(State(app): State<App>, Auth(who): Auth) -> ApiResult<Json<DefinitionBundle>> {
    Ok(Json(app.export_definitions(who.org_id()).await?))
}
