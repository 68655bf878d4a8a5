//! `/api/v1/runs`: start, list, read, stop, wait for runs; read their logs and rejected rows.

use super::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, Auth};
use crate::domain::Run;
use crate::domain::{LogLevel, RunState, StopMode, Trigger};
use crate::notify::CallbackBody;
use crate::service::App;
use crate::service::runs::StartRequest;
use crate::service::views::log_line_view;
use crate::store::RunFilter;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::get, routing::post};
use serde::Deserialize;
use sluice_types::{LogPage, RunList, RunView, StartRun, StopRun};
use std::time::Duration;
use uuid::Uuid;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/runs", get(list).post(start))
        .route("/runs/{run}", get(read))
        .route("/runs/{run}/stop", post(stop))
        .route("/runs/{run}/rerun", post(rerun))
        .route("/runs/{run}/log", get(log))
        .route("/runs/{run}/rejects", get(rejects))
        .route("/runs/{run}/wait", get(wait))
}

/// Starts a run of a task. 201 with the queued run; 200 with the existing run when `external_id`
/// repeats an earlier identical request; 409 `task_running` when the task is running and does not
/// allow parallel runs (Sluice refuses rather than queues: a caller that wants to wait can).
#[utoipa::path(post, path = "/api/v1/runs", tag = "runs", request_body = StartRun, security(("bearer" = [])),
    responses((status = 201, body = RunView), (status = 200, body = RunView),
        (status = 404, body = sluice_types::ErrorBody), (status = 409, body = sluice_types::ErrorBody)))]
pub async fn start(
    State(app): State<App>,
    Auth(who): Auth,
    ApiJson(req): ApiJson<StartRun>,
) -> ApiResult<(StatusCode, Json<RunView>)> {
    let trigger = match req.trigger.as_deref() {
        None | Some("api") => Trigger::Api,
        Some("cli") => Trigger::Cli,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "trigger: `{other}` is not one a caller may set (api or cli)"
            )));
        }
    };
    let task = app.resolve_task(who.org_id(), &req.task).await?;
    let (run, created) = app
        .start_run(
            &who,
            &task,
            StartRequest {
                parameters: req.parameters,
                callback_url: req.callback_url,
                external_id: req.external_id,
                trigger: Some(trigger),
                options: Default::default(),
            },
        )
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(app.run_view(&run).await)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    /// Only runs of this task (any of its ids, folder/name, or name).
    pub task: Option<String>,
    /// Only runs in these states (comma-separated).
    pub state: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
    /// Only runs older than this run id (the previous page's `next_before`).
    pub before: Option<Uuid>,
}

/// Runs of the caller's org, newest first.
#[utoipa::path(get, path = "/api/v1/runs", tag = "runs", params(RunQuery), security(("bearer" = [])),
    responses((status = 200, body = RunList)))]
pub async fn list(
    State(app): State<App>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<RunQuery>,
) -> ApiResult<Json<RunList>> {
    let task_id = match &q.task {
        Some(t) => Some(app.resolve_task(who.org_id(), t).await?.id),
        None => None,
    };
    let states = RunState::parse_list(q.state.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::invalid(format!("state: {e}")))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit: must be between 1 and 1000"));
    }
    let runs = app
        .list_runs(
            who.org_id(),
            &RunFilter {
                task_id,
                states,
                before: q.before,
                limit,
                ..Default::default()
            },
        )
        .await?;
    let next_before = (runs.len() as i64 == limit)
        .then(|| runs.last().map(|r| r.id))
        .flatten();
    Ok(Json(RunList {
        runs: app.run_views(&runs).await,
        next_before,
    }))
}

/// A run by its id or its external id.
#[utoipa::path(get, path = "/api/v1/runs/{run}", tag = "runs",
    params(("run" = String, Path, description = "run id or external id")), security(("bearer" = [])),
    responses((status = 200, body = RunView), (status = 404, body = sluice_types::ErrorBody)))]
pub async fn read(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
) -> ApiResult<Json<RunView>> {
    let run = app.find_run(who.org_id(), &reference).await?;
    Ok(Json(app.run_view(&run).await))
}

/// Asks a run to stop: `graceful` (default) finishes the batch in hand and leaves the target as it
/// was; `immediate` abandons the work at once (the target is also left as it was). A queued run
/// stops at once. Answers the run, `stopping` until its worker halts it.
#[utoipa::path(post, path = "/api/v1/runs/{run}/stop", tag = "runs", request_body = StopRun,
    params(("run" = String, Path)), security(("bearer" = [])), responses((status = 200, body = RunView)))]
pub async fn stop(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<RunView>> {
    // The body is optional: an empty one means a graceful stop.
    let body: StopRun = if body.iter().all(u8::is_ascii_whitespace) {
        StopRun::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("body: {e}")))?
    };
    let mode = match body.mode {
        None => StopMode::Graceful,
        Some(m) => m
            .parse()
            .map_err(|e: String| ApiError::invalid(format!("mode: {e}")))?,
    };
    let run = app.find_run(who.org_id(), &reference).await?;
    let run = app.stop_run(&who, run.id, mode).await?;
    Ok(Json(app.run_view(&run).await))
}

/// Starts the run's task again with the run's parameters and callback URL, as a new run (201).
/// Built-in run options of the first start (a Starfish row range) are not carried.
#[utoipa::path(post, path = "/api/v1/runs/{run}/rerun", tag = "runs",
    params(("run" = String, Path, description = "run id or external id")), security(("bearer" = [])),
    responses((status = 201, body = RunView), (status = 404, body = sluice_types::ErrorBody),
        (status = 409, body = sluice_types::ErrorBody)))]
pub async fn rerun(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<RunView>)> {
    let run = app.find_run(who.org_id(), &reference).await?;
    let run = app.rerun(&who, run.id).await?;
    Ok((StatusCode::CREATED, Json(app.run_view(&run).await)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Lines after this sequence number (the previous page's `next_after`; default 0).
    pub after: Option<i64>,
    /// Lowest level shown: debug, info (default), warn, error.
    pub level: Option<String>,
    /// At most this many lines (default 500, at most 5000).
    pub limit: Option<i64>,
}

/// A page of a run's log, readable while the run runs.
#[utoipa::path(get, path = "/api/v1/runs/{run}/log", tag = "runs", params(("run" = String, Path), LogQuery),
    security(("bearer" = [])), responses((status = 200, body = LogPage)))]
pub async fn log(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> ApiResult<Json<LogPage>> {
    let level = match q.level.as_deref() {
        None => LogLevel::Info,
        Some(l) => l
            .parse()
            .map_err(|e: String| ApiError::invalid(format!("level: {e}")))?,
    };
    let limit = q.limit.unwrap_or(500);
    if !(1..=5000).contains(&limit) {
        return Err(ApiError::invalid("limit: must be between 1 and 5000"));
    }
    let after = q.after.unwrap_or(0);
    let run = app.find_run(who.org_id(), &reference).await?;
    let (run, lines) = app
        .read_log(who.org_id(), run.id, after, level, limit)
        .await?;
    Ok(Json(LogPage {
        next_after: lines.last().map(|l| l.seq).unwrap_or(after),
        lines: lines.iter().map(log_line_view).collect(),
        finished: run.state.is_terminal(),
    }))
}

/// The rows a run rejected, as JSON lines `{"reason": ..., "row": {...}}` (a replication's tables
/// one after another); empty when it rejected none. Kept in the store: any node serves them.
#[utoipa::path(get, path = "/api/v1/runs/{run}/rejects", tag = "runs", params(("run" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, description = "JSON lines, one rejected row each", content_type = "application/x-ndjson", body = String)))]
pub async fn rejects(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
) -> ApiResult<Response> {
    let run = app.find_run(who.org_id(), &reference).await?;
    let files = app.reject_files(run.id).await?;
    let body = Body::from_stream(app.reject_bytes(run.id, files));
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// Seconds to wait at most (default 30, at most 60).
    pub timeout: Option<f64>,
}

/// Answers when the run has ended or the timeout passed, with the run as it then is (check
/// `finished`).
#[utoipa::path(get, path = "/api/v1/runs/{run}/wait", tag = "runs", params(("run" = String, Path), WaitQuery),
    security(("bearer" = [])), responses((status = 200, body = RunView)))]
pub async fn wait(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
    ApiQuery(q): ApiQuery<WaitQuery>,
) -> ApiResult<Json<RunView>> {
    let secs = q.timeout.unwrap_or(30.0);
    if !(0.0..=60.0).contains(&secs) {
        return Err(ApiError::invalid(
            "timeout: must be between 0 and 60 seconds",
        ));
    }
    let run = app.find_run(who.org_id(), &reference).await?;
    let run = app
        .wait_run(who.org_id(), run.id, Duration::from_secs_f64(secs))
        .await?;
    Ok(Json(app.run_view(&run).await))
}

/// The callbacks of runs started natively (API, CLI, schedules, taskflows): the run view.
pub struct NativeCallbacks(pub App);

#[async_trait::async_trait]
impl CallbackBody for NativeCallbacks {
    async fn render(&self, run: &Run) -> Result<serde_json::Value, String> {
        serde_json::to_value(self.0.run_view(run).await).map_err(|e| e.to_string())
    }
}
