//! The callback outbox on PostgreSQL: nodes claim due callbacks without waiting on each other
//! (`SKIP LOCKED`), so exactly one node makes each attempt.

use super::*;

pub(super) async fn claim_callbacks(
    s: &PgStore,
    node: &str,
    now: DateTime<Utc>,
    limit: i64,
    lease: Duration,
) -> Result<Vec<Callback>> {
    sqlx::query(
        "UPDATE callbacks SET claimed_by = $1, claim_expires_at = $2
         WHERE id IN (
            SELECT id FROM callbacks
            WHERE state = 'pending' AND next_attempt_at <= $3
              AND (claim_expires_at IS NULL OR claim_expires_at <= $3)
            ORDER BY next_attempt_at LIMIT $4
            FOR UPDATE SKIP LOCKED)
         RETURNING *",
    )
    .bind(node)
    .bind(now + lease)
    .bind(now)
    .bind(limit)
    .fetch_all(&s.pool)
    .await?
    .iter()
    .map(rows::callback)
    .collect()
}

pub(super) async fn release_callbacks(s: &PgStore, node: &str) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE callbacks SET claimed_by = NULL, claim_expires_at = NULL WHERE claimed_by = $1",
    )
    .bind(node)
    .execute(&s.pool)
    .await?;
    Ok(done.rows_affected())
}

pub(super) async fn next_callback_due(s: &PgStore) -> Result<Option<DateTime<Utc>>> {
    Ok(
        sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM callbacks WHERE state = 'pending'")
            .fetch_one(&s.pool)
            .await?,
    )
}

pub(super) async fn record_delivery(
    s: &PgStore,
    id: Uuid,
    attempt: &Attempt,
    delivery: Delivery,
) -> Result<()> {
    let (state, next_at, error) = match delivery {
        Delivery::Delivered => ("delivered", None, None),
        Delivery::Retry { at, error } => ("pending", Some(at), Some(error)),
        Delivery::GiveUp { error } => ("failed", None, Some(error)),
    };
    let mut tx = s.pool.begin().await?;
    let out: Result<()> = async {
        sqlx::query(
            "INSERT INTO callback_attempts
               (callback_id, attempt, started_at, ended_at, status_code, error)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (callback_id, attempt) DO NOTHING",
        )
        .bind(id)
        .bind(attempt.number)
        .bind(attempt.started_at)
        .bind(attempt.ended_at)
        .bind(attempt.status)
        .bind(&attempt.error)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE callbacks SET state = $1, attempts = attempts + 1,
                round_attempts = round_attempts + 1,
                next_attempt_at = COALESCE($2, next_attempt_at), last_error = $3,
                delivered_at = CASE WHEN $1 = 'delivered' THEN $4 ELSE delivered_at END,
                claimed_by = NULL, claim_expires_at = NULL
             WHERE id = $5",
        )
        .bind(state)
        .bind(next_at)
        .bind(error)
        .bind(attempt.ended_at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
    .await;
    settle(tx, out).await
}

pub(super) async fn get_callback(s: &PgStore, id: Uuid) -> Result<Option<Callback>> {
    sqlx::query("SELECT * FROM callbacks WHERE id = $1")
        .bind(id)
        .fetch_optional(&s.pool)
        .await?
        .map(|r| rows::callback(&r))
        .transpose()
}

pub(super) async fn list_callbacks(
    s: &PgStore,
    run_id: Uuid,
) -> Result<Vec<(Callback, Vec<Attempt>)>> {
    let callbacks: Vec<Callback> =
        sqlx::query("SELECT * FROM callbacks WHERE run_id = $1 ORDER BY created_at, id")
            .bind(run_id)
            .fetch_all(&s.pool)
            .await?
            .iter()
            .map(rows::callback)
            .collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(callbacks.len());
    for cb in callbacks {
        let attempts =
            sqlx::query("SELECT * FROM callback_attempts WHERE callback_id = $1 ORDER BY attempt")
                .bind(cb.id)
                .fetch_all(&s.pool)
                .await?
                .iter()
                .map(rows::attempt)
                .collect::<Result<_>>()?;
        out.push((cb, attempts));
    }
    Ok(out)
}

pub(super) async fn resend_callback(s: &PgStore, id: Uuid, now: DateTime<Utc>) -> Result<Callback> {
    let mut tx = s.pool.begin().await?;
    let out: Result<Callback> = async {
        let callback = sqlx::query(
            "UPDATE callbacks SET state = 'pending', next_attempt_at = $1, round_attempts = 0,
                round_started_at = $1, claimed_by = NULL, claim_expires_at = NULL
             WHERE id = $2 RETURNING *",
        )
        .bind(now)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| rows::callback(&r))
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(format!("callback {id}")))?;
        wake::notify(s, &mut tx, "callback").await?;
        Ok(callback)
    }
    .await;
    settle(tx, out).await
}
