//! SQL text per dialect: quoting, `CREATE TABLE` from an Arrow schema, and the statements that
//! apply a staging table to a target (update, insert-missing, delete, duplicate keys).
//!
//! Staged operations load rows into a session-local staging table first, then apply it with a few
//! set-based statements in the same transaction: the target is never half-updated, and update,
//! upsert and delete need no unique index on the key columns.

use super::types::{META_MAX_CHARS, META_TYPE};
use super::{DbKind, ObjectName};
use crate::engine::EngineError;
use datafusion::arrow::datatypes::{DataType, Field, SchemaRef};

/// The staging table's row-order column: the position of the row in the source.
pub const SEQ: &str = "__sluice_seq";
/// The staging table's name.
pub const STAGING: &str = "__sluice_staging";

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

    /// True when `a` and `b` differ, NULLs compared as values.
    fn differs(&self, a: &str, b: &str) -> String {
        match self.0 {
            DbKind::Mysql => format!("NOT ({a} <=> {b})"),
            _ => format!("{a} IS DISTINCT FROM {b}"),
        }
    }

    fn key_match(&self, keys: &[String], t: &str, s: &str) -> String {
        keys.iter()
            .map(|k| format!("{t}.{q} = {s}.{q}", q = self.quote(k)))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// Updates target rows whose key is staged and whose values differ; counts updated rows.
    pub fn update_from_staging(
        &self,
        target: &ObjectName,
        cols: &[String],
        keys: &[String],
    ) -> String {
        let t = self.table(target);
        let stg = self.quote(STAGING);
        let non_keys: Vec<&String> = cols.iter().filter(|c| !keys.contains(c)).collect();
        if non_keys.is_empty() {
            // Nothing to change: an update of keys only matches but changes nothing.
            return String::new();
        }
        let diff = non_keys
            .iter()
            .map(|c| {
                let q = self.quote(c);
                self.differs(&format!("{t}.{q}"), &format!("s.{q}"))
            })
            .collect::<Vec<_>>()
            .join(" OR ");
        match self.0 {
            DbKind::Mysql => {
                let set = non_keys
                    .iter()
                    .map(|c| format!("{t}.{q} = s.{q}", q = self.quote(c)))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "UPDATE {t} JOIN {stg} s ON {} SET {set} WHERE {diff}",
                    self.key_match(keys, &t, "s")
                )
            }
            _ => {
                let set = non_keys
                    .iter()
                    .map(|c| format!("{q} = s.{q}", q = self.quote(c)))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "UPDATE {t} SET {set} FROM {stg} s WHERE {} AND ({diff})",
                    self.key_match(keys, &t, "s")
                )
            }
        }
    }

    /// Inserts staged rows whose key is not in the target; counts inserted rows.
    pub fn insert_missing(&self, target: &ObjectName, cols: &[String], keys: &[String]) -> String {
        let t = self.table(target);
        format!(
            "INSERT INTO {t} ({}) SELECT {} FROM {} s WHERE NOT EXISTS (SELECT 1 FROM {t} x WHERE {})",
            self.columns(cols, None),
            self.columns(cols, Some("s")),
            self.quote(STAGING),
            self.key_match(keys, "x", "s")
        )
    }

    /// Counts staged rows whose key is in the target (matched rows).
    pub fn count_matching(&self, target: &ObjectName, keys: &[String]) -> String {
        let t = self.table(target);
        format!(
            "SELECT COUNT(*) FROM {} s WHERE EXISTS (SELECT 1 FROM {t} x WHERE {})",
            self.quote(STAGING),
            self.key_match(keys, "x", "s")
        )
    }

    /// Deletes target rows whose key is staged; counts deleted rows.
    pub fn delete_matching(&self, target: &ObjectName, keys: &[String]) -> String {
        let t = self.table(target);
        let stg = self.quote(STAGING);
        match self.0 {
            DbKind::Postgres => format!(
                "DELETE FROM {t} USING {stg} s WHERE {}",
                self.key_match(keys, &t, "s")
            ),
            DbKind::Mysql => format!(
                "DELETE {t} FROM {t} JOIN {stg} s ON {}",
                self.key_match(keys, &t, "s")
            ),
            DbKind::Sqlite => format!(
                "DELETE FROM {t} WHERE EXISTS (SELECT 1 FROM {stg} s WHERE {})",
                self.key_match(keys, &t, "s")
            ),
        }
    }

    /// The row-order column of the staging table (SQLite's rowid serves).
    pub fn seq(&self) -> &'static str {
        match self.0 {
            DbKind::Sqlite => "rowid",
            _ => SEQ,
        }
    }

    /// Selects the staged rows that repeat the key of another staged row, as JSON text: every one
    /// but the first (`keep_first`) or the last. Answers `seq, json` rows.
    pub fn duplicate_rows(&self, cols: &[String], keys: &[String], keep_first: bool) -> String {
        let seq = self.seq();
        let order = if keep_first { "ASC" } else { "DESC" };
        let json = self.json_object(cols, "s");
        format!(
            "SELECT s.{seq}, {json} FROM {stg} s JOIN (SELECT {seq} AS d_seq, ROW_NUMBER() OVER (PARTITION BY {k} ORDER BY {seq} {order}) AS rn FROM {stg}) d ON d.d_seq = s.{seq} WHERE d.rn > 1 ORDER BY s.{seq}",
            stg = self.quote(STAGING),
            k = self.columns(keys, None),
        )
    }

    /// Deletes staged rows by their sequence numbers.
    pub fn delete_staged(&self, seqs: &[i64]) -> String {
        let list = seqs
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "DELETE FROM {} WHERE {} IN ({list})",
            self.quote(STAGING),
            self.seq()
        )
    }

    /// A row's columns as a JSON object text.
    pub fn json_object(&self, cols: &[String], alias: &str) -> String {
        let pairs = cols
            .iter()
            .map(|c| format!("{}, {alias}.{}", self.literal(c), self.quote(c)))
            .collect::<Vec<_>>();
        match self.0 {
            // json_build_object takes at most 100 arguments: build wide rows from pieces.
            DbKind::Postgres => {
                let parts = pairs
                    .chunks(50)
                    .map(|p| format!("jsonb_build_object({})", p.join(", ")))
                    .collect::<Vec<_>>()
                    .join(" || ");
                format!("({parts})::text")
            }
            DbKind::Mysql => format!("JSON_OBJECT({})", pairs.join(", ")),
            DbKind::Sqlite => format!("json_object({})", pairs.join(", ")),
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
