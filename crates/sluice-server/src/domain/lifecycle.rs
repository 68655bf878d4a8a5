//! The run lifecycle's decisions, written once for every store: given a run as stored and what
//! happened (a start asked for, a claim, a begin, a stop, an end, a lost node), what the run
//! becomes and what else must be written with it (the callback a run's end queues). Pure: each
//! backend loads the row, asks here, and writes the answer in one transaction.

use super::run::{RunEvent, StopMode, TransitionError, Trigger};
use super::task::OnBusy;
use super::{Counters, NewLogLine, NewRetry, NewRun, Run, RunState, Task};
use chrono::{DateTime, Utc};
use std::time::Duration;
use uuid::Uuid;

/// Why the lifecycle refuses a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A run of a task that may not run in parallel was asked for while one is active.
    #[error("task `{task}` is already running (run {run_number}) and does not allow parallel runs")]
    TaskBusy { task: String, run_number: i64 },
    /// A node wrote to a run it no longer holds: its lease ran out and the run was resolved.
    #[error("run {run} is not held by {node}; it was resolved elsewhere")]
    NotHeld { run: Uuid, node: String },
    /// The run is not in a state where this can happen.
    #[error(transparent)]
    Transition(#[from] TransitionError),
}

/// How a claimed run ended, as its worker reports it.
#[derive(Debug, Clone)]
pub struct RunEnd {
    /// `Finish(outcome)`, `Halted` or `Fail`.
    pub event: RunEvent,
    pub error: Option<String>,
    pub counters: Counters,
    /// The run's last log lines, not written yet: they are written with the end, in the same
    /// transaction (a short run's whole log is one write).
    pub log: Vec<NewLogLine>,
}

/// A callback to queue with a run's end: the first attempt is due at once.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedCallback {
    pub url: String,
    pub due: DateTime<Utc>,
}

/// A run as it must be written, the callback to queue with it, and the retry to queue instead
/// of the callback when a failed run has attempts left.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub run: Run,
    pub callback: Option<QueuedCallback>,
    pub retry: Option<NewRun>,
}

impl Change {
    /// The callback an end queues when its retry cannot be (the task was deleted meanwhile):
    /// the failure is then the last attempt, and its caller must hear of it.
    pub fn callback_without_retry(&self) -> Option<QueuedCallback> {
        let due = self.run.ended_at?;
        self.run
            .callback_url
            .clone()
            .map(|url| QueuedCallback { url, due })
    }
}

/// A run asked for, and what its store must do with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    pub run: Run,
    /// The task may not run in parallel: the run is claimed only when the task's runs before it
    /// have ended (`on_busy = "queue"` keeps starts in order this way).
    pub exclusive: bool,
    /// The task's active runs are to be stopped now (`on_busy = "cancel_previous"`).
    pub cancel_active: bool,
}

/// A new run of `task`, numbered `run_number`, while `active` (the number of an active run of
/// the task, if any). A task that may not run in parallel and is busy answers by its `on_busy`
/// policy: refused (`refuse`, `skip`), queued behind (`queue`), or queued with its active runs
/// stopped (`cancel_previous`). A retry always waits its turn: refusing it would lose it.
pub fn create(
    task: &Task,
    new: NewRun,
    run_number: i64,
    active: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Created, Refusal> {
    let cancel_active = match (task.allow_parallel, active) {
        (true, _) | (false, None) => false,
        (false, Some(_)) if new.retry.is_some() => false,
        (false, Some(run_number)) => match task.policy.on_busy {
            OnBusy::Queue => false,
            OnBusy::CancelPrevious => true,
            OnBusy::Refuse | OnBusy::Skip => {
                return Err(Refusal::TaskBusy {
                    task: task.path(),
                    run_number,
                });
            }
        },
    };
    let (attempt, retry_of, retry, not_before) = match new.retry {
        Some(r) => (r.attempt, Some(r.of), r.policy, Some(r.not_before)),
        None => (1, None, task.policy.retry.clone(), None),
    };
    let run = Run {
        id: Uuid::now_v7(),
        org_id: task.org_id,
        task_id: task.id,
        run_number,
        external_id: new.external_id,
        trigger: new.trigger.unwrap_or(Trigger::Api),
        started_by: new.started_by,
        parameters: new.parameters,
        callback_url: new.callback_url,
        state: RunState::Queued,
        stop_mode: None,
        stopped_by: None,
        error: None,
        counters: Counters::default(),
        created_at: now,
        started_at: None,
        ended_at: None,
        node: None,
        lease_owner: None,
        lease_expires_at: None,
        spark: None,
        fire: new.fire,
        attempt,
        retry_of,
        retry,
        not_before,
    };
    Ok(Created {
        run,
        exclusive: !task.allow_parallel,
        cancel_active,
    })
}

/// What a claim writes on a queued run: it is starting, held by `node` until the lease ends.
/// Backends claim set-wise (many candidates, one winner), so this answers the fields, not a run.
pub struct Claim {
    pub state: RunState,
    pub lease_owner: String,
    pub lease_expires_at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
}

pub fn claim(node: &str, lease: Duration, now: DateTime<Utc>) -> Claim {
    let state = RunState::Queued
        .apply(RunEvent::Claim)
        .expect("a queued run can be claimed");
    Claim {
        state,
        lease_owner: node.to_string(),
        lease_expires_at: now + lease,
        started_at: now,
    }
}

/// The holder begins moving data. A stop that arrived while the run was starting keeps it
/// stopping: the worker sees the stop and halts instead.
pub fn begin(run: &Run, node: &str) -> Result<Run, Refusal> {
    held_by(run, node)?;
    let mut run = run.clone();
    if run.state != RunState::Stopping {
        run.state = run.state.apply(RunEvent::Begin)?;
    }
    Ok(run)
}

/// A stop asked for by `by`. A queued run ends at once (stopped, its callback queued); a claimed
/// one is stopping until its worker halts it. Immediate wins over graceful: a second, harder
/// stop escalates, a softer one does not soften.
pub fn request_stop(
    run: &Run,
    mode: StopMode,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Change, Refusal> {
    let mut run = run.clone();
    run.state = run.state.apply(RunEvent::RequestStop(mode))?;
    run.stop_mode = Some(match (run.stop_mode, mode) {
        (Some(StopMode::Immediate), _) => StopMode::Immediate,
        _ => mode,
    });
    run.stopped_by = Some(by.to_string());
    if run.state.is_terminal() {
        run.error = Some(format!("Stopped by {by} before it started."));
        return Ok(end(run, now));
    }
    Ok(Change {
        run,
        callback: None,
        retry: None,
    })
}

/// The holder reports how the run ended: its state, error and final counters are written, its
/// lease let go and its callback queued.
pub fn finish(
    run: &Run,
    node: &str,
    report: RunEnd,
    now: DateTime<Utc>,
) -> Result<Change, Refusal> {
    held_by(run, node)?;
    let mut run = run.clone();
    run.state = run.state.apply(report.event)?;
    run.error = report.error;
    run.counters = report.counters;
    Ok(end(run, now))
}

/// The node holding the run was lost (its lease ran out, or it restarted): the run failed, with
/// `reason` and the node's name.
pub fn lose(run: &Run, reason: &str, now: DateTime<Utc>) -> Result<Change, Refusal> {
    let mut run = run.clone();
    let owner = run.lease_owner.clone().unwrap_or_default();
    run.state = run.state.apply(RunEvent::LeaseLost)?;
    run.error = Some(format!("{reason} (node `{owner}`)"));
    Ok(end(run, now))
}

/// Whether the run's lease is lost at `now`: claimed, and its lease ran out (or it is held by
/// `restarted`, a node that started again and so cannot be running anything).
pub fn is_lost(run: &Run, now: DateTime<Utc>, restarted: Option<&str>) -> bool {
    run.state.is_claimed()
        && (run.lease_expires_at.is_some_and(|at| at < now)
            || (restarted.is_some() && run.lease_owner.as_deref() == restarted))
}

fn held_by(run: &Run, node: &str) -> Result<(), Refusal> {
    if run.lease_owner.as_deref() == Some(node) {
        Ok(())
    } else {
        Err(Refusal::NotHeld {
            run: run.id,
            node: node.to_string(),
        })
    }
}

/// Every end: the time is written, the lease let go, and the callback (if the run has a URL)
/// queued due at once, in the same write, so a crash loses neither. A failed run (not a stopped
/// one) with attempts left queues its retry instead, in the same write; only the last attempt's
/// end sends the callback.
fn end(mut run: Run, now: DateTime<Utc>) -> Change {
    run.ended_at = Some(now);
    run.lease_owner = None;
    run.lease_expires_at = None;
    if run.state == RunState::Failed && run.attempt < run.max_attempts() {
        let next = run.attempt + 1;
        let delay = run.retry.delay_before(next);
        let retry = NewRun {
            external_id: None,
            trigger: Some(run.trigger),
            started_by: run.started_by.clone(),
            parameters: run.parameters.clone(),
            callback_url: run.callback_url.clone(),
            fire: run.fire.clone(),
            retry: Some(NewRetry {
                of: run.id,
                attempt: next,
                policy: run.retry.clone(),
                not_before: now
                    + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::zero()),
            }),
        };
        return Change {
            run,
            callback: None,
            retry: Some(retry),
        };
    }
    let callback = run
        .callback_url
        .clone()
        .map(|url| QueuedCallback { url, due: now });
    Change {
        run,
        callback,
        retry: None,
    }
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
