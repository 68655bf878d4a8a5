//! The SQLite connector (sqlx): connection checks, catalog lookups, streaming reads, and
//! transactional writes. The endpoint's `url` is the database file's path.
//!
//! SQLite is dynamically typed: a column's declared type is a hint. Sluice reads and writes by the
//! declared type (its affinity plus well-known names: BOOLEAN, DATE, DATETIME, DECIMAL(p,s), JSON,
//! UUID) and stores dates, times and exact decimals as text, which SQLite compares correctly.

mod read;
mod write;

pub use read::open_reader;
pub use write::open_writer;

use super::sql::Dialect;
use super::types::{TargetColumn, TargetType};
use super::{DbKind, Endpoint, ObjectName};
use crate::engine::EngineError;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Row, SqliteConnection};
use std::time::Duration;

const DIALECT: Dialect = Dialect(DbKind::Sqlite);

pub(crate) fn lite_err(ep: &Endpoint, e: sqlx::Error) -> EngineError {
    let m = match &e {
        sqlx::Error::Database(d) => d.message().to_string(),
        other => other.to_string(),
    };
    EngineError::Data(format!("SQLite `{}`: {m}", ep.name))
}

/// Opens the database file; `create` makes a missing one (targets), else it is an error.
pub(crate) async fn connect(ep: &Endpoint, create: bool) -> Result<SqliteConnection, EngineError> {
    let path = std::path::Path::new(&ep.url);
    if !create && !path.exists() {
        return Err(EngineError::Data(format!(
            "SQLite `{}`: the database file {} does not exist",
            ep.name, ep.url
        )));
    }
    if create && let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            EngineError::Data(format!("SQLite `{}`: {}: {e}", ep.name, dir.display()))
        })?;
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(create)
        // A reader holding the file briefly must not fail a load.
        .busy_timeout(Duration::from_secs(30));
    SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| lite_err(ep, e))
}

pub async fn check(ep: &Endpoint) -> Result<String, EngineError> {
    let mut conn = connect(ep, false).await?;
    let v: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| lite_err(ep, e))?;
    Ok(format!("SQLite {v}, file {}", ep.url))
}

pub async fn execute(ep: &Endpoint, sql: &str) -> Result<(), EngineError> {
    let mut conn = connect(ep, true).await?;
    sqlx::query(sql)
        .execute(&mut conn)
        .await
        .map_err(|e| lite_err(ep, e))?;
    Ok(())
}

/// A column as `pragma_table_info` declares it.
pub(crate) struct LiteColumn {
    pub name: String,
    pub declared: String,
    pub not_null: bool,
    pub pk: i64,
}

pub(crate) async fn columns_of(
    conn: &mut SqliteConnection,
    ep: &Endpoint,
    table: &ObjectName,
) -> Result<Vec<LiteColumn>, EngineError> {
    let rows =
        sqlx::query("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?, ?) ORDER BY cid")
            // Owned binds: a borrowed `&str` bind makes the future's Send bound lifetime-specific.
            .bind(table.name.clone())
            .bind(table.schema.clone().unwrap_or_else(|| "main".into()))
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| lite_err(ep, e))?;
    Ok(rows
        .iter()
        .map(|r| LiteColumn {
            name: r.get(0),
            declared: r.get(1),
            not_null: r.get::<i64, _>(2) != 0,
            pk: r.get(3),
        })
        .collect())
}

/// `(precision, scale)` written in a declared type: `DECIMAL(12,2)`.
pub(crate) fn precision_of(declared: &str) -> Option<(u8, i8)> {
    let inner = declared.split_once('(')?.1.split_once(')')?.0;
    let mut parts = inner.split(',').map(|p| p.trim().parse::<i64>().ok());
    let p = parts.next()??;
    let s = parts.next().flatten().unwrap_or(0);
    Some((u8::try_from(p).ok()?, i8::try_from(s).ok()?))
}

/// What a declared type holds, by SQLite's affinity rules and well-known type names.
pub(crate) fn target_type(declared: &str) -> TargetType {
    let d = declared.to_ascii_uppercase();
    let has = |s: &str| d.contains(s);
    if has("BOOL") {
        TargetType::Bool
    } else if has("INT") {
        // SQLite integers are 8 bytes whatever the declared name.
        TargetType::Int {
            bytes: 8,
            unsigned: false,
        }
    } else if has("TIMESTAMPTZ") {
        TargetType::Timestamp { tz: true }
    } else if has("DATETIME") || has("TIMESTAMP") {
        TargetType::Timestamp { tz: false }
    } else if has("DATE") {
        TargetType::Date
    } else if has("TIME") {
        TargetType::Time
    } else if has("JSON") {
        TargetType::Json
    } else if has("UUID") {
        TargetType::Uuid
    } else if has("CHAR") || has("CLOB") || has("TEXT") {
        // SQLite does not enforce VARCHAR(n): neither does Sluice.
        TargetType::text()
    } else if has("BLOB") {
        TargetType::Binary { max_bytes: None }
    } else if has("REAL") || has("FLOA") || has("DOUB") {
        TargetType::Float { bytes: 8 }
    } else if has("DEC") || has("NUMERIC") {
        match precision_of(&d) {
            Some((p, s)) if p <= 38 && s >= 0 => TargetType::Decimal {
                precision: p,
                scale: s,
            },
            _ => TargetType::Other,
        }
    } else {
        TargetType::Other
    }
}

pub async fn describe_table(
    ep: &Endpoint,
    table: &ObjectName,
) -> Result<Option<Vec<TargetColumn>>, EngineError> {
    if !std::path::Path::new(&ep.url).exists() {
        return Ok(None);
    }
    let mut conn = connect(ep, false).await?;
    let cols = columns_of(&mut conn, ep, table).await?;
    if cols.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        cols.into_iter()
            .map(|c| TargetColumn {
                ty: target_type(&c.declared),
                nullable: !c.not_null,
                declared: if c.declared.is_empty() {
                    "(no type)".into()
                } else {
                    c.declared
                },
                name: c.name,
            })
            .collect(),
    ))
}

pub async fn list_tables(
    ep: &Endpoint,
    schema: Option<&str>,
) -> Result<Vec<ObjectName>, EngineError> {
    let mut conn = connect(ep, false).await?;
    let schema_name = schema.unwrap_or("main");
    let sql = format!(
        "SELECT name FROM {}.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        DIALECT.quote(schema_name)
    );
    let names: Vec<String> = sqlx::query_scalar(&sql)
        .fetch_all(&mut conn)
        .await
        .map_err(|e| lite_err(ep, e))?;
    Ok(names
        .into_iter()
        .map(|name| ObjectName {
            schema: schema.map(str::to_string),
            name,
        })
        .collect())
}

pub async fn primary_key(ep: &Endpoint, table: &ObjectName) -> Result<Vec<String>, EngineError> {
    let mut conn = connect(ep, false).await?;
    let mut cols: Vec<LiteColumn> = columns_of(&mut conn, ep, table)
        .await?
        .into_iter()
        .filter(|c| c.pk > 0)
        .collect();
    cols.sort_by_key(|c| c.pk);
    Ok(cols.into_iter().map(|c| c.name).collect())
}

#[cfg(test)]
mod tests;
