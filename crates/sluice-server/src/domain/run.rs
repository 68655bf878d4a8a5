//! Runs and their state machine: which states exist, which events move a run between them, and
//! the counters a run carries. Pure: no I/O.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The state of a run. The four last ones are terminal: nothing moves a run out of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Accepted and durable; waiting for a worker.
    Queued,
    /// Claimed by a worker, which holds its lease; the task is being prepared.
    Starting,
    /// Moving data.
    Running,
    /// A stop was asked for; the worker is bringing the run to a safe point.
    Stopping,
    Completed,
    CompletedWithErrors,
    Failed,
    Stopped,
}

impl RunState {
    pub const ALL: [RunState; 8] = [
        RunState::Queued,
        RunState::Starting,
        RunState::Running,
        RunState::Stopping,
        RunState::Completed,
        RunState::CompletedWithErrors,
        RunState::Failed,
        RunState::Stopped,
    ];

    pub const ACTIVE: [RunState; 4] = [
        RunState::Queued,
        RunState::Starting,
        RunState::Running,
        RunState::Stopping,
    ];

    /// A comma-separated list of states as a filter names them: each state once, in the order of
    /// [`RunState::ALL`], however often the text repeats it (`failed,failed` is one state, so a
    /// long hostile list costs a store no more than the eight states there are).
    pub fn parse_list(text: &str) -> Result<Vec<RunState>, String> {
        let mut named = [false; RunState::ALL.len()];
        for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let state: RunState = part.parse()?;
            named[state as usize] = true;
        }
        Ok(RunState::ALL
            .into_iter()
            .filter(|s| named[*s as usize])
            .collect())
    }

    pub fn is_terminal(self) -> bool {
        !Self::ACTIVE.contains(&self)
    }

    /// Whether a worker holds the run (and so a lease on it).
    pub fn is_claimed(self) -> bool {
        matches!(
            self,
            RunState::Starting | RunState::Running | RunState::Stopping
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Starting => "starting",
            RunState::Running => "running",
            RunState::Stopping => "stopping",
            RunState::Completed => "completed",
            RunState::CompletedWithErrors => "completed_with_errors",
            RunState::Failed => "failed",
            RunState::Stopped => "stopped",
        }
    }

    /// Applies an event, returning the next state or why the event does not apply here.
    pub fn apply(self, event: RunEvent) -> Result<RunState, TransitionError> {
        use RunEvent as E;
        use RunState as S;
        let next = match (self, event) {
            (S::Queued, E::Claim) => S::Starting,
            (S::Starting, E::Begin) => S::Running,
            // A queued run has no worker to bring it to a safe point: it stops at once.
            (S::Queued, E::RequestStop(_)) => S::Stopped,
            (S::Starting | S::Running, E::RequestStop(_)) => S::Stopping,
            // Asking again (e.g. immediate after graceful) keeps the run stopping; the worker
            // escalates.
            (S::Stopping, E::RequestStop(_)) => S::Stopping,
            (S::Running | S::Starting, E::Finish(outcome)) => outcome.into(),
            // A run that reached its end before the stop took effect reports what really happened;
            // one interrupted by the stop is stopped.
            (S::Stopping, E::Finish(outcome)) => outcome.into(),
            (S::Stopping, E::Halted) => S::Stopped,
            (s, E::Fail) if !s.is_terminal() => S::Failed,
            (s, E::LeaseLost) if s.is_claimed() => S::Failed,
            (from, event) => return Err(TransitionError { from, event }),
        };
        Ok(next)
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunState::ALL
            .into_iter()
            .find(|state| state.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "unknown run state `{s}`; expected one of {}",
                    RunState::ALL.map(|s| s.as_str()).join(", ")
                )
            })
    }
}

/// How a task's work ended, as the engine reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Completed,
    CompletedWithErrors,
    Failed,
}

impl From<Outcome> for RunState {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Completed => RunState::Completed,
            Outcome::CompletedWithErrors => RunState::CompletedWithErrors,
            Outcome::Failed => RunState::Failed,
        }
    }
}

/// How to stop a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StopMode {
    /// Finish the current batch, leave the target consistent, then stop.
    #[default]
    Graceful,
    /// Abandon the work now; the target is still left as it was before the run.
    Immediate,
}

impl StopMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StopMode::Graceful => "graceful",
            StopMode::Immediate => "immediate",
        }
    }
}

impl FromStr for StopMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "graceful" | "clean" => Ok(StopMode::Graceful),
            "immediate" | "abort" => Ok(StopMode::Immediate),
            _ => Err(format!(
                "unknown stop mode `{s}`; expected graceful or immediate"
            )),
        }
    }
}

/// What can happen to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEvent {
    /// A worker took the run and holds its lease.
    Claim,
    /// The task is prepared and data starts to move.
    Begin,
    RequestStop(StopMode),
    /// The engine finished the work with this outcome.
    Finish(Outcome),
    /// The worker brought a stopping run to a halt before the work was done.
    Halted,
    /// The run could not go on (an error outside the engine's outcome, e.g. it could not start).
    Fail,
    /// The worker holding the run disappeared: its lease expired or its node restarted.
    LeaseLost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a run that is {from} cannot take the event {event:?}")]
pub struct TransitionError {
    pub from: RunState,
    pub event: RunEvent,
}

/// Row counters of a run (or of one child of a run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub source_rows_read: u64,
    pub source_rows_failed: u64,
    pub target_rows_written: u64,
    pub target_rows_failed: u64,
    pub inserts: u64,
    pub updates: u64,
    pub deletes: u64,
    pub skipped: u64,
}

impl Counters {
    /// Adds another run's (or child's) counters to these: a parent's totals are its children's.
    pub fn add(&mut self, c: &Counters) {
        self.source_rows_read += c.source_rows_read;
        self.source_rows_failed += c.source_rows_failed;
        self.target_rows_written += c.target_rows_written;
        self.target_rows_failed += c.target_rows_failed;
        self.inserts += c.inserts;
        self.updates += c.updates;
        self.deletes += c.deletes;
        self.skipped += c.skipped;
    }
}

/// Who or what started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Api,
    Cli,
    Schedule,
    Taskflow,
    /// The IICS job API: its callbacks carry the IICS `callbackUrlResponse` body.
    Iics,
    /// The Starfish API.
    Starfish,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Api => "api",
            Trigger::Cli => "cli",
            Trigger::Schedule => "schedule",
            Trigger::Taskflow => "taskflow",
            Trigger::Iics => "iics",
            Trigger::Starfish => "starfish",
        }
    }
}

impl FromStr for Trigger {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "api" => Ok(Trigger::Api),
            "cli" => Ok(Trigger::Cli),
            "schedule" => Ok(Trigger::Schedule),
            "taskflow" => Ok(Trigger::Taskflow),
            "iics" => Ok(Trigger::Iics),
            "starfish" => Ok(Trigger::Starfish),
            _ => Err(format!("unknown trigger `{s}`")),
        }
    }
}

/// Severity of a run log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Debug = 10,
    Info = 20,
    Warn = 30,
    Error = 40,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
    pub fn from_number(n: i64) -> LogLevel {
        match n {
            ..=10 => LogLevel::Debug,
            11..=20 => LogLevel::Info,
            21..=30 => LogLevel::Warn,
            _ => LogLevel::Error,
        }
    }
}

impl FromStr for LogLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "debug" => Ok(LogLevel::Debug),
            "info" => Ok(LogLevel::Info),
            "warn" | "warning" => Ok(LogLevel::Warn),
            "error" => Ok(LogLevel::Error),
            _ => Err(format!(
                "unknown log level `{s}`; expected debug, info, warn or error"
            )),
        }
    }
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
