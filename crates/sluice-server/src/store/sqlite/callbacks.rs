//! The callback outbox: claiming due callbacks, keeping each attempt and its outcome, resending.

use super::cells::{from_micros, micros};
use super::*;
use crate::store::rows;

pub(super) async fn claim_callbacks(
    s: &SqliteStore,
    node: &str,
    now: DateTime<Utc>,
    limit: i64,
    lease: Duration,
) -> Result<Vec<Callback>> {
    let now_us = micros(now);
    sqlx::query(
        "UPDATE callbacks SET claimed_by = ?1, claim_expires_at = ?2
         WHERE id IN (
            SELECT id FROM callbacks
            WHERE state = 'pending' AND next_attempt_at <= ?3
              AND (claim_expires_at IS NULL OR claim_expires_at <= ?3)
            ORDER BY next_attempt_at LIMIT ?4)
         RETURNING *",
    )
    .bind(node)
    .bind(micros(now + lease))
    .bind(now_us)
    .bind(limit)
    .fetch_all(&s.write)
    .await?
    .iter()
    .map(rows::callback)
    .collect()
}

pub(super) async fn release_callbacks(s: &SqliteStore, node: &str) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE callbacks SET claimed_by = NULL, claim_expires_at = NULL WHERE claimed_by = ?",
    )
    .bind(node)
    .execute(&s.write)
    .await?;
    Ok(done.rows_affected())
}

pub(super) async fn next_callback_due(s: &SqliteStore) -> Result<Option<DateTime<Utc>>> {
    let next: Option<i64> =
        sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM callbacks WHERE state = 'pending'")
            .fetch_one(&s.write)
            .await?;
    Ok(next.map(from_micros))
}

pub(super) async fn record_delivery(
    s: &SqliteStore,
    id: Uuid,
    attempt: &Attempt,
    delivery: Delivery,
) -> Result<()> {
    let (state, next_at, error) = match delivery {
        Delivery::Delivered => ("delivered", None, None),
        Delivery::Retry { at, error } => ("pending", Some(micros(at)), Some(error)),
        Delivery::GiveUp { error } => ("failed", None, Some(error)),
    };
    let mut tx = s.write.begin().await?;
    sqlx::query(
        "INSERT INTO callback_attempts
           (callback_id, attempt, started_at, ended_at, status_code, error)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (callback_id, attempt) DO NOTHING",
    )
    .bind(id.to_string())
    .bind(attempt.number)
    .bind(micros(attempt.started_at))
    .bind(micros(attempt.ended_at))
    .bind(attempt.status)
    .bind(&attempt.error)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE callbacks SET state = ?1, attempts = attempts + 1,
            round_attempts = round_attempts + 1,
            next_attempt_at = COALESCE(?2, next_attempt_at), last_error = ?3,
            delivered_at = CASE WHEN ?1 = 'delivered' THEN ?4 ELSE delivered_at END,
            claimed_by = NULL, claim_expires_at = NULL
         WHERE id = ?5",
    )
    .bind(state)
    .bind(next_at)
    .bind(error)
    .bind(micros(attempt.ended_at))
    .bind(id.to_string())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn get_callback(s: &SqliteStore, id: Uuid) -> Result<Option<Callback>> {
    sqlx::query("SELECT * FROM callbacks WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(&s.read)
        .await?
        .map(|r| rows::callback(&r))
        .transpose()
}

pub(super) async fn list_callbacks(
    s: &SqliteStore,
    run_id: Uuid,
) -> Result<Vec<(Callback, Vec<Attempt>)>> {
    let callbacks: Vec<Callback> =
        sqlx::query("SELECT * FROM callbacks WHERE run_id = ? ORDER BY created_at, id")
            .bind(run_id.to_string())
            .fetch_all(&s.read)
            .await?
            .iter()
            .map(rows::callback)
            .collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(callbacks.len());
    for cb in callbacks {
        let attempts =
            sqlx::query("SELECT * FROM callback_attempts WHERE callback_id = ? ORDER BY attempt")
                .bind(cb.id.to_string())
                .fetch_all(&s.read)
                .await?
                .iter()
                .map(rows::attempt)
                .collect::<Result<_>>()?;
        out.push((cb, attempts));
    }
    Ok(out)
}

pub(super) async fn resend_callback(
    s: &SqliteStore,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Callback> {
    sqlx::query(
        "UPDATE callbacks SET state = 'pending', next_attempt_at = ?1, round_attempts = 0,
            round_started_at = ?1, claimed_by = NULL, claim_expires_at = NULL
         WHERE id = ?2 RETURNING *",
    )
    .bind(micros(now))
    .bind(id.to_string())
    .fetch_optional(&s.write)
    .await?
    .map(|r| rows::callback(&r))
    .transpose()?
    .ok_or_else(|| StoreError::NotFound(format!("callback {id}")))
}
