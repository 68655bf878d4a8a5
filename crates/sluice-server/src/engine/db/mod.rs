//! Database connectors: endpoints resolved from connections, and the contracts every database
//! (PostgreSQL, MySQL/MariaDB, SQLite) implements — a streaming reader of Arrow batches, a table
//! describer, and a transactional table writer with the four sync operations.
//!
//! Values cross between systems as Arrow arrays; `value` turns each cell into what a target column
//! can hold, or into the reason it cannot, so every database rejects rows the same way.

pub mod build;
#[cfg(test)]
mod conformance;
pub mod mysql;
pub mod postgres;
pub mod sql;
pub mod sqlite;
mod staged;
pub mod types;
pub mod value;

use crate::domain::connection::{Connection, ConnectionType};
use crate::engine::{EngineError, StopSignal};
use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use futures::stream::BoxStream;
use std::fmt;
use std::path::Path;
pub use types::{TargetColumn, TargetType};

/// Which database an endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Postgres,
    Mysql,
    Sqlite,
}

impl fmt::Display for DbKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DbKind::Postgres => "PostgreSQL",
            DbKind::Mysql => "MySQL",
            DbKind::Sqlite => "SQLite",
        })
    }
}

/// A database connection resolved for use: the URL carries the password (it never leaves the
/// engine; `Debug` hides it). SQLite endpoints carry the database file path in `url`.
#[derive(Clone)]
pub struct Endpoint {
    pub kind: DbKind,
    /// The connection's name, for messages.
    pub name: String,
    pub url: String,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({} `{}`)", self.kind, self.name)
    }
}

impl Endpoint {
    /// Resolves a stored connection: env settings read now, the password put into the URL.
    /// Relative SQLite paths resolve against `base_dir`.
    pub fn resolve(conn: &Connection, base_dir: &Path) -> Result<Endpoint, EngineError> {
        let bad = |m: String| EngineError::Definition(format!("connection `{}`: {m}", conn.name));
        let c = &conn.config;
        let kind = match conn.conn_type {
            ConnectionType::Postgres => DbKind::Postgres,
            ConnectionType::Mysql => DbKind::Mysql,
            ConnectionType::Sqlite => DbKind::Sqlite,
            other => return Err(bad(format!("a {other} connection is not a database"))),
        };
        if kind == DbKind::Sqlite {
            let path = c
                .path
                .as_deref()
                .ok_or_else(|| bad("`path` is missing".into()))?;
            let p = Path::new(path);
            let p = if p.is_absolute() {
                p.to_path_buf()
            } else {
                base_dir.join(p)
            };
            return Ok(Endpoint {
                kind,
                name: conn.name.clone(),
                url: p.display().to_string(),
            });
        }
        let scheme = if kind == DbKind::Postgres {
            "postgres"
        } else {
            "mysql"
        };
        let mut url = match &c.url {
            Some(setting) => {
                let raw = setting.resolve().map_err(bad)?;
                url::Url::parse(&raw).map_err(|e| bad(format!("url: {e}")))?
            }
            None => {
                let host = c.host.as_deref().unwrap_or("127.0.0.1");
                url::Url::parse(&format!("{scheme}://{host}"))
                    .map_err(|e| bad(format!("host: {e}")))?
            }
        };
        if (c.url.is_none() || url.port().is_none())
            && let Some(port) = c.port
        {
            let _ = url.set_port(Some(port));
        }
        if let Some(db) = &c.database {
            url.set_path(&format!("/{db}"));
        }
        if let Some(user) = &c.user {
            let _ = url.set_username(user);
        }
        if let Some(pw) = &c.password {
            let pw = pw.resolve().map_err(bad)?;
            let _ = url.set_password(Some(&pw));
        }
        Ok(Endpoint {
            kind,
            name: conn.name.clone(),
            url: url.to_string(),
        })
    }
}

/// A table name, optionally qualified by its schema (PostgreSQL) or database (MySQL). Names are
/// used exactly as written (quoted), so `Orders` and `orders` are different tables.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectName {
    pub schema: Option<String>,
    pub name: String,
}

impl ObjectName {
    /// Parses `name` or `schema.name`.
    pub fn parse(s: &str) -> Result<ObjectName, String> {
        let s = s.trim();
        let (schema, name) = match s.split_once('.') {
            Some((a, b)) => (Some(a.trim().to_string()), b.trim().to_string()),
            None => (None, s.to_string()),
        };
        if name.is_empty() || schema.as_deref().is_some_and(str::is_empty) || name.contains('.') {
            return Err(format!(
                "`{s}` is not a table name (`table` or `schema.table`)"
            ));
        }
        Ok(ObjectName { schema, name })
    }
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// What a reader reads.
#[derive(Debug, Clone)]
pub enum SourceObject {
    /// A table, with an optional filter in the source database's SQL (`WHERE` without the word).
    Table {
        name: ObjectName,
        filter: Option<String>,
    },
    /// A query in the source database's SQL.
    Query(String),
}

/// Incremental reads: only rows whose `column` is greater than `after` (all rows when `None`) and
/// at most the column's maximum when the read starts, which becomes the next high-water mark.
/// Rows committed later with a smaller value than that maximum are not seen: watermark columns
/// should only grow (an update timestamp or a sequence).
#[derive(Debug, Clone)]
pub struct Watermark {
    pub column: String,
    pub after: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ReadSpec {
    pub object: SourceObject,
    pub watermark: Option<Watermark>,
    /// Rows per batch.
    pub batch_size: usize,
}

/// An open read: the schema of the rows, and their batches as they stream from the database.
pub struct ReadStream {
    pub schema: SchemaRef,
    pub batches: BoxStream<'static, Result<RecordBatch, EngineError>>,
    /// For incremental reads: the high-water mark to keep once these rows are committed (as
    /// text, in the source database's own rendering).
    pub high_water: Option<String>,
}

pub use crate::domain::load::Operation;

#[derive(Debug, Clone)]
pub struct WriteSpec {
    pub table: ObjectName,
    pub operation: Operation,
    /// Key columns (target names) rows are matched on; required for update, upsert and delete.
    pub keys: Vec<String>,
    /// Empty the table (in the same transaction) before loading.
    pub truncate: bool,
    /// The target columns each batch fills, in batch column order.
    pub columns: Vec<TargetColumn>,
}

/// A row a writer refused, by its index in the batch given to `write`, or (for rows found while
/// applying staged rows) as the row's JSON text read back from the database.
#[derive(Debug, Clone, PartialEq)]
pub struct RowReject {
    pub row: RejectedRow,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RejectedRow {
    Index(usize),
    Json(String),
}

/// What a commit applied to the target.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Applied {
    pub inserts: u64,
    pub updates: u64,
    pub deletes: u64,
    /// Rows that matched nothing to do (update/delete of a missing key, upsert of an unchanged row).
    pub skipped: u64,
    /// Rows refused while applying (duplicate keys...).
    pub rejects: Vec<RowReject>,
}

/// A transactional writer to one table. Everything written is invisible to others until
/// [`TableWriter::commit`]; dropping the writer without committing rolls back.
#[async_trait]
pub trait TableWriter: Send {
    /// Writes a batch whose columns are [`WriteSpec::columns`], in order. Rows the target cannot
    /// hold are not written; they come back with their reasons. An `Err` is a failure of the whole
    /// load (connection lost, a constraint no row check foresaw) and ends the run.
    async fn write(&mut self, batch: &RecordBatch) -> Result<Vec<RowReject>, EngineError>;
    /// Applies what was written (for staged operations) and commits. May be called more than once
    /// when a task commits in batches; each call reports what it applied since the previous one.
    async fn commit(&mut self) -> Result<Applied, EngineError>;
    /// Rolls back what was written since the last commit.
    async fn rollback(self: Box<Self>) -> Result<(), EngineError>;
}

/// Tests that a connection works: answers a short description of the server, or why not
/// (refused, bad credentials, missing database) in the database's own words.
pub async fn check(ep: &Endpoint) -> Result<String, EngineError> {
    match ep.kind {
        DbKind::Postgres => postgres::check(ep).await,
        DbKind::Mysql => mysql::check(ep).await,
        DbKind::Sqlite => sqlite::check(ep).await,
    }
}

/// Opens a streaming read.
pub async fn open_reader(
    ep: &Endpoint,
    spec: &ReadSpec,
    stop: &StopSignal,
) -> Result<ReadStream, EngineError> {
    match ep.kind {
        DbKind::Postgres => postgres::open_reader(ep, spec, stop).await,
        DbKind::Mysql => mysql::open_reader(ep, spec, stop).await,
        DbKind::Sqlite => sqlite::open_reader(ep, spec, stop).await,
    }
}

/// The columns of a table, or `None` when it does not exist.
pub async fn describe_table(
    ep: &Endpoint,
    table: &ObjectName,
) -> Result<Option<Vec<TargetColumn>>, EngineError> {
    match ep.kind {
        DbKind::Postgres => postgres::describe_table(ep, table).await,
        DbKind::Mysql => mysql::describe_table(ep, table).await,
        DbKind::Sqlite => sqlite::describe_table(ep, table).await,
    }
}

/// Creates a table from an Arrow schema (types mapped by [`sql::Dialect::column_type`]), with a
/// primary key on `keys` when given.
pub async fn create_table(
    ep: &Endpoint,
    table: &ObjectName,
    schema: &SchemaRef,
    keys: &[String],
) -> Result<(), EngineError> {
    let ddl = sql::Dialect::of(ep.kind).create_table(table, schema, keys)?;
    match ep.kind {
        DbKind::Postgres => postgres::execute(ep, &ddl).await,
        DbKind::Mysql => mysql::execute(ep, &ddl).await,
        DbKind::Sqlite => sqlite::execute(ep, &ddl).await,
    }
}

/// Opens a writer: a connection with an open transaction (and staging, for staged operations).
pub async fn open_writer(
    ep: &Endpoint,
    spec: WriteSpec,
) -> Result<Box<dyn TableWriter>, EngineError> {
    if spec.operation != Operation::Insert && spec.keys.is_empty() {
        return Err(EngineError::Definition(format!(
            "operation `{}` needs key columns (`keys`)",
            spec.operation
        )));
    }
    match ep.kind {
        DbKind::Postgres => postgres::open_writer(ep, spec).await,
        DbKind::Mysql => mysql::open_writer(ep, spec).await,
        DbKind::Sqlite => sqlite::open_writer(ep, spec).await,
    }
}

/// Lists the tables of a database (optionally of one schema), for replication by pattern.
pub async fn list_tables(
    ep: &Endpoint,
    schema: Option<&str>,
) -> Result<Vec<ObjectName>, EngineError> {
    match ep.kind {
        DbKind::Postgres => postgres::list_tables(ep, schema).await,
        DbKind::Mysql => mysql::list_tables(ep, schema).await,
        DbKind::Sqlite => sqlite::list_tables(ep, schema).await,
    }
}

/// The primary key columns of a table (empty when it has none).
pub async fn primary_key(ep: &Endpoint, table: &ObjectName) -> Result<Vec<String>, EngineError> {
    match ep.kind {
        DbKind::Postgres => postgres::primary_key(ep, table).await,
        DbKind::Mysql => mysql::primary_key(ep, table).await,
        DbKind::Sqlite => sqlite::primary_key(ep, table).await,
    }
}
