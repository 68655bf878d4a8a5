//! The PostgreSQL connector (tokio-postgres): connection checks, catalog lookups, streaming reads
//! with binary `COPY ... TO STDOUT`, and transactional writes with binary `COPY ... FROM STDIN`.

mod binary;
mod read;
mod write;

pub use read::open_reader;
pub use write::open_writer;

use super::sql::Dialect;
use super::types::{TargetColumn, TargetType};
use super::{DbKind, Endpoint, ObjectName};
use crate::engine::EngineError;
use tokio_postgres::{Client, NoTls};

const DIALECT: Dialect = Dialect(DbKind::Postgres);

/// A database error in PostgreSQL's own words (`ERROR: relation "x" does not exist`), or the
/// connection failure with its cause (`Connection refused`).
pub(crate) fn pg_message(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut m = format!("{}: {}", db.severity(), db.message());
        if let Some(d) = db.detail() {
            m.push_str(&format!(" ({d})"));
        }
        return m;
    }
    let mut m = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        m.push_str(&format!(": {s}"));
        src = s.source();
    }
    m
}

pub(crate) fn pg_err(ep: &Endpoint, e: tokio_postgres::Error) -> EngineError {
    EngineError::Data(format!("PostgreSQL `{}`: {}", ep.name, pg_message(&e)))
}

/// Opens a connection; its driver task ends when the client is dropped.
pub(crate) async fn connect(ep: &Endpoint) -> Result<Client, EngineError> {
    let (client, conn) = tokio_postgres::connect(&ep.url, NoTls)
        .await
        .map_err(|e| pg_err(ep, e))?;
    tokio::spawn(async move {
        // The error surfaces on the client's next request.
        let _ = conn.await;
    });
    Ok(client)
}

pub async fn check(ep: &Endpoint) -> Result<String, EngineError> {
    let client = connect(ep).await?;
    let row = client
        .query_one(
            "SELECT current_setting('server_version'), current_database()",
            &[],
        )
        .await
        .map_err(|e| pg_err(ep, e))?;
    let (version, db): (String, String) = (row.get(0), row.get(1));
    Ok(format!("PostgreSQL {version}, database `{db}`"))
}

pub async fn execute(ep: &Endpoint, sql: &str) -> Result<(), EngineError> {
    let client = connect(ep).await?;
    client.batch_execute(sql).await.map_err(|e| pg_err(ep, e))
}

/// A column as the catalog describes it.
pub(crate) struct PgColumn {
    pub name: String,
    pub type_name: String,
    pub typmod: i32,
    pub not_null: bool,
    pub declared: String,
    /// `e` for enums, `b` for base types, `d` for domains...
    pub type_kind: i8,
}

/// The columns of a relation (table or view) by its quoted name, or `None` when it does not exist.
pub(crate) async fn columns_of(
    client: &Client,
    ep: &Endpoint,
    quoted: &str,
) -> Result<Option<Vec<PgColumn>>, EngineError> {
    let rows = client
        .query(
            "SELECT a.attname::text, t.typname::text, a.atttypmod, a.attnotnull, \
                    format_type(a.atttypid, a.atttypmod), t.typtype::\"char\", \
                    to_regclass($1) IS NOT NULL \
             FROM (SELECT to_regclass($1) AS rel) r \
             LEFT JOIN pg_attribute a ON a.attrelid = r.rel AND a.attnum > 0 AND NOT a.attisdropped \
             LEFT JOIN pg_type t ON t.oid = a.atttypid \
             ORDER BY a.attnum",
            &[&quoted],
        )
        .await
        .map_err(|e| pg_err(ep, e))?;
    if rows.first().is_none_or(|r| !r.get::<_, bool>(6)) {
        return Ok(None);
    }
    Ok(Some(
        rows.iter()
            .filter(|r| r.get::<_, Option<String>>(0).is_some())
            .map(|r| PgColumn {
                name: r.get(0),
                type_name: r.get(1),
                typmod: r.get(2),
                not_null: r.get(3),
                declared: r.get(4),
                type_kind: r.get(5),
            })
            .collect(),
    ))
}

/// `(precision, scale)` of a `numeric` type modifier; `None` when unconstrained.
pub(crate) fn numeric_typmod(typmod: i32) -> Option<(u8, i8)> {
    if typmod < 4 {
        return None;
    }
    let t = typmod - 4;
    let precision = ((t >> 16) & 0xffff) as u8;
    // Scale is an 11-bit signed number since PostgreSQL 15.
    let scale = ((t & 0x7ff) ^ 1024) - 1024;
    Some((precision, scale as i8))
}

pub(crate) fn target_type(c: &PgColumn) -> TargetType {
    let len = (c.typmod >= 4).then(|| (c.typmod - 4) as u32);
    match c.type_name.as_str() {
        "bool" => TargetType::Bool,
        "int2" => TargetType::Int {
            bytes: 2,
            unsigned: false,
        },
        "int4" => TargetType::Int {
            bytes: 4,
            unsigned: false,
        },
        "int8" => TargetType::Int {
            bytes: 8,
            unsigned: false,
        },
        "float4" => TargetType::Float { bytes: 4 },
        "float8" => TargetType::Float { bytes: 8 },
        "numeric" => match numeric_typmod(c.typmod) {
            Some((p, s)) if p <= 38 && s >= 0 => TargetType::Decimal {
                precision: p,
                scale: s,
            },
            // Unconstrained or wider than 38 digits: sent from text by the numeric encoder.
            _ => TargetType::Other,
        },
        "varchar" | "bpchar" => TargetType::Text {
            max_chars: len,
            bmp_only: false,
        },
        "text" | "name" | "citext" => TargetType::text(),
        "bytea" => TargetType::Binary { max_bytes: None },
        "date" => TargetType::Date,
        "time" => TargetType::Time,
        "timestamp" => TargetType::Timestamp { tz: false },
        "timestamptz" => TargetType::Timestamp { tz: true },
        "json" | "jsonb" => TargetType::Json,
        "uuid" => TargetType::Uuid,
        _ if c.type_kind == b'e' as i8 => TargetType::text(),
        _ => TargetType::Other,
    }
}

pub async fn describe_table(
    ep: &Endpoint,
    table: &ObjectName,
) -> Result<Option<Vec<TargetColumn>>, EngineError> {
    let client = connect(ep).await?;
    Ok(columns_of(&client, ep, &DIALECT.table(table))
        .await?
        .map(|cols| {
            cols.iter()
                .map(|c| TargetColumn {
                    name: c.name.clone(),
                    ty: target_type(c),
                    nullable: !c.not_null,
                    declared: c.declared.clone(),
                })
                .collect()
        }))
}

pub async fn list_tables(
    ep: &Endpoint,
    schema: Option<&str>,
) -> Result<Vec<ObjectName>, EngineError> {
    let client = connect(ep).await?;
    let rows = client
        .query(
            "SELECT table_schema::text, table_name::text FROM information_schema.tables \
             WHERE table_type = 'BASE TABLE' \
               AND table_schema NOT IN ('pg_catalog', 'information_schema') \
               AND ($1::text IS NULL AND table_schema = current_schema() OR table_schema = $1) \
             ORDER BY 1, 2",
            &[&schema],
        )
        .await
        .map_err(|e| pg_err(ep, e))?;
    Ok(rows
        .iter()
        .map(|r| ObjectName {
            schema: schema.map(|_| r.get(0)),
            name: r.get(1),
        })
        .collect())
}

pub async fn primary_key(ep: &Endpoint, table: &ObjectName) -> Result<Vec<String>, EngineError> {
    let client = connect(ep).await?;
    primary_key_of(&client, ep, &DIALECT.table(table)).await
}

pub(crate) async fn primary_key_of(
    client: &Client,
    ep: &Endpoint,
    quoted: &str,
) -> Result<Vec<String>, EngineError> {
    let rows = client
        .query(
            "SELECT a.attname::text FROM pg_index i \
             JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY k.n",
            &[&quoted],
        )
        .await
        .map_err(|e| pg_err(ep, e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
