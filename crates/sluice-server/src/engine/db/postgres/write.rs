//! Transactional writes to PostgreSQL with binary COPY.
//!
//! Inserts COPY straight into the target, each batch under a savepoint: when PostgreSQL refuses a
//! batch (a duplicate key, a check or foreign-key constraint), the batch is split in halves until
//! the refused rows are alone, and those become rejects with PostgreSQL's reason. Update, upsert
//! and delete COPY into a temporary staging table, applied at commit by the shared staged apply
//! (`db::staged`), which upserts through ON CONFLICT when a unique index covers the keys. Nothing
//! is visible to others before commit; a dropped writer's connection rolls back.

use super::binary::{Enc, HEADER, TRAILER, put_field};
use super::{DIALECT, columns_of, connect, pg_err, pg_message};
use crate::engine::EngineError;
use crate::engine::db::staged::{self, StagingSession};
use crate::engine::db::types::canonicalize;
use crate::engine::db::value::{Column, coerce};
use crate::engine::db::{
    Applied, Endpoint, ObjectName, Operation, RejectedRow, RowReject, TableWriter, WriteSpec,
};
use async_trait::async_trait;
use bytes::{BufMut, Bytes, BytesMut};
use datafusion::arrow::record_batch::RecordBatch;
use futures::SinkExt;
use std::ops::Range;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Row};

pub async fn open_writer(
    ep: &Endpoint,
    spec: WriteSpec,
) -> Result<Box<dyn TableWriter>, EngineError> {
    let client = connect(ep).await?;
    let quoted = DIALECT.table(&spec.table);
    let Some(cols) = columns_of(&client, ep, &quoted).await? else {
        return Err(EngineError::Definition(format!(
            "table `{}` does not exist in `{}`",
            spec.table, ep.name
        )));
    };
    let mut encs = Vec::with_capacity(spec.columns.len());
    for c in &spec.columns {
        let pg = cols.iter().find(|p| p.name == c.name).ok_or_else(|| {
            EngineError::Definition(format!("table `{}` has no column `{}`", spec.table, c.name))
        })?;
        let enc = Enc::of(&pg.type_name, pg.type_kind == b'e' as i8).ok_or_else(|| {
            EngineError::Definition(format!(
                "column `{}` of `{}` has type {}, which Sluice cannot write yet",
                c.name, spec.table, pg.declared
            ))
        })?;
        encs.push(enc);
    }
    let names: Vec<String> = spec.columns.iter().map(|c| c.name.clone()).collect();
    let staged = spec.operation != Operation::Insert;
    client
        .batch_execute("BEGIN")
        .await
        .map_err(|e| pg_err(ep, e))?;
    if spec.truncate {
        client
            .batch_execute(&DIALECT.truncate(&spec.table))
            .await
            .map_err(|e| pg_err(ep, e))?;
    }
    let into = if staged {
        client
            .batch_execute(&DIALECT.create_staging(&spec.table, &names).join("; "))
            .await
            .map_err(|e| pg_err(ep, e))?;
        DIALECT.staging()
    } else {
        quoted
    };
    let copy = format!(
        "COPY {into} ({}) FROM STDIN (FORMAT binary)",
        DIALECT.columns(&names, None)
    );
    Ok(Box::new(PgWriter {
        client: Arc::new(client),
        ep: ep.clone(),
        spec,
        names,
        encs,
        copy: copy.into(),
        staged,
        inserted: 0,
        inflight: None,
    }))
}

struct PgWriter {
    client: Arc<Client>,
    ep: Endpoint,
    spec: WriteSpec,
    names: Vec<String>,
    encs: Vec<Enc>,
    copy: Arc<str>,
    staged: bool,
    /// Rows inserted directly since the last commit.
    inserted: u64,
    /// The COPY still running, with the batch its rows came from: the next batch is encoded while
    /// PostgreSQL takes this one in.
    inflight: Option<(JoinHandle<CopyResult>, RecordBatch)>,
}

/// Rows written, and refused rows by batch index with PostgreSQL's reason.
type CopyResult = Result<(u64, Vec<(usize, String)>), EngineError>;

async fn copy_bytes(
    client: &Client,
    copy: &str,
    data: Bytes,
) -> Result<u64, tokio_postgres::Error> {
    let sink = client.copy_in::<_, Bytes>(copy).await?;
    let mut sink = std::pin::pin!(sink);
    sink.send(data).await?;
    sink.as_mut().finish().await
}

/// COPYs encoded rows (`buf` holds them back to back) under a savepoint; a refused set is split
/// in halves until the refused rows stand alone. Staged loads COPY without a savepoint: the
/// staging table has no constraints, so any error is the load's.
async fn copy_isolating(
    client: Arc<Client>,
    ep: Endpoint,
    copy: Arc<str>,
    buf: Bytes,
    rows: Vec<(Range<usize>, usize)>,
    isolate: bool,
) -> CopyResult {
    let exec = |sql: &'static str| {
        let client = client.clone();
        let ep = ep.clone();
        async move { client.batch_execute(sql).await.map_err(|e| pg_err(&ep, e)) }
    };
    let frame = |parts: &[(Range<usize>, usize)], whole: bool| {
        let mut data = BytesMut::with_capacity(HEADER.len() + TRAILER.len() + 64);
        data.put_slice(HEADER);
        if whole {
            data.put_slice(&buf[parts[0].0.start..parts[parts.len() - 1].0.end]);
        } else {
            for (r, _) in parts {
                data.put_slice(&buf[r.clone()]);
            }
        }
        data.put_slice(TRAILER);
        data.freeze()
    };
    if !isolate {
        let n = copy_bytes(&client, &copy, frame(&rows, true))
            .await
            .map_err(|e| pg_err(&ep, e))?;
        return Ok((n, Vec::new()));
    }
    let mut written = 0;
    let mut refused = Vec::new();
    // A stack of row ranges still to COPY, starting with all of them.
    let mut todo: Vec<Range<usize>> = Vec::new();
    todo.push(0..rows.len());
    while let Some(part) = todo.pop() {
        let data = frame(&rows[part.clone()], part == (0..rows.len()));
        exec("SAVEPOINT sluice_batch").await?;
        match copy_bytes(&client, &copy, data).await {
            Ok(n) => {
                exec("RELEASE SAVEPOINT sluice_batch").await?;
                written += n;
            }
            Err(e) if is_row_error(&e) => {
                exec("ROLLBACK TO SAVEPOINT sluice_batch").await?;
                if part.len() == 1 {
                    refused.push((rows[part.start].1, pg_message(&e)));
                } else {
                    let mid = part.start + part.len() / 2;
                    todo.push(mid..part.end);
                    todo.push(part.start..mid);
                }
            }
            Err(e) => return Err(pg_err(&ep, e)),
        }
    }
    Ok((written, refused))
}

/// A row error PostgreSQL reports for the data (class 22) or a constraint (class 23): the row is
/// at fault, not the load.
fn is_row_error(e: &tokio_postgres::Error) -> bool {
    e.code()
        .is_some_and(|c| c.code().starts_with("22") || c.code().starts_with("23"))
}

impl PgWriter {
    /// Waits for the COPY in flight; its refused rows come back as JSON (their batch is gone by
    /// the time the caller sees them).
    async fn settle(&mut self) -> Result<Vec<RowReject>, EngineError> {
        let Some((task, batch)) = self.inflight.take() else {
            return Ok(Vec::new());
        };
        let (n, refused) = task
            .await
            .map_err(|e| EngineError::Data(format!("the COPY task failed: {e}")))??;
        if !self.staged {
            self.inserted += n;
        }
        Ok(refused
            .into_iter()
            .map(|(i, reason)| RowReject {
                row: RejectedRow::Json(crate::engine::rejects::row_json(&batch, i)),
                reason,
            })
            .collect())
    }
}

/// The writer's connection as the staged apply uses it.
struct PgSession<'a> {
    client: &'a Client,
    ep: &'a Endpoint,
}

/// A count or truth from a query's row, whichever integer type PostgreSQL answered with.
fn integer(row: &Row, i: usize) -> Result<u64, tokio_postgres::Error> {
    Ok(match *row.columns()[i].type_() {
        Type::BOOL => row.try_get::<_, bool>(i)? as u64,
        Type::INT2 => row.try_get::<_, i16>(i)? as u64,
        Type::INT4 => row.try_get::<_, i32>(i)? as u64,
        _ => row.try_get::<_, i64>(i)? as u64,
    })
}

#[async_trait]
impl StagingSession for PgSession<'_> {
    async fn execute(&mut self, sql: &str) -> Result<u64, EngineError> {
        self.client
            .execute(sql, &[])
            .await
            .map_err(|e| pg_err(self.ep, e))
    }

    async fn integers(&mut self, sql: &str) -> Result<Vec<u64>, EngineError> {
        let row = self
            .client
            .query_one(sql, &[])
            .await
            .map_err(|e| pg_err(self.ep, e))?;
        (0..row.len())
            .map(|i| integer(&row, i).map_err(|e| pg_err(self.ep, e)))
            .collect()
    }

    /// ON CONFLICT needs a unique index on exactly the key columns, without a predicate.
    async fn unique_on_keys(
        &mut self,
        table: &ObjectName,
        keys: &[String],
    ) -> Result<bool, EngineError> {
        let mut keys = keys.to_vec();
        keys.sort();
        let row = self
            .client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = to_regclass($1) \
                 AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL \
                 AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a \
                      WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)) = $2::text[])",
                &[&DIALECT.table(table), &keys],
            )
            .await
            .map_err(|e| pg_err(self.ep, e))?;
        Ok(row.get(0))
    }
}

#[async_trait]
impl TableWriter for PgWriter {
    async fn write(&mut self, batch: &RecordBatch) -> Result<Vec<RowReject>, EngineError> {
        let arrays = canonicalize(batch).map_err(EngineError::Data)?;
        let cols = arrays
            .iter()
            .map(Column::new)
            .collect::<Result<Vec<_>, _>>()
            .map_err(EngineError::Data)?;
        let mut rejects = Vec::new();
        let mut buf = BytesMut::with_capacity(batch.num_rows() * 64);
        let mut rows: Vec<(Range<usize>, usize)> = Vec::with_capacity(batch.num_rows());
        let width = self.spec.columns.len() as i16;
        for i in 0..batch.num_rows() {
            let start = buf.len();
            buf.put_i16(width);
            let mut refused = None;
            for (c, col) in cols.iter().enumerate() {
                let r = coerce(col.get(i), &self.spec.columns[c])
                    .and_then(|v| put_field(&mut buf, self.encs[c], &v));
                if let Err(reason) = r {
                    refused = Some(reason);
                    break;
                }
            }
            match refused {
                Some(reason) => {
                    buf.truncate(start);
                    rejects.push(RowReject {
                        row: RejectedRow::Index(i),
                        reason,
                    });
                }
                None => rows.push((start..buf.len(), i)),
            }
        }
        // The previous batch's COPY finishes first: one statement at a time on a connection.
        rejects.extend(self.settle().await?);
        if !rows.is_empty() {
            let task = tokio::spawn(copy_isolating(
                self.client.clone(),
                self.ep.clone(),
                self.copy.clone(),
                buf.freeze(),
                rows,
                !self.staged,
            ));
            self.inflight = Some((task, batch.clone()));
        }
        Ok(rejects)
    }

    async fn commit(&mut self) -> Result<Applied, EngineError> {
        let late = self.settle().await?;
        let mut applied = if self.staged {
            let mut session = PgSession {
                client: &self.client,
                ep: &self.ep,
            };
            staged::apply(&mut session, DIALECT, &self.spec, &self.names).await?
        } else {
            Applied {
                inserts: std::mem::take(&mut self.inserted),
                ..Applied::default()
            }
        };
        applied.rejects.extend(late);
        self.client
            .batch_execute("COMMIT; BEGIN")
            .await
            .map_err(|e| pg_err(&self.ep, e))?;
        Ok(applied)
    }

    async fn rollback(mut self: Box<Self>) -> Result<(), EngineError> {
        // The COPY in flight must end before the connection takes the ROLLBACK.
        if let Some((task, _)) = self.inflight.take() {
            let _ = task.await;
        }
        self.client
            .batch_execute("ROLLBACK")
            .await
            .map_err(|e| pg_err(&self.ep, e))
    }
}
