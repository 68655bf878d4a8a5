//! Orgs, users and API tokens (sessions made on one node work on every node).

use super::*;
use crate::store::tokens::token_use;
use sqlx::Row;

pub(super) async fn ensure_org(s: &PgStore, id: Uuid, name: &str) -> Result<Org> {
    sqlx::query(
        "INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(name)
    .bind(Utc::now())
    .execute(&s.pool)
    .await?;
    let row = sqlx::query("SELECT * FROM orgs WHERE name = $1")
        .bind(name)
        .fetch_one(&s.pool)
        .await?;
    rows::org(&row)
}

pub(super) async fn create_org(s: &PgStore, name: &str) -> Result<Org> {
    let org = Org {
        id: Uuid::now_v7(),
        name: name.to_string(),
        created_at: now_micros(),
    };
    sqlx::query("INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(org.id)
        .bind(&org.name)
        .bind(org.created_at)
        .execute(&s.pool)
        .await
        .map_err(|e| conflict_on_unique(e, || format!("an org named `{name}` exists")))?;
    Ok(org)
}

pub(super) async fn list_orgs(s: &PgStore) -> Result<Vec<Org>> {
    sqlx::query("SELECT * FROM orgs ORDER BY name")
        .fetch_all(&s.pool)
        .await?
        .iter()
        .map(rows::org)
        .collect()
}

pub(super) async fn create_user(
    s: &PgStore,
    org_id: Uuid,
    username: &str,
    password_hash: &str,
    role: Role,
) -> Result<User> {
    let user = User {
        id: Uuid::now_v7(),
        org_id,
        username: username.to_string(),
        role,
        created_at: now_micros(),
    };
    sqlx::query(
        "INSERT INTO users (id, org_id, username, password_hash, role, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user.id)
    .bind(org_id)
    .bind(username)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(user.created_at)
    .execute(&s.pool)
    .await
    .map_err(|e| conflict_on_unique(e, || format!("a user named `{username}` exists")))?;
    Ok(user)
}

pub(super) async fn set_password(s: &PgStore, user_id: Uuid, password_hash: &str) -> Result<()> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(user_id)
        .execute(&s.pool)
        .await?;
    Ok(())
}

pub(super) async fn user_credentials(
    s: &PgStore,
    username: &str,
) -> Result<Option<(User, String)>> {
    let Some(row) = sqlx::query("SELECT * FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&s.pool)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some((rows::user(&row)?, row.try_get("password_hash")?)))
}

pub(super) async fn list_users(s: &PgStore, org_id: Uuid) -> Result<Vec<User>> {
    sqlx::query("SELECT * FROM users WHERE org_id = $1 ORDER BY username")
        .bind(org_id)
        .fetch_all(&s.pool)
        .await?
        .iter()
        .map(rows::user)
        .collect()
}

pub(super) async fn create_token(s: &PgStore, t: &NewToken<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO api_tokens
           (token_hash, user_id, name, created_at, expires_at, idle_secs, last_used_at)
         VALUES ($1, $2, $3, $4, $5, $6, $4)",
    )
    .bind(t.hash)
    .bind(t.user_id)
    .bind(t.name)
    .bind(t.created_at)
    .bind(t.expires_at)
    .bind(t.idle.map(|d| d.as_secs().max(1) as i64))
    .execute(&s.pool)
    .await?;
    Ok(())
}

pub(super) async fn user_for_token(
    s: &PgStore,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<(User, Option<DateTime<Utc>>)>> {
    let Some(row) = sqlx::query(
        "SELECT u.*, t.expires_at AS t_expires, t.idle_secs AS t_idle, t.last_used_at AS t_used
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2)
           AND (t.idle_secs IS NULL OR t.last_used_at + make_interval(secs => t.idle_secs) > $2)",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&s.pool)
    .await?
    else {
        return Ok(None);
    };
    let user = rows::user(&row)?;
    let idle: Option<i64> = row.try_get("t_idle")?;
    let used: Option<DateTime<Utc>> = row.try_get("t_used")?;
    let decision = token_use(now, row.try_get("t_expires")?, idle, used);
    if decision.touch {
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = GREATEST(last_used_at, $1) WHERE token_hash = $2",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&s.pool)
        .await?;
    }
    Ok(Some((user, decision.expiry)))
}

pub(super) async fn revoke_token(s: &PgStore, token_hash: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM api_tokens WHERE token_hash = $1")
        .bind(token_hash)
        .execute(&s.pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn revoke_user_tokens(s: &PgStore, user_id: Uuid, name: &str) -> Result<u64> {
    let done = sqlx::query("DELETE FROM api_tokens WHERE user_id = $1 AND name = $2")
        .bind(user_id)
        .bind(name)
        .execute(&s.pool)
        .await?;
    Ok(done.rows_affected())
}

pub(super) async fn set_user_role(
    s: &PgStore,
    org_id: Uuid,
    user_id: Uuid,
    role: Role,
) -> Result<User> {
    let row = sqlx::query("UPDATE users SET role = $1 WHERE id = $2 AND org_id = $3 RETURNING *")
        .bind(role.as_str())
        .bind(user_id)
        .bind(org_id)
        .fetch_optional(&s.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user {user_id}")))?;
    rows::user(&row)
}
