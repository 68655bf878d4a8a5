//! `/api/v1/runs/{run}/callbacks`: a run's callbacks with every delivery attempt, and resending
//! one.

use super::{ApiPath, ApiResult, Auth};
use crate::service::App;
use crate::service::views::callback_view;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use sluice_types::CallbackView;
use uuid::Uuid;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/runs/{run}/callbacks", get(list))
        .route("/runs/{run}/callbacks/{callback}/resend", post(resend))
}

/// The run's callbacks, each with its attempts (time, status, error).
#[utoipa::path(get, path = "/api/v1/runs/{run}/callbacks", tag = "runs", params(("run" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = [CallbackView])))]
pub async fn list(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
) -> ApiResult<Json<Vec<CallbackView>>> {
    let run = app.find_run(who.org_id(), &reference).await?;
    let callbacks = app.run_callbacks(who.org_id(), run.id).await?;
    Ok(Json(
        callbacks
            .iter()
            .map(|(cb, attempts)| callback_view(cb, attempts))
            .collect(),
    ))
}

/// Sends the callback again now, whatever its state, with a new round of the retry schedule.
#[utoipa::path(post, path = "/api/v1/runs/{run}/callbacks/{callback}/resend", tag = "runs",
    params(("run" = String, Path), ("callback" = Uuid, Path)),
    security(("bearer" = [])), responses((status = 200, body = CallbackView)))]
pub async fn resend(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath((reference, id)): ApiPath<(String, Uuid)>,
) -> ApiResult<Json<CallbackView>> {
    let run = app.find_run(who.org_id(), &reference).await?;
    let cb = app.resend_callback(&who, run.id, id).await?;
    Ok(Json(callback_view(&cb, &[])))
}
