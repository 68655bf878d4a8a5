//! Orgs, users and API tokens.

use super::rows::{self, micros};
use super::*;
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
        created_at: Utc::now(),
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
    is_admin: bool,
) -> Result<User> {
    let user = User {
        id: Uuid::now_v7(),
        org_id,
        username: username.to_string(),
        is_admin,
        created_at: Utc::now(),
    };
    sqlx::query(
        "INSERT INTO users (id, org_id, username, password_hash, is_admin, created_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(user.id.to_string())
    .bind(org_id.to_string())
    .bind(username)
    .bind(password_hash)
    .bind(is_admin)
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

pub(super) async fn create_token(
    s: &SqliteStore,
    user_id: Uuid,
    token_hash: &str,
    name: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO api_tokens (token_hash, user_id, name, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(token_hash)
    .bind(user_id.to_string())
    .bind(name)
    .bind(micros(Utc::now()))
    .bind(expires_at.map(micros))
    .execute(&s.write)
    .await?;
    Ok(())
}

pub(super) async fn user_for_token(
    s: &SqliteStore,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<User>> {
    sqlx::query(
        "SELECT u.* FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = ? AND (t.expires_at IS NULL OR t.expires_at > ?)",
    )
    .bind(token_hash)
    .bind(micros(now))
    .fetch_optional(&s.read)
    .await?
    .map(|r| rows::user(&r))
    .transpose()
}
