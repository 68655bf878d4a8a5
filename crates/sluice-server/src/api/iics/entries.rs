//! The shapes of IICS activity entries (`activityMonitoryEntry` as the real service spells it,
//! `activityLogEntry`) and of the callback body, made from native runs. Pure translation.

use crate::domain::{Counters, Run, RunChild, RunState, Task, Trigger};
use chrono::{DateTime, Local, Utc};
use serde_json::{Map, Value, json};

/// Times in the server's local zone, as IICS answers `startTime`/`endTime`.
pub fn local_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local)
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

pub fn utc_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn opt_time(t: Option<DateTime<Utc>>, f: fn(DateTime<Utc>) -> String) -> Value {
    t.map(|t| json!(f(t))).unwrap_or(Value::Null)
}

/// `executionState` of a job that has not ended.
pub fn execution_state(s: RunState) -> &'static str {
    match s {
        RunState::Queued => "QUEUED",
        RunState::Starting => "INITIALIZED",
        RunState::Running => "RUNNING",
        RunState::Stopping => "STOPPING",
        RunState::Completed => "COMPLETED",
        RunState::CompletedWithErrors => "COMPLETED",
        RunState::Failed | RunState::Stopped => "FAILED",
    }
}

/// activityLog `state`: 1 success, 2 completed with errors, 3 failed (stopped included), 4 for a
/// child that never ran.
pub fn log_state(s: RunState) -> i64 {
    match s {
        RunState::Completed => 1,
        RunState::CompletedWithErrors => 2,
        RunState::Failed | RunState::Stopped => 3,
        RunState::Queued => 4,
        // A child still going when its parent ended did not finish: failed.
        RunState::Starting | RunState::Running | RunState::Stopping => 3,
    }
}

fn run_context(t: Trigger) -> &'static str {
    match t {
        Trigger::Schedule => "SCHEDULER",
        Trigger::Taskflow => "TASKFLOW",
        Trigger::Api | Trigger::Cli | Trigger::Iics | Trigger::Starfish => "API",
    }
}

/// The schedule whose fire made the run, or null.
fn schedule_name(run: &Run) -> Value {
    run.fire
        .as_ref()
        .map_or(Value::Null, |f| json!(f.schedule_name))
}

fn rows(m: &mut Map<String, Value>, c: &Counters) {
    m.insert("failedSourceRows".into(), json!(c.source_rows_failed));
    m.insert("successSourceRows".into(), json!(c.source_rows_read));
    m.insert("failedTargetRows".into(), json!(c.target_rows_failed));
    m.insert("successTargetRows".into(), json!(c.target_rows_written));
}

/// What the task of a run is called (a deleted task keeps its id).
struct Named<'a> {
    short_id: String,
    federated_id: String,
    name: &'a str,
    code: &'static str,
}

fn named<'a>(run: &Run, task: Option<&'a Task>) -> Named<'a> {
    match task {
        Some(t) => Named {
            short_id: t.short_id(),
            federated_id: t.federated_id(),
            name: &t.name,
            code: t.task_type.code(),
        },
        None => Named {
            short_id: crate::domain::ids::short_id(
                run.task_id,
                crate::domain::ids::ShortIdKind::Task,
            ),
            federated_id: crate::domain::ids::federated_id(run.task_id),
            name: "(deleted)",
            code: "",
        },
    }
}

/// The message IICS shows for a run: its error, or who stopped it.
fn error_msg(run: &Run) -> Value {
    match (&run.error, run.state, &run.stopped_by) {
        (Some(e), _, _) => json!(e),
        (None, RunState::Stopped, Some(by)) => json!(format!("The job was stopped by user {by}.")),
        (None, RunState::Stopped, None) => json!("The job was stopped."),
        _ => Value::Null,
    }
}

/// One `activityMonitoryEntry` (a queued or running job).
pub fn monitor_entry(
    run: &Run,
    task: Option<&Task>,
    node: &str,
    children: Option<&[RunChild]>,
) -> Value {
    let n = named(run, task);
    let mut m = Map::new();
    m.insert("@type".into(), json!("activityMonitoryEntry"));
    m.insert("id".into(), json!(run.id.to_string()));
    m.insert("type".into(), json!(n.code));
    m.insert("taskId".into(), json!(n.short_id));
    m.insert("taskFederatedId".into(), json!(n.federated_id));
    m.insert("taskName".into(), json!(n.name));
    m.insert("objectName".into(), json!(n.name));
    m.insert("runId".into(), json!(run.run_number));
    let start = run.started_at.unwrap_or(run.created_at);
    m.insert("startTime".into(), json!(local_time(start)));
    m.insert("startTimeUtc".into(), json!(utc_time(start)));
    m.insert("executionState".into(), json!(execution_state(run.state)));
    rows(&mut m, &run.counters);
    m.insert("errorMsg".into(), error_msg(run));
    m.insert("agentId".into(), json!(run.node.as_deref().unwrap_or(node)));
    m.insert("runtimeEnvironmentId".into(), json!("sluice"));
    m.insert("startedBy".into(), json!(run.started_by));
    m.insert("runContextType".into(), json!(run_context(run.trigger)));
    m.insert("scheduleName".into(), schedule_name(run));
    m.insert("callbackURL".into(), json!(run.callback_url));
    let entries: Vec<Value> = children
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let mut e = Map::new();
            e.insert("@type".into(), json!("activityMonitoryEntry"));
            e.insert("objectName".into(), json!(c.name));
            e.insert("taskName".into(), json!(c.name));
            e.insert("executionState".into(), json!(execution_state(c.state)));
            e.insert("startTime".into(), opt_time(c.started_at, local_time));
            e.insert("startTimeUtc".into(), opt_time(c.started_at, utc_time));
            rows(&mut e, &c.counters);
            e.insert("errorMsg".into(), json!(c.error));
            Value::Object(e)
        })
        .collect();
    m.insert("entries".into(), Value::Array(entries));
    Value::Object(m)
}

fn transformation_entries(c: &Counters) -> Value {
    json!([
        {
            "@type": "transformationLogEntry",
            "txName": "Source",
            "txType": "SOURCE",
            "successRows": c.source_rows_read,
            "failedRows": c.source_rows_failed,
        },
        {
            "@type": "transformationLogEntry",
            "txName": "Target",
            "txType": "TARGET",
            "successRows": c.target_rows_written,
            "failedRows": c.target_rows_failed,
            "affectedRows": c.inserts + c.updates + c.deletes,
        }
    ])
}

fn totals(m: &mut Map<String, Value>, c: &Counters) {
    m.insert("totalSuccessRows".into(), json!(c.target_rows_written));
    m.insert(
        "totalFailedRows".into(),
        json!(c.source_rows_failed + c.target_rows_failed),
    );
}

/// One `activityLogEntry` (a finished job) with its children as `entries`.
pub fn log_entry(run: &Run, task: Option<&Task>, node: &str, children: &[RunChild]) -> Value {
    let n = named(run, task);
    let mut m = Map::new();
    m.insert("@type".into(), json!("activityLogEntry"));
    m.insert("id".into(), json!(run.id.to_string()));
    m.insert("type".into(), json!(n.code));
    m.insert("objectId".into(), json!(n.short_id));
    m.insert("taskFederatedId".into(), json!(n.federated_id));
    m.insert("objectName".into(), json!(n.name));
    m.insert("runId".into(), json!(run.run_number));
    m.insert("agentId".into(), json!(run.node.as_deref().unwrap_or(node)));
    m.insert("runtimeEnvironmentId".into(), json!("sluice"));
    let start = run.started_at.unwrap_or(run.created_at);
    let end = run.ended_at.unwrap_or(start);
    m.insert("startTime".into(), json!(local_time(start)));
    m.insert("endTime".into(), json!(local_time(end)));
    m.insert("startTimeUtc".into(), json!(utc_time(start)));
    m.insert("endTimeUtc".into(), json!(utc_time(end)));
    m.insert("state".into(), json!(log_state(run.state)));
    rows(&mut m, &run.counters);
    totals(&mut m, &run.counters);
    m.insert("errorMsg".into(), error_msg(run));
    m.insert("startedBy".into(), json!(run.started_by));
    m.insert("runContextType".into(), json!(run_context(run.trigger)));
    m.insert("scheduleName".into(), schedule_name(run));
    m.insert("isStopped".into(), json!(run.state == RunState::Stopped));
    m.insert("stopOnError".into(), json!(false));
    let entries: Vec<Value> = children
        .iter()
        .map(|c| {
            let mut e = Map::new();
            e.insert("@type".into(), json!("activityLogEntry"));
            e.insert("objectName".into(), json!(c.name));
            e.insert("runId".into(), json!(c.seq));
            e.insert("startTime".into(), opt_time(c.started_at, local_time));
            e.insert("endTime".into(), opt_time(c.ended_at, local_time));
            e.insert("startTimeUtc".into(), opt_time(c.started_at, utc_time));
            e.insert("endTimeUtc".into(), opt_time(c.ended_at, utc_time));
            e.insert("state".into(), json!(log_state(c.state)));
            e.insert("isStopped".into(), json!(c.state == RunState::Stopped));
            rows(&mut e, &c.counters);
            totals(&mut e, &c.counters);
            e.insert("errorMsg".into(), json!(c.error));
            e.insert(
                "transformationEntries".into(),
                transformation_entries(&c.counters),
            );
            e.insert("entries".into(), json!([]));
            Value::Object(e)
        })
        .collect();
    m.insert("entries".into(), Value::Array(entries));
    m.insert(
        "transformationEntries".into(),
        transformation_entries(&run.counters),
    );
    Value::Object(m)
}

/// The IICS callback body: `callbackUrlResponse` with the task and the run's outcome.
pub fn callback_body(run: &Run, task: Option<&Task>) -> Value {
    let n = named(run, task);
    let status = match run.state {
        RunState::Completed | RunState::CompletedWithErrors => "COMPLETED",
        _ => "FAILED",
    };
    json!({
        "@type": "callbackUrlResponse",
        "endTime": utc_time(run.ended_at.unwrap_or_else(Utc::now)),
        "objectId": n.short_id,
        "objectName": n.name,
        "runId": run.run_number,
        "status": status,
    })
}
