//! The run lifecycle: queueing and numbering runs, claims, leases and heartbeats, stops, the
//! end of a run (with its callback, in one transaction), and runs lost with their node.

use super::rows::{self, micros};
use super::*;
use crate::domain::Trigger;
use sqlx::{Row, Sqlite, Transaction};

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
    save_run(tx, run).await?;
    if let Some(url) = &run.callback_url {
        sqlx::query(
            "INSERT INTO callbacks
               (id, run_id, url, state, next_attempt_at, created_at, round_started_at)
             VALUES (?, ?, ?, 'pending', ?, ?, ?)",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(run.id.to_string())
        .bind(url)
        .bind(micros(now))
        .bind(micros(now))
        .bind(micros(now))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn one_run(s: &SqliteStore, sql: &str, binds: &[String]) -> Result<Option<Run>> {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = q.bind(b);
    }
    q.fetch_optional(&s.read)
        .await?
        .map(|r| rows::run(&r))
        .transpose()
}

pub(super) async fn create_run(s: &SqliteStore, task: &Task, new: NewRun) -> Result<Run> {
    let mut tx = s.write.begin().await?;
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
        if let Some(run_number) = active {
            return Err(StoreError::TaskBusy {
                task: task.path(),
                run_number,
            });
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
        spark: None,
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
        if is_unique_violation(&e) {
            StoreError::ExternalIdTaken(run.external_id.clone().unwrap_or_default())
        } else {
            StoreError::Backend(e)
        }
    })?;
    sqlx::query("UPDATE tasks SET next_run_number = next_run_number + 1 WHERE id = ?")
        .bind(task.id.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(run)
}

pub(super) async fn get_run(s: &SqliteStore, org_id: Uuid, id: Uuid) -> Result<Option<Run>> {
    one_run(
        s,
        "SELECT * FROM runs WHERE id = ? AND org_id = ?",
        &[id.to_string(), org_id.to_string()],
    )
    .await
}

pub(super) async fn get_run_any_org(s: &SqliteStore, id: Uuid) -> Result<Option<Run>> {
    one_run(s, "SELECT * FROM runs WHERE id = ?", &[id.to_string()]).await
}

pub(super) async fn get_run_by_external_id(
    s: &SqliteStore,
    org_id: Uuid,
    external_id: &str,
) -> Result<Option<Run>> {
    one_run(
        s,
        "SELECT * FROM runs WHERE external_id = ? AND org_id = ?",
        &[external_id.to_string(), org_id.to_string()],
    )
    .await
}

pub(super) async fn get_run_by_number(
    s: &SqliteStore,
    task_id: Uuid,
    run_number: i64,
) -> Result<Option<Run>> {
    one_run(
        s,
        "SELECT * FROM runs WHERE task_id = ? AND run_number = ?",
        &[task_id.to_string(), run_number.to_string()],
    )
    .await
}

pub(super) async fn list_runs(s: &SqliteStore, org_id: Uuid, f: &RunFilter) -> Result<Vec<Run>> {
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
           AND (?6 IS NULL OR task_id IN
                (SELECT id FROM tasks WHERE org_id = ?1 AND task_type = ?6))
           AND (?7 IS NULL OR COALESCE(started_at, created_at) >= ?7)
           AND (?8 IS NULL OR COALESCE(started_at, created_at) <= ?8)
         ORDER BY id DESC LIMIT ?4 OFFSET ?5"
    );
    sqlx::query(&sql)
        .bind(org_id.to_string())
        .bind(f.task_id.map(|t| t.to_string()))
        .bind(f.before.map(|t| t.to_string()))
        .bind(if f.limit > 0 { f.limit } else { 100 })
        .bind(f.offset.max(0))
        .bind(f.task_type.map(|t| t.code()))
        .bind(f.started_from.map(micros))
        .bind(f.started_to.map(micros))
        .fetch_all(&s.read)
        .await?
        .iter()
        .map(rows::run)
        .collect()
}

pub(super) async fn claim_run(
    s: &SqliteStore,
    node: &str,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Option<Run>> {
    let expires = now + lease;
    sqlx::query(
        "UPDATE runs SET state = 'starting', lease_owner = ?, lease_expires_at = ?, started_at = ?
         WHERE id = (SELECT id FROM runs WHERE state = 'queued' ORDER BY id LIMIT 1)
         RETURNING *",
    )
    .bind(node)
    .bind(micros(expires))
    .bind(micros(now))
    .fetch_optional(&s.write)
    .await?
    .map(|r| rows::run(&r))
    .transpose()
}

pub(super) async fn begin_run(s: &SqliteStore, id: Uuid, node: &str) -> Result<Run> {
    let mut tx = s.write.begin().await?;
    let mut run = run_in(&mut tx, id).await?;
    if run.lease_owner.as_deref() != Some(node) {
        return Err(StoreError::NotHeld {
            run: id,
            node: node.to_string(),
        });
    }
    // A stop that arrived while the run was starting keeps it stopping.
    if run.state != RunState::Stopping {
        run.state = run.state.apply(RunEvent::Begin)?;
    }
    save_run(&mut tx, &run).await?;
    tx.commit().await?;
    Ok(run)
}

pub(super) async fn heartbeat(
    s: &SqliteStore,
    id: Uuid,
    node: &str,
    lease: Duration,
    c: Counters,
    now: DateTime<Utc>,
) -> Result<Heartbeat> {
    let row = sqlx::query(&format!(
        "UPDATE runs SET lease_expires_at = ?, source_rows_read = ?, source_rows_failed = ?,
            target_rows_written = ?, target_rows_failed = ?, inserts = ?, updates = ?,
            deletes = ?, skipped = ?
         WHERE id = ? AND lease_owner = ? AND state IN {CLAIMED}
         RETURNING stop_mode"
    ))
    .bind(micros(now + lease))
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
    .fetch_optional(&s.write)
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

pub(super) async fn request_stop(
    s: &SqliteStore,
    org_id: Uuid,
    id: Uuid,
    mode: StopMode,
    by: &str,
) -> Result<Run> {
    let mut tx = s.write.begin().await?;
    let mut run = run_in(&mut tx, id).await?;
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
        end_in(&mut tx, &mut run).await?;
    } else {
        save_run(&mut tx, &run).await?;
    }
    tx.commit().await?;
    Ok(run)
}

pub(super) async fn finish_run(s: &SqliteStore, id: Uuid, node: &str, end: RunEnd) -> Result<Run> {
    let mut tx = s.write.begin().await?;
    let mut run = run_in(&mut tx, id).await?;
    if run.lease_owner.as_deref() != Some(node) {
        return Err(StoreError::NotHeld {
            run: id,
            node: node.to_string(),
        });
    }
    run.state = run.state.apply(end.event)?;
    run.error = end.error;
    run.counters = end.counters;
    end_in(&mut tx, &mut run).await?;
    tx.commit().await?;
    Ok(run)
}

pub(super) async fn resolve_lost_runs(
    s: &SqliteStore,
    now: DateTime<Utc>,
    node: Option<&str>,
    reason: &str,
) -> Result<Vec<Run>> {
    let mut tx = s.write.begin().await?;
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
        let mut run = run_in(&mut tx, id).await?;
        let owner = run.lease_owner.clone().unwrap_or_default();
        run.state = run.state.apply(RunEvent::LeaseLost)?;
        run.error = Some(format!("{reason} (node `{owner}`)"));
        end_in(&mut tx, &mut run).await?;
        resolved.push(run);
    }
    tx.commit().await?;
    Ok(resolved)
}
