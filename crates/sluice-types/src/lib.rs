//! Request and response bodies of Sluice's native API (`/api/v1`), shared by the server, which
//! produces them, and the CLI, which consumes them. Field names are the API's contract.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

mod schedules;
pub use schedules::*;

/// Every error answer: a stable machine-readable `code` and a message for people.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Stable: `invalid_request`, `unauthorized`, `forbidden`, `not_found`, `conflict`,
    /// `task_running`, `invalid_definition`, `too_many_requests`, `internal`, ...
    pub code: String,
    pub message: String,
}

// --- auth ----------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub user: UserView,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewToken {
    /// A label for the token (e.g. the script that uses it).
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub username: String,
    pub org_id: Uuid,
    pub org_name: String,
    /// `monitor`, `operator`, `designer` or `admin`.
    pub role: String,
    /// Whether the role is `admin`.
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    /// The org's name; defaults to the caller's org. Only the default org's admins may name another.
    #[serde(default)]
    pub org: Option<String>,
    /// `monitor`, `operator`, `designer` (the default) or `admin`.
    #[serde(default)]
    pub role: Option<String>,
    /// The same as `role: admin` (kept for older clients).
    #[serde(default)]
    pub is_admin: bool,
}

/// A user's new role.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    /// `monitor`, `operator`, `designer` or `admin`.
    pub role: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewOrg {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrgView {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

// --- tasks ---------------------------------------------------------------------------------------

/// A task with its ids in every format the compatibility APIs use.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskView {
    /// The task's one stable id.
    pub id: Uuid,
    /// 20-character IICS-style task id (`taskId`).
    pub iics_task_id: String,
    /// 22-character IICS federated id (`taskFederatedId`).
    pub federated_id: String,
    /// Starfish job GUID (`jobID`).
    pub starfish_job_id: Uuid,
    /// Starfish project GUID (`projectID`): the task's folder.
    pub starfish_project_id: Uuid,
    pub folder: String,
    pub name: String,
    /// `folder/name`.
    pub path: String,
    /// IICS type code: MTT, DSS, DRS, DMASK, PCS, WORKFLOW, CODE.
    #[serde(rename = "type")]
    pub task_type: String,
    pub description: String,
    pub allow_parallel: bool,
    /// Tasks run after this one when a run asks for its chain (Starfish `chainJobs`).
    pub chain: Vec<String>,
    /// Default parameter values.
    pub parameters: BTreeMap<String, String>,
    /// The type-specific definition.
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
    /// The schedules the task runs on.
    #[serde(default)]
    pub schedules: Vec<TaskScheduleView>,
    /// refuse, queue, cancel_previous or skip.
    #[serde(default)]
    pub on_busy: String,
    #[serde(default)]
    pub retries: u32,
    #[serde(default)]
    pub retry_delay_secs: u64,
    #[serde(default)]
    pub retry_backoff: f64,
    /// `api`, or the definition file it was loaded from.
    pub origin: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A task's new inbound webhook key, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookKey {
    /// Send as the `X-Webhook-Key` header (or `key` query parameter) to `/v1/Webhook`.
    pub key: String,
    pub starfish_project_id: Uuid,
    pub starfish_job_id: Uuid,
}

/// A task to create or replace.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskInput {
    /// Defaults to `Default`.
    #[serde(default)]
    pub folder: Option<String>,
    pub name: String,
    #[serde(rename = "type")]
    pub task_type: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub allow_parallel: Option<bool>,
    /// Tasks run after this one when a run asks for its chain.
    #[serde(default)]
    pub chain: Vec<String>,
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
    /// The schedules the task runs on: names, or `{schedule, parameters}`.
    #[serde(default)]
    pub schedules: Vec<TaskScheduleInput>,
    /// A start while a run is active (tasks that may not run in parallel): `refuse` (default),
    /// `queue`, `cancel_previous`, or `skip` (schedule fires skipped quietly).
    #[serde(default)]
    pub on_busy: Option<String>,
    /// Retries of a failed run (default 0, at most 20).
    #[serde(default)]
    pub retries: Option<u32>,
    #[serde(default)]
    pub retry_delay_secs: Option<u64>,
    /// Each retry's delay is the one before times this (1 to 10; default 1).
    #[serde(default)]
    pub retry_backoff: Option<f64>,
}

fn one() -> u32 {
    1
}

// --- connections ---------------------------------------------------------------------------------

/// The result of testing a connection.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConnectionCheck {
    /// Whether the connection works.
    pub ok: bool,
    /// What answered (`PostgreSQL 15.4, database \`dw\``), or why it failed, in the server's words.
    pub message: String,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConnectionView {
    pub id: Uuid,
    pub name: String,
    /// files, postgres, mysql, sqlite.
    #[serde(rename = "type")]
    pub conn_type: String,
    pub description: String,
    /// Settings; a literal secret shows as `***`, an environment reference as `{"env": NAME}`.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    pub origin: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionInput {
    pub name: String,
    #[serde(rename = "type")]
    pub conn_type: String,
    #[serde(default)]
    pub description: Option<String>,
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
}

// --- definitions ---------------------------------------------------------------------------------

/// A set of definition files, as in a definitions directory.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Default)]
pub struct DefinitionBundle {
    pub files: Vec<DefinitionFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DefinitionFile {
    /// Relative path, `/`-separated: the folder path, then `<name>.toml`.
    pub path: String,
    pub content: String,
}

/// What applying a bundle did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Default)]
pub struct ApplyReport {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    /// One line per problem: `<file>: <field>: <message>`.
    pub errors: Vec<String>,
}

// --- runs ----------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    /// The task: its id (any format), `folder/name`, or its name when that is unique.
    pub task: String,
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// POSTed the run's final state when it ends; retried until it answers 200.
    #[serde(default)]
    pub callback_url: Option<String>,
    /// Your own id for the run, unique in your org; starting again with the same id and the same
    /// request returns the existing run.
    #[serde(default)]
    pub external_id: Option<String>,
    /// `api` (default) or `cli`.
    #[serde(default)]
    pub trigger: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct StopRun {
    /// `graceful` (default: finish the current batch, leave the target consistent) or `immediate`.
    #[serde(default)]
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, Default, PartialEq, Eq)]
pub struct CountersView {
    pub source_rows_read: u64,
    pub source_rows_failed: u64,
    pub target_rows_written: u64,
    pub target_rows_failed: u64,
    pub inserts: u64,
    pub updates: u64,
    pub deletes: u64,
    pub skipped: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunView {
    pub id: Uuid,
    /// Counts the task's runs from 1 (IICS `runId`).
    pub run_number: i64,
    pub external_id: Option<String>,
    pub task_id: Uuid,
    pub task_path: String,
    #[serde(rename = "task_type")]
    pub task_type: String,
    /// queued, starting, running, stopping, completed, completed_with_errors, failed, stopped.
    pub state: String,
    /// Whether the state is final.
    pub finished: bool,
    /// api, cli, schedule, taskflow.
    pub trigger: String,
    pub started_by: String,
    pub parameters: BTreeMap<String, String>,
    pub callback_url: Option<String>,
    pub stop_mode: Option<String>,
    pub stopped_by: Option<String>,
    pub error: Option<String>,
    pub counters: CountersView,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The node that claimed (and runs or ran) it; null while queued.
    #[serde(default)]
    pub node: Option<String>,
    /// The schedule whose fire made the run (trigger `schedule`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// When that fire was due (for a catch-up run, the latest missed fire it stands for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fire_at: Option<DateTime<Utc>>,
    /// 1 for a first run; N for the (N − 1)th retry of a failed run.
    #[serde(default = "one")]
    pub attempt: u32,
    /// The attempts the run may have in all (1 + the task's retries when it first ran).
    #[serde(default = "one")]
    pub attempts: u32,
    /// The failed run this one retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<Uuid>,
    /// The run's parts (a replication's tables), in order; empty for runs without parts. Filled in
    /// answers about one run (read, start, stop, wait, the native callback body); run lists leave
    /// it empty to stay cheap.
    #[serde(default)]
    pub children: Vec<RunChildView>,
    /// The Spark application of a `spark` code task, as last seen; absent for other runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spark: Option<SparkView>,
}

/// A Spark application's id, state and progress.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct SparkView {
    /// `app-...` on a standalone cluster, `local-...` in local mode; null until the driver says.
    pub app_id: Option<String>,
    pub app_name: Option<String>,
    /// The driver's web UI, while the application runs.
    pub ui_url: Option<String>,
    /// submitted, running, succeeded, failed, killed.
    pub state: String,
    /// Jobs started so far (Spark learns of a job only when it starts).
    pub jobs: TallyView,
    /// Stages of those jobs; skipped ones were not run because their output was reused.
    pub stages: TallyView,
    pub tasks: TallyView,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Counts of Spark jobs, stages or tasks.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, Default, PartialEq, Eq)]
pub struct TallyView {
    pub total: u64,
    pub completed: u64,
    pub active: u64,
    pub failed: u64,
    pub skipped: u64,
}

/// One part of a run (a replicated table).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunChildView {
    pub name: String,
    /// queued, running, completed, completed_with_errors, failed, stopped.
    pub state: String,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub counters: CountersView,
    pub error: Option<String>,
}

/// A run's callback: where it goes, how its delivery stands, and every attempt made.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CallbackView {
    pub id: Uuid,
    pub url: String,
    /// pending, delivered or failed (given up).
    pub state: String,
    pub attempts: i64,
    /// When the next attempt is due (while pending).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub attempt_log: Vec<AttemptView>,
}

/// One delivery attempt.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttemptView {
    pub number: i64,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// The receiver's HTTP status; absent when it never answered.
    pub status: Option<i64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunList {
    pub runs: Vec<RunView>,
    /// Pass as `before` to get the next (older) page; absent on the last page.
    pub next_before: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LogLineView {
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// debug, info, warn, error.
    pub level: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LogPage {
    pub lines: Vec<LogLineView>,
    /// Pass as `after` to read on from here.
    pub next_after: i64,
    /// Whether the run has ended (so no line will follow the last one).
    pub finished: bool,
}

// --- audit ---------------------------------------------------------------------------------------

/// One event of the audit log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEventView {
    /// The event's number: later events have larger ones.
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The org the event concerns; absent for a sign-in as a user name nobody has.
    pub org_id: Option<Uuid>,
    pub org_name: Option<String>,
    /// The signed-in user who acted, or `anonymous` (a failed sign-in).
    pub actor: String,
    /// `signin`, `signin.throttled`, `user.create`, `user.role`, `user.password`, `org.create`,
    /// `connection.create`, `connection.update`, `connection.delete`.
    pub action: String,
    /// What was acted on: a user name, an org or connection name.
    pub target: String,
    /// The client's address; absent for what the server did itself.
    pub client_addr: Option<String>,
    /// `native`, `iics_v2`, `iics_v3`, `starfish`, or `server` (configuration, at start-up).
    pub surface: String,
    /// `success`, `failure` (wrong password, unknown user) or `refused` (throttled).
    pub outcome: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditList {
    /// Newest first.
    pub events: Vec<AuditEventView>,
    /// Pass as `offset` to get the next (older) page; absent on the last page.
    pub next_offset: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub version: String,
}

/// Whether this node can do work now: its store answers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not ready`.
    pub status: String,
    /// This node's name.
    pub node: String,
    /// `ok`, or why the store did not answer.
    pub store: String,
}
