//! Starting, finding, stopping, waiting for runs, and reading their logs.

use super::{App, Principal, Result, ServiceError};
use crate::domain::task::OnBusy;
use crate::domain::{LogLevel, LogLine, NewRun, Role, Run, RunState, StopMode, Task, Trigger};
use crate::events::RunEnded;
use crate::store::{RunFilter, StoreError};
use chrono::Utc;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;
use uuid::Uuid;

/// What a caller asks for.
#[derive(Debug, Clone, Default)]
pub struct StartRequest {
    pub parameters: BTreeMap<String, String>,
    pub callback_url: Option<String>,
    pub external_id: Option<String>,
    pub trigger: Option<Trigger>,
    pub options: RunOptions,
}

/// Per-run overrides of how the engine runs the task (Starfish `beginAtRow`, `endAfterRow`,
/// `threadCount`). Kept with the run as the built-in parameters `sluice.first_row`,
/// `sluice.last_row` and `sluice.threads`, which the engine reads over the task's options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOptions {
    pub first_row: Option<u64>,
    pub last_row: Option<u64>,
    pub threads: Option<u32>,
    /// How much of the log is returned with the result: 0 none, 1 warnings and errors, 2 info,
    /// 3 everything (Starfish `loggingLevel`).
    pub log_level: Option<u8>,
    /// Run the task's chain after it (Starfish `chainJobs`).
    pub chain_jobs: bool,
}

/// The most writer threads a run may ask for.
pub const MAX_THREADS: u32 = 16;

/// What is wrong with a start's run options. The one check of them; each surface names the
/// option in its own words (Starfish `beginAtRow`, the native API `first_row`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OptionProblem {
    #[error("first row: rows count from 1")]
    FirstRowZero,
    #[error("last row: rows count from 1")]
    LastRowZero,
    #[error("last row {last} is before first row {first}")]
    LastBeforeFirst { first: u64, last: u64 },
    #[error("log level: 0 to 3")]
    LogLevel,
    #[error("threads: between 1 and {MAX_THREADS}")]
    Threads,
}

impl RunOptions {
    pub fn problem(&self) -> Option<OptionProblem> {
        if self.first_row == Some(0) {
            return Some(OptionProblem::FirstRowZero);
        }
        if self.last_row == Some(0) {
            return Some(OptionProblem::LastRowZero);
        }
        if let (Some(first), Some(last)) = (self.first_row, self.last_row)
            && last < first
        {
            return Some(OptionProblem::LastBeforeFirst { first, last });
        }
        if self.log_level.is_some_and(|l| l > 3) {
            return Some(OptionProblem::LogLevel);
        }
        if self
            .threads
            .is_some_and(|t| !(1..=MAX_THREADS).contains(&t))
        {
            return Some(OptionProblem::Threads);
        }
        None
    }

    fn check(&self) -> Result<()> {
        match self.problem() {
            Some(p) => Err(ServiceError::Invalid(p.to_string())),
            None => Ok(()),
        }
    }

    fn into_parameters(self, to: &mut BTreeMap<String, String>) {
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                to.insert(k.into(), v);
            }
        };
        put("sluice.first_row", self.first_row.map(|v| v.to_string()));
        put("sluice.last_row", self.last_row.map(|v| v.to_string()));
        put("sluice.threads", self.threads.map(|v| v.to_string()));
        put("sluice.log_level", self.log_level.map(|v| v.to_string()));
        put(
            "sluice.chain_jobs",
            self.chain_jobs.then(|| "true".to_string()),
        );
    }
}

/// Longest a single wait may block.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// A run already holding a request's external id: the same request answers it (`false`: nothing
/// new was created); another request is a conflict.
fn same_request(
    existing: Run,
    task: &Task,
    parameters: &BTreeMap<String, String>,
    callback_url: &Option<String>,
) -> Result<(Run, bool)> {
    let same = existing.task_id == task.id
        && &existing.parameters == parameters
        && &existing.callback_url == callback_url;
    if same {
        Ok((existing, false))
    } else {
        Err(ServiceError::Conflict(format!(
            "external id `{}` is already used by another run",
            existing.external_id.as_deref().unwrap_or_default()
        )))
    }
}

impl App {
    /// Queues a run of `task`. With an external id already used: the same request answers the
    /// existing run (`false` in the second place: nothing new was created); another is a conflict.
    pub async fn start_run(
        &self,
        who: &Principal,
        task: &Task,
        req: StartRequest,
    ) -> Result<(Run, bool)> {
        who.require(Role::Operator)?;
        if let Some(url) = &req.callback_url {
            self.callback_policy
                .check(url)
                .await
                .map_err(|e| ServiceError::Invalid(format!("callback URL: {e}")))?;
        }
        for key in req.parameters.keys() {
            if key.starts_with("sluice.") {
                return Err(ServiceError::Invalid(format!(
                    "parameter `{key}`: the `sluice.` prefix is reserved for built-in values"
                )));
            }
        }
        req.options.check()?;
        let mut parameters = req.parameters.clone();
        req.options.into_parameters(&mut parameters);
        if let Some(ext) = &req.external_id {
            if ext.is_empty() || ext.len() > 255 {
                return Err(ServiceError::Invalid(
                    "external id: must be 1 to 255 characters".into(),
                ));
            }
            if let Some(existing) = self.store.get_run_by_external_id(who.org_id(), ext).await? {
                return same_request(existing, task, &parameters, &req.callback_url);
            }
        }
        let new = NewRun {
            external_id: req.external_id.clone(),
            trigger: req.trigger,
            started_by: who.user.username.clone(),
            parameters: parameters.clone(),
            callback_url: req.callback_url.clone(),
            ..NewRun::default()
        };
        let run = match self.store.create_run(task, new, Utc::now()).await {
            Ok(run) => run,
            // Two identical requests raced: the store let one in; the other answers with it.
            Err(e @ StoreError::ExternalIdTaken(_)) => {
                let ext = req.external_id.as_deref().unwrap_or_default();
                let existing = self
                    .store
                    .get_run_by_external_id(who.org_id(), ext)
                    .await?
                    .ok_or_else(|| ServiceError::Conflict(e.to_string()))?;
                return same_request(existing, task, &parameters, &req.callback_url);
            }
            Err(other) => return Err(other.into()),
        };
        if !task.allow_parallel && task.policy.on_busy == OnBusy::CancelPrevious {
            self.signal_cancelled(task).await;
        }
        self.events.run_queued();
        Ok((run, true))
    }

    /// Passes the stops a `cancel_previous` start wrote on to this node's worker at once (other
    /// nodes see them at their next heartbeat).
    async fn signal_cancelled(&self, task: &Task) {
        let filter = crate::store::RunFilter {
            task_id: Some(task.id),
            states: vec![RunState::Stopping],
            limit: 100,
            ..Default::default()
        };
        if let Ok(stopping) = self.store.list_runs(task.org_id, &filter).await {
            for run in stopping {
                self.worker.signal_stop(run.id, StopMode::Immediate);
            }
        }
    }

    pub async fn get_run(&self, org_id: Uuid, id: Uuid) -> Result<Run> {
        self.store
            .get_run(org_id, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("run {id} not found")))
    }

    /// A run named by its id, or by its external id.
    pub async fn find_run(&self, org_id: Uuid, reference: &str) -> Result<Run> {
        if let Ok(id) = Uuid::parse_str(reference)
            && let Some(run) = self.store.get_run(org_id, id).await?
        {
            return Ok(run);
        }
        self.store
            .get_run_by_external_id(org_id, reference)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("run `{reference}` not found")))
    }

    pub async fn list_runs(&self, org_id: Uuid, filter: &RunFilter) -> Result<Vec<Run>> {
        Ok(self.store.list_runs(org_id, filter).await?)
    }

    /// Asks a run to stop; a run that already ended is answered as it is.
    pub async fn stop_run(&self, who: &Principal, id: Uuid, mode: StopMode) -> Result<Run> {
        who.require(Role::Operator)?;
        let run = self.get_run(who.org_id(), id).await?;
        if run.state.is_terminal() {
            return Ok(run);
        }
        let by = who.user.username.clone();
        let run = self
            .store
            .request_stop(who.org_id(), id, mode, &by, Utc::now())
            .await?;
        if run.state == RunState::Stopping {
            self.worker.signal_stop(id, mode);
        } else if run.state.is_terminal() {
            let task = self
                .store
                .get_task(run.org_id, run.task_id)
                .await
                .ok()
                .flatten();
            self.telemetry.run_ended(&run, task.as_ref());
            self.events.run_ended(id);
        }
        Ok(run)
    }

    /// Waits until the run ends or `timeout` passes; answers the run as it then is.
    pub async fn wait_run(&self, org_id: Uuid, id: Uuid, timeout: Duration) -> Result<Run> {
        let deadline = Instant::now() + timeout.min(MAX_WAIT);
        let mut ended = self.events.subscribe_ended();
        loop {
            let run = self.get_run(org_id, id).await?;
            if run.state.is_terminal() || Instant::now() >= deadline {
                return Ok(run);
            }
            // Another node may end the run: look again now and then even without a signal.
            let tick =
                tokio::time::sleep_until(deadline.min(Instant::now() + Duration::from_millis(500)));
            tokio::select! {
                msg = ended.recv() => {
                    if let Ok(RunEnded { run_id }) = msg && run_id != id {
                        continue;
                    }
                }
                _ = tick => {}
            }
        }
    }

    pub async fn read_log(
        &self,
        org_id: Uuid,
        id: Uuid,
        after: i64,
        min_level: LogLevel,
        limit: i64,
    ) -> Result<(Run, Vec<LogLine>)> {
        let run = self.get_run(org_id, id).await?;
        let lines = self
            .store
            .read_log(id, after, min_level, limit.clamp(1, 5000))
            .await?;
        Ok((run, lines))
    }
}
