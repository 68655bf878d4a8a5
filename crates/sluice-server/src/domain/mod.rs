//! The domain model: tasks, connections, runs and their state machine, identities. Pure types and
//! rules, no I/O; every other layer speaks in these terms.

pub mod audit;
pub mod blackout;
pub mod code;
pub mod connection;
pub mod firing;
pub mod frequency;
pub mod identity;
pub mod ids;
pub mod lifecycle;
pub mod load;
pub mod org_grants;
pub mod param_file;
pub mod params;
pub mod run;
pub mod runtime_env;
pub mod schedule;
pub mod spark;
pub mod task;
pub mod taskflow;

pub use connection::{Connection, ConnectionConfig, ConnectionType, Secret};
pub use identity::{Org, Role, User};
pub use run::{Counters, LogLevel, Outcome, RunEvent, RunState, StopMode, Trigger};
pub use task::{Origin, Task, TaskType};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// One part of a run (a replicated table), with its own state and counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunChild {
    pub run_id: Uuid,
    /// 1-based position among the run's children.
    pub seq: i32,
    pub name: String,
    pub state: RunState,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub counters: Counters,
    pub error: Option<String>,
    /// A taskflow step's task.
    pub task_id: Option<Uuid>,
    /// A taskflow step's own run, once it started.
    pub child_run_id: Option<Uuid>,
}

/// One run of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: Uuid,
    pub org_id: Uuid,
    pub task_id: Uuid,
    /// Counts the task's runs from 1 (the IICS `runId`).
    pub run_number: i64,
    /// A caller-supplied id, unique per org (the Starfish `runID`).
    pub external_id: Option<String>,
    pub trigger: Trigger,
    /// The user (or schedule, or parent run) that started it.
    pub started_by: String,
    pub parameters: BTreeMap<String, String>,
    pub callback_url: Option<String>,
    pub state: RunState,
    pub stop_mode: Option<StopMode>,
    pub stopped_by: Option<String>,
    pub error: Option<String>,
    pub counters: Counters,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The node that claimed the run (kept after it ends).
    pub node: Option<String>,
    /// The worker node holding the run while it is claimed.
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// The Spark application of a `spark` code task, as last seen.
    pub spark: Option<spark::SparkProgress>,
    /// The schedule fire that made the run.
    pub fire: Option<schedule::Fire>,
    /// 1 for a first run; N for the (N − 1)th retry of a run that failed.
    pub attempt: u32,
    /// The run this one retries.
    pub retry_of: Option<Uuid>,
    /// The task's retry policy when the first attempt was made: the attempts a failure may have.
    pub retry: task::RetryPolicy,
    /// A retry waits for its delay: it is not claimed before this.
    pub not_before: Option<DateTime<Utc>>,
}

impl Run {
    /// How many attempts the run may have in all.
    pub fn max_attempts(&self) -> u32 {
        self.retry.retries.saturating_add(1)
    }
}

/// What a caller asks for when starting a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewRun {
    pub external_id: Option<String>,
    pub trigger: Option<Trigger>,
    pub started_by: String,
    pub parameters: BTreeMap<String, String>,
    pub callback_url: Option<String>,
    /// The schedule fire making the run: at most one run of a task per fire.
    pub fire: Option<schedule::Fire>,
    /// A retry: the run it retries, its attempt number and the earliest time it may start.
    pub retry: Option<NewRetry>,
}

/// What makes a new run a retry.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRetry {
    pub of: Uuid,
    pub attempt: u32,
    pub policy: task::RetryPolicy,
    pub not_before: DateTime<Utc>,
}

/// A new line of a run's log, before the store numbers it.
#[derive(Debug, Clone)]
pub struct NewLogLine {
    pub at: DateTime<Utc>,
    pub level: LogLevel,
    pub message: String,
}

/// One line of a run's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub level: LogLevel,
    pub message: String,
}
