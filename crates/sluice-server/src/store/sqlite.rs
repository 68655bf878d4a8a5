//! The embedded store on SQLite (WAL). All writes go through one connection, so transactions never
//! race each other for the write lock; reads use a small pool of their own.

use super::sqlite_rows::{self as rows, from_micros, is_unique_violation, micros};
use super::*;
use crate::domain::{RunChild, Trigger};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use std::path::Path;
use std::str::FromStr;

#[derive(Clone)]
pub struct SqliteStore {
    write: SqlitePool,
    read: SqlitePool,
}

const CLAIMED: &str = "('starting', 'running', 'stopping')";
const ACTIVE: &str = "('queued', 'starting', 'running', 'stopping')";

impl SqliteStore {
    pub(super) fn writer(&self) -> &SqlitePool {
        &self.write
    }
    pub(super) fn reader(&self) -> &SqlitePool {
        &self.read
    }

    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL is durable across a process crash (kill -9); only an OS crash or
            // power loss can lose the last commits. See ARCHITECTURE.md.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(10))
            .foreign_keys(true);
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore { write, read })
    }

    async fn run_in(tx: &mut Transaction<'_, Sqlite>, id: Uuid) -> Result<Run> {
        let row = sqlx::query("SELECT * FROM runs WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("run {id}")))?;
        rows::run(&row)
    }

    /// Writes every mutable field of a run back.
    async fn save_run(tx: &mut Transaction<'_, Sqlite>, run: &Run) -> Result<()> {
        let c = &run.counters;
        sqlx::query(
            "UPDATE runs SET state = ?, stop_mode = ?, stopped_by = ?, error = ?,
                source_rows_read = ?, source_rows_failed = ?, target_rows_written = ?,
                target_rows_failed = ?, inserts = ?, updates = ?, deletes = ?, skipped = ?,
                started_at = ?, ended_at = ?, lease_owner = ?, lease_expires_at = ?
             WHERE id = ?",
        )
        .bind(run.state.as_str())
        .bind(run.stop_mode.map(|m| m.as_str()))
        .bind(&run.stopped_by)
        .bind(&run.error)
        .bind(c.source_rows_read as i64)
        .bind(c.source_rows_failed as i64)
        .bind(c.target_rows_written as i64)
        .bind(c.target_rows_failed as i64)
        .bind(c.inserts as i64)
        .bind(c.updates as i64)
        .bind(c.deletes as i64)
        .bind(c.skipped as i64)
        .bind(run.started_at.map(micros))
        .bind(run.ended_at.map(micros))
        .bind(&run.lease_owner)
        .bind(run.lease_expires_at.map(micros))
        .bind(run.id.to_string())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Marks a run ended (clearing its lease) and queues its callback, inside `tx`.
    async fn end_in(tx: &mut Transaction<'_, Sqlite>, run: &mut Run) -> Result<()> {
        let now = Utc::now();
        run.ended_at = Some(now);
        run.lease_owner = None;
        run.lease_expires_at = None;
        Self::save_run(tx, run).await?;
        if let Some(url) = &run.callback_url {
            sqlx::query(
                "INSERT INTO callbacks (id, run_id, url, state, next_attempt_at, created_at)
                 VALUES (?, ?, ?, 'pending', ?, ?)",
            )
            .bind(Uuid::now_v7().to_string())
            .bind(run.id.to_string())
            .bind(url)
            .bind(micros(now))
            .bind(micros(now))
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    async fn one_task(&self, sql: &str, binds: &[&str]) -> Result<Option<Task>> {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        q.fetch_optional(&self.read)
            .await?
            .map(|r| rows::task(&r))
            .transpose()
    }

    async fn one_run(&self, sql: &str, binds: &[String]) -> Result<Option<Run>> {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(b);
        }
        q.fetch_optional(&self.read)
            .await?
            .map(|r| rows::run(&r))
            .transpose()
    }
}

fn json_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain types serialize")
}

fn conflict_on_unique(e: sqlx::Error, msg: impl FnOnce() -> String) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict(msg())
    } else {
        StoreError::Backend(e)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ensure_org(&self, id: Uuid, name: &str) -> Result<Org> {
        sqlx::query(
            "INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(id.to_string())
        .bind(name)
        .bind(micros(Utc::now()))
        .execute(&self.write)
        .await?;
        let row = sqlx::query("SELECT * FROM orgs WHERE name = ?")
            .bind(name)
            .fetch_one(&self.write)
            .await?;
        rows::org(&row)
    }

    async fn create_org(&self, name: &str) -> Result<Org> {
        let org = Org {
            id: Uuid::now_v7(),
            name: name.to_string(),
            created_at: Utc::now(),
        };
        sqlx::query("INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)")
            .bind(org.id.to_string())
            .bind(&org.name)
            .bind(micros(org.created_at))
            .execute(&self.write)
            .await
            .map_err(|e| conflict_on_unique(e, || format!("an org named `{name}` exists")))?;
        Ok(org)
    }

    async fn list_orgs(&self) -> Result<Vec<Org>> {
        sqlx::query("SELECT * FROM orgs ORDER BY name")
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(rows::org)
            .collect()
    }

    async fn create_user(
        &self,
        org_id: Uuid,
        username: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> Result<User> {
        let user = User {
            id: Uuid::now_v7(),
            org_id,
            username: username.to_string(),
            is_admin,
            created_at: Utc::now(),
        };
        sqlx::query(
            "INSERT INTO users (id, org_id, username, password_hash, is_admin, created_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(user.id.to_string())
        .bind(org_id.to_string())
        .bind(username)
        .bind(password_hash)
        .bind(is_admin)
        .bind(micros(user.created_at))
        .execute(&self.write)
        .await
        .map_err(|e| conflict_on_unique(e, || format!("a user named `{username}` exists")))?;
        Ok(user)
    }

    async fn set_password(&self, user_id: Uuid, password_hash: &str) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(user_id.to_string())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn user_credentials(&self, username: &str) -> Result<Option<(User, String)>> {
        let Some(row) = sqlx::query("SELECT * FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.write)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some((rows::user(&row)?, row.try_get("password_hash")?)))
    }

    async fn list_users(&self, org_id: Uuid) -> Result<Vec<User>> {
        sqlx::query("SELECT * FROM users WHERE org_id = ? ORDER BY username")
            .bind(org_id.to_string())
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(rows::user)
            .collect()
    }

    async fn create_token(
        &self,
        user_id: Uuid,
        token_hash: &str,
        name: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_tokens (token_hash, user_id, name, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(user_id.to_string())
        .bind(name)
        .bind(micros(Utc::now()))
        .bind(expires_at.map(micros))
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn user_for_token(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<User>> {
        sqlx::query(
            "SELECT u.* FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = ? AND (t.expires_at IS NULL OR t.expires_at > ?)",
        )
        .bind(token_hash)
        .bind(micros(now))
        .fetch_optional(&self.read)
        .await?
        .map(|r| rows::user(&r))
        .transpose()
    }

    async fn create_task(&self, t: &Task) -> Result<()> {
        sqlx::query(
            "INSERT INTO tasks (id, org_id, short_id, folder, name, task_type, description,
                allow_parallel, parameters, definition, origin, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(t.id.to_string())
        .bind(t.org_id.to_string())
        .bind(t.short_id())
        .bind(&t.folder)
        .bind(&t.name)
        .bind(t.task_type.code())
        .bind(&t.description)
        .bind(t.allow_parallel)
        .bind(json_text(&t.parameters))
        .bind(json_text(&t.definition))
        .bind(json_text(&t.origin))
        .bind(micros(t.created_at))
        .bind(micros(t.updated_at))
        .execute(&self.write)
        .await
        .map_err(|e| {
            conflict_on_unique(e, || {
                format!("a task named `{}` exists in folder `{}`", t.name, t.folder)
            })
        })?;
        Ok(())
    }

    async fn update_task(&self, t: &Task) -> Result<()> {
        let done = sqlx::query(
            "UPDATE tasks SET folder = ?, name = ?, task_type = ?, description = ?,
                allow_parallel = ?, parameters = ?, definition = ?, origin = ?, updated_at = ?
             WHERE id = ? AND org_id = ?",
        )
        .bind(&t.folder)
        .bind(&t.name)
        .bind(t.task_type.code())
        .bind(&t.description)
        .bind(t.allow_parallel)
        .bind(json_text(&t.parameters))
        .bind(json_text(&t.definition))
        .bind(json_text(&t.origin))
        .bind(micros(t.updated_at))
        .bind(t.id.to_string())
        .bind(t.org_id.to_string())
        .execute(&self.write)
        .await
        .map_err(|e| {
            conflict_on_unique(e, || {
                format!("a task named `{}` exists in folder `{}`", t.name, t.folder)
            })
        })?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("task {}", t.id)));
        }
        Ok(())
    }

    async fn delete_task(&self, org_id: Uuid, id: Uuid) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let active: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM runs WHERE task_id = ? AND state IN {ACTIVE}"
        ))
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await?;
        if active > 0 {
            return Err(StoreError::Conflict(
                "the task has active runs; stop them before deleting it".into(),
            ));
        }
        let done = sqlx::query("DELETE FROM tasks WHERE id = ? AND org_id = ?")
            .bind(id.to_string())
            .bind(org_id.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("task {id}")));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_task(&self, org_id: Uuid, id: Uuid) -> Result<Option<Task>> {
        self.one_task(
            "SELECT * FROM tasks WHERE id = ? AND org_id = ?",
            &[&id.to_string(), &org_id.to_string()],
        )
        .await
    }

    async fn get_task_by_short_id(&self, org_id: Uuid, short_id: &str) -> Result<Option<Task>> {
        self.one_task(
            "SELECT * FROM tasks WHERE short_id = ? AND org_id = ?",
            &[short_id, &org_id.to_string()],
        )
        .await
    }

    async fn get_task_by_path(
        &self,
        org_id: Uuid,
        folder: &str,
        name: &str,
    ) -> Result<Option<Task>> {
        self.one_task(
            "SELECT * FROM tasks WHERE org_id = ? AND folder = ? AND name = ?",
            &[&org_id.to_string(), folder, name],
        )
        .await
    }

    async fn list_tasks(&self, org_id: Uuid, f: &TaskFilter) -> Result<Vec<Task>> {
        sqlx::query(
            "SELECT * FROM tasks WHERE org_id = ?
               AND (?2 IS NULL OR folder = ?2) AND (?3 IS NULL OR name = ?3)
               AND (?4 IS NULL OR task_type = ?4)
             ORDER BY folder, name",
        )
        .bind(org_id.to_string())
        .bind(&f.folder)
        .bind(&f.name)
        .bind(f.task_type.map(|t| t.code()))
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(rows::task)
        .collect()
    }

    async fn create_connection(&self, c: &Connection) -> Result<()> {
        sqlx::query(
            "INSERT INTO connections (id, org_id, name, conn_type, description, config, origin,
                created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(c.id.to_string())
        .bind(c.org_id.to_string())
        .bind(&c.name)
        .bind(c.conn_type.as_str())
        .bind(&c.description)
        .bind(json_text(&c.config))
        .bind(json_text(&c.origin))
        .bind(micros(c.created_at))
        .bind(micros(c.updated_at))
        .execute(&self.write)
        .await
        .map_err(|e| conflict_on_unique(e, || format!("a connection named `{}` exists", c.name)))?;
        Ok(())
    }

    async fn update_connection(&self, c: &Connection) -> Result<()> {
        let done = sqlx::query(
            "UPDATE connections SET name = ?, conn_type = ?, description = ?, config = ?,
                origin = ?, updated_at = ?
             WHERE id = ? AND org_id = ?",
        )
        .bind(&c.name)
        .bind(c.conn_type.as_str())
        .bind(&c.description)
        .bind(json_text(&c.config))
        .bind(json_text(&c.origin))
        .bind(micros(c.updated_at))
        .bind(c.id.to_string())
        .bind(c.org_id.to_string())
        .execute(&self.write)
        .await
        .map_err(|e| conflict_on_unique(e, || format!("a connection named `{}` exists", c.name)))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("connection {}", c.id)));
        }
        Ok(())
    }

    async fn delete_connection(&self, org_id: Uuid, id: Uuid) -> Result<()> {
        let done = sqlx::query("DELETE FROM connections WHERE id = ? AND org_id = ?")
            .bind(id.to_string())
            .bind(org_id.to_string())
            .execute(&self.write)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("connection {id}")));
        }
        Ok(())
    }

    async fn get_connection(&self, org_id: Uuid, id: Uuid) -> Result<Option<Connection>> {
        sqlx::query("SELECT * FROM connections WHERE id = ? AND org_id = ?")
            .bind(id.to_string())
            .bind(org_id.to_string())
            .fetch_optional(&self.read)
            .await?
            .map(|r| rows::connection(&r))
            .transpose()
    }

    async fn get_connection_by_name(&self, org_id: Uuid, name: &str) -> Result<Option<Connection>> {
        sqlx::query("SELECT * FROM connections WHERE name = ? AND org_id = ?")
            .bind(name)
            .bind(org_id.to_string())
            .fetch_optional(&self.read)
            .await?
            .map(|r| rows::connection(&r))
            .transpose()
    }

    async fn list_connections(&self, org_id: Uuid) -> Result<Vec<Connection>> {
        sqlx::query("SELECT * FROM connections WHERE org_id = ? ORDER BY name")
            .bind(org_id.to_string())
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(rows::connection)
            .collect()
    }

    async fn create_run(&self, task: &Task, new: NewRun) -> Result<Run> {
        let mut tx = self.write.begin().await?;
        let row = sqlx::query("SELECT next_run_number, allow_parallel FROM tasks WHERE id = ?")
            .bind(task.id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("task {}", task.id)))?;
        let run_number: i64 = row.try_get("next_run_number")?;
        let allow_parallel: bool = row.try_get("allow_parallel")?;
        if !allow_parallel {
            let active: Option<i64> = sqlx::query_scalar(&format!(
                "SELECT run_number FROM runs WHERE task_id = ? AND state IN {ACTIVE} LIMIT 1"
            ))
            .bind(task.id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(n) = active {
                return Err(StoreError::Conflict(format!(
                    "task `{}` is already running (run {n}) and does not allow parallel runs",
                    task.path()
                )));
            }
        }
        let run = Run {
            id: Uuid::now_v7(),
            org_id: task.org_id,
            task_id: task.id,
            run_number,
            external_id: new.external_id,
            trigger: new.trigger.unwrap_or(Trigger::Api),
            started_by: new.started_by,
            parameters: new.parameters,
            callback_url: new.callback_url,
            state: RunState::Queued,
            stop_mode: None,
            stopped_by: None,
            error: None,
            counters: Counters::default(),
            created_at: Utc::now(),
            started_at: None,
            ended_at: None,
            lease_owner: None,
            lease_expires_at: None,
        };
        sqlx::query(
            "INSERT INTO runs (id, org_id, task_id, run_number, external_id, trigger, started_by,
                parameters, callback_url, state, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(run.id.to_string())
        .bind(run.org_id.to_string())
        .bind(run.task_id.to_string())
        .bind(run.run_number)
        .bind(&run.external_id)
        .bind(run.trigger.as_str())
        .bind(&run.started_by)
        .bind(json_text(&run.parameters))
        .bind(&run.callback_url)
        .bind(run.state.as_str())
        .bind(micros(run.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            conflict_on_unique(e, || {
                format!(
                    "a run with external id `{}` exists",
                    run.external_id.as_deref().unwrap_or_default()
                )
            })
        })?;
        sqlx::query("UPDATE tasks SET next_run_number = next_run_number + 1 WHERE id = ?")
            .bind(task.id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(run)
    }

    async fn get_run(&self, org_id: Uuid, id: Uuid) -> Result<Option<Run>> {
        self.one_run(
            "SELECT * FROM runs WHERE id = ? AND org_id = ?",
            &[id.to_string(), org_id.to_string()],
        )
        .await
    }

    async fn get_run_any_org(&self, id: Uuid) -> Result<Option<Run>> {
        self.one_run("SELECT * FROM runs WHERE id = ?", &[id.to_string()])
            .await
    }

    async fn get_run_by_external_id(&self, org_id: Uuid, external_id: &str) -> Result<Option<Run>> {
        self.one_run(
            "SELECT * FROM runs WHERE external_id = ? AND org_id = ?",
            &[external_id.to_string(), org_id.to_string()],
        )
        .await
    }

    async fn get_run_by_number(&self, task_id: Uuid, run_number: i64) -> Result<Option<Run>> {
        self.one_run(
            "SELECT * FROM runs WHERE task_id = ? AND run_number = ?",
            &[task_id.to_string(), run_number.to_string()],
        )
        .await
    }

    async fn list_runs(&self, org_id: Uuid, f: &RunFilter) -> Result<Vec<Run>> {
        let states = if f.states.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = f
                .states
                .iter()
                .map(|s| format!("'{}'", s.as_str()))
                .collect();
            format!("AND state IN ({})", list.join(", "))
        };
        let sql = format!(
            "SELECT * FROM runs WHERE org_id = ?1 AND (?2 IS NULL OR task_id = ?2)
               AND (?3 IS NULL OR id < ?3) {states}
             ORDER BY id DESC LIMIT ?4"
        );
        sqlx::query(&sql)
            .bind(org_id.to_string())
            .bind(f.task_id.map(|t| t.to_string()))
            .bind(f.before.map(|t| t.to_string()))
            .bind(if f.limit > 0 { f.limit } else { 100 })
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(rows::run)
            .collect()
    }

    async fn claim_run(&self, node: &str, lease: Duration) -> Result<Option<Run>> {
        let now = Utc::now();
        let expires = now + lease;
        sqlx::query(
            "UPDATE runs SET state = 'starting', lease_owner = ?, lease_expires_at = ?, started_at = ?
             WHERE id = (SELECT id FROM runs WHERE state = 'queued' ORDER BY id LIMIT 1)
             RETURNING *",
        )
        .bind(node)
        .bind(micros(expires))
        .bind(micros(now))
        .fetch_optional(&self.write)
        .await?
        .map(|r| rows::run(&r))
        .transpose()
    }

    async fn begin_run(&self, id: Uuid, node: &str) -> Result<Run> {
        let mut tx = self.write.begin().await?;
        let mut run = Self::run_in(&mut tx, id).await?;
        if run.lease_owner.as_deref() != Some(node) {
            return Err(StoreError::Conflict(format!(
                "run {id} is not held by {node}"
            )));
        }
        // A stop that arrived while the run was starting keeps it stopping.
        if run.state != RunState::Stopping {
            run.state = run.state.apply(RunEvent::Begin)?;
        }
        Self::save_run(&mut tx, &run).await?;
        tx.commit().await?;
        Ok(run)
    }

    async fn heartbeat(
        &self,
        id: Uuid,
        node: &str,
        lease: Duration,
        c: Counters,
    ) -> Result<Heartbeat> {
        let row = sqlx::query(&format!(
            "UPDATE runs SET lease_expires_at = ?, source_rows_read = ?, source_rows_failed = ?,
                target_rows_written = ?, target_rows_failed = ?, inserts = ?, updates = ?,
                deletes = ?, skipped = ?
             WHERE id = ? AND lease_owner = ? AND state IN {CLAIMED}
             RETURNING stop_mode"
        ))
        .bind(micros(Utc::now() + lease))
        .bind(c.source_rows_read as i64)
        .bind(c.source_rows_failed as i64)
        .bind(c.target_rows_written as i64)
        .bind(c.target_rows_failed as i64)
        .bind(c.inserts as i64)
        .bind(c.updates as i64)
        .bind(c.deletes as i64)
        .bind(c.skipped as i64)
        .bind(id.to_string())
        .bind(node)
        .fetch_optional(&self.write)
        .await?;
        Ok(match row {
            None => Heartbeat {
                held: false,
                stop: None,
            },
            Some(row) => {
                let mode: Option<String> = row.try_get("stop_mode")?;
                Heartbeat {
                    held: true,
                    stop: mode.and_then(|m| m.parse().ok()),
                }
            }
        })
    }

    async fn request_stop(&self, org_id: Uuid, id: Uuid, mode: StopMode, by: &str) -> Result<Run> {
        let mut tx = self.write.begin().await?;
        let mut run = Self::run_in(&mut tx, id).await?;
        if run.org_id != org_id {
            return Err(StoreError::NotFound(format!("run {id}")));
        }
        let before = run.state;
        run.state = before.apply(RunEvent::RequestStop(mode))?;
        // Immediate wins over graceful: a second, harder stop escalates.
        run.stop_mode = Some(match (run.stop_mode, mode) {
            (Some(StopMode::Immediate), _) => StopMode::Immediate,
            _ => mode,
        });
        run.stopped_by = Some(by.to_string());
        if run.state.is_terminal() {
            run.error = Some(format!("Stopped by {by} before it started."));
            Self::end_in(&mut tx, &mut run).await?;
        } else {
            Self::save_run(&mut tx, &run).await?;
        }
        tx.commit().await?;
        Ok(run)
    }

    async fn finish_run(&self, id: Uuid, node: &str, end: RunEnd) -> Result<Run> {
        let mut tx = self.write.begin().await?;
        let mut run = Self::run_in(&mut tx, id).await?;
        if run.lease_owner.as_deref() != Some(node) {
            return Err(StoreError::Conflict(format!(
                "run {id} is not held by {node}; it was resolved elsewhere"
            )));
        }
        run.state = run.state.apply(end.event)?;
        run.error = end.error;
        run.counters = end.counters;
        Self::end_in(&mut tx, &mut run).await?;
        tx.commit().await?;
        Ok(run)
    }

    async fn resolve_lost_runs(
        &self,
        now: DateTime<Utc>,
        node: Option<&str>,
        reason: &str,
    ) -> Result<Vec<Run>> {
        let mut tx = self.write.begin().await?;
        let ids: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM runs WHERE state IN {CLAIMED}
               AND (lease_expires_at < ? OR lease_owner = ?) ORDER BY id"
        ))
        .bind(micros(now))
        .bind(node)
        .fetch_all(&mut *tx)
        .await?;
        let mut resolved = Vec::with_capacity(ids.len());
        for id in ids {
            let id = Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let mut run = Self::run_in(&mut tx, id).await?;
            let owner = run.lease_owner.clone().unwrap_or_default();
            run.state = run.state.apply(RunEvent::LeaseLost)?;
            run.error = Some(format!("{reason} (node `{owner}`)"));
            Self::end_in(&mut tx, &mut run).await?;
            resolved.push(run);
        }
        tx.commit().await?;
        Ok(resolved)
    }

    async fn put_run_child(&self, child: &RunChild) -> Result<()> {
        self.put_child(child).await
    }

    async fn list_run_children(&self, run_id: Uuid) -> Result<Vec<RunChild>> {
        self.children(run_id).await
    }

    async fn get_watermark(&self, task_id: Uuid, object: &str) -> Result<Option<String>> {
        self.watermark(task_id, object).await
    }

    async fn set_watermark(
        &self,
        task_id: Uuid,
        object: &str,
        value: &str,
        run_id: Uuid,
    ) -> Result<()> {
        self.keep_watermark(task_id, object, value, run_id).await
    }

    async fn append_log(&self, run_id: Uuid, lines: &[NewLogLine]) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut tx = self.write.begin().await?;
        let last: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM run_logs WHERE run_id = ?")
                .bind(run_id.to_string())
                .fetch_one(&mut *tx)
                .await?;
        for (i, line) in lines.iter().enumerate() {
            sqlx::query(
                "INSERT INTO run_logs (run_id, seq, at, level, message) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(run_id.to_string())
            .bind(last + 1 + i as i64)
            .bind(micros(line.at))
            .bind(line.level as i64)
            .bind(&line.message)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn read_log(
        &self,
        run_id: Uuid,
        after_seq: i64,
        min_level: LogLevel,
        limit: i64,
    ) -> Result<Vec<LogLine>> {
        sqlx::query(
            "SELECT * FROM run_logs WHERE run_id = ? AND seq > ? AND level >= ?
             ORDER BY seq LIMIT ?",
        )
        .bind(run_id.to_string())
        .bind(after_seq)
        .bind(min_level as i64)
        .bind(limit)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(rows::log_line)
        .collect()
    }

    async fn due_callbacks(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Callback>> {
        sqlx::query(
            "SELECT * FROM callbacks WHERE state = 'pending' AND next_attempt_at <= ?
             ORDER BY next_attempt_at LIMIT ?",
        )
        .bind(micros(now))
        .bind(limit)
        .fetch_all(&self.write)
        .await?
        .iter()
        .map(rows::callback)
        .collect()
    }

    async fn next_callback_due(&self) -> Result<Option<DateTime<Utc>>> {
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM callbacks WHERE state = 'pending'",
        )
        .fetch_one(&self.write)
        .await?;
        Ok(next.map(from_micros))
    }

    async fn record_delivery(&self, id: Uuid, delivery: Delivery) -> Result<()> {
        let (state, next_at, error) = match delivery {
            Delivery::Delivered => ("delivered", None, None),
            Delivery::Retry { at, error } => ("pending", Some(micros(at)), Some(error)),
            Delivery::GiveUp { error } => ("failed", None, Some(error)),
        };
        sqlx::query(
            "UPDATE callbacks SET state = ?1, attempts = attempts + 1,
                next_attempt_at = COALESCE(?2, next_attempt_at), last_error = ?3,
                delivered_at = CASE WHEN ?1 = 'delivered' THEN ?4 ELSE delivered_at END
             WHERE id = ?5",
        )
        .bind(state)
        .bind(next_at)
        .bind(error)
        .bind(micros(Utc::now()))
        .bind(id.to_string())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn run_callbacks(&self, run_id: Uuid) -> Result<Vec<(Callback, String, Option<String>)>> {
        sqlx::query("SELECT * FROM callbacks WHERE run_id = ? ORDER BY created_at")
            .bind(run_id.to_string())
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    rows::callback(r)?,
                    r.try_get("state")?,
                    r.try_get("last_error")?,
                ))
            })
            .collect()
    }
}
