//! `activity/activityMonitor` (queued and running jobs), `activity/activityLog` (finished jobs,
//! newest first), one entry by id, its session log and its error (rejected rows) log.

use super::entries::{log_entry, monitor_entry};
use super::session::IicsSession;
use super::{V2Error, v2};
use crate::domain::{Run, RunState, Task};
use crate::service::App;
use crate::store::RunFilter;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;
use std::collections::HashMap;
use uuid::Uuid;

/// `rowLimit` when none is given, and the most it may be (IICS documents both).
const DEFAULT_ROWS: i64 = 200;
const MAX_ROWS: i64 = 1000;
/// Queued and running jobs answered at most by activityMonitor.
const MONITOR_MAX: i64 = 10_000;

pub fn routes() -> Router<App> {
    let r = Router::new();
    let r = v2(r, "/activity/activityMonitor", get(monitor));
    let r = v2(r, "/activity/activityLog", get(log));
    let r = v2(r, "/activity/activityLog/{id}", get(log_one));
    let r = v2(r, "/activity/activityLog/{id}/sessionLog", get(session_log));
    v2(r, "/activity/errorLog/{id}", get(error_log))
}

type Params = Query<HashMap<String, String>>;

fn int_param(q: &HashMap<String, String>, key: &str) -> Result<Option<i64>, V2Error> {
    match q.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| V2Error::bad_request(format!("{key} must be an integer, not `{v}`."))),
    }
}

fn bool_param(q: &HashMap<String, String>, key: &str) -> Result<bool, V2Error> {
    match q.get(key).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(v) => Err(V2Error::bad_request(format!(
            "{key} must be true or false, not `{v}`."
        ))),
    }
}

/// The task a `taskId` filter names (any of its ids), or None without one.
async fn task_filter(
    app: &App,
    s: &IicsSession,
    q: &HashMap<String, String>,
) -> Result<Option<Task>, V2Error> {
    match q.get("taskId").map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(id) => Ok(Some(app.resolve_task(s.who.org_id(), id).await.map_err(
            |e| match e {
                crate::service::ServiceError::NotFound(_) => {
                    V2Error::not_found(format!("Task `{id}` was not found."))
                }
                other => other.into(),
            },
        )?)),
    }
}

async fn monitor(
    State(app): State<App>,
    s: IicsSession,
    Query(q): Params,
) -> Result<Json<Value>, V2Error> {
    let details = bool_param(&q, "details")?;
    let task = task_filter(&app, &s, &q).await?;
    let run_number = int_param(&q, "runId")?;
    let runs = app
        .runs_with_tasks(
            s.who.org_id(),
            &RunFilter {
                task_id: task.as_ref().map(|t| t.id),
                states: RunState::ACTIVE.to_vec(),
                limit: MONITOR_MAX,
                ..Default::default()
            },
        )
        .await?;
    let node = &app.config.node_name;
    let mut out = Vec::with_capacity(runs.len());
    for (run, task) in runs.iter().rev() {
        if run_number.is_some_and(|n| n != run.run_number) {
            continue;
        }
        let children = if details {
            Some(app.run_children(run.id).await?)
        } else {
            None
        };
        out.push(monitor_entry(run, task.as_ref(), node, children.as_deref()));
    }
    Ok(Json(Value::Array(out)))
}

async fn entry(app: &App, run: &Run, task: Option<&Task>) -> Result<Value, V2Error> {
    let children = app.run_children(run.id).await?;
    Ok(log_entry(run, task, &app.config.node_name, &children))
}

async fn log(
    State(app): State<App>,
    s: IicsSession,
    Query(q): Params,
) -> Result<Json<Value>, V2Error> {
    let task = task_filter(&app, &s, &q).await?;
    let run_number = int_param(&q, "runId")?;
    let offset = int_param(&q, "offset")?.unwrap_or(0);
    let limit = int_param(&q, "rowLimit")?.unwrap_or(DEFAULT_ROWS);
    if offset < 0 {
        return Err(V2Error::bad_request("offset must not be negative."));
    }
    if !(1..=MAX_ROWS).contains(&limit) {
        return Err(V2Error::bad_request(format!(
            "rowLimit must be between 1 and {MAX_ROWS}."
        )));
    }
    if let Some(n) = run_number {
        let task = task.ok_or_else(|| V2Error::bad_request("runId needs taskId."))?;
        let run = app.run_by_number(&s.who, &task, n).await?;
        let out = match run {
            Some(run) if run.state.is_terminal() && offset == 0 => {
                vec![entry(&app, &run, Some(&task)).await?]
            }
            _ => Vec::new(),
        };
        return Ok(Json(Value::Array(out)));
    }
    let runs = app
        .runs_with_tasks(
            s.who.org_id(),
            &RunFilter {
                task_id: task.as_ref().map(|t| t.id),
                states: RunState::ALL
                    .into_iter()
                    .filter(|s| s.is_terminal())
                    .collect(),
                limit,
                offset,
                ..Default::default()
            },
        )
        .await?;
    let mut out = Vec::with_capacity(runs.len());
    for (run, task) in &runs {
        out.push(entry(&app, run, task.as_ref()).await?);
    }
    Ok(Json(Value::Array(out)))
}

/// A finished run named by its activity log id.
async fn finished_run(
    app: &App,
    s: &IicsSession,
    id: &str,
) -> Result<(Run, Option<Task>), V2Error> {
    let not_found = || V2Error::not_found(format!("Activity log entry `{id}` was not found."));
    let uuid = Uuid::parse_str(id.trim()).map_err(|_| not_found())?;
    let run = app
        .get_run(s.who.org_id(), uuid)
        .await
        .map_err(|_| not_found())?;
    let task = app.find_task_by_id(s.who.org_id(), run.task_id).await?;
    Ok((run, task))
}

async fn log_one(
    State(app): State<App>,
    s: IicsSession,
    Path(id): Path<String>,
) -> Result<Json<Value>, V2Error> {
    let (run, task) = finished_run(&app, &s, &id).await?;
    if !run.state.is_terminal() {
        return Err(V2Error::not_found(format!(
            "Activity log entry `{id}` was not found: the job is still running."
        )));
    }
    Ok(Json(entry(&app, &run, task.as_ref()).await?))
}

fn download(name: String, content_type: &'static str, body: impl Into<Body>) -> Response {
    let name = name.replace(
        |c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '_' && c != '-',
        "_",
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body.into(),
    )
        .into_response()
}

fn file_stem(run: &Run, task: Option<&Task>) -> String {
    format!(
        "{}_{}",
        task.map(|t| t.name.as_str()).unwrap_or("task"),
        run.run_number
    )
}

async fn session_log(
    State(app): State<App>,
    s: IicsSession,
    Path(id): Path<String>,
) -> Result<Response, V2Error> {
    let (run, task) = finished_run(&app, &s, &id).await?;
    let (_, text) = app.log_text(s.who.org_id(), run.id).await?;
    let name = format!("{}.log", file_stem(&run, task.as_ref()));
    Ok(download(name, "text/plain; charset=utf-8", text))
}

/// The rejected rows of a run: JSON lines `{"reason", "row"}` (one file per table of a
/// replication, one after another), streamed from the store.
async fn error_log(
    State(app): State<App>,
    s: IicsSession,
    Path(id): Path<String>,
) -> Result<Response, V2Error> {
    let (run, task) = finished_run(&app, &s, &id).await?;
    let files = app.reject_files(run.id).await?;
    let name = format!("{}_error.jsonl", file_stem(&run, task.as_ref()));
    Ok(download(
        name,
        "application/x-ndjson",
        Body::from_stream(app.reject_bytes(run.id, files)),
    ))
}
