//! `v1/ExecuteJobAsync`, `v1/ExecuteJob`, the inbound `v1/Webhook` and `v1/Results/{runID}`.

use super::StarfishAuth;
use super::fields::{boolean, guid, number, text};
use super::format::{Format, StarfishError, read_body, reply};
use super::shapes::{exec_job_response, results_for_chained, results_response};
use crate::api::{Failure, RequestClient};
use crate::domain::{Run, Task, Trigger};
use crate::service::runs::{MAX_THREADS, MAX_WAIT, OptionProblem, RunOptions, StartRequest};
use crate::service::{App, ServiceError};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

pub fn routes() -> Router<App> {
    let mut r = Router::new();
    // ASP.NET routes ignore case; clients write them both ways.
    for (path, lower) in [
        ("/v1/ExecuteJobAsync", "/v1/executejobasync"),
        ("/v1/ExecuteJob", "/v1/executejob"),
        ("/v1/Webhook", "/v1/webhook"),
    ] {
        let handler = match path {
            "/v1/ExecuteJobAsync" => post(execute_async),
            "/v1/ExecuteJob" => post(execute),
            _ => post(webhook),
        };
        r = r.route(path, handler.clone()).route(lower, handler);
    }
    r.route("/v1/Results/{run}", get(results))
        .route("/v1/results/{run}", get(results))
}

/// A validated `execJobAsyncRequest` / `execJobRequest`.
struct JobRequest {
    run_id: String,
    external_id: String,
    project: Uuid,
    job: Uuid,
    argument: Option<String>,
    options: RunOptions,
    webhook: Option<String>,
}

/// Reads every field and checks them, with the service's check of run options, before anything
/// runs; a problem is told in Starfish's field names.
fn job_request(m: &Map<String, Value>, sync: bool) -> Result<JobRequest, String> {
    let run = guid(m, "runID")?;
    let project = guid(m, "projectID")?;
    let job = guid(m, "jobID")?;
    let chain_jobs = boolean(m, "chainJobs")?.unwrap_or(false);
    // Numbers out of the options' types fail the options' check below: zero is invalid in each.
    let level = number(m, "loggingLevel")?.map(|l| u8::try_from(l).unwrap_or(u8::MAX));
    let row = |key| Ok::<_, String>(number(m, key)?.map(|n| u64::try_from(n).unwrap_or(0)));
    let threads = number(m, "threadCount")?.map(|n| u32::try_from(n).unwrap_or(0));
    let options = RunOptions {
        first_row: row("beginAtRow")?,
        last_row: row("endAfterRow")?,
        threads,
        log_level: level,
        chain_jobs,
    };
    if let Some(problem) = options.problem() {
        let said = |key: &str| number(m, key).ok().flatten().unwrap_or_default();
        return Err(match problem {
            OptionProblem::FirstRowZero => {
                format!("beginAtRow must be 1 or more, not {}", said("beginAtRow"))
            }
            OptionProblem::LastRowZero => {
                format!("endAfterRow must be 1 or more, not {}", said("endAfterRow"))
            }
            OptionProblem::LastBeforeFirst { first, last } => {
                format!("endAfterRow {last} is before beginAtRow {first}")
            }
            OptionProblem::LogLevel => {
                "loggingLevel must be 0 (none), 1 (low), 2 (medium) or 3 (high)".into()
            }
            OptionProblem::Threads => format!(
                "threadCount must be between 1 and {MAX_THREADS}, not {}",
                said("threadCount")
            ),
        });
    }
    if text(m, "instance").is_some_and(|i| i.len() > 255) {
        return Err("instance must be at most 255 characters".into());
    }
    let webhook = if sync { None } else { text(m, "webHookURL") };
    Ok(JobRequest {
        run_id: text(m, "runID").unwrap_or_default(),
        external_id: run.to_string(),
        project,
        job,
        argument: text(m, "argument"),
        options,
        webhook,
    })
}

/// The job `job` of project `project`: a task by its GUID, in the folder with that GUID.
async fn find_job(
    app: &App,
    who: &StarfishAuth,
    req: &JobRequest,
    f: Format,
) -> Result<Task, StarfishError> {
    let not_found = || {
        StarfishError::new(
            StatusCode::NOT_FOUND,
            format!("Job {} was not found in project {}.", req.job, req.project),
            f,
        )
    };
    let task = app
        .find_task_by_id(who.0.org_id(), req.job)
        .await
        .map_err(|e| error(e, f))?
        .ok_or_else(not_found)?;
    if task.folder_id() != req.project {
        return Err(not_found());
    }
    Ok(task)
}

fn error(e: ServiceError, f: Format) -> StarfishError {
    let failure = Failure::from(&e);
    StarfishError {
        retry_after: failure.retry_after,
        ..StarfishError::new(failure.status, failure.message, f)
    }
}

/// Starts the run a request asks for; a repeat of the same request answers the same run.
async fn start(
    app: &App,
    who: &StarfishAuth,
    req: &JobRequest,
    f: Format,
) -> Result<Result<Run, String>, StarfishError> {
    let task = find_job(app, who, req, f).await?;
    let mut parameters = BTreeMap::new();
    if let Some(a) = &req.argument {
        parameters.insert("JobArgument".to_string(), a.clone());
    }
    let started = app
        .start_run(
            &who.0,
            &task,
            StartRequest {
                parameters,
                callback_url: req.webhook.clone(),
                external_id: Some(req.external_id.clone()),
                trigger: Some(Trigger::Starfish),
                options: req.options,
            },
        )
        .await;
    match started {
        Ok((run, _)) => Ok(Ok(run)),
        // Could not start: answered as `started: false` with the reason, as Starfish does.
        Err(e @ (ServiceError::Conflict(_) | ServiceError::TaskRunning(_))) => {
            Ok(Err(e.to_string()))
        }
        Err(e) => Err(error(e, f)),
    }
}

fn async_response(run_id: &str, outcome: &Result<Run, String>, f: Format) -> Response {
    let (status, started, err) = match outcome {
        Ok(_) => (StatusCode::OK, true, Value::Null),
        Err(e) => (StatusCode::CONFLICT, false, json!(e)),
    };
    reply(
        status,
        "execJobAsyncResponse",
        &json!({"runID": run_id, "started": started, "error": err}),
        f,
    )
}

async fn execute_async(
    State(app): State<App>,
    who: StarfishAuth,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, StarfishError> {
    let f = Format::of_answer(&headers);
    let m = read_body(&headers, &body, f)?;
    let req = job_request(&m, false).map_err(|e| StarfishError::bad_request(e, f))?;
    let outcome = start(&app, &who, &req, f).await?;
    Ok(async_response(&req.run_id, &outcome, f))
}

/// Answers when the run has ended. The run does not depend on this request: a client that goes
/// away leaves it running, and the same request again waits for the same run.
async fn execute(
    State(app): State<App>,
    who: StarfishAuth,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, StarfishError> {
    let f = Format::of_answer(&headers);
    let m = read_body(&headers, &body, f)?;
    let req = job_request(&m, true).map_err(|e| StarfishError::bad_request(e, f))?;
    let mut run = start(&app, &who, &req, f)
        .await?
        .map_err(|e| StarfishError::new(StatusCode::CONFLICT, e, f))?;
    while !run.state.is_terminal() {
        run = app
            .wait_run(who.0.org_id(), run.id, MAX_WAIT)
            .await
            .map_err(|e| error(e, f))?;
    }
    let body = exec_job_response(&app, &run)
        .await
        .map_err(|e| error(e, f))?;
    Ok(reply(StatusCode::OK, "execJobResponse", &body, f))
}

/// An inbound webhook: the raw body is the job argument; a new run id is made. The caller is a
/// bearer token's user, or holds the job's webhook key (`X-Webhook-Key` or `key=`).
async fn webhook(
    State(app): State<App>,
    RequestClient(client): RequestClient,
    auth: Result<StarfishAuth, StarfishError>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, StarfishError> {
    let f = Format::of_answer(&headers);
    let key = headers
        .get("x-webhook-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| q.get("key").cloned());
    let who = match (auth, key) {
        (Ok(who), _) => who,
        (Err(denied), None) => return Err(denied),
        (Err(denied), Some(key)) => {
            let job = q
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("jobid"))
                .and_then(|(_, v)| Uuid::parse_str(v.trim()).ok())
                .ok_or(denied)?;
            let task = app
                .find_task_by_any_org(job)
                .await
                .map_err(|e| error(e, f))?
                .ok_or_else(|| {
                    StarfishError::new(
                        StatusCode::UNAUTHORIZED,
                        "The webhook key is not valid for this job.",
                        f,
                    )
                })?;
            let who = app
                .webhook_principal(&task, &key, client)
                .await
                .map_err(|e| error(e, f))?;
            StarfishAuth(who)
        }
    };
    let mut m: Map<String, Value> = q
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let run_id = Uuid::new_v4().to_string();
    m.insert("runID".into(), json!(run_id));
    let argument = String::from_utf8(body.to_vec())
        .map_err(|_| StarfishError::bad_request("The body is not valid UTF-8.", f))?;
    m.insert("argument".into(), json!(argument));
    let req = job_request(&m, false).map_err(|e| StarfishError::bad_request(e, f))?;
    let outcome = start(&app, &who, &req, f).await?;
    Ok(async_response(&run_id, &outcome, f))
}

async fn results(
    State(app): State<App>,
    who: StarfishAuth,
    headers: HeaderMap,
    Path(run): Path<String>,
) -> Result<Response, StarfishError> {
    let f = Format::of_answer(&headers);
    let mut m = Map::new();
    m.insert("runID".into(), json!(run));
    let id = guid(&m, "runID").map_err(|e| StarfishError::bad_request(e, f))?;
    let run = app
        .find_run(who.0.org_id(), &id.to_string())
        .await
        .map_err(|_| {
            StarfishError::new(
                StatusCode::NOT_FOUND,
                format!("Run {run} was not found."),
                f,
            )
        })?;
    // One result per job of the run: its own, then each chained job's.
    let mut list = vec![results_response(&run)];
    let chained = app.run_children(run.id).await.map_err(|e| error(e, f))?;
    list.extend(chained.iter().map(|c| results_for_chained(&run, c)));
    Ok(reply(
        StatusCode::OK,
        "resultsResponse",
        &Value::Array(list),
        f,
    ))
}
