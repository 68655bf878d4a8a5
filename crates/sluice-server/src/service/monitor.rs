//! Reads and actions the monitor needs beyond the API's first ones: counts of runs by state,
//! searching a run's log, and rerunning a run (also `POST /api/v1/runs/{run}/rerun`).

use super::runs::StartRequest;
use super::{App, Principal, Result, ServiceError};
use crate::domain::{LogLine, Run, RunState, Trigger};
use crate::store::{LogSearch, RunFilter};
use uuid::Uuid;

/// The longest text a log search looks for.
pub const MAX_LOG_SEARCH: usize = 200;

impl App {
    /// How many runs of the org `filter` selects, in each state (its states and paging aside).
    pub async fn count_runs(
        &self,
        org_id: Uuid,
        filter: &RunFilter,
    ) -> Result<Vec<(RunState, i64)>> {
        Ok(self.store.count_runs(org_id, filter).await?)
    }

    /// The newest run of each of the org's tasks that has run.
    pub async fn latest_runs(&self, org_id: Uuid) -> Result<Vec<Run>> {
        Ok(self.store.latest_runs(org_id).await?)
    }

    /// Lines of a run of the org's log that `search` selects, oldest first.
    pub async fn search_log(
        &self,
        org_id: Uuid,
        run_id: Uuid,
        search: &LogSearch,
    ) -> Result<(Run, Vec<LogLine>)> {
        if search
            .contains
            .as_ref()
            .is_some_and(|t| t.chars().count() > MAX_LOG_SEARCH)
        {
            return Err(ServiceError::Invalid(format!(
                "search: at most {MAX_LOG_SEARCH} characters"
            )));
        }
        let run = self.get_run(org_id, run_id).await?;
        let mut search = search.clone();
        search.limit = search.limit.clamp(1, 5000);
        let lines = self.store.search_log(run.id, &search).await?;
        Ok((run, lines))
    }

    /// Starts the run's task again with the run's parameters and callback URL (built-in run
    /// options such as a Starfish start's row range are not carried). The same rules as any
    /// start: the Operator role, the task's busy policy.
    pub async fn rerun(&self, who: &Principal, run_id: Uuid) -> Result<Run> {
        let run = self.get_run(who.org_id(), run_id).await?;
        let task = self
            .store
            .get_task(run.org_id, run.task_id)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!("the task of run {run_id} (it was deleted)"))
            })?;
        let parameters = run
            .parameters
            .into_iter()
            .filter(|(k, _)| !k.starts_with("sluice."))
            .collect();
        let req = StartRequest {
            parameters,
            callback_url: run.callback_url,
            external_id: None,
            trigger: Some(Trigger::Api),
            options: Default::default(),
        };
        Ok(self.start_run(who, &task, req).await?.0)
    }
}
