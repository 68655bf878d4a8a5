//! The run lifecycle: queueing and numbering runs, claims, leases and heartbeats, stops, the
//! end of a run (with its callback, in one transaction), and runs lost with their node.

use super::cells::micros;
use super::*;
use crate::domain::lifecycle::{self, Change};
use crate::store::rows;
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

/// Writes the domain's answer inside `tx`: the run, and the callback its end queued.
async fn write_change(tx: &mut Transaction<'_, Sqlite>, change: &Change) -> Result<()> {
    save_run(tx, &change.run).await?;
    let mut callback = change.callback.clone();
    if let Some(retry) = &change.retry
        && !queue_retry(tx, &change.run, retry).await?
    {
        callback = change.callback_without_retry();
    }
    if let Some(cb) = &callback {
        sqlx::query(
            "INSERT INTO callbacks
               (id, run_id, url, state, next_attempt_at, created_at, round_started_at)
             VALUES (?, ?, ?, 'pending', ?, ?, ?)",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(change.run.id.to_string())
        .bind(&cb.url)
        .bind(micros(cb.due))
        .bind(micros(cb.due))
        .bind(micros(cb.due))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Stops the task's active runs at once, for a start that cancels them (`cancel_previous`).
async fn cancel_active(
    tx: &mut Transaction<'_, Sqlite>,
    task: Uuid,
    by: &Run,
    now: DateTime<Utc>,
) -> Result<()> {
    let active: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM runs WHERE task_id = ? AND state IN {ACTIVE} ORDER BY id"
    ))
    .bind(task.to_string())
    .fetch_all(&mut **tx)
    .await?;
    let who = format!("run {} (on_busy = cancel_previous)", by.run_number);
    for id in active {
        let id = Uuid::parse_str(&id).map_err(|e| rows::corrupt("id", e))?;
        let run = run_in(tx, id).await?;
        let change = lifecycle::request_stop(&run, StopMode::Immediate, &who, now)?;
        Box::pin(write_change(tx, &change)).await?;
    }
    Ok(())
}

/// Queues the retry a failed run's end asked for: a new run of its task. A task deleted since
/// has no retry; its last run's callback is queued instead.
async fn queue_retry(
    tx: &mut Transaction<'_, Sqlite>,
    ended: &Run,
    retry: &NewRun,
) -> Result<bool> {
    let task = sqlx::query("SELECT * FROM tasks WHERE id = ?")
        .bind(ended.task_id.to_string())
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| rows::task(&r))
        .transpose()?;
    let Some(task) = task else {
        return Ok(false);
    };
    let now = ended.ended_at.unwrap_or_else(Utc::now);
    Box::pin(queue_run(tx, &task, retry.clone(), now)).await?;
    Ok(true)
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

pub(super) async fn create_run(
    s: &SqliteStore,
    task: &Task,
    new: NewRun,
    now: DateTime<Utc>,
) -> Result<Run> {
    let mut tx = s.write.begin().await?;
    let run = queue_run(&mut tx, task, new, now).await?;
    tx.commit().await?;
    Ok(run)
}

/// Queues a run inside `tx` (a start, or a schedule's fire): numbers it, and refuses a second
/// active run of a task that may not run in parallel.
pub(super) async fn queue_run(
    tx: &mut Transaction<'_, Sqlite>,
    task: &Task,
    new: NewRun,
    now: DateTime<Utc>,
) -> Result<Run> {
    // Numbers the run and moves the task's counter in one statement; a refused start rolls
    // the counter back with the transaction.
    let row = sqlx::query(
        "UPDATE tasks SET next_run_number = next_run_number + 1 WHERE id = ?
         RETURNING next_run_number - 1 AS next_run_number, allow_parallel, policy",
    )
    .bind(task.id.to_string())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("task {}", task.id)))?;
    let run_number: i64 = row.try_get("next_run_number")?;
    // The stored flag, not the caller's copy: the task may have changed since it was read.
    let stored = Task {
        allow_parallel: row.try_get("allow_parallel")?,
        policy: rows::Cells::opt_doc(&row, "policy")?.unwrap_or_default(),
        ..task.clone()
    };
    let active: Option<i64> = if stored.allow_parallel {
        None
    } else {
        sqlx::query_scalar(&format!(
            "SELECT run_number FROM runs WHERE task_id = ? AND state IN {ACTIVE} LIMIT 1"
        ))
        .bind(task.id.to_string())
        .fetch_optional(&mut **tx)
        .await?
    };
    let created = lifecycle::create(&stored, new, run_number, active, now)?;
    if created.cancel_active {
        cancel_active(tx, task.id, &created.run, now).await?;
    }
    let run = created.run;
    let fire = run.fire.as_ref();
    sqlx::query(
        "INSERT INTO runs (id, org_id, task_id, run_number, external_id, trigger, started_by,
            parameters, callback_url, state, created_at, schedule_id, schedule_name, fire_at,
            exclusive, attempt, retry_of, retry_policy, not_before)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
    .bind(fire.map(|f| f.schedule_id.to_string()))
    .bind(fire.map(|f| &f.schedule_name))
    .bind(fire.map(|f| micros(f.at)))
    .bind(created.exclusive)
    .bind(i64::from(run.attempt))
    .bind(run.retry_of.map(|r| r.to_string()))
    .bind(json_text(&run.retry))
    .bind(run.not_before.map(micros))
    .execute(&mut **tx)
    .await
    .map_err(|e| match &run.external_id {
        Some(id) if is_unique_violation(&e) => StoreError::ExternalIdTaken(id.clone()),
        _ => StoreError::from(e),
    })?;
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

pub(super) async fn claim_runs(
    s: &SqliteStore,
    node: &str,
    lease: Duration,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<Run>> {
    let claim = lifecycle::claim(node, lease, now);
    let mut runs = sqlx::query(
        "UPDATE runs SET state = ?1, lease_owner = ?2, node = ?2, lease_expires_at = ?3,
            started_at = ?4
         WHERE id IN (SELECT id FROM runs r WHERE state = 'queued'
                        AND (not_before IS NULL OR not_before <= ?4)
                        AND (exclusive = 0 OR NOT EXISTS (
                            SELECT 1 FROM runs o WHERE o.task_id = r.task_id
                              AND o.state IN ('queued', 'starting', 'running', 'stopping')
                              AND o.id <> r.id
                              AND (o.state <> 'queued' OR o.run_number < r.run_number)))
                      ORDER BY id LIMIT ?5)
         RETURNING *",
    )
    .bind(claim.state.as_str())
    .bind(&claim.lease_owner)
    .bind(micros(claim.lease_expires_at))
    .bind(micros(claim.started_at))
    .bind(limit.max(1) as i64)
    .fetch_all(&s.write)
    .await?
    .iter()
    .map(rows::run)
    .collect::<Result<Vec<Run>>>()?;
    runs.sort_by_key(|r| r.id);
    Ok(runs)
}

pub(super) async fn begin_run(s: &SqliteStore, id: Uuid, node: &str) -> Result<Run> {
    let mut tx = s.write.begin().await?;
    let run = lifecycle::begin(&run_in(&mut tx, id).await?, node)?;
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
    now: DateTime<Utc>,
) -> Result<Run> {
    let mut tx = s.write.begin().await?;
    let run = run_in(&mut tx, id).await?;
    if run.org_id != org_id {
        return Err(StoreError::NotFound(format!("run {id}")));
    }
    let change = lifecycle::request_stop(&run, mode, by, now)?;
    write_change(&mut tx, &change).await?;
    tx.commit().await?;
    Ok(change.run)
}

pub(super) async fn finish_run(
    s: &SqliteStore,
    id: Uuid,
    node: &str,
    mut end: RunEnd,
    now: DateTime<Utc>,
) -> Result<Run> {
    let lines = std::mem::take(&mut end.log);
    let mut tx = s.write.begin().await?;
    let change = lifecycle::finish(&run_in(&mut tx, id).await?, node, end, now)?;
    write_change(&mut tx, &change).await?;
    super::logs::append_in(&mut tx, id, &lines).await?;
    tx.commit().await?;
    Ok(change.run)
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
        let run = run_in(&mut tx, id).await?;
        // The row was chosen set-wise; the domain has the last word on whether it is lost.
        if !lifecycle::is_lost(&run, now, node) {
            continue;
        }
        let change = lifecycle::lose(&run, reason, now)?;
        write_change(&mut tx, &change).await?;
        resolved.push(change.run);
    }
    tx.commit().await?;
    Ok(resolved)
}

pub(super) async fn purge_runs(
    s: &SqliteStore,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Uuid>> {
    let mut tx = s.write.begin().await?;
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM runs WHERE ended_at < ? ORDER BY ended_at LIMIT ?")
            .bind(micros(before))
            .bind(limit.max(1))
            .fetch_all(&mut *tx)
            .await?;
    // Children and callback attempts go with their rows (foreign keys, cascading).
    for id in &ids {
        for sql in [
            "DELETE FROM run_logs WHERE run_id = ?",
            "DELETE FROM run_files WHERE run_id = ?",
            "DELETE FROM callbacks WHERE run_id = ?",
            "DELETE FROM runs WHERE id = ?",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    ids.iter()
        .map(|id| Uuid::parse_str(id).map_err(|e| StoreError::Corrupt(e.to_string())))
        .collect()
}
