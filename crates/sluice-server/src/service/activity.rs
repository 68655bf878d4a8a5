//! What the activity resources of every API read: runs with their tasks, a run's children, the
//! whole log as text, and stopping every active run of a task.

use super::{App, Principal, Result};
use crate::domain::{LogLevel, Run, RunChild, RunState, StopMode, Task};
use crate::store::RunFilter;
use std::collections::HashMap;
use std::fmt::Write;
use uuid::Uuid;

/// One step of a taskflow run: as the taskflow recorded it, its task (None once deleted) and its
/// own run (None until it started).
pub struct Step {
    pub child: RunChild,
    pub task: Option<Task>,
    pub run: Option<Run>,
}

/// Lines read from the store at a time when a whole log is written out.
const LOG_PAGE: i64 = 5000;

impl App {
    /// Runs matching `filter`, each with its task (None once the task was deleted).
    pub async fn runs_with_tasks(
        &self,
        org_id: Uuid,
        filter: &RunFilter,
    ) -> Result<Vec<(Run, Option<Task>)>> {
        let runs = self.store.list_runs(org_id, filter).await?;
        let mut tasks: HashMap<Uuid, Option<Task>> = HashMap::new();
        let mut out = Vec::with_capacity(runs.len());
        for run in runs {
            if let std::collections::hash_map::Entry::Vacant(slot) = tasks.entry(run.task_id) {
                slot.insert(self.store.get_task(org_id, run.task_id).await?);
            }
            let task = tasks[&run.task_id].clone();
            out.push((run, task));
        }
        Ok(out)
    }

    /// Run number `n` of `task` (the IICS `runId`).
    pub async fn run_by_number(&self, who: &Principal, task: &Task, n: i64) -> Result<Option<Run>> {
        Ok(self
            .store
            .get_run_by_number(task.id, n)
            .await?
            .filter(|r| r.org_id == who.org_id()))
    }

    /// A task by its UUID; None when it was deleted.
    pub async fn find_task_by_id(&self, org_id: Uuid, id: Uuid) -> Result<Option<Task>> {
        Ok(self.store.get_task(org_id, id).await?)
    }

    /// A task by its UUID whatever its org (for callers proven by a key, not a user).
    pub async fn find_task_by_any_org(&self, id: Uuid) -> Result<Option<Task>> {
        Ok(self.store.get_task_any_org(id).await?)
    }

    /// A run's children (the tables of a replication, the steps of a taskflow), in order.
    pub async fn run_children(&self, run_id: Uuid) -> Result<Vec<RunChild>> {
        Ok(self.store.list_run_children(run_id).await?)
    }

    /// A taskflow run's steps in order, each with its task and, once it started, its own run.
    pub async fn taskflow_steps(&self, org_id: Uuid, run_id: Uuid) -> Result<Vec<Step>> {
        let children = self.store.list_run_children(run_id).await?;
        let mut steps = Vec::with_capacity(children.len());
        for child in children {
            let task = match child.task_id {
                Some(id) => self.store.get_task(org_id, id).await?,
                None => None,
            };
            let run = match child.child_run_id {
                Some(id) => self.store.get_run(org_id, id).await?,
                None => None,
            };
            steps.push(Step { child, task, run });
        }
        Ok(steps)
    }

    /// A run's whole log as text, one `time level message` line each (the session log).
    pub async fn log_text(&self, org_id: Uuid, run_id: Uuid) -> Result<(Run, String)> {
        self.log_text_at(org_id, run_id, LogLevel::Debug).await
    }

    /// A run's log as text, lines at `min` or above.
    pub async fn log_text_at(
        &self,
        org_id: Uuid,
        run_id: Uuid,
        min: LogLevel,
    ) -> Result<(Run, String)> {
        let run = self.get_run(org_id, run_id).await?;
        let mut text = String::new();
        let mut after = 0;
        loop {
            let lines = self.store.read_log(run_id, after, min, LOG_PAGE).await?;
            for l in &lines {
                let _ = writeln!(
                    text,
                    "{} {:<5} {}",
                    l.at.format("%Y-%m-%d %H:%M:%S%.3f"),
                    l.level.as_str().to_ascii_uppercase(),
                    l.message
                );
            }
            match lines.last() {
                Some(last) if lines.len() as i64 == LOG_PAGE => after = last.seq,
                _ => break,
            }
        }
        Ok((run, text))
    }

    /// Asks every active run of `task` to stop (a task-scoped stop, as IICS has); answers the runs
    /// as they then are, none when the task was not running.
    pub async fn stop_task(
        &self,
        who: &Principal,
        task: &Task,
        mode: StopMode,
    ) -> Result<Vec<Run>> {
        who.require(crate::domain::Role::Operator)?;
        let active = self
            .store
            .list_runs(
                who.org_id(),
                &RunFilter {
                    task_id: Some(task.id),
                    states: RunState::ACTIVE.to_vec(),
                    limit: 1000,
                    ..Default::default()
                },
            )
            .await?;
        let mut stopped = Vec::with_capacity(active.len());
        for run in active {
            stopped.push(self.stop_run(who, run.id, mode).await?);
        }
        Ok(stopped)
    }
}
