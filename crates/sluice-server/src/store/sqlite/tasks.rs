//! Tasks and connections: definitions, looked up by id, short id, path or name.

use super::cells::micros;
use super::*;
use crate::store::rows;

async fn one_task(s: &SqliteStore, sql: &str, binds: &[&str]) -> Result<Option<Task>> {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = q.bind(*b);
    }
    q.fetch_optional(&s.read)
        .await?
        .map(|r| rows::task(&r))
        .transpose()
}

/// Rewrites the schedules a task names, as rows a fire finds by index.
async fn write_bindings(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>, t: &Task) -> Result<()> {
    sqlx::query("DELETE FROM task_schedules WHERE task_id = ?")
        .bind(t.id.to_string())
        .execute(&mut **tx)
        .await?;
    for b in &t.policy.schedules {
        sqlx::query(
            "INSERT OR REPLACE INTO task_schedules (task_id, org_id, schedule_name, parameters)
             VALUES (?, ?, ?, ?)",
        )
        .bind(t.id.to_string())
        .bind(t.org_id.to_string())
        .bind(&b.schedule)
        .bind(json_text(&b.parameters))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

pub(super) async fn create_task(s: &SqliteStore, t: &Task) -> Result<()> {
    let mut tx = s.write.begin().await?;
    sqlx::query(
        "INSERT INTO tasks (id, org_id, short_id, folder, name, task_type, description,
            allow_parallel, parameters, definition, origin, created_at, updated_at, chain, policy)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(t.id.to_string())
    .bind(t.org_id.to_string())
    .bind(t.short_id())
    .bind(&t.folder)
    .bind(&t.name)
    .bind(t.task_type.code())
    .bind(&t.description)
    .bind(t.allow_parallel)
    .bind(json_text(&t.parameters))
    .bind(json_text(&t.definition))
    .bind(json_text(&t.origin))
    .bind(micros(t.created_at))
    .bind(micros(t.updated_at))
    .bind(json_text(&t.chain))
    .bind(json_text(&t.policy))
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        conflict_on_unique(e, || {
            format!("a task named `{}` exists in folder `{}`", t.name, t.folder)
        })
    })?;
    write_bindings(&mut tx, t).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn update_task(s: &SqliteStore, t: &Task) -> Result<()> {
    let mut tx = s.write.begin().await?;
    let done = sqlx::query(
        "UPDATE tasks SET folder = ?, name = ?, task_type = ?, description = ?,
            allow_parallel = ?, parameters = ?, definition = ?, origin = ?, updated_at = ?,
            chain = ?, policy = ?
         WHERE id = ? AND org_id = ?",
    )
    .bind(&t.folder)
    .bind(&t.name)
    .bind(t.task_type.code())
    .bind(&t.description)
    .bind(t.allow_parallel)
    .bind(json_text(&t.parameters))
    .bind(json_text(&t.definition))
    .bind(json_text(&t.origin))
    .bind(micros(t.updated_at))
    .bind(json_text(&t.chain))
    .bind(json_text(&t.policy))
    .bind(t.id.to_string())
    .bind(t.org_id.to_string())
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        conflict_on_unique(e, || {
            format!("a task named `{}` exists in folder `{}`", t.name, t.folder)
        })
    })?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("task {}", t.id)));
    }
    write_bindings(&mut tx, t).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn delete_task(s: &SqliteStore, org_id: Uuid, id: Uuid) -> Result<()> {
    let mut tx = s.write.begin().await?;
    let active: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM runs WHERE task_id = ? AND state IN {ACTIVE}"
    ))
    .bind(id.to_string())
    .fetch_one(&mut *tx)
    .await?;
    if active > 0 {
        return Err(StoreError::HasActiveRuns);
    }
    let done = sqlx::query("DELETE FROM tasks WHERE id = ? AND org_id = ?")
        .bind(id.to_string())
        .bind(org_id.to_string())
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("task {id}")));
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn get_task(s: &SqliteStore, org_id: Uuid, id: Uuid) -> Result<Option<Task>> {
    one_task(
        s,
        "SELECT * FROM tasks WHERE id = ? AND org_id = ?",
        &[&id.to_string(), &org_id.to_string()],
    )
    .await
}

pub(super) async fn get_task_by_short_id(
    s: &SqliteStore,
    org_id: Uuid,
    short_id: &str,
) -> Result<Option<Task>> {
    one_task(
        s,
        "SELECT * FROM tasks WHERE short_id = ? AND org_id = ?",
        &[short_id, &org_id.to_string()],
    )
    .await
}

pub(super) async fn get_task_by_path(
    s: &SqliteStore,
    org_id: Uuid,
    folder: &str,
    name: &str,
) -> Result<Option<Task>> {
    one_task(
        s,
        "SELECT * FROM tasks WHERE org_id = ? AND folder = ? AND name = ?",
        &[&org_id.to_string(), folder, name],
    )
    .await
}

pub(super) async fn list_tasks(s: &SqliteStore, org_id: Uuid, f: &TaskFilter) -> Result<Vec<Task>> {
    sqlx::query(
        "SELECT * FROM tasks WHERE org_id = ?
           AND (?2 IS NULL OR folder = ?2) AND (?3 IS NULL OR name = ?3)
           AND (?4 IS NULL OR task_type = ?4)
         ORDER BY folder, name",
    )
    .bind(org_id.to_string())
    .bind(&f.folder)
    .bind(&f.name)
    .bind(f.task_type.map(|t| t.code()))
    .fetch_all(&s.read)
    .await?
    .iter()
    .map(rows::task)
    .collect()
}

pub(super) async fn create_connection(s: &SqliteStore, c: &Connection) -> Result<()> {
    sqlx::query(
        "INSERT INTO connections (id, org_id, name, conn_type, description, config, origin,
            created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(c.id.to_string())
    .bind(c.org_id.to_string())
    .bind(&c.name)
    .bind(c.conn_type.as_str())
    .bind(&c.description)
    .bind(sealed_config(s, c))
    .bind(json_text(&c.origin))
    .bind(micros(c.created_at))
    .bind(micros(c.updated_at))
    .execute(&s.write)
    .await
    .map_err(|e| conflict_on_unique(e, || format!("a connection named `{}` exists", c.name)))?;
    Ok(())
}

pub(super) async fn update_connection(s: &SqliteStore, c: &Connection) -> Result<()> {
    let done = sqlx::query(
        "UPDATE connections SET name = ?, conn_type = ?, description = ?, config = ?,
            origin = ?, updated_at = ?
         WHERE id = ? AND org_id = ?",
    )
    .bind(&c.name)
    .bind(c.conn_type.as_str())
    .bind(&c.description)
    .bind(sealed_config(s, c))
    .bind(json_text(&c.origin))
    .bind(micros(c.updated_at))
    .bind(c.id.to_string())
    .bind(c.org_id.to_string())
    .execute(&s.write)
    .await
    .map_err(|e| conflict_on_unique(e, || format!("a connection named `{}` exists", c.name)))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("connection {}", c.id)));
    }
    Ok(())
}

pub(super) async fn delete_connection(s: &SqliteStore, org_id: Uuid, id: Uuid) -> Result<()> {
    let done = sqlx::query("DELETE FROM connections WHERE id = ? AND org_id = ?")
        .bind(id.to_string())
        .bind(org_id.to_string())
        .execute(&s.write)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("connection {id}")));
    }
    Ok(())
}

pub(super) async fn get_connection(
    s: &SqliteStore,
    org_id: Uuid,
    id: Uuid,
) -> Result<Option<Connection>> {
    sqlx::query("SELECT * FROM connections WHERE id = ? AND org_id = ?")
        .bind(id.to_string())
        .bind(org_id.to_string())
        .fetch_optional(&s.read)
        .await?
        .map(|r| rows::connection(&s.keyring, &r))
        .transpose()
}

pub(super) async fn get_connection_by_name(
    s: &SqliteStore,
    org_id: Uuid,
    name: &str,
) -> Result<Option<Connection>> {
    sqlx::query("SELECT * FROM connections WHERE name = ? AND org_id = ?")
        .bind(name)
        .bind(org_id.to_string())
        .fetch_optional(&s.read)
        .await?
        .map(|r| rows::connection(&s.keyring, &r))
        .transpose()
}

pub(super) async fn list_connections(s: &SqliteStore, org_id: Uuid) -> Result<Vec<Connection>> {
    sqlx::query("SELECT * FROM connections WHERE org_id = ? ORDER BY name")
        .bind(org_id.to_string())
        .fetch_all(&s.read)
        .await?
        .iter()
        .map(|r| rows::connection(&s.keyring, r))
        .collect()
}

/// The config as stored: every literal secret sealed for this connection.
fn sealed_config(s: &SqliteStore, c: &Connection) -> String {
    let plain = serde_json::to_value(&c.config).expect("configs serialize");
    s.keyring.seal_config(c.id, plain).to_string()
}

/// Seals again every secret stored in plain text (a database from before sealing) or with an
/// earlier key (a rotation), in one transaction; returns how many connections changed.
pub(super) async fn reseal_secrets(s: &SqliteStore) -> Result<usize> {
    let mut tx = s.write.begin().await?;
    let stored: Vec<(String, String)> = sqlx::query_as("SELECT id, config FROM connections")
        .fetch_all(&mut *tx)
        .await?;
    let mut changed = 0;
    for (id, config) in stored {
        let uuid = Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(format!("{id}: {e}")))?;
        let value: serde_json::Value = serde_json::from_str(&config)
            .map_err(|e| StoreError::Corrupt(format!("connection {id}: {e}")))?;
        if !s.keyring.needs_sealing(&value) {
            continue;
        }
        let opened = s.keyring.open_config(uuid, value)?;
        let sealed = s.keyring.seal_config(uuid, opened).to_string();
        sqlx::query("UPDATE connections SET config = ? WHERE id = ?")
            .bind(sealed)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        changed += 1;
    }
    tx.commit().await?;
    Ok(changed)
}
