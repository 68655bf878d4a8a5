//! A schedule's fires, made once for every backend: inside the transaction that holds the due
//! schedule's row, the domain plans the fires ([`crate::domain::firing::plan`]), each fire
//! queues one run of every task naming the schedule (keyed by task, schedule and fire time, so
//! a fire is never made twice), and the schedule moves to its next fire. A backend supplies the
//! statements ([`FireTx`]); the order and the rules are here.

use super::{Fired, RefusedFire, Result, StoreError};
use crate::domain::blackout::Blackout;
use crate::domain::schedule::{Fire, Schedule};
use crate::domain::task::OnBusy;
use crate::domain::{NewRun, Run, Task, Trigger, firing};
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// The statements a firing pass needs, inside one backend transaction.
#[async_trait]
pub(crate) trait FireTx: Send {
    /// The tasks naming `schedule`, each with the parameters its fires pass.
    async fn bound_tasks(
        &mut self,
        schedule: &Schedule,
    ) -> Result<Vec<(Task, BTreeMap<String, String>)>>;
    /// Whether `task` already has the run of this fire.
    async fn fire_made(&mut self, task: Uuid, schedule: Uuid, at: DateTime<Utc>) -> Result<bool>;
    /// The number of an active run of `task`, if any.
    async fn active_run(&mut self, task: Uuid) -> Result<Option<i64>>;
    async fn queue(&mut self, task: &Task, new: NewRun, now: DateTime<Utc>) -> Result<Run>;
    /// The org's blackout periods.
    async fn blackouts(&mut self, org: Uuid) -> Result<Vec<Blackout>>;
    /// Moves the schedule to its next fire and notes its latest.
    async fn advance(
        &mut self,
        schedule: Uuid,
        next: Option<DateTime<Utc>>,
        last: Option<DateTime<Utc>>,
    ) -> Result<()>;
}

/// Makes the fires of the due schedules, reading each org's blackouts once.
pub(crate) async fn fire_all(
    tx: &mut impl FireTx,
    due: &[Schedule],
    now: DateTime<Utc>,
) -> Result<Fired> {
    let mut out = Fired::default();
    let mut blackouts: HashMap<Uuid, Vec<Blackout>> = HashMap::new();
    for schedule in due {
        if let std::collections::hash_map::Entry::Vacant(slot) = blackouts.entry(schedule.org_id) {
            slot.insert(tx.blackouts(schedule.org_id).await?);
        }
        let windows = &blackouts[&schedule.org_id];
        fire(tx, schedule, windows, now, &mut out).await?;
    }
    Ok(out)
}

/// Makes the given fires of a schedule (a backfill), each once: fires already made are left.
/// The schedule's next fire does not move.
pub(crate) async fn backfill(
    tx: &mut impl FireTx,
    schedule: &Schedule,
    fires: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> Result<Fired> {
    let mut out = Fired::default();
    let tasks = tx.bound_tasks(schedule).await?;
    for at in fires {
        for (task, parameters) in &tasks {
            make(tx, schedule, task, parameters, *at, now, &mut out).await?;
        }
    }
    Ok(out)
}

/// Makes a due schedule's fires, adding what happened to `out`.
async fn fire(
    tx: &mut impl FireTx,
    schedule: &Schedule,
    blackouts: &[Blackout],
    now: DateTime<Utc>,
    out: &mut Fired,
) -> Result<()> {
    let Some(due) = schedule.next_fire_at else {
        return Ok(());
    };
    let timing = match schedule.timing() {
        Ok(t) => t,
        // Checked when it was written; a row that no longer reads stops firing, visibly.
        Err(e) => {
            tracing::error!(schedule = %schedule.name, error = %e, "a stored schedule does not read; it stops firing");
            return tx.advance(schedule.id, None, schedule.last_fire_at).await;
        }
    };
    // Bounded when written (31 days at most); a row beyond chrono's range reads as that bound.
    let window = i64::try_from(schedule.catch_up_window_secs)
        .ok()
        .and_then(Duration::try_seconds)
        .unwrap_or(Duration::days(31));
    let blacked_out = |t: DateTime<Utc>| blackouts.iter().any(|b| b.holds(t));
    let plan = firing::plan_outside(&timing, schedule.catch_up, window, due, now, blacked_out);
    if plan.skipped > 0 {
        out.skipped.push((schedule.name.clone(), plan.skipped));
    }
    let tasks = if plan.fires.is_empty() {
        Vec::new()
    } else {
        tx.bound_tasks(schedule).await?
    };
    for at in &plan.fires {
        for (task, parameters) in &tasks {
            make(tx, schedule, task, parameters, *at, now, out).await?;
        }
    }
    let last = plan.fires.last().copied().or(schedule.last_fire_at);
    tx.advance(schedule.id, plan.next, last).await
}

/// Queues the run of one fire for one task, unless it exists or the task is busy.
async fn make(
    tx: &mut impl FireTx,
    schedule: &Schedule,
    task: &Task,
    parameters: &BTreeMap<String, String>,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    out: &mut Fired,
) -> Result<()> {
    if tx.fire_made(task.id, schedule.id, at).await? {
        return Ok(());
    }
    let refuse = |reason: String| RefusedFire {
        schedule: schedule.name.clone(),
        task: task.path(),
        at,
        reason,
        quiet: task.policy.on_busy == OnBusy::Skip,
    };
    // Asked before numbering, so a refused fire uses no run number. `queue` and
    // `cancel_previous` go on: the start itself waits or stops the runs before it.
    let refuses = matches!(task.policy.on_busy, OnBusy::Refuse | OnBusy::Skip);
    if !task.allow_parallel
        && refuses
        && let Some(run_number) = tx.active_run(task.id).await?
    {
        out.refused.push(refuse(format!(
            "the task is running (run {run_number}) and does not allow parallel runs (on_busy = {})",
            task.policy.on_busy.as_str()
        )));
        return Ok(());
    }
    let new = NewRun {
        trigger: Some(Trigger::Schedule),
        started_by: schedule.name.clone(),
        parameters: parameters.clone(),
        fire: Some(Fire {
            schedule_id: schedule.id,
            schedule_name: schedule.name.clone(),
            at,
        }),
        ..NewRun::default()
    };
    match tx.queue(task, new, now).await {
        Ok(run) => out.runs.push(run),
        Err(StoreError::TaskBusy { run_number, .. }) => out.refused.push(refuse(format!(
            "the task is running (run {run_number}) and does not allow parallel runs"
        ))),
        Err(e) => return Err(e),
    }
    Ok(())
}
