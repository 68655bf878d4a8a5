//! The second half of a load: moving the projected batches into the target — a file written aside,
//! or a database table through its transactional writer — with rejects, the error threshold, batch
//! commits, live counters and stops.

use super::{BatchTransform, classify};
use crate::domain::load::LoadOptions;
use crate::domain::task::FileFormat;
use crate::engine::db::{self, TableWriter};
use crate::engine::formats::{RunShared, Sink};
use crate::engine::rejects::Rejects;
use crate::engine::{EngineError, LiveCounters, RunContext};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

fn add(
    r: &Mutex<Rejects>,
    batch: Option<&RecordBatch>,
    rejects: &[db::RowReject],
) -> std::io::Result<()> {
    match r.lock() {
        Ok(mut r) => r.add(batch, rejects),
        Err(_) => Ok(()),
    }
}

fn count(r: &Mutex<Rejects>) -> u64 {
    r.lock().map(|r| r.count()).unwrap_or(0)
}

/// Rows handed to a database writer at a time: large enough that a COPY or multi-row insert
/// amortises its round trips, small enough to keep memory flat.
const WRITE_ROWS: usize = 65_536;

fn transform(t: &Option<BatchTransform>, b: RecordBatch) -> Result<RecordBatch, EngineError> {
    match t {
        Some(f) => f(b).map_err(EngineError::Data),
        None => Ok(b),
    }
}

/// The next batch, `None` at the end; a stop or a source error as `Err`.
async fn next(
    stream: &mut SendableRecordBatchStream,
    ctx: &RunContext,
    shared_err: impl Fn(datafusion::error::DataFusionError) -> EngineError,
) -> Result<Option<RecordBatch>, EngineError> {
    let n = tokio::select! {
        biased;
        _ = ctx.stop.immediate.cancelled() => return Err(EngineError::Stopped),
        n = stream.next() => n,
    };
    match n {
        None => Ok(None),
        Some(Ok(b)) => Ok(Some(b)),
        Some(Err(e)) => Err(shared_err(e)),
    }
}

fn source_error(ctx: &RunContext) -> impl Fn(datafusion::error::DataFusionError) -> EngineError {
    let shared = RunShared::new(ctx, false);
    move |e| {
        // A database reader's own error arrives wrapped as External: unwrap its message.
        if let datafusion::error::DataFusionError::External(inner) = &e {
            return EngineError::Data(inner.to_string());
        }
        classify(e, &shared)
    }
}

pub(super) async fn to_file(
    mut stream: SendableRecordBatchStream,
    format: FileFormat,
    path: &std::path::Path,
    ctx: &RunContext,
    counters: &Arc<LiveCounters>,
    t: &Option<BatchTransform>,
) -> Result<(), EngineError> {
    let mut sink = Sink::create(format, path, ctx.run_id, stream.schema(), counters.clone())?;
    let err = source_error(ctx);
    while let Some(b) = next(&mut stream, ctx, &err).await? {
        let b = transform(t, b)?;
        tokio::select! {
            biased;
            _ = ctx.stop.immediate.cancelled() => return Err(EngineError::Stopped),
            w = sink.write(b) => w?,
        }
        if ctx.stop.graceful.is_cancelled() {
            return Err(EngineError::Stopped);
        }
    }
    drop(stream);
    let written = sink.complete().await?;
    LiveCounters::add(&counters.inserts, written);
    sink.publish().await
}

/// Counts of what the target holds from this load, committed or not yet.
struct Progress<'a> {
    counters: &'a LiveCounters,
    /// Rows written since the last commit (shown live, taken back on rollback).
    pending: u64,
}

impl Progress<'_> {
    fn wrote(&mut self, n: u64) {
        self.pending += n;
        LiveCounters::add(&self.counters.target_rows_written, n);
    }
    fn committed(&mut self, a: &db::Applied) {
        let c = self.counters;
        c.target_rows_written
            .fetch_sub(self.pending, Ordering::Relaxed);
        self.pending = 0;
        LiveCounters::add(&c.target_rows_written, a.inserts + a.updates + a.deletes);
        LiveCounters::add(&c.inserts, a.inserts);
        LiveCounters::add(&c.updates, a.updates);
        LiveCounters::add(&c.deletes, a.deletes);
        LiveCounters::add(&c.skipped, a.skipped);
    }
    fn rolled_back(&mut self) {
        self.counters
            .target_rows_written
            .fetch_sub(self.pending, Ordering::Relaxed);
        self.pending = 0;
    }
}

pub(super) async fn to_table(
    mut stream: SendableRecordBatchStream,
    mut writer: Box<dyn TableWriter>,
    ctx: &RunContext,
    counters: &Arc<LiveCounters>,
    t: &Option<BatchTransform>,
    options: &LoadOptions,
    rejects: &Mutex<Rejects>,
) -> Result<(), EngineError> {
    let mut progress = Progress {
        counters,
        pending: 0,
    };
    let result = load_rows(
        &mut stream,
        writer.as_mut(),
        ctx,
        t,
        options,
        rejects,
        &mut progress,
    )
    .await;
    drop(stream);
    match result {
        Ok(()) => {
            let applied = tokio::select! {
                biased;
                _ = ctx.stop.immediate.cancelled() => Err(EngineError::Stopped),
                a = writer.commit() => a,
            };
            match applied {
                Ok(a) => {
                    add(rejects, None, &a.rejects)?;
                    LiveCounters::add(&counters.target_rows_failed, a.rejects.len() as u64);
                    progress.committed(&a);
                    Ok(())
                }
                Err(e) => {
                    progress.rolled_back();
                    Err(e)
                }
            }
        }
        Err(e) => {
            progress.rolled_back();
            if (!matches!(e, EngineError::Stopped) || !ctx.stop.immediate.is_cancelled())
                && let Err(rb) = writer.rollback().await
            {
                ctx.log.warn(format!("rolling back: {rb}"));
            }
            // An immediate stop drops the writer: its connection closes and the database rolls back.
            Err(e)
        }
    }
}

async fn load_rows(
    stream: &mut SendableRecordBatchStream,
    writer: &mut dyn TableWriter,
    ctx: &RunContext,
    t: &Option<BatchTransform>,
    options: &LoadOptions,
    rejects: &Mutex<Rejects>,
    progress: &mut Progress<'_>,
) -> Result<(), EngineError> {
    let err = source_error(ctx);
    let mut pending: Vec<RecordBatch> = Vec::new();
    let mut pending_rows = 0;
    let mut since_commit = 0u64;
    let schema = stream.schema();
    loop {
        let next_batch = next(stream, ctx, &err).await?;
        if ctx.stop.graceful.is_cancelled() {
            return Err(EngineError::Stopped);
        }
        let end = next_batch.is_none();
        if let Some(b) = next_batch {
            pending_rows += b.num_rows();
            pending.push(b);
        }
        if pending_rows < WRITE_ROWS && !end {
            continue;
        }
        if pending_rows > 0 {
            let batch =
                concat_batches(&schema, &pending).map_err(|e| EngineError::Data(e.to_string()))?;
            pending.clear();
            pending_rows = 0;
            since_commit += write_batch(writer, batch, ctx, t, options, rejects, progress).await?;
            if let Some(every) = options.commit_every
                && since_commit >= every.max(1)
            {
                commit_so_far(writer, ctx, rejects, progress).await?;
                since_commit = 0;
            }
            if ctx.stop.graceful.is_cancelled() {
                return Err(EngineError::Stopped);
            }
        }
        if end {
            return Ok(());
        }
    }
}

/// Hands one batch (transformed) to the writer; its refused rows become rejects, which may pass
/// the error threshold. Answers the rows handed over.
async fn write_batch(
    writer: &mut dyn TableWriter,
    batch: RecordBatch,
    ctx: &RunContext,
    t: &Option<BatchTransform>,
    options: &LoadOptions,
    rejects: &Mutex<Rejects>,
    progress: &mut Progress<'_>,
) -> Result<u64, EngineError> {
    let batch = transform(t, batch)?;
    let refused = tokio::select! {
        biased;
        _ = ctx.stop.immediate.cancelled() => return Err(EngineError::Stopped),
        r = writer.write(&batch) => r?,
    };
    add(rejects, Some(&batch), &refused)?;
    LiveCounters::add(&progress.counters.target_rows_failed, refused.len() as u64);
    let ok = (batch.num_rows() - refused.len()) as u64;
    progress.wrote(ok);
    if let Some(limit) = options.error_threshold
        && count(rejects) > limit
    {
        return Err(EngineError::Data(format!(
            "{} rows were rejected, more than the task's error threshold of {limit}",
            count(rejects)
        )));
    }
    Ok(batch.num_rows() as u64)
}

/// A batch commit (`commit_every`): what the writer applied so far becomes permanent and counted.
async fn commit_so_far(
    writer: &mut dyn TableWriter,
    ctx: &RunContext,
    rejects: &Mutex<Rejects>,
    progress: &mut Progress<'_>,
) -> Result<(), EngineError> {
    let a = writer.commit().await?;
    add(rejects, None, &a.rejects)?;
    LiveCounters::add(
        &progress.counters.target_rows_failed,
        a.rejects.len() as u64,
    );
    progress.committed(&a);
    ctx.log.info(format!(
        "committed: {} inserted, {} updated, {} deleted so far",
        progress.counters.inserts.load(Ordering::Relaxed),
        progress.counters.updates.load(Ordering::Relaxed),
        progress.counters.deletes.load(Ordering::Relaxed)
    ));
    Ok(())
}
