//! Run logs: lines numbered per run, read by level and position.

use super::cells::micros;
use super::*;
use crate::store::rows;
use sqlx::{Sqlite, Transaction};

/// Log lines one INSERT writes at most (5 bound values each, far below SQLite's limit).
const LINES_PER_INSERT: usize = 500;

pub(super) async fn append_log(s: &SqliteStore, run_id: Uuid, lines: &[NewLogLine]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut tx = s.write.begin().await?;
    append_in(&mut tx, run_id, lines).await?;
    tx.commit().await?;
    Ok(())
}

/// Appends lines to a run's log inside `tx`, numbering them after the last.
pub(super) async fn append_in(
    tx: &mut Transaction<'_, Sqlite>,
    run_id: Uuid,
    lines: &[NewLogLine],
) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let last: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM run_logs WHERE run_id = ?")
            .bind(run_id.to_string())
            .fetch_one(&mut **tx)
            .await?;
    // One statement per batch of lines (each statement is a round trip to the connection's
    // thread), within SQLite's limit on bound values.
    for (n, batch) in lines.chunks(LINES_PER_INSERT).enumerate() {
        let rows = vec!["(?, ?, ?, ?, ?)"; batch.len()].join(", ");
        let sql = format!("INSERT INTO run_logs (run_id, seq, at, level, message) VALUES {rows}");
        let mut q = sqlx::query(&sql);
        let first = last + 1 + (n * LINES_PER_INSERT) as i64;
        for (i, line) in batch.iter().enumerate() {
            q = q
                .bind(run_id.to_string())
                .bind(first + i as i64)
                .bind(micros(line.at))
                .bind(line.level as i64)
                .bind(&line.message);
        }
        q.execute(&mut **tx).await?;
    }
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

pub(super) async fn search_log(
    s: &SqliteStore,
    run_id: Uuid,
    q: &LogSearch,
) -> Result<Vec<LogLine>> {
    let order = if q.last { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT * FROM run_logs WHERE run_id = ?1 AND seq > ?2 AND (?3 IS NULL OR seq < ?3)
           AND level >= ?4 AND (?5 IS NULL OR instr(lower(message), lower(?5)) > 0)
         ORDER BY seq {order} LIMIT ?6"
    );
    let mut lines = sqlx::query(&sql)
        .bind(run_id.to_string())
        .bind(q.after)
        .bind(q.before)
        .bind(q.min_level as i64)
        .bind(q.contains.as_deref())
        .bind(q.limit)
        .fetch_all(&s.read)
        .await?
        .iter()
        .map(rows::log_line)
        .collect::<Result<Vec<_>>>()?;
    if q.last {
        lines.reverse();
    }
    Ok(lines)
}

pub(super) async fn put_run_file_chunk(
    s: &SqliteStore,
    run_id: Uuid,
    name: &str,
    chunk: i64,
    data: &[u8],
) -> Result<()> {
    sqlx::query("INSERT OR REPLACE INTO run_files (run_id, name, chunk, data) VALUES (?, ?, ?, ?)")
        .bind(run_id.to_string())
        .bind(name)
        .bind(chunk)
        .bind(data)
        .execute(&s.write)
        .await?;
    Ok(())
}

pub(super) async fn list_run_files(s: &SqliteStore, run_id: Uuid) -> Result<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT name, COUNT(*) FROM run_files WHERE run_id = ? GROUP BY name ORDER BY name",
    )
    .bind(run_id.to_string())
    .fetch_all(&s.read)
    .await?)
}

pub(super) async fn read_run_file_chunk(
    s: &SqliteStore,
    run_id: Uuid,
    name: &str,
    chunk: i64,
) -> Result<Option<Vec<u8>>> {
    Ok(
        sqlx::query_scalar(
            "SELECT data FROM run_files WHERE run_id = ? AND name = ? AND chunk = ?",
        )
        .bind(run_id.to_string())
        .bind(name)
        .bind(chunk)
        .fetch_optional(&s.read)
        .await?,
    )
}
