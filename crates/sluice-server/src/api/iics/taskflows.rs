//! The taskflow service API (Application Integration): run a linear taskflow by name under
//! `/active-bpel/rt/<name>` (inputs as query or JSON body, answering `{"RunId"}`), its status
//! under `/active-bpel/services/tf/status`, and `terminate`. Served at the root and under
//! `/saas`, as clients build these URLs both ways.
//!
//! A `RunId` is the run's UUID as a 128-bit decimal number (IICS run ids exceed 64 bits too).

use super::V2Error;
use super::entries::utc_time;
use super::session::IicsSession;
use crate::domain::{Run, RunChild, RunState, StopMode, Task, TaskType, Trigger};
use crate::service::App;
use crate::service::runs::StartRequest;
use crate::store::RunFilter;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// The list form answers at most this many (IICS: default 10, at most 50).
const DEFAULT_ROWS: usize = 10;
const MAX_ROWS: usize = 50;
/// Recent runs looked through for the list form.
const LIST_SCAN: i64 = 2000;

pub fn routes() -> Router<App> {
    let mut r = Router::new();
    for root in ["", "/saas"] {
        r = r
            .route(
                &format!("{root}/active-bpel/rt/{{name}}"),
                get(run).post(run),
            )
            .route(&format!("{root}/active-bpel/services/tf/status"), get(list))
            .route(
                &format!("{root}/active-bpel/services/tf/status/{{id}}"),
                get(status),
            )
            .route(
                &format!("{root}/active-bpel/services/tf/terminate"),
                put(terminate),
            );
    }
    r
}

/// The `RunId` of a run, and back.
fn run_id(run: &Run) -> String {
    run.id.as_u128().to_string()
}

fn parse_run_id(s: &str) -> Option<Uuid> {
    let s = s.trim().trim_matches('"');
    s.parse::<u128>()
        .ok()
        .map(Uuid::from_u128)
        .or_else(|| Uuid::parse_str(s).ok())
}

async fn taskflow(app: &App, s: &IicsSession, name: &str) -> Result<Task, V2Error> {
    let task = app
        .resolve_task(s.who.org_id(), name)
        .await
        .map_err(|e| match e {
            crate::service::ServiceError::NotFound(_) => {
                V2Error::not_found(format!("Taskflow `{name}` was not found."))
            }
            other => other.into(),
        })?;
    if task.task_type != TaskType::Workflow {
        return Err(V2Error::bad_request(format!(
            "`{}` is a {} task, not a taskflow.",
            task.path(),
            task.task_type
        )));
    }
    Ok(task)
}

/// Input fields become run parameters: text as it is, other JSON values as JSON.
fn inputs(
    query: HashMap<String, String>,
    body: &Bytes,
) -> Result<BTreeMap<String, String>, V2Error> {
    let mut out: BTreeMap<String, String> = query.into_iter().collect();
    if !body.iter().all(u8::is_ascii_whitespace) {
        let fields: serde_json::Map<String, Value> = super::json::parse(body)?;
        for (k, v) in fields {
            let text = match v {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            out.insert(k, text);
        }
    }
    Ok(out)
}

async fn run(
    State(app): State<App>,
    s: IicsSession,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, V2Error> {
    let task = taskflow(&app, &s, &name).await?;
    let parameters = inputs(query, &body)?;
    let (run, _) = app
        .start_run(
            &s.who,
            &task,
            StartRequest {
                parameters,
                trigger: Some(Trigger::Iics),
                ..StartRequest::default()
            },
        )
        .await?;
    // Written by hand: the number is wider than a JSON value of serde_json holds.
    let body = format!("{{\"RunId\":{}}}", run_id(&run));
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

fn status_word(s: RunState) -> &'static str {
    match s {
        RunState::Queued | RunState::Starting | RunState::Running | RunState::Stopping => "RUNNING",
        RunState::Completed | RunState::CompletedWithErrors => "SUCCESS",
        RunState::Failed => "FAILED",
        RunState::Stopped => "STOPPED",
    }
}

fn status_object(run: &Run, task: Option<&Task>, steps: &[RunChild]) -> Value {
    let start = run.started_at.unwrap_or(run.created_at);
    let end = run.ended_at;
    let duration = (end.unwrap_or_else(Utc::now) - start).num_seconds().max(0);
    json!({
        "assetName": task.map(|t| t.name.as_str()).unwrap_or("(deleted)"),
        "assetType": "TASKFLOW",
        "location": task.map(|t| t.folder.as_str()).unwrap_or(""),
        "runId": run_id(run),
        "runtimeEnv": "sluice",
        "startedBy": run.started_by,
        "startTime": utc_time(start),
        "endTime": end.map(utc_time),
        "duration": duration,
        "status": status_word(run.state),
        "errorMessage": run.error,
        "subtasks": steps.iter().map(|c| json!({
            "name": c.name,
            "status": if c.state == RunState::Queued { "NOT_STARTED" } else { status_word(c.state) },
            "startTime": c.started_at.map(utc_time),
            "endTime": c.ended_at.map(utc_time),
            "errorMessage": c.error,
        })).collect::<Vec<_>>(),
    })
}

async fn taskflow_run(
    app: &App,
    s: &IicsSession,
    id: &str,
) -> Result<(Run, Option<Task>), V2Error> {
    let not_found = || V2Error::not_found(format!("Taskflow run `{id}` was not found."));
    let uuid = parse_run_id(id).ok_or_else(not_found)?;
    let run = app
        .get_run(s.who.org_id(), uuid)
        .await
        .map_err(|_| not_found())?;
    let task = app.find_task_by_id(s.who.org_id(), run.task_id).await?;
    if task
        .as_ref()
        .is_some_and(|t| t.task_type != TaskType::Workflow)
    {
        return Err(not_found());
    }
    Ok((run, task))
}

async fn status(
    State(app): State<App>,
    s: IicsSession,
    Path(id): Path<String>,
) -> Result<Json<Value>, V2Error> {
    let (run, task) = taskflow_run(&app, &s, &id).await?;
    let steps = app.run_children(run.id).await?;
    Ok(Json(status_object(&run, task.as_ref(), &steps)))
}

fn time_param(q: &HashMap<String, String>, key: &str) -> Result<Option<DateTime<Utc>>, V2Error> {
    match q.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse::<DateTime<Utc>>().map(Some).map_err(|_| {
            V2Error::bad_request(format!("{key} must be a time like 2024-01-31T10:00:00Z."))
        }),
    }
}

async fn list(
    State(app): State<App>,
    s: IicsSession,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, V2Error> {
    let wanted = match q.get("runStatus").map(|v| v.trim().to_ascii_uppercase()) {
        None => None,
        Some(v)
            if ["SUCCESS", "FAILED", "SUSPENDED", "RUNNING", "STOPPED"].contains(&v.as_str()) =>
        {
            Some(v)
        }
        Some(v) => {
            return Err(V2Error::bad_request(format!(
                "runStatus must be Success, Failed, Suspended, Running or Stopped, not `{v}`."
            )));
        }
    };
    let (from, to) = (time_param(&q, "startTime")?, time_param(&q, "endTime")?);
    let number = |key: &str, default: usize| -> Result<usize, V2Error> {
        match q.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| V2Error::bad_request(format!("{key} must be a whole number."))),
        }
    };
    let (offset, limit) = (number("offset", 0)?, number("rowLimit", DEFAULT_ROWS)?);
    if !(1..=MAX_ROWS).contains(&limit) {
        return Err(V2Error::bad_request(format!(
            "rowLimit must be between 1 and {MAX_ROWS}."
        )));
    }
    let runs = app
        .runs_with_tasks(
            s.who.org_id(),
            &RunFilter {
                limit: LIST_SCAN,
                ..Default::default()
            },
        )
        .await?;
    let mut out = Vec::new();
    let matching = runs.iter().filter(|(run, task)| {
        let start = run.started_at.unwrap_or(run.created_at);
        task.as_ref()
            .is_some_and(|t| t.task_type == TaskType::Workflow)
            && wanted
                .as_deref()
                .is_none_or(|w| w == status_word(run.state))
            && from.is_none_or(|f| start >= f)
            && to.is_none_or(|t| start <= t)
    });
    for (run, task) in matching.skip(offset).take(limit) {
        let steps = app.run_children(run.id).await?;
        out.push(status_object(run, task.as_ref(), &steps));
    }
    Ok(Json(Value::Array(out)))
}

#[derive(Deserialize)]
struct Terminate {
    #[serde(alias = "runId", alias = "runIds")]
    runid: Option<Vec<Value>>,
}

/// Stops taskflow runs at once (and the step each is running); answers each run's outcome.
async fn terminate(
    State(app): State<App>,
    s: IicsSession,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let req: Terminate = super::json::parse(&body)?;
    let ids = req
        .runid
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| V2Error::bad_request("runid: at least one run id is required."))?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let id = match id {
            Value::String(s) => s,
            other => other.to_string(),
        };
        let (run, _) = taskflow_run(&app, &s, &id).await?;
        let run = app.stop_run(&s.who, run.id, StopMode::Immediate).await?;
        out.push(json!({"runId": id, "status": status_word(run.state)}));
    }
    Ok(Json(json!({ "runs": out })))
}
