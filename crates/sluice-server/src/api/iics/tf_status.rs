//! The taskflow status object (`/active-bpel/services/tf/status`), made from a native run and its
//! steps: every field IICS clients index, each step in `subtaskDetails.details.tasks` with the
//! same fields, a nested taskflow with its own `runId` so it can be fetched the same way. Pure
//! translation.

use super::entries::utc_time;
use crate::domain::{Run, RunState, Task, TaskType};
use crate::service::activity::Step;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

/// A taskflow's `RunId`: its run's UUID as a 128-bit decimal number, written as a string (a
/// JavaScript client would lose digits of a JSON number this wide).
pub fn run_id(id: Uuid) -> String {
    id.as_u128().to_string()
}

/// A `RunId` as a client sends it back: the decimal form (quoted or not) or the UUID.
pub fn parse_run_id(s: &str) -> Option<Uuid> {
    let s = s.trim().trim_matches('"').trim();
    s.parse::<u128>()
        .ok()
        .map(Uuid::from_u128)
        .or_else(|| Uuid::parse_str(s).ok())
}

pub fn status_word(s: RunState) -> &'static str {
    match s {
        RunState::Queued | RunState::Starting | RunState::Running | RunState::Stopping => "RUNNING",
        RunState::Completed | RunState::CompletedWithErrors => "SUCCESS",
        RunState::Failed => "FAILED",
        RunState::Stopped => "STOPPED",
    }
}

/// The run states a `runStatus` word covers; None for a word no run has (`SUSPENDED`: Sluice
/// does not suspend).
pub fn states_for(word: &str) -> Option<Vec<RunState>> {
    let states: Vec<RunState> = RunState::ALL
        .into_iter()
        .filter(|s| status_word(*s) == word)
        .collect();
    (!states.is_empty()).then_some(states)
}

fn asset_type(task: Option<&Task>) -> &'static str {
    match task.map(|t| t.task_type) {
        Some(TaskType::Workflow) | None => "TASKFLOW",
        Some(t) => t.code(),
    }
}

/// What every status object and every step holds, from a run (None: a step not started).
struct Fields<'a> {
    name: &'a str,
    asset_type: &'static str,
    location: &'a str,
    run_id: String,
    status: &'static str,
    run: Option<&'a Run>,
    error: Option<&'a str>,
    runtime_env: &'a str,
}

fn object(f: Fields<'_>) -> serde_json::Map<String, Value> {
    let start = f.run.map(|r| r.started_at.unwrap_or(r.created_at));
    let end = f.run.and_then(|r| r.ended_at);
    let update: Option<DateTime<Utc>> = f
        .run
        .map(|r| {
            [Some(r.created_at), r.started_at, r.ended_at]
                .into_iter()
                .flatten()
                .max()
        })
        .unwrap_or_default();
    let duration = start.map_or(0, |s| {
        (end.unwrap_or_else(Utc::now) - s).num_seconds().max(0)
    });
    let counters = f.run.map(|r| r.counters).unwrap_or_default();
    // The node that ran (or runs) it; a run never claimed is this node's.
    let env = f
        .run
        .and_then(|r| r.node.as_deref())
        .unwrap_or(f.runtime_env);
    let value = json!({
        "assetName": f.name,
        "assetType": f.asset_type,
        "location": f.location,
        "runId": f.run_id,
        "status": f.status,
        "startTime": start.map(utc_time),
        "endTime": end.map(utc_time),
        "updateTime": update.map(utc_time),
        "duration": duration,
        "runtimeEnv": env,
        "runtimeEnvName": env,
        "startedBy": f.run.map(|r| r.started_by.as_str()).unwrap_or(""),
        "errorMessage": f.error.unwrap_or(""),
        "rowsProcessed": counters.target_rows_written,
        "erroredRows": counters.source_rows_failed + counters.target_rows_failed,
    });
    match value {
        Value::Object(m) => m,
        _ => unreachable!("a JSON object literal"),
    }
}

/// A step's `runId`: a taskflow's is its `RunId` (for this same resource); a data task's is its
/// job run number, as `/api/v2/job` and the activity log give it.
fn step_run_id(step: &Step) -> String {
    match (&step.run, step.task.as_ref().map(|t| t.task_type)) {
        (Some(r), Some(TaskType::Workflow)) => run_id(r.id),
        (Some(r), _) => r.run_number.to_string(),
        (None, _) => String::new(),
    }
}

fn step_object(step: &Step, runtime_env: &str) -> Value {
    let c = &step.child;
    let status = if c.state == RunState::Queued && step.run.is_none() {
        "NOT_STARTED"
    } else {
        status_word(c.state)
    };
    let (name, location) = match &step.task {
        Some(t) => (t.name.as_str(), t.folder.as_str()),
        None => (c.name.as_str(), ""),
    };
    let mut m = object(Fields {
        name,
        asset_type: asset_type(step.task.as_ref()),
        location,
        run_id: step_run_id(step),
        status,
        run: step.run.as_ref(),
        error: c.error.as_deref(),
        runtime_env,
    });
    if let Some(t) = &step.task {
        m.insert("taskId".into(), json!(t.id));
    }
    Value::Object(m)
}

/// The status object of a taskflow run and its steps.
pub fn status_object(run: &Run, task: Option<&Task>, steps: &[Step], runtime_env: &str) -> Value {
    let mut m = object(Fields {
        name: task.map(|t| t.name.as_str()).unwrap_or("(deleted)"),
        asset_type: "TASKFLOW",
        location: task.map(|t| t.folder.as_str()).unwrap_or(""),
        run_id: run_id(run.id),
        status: status_word(run.state),
        run: Some(run),
        error: run.error.as_deref(),
        runtime_env,
    });
    let tasks: Vec<Value> = steps.iter().map(|s| step_object(s, runtime_env)).collect();
    m.insert("subtasks".into(), json!(tasks.len()));
    m.insert(
        "subtaskDetails".into(),
        json!({ "details": { "tasks": tasks } }),
    );
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_round_trip_in_every_form() {
        let id = Uuid::now_v7();
        let text = run_id(id);
        assert!(text.len() > 30);
        for form in [text.clone(), format!("\"{text}\""), id.to_string()] {
            assert_eq!(parse_run_id(&form), Some(id), "{form}");
        }
        assert_eq!(parse_run_id("not a run"), None);
    }

    #[test]
    fn status_words_cover_every_state_once() {
        let mut covered = 0;
        for word in ["RUNNING", "SUCCESS", "FAILED", "STOPPED"] {
            covered += states_for(word).unwrap().len();
        }
        assert_eq!(covered, 8);
        assert_eq!(states_for("SUSPENDED"), None);
    }
}
