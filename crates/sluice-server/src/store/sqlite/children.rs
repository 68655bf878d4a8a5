//! What a run records as it goes besides counters and log: its children (the parts of a run, a
//! replication's tables, each with its own state and counters) and its Spark application's
//! progress.

use super::rows::{from_micros, micros};
use super::*;
use sqlx::Row;

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
    let rows = sqlx::query("SELECT * FROM run_children WHERE run_id = ? ORDER BY seq")
        .bind(run_id.to_string())
        .fetch_all(&s.read)
        .await?;
    rows.iter()
        .map(|r| {
            let g = |c: &str| -> Result<u64> { Ok(r.try_get::<i64, _>(c)? as u64) };
            let state: String = r.try_get("state")?;
            Ok(RunChild {
                run_id,
                seq: r.try_get("seq")?,
                name: r.try_get("name")?,
                state: state.parse().map_err(StoreError::Corrupt)?,
                started_at: r.try_get::<Option<i64>, _>("started_at")?.map(from_micros),
                ended_at: r.try_get::<Option<i64>, _>("ended_at")?.map(from_micros),
                counters: Counters {
                    source_rows_read: g("source_rows_read")?,
                    source_rows_failed: g("source_rows_failed")?,
                    target_rows_written: g("target_rows_written")?,
                    target_rows_failed: g("target_rows_failed")?,
                    inserts: g("inserts")?,
                    updates: g("updates")?,
                    deletes: g("deletes")?,
                    skipped: g("skipped")?,
                },
                error: r.try_get("error")?,
                task_id: optional_uuid(r, "task_id")?,
                child_run_id: optional_uuid(r, "child_run_id")?,
            })
        })
        .collect()
}

fn optional_uuid(row: &sqlx::sqlite::SqliteRow, col: &str) -> Result<Option<Uuid>> {
    let text: Option<String> = row.try_get(col)?;
    text.map(|t| Uuid::parse_str(&t).map_err(|e| StoreError::Corrupt(format!("{col}: {e}"))))
        .transpose()
}
