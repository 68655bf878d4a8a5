//! The run lifecycle on PostgreSQL: each step locks the run's row (`FOR UPDATE`), asks the
//! domain, and writes the answer in the same transaction; claims skip rows another node is
//! claiming (`SKIP LOCKED`), so claimers never wait on each other.

use super::*;
use crate::domain::lifecycle::{self, Change};
use sqlx::types::Json;
use sqlx::{Postgres, Row, Transaction};

async fn locked_run(tx: &mut Transaction<'_, Postgres>, id: Uuid) -> Result<Run> {
    let row = sqlx::query("SELECT * FROM runs WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("run {id}")))?;
    rows::run(&row)
}

/// Writes every mutable field of a run back.
async fn save_run(tx: &mut Transaction<'_, Postgres>, run: &Run) -> Result<()> {
    let c = &run.counters;
    sqlx::query(
        "UPDATE runs SET state = $1, stop_mode = $2, stopped_by = $3, error = $4,
            source_rows_read = $5, source_rows_failed = $6, target_rows_written = $7,
            target_rows_failed = $8, inserts = $9, updates = $10, deletes = $11, skipped = $12,
            started_at = $13, ended_at = $14, lease_owner = $15, lease_expires_at = $16
         WHERE id = $17",
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
    .bind(run.started_at)
    .bind(run.ended_at)
    .bind(&run.lease_owner)
    .bind(run.lease_expires_at)
    .bind(run.id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes the domain's answer inside `tx`: the run, and the callback its end queued.
async fn write_change(tx: &mut Transaction<'_, Postgres>, change: &Change) -> Result<()> {
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
             VALUES ($1, $2, $3, 'pending', $4, $4, $4)",
        )
        .bind(Uuid::now_v7())
        .bind(change.run.id)
        .bind(&cb.url)
        .bind(cb.due)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Stops the task's active runs at once, for a start that cancels them (`cancel_previous`).
async fn cancel_active(
    tx: &mut Transaction<'_, Postgres>,
    task: Uuid,
    by: &Run,
    now: DateTime<Utc>,
) -> Result<()> {
    let active: Vec<Uuid> = sqlx::query_scalar(&format!(
        "SELECT id FROM runs WHERE task_id = $1 AND state IN {ACTIVE} ORDER BY id"
    ))
    .bind(task)
    .fetch_all(&mut **tx)
    .await?;
    let who = format!("run {} (on_busy = cancel_previous)", by.run_number);
    for id in active {
        let run = locked_run(tx, id).await?;
        let change = lifecycle::request_stop(&run, StopMode::Immediate, &who, now)?;
        Box::pin(write_change(tx, &change)).await?;
    }
    Ok(())
}

/// Queues the retry a failed run's end asked for: a new run of its task. A task deleted since
/// has no retry; its last run's callback is queued instead.
async fn queue_retry(
    tx: &mut Transaction<'_, Postgres>,
    ended: &Run,
    retry: &NewRun,
) -> Result<bool> {
    let task = sqlx::query("SELECT * FROM tasks WHERE id = $1")
        .bind(ended.task_id)
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

pub(super) async fn create_run(
    s: &PgStore,
    task: &Task,
    new: NewRun,
    now: DateTime<Utc>,
) -> Result<Run> {
    let mut tx = s.pool.begin().await?;
    let out: Result<Run> = async {
        let run = queue_run(&mut tx, task, new, now).await?;
        wake::notify(s, &mut tx, "queued").await?;
        Ok(run)
    }
    .await;
    settle(tx, out).await
}

/// Queues a run inside `tx` (a start, or a schedule's fire): numbers it, and refuses a second
/// active run of a task that may not run in parallel.
pub(super) async fn queue_run(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    task: &Task,
    new: NewRun,
    now: DateTime<Utc>,
) -> Result<Run> {
    {
        // Numbers the run and moves the task's counter in one statement. Its row lock
        // serialises starts of one task across nodes: numbering, and the one-active-run rule of
        // tasks that may not run in parallel; a refused start rolls the counter back.
        let row = sqlx::query(
            "UPDATE tasks SET next_run_number = next_run_number + 1 WHERE id = $1
             RETURNING next_run_number - 1 AS next_run_number, allow_parallel, policy",
        )
        .bind(task.id)
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
                "SELECT run_number FROM runs WHERE task_id = $1 AND state IN {ACTIVE} LIMIT 1"
            ))
            .bind(task.id)
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                     $18, $19)",
        )
        .bind(run.id)
        .bind(run.org_id)
        .bind(run.task_id)
        .bind(run.run_number)
        .bind(&run.external_id)
        .bind(run.trigger.as_str())
        .bind(&run.started_by)
        .bind(Json(&run.parameters))
        .bind(&run.callback_url)
        .bind(run.state.as_str())
        .bind(run.created_at)
        .bind(fire.map(|f| f.schedule_id))
        .bind(fire.map(|f| &f.schedule_name))
        .bind(fire.map(|f| f.at))
        .bind(created.exclusive)
        .bind(i64::from(run.attempt))
        .bind(run.retry_of)
        .bind(Json(&run.retry))
        .bind(run.not_before)
        .execute(&mut **tx)
        .await
        .map_err(|e| match &run.external_id {
            Some(id) if is_unique_violation(&e) => StoreError::ExternalIdTaken(id.clone()),
            _ => StoreError::from(e),
        })?;
        Ok(run)
    }
}

pub(super) async fn get_run(s: &PgStore, org_id: Uuid, id: Uuid) -> Result<Option<Run>> {
    sqlx::query("SELECT * FROM runs WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .fetch_optional(&s.pool)
        .await?
        .map(|r| rows::run(&r))
        .transpose()
}

pub(super) async fn get_run_any_org(s: &PgStore, id: Uuid) -> Result<Option<Run>> {
    sqlx::query("SELECT * FROM runs WHERE id = $1")
        .bind(id)
        .fetch_optional(&s.pool)
        .await?
        .map(|r| rows::run(&r))
        .transpose()
}

pub(super) async fn get_run_by_external_id(
    s: &PgStore,
    org_id: Uuid,
    external_id: &str,
) -> Result<Option<Run>> {
    sqlx::query("SELECT * FROM runs WHERE org_id = $1 AND external_id = $2")
        .bind(org_id)
        .bind(external_id)
        .fetch_optional(&s.pool)
        .await?
        .map(|r| rows::run(&r))
        .transpose()
}

pub(super) async fn get_run_by_number(
    s: &PgStore,
    task_id: Uuid,
    run_number: i64,
) -> Result<Option<Run>> {
    sqlx::query("SELECT * FROM runs WHERE task_id = $1 AND run_number = $2")
        .bind(task_id)
        .bind(run_number)
        .fetch_optional(&s.pool)
        .await?
        .map(|r| rows::run(&r))
        .transpose()
}

pub(super) async fn claim_runs(
    s: &PgStore,
    node: &str,
    lease: Duration,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<Run>> {
    let claim = lifecycle::claim(node, lease, now);
    let mut runs = sqlx::query(
        "UPDATE runs SET state = $1, lease_owner = $2, node = $2, lease_expires_at = $3,
            started_at = $4
         WHERE id IN (SELECT id FROM runs r WHERE state = 'queued'
                        AND (not_before IS NULL OR not_before <= $4)
                        AND (NOT exclusive OR NOT EXISTS (
                            SELECT 1 FROM runs o WHERE o.task_id = r.task_id
                              AND o.state IN ('queued', 'starting', 'running', 'stopping')
                              AND o.id <> r.id
                              AND (o.state <> 'queued' OR o.run_number < r.run_number)))
                      ORDER BY id LIMIT $5 FOR UPDATE SKIP LOCKED)
         RETURNING *",
    )
    .bind(claim.state.as_str())
    .bind(&claim.lease_owner)
    .bind(claim.lease_expires_at)
    .bind(claim.started_at)
    .bind(limit.max(1) as i64)
    .fetch_all(&s.pool)
    .await?
    .iter()
    .map(rows::run)
    .collect::<Result<Vec<Run>>>()?;
    runs.sort_by_key(|r| r.id);
    Ok(runs)
}

pub(super) async fn begin_run(s: &PgStore, id: Uuid, node: &str) -> Result<Run> {
    let mut tx = s.pool.begin().await?;
    let out: Result<Run> = async {
        let run = lifecycle::begin(&locked_run(&mut tx, id).await?, node)?;
        save_run(&mut tx, &run).await?;
        Ok(run)
    }
    .await;
    settle(tx, out).await
}

pub(super) async fn heartbeat(
    s: &PgStore,
    id: Uuid,
    node: &str,
    lease: Duration,
    c: Counters,
    now: DateTime<Utc>,
) -> Result<Heartbeat> {
    let row = sqlx::query(&format!(
        "UPDATE runs SET lease_expires_at = $1, source_rows_read = $2, source_rows_failed = $3,
            target_rows_written = $4, target_rows_failed = $5, inserts = $6, updates = $7,
            deletes = $8, skipped = $9
         WHERE id = $10 AND lease_owner = $11 AND state IN {CLAIMED}
         RETURNING stop_mode"
    ))
    .bind(now + lease)
    .bind(c.source_rows_read as i64)
    .bind(c.source_rows_failed as i64)
    .bind(c.target_rows_written as i64)
    .bind(c.target_rows_failed as i64)
    .bind(c.inserts as i64)
    .bind(c.updates as i64)
    .bind(c.deletes as i64)
    .bind(c.skipped as i64)
    .bind(id)
    .bind(node)
    .fetch_optional(&s.pool)
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
    s: &PgStore,
    org_id: Uuid,
    id: Uuid,
    mode: StopMode,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Run> {
    let mut tx = s.pool.begin().await?;
    let out: Result<Run> = async {
        let run = locked_run(&mut tx, id).await?;
        if run.org_id != org_id {
            return Err(StoreError::NotFound(format!("run {id}")));
        }
        let change = lifecycle::request_stop(&run, mode, by, now)?;
        write_change(&mut tx, &change).await?;
        if change.run.state.is_terminal() {
            wake::notify(s, &mut tx, &wake::ended(&[id])).await?;
        }
        Ok(change.run)
    }
    .await;
    settle(tx, out).await
}

pub(super) async fn finish_run(
    s: &PgStore,
    id: Uuid,
    node: &str,
    mut end: RunEnd,
    now: DateTime<Utc>,
) -> Result<Run> {
    let lines = std::mem::take(&mut end.log);
    let mut tx = s.pool.begin().await?;
    let out: Result<Run> = async {
        let change = lifecycle::finish(&locked_run(&mut tx, id).await?, node, end, now)?;
        write_change(&mut tx, &change).await?;
        records::append_in(&mut tx, id, &lines).await?;
        wake::notify(s, &mut tx, &wake::ended(&[id])).await?;
        Ok(change.run)
    }
    .await;
    settle(tx, out).await
}

pub(super) async fn resolve_lost_runs(
    s: &PgStore,
    now: DateTime<Utc>,
    node: Option<&str>,
    reason: &str,
) -> Result<Vec<Run>> {
    let mut tx = s.pool.begin().await?;
    let out: Result<Vec<Run>> = async {
        // Rows another node is resolving (or its holder is ending) are skipped: the next sweep sees
        // them as they are then.
        let lost = sqlx::query(&format!(
            "SELECT * FROM runs WHERE state IN {CLAIMED}
               AND (lease_expires_at < $1 OR lease_owner = $2) ORDER BY id
             FOR UPDATE SKIP LOCKED"
        ))
        .bind(now)
        .bind(node)
        .fetch_all(&mut *tx)
        .await?;
        let mut resolved = Vec::with_capacity(lost.len());
        for row in lost {
            let run = rows::run(&row)?;
            // The row was chosen set-wise; the domain has the last word on whether it is lost.
            if !lifecycle::is_lost(&run, now, node) {
                continue;
            }
            let change = lifecycle::lose(&run, reason, now)?;
            write_change(&mut tx, &change).await?;
            resolved.push(change.run);
        }
        if !resolved.is_empty() {
            let ids: Vec<Uuid> = resolved.iter().map(|r| r.id).collect();
            wake::notify(s, &mut tx, &wake::ended(&ids)).await?;
        }
        Ok(resolved)
    }
    .await;
    settle(tx, out).await
}

pub(super) async fn purge_runs(
    s: &PgStore,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Uuid>> {
    let mut tx = s.pool.begin().await?;
    let out: Result<Vec<Uuid>> = async {
        // Another node purging at the same time takes other rows.
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM runs WHERE ended_at < $1 ORDER BY ended_at LIMIT $2
             FOR UPDATE SKIP LOCKED",
        )
        .bind(before)
        .bind(limit.max(1))
        .fetch_all(&mut *tx)
        .await?;
        // Children and callback attempts go with their rows (foreign keys, cascading).
        for sql in [
            "DELETE FROM run_logs WHERE run_id = ANY($1)",
            "DELETE FROM run_files WHERE run_id = ANY($1)",
            "DELETE FROM callbacks WHERE run_id = ANY($1)",
            "DELETE FROM runs WHERE id = ANY($1)",
        ] {
            sqlx::query(sql).bind(&ids).execute(&mut *tx).await?;
        }
        Ok(ids)
    }
    .await;
    settle(tx, out).await
}
