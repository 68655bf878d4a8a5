//! Transactional writes to MySQL/MariaDB: one transaction on one connection; rows go in large
//! multi-row prepared INSERTs (binary protocol, no escaping). InnoDB undoes just the failed
//! statement when a row is refused, so a refused statement is split in halves until the refused
//! rows stand alone, and those become rejects with the server's message. Update, upsert and delete
//! load a temporary staging table, applied at commit by the shared staged apply (`db::staged`).

use super::{DIALECT, connect, my_err, my_message};
use crate::engine::EngineError;
use crate::engine::db::staged::{self, StagingSession};
use crate::engine::db::types::canonicalize;
use crate::engine::db::value::{Column, Val, coerce, format_decimal};
use crate::engine::db::{
    Applied, Endpoint, Operation, RejectedRow, RowReject, TableWriter, WriteSpec,
};
use async_trait::async_trait;
use chrono::{Datelike, Timelike};
use datafusion::arrow::record_batch::RecordBatch;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};
use std::ops::Range;

/// The most placeholders one prepared statement may have.
const MAX_PLACEHOLDERS: usize = 65_535;
/// Rows per INSERT: big enough to amortise round trips, small enough for max_allowed_packet.
const ROWS_PER_INSERT: usize = 2_000;

/// Server errors that refuse a row (its values or a constraint), not the whole load.
fn is_row_error(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(s) if matches!(s.code,
        1048 | 1062 | 1264 | 1265 | 1292 | 1364 | 1366 | 1406 | 1451 | 1452 | 1690 | 3819 | 4025))
}

pub async fn open_writer(
    ep: &Endpoint,
    spec: WriteSpec,
) -> Result<Box<dyn TableWriter>, EngineError> {
    let mut conn = connect(ep).await?;
    if super::columns_of(&mut conn, ep, &spec.table)
        .await?
        .is_empty()
    {
        return Err(EngineError::Definition(format!(
            "table `{}` does not exist in `{}`",
            spec.table, ep.name
        )));
    }
    let names: Vec<String> = spec.columns.iter().map(|c| c.name.clone()).collect();
    let staged = spec.operation != Operation::Insert;
    let mut setup = Vec::new();
    if staged {
        // Before the transaction: CREATE TEMPORARY TABLE does not commit, but keep it outside.
        setup.extend(DIALECT.create_staging(&spec.table, &names));
    }
    setup.push("START TRANSACTION".into());
    if spec.truncate {
        setup.push(DIALECT.truncate(&spec.table));
    }
    for sql in setup {
        conn.query_drop(sql).await.map_err(|e| my_err(ep, e))?;
    }
    let into = if staged {
        DIALECT.staging()
    } else {
        DIALECT.table(&spec.table)
    };
    let per_insert = (MAX_PLACEHOLDERS / names.len().max(1)).clamp(1, ROWS_PER_INSERT);
    Ok(Box::new(MyWriter {
        conn,
        ep: ep.clone(),
        into,
        names,
        spec,
        staged,
        inserted: 0,
        per_insert,
    }))
}

struct MyWriter {
    conn: Conn,
    ep: Endpoint,
    into: String,
    names: Vec<String>,
    spec: WriteSpec,
    staged: bool,
    inserted: u64,
    per_insert: usize,
}

fn value(v: Val) -> Value {
    match v {
        Val::Null => Value::NULL,
        Val::Bool(b) => Value::Int(b as i64),
        Val::Int(i) => Value::Int(i),
        Val::UInt(u) => Value::UInt(u),
        Val::Float(f) => Value::Double(f),
        Val::Decimal(d, s) => Value::Bytes(format_decimal(d, s).into_bytes()),
        Val::Text(t) | Val::Json(t) => Value::Bytes(t.into_owned().into_bytes()),
        Val::Bytes(b) => Value::Bytes(b.into_owned()),
        Val::Date(d) => Value::Date(d.year() as u16, d.month() as u8, d.day() as u8, 0, 0, 0, 0),
        Val::Time(t) => Value::Time(
            false,
            0,
            t.hour() as u8,
            t.minute() as u8,
            t.second() as u8,
            t.nanosecond() / 1000,
        ),
        Val::Timestamp(t) => datetime(t),
        Val::TimestampTz(t) => datetime(t.naive_utc()),
        Val::Uuid(u) => Value::Bytes(u.hyphenated().to_string().into_bytes()),
    }
}

fn datetime(t: chrono::NaiveDateTime) -> Value {
    Value::Date(
        t.year() as u16,
        t.month() as u8,
        t.day() as u8,
        t.hour() as u8,
        t.minute() as u8,
        t.second() as u8,
        t.nanosecond() / 1000,
    )
}

impl MyWriter {
    fn insert_sql(&self, rows: usize) -> String {
        let one = format!("({})", vec!["?"; self.names.len()].join(", "));
        format!(
            "INSERT INTO {} ({}) VALUES {}",
            self.into,
            DIALECT.columns(&self.names, None),
            vec![one; rows].join(", ")
        )
    }

    async fn exec(&mut self, sql: String) -> Result<u64, EngineError> {
        self.conn
            .query_drop(sql)
            .await
            .map_err(|e| my_err(&self.ep, e))?;
        Ok(self.conn.affected_rows())
    }

    /// Inserts rows (values in column order, with their batch index); isolates refused rows.
    async fn insert(
        &mut self,
        rows: &[(usize, Vec<Value>)],
        rejects: &mut Vec<RowReject>,
    ) -> Result<u64, EngineError> {
        let mut written = 0;
        let mut todo: Vec<Range<usize>> = Vec::new();
        let mut start = rows.len();
        while start > 0 {
            let from = start.saturating_sub(self.per_insert);
            todo.push(from..start);
            start = from;
        }
        while let Some(part) = todo.pop() {
            let sql = self.insert_sql(part.len());
            let params: Vec<Value> = rows[part.clone()]
                .iter()
                .flat_map(|(_, v)| v.iter().cloned())
                .collect();
            match self.conn.exec_drop(sql, params).await {
                Ok(()) => written += self.conn.affected_rows(),
                Err(e) if is_row_error(&e) => {
                    if part.len() == 1 {
                        rejects.push(RowReject {
                            row: RejectedRow::Index(rows[part.start].0),
                            reason: my_message(&e),
                        });
                    } else {
                        let mid = part.start + part.len() / 2;
                        todo.push(mid..part.end);
                        todo.push(part.start..mid);
                    }
                }
                Err(e) => return Err(my_err(&self.ep, e)),
            }
        }
        Ok(written)
    }
}

/// The writer's connection as the staged apply uses it.
struct MySession<'a> {
    conn: &'a mut Conn,
    ep: &'a Endpoint,
}

#[async_trait]
impl StagingSession for MySession<'_> {
    async fn execute(&mut self, sql: &str) -> Result<u64, EngineError> {
        self.conn
            .query_drop(sql)
            .await
            .map_err(|e| my_err(self.ep, e))?;
        Ok(self.conn.affected_rows())
    }

    async fn integers(&mut self, sql: &str) -> Result<Vec<u64>, EngineError> {
        let row: Option<Row> = self
            .conn
            .query_first(sql)
            .await
            .map_err(|e| my_err(self.ep, e))?;
        let Some(row) = row else {
            return Ok(Vec::new());
        };
        (0..row.len())
            .map(|i| match row.get_opt::<u64, usize>(i) {
                Some(Ok(n)) => Ok(n),
                Some(Err(e)) => Err(EngineError::Data(format!("MySQL `{}`: {e}", self.ep.name))),
                None => Ok(0),
            })
            .collect()
    }
}

#[async_trait]
impl TableWriter for MyWriter {
    async fn write(&mut self, batch: &RecordBatch) -> Result<Vec<RowReject>, EngineError> {
        let arrays = canonicalize(batch).map_err(EngineError::Data)?;
        let cols = arrays
            .iter()
            .map(Column::new)
            .collect::<Result<Vec<_>, _>>()
            .map_err(EngineError::Data)?;
        let mut rejects = Vec::new();
        let mut rows = Vec::with_capacity(batch.num_rows());
        'rows: for i in 0..batch.num_rows() {
            let mut values = Vec::with_capacity(cols.len());
            for (c, col) in cols.iter().enumerate() {
                match coerce(col.get(i), &self.spec.columns[c]) {
                    Ok(v) => values.push(value(v)),
                    Err(reason) => {
                        rejects.push(RowReject {
                            row: RejectedRow::Index(i),
                            reason,
                        });
                        continue 'rows;
                    }
                }
            }
            rows.push((i, values));
        }
        let n = self.insert(&rows, &mut rejects).await?;
        if !self.staged {
            self.inserted += n;
        }
        rejects.sort_by_key(|r| match r.row {
            RejectedRow::Index(i) => i,
            RejectedRow::Json(_) => usize::MAX,
        });
        Ok(rejects)
    }

    async fn commit(&mut self) -> Result<Applied, EngineError> {
        let applied = if self.staged {
            let mut session = MySession {
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
        self.exec("COMMIT".into()).await?;
        self.exec("START TRANSACTION".into()).await?;
        Ok(applied)
    }

    async fn rollback(mut self: Box<Self>) -> Result<(), EngineError> {
        self.exec("ROLLBACK".into()).await?;
        Ok(())
    }
}
