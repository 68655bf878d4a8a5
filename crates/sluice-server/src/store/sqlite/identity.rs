//! Orgs, users and API tokens.

use super::cells::{from_micros, micros};
use super::*;
use crate::store::rows;
use crate::store::tokens::token_use;
use sqlx::Row;

pub(super) async fn ensure_org(s: &SqliteStore, id: Uuid, name: &str) -> Result<Org> {
    sqlx::query("INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
        .bind(id.to_string())
        .bind(name)
        .bind(micros(Utc::now()))
        .execute(&s.write)
        .await?;
    let row = sqlx::query("SELECT * FROM orgs WHERE name = ?")
        .bind(name)
        .fetch_one(&s.write)
        .await?;
    rows::org(&row)
}

pub(super) async fn create_org(s: &SqliteStore, name: &str) -> Result<Org> {
    let org = Org {
        id: Uuid::now_v7(),
        name: name.to_string(),
        created_at: now_micros(),
    };
    sqlx::query("INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)")
        .bind(org.id.to_string())
        .bind(&org.name)
        .bind(micros(org.created_at))
        .execute(&s.write)
        .await
        .map_err(|e| conflict_on_unique(e, || format!("an org named `{name}` exists")))?;
    Ok(org)
}

pub(super) async fn list_orgs(s: &SqliteStore) -> Result<Vec<Org>> {
    sqlx::query("SELECT * FROM orgs ORDER BY name")
        .fetch_all(&s.read)
        .await?
        .iter()
        .map(rows::org)
        .collect()
}

pub(super) async fn create_user(
    s: &SqliteStore,
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
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(user.id.to_string())
    .bind(org_id.to_string())
    .bind(username)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(micros(user.created_at))
    .execute(&s.write)
    .await
    .map_err(|e| conflict_on_unique(e, || format!("a user named `{username}` exists")))?;
    Ok(user)
}

pub(super) async fn set_password(
    s: &SqliteStore,
    user_id: Uuid,
    password_hash: &str,
) -> Result<()> {
    sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
        .bind(password_hash)
        .bind(user_id.to_string())
        .execute(&s.write)
        .await?;
    Ok(())
}

pub(super) async fn user_credentials(
    s: &SqliteStore,
    username: &str,
) -> Result<Option<(User, String)>> {
    let Some(row) = sqlx::query("SELECT * FROM users WHERE username = ?")
        .bind(username)
        .fetch_optional(&s.write)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some((rows::user(&row)?, row.try_get("password_hash")?)))
}

pub(super) async fn list_users(s: &SqliteStore, org_id: Uuid) -> Result<Vec<User>> {
    sqlx::query("SELECT * FROM users WHERE org_id = ? ORDER BY username")
        .bind(org_id.to_string())
        .fetch_all(&s.read)
        .await?
        .iter()
        .map(rows::user)
        .collect()
}

pub(super) async fn create_token(s: &SqliteStore, t: &NewToken<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO api_tokens
           (token_hash, user_id, name, created_at, expires_at, idle_secs, last_used_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(t.hash)
    .bind(t.user_id.to_string())
    .bind(t.name)
    .bind(micros(t.created_at))
    .bind(t.expires_at.map(micros))
    .bind(t.idle.map(|d| d.as_secs().max(1) as i64))
    .bind(micros(t.created_at))
    .execute(&s.write)
    .await?;
    Ok(())
}

pub(super) async fn user_for_token(
    s: &SqliteStore,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<(User, Option<DateTime<Utc>>)>> {
    let now_us = micros(now);
    let Some(row) = sqlx::query(
        "SELECT u.*, t.expires_at AS t_expires, t.idle_secs AS t_idle, t.last_used_at AS t_used
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = ? AND (t.expires_at IS NULL OR t.expires_at > ?)
           AND (t.idle_secs IS NULL OR t.last_used_at + t.idle_secs * 1000000 > ?)",
    )
    .bind(token_hash)
    .bind(now_us)
    .bind(now_us)
    .fetch_optional(&s.read)
    .await?
    else {
        return Ok(None);
    };
    let user = rows::user(&row)?;
    let used: Option<i64> = row.try_get("t_used")?;
    let decision = token_use(
        now,
        row.try_get::<Option<i64>, _>("t_expires")?.map(from_micros),
        row.try_get("t_idle")?,
        used.map(from_micros),
    );
    if decision.touch {
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = MAX(COALESCE(last_used_at, 0), ?)
             WHERE token_hash = ?",
        )
        .bind(now_us)
        .bind(token_hash)
        .execute(&s.write)
        .await?;
    }
    Ok(Some((user, decision.expiry)))
}

pub(super) async fn revoke_token(s: &SqliteStore, token_hash: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM api_tokens WHERE token_hash = ?")
        .bind(token_hash)
        .execute(&s.write)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn revoke_user_tokens(s: &SqliteStore, user_id: Uuid, name: &str) -> Result<u64> {
    let done = sqlx::query("DELETE FROM api_tokens WHERE user_id = ? AND name = ?")
        .bind(user_id.to_string())
        .bind(name)
        .execute(&s.write)
        .await?;
    Ok(done.rows_affected())
}

pub(super) async fn set_user_role(
    s: &SqliteStore,
    org_id: Uuid,
    user_id: Uuid,
    role: Role,
) -> Result<User> {
    let row = sqlx::query("UPDATE users SET role = ? WHERE id = ? AND org_id = ? RETURNING *")
        .bind(role.as_str())
        .bind(user_id.to_string())
        .bind(org_id.to_string())
        .fetch_optional(&s.write)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user {user_id}")))?;
    rows::user(&row)
}
