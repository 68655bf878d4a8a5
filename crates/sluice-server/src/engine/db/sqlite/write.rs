//! Transactional writes to SQLite: one `BEGIN IMMEDIATE` transaction on one connection, rows
//! inserted with one prepared statement (SQLite refuses a row's constraint violation without
//! undoing the others, so each refused row is a reject with SQLite's reason). Update, upsert and
//! delete load a temporary staging table, applied at commit by the shared staged apply
//! (`db::staged`).

use super::{DIALECT, columns_of, connect, lite_err};
use crate::engine::EngineError;
use crate::engine::db::staged::{self, StagingSession};
use crate::engine::db::types::canonicalize;
use crate::engine::db::value::{Column, Val, coerce, format_decimal};
use crate::engine::db::{
    Applied, Endpoint, Operation, RejectedRow, RowReject, TableWriter, WriteSpec,
};
use async_trait::async_trait;
use datafusion::arrow::record_batch::RecordBatch;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Row, Sqlite, SqliteConnection};

pub async fn open_writer(
    ep: &Endpoint,
    spec: WriteSpec,
) -> Result<Box<dyn TableWriter>, EngineError> {
    let mut conn = connect(ep, true).await?;
    let cols = columns_of(&mut conn, ep, &spec.table).await?;
    if cols.is_empty() {
        return Err(EngineError::Definition(format!(
            "table `{}` does not exist in `{}`",
            spec.table, ep.name
        )));
    }
    for c in &spec.columns {
        if !cols.iter().any(|l| l.name == c.name) {
            return Err(EngineError::Definition(format!(
                "table `{}` has no column `{}`",
                spec.table, c.name
            )));
        }
    }
    let names: Vec<String> = spec.columns.iter().map(|c| c.name.clone()).collect();
    let staged = spec.operation != Operation::Insert;
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut conn)
        .await
        .map_err(|e| lite_err(ep, e))?;
    if spec.truncate {
        sqlx::query(&DIALECT.truncate(&spec.table))
            .execute(&mut conn)
            .await
            .map_err(|e| lite_err(ep, e))?;
    }
    let into = if staged {
        for sql in DIALECT.create_staging(&spec.table, &names) {
            sqlx::query(&sql)
                .execute(&mut conn)
                .await
                .map_err(|e| lite_err(ep, e))?;
        }
        DIALECT.staging()
    } else {
        DIALECT.table(&spec.table)
    };
    let insert = format!(
        "INSERT INTO {into} ({}) VALUES ({})",
        DIALECT.columns(&names, None),
        vec!["?"; names.len()].join(", ")
    );
    let numeric = spec
        .columns
        .iter()
        .map(|c| matches!(c.ty, crate::engine::db::TargetType::Decimal { .. }))
        .collect();
    Ok(Box::new(LiteWriter {
        numeric,
        conn,
        ep: ep.clone(),
        spec,
        names,
        insert,
        staged,
        inserted: 0,
    }))
}

struct LiteWriter {
    conn: SqliteConnection,
    /// Per column: declared with NUMERIC affinity (where SQLite turns decimals into floats).
    numeric: Vec<bool>,
    ep: Endpoint,
    spec: WriteSpec,
    names: Vec<String>,
    insert: String,
    staged: bool,
    inserted: u64,
}

/// Binds a coerced value the way SQLite keeps it: exact decimals, dates and times as text.
fn bind<'q>(
    q: Query<'q, Sqlite, SqliteArguments<'q>>,
    v: Val<'q>,
) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    match v {
        Val::Null => q.bind(None::<i64>),
        Val::Bool(b) => q.bind(b as i64),
        Val::Int(i) => q.bind(i),
        Val::UInt(u) => match i64::try_from(u) {
            Ok(i) => q.bind(i),
            Err(_) => q.bind(u.to_string()),
        },
        Val::Float(f) => q.bind(f),
        Val::Decimal(d, s) => q.bind(format_decimal(d, s)),
        Val::Text(t) | Val::Json(t) => q.bind(t.into_owned()),
        Val::Bytes(b) => q.bind(b.into_owned()),
        Val::Date(d) => q.bind(d.format("%Y-%m-%d").to_string()),
        Val::Time(t) => q.bind(t.format("%H:%M:%S%.6f").to_string()),
        Val::Timestamp(t) => q.bind(t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
        Val::TimestampTz(t) => q.bind(t.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string()),
        Val::Uuid(u) => q.bind(u.hyphenated().to_string()),
    }
}

/// Whether SQLite keeps a decimal exactly in a column of NUMERIC affinity: it turns decimal text
/// into an 8-byte float, exact to 15 significant digits, or into an integer when it is whole.
fn fits_numeric_affinity(v: i128, scale: i8) -> bool {
    let mut v = v;
    let mut scale = scale;
    while scale > 0 && v % 10 == 0 {
        v /= 10;
        scale -= 1;
    }
    if scale <= 0 {
        return i64::try_from(v).is_ok();
    }
    v.unsigned_abs().checked_ilog10().map_or(1, |d| d + 1) <= 15
}

/// SQLITE_CONSTRAINT and its extended codes (UNIQUE, PRIMARYKEY, NOTNULL, CHECK, FOREIGNKEY).
fn is_constraint(code: Option<&str>) -> bool {
    code.and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| c & 0xff == 19)
}

impl LiteWriter {
    async fn exec(&mut self, sql: &str) -> Result<u64, EngineError> {
        sqlx::query(sql)
            .execute(&mut self.conn)
            .await
            .map(|r| r.rows_affected())
            .map_err(|e| lite_err(&self.ep, e))
    }
}

/// The writer's connection as the staged apply uses it.
struct LiteSession<'a> {
    conn: &'a mut SqliteConnection,
    ep: &'a Endpoint,
}

#[async_trait]
impl StagingSession for LiteSession<'_> {
    async fn execute(&mut self, sql: &str) -> Result<u64, EngineError> {
        sqlx::query(sql)
            .execute(&mut *self.conn)
            .await
            .map(|r| r.rows_affected())
            .map_err(|e| lite_err(self.ep, e))
    }

    async fn integers(&mut self, sql: &str) -> Result<Vec<u64>, EngineError> {
        let row = sqlx::query(sql)
            .fetch_one(&mut *self.conn)
            .await
            .map_err(|e| lite_err(self.ep, e))?;
        (0..row.len())
            .map(|i| {
                row.try_get::<i64, _>(i)
                    .map(|n| n as u64)
                    .map_err(|e| lite_err(self.ep, e))
            })
            .collect()
    }
}

#[async_trait]
impl TableWriter for LiteWriter {
    async fn write(&mut self, batch: &RecordBatch) -> Result<Vec<RowReject>, EngineError> {
        let arrays = canonicalize(batch).map_err(EngineError::Data)?;
        let cols = arrays
            .iter()
            .map(Column::new)
            .collect::<Result<Vec<_>, _>>()
            .map_err(EngineError::Data)?;
        let mut rejects = Vec::new();
        'rows: for i in 0..batch.num_rows() {
            let mut q = sqlx::query(&self.insert);
            for (c, col) in cols.iter().enumerate() {
                match coerce(col.get(i), &self.spec.columns[c]) {
                    Ok(Val::Decimal(d, s)) if self.numeric[c] && !fits_numeric_affinity(d, s) => {
                        rejects.push(RowReject {
                            row: RejectedRow::Index(i),
                            reason: format!(
                                "column `{}`: {} has more than the 15 significant digits SQLite keeps in a {} column",
                                self.spec.columns[c].name,
                                format_decimal(d, s),
                                self.spec.columns[c].declared
                            ),
                        });
                        continue 'rows;
                    }
                    Ok(v) => q = bind(q, v),
                    Err(reason) => {
                        rejects.push(RowReject {
                            row: RejectedRow::Index(i),
                            reason,
                        });
                        continue 'rows;
                    }
                }
            }
            match q.execute(&mut self.conn).await {
                Ok(_) => {
                    if !self.staged {
                        self.inserted += 1;
                    }
                }
                // A constraint (UNIQUE, NOT NULL, CHECK, FOREIGN KEY) refuses this row only.
                Err(sqlx::Error::Database(d)) if is_constraint(d.code().as_deref()) => {
                    rejects.push(RowReject {
                        row: RejectedRow::Index(i),
                        reason: d.message().to_string(),
                    });
                }
                Err(e) => return Err(lite_err(&self.ep, e)),
            }
        }
        Ok(rejects)
    }

    async fn commit(&mut self) -> Result<Applied, EngineError> {
        let applied = if self.staged {
            let mut session = LiteSession {
                conn: &mut self.conn,
                ep: &self.ep,
            };
            staged::apply(&mut session, DIALECT, &self.spec, &self.names).await?
        } else {
            Applied {
                inserts: std::mem::take(&mut self.inserted),
                ..Applied::default()
            }
        };
        // `query`, not `raw_sql`: raw_sql's executor bound trips the Send check of callers' futures.
        self.exec("COMMIT").await?;
        self.exec("BEGIN IMMEDIATE").await?;
        Ok(applied)
    }

    async fn rollback(mut self: Box<Self>) -> Result<(), EngineError> {
        self.exec("ROLLBACK").await?;
        Ok(())
    }
}
