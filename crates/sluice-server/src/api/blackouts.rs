//! `/api/v1/blackouts`: the org's blackout periods, in which no schedule fires.

use super::{ApiJson, ApiPath, ApiResult, Auth};
use crate::domain::Origin;
use crate::domain::blackout::Blackout;
use crate::service::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router, routing::delete, routing::get};
use sluice_types::{BlackoutInput, BlackoutView};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/blackouts", get(list).put(put))
        .route("/blackouts/{blackout}", delete(remove))
}

fn view(b: &Blackout) -> BlackoutView {
    BlackoutView {
        id: b.id,
        name: b.name.clone(),
        description: b.description.clone(),
        timezone: b.timezone.clone(),
        window: serde_json::to_value(&b.window).unwrap_or_default(),
        origin: crate::service::views::origin_label(&b.origin),
        created_at: b.created_at,
        updated_at: b.updated_at,
    }
}

#[utoipa::path(get, path = "/api/v1/blackouts", tag = "schedules", security(("bearer" = [])),
    responses((status = 200, body = Vec<BlackoutView>)))]
pub async fn list(State(app): State<App>, Auth(who): Auth) -> ApiResult<Json<Vec<BlackoutView>>> {
    let all = app.list_blackouts(who.org_id()).await?;
    Ok(Json(all.iter().map(view).collect()))
}

#[utoipa::path(put, path = "/api/v1/blackouts", tag = "schedules", request_body = BlackoutInput,
    security(("bearer" = [])), responses((status = 200, body = BlackoutView)))]
pub async fn put(
    State(app): State<App>,
    Auth(who): Auth,
    ApiJson(input): ApiJson<BlackoutInput>,
) -> ApiResult<Json<BlackoutView>> {
    let saved = app.put_blackout(&who, input, Origin::Api).await?;
    Ok(Json(view(&saved)))
}

#[utoipa::path(delete, path = "/api/v1/blackouts/{blackout}", tag = "schedules",
    params(("blackout" = String, Path, description = "name")), security(("bearer" = [])),
    responses((status = 204)))]
pub async fn remove(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    app.delete_blackout(&who, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
