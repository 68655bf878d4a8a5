//! `/api/v1/schedules`: define schedules, pause and resume them, and list their coming fires.

use super::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, Auth};
use crate::domain::Origin;
use crate::service::App;
use crate::service::schedules::spec_from_input;
use crate::service::views::schedule_view;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router, routing::get, routing::post};
use serde::Deserialize;
use sluice_types::{BackfillInput, BackfillReport, ScheduleFires, ScheduleInput, ScheduleView};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/schedules", get(list).post(create))
        .route(
            "/schedules/{schedule}",
            get(read).put(update).delete(remove),
        )
        .route("/schedules/{schedule}/pause", post(pause))
        .route("/schedules/{schedule}/resume", post(resume))
        .route("/schedules/{schedule}/next", get(next))
        .route("/schedules/{schedule}/backfill", post(backfill))
}

fn invalid(problems: Vec<String>) -> ApiError {
    crate::service::ServiceError::InvalidDefinition(problems).into()
}

#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules", security(("bearer" = [])),
    responses((status = 200, body = Vec<ScheduleView>)))]
pub async fn list(State(app): State<App>, Auth(who): Auth) -> ApiResult<Json<Vec<ScheduleView>>> {
    let all = app.list_schedules(who.org_id()).await?;
    Ok(Json(all.iter().map(schedule_view).collect()))
}

#[utoipa::path(post, path = "/api/v1/schedules", tag = "schedules", request_body = ScheduleInput,
    security(("bearer" = [])), responses((status = 201, body = ScheduleView), (status = 409, body = sluice_types::ErrorBody)))]
pub async fn create(
    State(app): State<App>,
    Auth(who): Auth,
    ApiJson(input): ApiJson<ScheduleInput>,
) -> ApiResult<(StatusCode, Json<ScheduleView>)> {
    let spec = spec_from_input(input).map_err(invalid)?;
    if app.resolve_schedule(who.org_id(), &spec.name).await.is_ok() {
        return Err(crate::service::ServiceError::Conflict(format!(
            "a schedule named `{}` exists",
            spec.name
        ))
        .into());
    }
    let (_, schedule) = app.put_schedule(&who, spec, Origin::Api, None).await?;
    Ok((StatusCode::CREATED, Json(schedule_view(&schedule))))
}

#[utoipa::path(get, path = "/api/v1/schedules/{schedule}", tag = "schedules",
    params(("schedule" = String, Path, description = "id or name")), security(("bearer" = [])),
    responses((status = 200, body = ScheduleView), (status = 404, body = sluice_types::ErrorBody)))]
pub async fn read(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
) -> ApiResult<Json<ScheduleView>> {
    let schedule = app.resolve_schedule(who.org_id(), &reference).await?;
    Ok(Json(schedule_view(&schedule)))
}

#[utoipa::path(put, path = "/api/v1/schedules/{schedule}", tag = "schedules",
    request_body = ScheduleInput, params(("schedule" = String, Path, description = "id or name")),
    security(("bearer" = [])), responses((status = 200, body = ScheduleView)))]
pub async fn update(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
    ApiJson(input): ApiJson<ScheduleInput>,
) -> ApiResult<Json<ScheduleView>> {
    let existing = app.resolve_schedule(who.org_id(), &reference).await?;
    let spec = spec_from_input(input).map_err(invalid)?;
    let (_, schedule) = app
        .put_schedule(&who, spec, Origin::Api, Some(existing.id))
        .await?;
    Ok(Json(schedule_view(&schedule)))
}

#[utoipa::path(delete, path = "/api/v1/schedules/{schedule}", tag = "schedules",
    params(("schedule" = String, Path, description = "id or name")), security(("bearer" = [])),
    responses((status = 204)))]
pub async fn remove(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let schedule = app.resolve_schedule(who.org_id(), &reference).await?;
    app.delete_schedule(&who, schedule.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/schedules/{schedule}/pause", tag = "schedules",
    params(("schedule" = String, Path, description = "id or name")), security(("bearer" = [])),
    responses((status = 200, body = ScheduleView)))]
pub async fn pause(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
) -> ApiResult<Json<ScheduleView>> {
    let schedule = app.set_schedule_paused(&who, &reference, true).await?;
    Ok(Json(schedule_view(&schedule)))
}

#[utoipa::path(post, path = "/api/v1/schedules/{schedule}/resume", tag = "schedules",
    params(("schedule" = String, Path, description = "id or name")), security(("bearer" = [])),
    responses((status = 200, body = ScheduleView)))]
pub async fn resume(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
) -> ApiResult<Json<ScheduleView>> {
    let schedule = app.set_schedule_paused(&who, &reference, false).await?;
    Ok(Json(schedule_view(&schedule)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NextQuery {
    /// How many fires (default 10, at most 1000).
    pub count: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/schedules/{schedule}/next", tag = "schedules",
    params(("schedule" = String, Path, description = "id or name"), NextQuery),
    security(("bearer" = [])), responses((status = 200, body = ScheduleFires)))]
pub async fn next(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
    ApiQuery(q): ApiQuery<NextQuery>,
) -> ApiResult<Json<ScheduleFires>> {
    let schedule = app.resolve_schedule(who.org_id(), &reference).await?;
    let fires = app.next_fires(&schedule, q.count.unwrap_or(10))?;
    let zone: Option<chrono_tz::Tz> = schedule.timezone.parse().ok();
    let local = fires
        .iter()
        .map(|t| {
            zone.map(|z| t.with_timezone(&z).to_rfc3339())
                .unwrap_or_default()
        })
        .collect();
    Ok(Json(ScheduleFires {
        schedule: schedule.name,
        timezone: schedule.timezone,
        fires,
        local,
    }))
}

#[utoipa::path(post, path = "/api/v1/schedules/{schedule}/backfill", tag = "schedules",
    request_body = BackfillInput, params(("schedule" = String, Path, description = "id or name")),
    security(("bearer" = [])), responses((status = 200, body = BackfillReport)))]
pub async fn backfill(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
    ApiJson(input): ApiJson<BackfillInput>,
) -> ApiResult<Json<BackfillReport>> {
    let policy = input
        .catch_up
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: String| ApiError::invalid(format!("catch_up: {e}")))?;
    let (fires, fired) = app
        .backfill(&who, &reference, input.from, input.to, policy)
        .await?;
    Ok(Json(BackfillReport {
        fires,
        runs: app.run_views(&fired.runs).await,
        refused: fired
            .refused
            .iter()
            .map(|r| format!("{} at {}: {}", r.task, r.at.to_rfc3339(), r.reason))
            .collect(),
    }))
}
