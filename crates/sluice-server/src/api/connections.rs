//! `/api/v1/connections`: create, read, update, delete. Secrets never appear in an answer.

use super::{ApiError, ApiJson, ApiPath, ApiResult, Auth};
use crate::domain::{ConnectionConfig, ConnectionType};
use crate::service::App;
use crate::service::definitions::ConnectionSpec;
use crate::service::views::connection_view;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router, routing::get, routing::post};
use sluice_types::{ConnectionCheck, ConnectionInput, ConnectionView};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/connections", get(list).post(create))
        .route(
            "/connections/{connection}",
            get(read).put(update).delete(remove),
        )
        .route("/connections/{connection}/check", post(check))
}

fn spec_from(input: ConnectionInput) -> Result<ConnectionSpec, ApiError> {
    let conn_type: ConnectionType = input
        .conn_type
        .parse()
        .map_err(|e: String| ApiError::invalid(format!("type: {e}")))?;
    let config: ConnectionConfig = serde_path_to_error::deserialize(input.config)
        .map_err(|e| ApiError::invalid(format!("config.{}: {}", e.path(), e.inner())))?;
    Ok(ConnectionSpec {
        name: input.name,
        conn_type,
        description: input.description.unwrap_or_default(),
        config,
    })
}

#[utoipa::path(get, path = "/api/v1/connections", tag = "connections", security(("bearer" = [])),
    responses((status = 200, body = Vec<ConnectionView>)))]
pub async fn list(State(app): State<App>, Auth(who): Auth) -> ApiResult<Json<Vec<ConnectionView>>> {
    let conns = app.list_connections(who.org_id()).await?;
    Ok(Json(conns.iter().map(connection_view).collect()))
}

#[utoipa::path(post, path = "/api/v1/connections", tag = "connections", request_body = ConnectionInput,
    security(("bearer" = [])), responses((status = 201, body = ConnectionView), (status = 409, body = sluice_types::ErrorBody)))]
pub async fn create(
    State(app): State<App>,
    Auth(who): Auth,
    ApiJson(input): ApiJson<ConnectionInput>,
) -> ApiResult<(StatusCode, Json<ConnectionView>)> {
    let conn = app.save_connection(&who, spec_from(input)?, None).await?;
    Ok((StatusCode::CREATED, Json(connection_view(&conn))))
}

#[utoipa::path(get, path = "/api/v1/connections/{connection}", tag = "connections",
    params(("connection" = String, Path, description = "id or name")), security(("bearer" = [])),
    responses((status = 200, body = ConnectionView), (status = 404, body = sluice_types::ErrorBody)))]
pub async fn read(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
) -> ApiResult<Json<ConnectionView>> {
    Ok(Json(connection_view(
        &app.resolve_connection(who.org_id(), &reference).await?,
    )))
}

#[utoipa::path(put, path = "/api/v1/connections/{connection}", tag = "connections",
    request_body = ConnectionInput, params(("connection" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ConnectionView)))]
pub async fn update(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
    ApiJson(input): ApiJson<ConnectionInput>,
) -> ApiResult<Json<ConnectionView>> {
    let existing = app.resolve_connection(who.org_id(), &reference).await?;
    let conn = app
        .save_connection(&who, spec_from(input)?, Some(&existing))
        .await?;
    Ok(Json(connection_view(&conn)))
}

#[utoipa::path(delete, path = "/api/v1/connections/{connection}", tag = "connections",
    params(("connection" = String, Path)), security(("bearer" = [])), responses((status = 204)))]
pub async fn remove(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let conn = app.resolve_connection(who.org_id(), &reference).await?;
    app.delete_connection(&who, conn.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/connections/{connection}/check", tag = "connections",
    params(("connection" = String, Path, description = "id or name")), security(("bearer" = [])),
    responses((status = 200, description = "The check ran; `ok` says whether the connection works", body = ConnectionCheck),
        (status = 404, body = sluice_types::ErrorBody)))]
pub async fn check(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
) -> ApiResult<Json<ConnectionCheck>> {
    let conn = app.resolve_connection(who.org_id(), &reference).await?;
    Ok(Json(app.check_connection(&who, &conn).await?))
}
