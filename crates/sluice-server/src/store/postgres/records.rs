//! What runs record besides their state (logs, children, Spark progress), the high-water marks
//! of incremental loads, webhook keys and the audit log, on PostgreSQL.

use super::*;

pub(super) async fn append_log(s: &PgStore, run_id: Uuid, lines: &[NewLogLine]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut tx = s.pool.begin().await?;
    let out = append_in(&mut tx, run_id, lines).await;
    settle(tx, out).await
}

/// Appends lines to a run's log inside `tx`, numbering them after the last.
pub(super) async fn append_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    run_id: Uuid,
    lines: &[NewLogLine],
) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    // Several writers may log to one run at once (its worker, a notifier, a stop): a lock per
    // run keeps their numbering gapless without locking the run's row.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7))")
        .bind(run_id)
        .execute(&mut **tx)
        .await?;
    let last: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0)::bigint FROM run_logs WHERE run_id = $1")
            .bind(run_id)
            .fetch_one(&mut **tx)
            .await?;
    let seqs: Vec<i64> = (1..=lines.len() as i64).map(|i| last + i).collect();
    let ats: Vec<DateTime<Utc>> = lines.iter().map(|l| l.at).collect();
    let levels: Vec<i64> = lines.iter().map(|l| l.level as i64).collect();
    let messages: Vec<&str> = lines.iter().map(|l| l.message.as_str()).collect();
    // One statement for the whole batch, however many lines it has.
    sqlx::query(
        "INSERT INTO run_logs (run_id, seq, at, level, message)
         SELECT $1, * FROM UNNEST($2::bigint[], $3::timestamptz[], $4::bigint[], $5::text[])",
    )
    .bind(run_id)
    .bind(&seqs)
    .bind(&ats)
    .bind(&levels)
    .bind(&messages)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn read_log(
    s: &PgStore,
    run_id: Uuid,
    after_seq: i64,
    min_level: LogLevel,
    limit: i64,
) -> Result<Vec<LogLine>> {
    sqlx::query(
        "SELECT * FROM run_logs WHERE run_id = $1 AND seq > $2 AND level >= $3
         ORDER BY seq LIMIT $4",
    )
    .bind(run_id)
    .bind(after_seq)
    .bind(min_level as i64)
    .bind(limit)
    .fetch_all(&s.pool)
    .await?
    .iter()
    .map(rows::log_line)
    .collect()
}

pub(super) async fn search_log(s: &PgStore, run_id: Uuid, q: &LogSearch) -> Result<Vec<LogLine>> {
    let order = if q.last { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT * FROM run_logs WHERE run_id = $1 AND seq > $2 AND ($3::bigint IS NULL OR seq < $3)
           AND level >= $4 AND ($5::text IS NULL OR strpos(lower(message), lower($5)) > 0)
         ORDER BY seq {order} LIMIT $6"
    );
    let mut lines = sqlx::query(&sql)
        .bind(run_id)
        .bind(q.after)
        .bind(q.before)
        .bind(q.min_level as i64)
        .bind(q.contains.as_deref())
        .bind(q.limit)
        .fetch_all(&s.pool)
        .await?
        .iter()
        .map(rows::log_line)
        .collect::<Result<Vec<_>>>()?;
    if q.last {
        lines.reverse();
    }
    Ok(lines)
}

pub(super) async fn put_run_child(s: &PgStore, c: &RunChild) -> Result<()> {
    let n = &c.counters;
    sqlx::query(
        "INSERT INTO run_children (run_id, seq, name, state, started_at, ended_at,
            source_rows_read, source_rows_failed, target_rows_written, target_rows_failed,
            inserts, updates, deletes, skipped, error, task_id, child_run_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
         ON CONFLICT (run_id, seq) DO UPDATE SET name = excluded.name, state = excluded.state,
            started_at = excluded.started_at, ended_at = excluded.ended_at,
            source_rows_read = excluded.source_rows_read,
            source_rows_failed = excluded.source_rows_failed,
            target_rows_written = excluded.target_rows_written,
            target_rows_failed = excluded.target_rows_failed, inserts = excluded.inserts,
            updates = excluded.updates, deletes = excluded.deletes, skipped = excluded.skipped,
            error = excluded.error, task_id = excluded.task_id,
            child_run_id = excluded.child_run_id",
    )
    .bind(c.run_id)
    .bind(i64::from(c.seq))
    .bind(&c.name)
    .bind(c.state.as_str())
    .bind(c.started_at)
    .bind(c.ended_at)
    .bind(n.source_rows_read as i64)
    .bind(n.source_rows_failed as i64)
    .bind(n.target_rows_written as i64)
    .bind(n.target_rows_failed as i64)
    .bind(n.inserts as i64)
    .bind(n.updates as i64)
    .bind(n.deletes as i64)
    .bind(n.skipped as i64)
    .bind(&c.error)
    .bind(c.task_id)
    .bind(c.child_run_id)
    .execute(&s.pool)
    .await?;
    Ok(())
}

pub(super) async fn list_run_children(s: &PgStore, run_id: Uuid) -> Result<Vec<RunChild>> {
    sqlx::query("SELECT * FROM run_children WHERE run_id = $1 ORDER BY seq")
        .bind(run_id)
        .fetch_all(&s.pool)
        .await?
        .iter()
        .map(rows::run_child)
        .collect()
}

pub(super) async fn set_spark_progress(
    s: &PgStore,
    run_id: Uuid,
    node: &str,
    progress: &SparkProgress,
) -> Result<bool> {
    let done = sqlx::query(&format!(
        "UPDATE runs SET spark_progress = $1
         WHERE id = $2 AND lease_owner = $3 AND state IN {CLAIMED}"
    ))
    .bind(Json(progress))
    .bind(run_id)
    .bind(node)
    .execute(&s.pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn get_watermark(
    s: &PgStore,
    task_id: Uuid,
    object: &str,
) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT value FROM watermarks WHERE task_id = $1 AND object = $2")
            .bind(task_id)
            .bind(object)
            .fetch_optional(&s.pool)
            .await?,
    )
}

pub(super) async fn set_watermark(
    s: &PgStore,
    task_id: Uuid,
    object: &str,
    value: &str,
    run_id: Uuid,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO watermarks (task_id, object, value, run_id, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (task_id, object) DO UPDATE SET value = excluded.value,
            run_id = excluded.run_id, updated_at = excluded.updated_at",
    )
    .bind(task_id)
    .bind(object)
    .bind(value)
    .bind(run_id)
    .bind(Utc::now())
    .execute(&s.pool)
    .await?;
    Ok(())
}

pub(super) async fn clear_watermarks(s: &PgStore, task_id: Uuid) -> Result<u64> {
    let done = sqlx::query("DELETE FROM watermarks WHERE task_id = $1")
        .bind(task_id)
        .execute(&s.pool)
        .await?;
    Ok(done.rows_affected())
}

pub(super) async fn set_webhook_key(s: &PgStore, task_id: Uuid, key_hash: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO webhook_keys (task_id, key_hash, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (task_id) DO UPDATE SET key_hash = excluded.key_hash,
            created_at = excluded.created_at",
    )
    .bind(task_id)
    .bind(key_hash)
    .bind(Utc::now())
    .execute(&s.pool)
    .await?;
    Ok(())
}

pub(super) async fn webhook_key_matches(
    s: &PgStore,
    task_id: Uuid,
    key_hash: &str,
) -> Result<bool> {
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM webhook_keys WHERE task_id = $1 AND key_hash = $2")
            .bind(task_id)
            .bind(key_hash)
            .fetch_optional(&s.pool)
            .await?;
    Ok(found.is_some())
}

pub(super) async fn append_audit(s: &PgStore, e: &AuditEvent) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO audit_events
           (at, org_id, actor, action, target, client_addr, surface, outcome, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq",
    )
    .bind(e.at)
    .bind(e.org_id)
    .bind(&e.actor)
    .bind(e.action.as_str())
    .bind(&e.target)
    .bind(e.client_addr.map(|a| a.to_string()))
    .bind(e.surface.as_str())
    .bind(e.outcome.as_str())
    .bind(&e.detail)
    .fetch_one(&s.pool)
    .await?)
}

pub(super) async fn list_audit(s: &PgStore, f: &AuditFilter) -> Result<Vec<(i64, AuditEvent)>> {
    sqlx::query(
        "SELECT * FROM audit_events
         WHERE ($1::uuid IS NULL OR org_id = $1) AND ($2::timestamptz IS NULL OR at >= $2)
           AND ($3::text IS NULL OR action = $3) AND ($4::text IS NULL OR actor = $4)
         ORDER BY at DESC, seq DESC LIMIT $5 OFFSET $6",
    )
    .bind(f.org_id)
    .bind(f.since)
    .bind(f.action.map(|a| a.as_str()))
    .bind(f.actor.as_deref())
    .bind(if f.limit > 0 { f.limit } else { 100 })
    .bind(f.offset.max(0))
    .fetch_all(&s.pool)
    .await?
    .iter()
    .map(rows::audit_event)
    .collect()
}

pub(super) async fn put_run_file_chunk(
    s: &PgStore,
    run_id: Uuid,
    name: &str,
    chunk: i64,
    data: &[u8],
) -> Result<()> {
    sqlx::query(
        "INSERT INTO run_files (run_id, name, chunk, data) VALUES ($1, $2, $3, $4)
         ON CONFLICT (run_id, name, chunk) DO UPDATE SET data = excluded.data",
    )
    .bind(run_id)
    .bind(name)
    .bind(chunk)
    .bind(data)
    .execute(&s.pool)
    .await?;
    Ok(())
}

pub(super) async fn list_run_files(s: &PgStore, run_id: Uuid) -> Result<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT name, COUNT(*) FROM run_files WHERE run_id = $1 GROUP BY name ORDER BY name",
    )
    .bind(run_id)
    .fetch_all(&s.pool)
    .await?)
}

pub(super) async fn read_run_file_chunk(
    s: &PgStore,
    run_id: Uuid,
    name: &str,
    chunk: i64,
) -> Result<Option<Vec<u8>>> {
    Ok(sqlx::query_scalar(
        "SELECT data FROM run_files WHERE run_id = $1 AND name = $2 AND chunk = $3",
    )
    .bind(run_id)
    .bind(name)
    .bind(chunk)
    .fetch_optional(&s.pool)
    .await?)
}
