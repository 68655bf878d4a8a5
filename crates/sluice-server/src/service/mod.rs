//! The operations every API surface shares (native, IICS, Starfish, CLI): resolving tasks,
//! starting and stopping runs, reading logs, managing definitions and identities. Compatibility
//! layers translate to and from these; they hold no logic of their own.

pub mod activity;
mod audit;
mod auth;
pub mod blackouts;
mod callbacks;
mod checks;
pub mod definition_export;
mod definition_files;
pub mod definitions;
mod files;
mod load_checks;
pub mod monitor;
pub mod runs;
pub mod schedules;
pub mod signin;
mod task_checks;
mod tasks;
pub mod throttle;
pub mod views;

pub use auth::{Principal, SessionKind, hash_password};
pub use signin::{SigninKind, SigninState};

use crate::config::Config;
use crate::events::Events;
use crate::store::{Store, StoreError};
use crate::worker::WorkerHandle;
use std::sync::Arc;
use uuid::Uuid;

/// Errors of the service layer; each API maps them once to its own error shape.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// A definition with problems: one line per problem (`<where>: <field>: <message>`).
    #[error("{}", .0.join("; "))]
    InvalidDefinition(Vec<String>),
    #[error("{0}")]
    Conflict(String),
    /// A task that may not run in parallel is already running.
    #[error("{0}")]
    TaskRunning(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// Sign-ins for this user name or from this address are throttled (too many failures, or
    /// too many attempts at once): try again after this many seconds.
    #[error("too many failed sign-ins; try again in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("internal error: {0}")]
    Internal(String),
    /// The store does not answer now (a database restart): try again in a moment.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ServiceError::NotFound(format!("{what} not found")),
            StoreError::NameTaken(msg) => ServiceError::Conflict(msg),
            StoreError::BadReference(msg) => ServiceError::Invalid(msg),
            e @ StoreError::TaskBusy { .. } => ServiceError::TaskRunning(e.to_string()),
            e @ (StoreError::ExternalIdTaken(_)
            | StoreError::NotHeld { .. }
            | StoreError::HasActiveRuns) => ServiceError::Conflict(e.to_string()),
            StoreError::Transition(t) => ServiceError::Conflict(t.to_string()),
            e @ StoreError::Unavailable(_) => ServiceError::Unavailable(e.to_string()),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// What a put of a definition did.
pub enum Change {
    Created,
    Updated,
    Unchanged,
}

impl Change {
    fn record(self, report: &mut sluice_types::ApplyReport, label: String) {
        match self {
            Change::Created => report.created.push(label),
            Change::Updated => report.updated.push(label),
            Change::Unchanged => report.unchanged.push(label),
        }
    }
}

/// `field: message`, or just the message for a problem of the whole object (serde's path `.`).
fn at_path(path: &serde_path_to_error::Path, inner: &impl std::fmt::Display) -> String {
    let path = path.to_string();
    if path == "." {
        inner.to_string()
    } else {
        format!("{path}: {inner}")
    }
}

/// The application: shared by every request handler.
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub worker: WorkerHandle,
    pub default_org: Uuid,
    /// What the parts of this node tell each other: runs queued and ended, callbacks queued.
    pub events: Events,
    /// Where callbacks may go: built once at start-up, shared with the notifier.
    pub callback_policy: Arc<crate::notify::Policy>,
    /// Sign-in throttling and the audit log's bound on failures, on this node.
    pub signin: Arc<SigninState>,
    /// This node's metrics (`GET /metrics`).
    pub telemetry: crate::telemetry::Telemetry,
    /// Cancelled when the node begins to stop: long answers (the monitor's event streams) end
    /// then, so that HTTP shutdown does not wait on them.
    pub stopping: tokio_util::sync::CancellationToken,
}
