//! The MySQL/MariaDB connector (mysql_async): connection checks, catalog lookups from
//! information_schema, streaming reads over the binary protocol, and transactional writes with
//! large multi-row prepared inserts. Sessions run in UTC with strict SQL mode, so a value MySQL
//! would truncate is an error (a reject), never a silent change.

mod read;
mod write;

pub use read::open_reader;
pub use write::open_writer;

use super::sql::Dialect;
use super::types::{TargetColumn, TargetType};
use super::{DbKind, Endpoint, ObjectName};
use crate::engine::EngineError;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, Row};

const DIALECT: Dialect = Dialect(DbKind::Mysql);

pub(crate) fn my_message(e: &mysql_async::Error) -> String {
    match e {
        mysql_async::Error::Server(s) => format!("ERROR {} ({}): {}", s.code, s.state, s.message),
        other => other.to_string(),
    }
}

pub(crate) fn my_err(ep: &Endpoint, e: mysql_async::Error) -> EngineError {
    EngineError::Data(format!("MySQL `{}`: {}", ep.name, my_message(&e)))
}

pub(crate) async fn connect(ep: &Endpoint) -> Result<Conn, EngineError> {
    let opts = Opts::from_url(&ep.url)
        .map_err(|e| EngineError::Definition(format!("connection `{}`: {e}", ep.name)))?;
    let mut conn = Conn::new(opts).await.map_err(|e| my_err(ep, e))?;
    conn.query_drop(
        "SET SESSION time_zone = '+00:00', \
         sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
    )
    .await
    .map_err(|e| my_err(ep, e))?;
    Ok(conn)
}

pub async fn check(ep: &Endpoint) -> Result<String, EngineError> {
    let mut conn = connect(ep).await?;
    let row: Option<(String, Option<String>)> = conn
        .query_first("SELECT VERSION(), DATABASE()")
        .await
        .map_err(|e| my_err(ep, e))?;
    let (version, db) = row.unwrap_or_default();
    let product = if version.to_ascii_lowercase().contains("mariadb") {
        "MariaDB"
    } else {
        "MySQL"
    };
    let version = version.split('-').next().unwrap_or_default().to_string();
    Ok(format!(
        "{product} {version}, database `{}`",
        db.unwrap_or_else(|| "(none)".into())
    ))
}

pub async fn execute(ep: &Endpoint, sql: &str) -> Result<(), EngineError> {
    let mut conn = connect(ep).await?;
    conn.query_drop(sql).await.map_err(|e| my_err(ep, e))
}

/// A column as information_schema describes it.
pub(crate) struct MyColumn {
    pub name: String,
    pub data_type: String,
    pub column_type: String,
    pub nullable: bool,
    pub max_chars: Option<u64>,
    pub precision: Option<u64>,
    pub scale: Option<u64>,
    pub charset: Option<String>,
}

pub(crate) async fn columns_of(
    conn: &mut Conn,
    ep: &Endpoint,
    table: &ObjectName,
) -> Result<Vec<MyColumn>, EngineError> {
    let rows: Vec<Row> = conn
        .exec(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, CHARACTER_MAXIMUM_LENGTH, \
                    NUMERIC_PRECISION, NUMERIC_SCALE, CHARACTER_SET_NAME \
             FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? \
             ORDER BY ORDINAL_POSITION",
            (table.schema.clone(), table.name.clone()),
        )
        .await
        .map_err(|e| my_err(ep, e))?;
    Ok(rows
        .into_iter()
        .map(|mut r| MyColumn {
            name: r.take::<String, _>(0).unwrap_or_default(),
            data_type: r
                .take::<String, _>(1)
                .unwrap_or_default()
                .to_ascii_lowercase(),
            column_type: r
                .take::<String, _>(2)
                .unwrap_or_default()
                .to_ascii_lowercase(),
            nullable: r.take::<String, _>(3).as_deref() == Some("YES"),
            max_chars: r.take::<Option<u64>, _>(4).flatten(),
            precision: r.take::<Option<u64>, _>(5).flatten(),
            scale: r.take::<Option<u64>, _>(6).flatten(),
            charset: r.take::<Option<String>, _>(7).flatten(),
        })
        .collect())
}

pub(crate) fn target_type(c: &MyColumn) -> TargetType {
    let unsigned = c.column_type.contains("unsigned");
    let int = |bytes| TargetType::Int { bytes, unsigned };
    let bmp_only = c
        .charset
        .as_deref()
        .is_some_and(|cs| cs == "utf8" || cs == "utf8mb3");
    match c.data_type.as_str() {
        "tinyint" if c.column_type.starts_with("tinyint(1)") => TargetType::Bool,
        "bool" | "boolean" => TargetType::Bool,
        "tinyint" => int(1),
        "smallint" | "year" => int(2),
        "mediumint" => int(3),
        "int" | "integer" => int(4),
        "bigint" => int(8),
        "float" => TargetType::Float { bytes: 4 },
        "double" | "real" => TargetType::Float { bytes: 8 },
        "decimal" | "numeric" => match (c.precision, c.scale) {
            (Some(p), Some(s)) if p <= 38 => TargetType::Decimal {
                precision: p as u8,
                scale: s as i8,
            },
            _ => TargetType::Other,
        },
        "char" | "varchar" => TargetType::Text {
            max_chars: c.max_chars.map(|m| m as u32),
            bmp_only,
        },
        // TEXT limits are in bytes: MySQL itself refuses what does not fit (strict mode).
        "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set" => TargetType::Text {
            max_chars: None,
            bmp_only,
        },
        "binary" | "varbinary" => TargetType::Binary {
            max_bytes: c.max_chars.map(|m| m as u32),
        },
        "tinyblob" | "blob" | "mediumblob" | "longblob" => TargetType::Binary { max_bytes: None },
        "date" => TargetType::Date,
        "time" => TargetType::Time,
        "datetime" => TargetType::Timestamp { tz: false },
        "timestamp" => TargetType::Timestamp { tz: true },
        "json" => TargetType::Json,
        _ => TargetType::Other,
    }
}

pub async fn describe_table(
    ep: &Endpoint,
    table: &ObjectName,
) -> Result<Option<Vec<TargetColumn>>, EngineError> {
    let mut conn = connect(ep).await?;
    let cols = columns_of(&mut conn, ep, table).await?;
    if cols.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        cols.iter()
            .map(|c| TargetColumn {
                name: c.name.clone(),
                ty: target_type(c),
                nullable: c.nullable,
                declared: c.column_type.clone(),
            })
            .collect(),
    ))
}

pub async fn list_tables(
    ep: &Endpoint,
    schema: Option<&str>,
) -> Result<Vec<ObjectName>, EngineError> {
    let mut conn = connect(ep).await?;
    let names: Vec<String> = conn
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1",
            (schema.map(str::to_string),),
        )
        .await
        .map_err(|e| my_err(ep, e))?;
    Ok(names
        .into_iter()
        .map(|name| ObjectName {
            schema: schema.map(str::to_string),
            name,
        })
        .collect())
}

pub async fn primary_key(ep: &Endpoint, table: &ObjectName) -> Result<Vec<String>, EngineError> {
    let mut conn = connect(ep).await?;
    conn.exec(
        "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
         WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' \
         ORDER BY ORDINAL_POSITION",
        (table.schema.clone(), table.name.clone()),
    )
    .await
    .map_err(|e| my_err(ep, e))
}

#[cfg(test)]
mod tests;
