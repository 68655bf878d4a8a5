//! What a run records as it goes besides counters and log: its children (the parts of a run, a
//! replication's tables, each with its own state and counters) and its Spark application's
//! progress.

use super::cells::micros;
use super::*;

pub(super) async fn put_run_child(s: &SqliteStore, c: &RunChild) -> Result<()> {
    let n = &c.counters;
    sqlx::query(
        "INSERT OR REPLACE INTO run_children (run_id, seq, name, state, started_at, ended_at,
            source_rows_read, source_rows_failed, target_rows_written, target_rows_failed,
            inserts, updates, deletes, skipped, error, task_id, child_run_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(c.run_id.to_string())
    .bind(c.seq)
    .bind(&c.name)
    .bind(c.state.as_str())
    .bind(c.started_at.map(micros))
    .bind(c.ended_at.map(micros))
    .bind(n.source_rows_read as i64)
    .bind(n.source_rows_failed as i64)
    .bind(n.target_rows_written as i64)
    .bind(n.target_rows_failed as i64)
    .bind(n.inserts as i64)
    .bind(n.updates as i64)
    .bind(n.deletes as i64)
    .bind(n.skipped as i64)
    .bind(&c.error)
    .bind(c.task_id.map(|t| t.to_string()))
    .bind(c.child_run_id.map(|t| t.to_string()))
    .execute(&s.write)
    .await?;
    Ok(())
}

pub(super) async fn set_spark_progress(
    s: &SqliteStore,
    run_id: Uuid,
    node: &str,
    progress: &SparkProgress,
) -> Result<bool> {
    let json = serde_json::to_string(progress).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let done = sqlx::query(&format!(
        "UPDATE runs SET spark_progress = ?
         WHERE id = ? AND lease_owner = ? AND state IN {CLAIMED}"
    ))
    .bind(json)
    .bind(run_id.to_string())
    .bind(node)
    .execute(&s.write)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn list_run_children(s: &SqliteStore, run_id: Uuid) -> Result<Vec<RunChild>> {
    sqlx::query("SELECT * FROM run_children WHERE run_id = ? ORDER BY seq")
        .bind(run_id.to_string())
        .fetch_all(&s.read)
        .await?
        .iter()
        .map(rows::run_child)
        .collect()
}
