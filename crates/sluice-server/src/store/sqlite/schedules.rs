//! Schedules on SQLite: definitions, and the firing pass (one writer, so a pass is one
//! transaction nothing else writes during).

use super::cells::micros;
use super::*;
use crate::domain::blackout::Blackout;
use crate::domain::schedule::Schedule;
use crate::store::firing::{self, FireTx};
use crate::store::rows::Cells;
use sqlx::{Sqlite, Transaction};
use std::collections::BTreeMap;

fn taken(sch: &Schedule) -> impl FnOnce() -> String + '_ {
    || format!("a schedule named `{}` exists", sch.name)
}

pub(super) async fn create_schedule(s: &SqliteStore, sch: &Schedule) -> Result<()> {
    sqlx::query(
        "INSERT INTO schedules (name, description, timezone, rule, catch_up, catch_up_window_secs,
            paused, origin, next_fire_at, last_fire_at, updated_at, created_at, id, org_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&sch.name)
    .bind(&sch.description)
    .bind(&sch.timezone)
    .bind(json_text(&sch.rule))
    .bind(sch.catch_up.as_str())
    .bind(i64::try_from(sch.catch_up_window_secs).unwrap_or(i64::MAX))
    .bind(sch.paused)
    .bind(json_text(&sch.origin))
    .bind(sch.next_fire_at.map(micros))
    .bind(sch.last_fire_at.map(micros))
    .bind(micros(sch.updated_at))
    .bind(micros(sch.created_at))
    .bind(sch.id.to_string())
    .bind(sch.org_id.to_string())
    .execute(&s.write)
    .await
    .map_err(|e| conflict_on_unique(e, taken(sch)))?;
    Ok(())
}

pub(super) async fn update_schedule(s: &SqliteStore, sch: &Schedule) -> Result<()> {
    let done = sqlx::query(
        "UPDATE schedules SET name = ?, description = ?, timezone = ?, rule = ?, catch_up = ?,
            catch_up_window_secs = ?, paused = ?, origin = ?, next_fire_at = ?, last_fire_at = ?,
            updated_at = ?
         WHERE id = ? AND org_id = ?",
    )
    .bind(&sch.name)
    .bind(&sch.description)
    .bind(&sch.timezone)
    .bind(json_text(&sch.rule))
    .bind(sch.catch_up.as_str())
    .bind(i64::try_from(sch.catch_up_window_secs).unwrap_or(i64::MAX))
    .bind(sch.paused)
    .bind(json_text(&sch.origin))
    .bind(sch.next_fire_at.map(micros))
    .bind(sch.last_fire_at.map(micros))
    .bind(micros(sch.updated_at))
    .bind(sch.id.to_string())
    .bind(sch.org_id.to_string())
    .execute(&s.write)
    .await
    .map_err(|e| conflict_on_unique(e, taken(sch)))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("schedule {}", sch.id)));
    }
    Ok(())
}

pub(super) async fn delete_schedule(s: &SqliteStore, org_id: Uuid, id: Uuid) -> Result<()> {
    let done = sqlx::query("DELETE FROM schedules WHERE id = ? AND org_id = ?")
        .bind(id.to_string())
        .bind(org_id.to_string())
        .execute(&s.write)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("schedule {id}")));
    }
    Ok(())
}

pub(super) async fn find_schedules(
    s: &SqliteStore,
    org_id: Uuid,
    id: Option<Uuid>,
    name: Option<&str>,
) -> Result<Vec<Schedule>> {
    sqlx::query(
        "SELECT * FROM schedules WHERE org_id = ? AND (? IS NULL OR id = ?)
           AND (? IS NULL OR name = ?) ORDER BY name",
    )
    .bind(org_id.to_string())
    .bind(id.map(|i| i.to_string()))
    .bind(id.map(|i| i.to_string()))
    .bind(name)
    .bind(name)
    .fetch_all(&s.read)
    .await?
    .iter()
    .map(rows::schedule)
    .collect()
}

pub(super) async fn put_blackout(s: &SqliteStore, b: &Blackout) -> Result<()> {
    sqlx::query(
        "INSERT INTO blackouts (id, org_id, name, description, timezone, span, origin,
            created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name,
            description = excluded.description, timezone = excluded.timezone,
            span = excluded.span, origin = excluded.origin, updated_at = excluded.updated_at",
    )
    .bind(b.id.to_string())
    .bind(b.org_id.to_string())
    .bind(&b.name)
    .bind(&b.description)
    .bind(&b.timezone)
    .bind(json_text(&b.window))
    .bind(json_text(&b.origin))
    .bind(micros(b.created_at))
    .bind(micros(b.updated_at))
    .execute(&s.write)
    .await
    .map_err(|e| conflict_on_unique(e, || format!("a blackout named `{}` exists", b.name)))?;
    Ok(())
}

pub(super) async fn delete_blackout(s: &SqliteStore, org_id: Uuid, id: Uuid) -> Result<()> {
    let done = sqlx::query("DELETE FROM blackouts WHERE id = ? AND org_id = ?")
        .bind(id.to_string())
        .bind(org_id.to_string())
        .execute(&s.write)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("blackout {id}")));
    }
    Ok(())
}

pub(super) async fn list_blackouts(s: &SqliteStore, org_id: Uuid) -> Result<Vec<Blackout>> {
    sqlx::query("SELECT * FROM blackouts WHERE org_id = ? ORDER BY name")
        .bind(org_id.to_string())
        .fetch_all(&s.read)
        .await?
        .iter()
        .map(rows::blackout)
        .collect()
}

pub(super) async fn next_schedule_fire(s: &SqliteStore) -> Result<Option<DateTime<Utc>>> {
    let at: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(next_fire_at) FROM schedules WHERE paused = 0 AND next_fire_at IS NOT NULL",
    )
    .fetch_one(&s.read)
    .await?;
    Ok(at.map(super::cells::from_micros))
}

pub(super) async fn fire_schedules(
    s: &SqliteStore,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Fired> {
    let mut tx = s.write.begin().await?;
    let due: Vec<Schedule> = sqlx::query(
        "SELECT * FROM schedules WHERE paused = 0 AND next_fire_at IS NOT NULL
           AND next_fire_at <= ? ORDER BY next_fire_at LIMIT ?",
    )
    .bind(micros(now))
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(rows::schedule)
    .collect::<Result<_>>()?;
    let mut pass = Pass { tx: &mut tx };
    let out = firing::fire_all(&mut pass, &due, now).await?;
    tx.commit().await?;
    Ok(out)
}

pub(super) async fn backfill_schedule(
    s: &SqliteStore,
    schedule: &Schedule,
    fires: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> Result<Fired> {
    let mut tx = s.write.begin().await?;
    let mut pass = Pass { tx: &mut tx };
    let out = firing::backfill(&mut pass, schedule, fires, now).await?;
    tx.commit().await?;
    Ok(out)
}

struct Pass<'a, 'c> {
    tx: &'a mut Transaction<'c, Sqlite>,
}

#[async_trait]
impl FireTx for Pass<'_, '_> {
    async fn bound_tasks(
        &mut self,
        schedule: &Schedule,
    ) -> Result<Vec<(Task, BTreeMap<String, String>)>> {
        let found = sqlx::query(
            "SELECT t.*, ts.parameters AS fire_parameters
             FROM task_schedules ts JOIN tasks t ON t.id = ts.task_id
             WHERE ts.org_id = ? AND ts.schedule_name = ? ORDER BY t.id",
        )
        .bind(schedule.org_id.to_string())
        .bind(&schedule.name)
        .fetch_all(&mut **self.tx)
        .await?;
        found
            .iter()
            .map(|row| Ok((rows::task(row)?, row.doc("fire_parameters")?)))
            .collect()
    }

    async fn fire_made(&mut self, task: Uuid, schedule: Uuid, at: DateTime<Utc>) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM runs WHERE task_id = ? AND schedule_id = ? AND fire_at = ?
               AND retry_of IS NULL",
        )
        .bind(task.to_string())
        .bind(schedule.to_string())
        .bind(micros(at))
        .fetch_optional(&mut **self.tx)
        .await?;
        Ok(found.is_some())
    }

    async fn active_run(&mut self, task: Uuid) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT run_number FROM runs WHERE task_id = ? AND state IN {ACTIVE} LIMIT 1"
        ))
        .bind(task.to_string())
        .fetch_optional(&mut **self.tx)
        .await?)
    }

    async fn queue(&mut self, task: &Task, new: NewRun, now: DateTime<Utc>) -> Result<Run> {
        super::runs::queue_run(self.tx, task, new, now).await
    }

    async fn blackouts(&mut self, org: Uuid) -> Result<Vec<Blackout>> {
        sqlx::query("SELECT * FROM blackouts WHERE org_id = ?")
            .bind(org.to_string())
            .fetch_all(&mut **self.tx)
            .await?
            .iter()
            .map(rows::blackout)
            .collect()
    }

    async fn advance(
        &mut self,
        schedule: Uuid,
        next: Option<DateTime<Utc>>,
        last: Option<DateTime<Utc>>,
    ) -> Result<()> {
        sqlx::query("UPDATE schedules SET next_fire_at = ?, last_fire_at = ? WHERE id = ?")
            .bind(next.map(micros))
            .bind(last.map(micros))
            .bind(schedule.to_string())
            .execute(&mut **self.tx)
            .await?;
        Ok(())
    }
}
