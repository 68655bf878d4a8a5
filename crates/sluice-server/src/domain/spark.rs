//! What Sluice knows of the Spark application a code task runs: its id, its driver's UI, its state,
//! and how many of its jobs, stages and tasks are done. Kept on the run while it runs and after.
//! Pure: the engine fills it in from the driver's log and monitoring API.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A Spark application's progress as last seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparkProgress {
    /// `app-...` on a standalone cluster, `local-...` in local mode; None until the driver says.
    pub app_id: Option<String>,
    /// The application's name as Spark knows it (the program may set its own).
    pub app_name: Option<String>,
    /// The driver's web UI (and monitoring REST API), while the application runs.
    pub ui_url: Option<String>,
    pub state: SparkState,
    /// Jobs the application has started so far (Spark learns of a job only when it starts).
    pub jobs: Tally,
    /// Stages of those jobs; `skipped` ones were not run because their output was reused.
    pub stages: Tally,
    /// Tasks of those stages.
    pub tasks: Tally,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Where the application is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SparkState {
    /// spark-submit started; the driver is not up yet.
    #[default]
    Submitted,
    /// The driver is up (its UI answers, or it ran a job).
    Running,
    Succeeded,
    Failed,
    /// Stopped by a stop of the run or its timeout.
    Killed,
}

impl SparkState {
    pub fn as_str(self) -> &'static str {
        match self {
            SparkState::Submitted => "submitted",
            SparkState::Running => "running",
            SparkState::Succeeded => "succeeded",
            SparkState::Failed => "failed",
            SparkState::Killed => "killed",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            SparkState::Succeeded | SparkState::Failed | SparkState::Killed
        )
    }
}

/// Counts of jobs, stages or tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub total: u64,
    pub completed: u64,
    pub active: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl Tally {
    /// Two views of the same counts (the driver's log and its monitoring API), each of which may
    /// have missed something: the larger count wins, as counts only grow; `active` is the
    /// monitoring API's when it has one, as the log cannot tell a stage that is waiting.
    pub fn merge(self, api: Option<Tally>) -> Tally {
        let Some(api) = api else { return self };
        Tally {
            total: self.total.max(api.total),
            completed: self.completed.max(api.completed),
            active: api.active,
            failed: self.failed.max(api.failed),
            skipped: self.skipped.max(api.skipped),
        }
    }

    /// Nothing is active any more (the application ended).
    pub fn settled(self) -> Tally {
        Tally { active: 0, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_larger_count_wins_and_active_comes_from_the_api() {
        let log = Tally {
            total: 5,
            completed: 4,
            active: 1,
            failed: 0,
            skipped: 0,
        };
        let api = Tally {
            total: 4,
            completed: 3,
            active: 0,
            failed: 1,
            skipped: 2,
        };
        assert_eq!(
            log.merge(Some(api)),
            Tally {
                total: 5,
                completed: 4,
                active: 0,
                failed: 1,
                skipped: 2
            }
        );
        assert_eq!(log.merge(None), log);
        assert_eq!(log.settled().active, 0);
    }

    #[test]
    fn progress_reads_back_from_its_json() {
        let p = SparkProgress {
            app_id: Some("local-1".into()),
            state: SparkState::Running,
            ..SparkProgress::default()
        };
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains(r#""state":"running""#), "{json}");
        assert_eq!(serde_json::from_str::<SparkProgress>(&json).unwrap(), p);
    }
}
