//! `sluice run`: starts a run, optionally waits for it with a live progress line, and exits with
//! the IICS RunAJob codes (0 completed, 1 completed with errors, 3 failed or stopped, 4 timed out
//! waiting, 6 started and not waited for, 7 failed to start).

use super::client::{self, Client};
use super::output::{self, clear_progress, draw_progress, emit_json, emit_line, fmt_elapsed};
use super::{GlobalOpts, RunArgs, report_error};
use sluice_types::{CountersView, RunView, StartRun};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio::time::MissedTickBehavior;

pub const EXIT_COMPLETED: u8 = 0;
pub const EXIT_COMPLETED_WITH_ERRORS: u8 = 1;
pub const EXIT_FAILED: u8 = 3;
pub const EXIT_TIMEOUT: u8 = 4;
pub const EXIT_RUNNING: u8 = 6;
pub const EXIT_START_FAILED: u8 = 7;

/// The longest the server is asked to hold one `wait` request.
const MAX_WAIT_SECS: u64 = 30;
/// How long network trouble while waiting is retried before giving up.
const RETRY_FOR: Duration = Duration::from_secs(60);

/// Parses `--param name=value`: split at the first `=`; the value may be empty or contain `=`.
pub fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        Some(_) => Err(format!("parameter {s:?} has no name: expected NAME=VALUE")),
        None => Err(format!("parameter {s:?} has no value: expected NAME=VALUE")),
    }
}

/// The parameters as a map; naming one twice is an error.
pub fn params_map(params: Vec<(String, String)>) -> anyhow::Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for (name, value) in params {
        if map.insert(name.clone(), value).is_some() {
            anyhow::bail!("parameter {name:?} is given twice");
        }
    }
    Ok(map)
}

/// The exit code for a run as last seen: by its final state, or 6 while it has not ended.
pub fn exit_code_for(state: &str, finished: bool) -> u8 {
    match state {
        "completed" => EXIT_COMPLETED,
        "completed_with_errors" => EXIT_COMPLETED_WITH_ERRORS,
        "failed" | "stopped" => EXIT_FAILED,
        // A final state this client does not know yet: not a success.
        _ if finished => EXIT_FAILED,
        _ => EXIT_RUNNING,
    }
}

/// Rows read, written and failed (source and target failures together).
pub fn counters_text(c: &CountersView) -> String {
    format!(
        "read {}, written {}, failed {}",
        c.source_rows_read,
        c.target_rows_written,
        c.source_rows_failed + c.target_rows_failed
    )
}

/// The line printed when the run ends (or waiting does).
pub fn summary_line(run: &RunView) -> String {
    let mut line = format!(
        "{} run {} of {} ({}): {}",
        run.state,
        run.run_number,
        run.task_path,
        run.id,
        counters_text(&run.counters)
    );
    if let (Some(start), Some(end)) = (run.started_at, run.ended_at)
        && let Ok(d) = (end - start).to_std()
    {
        line.push_str(&format!(" in {}", fmt_elapsed(d)));
    }
    if let Some(error) = run.error.as_deref().filter(|e| !e.is_empty()) {
        line.push_str(&format!("; error: {error}"));
    }
    line
}

pub async fn run(global: &GlobalOpts, args: RunArgs) -> ExitCode {
    let waiting = args.wait || args.timeout.is_some();
    let timeout = args.timeout.map(Duration::from_secs);
    let (client, started) = match start(global, args).await {
        Ok(started) => started,
        Err(e) => {
            report_error(&e);
            return ExitCode::from(EXIT_START_FAILED);
        }
    };
    if !waiting || started.finished {
        if global.json {
            emit_json(&started);
        } else if started.finished {
            // An earlier run with the same external id, already over.
            emit_line(&summary_line(&started));
        } else {
            emit_line(&format!(
                "started run {} of {}: {} ({})",
                started.run_number, started.task_path, started.id, started.state
            ));
        }
        return ExitCode::from(exit_code_for(&started.state, started.finished));
    }
    let (last, outcome) = wait(&client, started, timeout).await;
    clear_progress();
    if global.json {
        emit_json(&last);
    } else {
        emit_line(&summary_line(&last));
    }
    let code = match outcome {
        WaitOutcome::Finished => exit_code_for(&last.state, true),
        WaitOutcome::TimedOut(after) => {
            eprintln!(
                "error: run {} still {} after waiting {}",
                last.id,
                last.state,
                fmt_elapsed(after)
            );
            EXIT_TIMEOUT
        }
        WaitOutcome::Lost(e) => {
            eprintln!(
                "error: stopped waiting for run {}: {e:#} (see `sluice status {}`)",
                last.id, last.id
            );
            EXIT_TIMEOUT
        }
    };
    ExitCode::from(code)
}

/// Connects and starts the run.
async fn start(global: &GlobalOpts, args: RunArgs) -> anyhow::Result<(Client, RunView)> {
    let body = StartRun {
        task: args.task,
        parameters: params_map(args.params)?,
        callback_url: args.callback_url,
        external_id: args.external_id,
        trigger: Some("cli".to_string()),
    };
    let client = Client::connect(global).await?;
    let view: RunView = client.post("/runs", &body).await?;
    Ok((client, view))
}

enum WaitOutcome {
    Finished,
    /// `--timeout` passed (after this long).
    TimedOut(Duration),
    /// The server could not be asked for too long.
    Lost(anyhow::Error),
}

/// Waits for the run to end, `--timeout` to pass, or the server to be gone too long; returns the
/// run as last seen. On a terminal, shows a progress line refreshed about once a second.
async fn wait(client: &Client, run: RunView, timeout: Option<Duration>) -> (RunView, WaitOutcome) {
    let show_progress = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let began = Instant::now();
    let deadline = timeout.map(|t| began + t);
    let id = run.id;
    let mut last = run;
    let mut failing_since: Option<Instant> = None;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        if show_progress {
            draw_progress(&progress_line(&last, began.elapsed()));
        }
        if last.finished {
            return (last, WaitOutcome::Finished);
        }
        let now = Instant::now();
        let secs = match deadline {
            Some(d) if d <= now => return (last, WaitOutcome::TimedOut(began.elapsed())),
            Some(d) => (d - now).as_secs_f64().ceil() as u64,
            None => MAX_WAIT_SECS,
        }
        .clamp(1, MAX_WAIT_SECS);
        let answer = {
            let waiting = client.wait_run(id, secs);
            tokio::pin!(waiting);
            loop {
                tokio::select! {
                    answer = &mut waiting => break answer,
                    _ = ticker.tick(), if show_progress => {
                        if let Ok(view) = client.run(id).await {
                            last = view;
                        }
                        if last.finished {
                            break Ok(last.clone());
                        }
                        draw_progress(&progress_line(&last, began.elapsed()));
                    }
                }
            }
        };
        match answer {
            Ok(view) => {
                failing_since = None;
                last = view;
            }
            Err(e) if client::is_transient(&e) => {
                let since = *failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= RETRY_FOR {
                    return (last, WaitOutcome::Lost(e));
                }
                tracing::debug!("waiting for run {id}: {e:#}; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return (last, WaitOutcome::Lost(e)),
        }
    }
}

/// `running  read 1200, written 1100, failed 3  elapsed 42s`
fn progress_line(run: &RunView, elapsed: Duration) -> String {
    format!(
        "{}  {}  elapsed {}",
        run.state,
        counters_text(&run.counters),
        output::fmt_elapsed(elapsed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use uuid::Uuid;

    #[test]
    fn params() {
        assert_eq!(parse_param("a=1").unwrap(), ("a".into(), "1".into()));
        assert_eq!(parse_param("a=").unwrap(), ("a".into(), "".into()));
        assert_eq!(parse_param("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert_eq!(
            parse_param("$$Date=2024-01-01").unwrap(),
            ("$$Date".into(), "2024-01-01".into())
        );
        assert!(parse_param("novalue").is_err());
        assert!(parse_param("=1").is_err());
    }

    #[test]
    fn params_map_rejects_duplicates() {
        let ok = params_map(vec![("a".into(), "1".into()), ("b".into(), "2".into())]).unwrap();
        assert_eq!(ok.len(), 2);
        let dup = params_map(vec![("a".into(), "1".into()), ("a".into(), "2".into())]);
        assert!(dup.unwrap_err().to_string().contains("given twice"));
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code_for("completed", true), 0);
        assert_eq!(exit_code_for("completed_with_errors", true), 1);
        assert_eq!(exit_code_for("failed", true), 3);
        assert_eq!(exit_code_for("stopped", true), 3);
        assert_eq!(exit_code_for("something_new", true), 3);
        for state in ["queued", "starting", "running", "stopping"] {
            assert_eq!(exit_code_for(state, false), 6);
        }
    }

    fn view(state: &str, finished: bool) -> RunView {
        let t0 = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        RunView {
            id: Uuid::nil(),
            run_number: 4,
            external_id: None,
            task_id: Uuid::nil(),
            task_path: "Default/load".into(),
            task_type: "MTT".into(),
            state: state.into(),
            finished,
            trigger: "cli".into(),
            started_by: "admin".into(),
            parameters: BTreeMap::new(),
            callback_url: None,
            stop_mode: None,
            stopped_by: None,
            error: None,
            counters: CountersView {
                source_rows_read: 10,
                source_rows_failed: 1,
                target_rows_written: 8,
                target_rows_failed: 1,
                ..Default::default()
            },
            created_at: t0,
            started_at: Some(t0),
            ended_at: finished.then(|| t0 + chrono::Duration::seconds(65)),
            node: None,
            schedule: None,
            fire_at: None,
            attempt: 1,
            attempts: 1,
            retry_of: None,
            children: Vec::new(),
            spark: None,
        }
    }

    #[test]
    fn summary() {
        let mut v = view("failed", true);
        v.error = Some("boom".into());
        assert_eq!(
            summary_line(&v),
            "failed run 4 of Default/load (00000000-0000-0000-0000-000000000000): \
             read 10, written 8, failed 2 in 1m05s; error: boom"
        );
        let v = view("running", false);
        assert_eq!(
            progress_line(&v, Duration::from_secs(3)),
            "running  read 10, written 8, failed 2  elapsed 3s"
        );
    }
}
