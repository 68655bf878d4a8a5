//! The audit log: appended to, read newest first.

use super::cells::micros;
use super::*;
use crate::domain::audit::AuditEvent;
use crate::store::rows;

pub(super) async fn append_audit(s: &SqliteStore, e: &AuditEvent) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO audit_events
           (at, org_id, actor, action, target, client_addr, surface, outcome, detail)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
    )
    .bind(micros(e.at))
    .bind(e.org_id.map(|id| id.to_string()))
    .bind(&e.actor)
    .bind(e.action.as_str())
    .bind(&e.target)
    .bind(e.client_addr.map(|a| a.to_string()))
    .bind(e.surface.as_str())
    .bind(e.outcome.as_str())
    .bind(&e.detail)
    .fetch_one(&s.write)
    .await?;
    Ok(sqlx::Row::try_get(&row, "seq")?)
}

pub(super) async fn list_audit(s: &SqliteStore, f: &AuditFilter) -> Result<Vec<(i64, AuditEvent)>> {
    sqlx::query(
        "SELECT * FROM audit_events
         WHERE (?1 IS NULL OR org_id = ?1) AND (?2 IS NULL OR at >= ?2)
           AND (?3 IS NULL OR action = ?3) AND (?4 IS NULL OR actor = ?4)
         ORDER BY at DESC, seq DESC LIMIT ?5 OFFSET ?6",
    )
    .bind(f.org_id.map(|id| id.to_string()))
    .bind(f.since.map(micros))
    .bind(f.action.map(|a| a.as_str()))
    .bind(f.actor.as_deref())
    .bind(if f.limit > 0 { f.limit } else { 100 })
    .bind(f.offset.max(0))
    .fetch_all(&s.read)
    .await?
    .iter()
    .map(rows::audit_event)
    .collect()
}
