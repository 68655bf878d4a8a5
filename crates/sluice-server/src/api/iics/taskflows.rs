//! The taskflow service API (Application Integration): run a linear taskflow by name under
//! `/active-bpel/rt/<name>` (inputs as query or JSON body, answering `{"RunId"}`), its status
//! under `/active-bpel/services/tf/status`, and `terminate`. Served at the root and under
//! `/saas`, as clients build these URLs both ways.
//!
//! A `RunId` is the run's UUID as a 128-bit decimal number (IICS run ids exceed 64 bits too),
//! answered as a string and read back in any form (`tf_status.rs`).

use super::V2Error;
use super::session::IicsSession;
use super::tf_status::{parse_run_id, run_id, states_for, status_object, status_word};
use crate::domain::{Run, StopMode, Task, TaskType, Trigger};
use crate::service::App;
use crate::service::runs::StartRequest;
use crate::store::RunFilter;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

/// The list form answers at most this many (IICS: default 10, at most 50).
const DEFAULT_ROWS: i64 = 10;
const MAX_ROWS: i64 = 50;

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
    Ok(Json(json!({ "RunId": run_id(run.id) })).into_response())
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
    Ok(Json(render(&app, &run, task.as_ref()).await?))
}

async fn render(app: &App, run: &Run, task: Option<&Task>) -> Result<Value, V2Error> {
    let steps = app.taskflow_steps(run.org_id, run.id).await?;
    Ok(status_object(run, task, &steps, &app.config.node_name))
}

fn time_param(q: &HashMap<String, String>, key: &str) -> Result<Option<DateTime<Utc>>, V2Error> {
    match q.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse::<DateTime<Utc>>().map(Some).map_err(|_| {
            V2Error::bad_request(format!("{key} must be a time like 2024-01-31T10:00:00Z."))
        }),
    }
}

/// With `runId`: that run alone (404 when it is not a taskflow run of the caller's org).
/// Without: the org's taskflow runs, newest first, filtered and paged in the store; with neither
/// `startTime` nor `endTime`, those of the last 24 hours (as IICS answers).
async fn list(
    State(app): State<App>,
    s: IicsSession,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, V2Error> {
    if let Some(id) = q.get("runId").filter(|v| !v.trim().is_empty()) {
        let (run, task) = taskflow_run(&app, &s, id).await?;
        return Ok(Json(json!([render(&app, &run, task.as_ref()).await?])));
    }
    let states = match q.get("runStatus").map(|v| v.trim().to_ascii_uppercase()) {
        None => Vec::new(),
        Some(v) if v == "SUSPENDED" => return Ok(Json(json!([]))),
        Some(v) => states_for(&v).ok_or_else(|| {
            V2Error::bad_request(format!(
                "runStatus must be Success, Failed, Suspended, Running or Stopped, not `{v}`."
            ))
        })?,
    };
    let (mut from, to) = (time_param(&q, "startTime")?, time_param(&q, "endTime")?);
    if from.is_none() && to.is_none() {
        from = Some(Utc::now() - chrono::Duration::hours(24));
    }
    let number = |key: &str, default: i64| -> Result<i64, V2Error> {
        match q.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .ok()
                .filter(|n: &i64| *n >= 0)
                .ok_or_else(|| V2Error::bad_request(format!("{key} must be a whole number."))),
        }
    };
    let (offset, limit) = (number("offset", 0)?, number("rowLimit", DEFAULT_ROWS)?);
    if !(1..=MAX_ROWS).contains(&limit) {
        return Err(V2Error::bad_request(format!(
            "rowLimit must be between 1 and {MAX_ROWS}."
        )));
    }
    let filter = RunFilter {
        states,
        limit,
        offset,
        task_type: Some(TaskType::Workflow),
        started_from: from,
        started_to: to,
        ..Default::default()
    };
    let runs = app.runs_with_tasks(s.who.org_id(), &filter).await?;
    let mut out = Vec::with_capacity(runs.len());
    for (run, task) in &runs {
        out.push(render(&app, run, task.as_ref()).await?);
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
        out.push(json!({"runId": id.trim_matches('"'), "status": status_word(run.state)}));
    }
    Ok(Json(json!({ "runs": out })))
}
