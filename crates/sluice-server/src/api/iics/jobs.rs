//! `POST /api/v2/job` and `/api/v2/job/stop`: the job object in, the job (or success) object out.
//! A task is named by `taskId`, `taskFederatedId` or `taskName`, in any folder.

use super::json::parse;
use super::session::IicsSession;
use super::{V2Error, v2};
use crate::domain::{StopMode, Task, TaskType, Trigger};
use crate::service::App;
use crate::service::runs::StartRequest;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub fn routes() -> Router<App> {
    let r = Router::new();
    let r = v2(r, "/job", post(start));
    v2(r, "/job/stop", post(stop))
}

/// The job object. Every field is optional here so that a missing one gets a clear 400, not a
/// parse error; XML bodies arrive with every value as text.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRequest {
    task_id: Option<String>,
    task_federated_id: Option<String>,
    task_name: Option<String>,
    task_type: Option<String>,
    #[serde(rename = "callbackURL", alias = "callbackUrl", alias = "callbackurl")]
    callback_url: Option<String>,
    runtime: Option<Value>,
    parameter_file_name: Option<String>,
    parameter_file_dir: Option<String>,
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl JobRequest {
    /// `parameterFileName`/`Dir` from the top level, else from `runtime` (clients do both).
    fn parameter_file(&self) -> (Option<String>, Option<String>) {
        let from_runtime = |key: &str| {
            self.runtime
                .as_ref()
                .and_then(|r| r.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let name = nonempty(&self.parameter_file_name)
            .map(str::to_string)
            .or_else(|| from_runtime("parameterFileName"));
        let dir = nonempty(&self.parameter_file_dir)
            .map(str::to_string)
            .or_else(|| from_runtime("parameterFileDir"));
        (name, dir)
    }
}

/// The task the job object names, checked against `taskType`.
async fn task_of(app: &App, who: &IicsSession, req: &JobRequest) -> Result<Task, V2Error> {
    let reference = nonempty(&req.task_federated_id)
        .or(nonempty(&req.task_id))
        .or(nonempty(&req.task_name))
        .ok_or_else(|| {
            V2Error::bad_request("One of taskId, taskFederatedId or taskName is required.")
        })?;
    let task = app
        .resolve_task(who.who.org_id(), reference)
        .await
        .map_err(|e| match e {
            crate::service::ServiceError::NotFound(_) => V2Error::new(
                axum::http::StatusCode::NOT_FOUND,
                "CMN_404",
                format!("Task `{reference}` was not found."),
            ),
            other => other.into(),
        })?;
    if task.task_type == TaskType::Code {
        return Err(V2Error::bad_request(format!(
            "Task `{}` is a code task: start it with /disnext/api/v1/CodeTask/Start.",
            task.path()
        )));
    }
    if let Some(ty) = nonempty(&req.task_type) {
        let ty: TaskType = ty
            .parse()
            .map_err(|e: String| V2Error::bad_request(format!("taskType: {e}")))?;
        if ty != task.task_type {
            return Err(V2Error::bad_request(format!(
                "Task `{}` is of type {}, not {}.",
                task.path(),
                task.task_type.code(),
                ty.code()
            )));
        }
    }
    Ok(task)
}

fn job_object(task: &Task) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("@type".into(), json!("job"));
    m.insert("taskId".into(), json!(task.short_id()));
    m.insert("taskFederatedId".into(), json!(task.federated_id()));
    m.insert("taskName".into(), json!(task.name));
    m.insert("taskType".into(), json!(task.task_type.code()));
    m
}

async fn start(
    State(app): State<App>,
    session: IicsSession,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let req: JobRequest = parse(&body)?;
    let task = task_of(&app, &session, &req).await?;
    let parameters = match req.parameter_file() {
        (Some(file), dir) => app.parameter_file(&task, dir.as_deref(), &file).await?,
        (None, Some(_)) => {
            return Err(V2Error::bad_request(
                "parameterFileDir needs parameterFileName.",
            ));
        }
        (None, None) => BTreeMap::new(),
    };
    let (run, _) = app
        .start_run(
            &session.who,
            &task,
            StartRequest {
                parameters,
                callback_url: nonempty(&req.callback_url).map(str::to_string),
                external_id: None,
                trigger: Some(Trigger::Iics),
                options: Default::default(),
            },
        )
        .await?;
    let mut job = job_object(&task);
    job.insert("runId".into(), json!(run.run_number));
    job.insert("runInParallel".into(), json!(task.allow_parallel));
    Ok(Json(Value::Object(job)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StopQuery {
    clean_stop: Option<String>,
}

/// Stops the task's running job. A plain stop abandons the work at once; `cleanStop=true` lets
/// the batch in flight finish. Either way the target is rolled back and the run ends stopped.
async fn stop(
    State(app): State<App>,
    session: IicsSession,
    Query(q): Query<StopQuery>,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let clean = match q
        .clean_stop
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(V2Error::bad_request(format!(
                "cleanStop must be true or false, not `{other}`."
            )));
        }
    };
    let req: JobRequest = parse(&body)?;
    let task = task_of(&app, &session, &req).await?;
    let mode = if clean {
        StopMode::Graceful
    } else {
        StopMode::Immediate
    };
    let stopped = app.stop_task(&session.who, &task, mode).await?;
    if stopped.is_empty() {
        return Err(V2Error::bad_request(format!(
            "Task `{}` has no job running.",
            task.path()
        )));
    }
    Ok(Json(json!({
        "@type": "success",
        "description": format!(
            "The job was stopped by user {} using the API.",
            session.who.user.username
        ),
    })))
}
