//! High-water marks of incremental replication, kept per task and source object between runs.

use super::cells::micros;
use super::*;

pub(super) async fn get_watermark(
    s: &SqliteStore,
    task_id: Uuid,
    object: &str,
) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT value FROM watermarks WHERE task_id = ? AND object = ?")
            .bind(task_id.to_string())
            .bind(object)
            .fetch_optional(&s.read)
            .await?,
    )
}

pub(super) async fn set_watermark(
    s: &SqliteStore,
    task_id: Uuid,
    object: &str,
    value: &str,
    run_id: Uuid,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO watermarks (task_id, object, value, run_id, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (task_id, object) DO UPDATE SET value = excluded.value,
            run_id = excluded.run_id, updated_at = excluded.updated_at",
    )
    .bind(task_id.to_string())
    .bind(object)
    .bind(value)
    .bind(run_id.to_string())
    .bind(micros(Utc::now()))
    .execute(&s.write)
    .await?;
    Ok(())
}

pub(super) async fn clear_watermarks(s: &SqliteStore, task_id: Uuid) -> Result<u64> {
    let done = sqlx::query("DELETE FROM watermarks WHERE task_id = ?")
        .bind(task_id.to_string())
        .execute(&s.write)
        .await?;
    Ok(done.rows_affected())
}
