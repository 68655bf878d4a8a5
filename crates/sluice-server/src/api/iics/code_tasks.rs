//! The IICS code task API (`/disnext/api/v1/CodeTask`, at the root and under `/saas`): create and
//! view a code task, start it (answering a `jobId`: the run's id), its `JobStatus`, `Cancel`, and
//! `SessionLogs` and `SparkTaskStatus`. Informatica did not publish the cancel, log and Spark
//! status routes; Sluice's follow the published ones: `POST .../CodeTask/Cancel` with
//! `{"jobId"}`, `GET .../CodeTask/SessionLogs/<jobId>` and `GET .../CodeTask/SparkTaskStatus/<jobId>`.
//! Code tasks made here live in the folder `CodeTasks`.

use super::V2Error;
use super::json::parse;
use super::session::{IicsSession, base_url};
use crate::domain::spark::{SparkProgress, SparkState, Tally};
use crate::domain::{Run, RunState, StopMode, Task, TaskType, Trigger};
use crate::service::App;
use crate::service::definitions::TaskSpec;
use crate::service::runs::StartRequest;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// Where code tasks created through this API are kept.
const FOLDER: &str = "CodeTasks";

pub fn routes() -> Router<App> {
    let mut r = Router::new();
    for root in ["", "/saas"] {
        let base = format!("{root}/disnext/api/v1/CodeTask");
        r = r
            .route(&base, post(create))
            .route(&format!("{base}/Start"), post(start))
            .route(&format!("{base}/Cancel"), post(cancel))
            .route(&format!("{base}/JobStatus/{{job}}"), get(status))
            .route(&format!("{base}/SessionLogs/{{job}}"), get(logs))
            .route(
                &format!("{base}/SparkTaskStatus/{{job}}"),
                get(spark_status),
            )
            .route(&format!("{base}/{{id}}"), get(view));
    }
    r
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRequest {
    code_task_name: Option<String>,
    runtime_environment_name: Option<String>,
    agent_group_id: Option<String>,
    override_task_timeout: Option<i64>,
    log_level: Option<String>,
    spark_main_class: Option<String>,
    #[serde(default)]
    spark_main_class_args: Vec<String>,
    /// The application: a `.jar` (with `sparkMainClass`) or a `.py` file on the Sluice node.
    spark_application_file: Option<String>,
    /// The Spark master; default the server's.
    spark_master: Option<String>,
}

const LOG_LEVELS: [&str; 5] = [
    "none",
    "terse",
    "normal",
    "verboseInitialization",
    "verboseData",
];

fn code_task_object(t: &Task) -> Value {
    let d = &t.definition;
    json!({
        "codeTaskId": t.short_id(),
        "codeTaskName": t.name,
        "path": t.path(),
        "sparkMainClass": d.get("main_class"),
        "sparkMainClassArgs": d.get("args").cloned().unwrap_or_else(|| json!([])),
        "sparkApplicationFile": d.get("application"),
        "sparkMaster": d.get("master"),
        "overrideTaskTimeout": d.get("timeout_secs").cloned().unwrap_or(json!(-1)),
        "logLevel": t.parameters.get("iics.log_level").cloned().unwrap_or("normal".into()),
        "agentGroupId": d.get("runtime_environment"),
        "runtimeEnvironmentName": d.get("runtime_environment"),
    })
}

async fn create(
    State(app): State<App>,
    s: IicsSession,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let req: CreateRequest = parse(&body)?;
    let name = req
        .code_task_name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| V2Error::bad_request("codeTaskName is required."))?;
    let environment = app
        .runtime_environment_named(
            req.runtime_environment_name.as_deref(),
            req.agent_group_id.as_deref(),
        )
        .map_err(V2Error::from)?;
    let level = req.log_level.unwrap_or_else(|| "normal".into());
    if !LOG_LEVELS.contains(&level.as_str()) {
        return Err(V2Error::bad_request(format!(
            "logLevel must be one of {}.",
            LOG_LEVELS.join(", ")
        )));
    }
    let application = req.spark_application_file.ok_or_else(|| {
        V2Error::bad_request("sparkApplicationFile is required (a .jar or .py file).")
    })?;
    let mut definition = json!({
        "engine": "spark",
        "application": application,
        "args": req.spark_main_class_args,
        "runtime_environment": environment,
    });
    if let Some(c) = req.spark_main_class {
        definition["main_class"] = json!(c);
    }
    if let Some(m) = req.spark_master {
        definition["master"] = json!(m);
    }
    match req.override_task_timeout {
        None | Some(-1) => {}
        Some(t) if t > 0 => definition["timeout_secs"] = json!(t),
        Some(t) => {
            return Err(V2Error::bad_request(format!(
                "overrideTaskTimeout must be -1 (none) or a number of seconds, not {t}."
            )));
        }
    }
    let spec = TaskSpec {
        folder: FOLDER.into(),
        name,
        task_type: TaskType::Code,
        description: "created through the IICS code task API".into(),
        allow_parallel: true,
        chain: Vec::new(),
        parameters: [("iics.log_level".to_string(), level)].into(),
        definition,
        policy: Default::default(),
    };
    // The service checks the definition (an IICS 400 with every problem when it fails).
    let task = app.create_task(&s.who, spec).await?;
    Ok(Json(code_task_object(&task)))
}

async fn code_task(app: &App, s: &IicsSession, id: &str) -> Result<Task, V2Error> {
    let task = app
        .resolve_task(s.who.org_id(), id)
        .await
        .map_err(|_| V2Error::not_found(format!("Code task `{id}` was not found.")))?;
    if task.task_type != TaskType::Code {
        return Err(V2Error::bad_request(format!("`{id}` is not a code task.")));
    }
    Ok(task)
}

async fn view(
    State(app): State<App>,
    s: IicsSession,
    Path(id): Path<String>,
) -> Result<Json<Value>, V2Error> {
    Ok(Json(code_task_object(&code_task(&app, &s, &id).await?)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartBody {
    code_task_id: Option<String>,
}

async fn start(
    State(app): State<App>,
    s: IicsSession,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let req: StartBody = parse(&body)?;
    let id = req
        .code_task_id
        .ok_or_else(|| V2Error::bad_request("codeTaskId is required."))?;
    let task = code_task(&app, &s, &id).await?;
    let (run, _) = app
        .start_run(
            &s.who,
            &task,
            StartRequest {
                trigger: Some(Trigger::Iics),
                ..StartRequest::default()
            },
        )
        .await?;
    let at = run.created_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    Ok(Json(json!({
        "summary": "Code Task started successfully",
        "jobId": run.id.to_string(),
        "codeTaskInstanceName": format!("{}-{}", task.name, run.run_number),
        "sparkCodeTaskResponseBody": {
            "agentGroupId": "sluice",
            "clusterConfigId": "sluice",
            "logLevel": task.parameters.get("iics.log_level").cloned().unwrap_or("normal".into()),
            "startRunTime": at,
            "submitTime": at,
        }
    })))
}

async fn job(app: &App, s: &IicsSession, job: &str) -> Result<(Run, Option<Task>), V2Error> {
    let not_found = || V2Error::not_found(format!("Job `{job}` was not found."));
    let id = Uuid::parse_str(job.trim()).map_err(|_| not_found())?;
    let run = app
        .get_run(s.who.org_id(), id)
        .await
        .map_err(|_| not_found())?;
    let task = app.find_task_by_id(s.who.org_id(), run.task_id).await?;
    if task.as_ref().is_some_and(|t| t.task_type != TaskType::Code) {
        return Err(not_found());
    }
    Ok((run, task))
}

fn execution_state(s: RunState) -> &'static str {
    match s {
        RunState::Queued => "QUEUED",
        RunState::Starting | RunState::Running | RunState::Stopping => "RUNNING",
        RunState::Completed | RunState::CompletedWithErrors => "SUCCEEDED",
        RunState::Failed => "FAILED",
        RunState::Stopped => "CANCELLED",
    }
}

async fn status(
    State(app): State<App>,
    s: IicsSession,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, V2Error> {
    let (run, task) = job(&app, &s, &id).await?;
    let spark_state = is_spark(task.as_ref(), &run).then(|| application_state(run.spark.as_ref()));
    Ok(Json(json!({
        "codeTaskName": task.as_ref().map(|t| t.name.clone()),
        "codeTaskId": task.as_ref().map(Task::short_id),
        "agentGroupId": "sluice",
        "jobId": run.id.to_string(),
        "executionState": execution_state(run.state),
        "errorMessage": run.error,
        "sessionLogUrl": format!("{}/disnext/api/v1/CodeTask/SessionLogs/{}", base_url(&app, &headers), run.id),
        "sparkApplicationId": run.spark.as_ref().and_then(|p| p.app_id.clone()),
        "sparkApplicationState": spark_state,
    })))
}

/// Whether the job runs a Spark application (or did: its task may have changed since).
fn is_spark(task: Option<&Task>, run: &Run) -> bool {
    run.spark.is_some()
        || task.is_some_and(|t| t.definition.get("engine").and_then(Value::as_str) == Some("spark"))
}

fn application_state(p: Option<&SparkProgress>) -> &'static str {
    match p.map(|p| p.state) {
        None => "NOT_STARTED",
        Some(SparkState::Submitted) => "SUBMITTED",
        Some(SparkState::Running) => "RUNNING",
        Some(SparkState::Succeeded) => "SUCCEEDED",
        Some(SparkState::Failed) => "FAILED",
        Some(SparkState::Killed) => "KILLED",
    }
}

fn tally(t: &Tally) -> Value {
    json!({
        "total": t.total,
        "completed": t.completed,
        "active": t.active,
        "failed": t.failed,
        "skipped": t.skipped,
    })
}

/// The Spark application of a job: its id, state, UI, and jobs, stages and tasks done.
async fn spark_status(
    State(app): State<App>,
    s: IicsSession,
    Path(id): Path<String>,
) -> Result<Json<Value>, V2Error> {
    let (run, task) = job(&app, &s, &id).await?;
    if !is_spark(task.as_ref(), &run) {
        return Err(V2Error::bad_request(format!(
            "Job `{id}` runs a program, not a Spark application."
        )));
    }
    let p = run.spark.clone().unwrap_or_default();
    Ok(Json(json!({
        "jobId": run.id.to_string(),
        "codeTaskName": task.as_ref().map(|t| t.name.clone()),
        "executionState": execution_state(run.state),
        "applicationId": p.app_id,
        "applicationName": p.app_name,
        "applicationState": application_state(run.spark.as_ref()),
        "sparkUiUrl": p.ui_url,
        "jobs": tally(&p.jobs),
        "stages": tally(&p.stages),
        "tasks": tally(&p.tasks),
        "updateTime": p.updated_at.map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelBody {
    job_id: Option<String>,
}

/// Cancels a job: SIGTERM to the application's process group, SIGKILL after its grace period.
async fn cancel(
    State(app): State<App>,
    s: IicsSession,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let req: CancelBody = parse(&body)?;
    let id = req
        .job_id
        .ok_or_else(|| V2Error::bad_request("jobId is required."))?;
    let (run, _) = job(&app, &s, &id).await?;
    let run = app.stop_run(&s.who, run.id, StopMode::Graceful).await?;
    Ok(Json(json!({
        "summary": "Code Task cancel requested",
        "jobId": run.id.to_string(),
        "executionState": execution_state(run.state),
    })))
}

async fn logs(
    State(app): State<App>,
    s: IicsSession,
    Path(id): Path<String>,
) -> Result<Response, V2Error> {
    let (run, task) = job(&app, &s, &id).await?;
    let (_, text) = app.log_text(s.who.org_id(), run.id).await?;
    let name = format!(
        "{}_{}.log",
        task.map(|t| t.name).unwrap_or_else(|| "code_task".into()),
        run.run_number
    )
    .replace(
        |c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '_' && c != '-',
        "_",
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        text,
    )
        .into_response())
}
