//! Reading a Spark application's progress from its driver: the lines its log writes
//! (DAGScheduler, TaskSetManager, the standalone scheduler backend, the UI) and the answers of its
//! monitoring REST API. Pure: [`super::spark_watch`] feeds it.

use crate::domain::spark::Tally;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// What the driver's log has told so far.
#[derive(Debug, Default, Clone)]
pub struct LogTally {
    /// A standalone cluster names the application in the log (`app-...`); local mode does not.
    pub app_id: Option<String>,
    /// The port the driver's UI took (it moves up from the asked one when that is taken).
    pub ui_port: Option<u16>,
    /// Whether the driver has said anything of its own yet (it is up).
    pub driver_up: bool,
    jobs_started: BTreeSet<u64>,
    jobs_done: BTreeSet<u64>,
    jobs_failed: BTreeSet<u64>,
    stages_started: BTreeSet<u64>,
    stages_done: BTreeSet<u64>,
    stages_failed: BTreeSet<u64>,
    tasks_total: u64,
    tasks_done: u64,
    tasks_failed: u64,
    /// A map-stage job (adaptive query execution runs them) whose final stage is not named yet.
    map_job: Option<u64>,
    /// Map-stage jobs by their one stage: the log never says such a job finished, only its stage.
    map_jobs: BTreeMap<u64, u64>,
}

/// The number at the start of `s`, and what follows it.
fn leading_number(s: &str) -> Option<(u64, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    Some((s[..end].parse().ok()?, &s[end..]))
}

/// What follows `marker` in `line`.
fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|i| &line[i + marker.len()..])
}

const STAGE_KINDS: [&str; 2] = ["ResultStage ", "ShuffleMapStage "];

fn tally(started: &BTreeSet<u64>, done: &BTreeSet<u64>, failed: &BTreeSet<u64>) -> Tally {
    let total = started.len() as u64;
    let completed = done.len() as u64;
    let failed = failed.len() as u64;
    Tally {
        total,
        completed,
        failed,
        active: total.saturating_sub(completed + failed),
        skipped: 0,
    }
}

impl LogTally {
    /// Reads one line of the driver's log; answers whether it told anything new.
    pub fn observe(&mut self, line: &str) -> bool {
        if let Some(rest) = after(line, "DAGScheduler: ") {
            self.driver_up = true;
            return self.scheduler(rest);
        }
        if let Some(rest) = after(line, "TaskSetManager: ") {
            self.driver_up = true;
            if rest.starts_with("Finished task ") {
                self.tasks_done += 1;
                return true;
            }
            if rest.starts_with("Lost task ") {
                self.tasks_failed += 1;
                return true;
            }
            return false;
        }
        if let Some(id) = after(line, "Connected to Spark cluster with app ID ") {
            self.app_id = Some(id.trim().to_string());
            self.driver_up = true;
            return true;
        }
        if let Some((port, _)) =
            after(line, "Successfully started service 'SparkUI' on port ").and_then(leading_number)
        {
            self.ui_port = u16::try_from(port).ok();
            self.driver_up = true;
            return true;
        }
        false
    }

    /// A DAGScheduler line (what follows `DAGScheduler: `).
    fn scheduler(&mut self, rest: &str) -> bool {
        if let Some((n, _)) = rest.strip_prefix("Got job ").and_then(leading_number) {
            return self.jobs_started.insert(n);
        }
        if let Some((n, _)) = rest
            .strip_prefix("Got map stage job ")
            .and_then(leading_number)
        {
            self.map_job = Some(n);
            return self.jobs_started.insert(n);
        }
        if let Some(s) = rest.strip_prefix("Final stage: ") {
            if let Some(job) = self.map_job.take() {
                for kind in STAGE_KINDS {
                    if let Some((n, _)) = s.strip_prefix(kind).and_then(leading_number) {
                        self.map_jobs.insert(n, job);
                    }
                }
            }
            return false;
        }
        if let Some((n, tail)) = rest.strip_prefix("Job ").and_then(leading_number) {
            if tail.starts_with(" finished") {
                return self.jobs_done.insert(n);
            }
            if tail.starts_with(" failed") {
                return self.jobs_failed.insert(n);
            }
            return false;
        }
        if let Some(s) = rest.strip_prefix("Submitting ") {
            // `Submitting 4 missing tasks from ResultStage 0 (...)`
            if let Some((n, tail)) = leading_number(s)
                && tail.starts_with(" missing tasks from ")
            {
                self.tasks_total += n;
                return true;
            }
            // `Submitting ResultStage 0 (...), which has no missing parents`
            for kind in STAGE_KINDS {
                if let Some((n, _)) = s.strip_prefix(kind).and_then(leading_number) {
                    return self.stages_started.insert(n);
                }
            }
            return false;
        }
        // `ResultStage 0 (csv at ...) finished in 1452 ms` / `... failed in 1.2 s due to ...`
        for kind in STAGE_KINDS {
            if let Some((n, tail)) = rest.strip_prefix(kind).and_then(leading_number) {
                let finished = tail.find(") finished in ");
                let failed = tail.find(") failed in ");
                let ok = match (finished, failed) {
                    (Some(a), Some(b)) => a < b,
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    (None, None) => return false,
                };
                if let Some(job) = self.map_jobs.get(&n).copied() {
                    let _ = if ok {
                        self.jobs_done.insert(job)
                    } else {
                        self.jobs_failed.insert(job)
                    };
                }
                return if ok {
                    self.stages_done.insert(n)
                } else {
                    self.stages_failed.insert(n)
                };
            }
        }
        false
    }

    pub fn jobs(&self) -> Tally {
        tally(&self.jobs_started, &self.jobs_done, &self.jobs_failed)
    }

    pub fn stages(&self) -> Tally {
        tally(&self.stages_started, &self.stages_done, &self.stages_failed)
    }

    pub fn tasks(&self) -> Tally {
        Tally {
            total: self.tasks_total,
            completed: self.tasks_done,
            failed: self.tasks_failed,
            active: self.tasks_total.saturating_sub(self.tasks_done),
            skipped: 0,
        }
    }
}

/// One application in `GET /api/v1/applications`.
#[derive(Debug, Deserialize)]
pub struct ApiApplication {
    pub id: String,
    pub name: String,
}

/// One job in `GET /api/v1/applications/<id>/jobs`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiJob {
    /// RUNNING, SUCCEEDED, FAILED or UNKNOWN.
    pub status: String,
    #[serde(default)]
    pub stage_ids: Vec<u64>,
    pub num_tasks: u64,
    pub num_active_tasks: u64,
    pub num_completed_tasks: u64,
    pub num_skipped_tasks: u64,
    pub num_failed_tasks: u64,
    pub num_active_stages: u64,
    pub num_completed_stages: u64,
    pub num_skipped_stages: u64,
    pub num_failed_stages: u64,
}

/// What the monitoring API said at its last answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiSnapshot {
    pub app_id: String,
    pub app_name: String,
    pub jobs: Tally,
    pub stages: Tally,
    pub tasks: Tally,
}

impl ApiSnapshot {
    pub fn new(app: ApiApplication, jobs: &[ApiJob]) -> ApiSnapshot {
        let count = |status: &str| jobs.iter().filter(|j| j.status == status).count() as u64;
        let sum = |f: fn(&ApiJob) -> u64| jobs.iter().map(f).sum::<u64>();
        ApiSnapshot {
            app_id: app.id,
            app_name: app.name,
            jobs: Tally {
                total: jobs.len() as u64,
                completed: count("SUCCEEDED"),
                active: count("RUNNING"),
                failed: count("FAILED"),
                skipped: 0,
            },
            stages: Tally {
                total: sum(|j| j.stage_ids.len() as u64),
                completed: sum(|j| j.num_completed_stages),
                active: sum(|j| j.num_active_stages),
                failed: sum(|j| j.num_failed_stages),
                skipped: sum(|j| j.num_skipped_stages),
            },
            tasks: Tally {
                total: sum(|j| j.num_tasks),
                completed: sum(|j| j.num_completed_tasks),
                active: sum(|j| j.num_active_tasks),
                failed: sum(|j| j.num_failed_tasks),
                skipped: sum(|j| j.num_skipped_tasks),
            },
        }
    }
}

#[cfg(test)]
mod tests;
