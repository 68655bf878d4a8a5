//! Transactional writes to PostgreSQL with binary COPY.
//!
//! Inserts COPY straight into the target, each batch under a savepoint: when PostgreSQL refuses a
//! batch (a duplicate key, a check or foreign-key constraint), the batch is split in halves until
//! the refused rows are alone, and those become rejects with PostgreSQL's reason. Update, upsert
//! and delete COPY into a temporary staging table and apply it with set-based statements at
//! commit. Nothing is visible to others before commit; a dropped writer's connection rolls back.

use super::binary::{Enc, HEADER, TRAILER, put_field};
use super::{DIALECT, columns_of, connect, pg_err, pg_message};
use crate::engine::EngineError;
use crate::engine::db::sql::{SEQ, STAGING};
use crate::engine::db::types::canonicalize;
use crate::engine::db::value::{Column, coerce};
use crate::engine::db::{
    Applied, Endpoint, Operation, RejectedRow, RowReject, TableWriter, WriteSpec,
};
use async_trait::async_trait;
use bytes::{BufMut, Bytes, BytesMut};
use datafusion::arrow::record_batch::RecordBatch;
use futures::SinkExt;
use std::ops::Range;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_postgres::Client;

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
        // Only the mapped columns, without constraints: refusals come from the apply statements.
        client
            .batch_execute(&format!(
                "CREATE TEMP TABLE {stg} ON COMMIT DELETE ROWS AS SELECT {cols} FROM {quoted} WITH NO DATA; \
                 ALTER TABLE {stg} ADD COLUMN {seq} bigserial",
                stg = DIALECT.quote(STAGING),
                cols = DIALECT.columns(&names, None),
                seq = DIALECT.quote(SEQ),
            ))
            .await
            .map_err(|e| pg_err(ep, e))?;
        DIALECT.quote(STAGING)
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

    async fn exec(&self, sql: &str) -> Result<u64, EngineError> {
        self.client
            .execute(sql, &[])
            .await
            .map_err(|e| pg_err(&self.ep, e))
    }

    /// Removes staged rows that repeat a key; answers how many. Inserts keep the first of them,
    /// the other operations the last (as if the rows had been applied one after the other).
    async fn drop_duplicates(&self, keep_first: bool) -> Result<u64, EngineError> {
        let order = if keep_first { "ASC" } else { "DESC" };
        self.exec(&format!(
            "DELETE FROM {stg} WHERE {seq} IN (SELECT {seq} FROM (SELECT {seq}, ROW_NUMBER() OVER \
             (PARTITION BY {keys} ORDER BY {seq} {order}) AS rn FROM {stg}) d WHERE rn > 1)",
            stg = DIALECT.quote(STAGING),
            seq = DIALECT.quote(SEQ),
            keys = DIALECT.columns(&self.spec.keys, None),
        ))
        .await
    }

    /// Whether the target has a unique index on exactly the key columns (so ON CONFLICT works).
    async fn unique_on_keys(&self) -> Result<bool, EngineError> {
        let mut keys = self.spec.keys.clone();
        keys.sort();
        let row = self
            .client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = to_regclass($1)                    AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL                    AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a                         WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)) = $2::text[])",
                &[&DIALECT.table(&self.spec.table), &keys],
            )
            .await
            .map_err(|e| pg_err(&self.ep, e))?;
        Ok(row.get(0))
    }

    /// Upsert through the unique index: one statement, index lookups instead of two joins;
    /// unchanged rows are left alone. Answers (inserted, updated).
    async fn upsert_on_conflict(&self) -> Result<(u64, u64), EngineError> {
        let (cols, keys) = (&self.names, &self.spec.keys);
        let non_keys: Vec<&String> = cols.iter().filter(|c| !keys.contains(c)).collect();
        let action = if non_keys.is_empty() {
            "DO NOTHING".to_string()
        } else {
            let set = non_keys
                .iter()
                .map(|c| format!("{q} = EXCLUDED.{q}", q = DIALECT.quote(c)))
                .collect::<Vec<_>>()
                .join(", ");
            let mine = non_keys
                .iter()
                .map(|c| format!("__t.{}", DIALECT.quote(c)))
                .collect::<Vec<_>>()
                .join(", ");
            let theirs = non_keys
                .iter()
                .map(|c| format!("EXCLUDED.{}", DIALECT.quote(c)))
                .collect::<Vec<_>>()
                .join(", ");
            format!("DO UPDATE SET {set} WHERE ROW({mine}) IS DISTINCT FROM ROW({theirs})")
        };
        // xmax is 0 on a freshly inserted row version and set on an updated one.
        let sql = format!(
            "WITH r AS (INSERT INTO {t} AS __t ({c}) SELECT {c} FROM {stg} ON CONFLICT ({k}) {action}              RETURNING (xmax = 0) AS ins)              SELECT count(*) FILTER (WHERE ins), count(*) FILTER (WHERE NOT ins) FROM r",
            t = DIALECT.table(&self.spec.table),
            c = DIALECT.columns(cols, None),
            stg = DIALECT.quote(STAGING),
            k = DIALECT.columns(keys, None),
        );
        let row = self
            .client
            .query_one(&sql, &[])
            .await
            .map_err(|e| pg_err(&self.ep, e))?;
        Ok((row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64))
    }

    async fn apply_staged(&self) -> Result<Applied, EngineError> {
        let mut a = Applied::default();
        let stg = DIALECT.quote(STAGING);
        // Temporary tables are never auto-analysed; the apply joins need real statistics.
        self.exec(&format!("ANALYZE {stg}")).await?;
        // Finding no repeated key is cheaper than the window that removes them.
        let repeated: bool = self
            .client
            .query_one(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM {stg} GROUP BY {} HAVING count(*) > 1)",
                    DIALECT.columns(&self.spec.keys, None)
                ),
                &[],
            )
            .await
            .map_err(|e| pg_err(&self.ep, e))?
            .get(0);
        if repeated {
            a.skipped += self.drop_duplicates(false).await?;
        }
        let staged: i64 = self
            .client
            .query_one(&format!("SELECT count(*) FROM {stg}"), &[])
            .await
            .map_err(|e| pg_err(&self.ep, e))?
            .get(0);
        let (t, cols, keys) = (&self.spec.table, &self.names, &self.spec.keys);
        match self.spec.operation {
            Operation::Upsert if self.unique_on_keys().await? => {
                let (ins, upd) = self.upsert_on_conflict().await?;
                a.inserts = ins;
                a.updates = upd;
            }
            Operation::Update | Operation::Upsert => {
                let update = DIALECT.update_from_staging(t, cols, keys);
                if !update.is_empty() {
                    a.updates = self.exec(&update).await?;
                }
                if self.spec.operation == Operation::Upsert {
                    a.inserts = self.exec(&DIALECT.insert_missing(t, cols, keys)).await?;
                }
            }
            Operation::Delete => a.deletes = self.exec(&DIALECT.delete_matching(t, keys)).await?,
            Operation::Insert => {}
        }
        a.skipped += (staged as u64).saturating_sub(a.updates + a.inserts + a.deletes);
        Ok(a)
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
            self.apply_staged().await?
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
