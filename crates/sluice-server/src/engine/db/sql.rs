//! SQL text per dialect: quoting, the reads' `SELECT`s (incremental marks included), emptying a
//! table, and `CREATE TABLE` from an Arrow schema. The staged apply's statements are in
//! [`super::staged`].

use super::types::{META_MAX_CHARS, META_TYPE};
use super::{DbKind, ObjectName};
use crate::engine::EngineError;
use datafusion::arrow::datatypes::{DataType, Field, SchemaRef};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect(pub DbKind);

impl Dialect {
    pub fn of(kind: DbKind) -> Dialect {
        Dialect(kind)
    }

    pub fn quote(&self, ident: &str) -> String {
        match self.0 {
            DbKind::Mysql => format!("`{}`", ident.replace('`', "``")),
            _ => format!("\"{}\"", ident.replace('"', "\"\"")),
        }
    }

    pub fn table(&self, t: &ObjectName) -> String {
        match &t.schema {
            Some(s) => format!("{}.{}", self.quote(s), self.quote(&t.name)),
            None => self.quote(&t.name),
        }
    }

    /// `a, b, c` quoted, each prefixed with `alias.` when given.
    pub fn columns(&self, cols: &[String], alias: Option<&str>) -> String {
        cols.iter()
            .map(|c| match alias {
                Some(a) => format!("{a}.{}", self.quote(c)),
                None => self.quote(c),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A SQL string literal.
    pub fn literal(&self, s: &str) -> String {
        match self.0 {
            DbKind::Mysql => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''")),
            _ => format!("'{}'", s.replace('\'', "''")),
        }
    }

    /// The `SELECT` a read of `object` runs (a table with its filter, or the query as a subquery).
    pub fn source_select(&self, object: &super::SourceObject) -> String {
        match object {
            super::SourceObject::Table { name, filter } => match filter {
                Some(f) => format!("SELECT * FROM {} WHERE {f}", self.table(name)),
                None => format!("SELECT * FROM {}", self.table(name)),
            },
            super::SourceObject::Query(q) => {
                format!("SELECT * FROM ({}) AS q", q.trim().trim_end_matches(';'))
            }
        }
    }

    fn past_mark(&self, column: &str, after: Option<&str>) -> String {
        after
            .map(|a| format!(" AND {} > {}", self.quote(column), self.literal(a)))
            .unwrap_or_default()
    }

    /// The greatest `column` among the rows of `base` past `after`, as text: the next high-water
    /// mark of an incremental read.
    pub fn max_as_text(&self, base: &str, column: &str, after: Option<&str>) -> String {
        let text = if self.0 == DbKind::Mysql {
            "CHAR"
        } else {
            "TEXT"
        };
        format!(
            "SELECT CAST(MAX({}) AS {text}) FROM ({base}) AS w WHERE 1 = 1{}",
            self.quote(column),
            self.past_mark(column, after)
        )
    }

    /// The rows of `base` past `after` up to `max` (none when there is no `max`: nothing new).
    pub fn between_marks(
        &self,
        base: &str,
        column: &str,
        after: Option<&str>,
        max: Option<&str>,
    ) -> String {
        match max {
            Some(m) => format!(
                "SELECT * FROM ({base}) AS w WHERE 1 = 1{} AND {} <= {}",
                self.past_mark(column, after),
                self.quote(column),
                self.literal(m)
            ),
            None => format!("SELECT * FROM ({base}) AS w WHERE 1 = 0"),
        }
    }

    pub fn truncate(&self, target: &ObjectName) -> String {
        match self.0 {
            // TRUNCATE commits implicitly in MySQL; DELETE keeps it inside the transaction.
            DbKind::Mysql | DbKind::Sqlite => format!("DELETE FROM {}", self.table(target)),
            DbKind::Postgres => format!("TRUNCATE {}", self.table(target)),
        }
    }

    /// The column type a created table gets for an Arrow field.
    pub fn column_type(&self, f: &Field, is_key: bool) -> String {
        use DataType as D;
        let meta = f.metadata();
        let logical = meta.get(META_TYPE).map(String::as_str);
        let max_chars: Option<u32> = meta.get(META_MAX_CHARS).and_then(|m| m.parse().ok());
        let pg = self.0 == DbKind::Postgres;
        let my = self.0 == DbKind::Mysql;
        match f.data_type() {
            D::Boolean => "BOOLEAN".into(),
            D::Int8 if my => "TINYINT".into(),
            D::Int8 | D::Int16 | D::UInt8 => "SMALLINT".into(),
            D::UInt16 if my => "SMALLINT UNSIGNED".into(),
            D::Int32 | D::UInt16 => "INTEGER".into(),
            D::UInt32 if my => "INT UNSIGNED".into(),
            D::Int64 | D::UInt32 => "BIGINT".into(),
            D::UInt64 if my => "BIGINT UNSIGNED".into(),
            D::UInt64 => "NUMERIC(20,0)".into(),
            D::Float16 | D::Float32 if pg => "REAL".into(),
            D::Float16 | D::Float32 if my => "FLOAT".into(),
            D::Float64 if pg => "DOUBLE PRECISION".into(),
            D::Float16 | D::Float32 | D::Float64 if my => "DOUBLE".into(),
            D::Float16 | D::Float32 | D::Float64 => "REAL".into(),
            // SQLite keeps NUMERIC values as 8-byte floats (15 significant digits): wider
            // decimals are kept exactly as text.
            D::Decimal32(p, _) | D::Decimal64(p, _) | D::Decimal128(p, _) | D::Decimal256(p, _)
                if self.0 == DbKind::Sqlite && *p > 15 =>
            {
                "TEXT".into()
            }
            D::Decimal32(p, s) | D::Decimal64(p, s) | D::Decimal128(p, s) | D::Decimal256(p, s) => {
                format!("NUMERIC({p},{})", (*s).max(0))
            }
            D::Utf8 | D::LargeUtf8 | D::Utf8View => match (logical, self.0) {
                (Some("json"), DbKind::Postgres) => "JSONB".into(),
                (Some("json"), DbKind::Mysql) => "JSON".into(),
                (Some("uuid"), DbKind::Postgres) => "UUID".into(),
                (Some("uuid"), DbKind::Mysql) => "CHAR(36)".into(),
                (_, DbKind::Mysql) => match max_chars {
                    Some(n) if n <= 16_383 => format!("VARCHAR({n})"),
                    // MySQL indexes no unbounded text: a key gets the longest indexable length.
                    _ if is_key => "VARCHAR(768)".into(),
                    _ => "LONGTEXT".into(),
                },
                (_, _) => match max_chars {
                    Some(n) => format!("VARCHAR({n})"),
                    None => "TEXT".into(),
                },
            },
            D::Binary | D::LargeBinary | D::BinaryView | D::FixedSizeBinary(_) => match self.0 {
                DbKind::Postgres => "BYTEA".into(),
                DbKind::Mysql if is_key => "VARBINARY(3072)".into(),
                DbKind::Mysql => "LONGBLOB".into(),
                DbKind::Sqlite => "BLOB".into(),
            },
            D::Date32 | D::Date64 => "DATE".into(),
            D::Time32(_) | D::Time64(_) if my => "TIME(6)".into(),
            D::Time32(_) | D::Time64(_) => "TIME".into(),
            // MySQL's TIMESTAMP ends in 2038: DATETIME(6) holds the UTC time instead.
            D::Timestamp(_, _) if my => "DATETIME(6)".into(),
            D::Timestamp(_, Some(_)) if pg => "TIMESTAMPTZ".into(),
            D::Timestamp(_, None) => "TIMESTAMP".into(),
            D::Timestamp(_, Some(_)) => "TIMESTAMPTZ".into(),
            _ if my => "LONGTEXT".into(),
            _ => "TEXT".into(),
        }
    }

    /// `CREATE TABLE` for an Arrow schema, with a primary key on `keys` when given.
    pub fn create_table(
        &self,
        table: &ObjectName,
        schema: &SchemaRef,
        keys: &[String],
    ) -> Result<String, EngineError> {
        for k in keys {
            if schema.field_with_name(k).is_err() {
                return Err(EngineError::Definition(format!(
                    "key column `{k}` is not a column of the source"
                )));
            }
        }
        let mut parts: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| {
                let key = keys.contains(f.name());
                let null = if key || !f.is_nullable() {
                    " NOT NULL"
                } else {
                    ""
                };
                format!(
                    "{} {}{null}",
                    self.quote(f.name()),
                    self.column_type(f, key)
                )
            })
            .collect();
        if !keys.is_empty() {
            parts.push(format!("PRIMARY KEY ({})", self.columns(keys, None)));
        }
        let suffix = if self.0 == DbKind::Mysql {
            " DEFAULT CHARSET=utf8mb4"
        } else {
            ""
        };
        Ok(format!(
            "CREATE TABLE {} ({}){suffix}",
            self.table(table),
            parts.join(", ")
        ))
    }
}
