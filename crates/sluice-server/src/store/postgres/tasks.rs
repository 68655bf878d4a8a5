//! Tasks and connections on PostgreSQL: definitions, looked up by id, short id, path or name.

use super::*;

fn one_task(row: Option<sqlx::postgres::PgRow>) -> Result<Option<Task>> {
    row.map(|r| rows::task(&r)).transpose()
}

fn named_task_taken(t: &Task) -> impl FnOnce() -> String + '_ {
    || format!("a task named `{}` exists in folder `{}`", t.name, t.folder)
}

/// Rewrites the schedules a task names, as rows a fire finds by index.
async fn write_bindings(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, t: &Task) -> Result<()> {
    sqlx::query("DELETE FROM task_schedules WHERE task_id = $1")
        .bind(t.id)
        .execute(&mut **tx)
        .await?;
    for b in &t.policy.schedules {
        sqlx::query(
            "INSERT INTO task_schedules (task_id, org_id, schedule_name, parameters)
             VALUES ($1, $2, $3, $4) ON CONFLICT (task_id, schedule_name) DO NOTHING",
        )
        .bind(t.id)
        .bind(t.org_id)
        .bind(&b.schedule)
        .bind(Json(&b.parameters))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

pub(super) async fn create_task(s: &PgStore, t: &Task) -> Result<()> {
    let mut tx = s.pool.begin().await?;
    let out = async {
        insert_task(&mut tx, t).await?;
        write_bindings(&mut tx, t).await
    }
    .await;
    settle(tx, out).await
}

async fn insert_task(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, t: &Task) -> Result<()> {
    sqlx::query(
        "INSERT INTO tasks (id, org_id, short_id, folder, name, task_type, description,
            allow_parallel, parameters, definition, origin, created_at, updated_at, chain, policy)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(t.id)
    .bind(t.org_id)
    .bind(t.short_id())
    .bind(&t.folder)
    .bind(&t.name)
    .bind(t.task_type.code())
    .bind(&t.description)
    .bind(t.allow_parallel)
    .bind(Json(&t.parameters))
    .bind(Json(&t.definition))
    .bind(Json(&t.origin))
    .bind(t.created_at)
    .bind(t.updated_at)
    .bind(Json(&t.chain))
    .bind(Json(&t.policy))
    .execute(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, named_task_taken(t)))?;
    Ok(())
}

pub(super) async fn update_task(s: &PgStore, t: &Task) -> Result<()> {
    let mut tx = s.pool.begin().await?;
    let out = async {
        update_row(&mut tx, t).await?;
        write_bindings(&mut tx, t).await
    }
    .await;
    settle(tx, out).await
}

async fn update_row(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, t: &Task) -> Result<()> {
    let done = sqlx::query(
        "UPDATE tasks SET folder = $1, name = $2, task_type = $3, description = $4,
            allow_parallel = $5, parameters = $6, definition = $7, origin = $8, updated_at = $9,
            chain = $10, policy = $13
         WHERE id = $11 AND org_id = $12",
    )
    .bind(&t.folder)
    .bind(&t.name)
    .bind(t.task_type.code())
    .bind(&t.description)
    .bind(t.allow_parallel)
    .bind(Json(&t.parameters))
    .bind(Json(&t.definition))
    .bind(Json(&t.origin))
    .bind(t.updated_at)
    .bind(Json(&t.chain))
    .bind(t.id)
    .bind(t.org_id)
    .bind(Json(&t.policy))
    .execute(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, named_task_taken(t)))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("task {}", t.id)));
    }
    Ok(())
}

pub(super) async fn delete_task(s: &PgStore, org_id: Uuid, id: Uuid) -> Result<()> {
    let mut tx = s.pool.begin().await?;
    let out: Result<()> = async {
        // Locked as a start locks it: no run can be queued between the check and the delete.
        let found: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM tasks WHERE id = $1 AND org_id = $2 FOR UPDATE")
                .bind(id)
                .bind(org_id)
                .fetch_optional(&mut *tx)
                .await?;
        if found.is_none() {
            return Err(StoreError::NotFound(format!("task {id}")));
        }
        let active: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM runs WHERE task_id = $1 AND state IN {ACTIVE}"
        ))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if active > 0 {
            return Err(StoreError::HasActiveRuns);
        }
        sqlx::query("DELETE FROM tasks WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
    .await;
    settle(tx, out).await
}

pub(super) async fn get_task(s: &PgStore, org_id: Uuid, id: Uuid) -> Result<Option<Task>> {
    one_task(
        sqlx::query("SELECT * FROM tasks WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(org_id)
            .fetch_optional(&s.pool)
            .await?,
    )
}

pub(super) async fn get_task_any_org(s: &PgStore, id: Uuid) -> Result<Option<Task>> {
    one_task(
        sqlx::query("SELECT * FROM tasks WHERE id = $1")
            .bind(id)
            .fetch_optional(&s.pool)
            .await?,
    )
}

pub(super) async fn get_task_by_short_id(
    s: &PgStore,
    org_id: Uuid,
    short_id: &str,
) -> Result<Option<Task>> {
    one_task(
        sqlx::query("SELECT * FROM tasks WHERE short_id = $1 AND org_id = $2")
            .bind(short_id)
            .bind(org_id)
            .fetch_optional(&s.pool)
            .await?,
    )
}

pub(super) async fn get_task_by_path(
    s: &PgStore,
    org_id: Uuid,
    folder: &str,
    name: &str,
) -> Result<Option<Task>> {
    one_task(
        sqlx::query("SELECT * FROM tasks WHERE org_id = $1 AND folder = $2 AND name = $3")
            .bind(org_id)
            .bind(folder)
            .bind(name)
            .fetch_optional(&s.pool)
            .await?,
    )
}

pub(super) async fn list_tasks(s: &PgStore, org_id: Uuid, f: &TaskFilter) -> Result<Vec<Task>> {
    sqlx::query(
        "SELECT * FROM tasks WHERE org_id = $1
           AND ($2::text IS NULL OR folder = $2) AND ($3::text IS NULL OR name = $3)
           AND ($4::text IS NULL OR task_type = $4)
         ORDER BY folder, name",
    )
    .bind(org_id)
    .bind(&f.folder)
    .bind(&f.name)
    .bind(f.task_type.map(|t| t.code()))
    .fetch_all(&s.pool)
    .await?
    .iter()
    .map(rows::task)
    .collect()
}

pub(super) async fn create_connection(s: &PgStore, c: &Connection) -> Result<()> {
    sqlx::query(
        "INSERT INTO connections (id, org_id, name, conn_type, description, config, origin,
            created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(c.id)
    .bind(c.org_id)
    .bind(&c.name)
    .bind(c.conn_type.as_str())
    .bind(&c.description)
    .bind(Json(sealed_config(s, c)))
    .bind(Json(&c.origin))
    .bind(c.created_at)
    .bind(c.updated_at)
    .execute(&s.pool)
    .await
    .map_err(|e| conflict_on_unique(e, || format!("a connection named `{}` exists", c.name)))?;
    Ok(())
}

pub(super) async fn update_connection(s: &PgStore, c: &Connection) -> Result<()> {
    let done = sqlx::query(
        "UPDATE connections SET name = $1, conn_type = $2, description = $3, config = $4,
            origin = $5, updated_at = $6
         WHERE id = $7 AND org_id = $8",
    )
    .bind(&c.name)
    .bind(c.conn_type.as_str())
    .bind(&c.description)
    .bind(Json(sealed_config(s, c)))
    .bind(Json(&c.origin))
    .bind(c.updated_at)
    .bind(c.id)
    .bind(c.org_id)
    .execute(&s.pool)
    .await
    .map_err(|e| conflict_on_unique(e, || format!("a connection named `{}` exists", c.name)))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("connection {}", c.id)));
    }
    Ok(())
}

pub(super) async fn delete_connection(s: &PgStore, org_id: Uuid, id: Uuid) -> Result<()> {
    let done = sqlx::query("DELETE FROM connections WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .execute(&s.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("connection {id}")));
    }
    Ok(())
}

pub(super) async fn get_connection(
    s: &PgStore,
    org_id: Uuid,
    id: Uuid,
) -> Result<Option<Connection>> {
    sqlx::query("SELECT * FROM connections WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .fetch_optional(&s.pool)
        .await?
        .map(|r| rows::connection(&s.keyring, &r))
        .transpose()
}

pub(super) async fn get_connection_by_name(
    s: &PgStore,
    org_id: Uuid,
    name: &str,
) -> Result<Option<Connection>> {
    sqlx::query("SELECT * FROM connections WHERE name = $1 AND org_id = $2")
        .bind(name)
        .bind(org_id)
        .fetch_optional(&s.pool)
        .await?
        .map(|r| rows::connection(&s.keyring, &r))
        .transpose()
}

pub(super) async fn list_connections(s: &PgStore, org_id: Uuid) -> Result<Vec<Connection>> {
    sqlx::query("SELECT * FROM connections WHERE org_id = $1 ORDER BY name")
        .bind(org_id)
        .fetch_all(&s.pool)
        .await?
        .iter()
        .map(|r| rows::connection(&s.keyring, r))
        .collect()
}

/// The config as stored: every literal secret sealed for this connection.
fn sealed_config(s: &PgStore, c: &Connection) -> serde_json::Value {
    let plain = serde_json::to_value(&c.config).expect("configs serialize");
    s.keyring.seal_config(c.id, plain)
}

/// Seals again every secret stored in plain text or with an earlier key, in one transaction
/// whose row locks keep two nodes starting at once from sealing the same row twice; answers how
/// many connections changed.
pub(super) async fn reseal_secrets(s: &PgStore) -> Result<usize> {
    let mut tx = s.pool.begin().await?;
    let out: Result<usize> = async {
        let stored: Vec<(Uuid, Json<serde_json::Value>)> =
            sqlx::query_as("SELECT id, config FROM connections FOR UPDATE")
                .fetch_all(&mut *tx)
                .await?;
        let mut changed = 0;
        for (id, Json(value)) in stored {
            if !s.keyring.needs_sealing(&value) {
                continue;
            }
            let opened = s.keyring.open_config(id, value)?;
            sqlx::query("UPDATE connections SET config = $1 WHERE id = $2")
                .bind(Json(s.keyring.seal_config(id, opened)))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            changed += 1;
        }
        Ok(changed)
    }
    .await;
    settle(tx, out).await
}
