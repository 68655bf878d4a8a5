//! Schedules on PostgreSQL: definitions, and the firing pass. Nodes fire at once; each pass locks
//! the due schedules it takes and skips those another node holds (`FOR UPDATE SKIP LOCKED`), so
//! each fire is made by one node, in the transaction that moves its schedule on.

use super::*;
use crate::domain::blackout::Blackout;
use crate::domain::schedule::Schedule;
use crate::store::firing::{self, FireTx};
use crate::store::rows::Cells;
use sqlx::{Postgres, Transaction};
use std::collections::BTreeMap;

fn taken(sch: &Schedule) -> impl FnOnce() -> String + '_ {
    || format!("a schedule named `{}` exists", sch.name)
}

fn window(sch: &Schedule) -> i64 {
    i64::try_from(sch.catch_up_window_secs).unwrap_or(i64::MAX)
}

pub(super) async fn create_schedule(s: &PgStore, sch: &Schedule) -> Result<()> {
    sqlx::query(
        "INSERT INTO schedules (name, description, timezone, rule, catch_up, catch_up_window_secs,
            paused, origin, next_fire_at, last_fire_at, updated_at, created_at, id, org_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&sch.name)
    .bind(&sch.description)
    .bind(&sch.timezone)
    .bind(Json(&sch.rule))
    .bind(sch.catch_up.as_str())
    .bind(window(sch))
    .bind(sch.paused)
    .bind(Json(&sch.origin))
    .bind(sch.next_fire_at)
    .bind(sch.last_fire_at)
    .bind(sch.updated_at)
    .bind(sch.created_at)
    .bind(sch.id)
    .bind(sch.org_id)
    .execute(&s.pool)
    .await
    .map_err(|e| conflict_on_unique(e, taken(sch)))?;
    Ok(())
}

pub(super) async fn update_schedule(s: &PgStore, sch: &Schedule) -> Result<()> {
    let done = sqlx::query(
        "UPDATE schedules SET name = $1, description = $2, timezone = $3, rule = $4,
            catch_up = $5, catch_up_window_secs = $6, paused = $7, origin = $8,
            next_fire_at = $9, last_fire_at = $10, updated_at = $11
         WHERE id = $12 AND org_id = $13",
    )
    .bind(&sch.name)
    .bind(&sch.description)
    .bind(&sch.timezone)
    .bind(Json(&sch.rule))
    .bind(sch.catch_up.as_str())
    .bind(window(sch))
    .bind(sch.paused)
    .bind(Json(&sch.origin))
    .bind(sch.next_fire_at)
    .bind(sch.last_fire_at)
    .bind(sch.updated_at)
    .bind(sch.id)
    .bind(sch.org_id)
    .execute(&s.pool)
    .await
    .map_err(|e| conflict_on_unique(e, taken(sch)))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("schedule {}", sch.id)));
    }
    Ok(())
}

pub(super) async fn delete_schedule(s: &PgStore, org_id: Uuid, id: Uuid) -> Result<()> {
    let done = sqlx::query("DELETE FROM schedules WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .execute(&s.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("schedule {id}")));
    }
    Ok(())
}

pub(super) async fn find_schedules(
    s: &PgStore,
    org_id: Uuid,
    id: Option<Uuid>,
    name: Option<&str>,
) -> Result<Vec<Schedule>> {
    sqlx::query(
        "SELECT * FROM schedules WHERE org_id = $1 AND ($2::uuid IS NULL OR id = $2)
           AND ($3::text IS NULL OR name = $3) ORDER BY name",
    )
    .bind(org_id)
    .bind(id)
    .bind(name)
    .fetch_all(&s.pool)
    .await?
    .iter()
    .map(rows::schedule)
    .collect()
}

pub(super) async fn put_blackout(s: &PgStore, b: &Blackout) -> Result<()> {
    sqlx::query(
        "INSERT INTO blackouts (id, org_id, name, description, timezone, span, origin,
            created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name,
            description = excluded.description, timezone = excluded.timezone,
            span = excluded.span, origin = excluded.origin, updated_at = excluded.updated_at",
    )
    .bind(b.id)
    .bind(b.org_id)
    .bind(&b.name)
    .bind(&b.description)
    .bind(&b.timezone)
    .bind(Json(&b.window))
    .bind(Json(&b.origin))
    .bind(b.created_at)
    .bind(b.updated_at)
    .execute(&s.pool)
    .await
    .map_err(|e| conflict_on_unique(e, || format!("a blackout named `{}` exists", b.name)))?;
    Ok(())
}

pub(super) async fn delete_blackout(s: &PgStore, org_id: Uuid, id: Uuid) -> Result<()> {
    let done = sqlx::query("DELETE FROM blackouts WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .execute(&s.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("blackout {id}")));
    }
    Ok(())
}

pub(super) async fn list_blackouts(s: &PgStore, org_id: Uuid) -> Result<Vec<Blackout>> {
    sqlx::query("SELECT * FROM blackouts WHERE org_id = $1 ORDER BY name")
        .bind(org_id)
        .fetch_all(&s.pool)
        .await?
        .iter()
        .map(rows::blackout)
        .collect()
}

pub(super) async fn next_schedule_fire(s: &PgStore) -> Result<Option<DateTime<Utc>>> {
    Ok(sqlx::query_scalar(
        "SELECT MIN(next_fire_at) FROM schedules WHERE NOT paused AND next_fire_at IS NOT NULL",
    )
    .fetch_one(&s.pool)
    .await?)
}

pub(super) async fn fire_schedules(s: &PgStore, now: DateTime<Utc>, limit: i64) -> Result<Fired> {
    let mut tx = s.pool.begin().await?;
    let out: Result<Fired> = async {
        let due: Vec<Schedule> = sqlx::query(
            "SELECT * FROM schedules WHERE NOT paused AND next_fire_at IS NOT NULL
               AND next_fire_at <= $1 ORDER BY next_fire_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(rows::schedule)
        .collect::<Result<_>>()?;
        let mut pass = Pass { tx: &mut tx };
        let out = firing::fire_all(&mut pass, &due, now).await?;
        if !out.runs.is_empty() {
            wake::notify(s, &mut tx, "queued").await?;
        }
        Ok(out)
    }
    .await;
    settle(tx, out).await
}

pub(super) async fn backfill_schedule(
    s: &PgStore,
    schedule: &Schedule,
    fires: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> Result<Fired> {
    let mut tx = s.pool.begin().await?;
    let out: Result<Fired> = async {
        // Holding the schedule's row keeps a firing pass (or another backfill) from making the
        // same fire between the check and the insert.
        sqlx::query("SELECT 1 FROM schedules WHERE id = $1 FOR UPDATE")
            .bind(schedule.id)
            .execute(&mut *tx)
            .await?;
        let mut pass = Pass { tx: &mut tx };
        let out = firing::backfill(&mut pass, schedule, fires, now).await?;
        if !out.runs.is_empty() {
            wake::notify(s, &mut tx, "queued").await?;
        }
        Ok(out)
    }
    .await;
    settle(tx, out).await
}

struct Pass<'a, 'c> {
    tx: &'a mut Transaction<'c, Postgres>,
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
             WHERE ts.org_id = $1 AND ts.schedule_name = $2 ORDER BY t.id",
        )
        .bind(schedule.org_id)
        .bind(&schedule.name)
        .fetch_all(&mut **self.tx)
        .await?;
        found
            .iter()
            .map(|row| Ok((rows::task(row)?, row.doc("fire_parameters")?)))
            .collect()
    }

    async fn fire_made(&mut self, task: Uuid, schedule: Uuid, at: DateTime<Utc>) -> Result<bool> {
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM runs WHERE task_id = $1 AND schedule_id = $2 AND fire_at = $3
               AND retry_of IS NULL",
        )
        .bind(task)
        .bind(schedule)
        .bind(at)
        .fetch_optional(&mut **self.tx)
        .await?;
        Ok(found.is_some())
    }

    async fn active_run(&mut self, task: Uuid) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT run_number FROM runs WHERE task_id = $1 AND state IN {ACTIVE} LIMIT 1"
        ))
        .bind(task)
        .fetch_optional(&mut **self.tx)
        .await?)
    }

    async fn queue(&mut self, task: &Task, new: NewRun, now: DateTime<Utc>) -> Result<Run> {
        super::runs::queue_run(self.tx, task, new, now).await
    }

    async fn blackouts(&mut self, org: Uuid) -> Result<Vec<Blackout>> {
        sqlx::query("SELECT * FROM blackouts WHERE org_id = $1")
            .bind(org)
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
        sqlx::query("UPDATE schedules SET next_fire_at = $1, last_fire_at = $2 WHERE id = $3")
            .bind(next)
            .bind(last)
            .bind(schedule)
            .execute(&mut **self.tx)
            .await?;
        Ok(())
    }
}
