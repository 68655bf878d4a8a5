//! The Starfish shapes of a run: `execJobResponse` (ExecuteJob's answer and the webhook body) and
//! `resultsResponse` (one per job of the run). Translation from the native run and its counters.
//!
//! Counters: `totalRows` = source rows read; `inserts`/`updates`/`deletes` as the engine counted
//! them (a file target's written rows are inserts); `errors` = failed source and target rows;
//! `skips` = rows left alone on purpose (unchanged, or keys that matched nothing); `ignores` = 0
//! (Sluice counts updates that matched nothing among the skips).

use crate::domain::{Counters, LogLevel, Run, RunChild, RunState};
use crate::service::{App, ServiceError};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// Starfish's word for a run's state.
pub fn status(s: RunState) -> &'static str {
    match s {
        RunState::Queued => "Queued",
        RunState::Starting | RunState::Running | RunState::Stopping => "Running",
        RunState::Completed => "Complete",
        RunState::CompletedWithErrors => "Complete With Errors",
        RunState::Failed => "Failed",
        RunState::Stopped => "Stopped",
    }
}

/// A duration as .NET writes a TimeSpan: `hh:mm:ss.fff`.
fn run_time(run: &Run) -> Value {
    span(run.started_at, run.ended_at)
}

fn span(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Value {
    let Some(start) = start else {
        return Value::Null;
    };
    let ms = (end.unwrap_or_else(Utc::now) - start)
        .num_milliseconds()
        .max(0);
    json!(format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    ))
}

fn counts(m: &mut Map<String, Value>, c: &Counters) {
    let changed = c.inserts + c.updates + c.deletes;
    let inserts = if changed == 0 {
        c.target_rows_written
    } else {
        c.inserts
    };
    m.insert("totalRows".into(), json!(c.source_rows_read));
    m.insert("inserts".into(), json!(inserts));
    m.insert("updates".into(), json!(c.updates));
    m.insert("deletes".into(), json!(c.deletes));
    m.insert(
        "errors".into(),
        json!(c.source_rows_failed + c.target_rows_failed),
    );
    m.insert("skips".into(), json!(c.skipped));
    m.insert("ignores".into(), json!(0));
}

/// The Starfish run id of a run: the caller's `runID` (the external id), else the run's UUID.
pub fn run_id(run: &Run) -> String {
    run.external_id
        .clone()
        .unwrap_or_else(|| run.id.to_string())
}

/// One `resultsResponse`.
pub fn results_response(run: &Run) -> Value {
    let mut m = Map::new();
    m.insert("runID".into(), json!(run_id(run)));
    m.insert(
        "startTime".into(),
        json!(
            run.started_at
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        ),
    );
    m.insert("runTime".into(), run_time(run));
    m.insert("status".into(), json!(status(run.state)));
    counts(&mut m, &run.counters);
    Value::Object(m)
}

/// The `resultsResponse` of a job chained in a run (a child of the run).
pub fn results_for_chained(run: &Run, c: &RunChild) -> Value {
    let mut m = Map::new();
    m.insert("runID".into(), json!(run_id(run)));
    m.insert("jobName".into(), json!(c.name));
    m.insert(
        "startTime".into(),
        json!(
            c.started_at
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        ),
    );
    m.insert("runTime".into(), span(c.started_at, c.ended_at));
    m.insert("status".into(), json!(status(c.state)));
    counts(&mut m, &c.counters);
    Value::Object(m)
}

/// `execJobResponse`: the result with the run's error and its log at the asked verbosity.
pub async fn exec_job_response(app: &App, run: &Run) -> Result<Value, ServiceError> {
    let level = run
        .parameters
        .get("sluice.log_level")
        .and_then(|l| l.parse::<u8>().ok())
        .unwrap_or(0);
    let log = match level {
        0 => Value::Null,
        n => {
            let min = match n {
                1 => LogLevel::Warn,
                2 => LogLevel::Info,
                _ => LogLevel::Debug,
            };
            let (_, text) = app.log_text_at(run.org_id, run.id, min).await?;
            Value::String(text)
        }
    };
    let mut m = match results_response(run) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    m.insert("error".into(), json!(run.error));
    m.insert("log".into(), log);
    Ok(Value::Object(m))
}
