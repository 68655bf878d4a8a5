//! `/api/v1/tasks`: create, read, update, delete, export; start a run of a task.

use super::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, Auth};
use crate::domain::TaskType;
use crate::domain::task::{self, DEFAULT_FOLDER};
use crate::domain::task::{OnBusy, RetryPolicy, RunPolicy};
use crate::service::App;
use crate::service::definitions::{TaskSpec, check_definition, task_to_toml};
use crate::service::views::task_view;
use crate::store::TaskFilter;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Json, Router, routing::get};
use serde::Deserialize;
use sluice_types::{TaskInput, TaskView, WebhookKey};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/tasks", get(list).post(create))
        .route("/tasks/{task}", get(read).put(update).delete(remove))
        .route("/tasks/{task}/export", get(export))
        .route(
            "/tasks/{task}/webhook-key",
            axum::routing::post(webhook_key),
        )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskQuery {
    /// Only tasks in this folder.
    pub folder: Option<String>,
    /// Only tasks of this name.
    pub name: Option<String>,
    /// Only tasks of this type (MTT, DSS, ...).
    #[serde(rename = "type")]
    pub task_type: Option<String>,
}

fn policy_from(input: &TaskInput) -> Result<RunPolicy, ApiError> {
    let on_busy = match &input.on_busy {
        None => OnBusy::default(),
        Some(s) => s
            .parse()
            .map_err(|e: String| ApiError::invalid(format!("on_busy: {e}")))?,
    };
    let defaults = RetryPolicy::default();
    let retry = RetryPolicy {
        retries: input.retries.unwrap_or(defaults.retries),
        delay_secs: input.retry_delay_secs.unwrap_or(defaults.delay_secs),
        backoff: input.retry_backoff.unwrap_or(defaults.backoff),
    };
    retry.check().map_err(ApiError::invalid)?;
    Ok(RunPolicy {
        schedules: crate::service::schedules::bindings(input.schedules.clone())
            .map_err(ApiError::invalid)?,
        on_busy,
        retry,
    })
}

fn spec_from(input: TaskInput) -> Result<TaskSpec, ApiError> {
    let policy = policy_from(&input)?;
    let folder = input.folder.unwrap_or_else(|| DEFAULT_FOLDER.into());
    task::validate_folder(&folder).map_err(|e| ApiError::invalid(format!("folder: {e}")))?;
    task::validate_name(&input.name).map_err(|e| ApiError::invalid(format!("name: {e}")))?;
    let task_type: TaskType = input
        .task_type
        .parse()
        .map_err(|e: String| ApiError::invalid(format!("type: {e}")))?;
    let spec = TaskSpec {
        folder,
        name: input.name,
        task_type,
        description: input.description.unwrap_or_default(),
        allow_parallel: input.allow_parallel.unwrap_or(false),
        chain: input.chain,
        parameters: input.parameters,
        definition: input.definition,
        policy,
    };
    let problems = check_definition(&spec);
    if !problems.is_empty() {
        return Err(crate::service::ServiceError::InvalidDefinition(
            problems
                .into_iter()
                .map(|p| format!("definition.{p}"))
                .collect(),
        )
        .into());
    }
    Ok(spec)
}

#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks", params(TaskQuery),
    security(("bearer" = [])), responses((status = 200, body = Vec<TaskView>)))]
pub async fn list(
    State(app): State<App>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<TaskQuery>,
) -> ApiResult<Json<Vec<TaskView>>> {
    let task_type = q
        .task_type
        .map(|t| t.parse::<TaskType>())
        .transpose()
        .map_err(|e| ApiError::invalid(format!("type: {e}")))?;
    let filter = TaskFilter {
        folder: q.folder,
        name: q.name,
        task_type,
    };
    let tasks = app.list_tasks(who.org_id(), &filter).await?;
    Ok(Json(tasks.iter().map(task_view).collect()))
}

/// Creates a task.
#[utoipa::path(post, path = "/api/v1/tasks", tag = "tasks", request_body = TaskInput,
    security(("bearer" = [])), responses((status = 201, body = TaskView),
    (status = 409, body = sluice_types::ErrorBody), (status = 422, body = sluice_types::ErrorBody)))]
pub async fn create(
    State(app): State<App>,
    Auth(who): Auth,
    ApiJson(input): ApiJson<TaskInput>,
) -> ApiResult<(StatusCode, Json<TaskView>)> {
    let task = app.create_task(&who, spec_from(input)?).await?;
    Ok((StatusCode::CREATED, Json(task_view(&task))))
}

/// A task by its id (any format), `folder/name` (URL-encoded), or unique name.
#[utoipa::path(get, path = "/api/v1/tasks/{task}", tag = "tasks",
    params(("task" = String, Path, description = "id, IICS id, federated id, folder/name or name")),
    security(("bearer" = [])), responses((status = 200, body = TaskView), (status = 404, body = sluice_types::ErrorBody)))]
pub async fn read(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
) -> ApiResult<Json<TaskView>> {
    Ok(Json(task_view(
        &app.resolve_task(who.org_id(), &reference).await?,
    )))
}

/// Replaces a task's definition.
#[utoipa::path(put, path = "/api/v1/tasks/{task}", tag = "tasks", request_body = TaskInput,
    params(("task" = String, Path)), security(("bearer" = [])), responses((status = 200, body = TaskView)))]
pub async fn update(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
    ApiJson(input): ApiJson<TaskInput>,
) -> ApiResult<Json<TaskView>> {
    let existing = app.resolve_task(who.org_id(), &reference).await?;
    let task = app
        .update_task(&who, existing.id, spec_from(input)?)
        .await?;
    Ok(Json(task_view(&task)))
}

#[utoipa::path(delete, path = "/api/v1/tasks/{task}", tag = "tasks", params(("task" = String, Path)),
    security(("bearer" = [])), responses((status = 204), (status = 409, body = sluice_types::ErrorBody)))]
pub async fn remove(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let task = app.resolve_task(who.org_id(), &reference).await?;
    app.delete_task(&who, task.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new inbound webhook key for the task (Starfish `v1/Webhook` callers that cannot log in),
/// replacing the old one. The key is shown only in this answer.
#[utoipa::path(post, path = "/api/v1/tasks/{task}/webhook-key", tag = "tasks", params(("task" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = WebhookKey)))]
pub async fn webhook_key(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
) -> ApiResult<Json<WebhookKey>> {
    let task = app.resolve_task(who.org_id(), &reference).await?;
    let key = app.rotate_webhook_key(&who, &task).await?;
    Ok(Json(WebhookKey {
        key,
        starfish_project_id: task.folder_id(),
        starfish_job_id: task.id,
    }))
}

/// The task as its definition file (TOML).
#[utoipa::path(get, path = "/api/v1/tasks/{task}/export", tag = "tasks", params(("task" = String, Path)),
    security(("bearer" = [])), responses((status = 200, content_type = "application/toml", body = String)))]
pub async fn export(
    State(app): State<App>,
    Auth(who): Auth,
    ApiPath(reference): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let task = app.resolve_task(who.org_id(), &reference).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/toml; charset=utf-8")],
        task_to_toml(&task),
    ))
}
