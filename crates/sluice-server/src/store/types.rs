//! The values the [`Store`](super::Store) trait takes and answers besides domain types: filters,
//! heartbeats, callbacks and their attempts, tokens, wake-ups and node holds.

use crate::domain::audit::AuditAction;
use crate::domain::{RunState, StopMode, TaskType};
use chrono::{DateTime, Utc};
use std::time::Duration;
use uuid::Uuid;

/// Filters for listing runs; all optional, newest first.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub task_id: Option<Uuid>,
    pub states: Vec<RunState>,
    /// Only runs created before this run (for paging backwards).
    pub before: Option<Uuid>,
    pub limit: i64,
    /// Runs skipped before the first answered.
    pub offset: i64,
    /// Only runs of tasks of this type (runs of deleted tasks are left out).
    pub task_type: Option<TaskType>,
    /// Only runs that started (or, not started yet, were created) at or after this time...
    pub started_from: Option<DateTime<Utc>>,
    /// ...and at or before this one.
    pub started_to: Option<DateTime<Utc>>,
    /// Only runs of tasks in this folder.
    pub folder: Option<String>,
    /// Only runs started this way.
    pub trigger: Option<crate::domain::Trigger>,
    /// Only runs this node claimed.
    pub node: Option<String>,
}

/// Filters for reading the audit log; all optional, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this org's events; None: every org's, and those of no org.
    pub org_id: Option<Uuid>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    pub action: Option<AuditAction>,
    pub actor: Option<String>,
    /// At most this many (0: 100).
    pub limit: i64,
    /// Events skipped before the first answered.
    pub offset: i64,
}

/// Filters for listing tasks.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub folder: Option<String>,
    pub name: Option<String>,
    pub task_type: Option<TaskType>,
}

/// What a worker learns from renewing a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// False when the lease was lost (expired and resolved elsewhere): the worker must abandon
    /// the run without writing to it.
    pub held: bool,
    pub stop: Option<StopMode>,
}

/// A callback of a run (the outbox row).
#[derive(Debug, Clone, PartialEq)]
pub struct Callback {
    pub id: Uuid,
    pub run_id: Uuid,
    pub url: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub state: String,
    /// Attempts made in all.
    pub attempts: i64,
    /// Attempts in the current round of the schedule (a resend starts a new round).
    pub round_attempts: i64,
    pub round_started_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl Callback {
    /// Whether delivery goes on by itself (neither delivered nor given up).
    pub fn is_pending(&self) -> bool {
        self.state == "pending"
    }
}

/// One delivery attempt, as it is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// 1 for the first attempt of the callback.
    pub number: i64,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// The receiver's HTTP status; None when it never answered.
    pub status: Option<i64>,
    pub error: Option<String>,
}

/// The outcome of one delivery attempt.
#[derive(Debug, Clone)]
pub enum Delivery {
    Delivered,
    /// Try again at this time.
    Retry {
        at: DateTime<Utc>,
        error: String,
    },
    /// Out of attempts: the failure stays visible on the callback row and in the run's log.
    GiveUp {
        error: String,
    },
}

/// A token to keep (only its hash is stored).
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub user_id: Uuid,
    pub hash: &'a str,
    /// What kind of token: `session`, `iics-session`, or a name the user chose.
    pub name: &'a str,
    pub created_at: DateTime<Utc>,
    /// Absolute expiry; None = until revoked.
    pub expires_at: Option<DateTime<Utc>>,
    /// Expires after this long without use; None = never idle-expires.
    pub idle: Option<Duration>,
}

/// Work another process put in a shared store, told as it commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    RunQueued,
    /// These runs ended (their callbacks, if any, were queued with the end); empty: some did.
    RunsEnded(Vec<Uuid>),
    CallbackQueued,
    /// Anything may have happened (the wake-ups were interrupted): look at everything.
    Everything,
}

/// This process's hold on its node name, let go when dropped (or when the process dies).
pub struct NodeHold {
    _release: Option<tokio_util::sync::DropGuard>,
}

impl NodeHold {
    /// A hold let go when `release` drops.
    pub(crate) fn releasing(release: tokio_util::sync::DropGuard) -> NodeHold {
        NodeHold {
            _release: Some(release),
        }
    }

    /// A hold with nothing to let go: a store only one process opens (the embedded one, whose
    /// data directory is locked) needs none.
    pub fn none() -> NodeHold {
        NodeHold { _release: None }
    }
}

/// What a firing pass did.
#[derive(Debug, Default)]
pub struct Fired {
    /// The runs its fires queued.
    pub runs: Vec<crate::domain::Run>,
    /// Fires a task did not take, and why (the task was busy, or is gone).
    pub refused: Vec<RefusedFire>,
    /// Due fires the catch-up policy or window left out, by schedule name.
    pub skipped: Vec<(String, u64)>,
}

/// A fire a task did not take.
#[derive(Debug, Clone)]
pub struct RefusedFire {
    pub schedule: String,
    pub task: String,
    pub at: DateTime<Utc>,
    pub reason: String,
    /// The task skips such fires by choice (`on_busy = "skip"`): not worth a warning.
    pub quiet: bool,
}

/// Which lines of a run's log to read (the monitor's log view).
#[derive(Debug, Clone)]
pub struct LogSearch {
    /// Lines after this sequence number...
    pub after: i64,
    /// ...and before this one.
    pub before: Option<i64>,
    pub min_level: crate::domain::LogLevel,
    /// Only lines containing this text, ignoring case.
    pub contains: Option<String>,
    pub limit: i64,
    /// The last `limit` lines of the range rather than the first (still answered oldest first).
    pub last: bool,
}
