//! The callback outbox: due callbacks and the outcome of each delivery attempt.

use super::rows::{self, from_micros, micros};
use super::*;
use sqlx::Row;

pub(super) async fn due_callbacks(
    s: &SqliteStore,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Callback>> {
    sqlx::query(
        "SELECT * FROM callbacks WHERE state = 'pending' AND next_attempt_at <= ?
         ORDER BY next_attempt_at LIMIT ?",
    )
    .bind(micros(now))
    .bind(limit)
    .fetch_all(&s.write)
    .await?
    .iter()
    .map(rows::callback)
    .collect()
}

pub(super) async fn next_callback_due(s: &SqliteStore) -> Result<Option<DateTime<Utc>>> {
    let next: Option<i64> =
        sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM callbacks WHERE state = 'pending'")
            .fetch_one(&s.write)
            .await?;
    Ok(next.map(from_micros))
}

pub(super) async fn record_delivery(s: &SqliteStore, id: Uuid, delivery: Delivery) -> Result<()> {
    let (state, next_at, error) = match delivery {
        Delivery::Delivered => ("delivered", None, None),
        Delivery::Retry { at, error } => ("pending", Some(micros(at)), Some(error)),
        Delivery::GiveUp { error } => ("failed", None, Some(error)),
    };
    sqlx::query(
        "UPDATE callbacks SET state = ?1, attempts = attempts + 1,
            next_attempt_at = COALESCE(?2, next_attempt_at), last_error = ?3,
            delivered_at = CASE WHEN ?1 = 'delivered' THEN ?4 ELSE delivered_at END
         WHERE id = ?5",
    )
    .bind(state)
    .bind(next_at)
    .bind(error)
    .bind(micros(Utc::now()))
    .bind(id.to_string())
    .execute(&s.write)
    .await?;
    Ok(())
}

pub(super) async fn run_callbacks(
    s: &SqliteStore,
    run_id: Uuid,
) -> Result<Vec<(Callback, String, Option<String>)>> {
    sqlx::query("SELECT * FROM callbacks WHERE run_id = ? ORDER BY created_at")
        .bind(run_id.to_string())
        .fetch_all(&s.read)
        .await?
        .iter()
        .map(|r| {
            Ok((
                rows::callback(r)?,
                r.try_get("state")?,
                r.try_get("last_error")?,
            ))
        })
        .collect()
}
