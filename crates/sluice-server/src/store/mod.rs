//! Persistence: one [`Store`] trait, implemented on SQLite (the embedded default) and checked by one
//! conformance suite that every implementation runs.
//!
//! The store makes the run lifecycle atomic: numbering runs, refusing a second active run of a
//! task that may not run in parallel, claiming queued runs, leases and their expiry, and writing a
//! run's end together with its callback in one transaction. What each step decides (the new
//! state, stop escalation, what an end writes, when a callback is queued) is the domain's
//! (`domain::lifecycle`); a backend loads the row, asks, and writes the answer. Errors are typed
//! per outcome ([`StoreError`]), so callers never read message text.

pub mod conformance;
mod firing;
pub mod lookup;
mod postgres;
mod rows;
pub mod seal;
pub mod secret_key;
mod sqlite;
mod tokens;
mod types;

pub use types::*;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// The states of a claimed run (held by a node under a lease), as an SQL list.
const CLAIMED: &str = "('starting', 'running', 'stopping')";
/// The states of an active run (queued or claimed), as an SQL list.
const ACTIVE: &str = "('queued', 'starting', 'running', 'stopping')";

use crate::domain::audit::AuditEvent;
use crate::domain::blackout::Blackout;
use crate::domain::lifecycle::Refusal;
use crate::domain::lifecycle::RunEnd;
use crate::domain::schedule::Schedule;
use crate::domain::spark::SparkProgress;
use crate::domain::{
    Connection, Counters, LogLevel, LogLine, NewLogLine, NewRun, Org, Role, Run, RunChild,
    RunEvent, RunState, StopMode, Task, User,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;
use uuid::Uuid;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    /// A name (or other unique value) an object of the same kind already has.
    #[error("{0}")]
    NameTaken(String),
    /// A run of a task that may not run in parallel was asked for while one is active.
    #[error("task `{task}` is already running (run {run_number}) and does not allow parallel runs")]
    TaskBusy { task: String, run_number: i64 },
    /// The org already has a run with this external id (two identical starts raced).
    #[error("a run with external id `{0}` exists")]
    ExternalIdTaken(String),
    /// A node wrote to a run it no longer holds: its lease ran out and the run was resolved.
    #[error("run {run} is not held by {node}; it was resolved elsewhere")]
    NotHeld { run: Uuid, node: String },
    /// A reference to an object that names none, or several (`lookup`).
    #[error("{0}")]
    BadReference(String),
    /// A task with active runs cannot be deleted.
    #[error("the task has active runs; stop them before deleting it")]
    HasActiveRuns,
    /// The run is not in a state where this can happen.
    #[error(transparent)]
    Transition(#[from] crate::domain::run::TransitionError),
    #[error("store: {0}")]
    Backend(sqlx::Error),
    /// The database does not answer now (down, restarting, out of connections): worth retrying.
    #[error("store unreachable: {0}")]
    Unavailable(sqlx::Error),
    #[error("store: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store: corrupt row: {0}")]
    Corrupt(String),
    /// A store URL of no backend this build has.
    #[error(
        "store URL `{0}`: expected sqlite://<path of the database file> or postgres://<user>:<password>@<host>/<database>"
    )]
    UnsupportedUrl(String),
    /// Another live node holds this node name on the store.
    #[error("another node named `{0}` is using this store; give each node its own `node_name`")]
    NodeNameTaken(String),
    /// A sealed secret does not open: the key is missing or wrong, or the row was altered.
    #[error("store: {0}")]
    Sealed(#[from] seal::SealError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_unavailable(&e) {
            StoreError::Unavailable(e)
        } else {
            StoreError::Backend(e)
        }
    }
}

/// Whether an error says the database cannot be reached now rather than that a statement
/// failed: no connection, a connection cut, a server shutting down or starting up.
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // SQLSTATE classes 08 (connection exception) and 57P (operator intervention: admin
        // shutdown, crash shutdown, cannot connect now).
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

impl From<Refusal> for StoreError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::TaskBusy { task, run_number } => StoreError::TaskBusy { task, run_number },
            Refusal::NotHeld { run, node } => StoreError::NotHeld { run, node },
            Refusal::Transition(t) => StoreError::Transition(t),
        }
    }
}

/// Opens the store a URL names, bringing its schema up to date and sealing secrets with the
/// keyring: `sqlite:///var/lib/sluice/sluice.db` (or `sqlite:relative/path.db`) for the embedded
/// store, `postgres://user:password@host/database` for the store several nodes share.
pub async fn open(url: &str, keyring: seal::Keyring) -> Result<std::sync::Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PgStore::open(url, keyring).await?;
        return Ok(std::sync::Arc::new(store));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .filter(|p| !p.is_empty())
        .ok_or_else(|| StoreError::UnsupportedUrl(redacted(url)))?;
    let store = SqliteStore::open(std::path::Path::new(path), keyring).await?;
    Ok(std::sync::Arc::new(store))
}

/// A store URL fit for logs and messages: any password replaced by `***`.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_string(),
        // Not a URL at all, but it may still hold a secret before an `@`.
        Err(_) if url.contains('@') => "<a store URL that does not parse>".to_string(),
        Err(_) => url.to_string(),
    }
}

/// Now, to the microsecond: the precision both backends keep, so what a call answers is what a
/// later read finds.
fn now_micros() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// Times store operations for the node's metrics, once the node hands it its telemetry (shared
/// by the clones of a store).
#[derive(Default, Clone)]
pub(crate) struct Meter(std::sync::Arc<std::sync::OnceLock<crate::telemetry::Telemetry>>);

impl Meter {
    fn observe(&self, telemetry: crate::telemetry::Telemetry) {
        let _ = self.0.set(telemetry);
    }

    async fn time<T>(&self, op: &'static str, work: impl std::future::Future<Output = T>) -> T {
        let Some(telemetry) = self.0.get() else {
            return work.await;
        };
        let started = std::time::Instant::now();
        let out = work.await;
        telemetry.store_query(op, started.elapsed());
        out
    }
}

/// The versions of `migrator`'s migrations missing from `applied`: a database a node of an older
/// build migrated, or one whose migrations a failed start left half done.
fn missing_migrations(migrator: &sqlx::migrate::Migrator, applied: &[i64]) -> Vec<i64> {
    migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| m.version)
        .filter(|v| !applied.contains(v))
        .collect()
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Hands the store the node's metrics, to time each operation with.
    fn observe(&self, telemetry: crate::telemetry::Telemetry);

    /// Migrations this build has that the database has not applied: empty when the schema is
    /// the one this build expects (readiness).
    async fn pending_migrations(&self) -> Result<Vec<i64>>;

    /// Lets go of every connection (writing out what is buffered); the store is not used after.
    async fn close(&self);

    /// Whether the store answers now (readiness).
    async fn ping(&self) -> Result<()>;

    /// Holds `node` as this process's name among the nodes sharing the store, until the answer
    /// is dropped or the process dies; refuses (`NodeNameTaken`) a name a live node holds, since
    /// two nodes of one name would each take the other's runs for their own.
    async fn hold_node_name(&self, node: &str) -> Result<NodeHold>;

    /// Wake-ups for work other processes put in the store, as they commit; `None` for a store
    /// only this process writes (or one that cannot tell: its nodes poll).
    fn watch(&self) -> Option<tokio::sync::mpsc::Receiver<Wake>>;

    // --- identity -------------------------------------------------------------------------
    /// The org with this name, created when missing.
    async fn ensure_org(&self, id: Uuid, name: &str) -> Result<Org>;
    async fn create_org(&self, name: &str) -> Result<Org>;
    async fn list_orgs(&self) -> Result<Vec<Org>>;
    async fn create_user(
        &self,
        org_id: Uuid,
        username: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<User>;
    /// Gives a user of `org_id` another role; answers the user as now stored.
    async fn set_user_role(&self, org_id: Uuid, user_id: Uuid, role: Role) -> Result<User>;
    async fn set_password(&self, user_id: Uuid, password_hash: &str) -> Result<()>;
    /// A user and their password hash, by user name (user names are global: login takes no org).
    async fn user_credentials(&self, username: &str) -> Result<Option<(User, String)>>;
    async fn list_users(&self, org_id: Uuid) -> Result<Vec<User>>;
    async fn create_token(&self, token: &NewToken<'_>) -> Result<()>;
    /// The user a token belongs to, if it exists and has not expired at `now`, with the time it
    /// now expires. Using a token with an idle limit moves its idle expiry forward.
    async fn user_for_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(User, Option<DateTime<Utc>>)>>;
    /// Forgets a token; answers whether it existed.
    async fn revoke_token(&self, token_hash: &str) -> Result<bool>;
    /// Forgets every token of a user named `name` (e.g. all its sessions); answers how many.
    async fn revoke_user_tokens(&self, user_id: Uuid, name: &str) -> Result<u64>;

    // --- tasks ----------------------------------------------------------------------------
    /// Creates a task; a task with the same org, folder and name is a conflict.
    async fn create_task(&self, task: &Task) -> Result<()>;
    /// Replaces a task's definition (by id).
    async fn update_task(&self, task: &Task) -> Result<()>;
    async fn delete_task(&self, org_id: Uuid, id: Uuid) -> Result<()>;
    async fn get_task(&self, org_id: Uuid, id: Uuid) -> Result<Option<Task>>;
    /// A task whatever its org (a webhook key names its task before anything says the org).
    async fn get_task_any_org(&self, id: Uuid) -> Result<Option<Task>>;
    async fn get_task_by_short_id(&self, org_id: Uuid, short_id: &str) -> Result<Option<Task>>;
    async fn get_task_by_path(
        &self,
        org_id: Uuid,
        folder: &str,
        name: &str,
    ) -> Result<Option<Task>>;
    async fn list_tasks(&self, org_id: Uuid, filter: &TaskFilter) -> Result<Vec<Task>>;

    // --- connections ----------------------------------------------------------------------
    async fn create_connection(&self, conn: &Connection) -> Result<()>;
    async fn update_connection(&self, conn: &Connection) -> Result<()>;
    async fn delete_connection(&self, org_id: Uuid, id: Uuid) -> Result<()>;
    async fn get_connection(&self, org_id: Uuid, id: Uuid) -> Result<Option<Connection>>;
    async fn get_connection_by_name(&self, org_id: Uuid, name: &str) -> Result<Option<Connection>>;
    async fn list_connections(&self, org_id: Uuid) -> Result<Vec<Connection>>;

    // --- runs -----------------------------------------------------------------------------
    /// Queues a run of `task`, numbering it. Refuses (TaskBusy) a run of a task that may not run
    /// in parallel while another of its runs is active, and an external id already used in the org.
    /// `now` is its creation time.
    async fn create_run(&self, task: &Task, new: NewRun, now: DateTime<Utc>) -> Result<Run>;
    async fn get_run(&self, org_id: Uuid, id: Uuid) -> Result<Option<Run>>;
    /// A run whatever its org (for internal use: callbacks, workers).
    async fn get_run_any_org(&self, id: Uuid) -> Result<Option<Run>>;
    async fn get_run_by_external_id(&self, org_id: Uuid, external_id: &str) -> Result<Option<Run>>;
    async fn get_run_by_number(&self, task_id: Uuid, run_number: i64) -> Result<Option<Run>>;
    async fn list_runs(&self, org_id: Uuid, filter: &RunFilter) -> Result<Vec<Run>>;
    /// How many runs of the org the filter selects, by state (its states and paging aside).
    async fn count_runs(&self, org_id: Uuid, filter: &RunFilter) -> Result<Vec<(RunState, i64)>>;
    /// The newest run of each of the org's tasks that has run (the monitor's task tree), in one
    /// read whatever the number of tasks.
    async fn latest_runs(&self, org_id: Uuid) -> Result<Vec<Run>>;
    /// Unfinished runs of every org, by state (the queue, for metrics).
    async fn count_active_runs(&self) -> Result<Vec<(RunState, i64)>>;
    /// Atomically moves up to `limit` of the oldest queued runs to `starting`, held by `node` for
    /// `lease` from `now` (the caller's clock, so tests can move it), in one write; oldest first.
    async fn claim_runs(
        &self,
        node: &str,
        lease: Duration,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Run>>;
    /// Claims the oldest queued run, if any ([`Store::claim_runs`] with a limit of one).
    async fn claim_run(
        &self,
        node: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Run>> {
        Ok(self.claim_runs(node, lease, now, 1).await?.pop())
    }
    /// `starting` to `running`.
    async fn begin_run(&self, id: Uuid, node: &str) -> Result<Run>;
    /// Renews the lease (to `now` + `lease`) and saves the counters so far.
    async fn heartbeat(
        &self,
        id: Uuid,
        node: &str,
        lease: Duration,
        counters: Counters,
        now: DateTime<Utc>,
    ) -> Result<Heartbeat>;
    /// Asks a run to stop. A queued run ends `stopped` at once; a claimed one becomes `stopping`
    /// and its worker brings it to a halt. The decisions are the domain's
    /// ([`crate::domain::lifecycle::request_stop`]); `now` is the end of a run stopped at once.
    async fn request_stop(
        &self,
        org_id: Uuid,
        id: Uuid,
        mode: StopMode,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Run>;
    /// Ends a claimed run held by `node`, and queues its callback (if any) in the same transaction.
    /// The callback's body is made when it is delivered, from the ended run. `now` is its end.
    async fn finish_run(
        &self,
        id: Uuid,
        node: &str,
        end: RunEnd,
        now: DateTime<Utc>,
    ) -> Result<Run>;
    /// Fails every claimed run whose lease expired before `now`, or (with `node`) that `node`
    /// holds, whatever its lease: a restarted node's old runs are dead. Their callbacks are queued.
    async fn resolve_lost_runs(
        &self,
        now: DateTime<Utc>,
        node: Option<&str>,
        reason: &str,
    ) -> Result<Vec<Run>>;

    /// Forgets up to `limit` runs that ended before `before` (oldest first), with their logs,
    /// children, callbacks and attempts, in one short transaction; answers their ids.
    async fn purge_runs(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<Uuid>>;

    // --- logs -----------------------------------------------------------------------------
    async fn append_log(&self, run_id: Uuid, lines: &[NewLogLine]) -> Result<()>;
    /// Lines after `after_seq` at `min_level` or above, oldest first.
    async fn read_log(
        &self,
        run_id: Uuid,
        after_seq: i64,
        min_level: LogLevel,
        limit: i64,
    ) -> Result<Vec<LogLine>>;
    /// The lines of a run's log a search selects, oldest first.
    async fn search_log(&self, run_id: Uuid, search: &LogSearch) -> Result<Vec<LogLine>>;

    // --- run files ------------------------------------------------------------------------
    /// Keeps chunk `chunk` (from 0) of a file a run left (its rejected rows), replacing one of
    /// the same number: in the store, every node can serve it.
    async fn put_run_file_chunk(
        &self,
        run_id: Uuid,
        name: &str,
        chunk: i64,
        data: &[u8],
    ) -> Result<()>;
    /// The files a run keeps, by name, each with its number of chunks.
    async fn list_run_files(&self, run_id: Uuid) -> Result<Vec<(String, i64)>>;
    async fn read_run_file_chunk(
        &self,
        run_id: Uuid,
        name: &str,
        chunk: i64,
    ) -> Result<Option<Vec<u8>>>;

    // --- children -------------------------------------------------------------------------
    /// Inserts or replaces a run's child by its `seq`.
    async fn put_run_child(&self, child: &RunChild) -> Result<()>;
    /// A run's children in `seq` order.
    async fn list_run_children(&self, run_id: Uuid) -> Result<Vec<RunChild>>;
    /// Keeps the progress of a run's Spark application, if `node` holds the run (a run that
    /// ended or moved to another node keeps what it has). Answers whether it was kept.
    async fn set_spark_progress(
        &self,
        run_id: Uuid,
        node: &str,
        progress: &SparkProgress,
    ) -> Result<bool>;

    // --- high-water marks -----------------------------------------------------------------
    /// The high-water mark kept for `object` of a task.
    async fn get_watermark(&self, task_id: Uuid, object: &str) -> Result<Option<String>>;
    /// Keeps a high-water mark (replacing the previous one), noting the run that set it.
    async fn set_watermark(
        &self,
        task_id: Uuid,
        object: &str,
        value: &str,
        run_id: Uuid,
    ) -> Result<()>;
    /// Forgets every high-water mark of a task, so its next incremental run starts from the
    /// beginning (a full reload resets them). Answers how many there were.
    async fn clear_watermarks(&self, task_id: Uuid) -> Result<u64>;

    // --- webhook keys ---------------------------------------------------------------------
    /// Keeps the hash of a task's new webhook key, replacing any earlier one.
    async fn set_webhook_key(&self, task_id: Uuid, key_hash: &str) -> Result<()>;
    /// Whether `key_hash` is the task's current webhook key.
    async fn webhook_key_matches(&self, task_id: Uuid, key_hash: &str) -> Result<bool>;

    // --- audit log ------------------------------------------------------------------------
    /// Keeps an event; answers its number (each event's is larger than those kept before it).
    async fn append_audit(&self, event: &AuditEvent) -> Result<i64>;
    /// Events matching `filter`, newest first (by time, then by number).
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<(i64, AuditEvent)>>;

    // --- schedules ------------------------------------------------------------------------
    /// Creates a schedule; a name the org already uses is a conflict.
    async fn create_schedule(&self, schedule: &Schedule) -> Result<()>;
    /// Replaces a schedule (by id), its next fire included.
    async fn update_schedule(&self, schedule: &Schedule) -> Result<()>;
    /// Forgets a schedule: its fires stop; the runs it made stay.
    async fn delete_schedule(&self, org_id: Uuid, id: Uuid) -> Result<()>;
    /// An org's schedules, by name; only the one with `id` or `name` when given.
    async fn find_schedules(
        &self,
        org_id: Uuid,
        id: Option<Uuid>,
        name: Option<&str>,
    ) -> Result<Vec<Schedule>>;
    /// Makes the fires of up to `limit` schedules due at `now`, each in the transaction that
    /// moves the schedule to its next fire: one run per task naming it per fire, never two
    /// (a run is keyed by task, schedule and fire time), whatever the number of nodes firing.
    async fn fire_schedules(&self, now: DateTime<Utc>, limit: i64) -> Result<Fired>;
    /// Makes the given fires of a schedule now (a backfill): one run per task naming it per fire,
    /// leaving fires already made; the schedule's next fire does not move.
    async fn backfill_schedule(
        &self,
        schedule: &Schedule,
        fires: &[DateTime<Utc>],
        now: DateTime<Utc>,
    ) -> Result<Fired>;
    /// The earliest next fire of a schedule that is not paused.
    async fn next_schedule_fire(&self) -> Result<Option<DateTime<Utc>>>;
    /// Creates or replaces (by id) a blackout period; a name the org already uses is a conflict.
    async fn put_blackout(&self, blackout: &Blackout) -> Result<()>;
    async fn delete_blackout(&self, org_id: Uuid, id: Uuid) -> Result<()>;
    async fn list_blackouts(&self, org_id: Uuid) -> Result<Vec<Blackout>>;

    // --- callbacks ------------------------------------------------------------------------
    /// Claims up to `limit` callbacks due at `now` for `node` until `now + lease`, oldest due
    /// first; a callback claimed by a node that died is claimable again once its claim expires.
    async fn claim_callbacks(
        &self,
        node: &str,
        now: DateTime<Utc>,
        limit: i64,
        lease: Duration,
    ) -> Result<Vec<Callback>>;
    /// Drops every claim `node` holds (a restarted node's attempts in flight died with it).
    async fn release_callbacks(&self, node: &str) -> Result<u64>;
    /// The earliest time a pending callback is due, if any.
    async fn next_callback_due(&self) -> Result<Option<DateTime<Utc>>>;
    /// Keeps an attempt and its outcome, and drops the claim, in one transaction.
    async fn record_delivery(&self, id: Uuid, attempt: &Attempt, delivery: Delivery) -> Result<()>;
    async fn get_callback(&self, id: Uuid) -> Result<Option<Callback>>;
    /// A run's callbacks, each with every attempt made, oldest first.
    async fn list_callbacks(&self, run_id: Uuid) -> Result<Vec<(Callback, Vec<Attempt>)>>;
    /// Sends a callback again from `now`: pending, with a new round of the schedule, whatever
    /// its state (a delivered one is delivered once more).
    async fn resend_callback(&self, id: Uuid, now: DateTime<Utc>) -> Result<Callback>;
}
