//! Run logs: lines numbered per run, read by level and position.

use super::rows::{self, micros};
use super::*;

pub(super) async fn append_log(s: &SqliteStore, run_id: Uuid, lines: &[NewLogLine]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut tx = s.write.begin().await?;
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

pub(super) async fn read_log(
    s: &SqliteStore,
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
    .fetch_all(&s.read)
    .await?
    .iter()
    .map(rows::log_line)
    .collect()
}
