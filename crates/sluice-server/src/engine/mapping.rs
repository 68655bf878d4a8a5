//! The mapping task (MTT): file sources and database tables registered as DataFusion tables, an
//! optional SQL transform over them, and one target file written atomically, streaming batch by
//! batch throughout.

#[cfg(test)]
mod format_tests;
#[cfg(test)]
mod stop_tests;
#[cfg(test)]
mod tests;

use super::formats::{RunShared, Sink, SourceStats, format_name};
use super::pipeline::{classify, open_source, read_only, register_database, session};
use super::sql_guard::SqlKind;
use super::{EngineError, RunContext};
use crate::domain::Outcome;
use crate::domain::load::ObjectSource;
use crate::domain::task::MappingDef;
use datafusion::common::TableReference;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

pub async fn run(def: &MappingDef, ctx: &RunContext) -> Result<Outcome, EngineError> {
    let started = Instant::now();
    let sql = query(def, ctx)?;
    let target = ctx.resolve_path(&def.target.path, def.target.connection.as_deref())?;
    let shared = Arc::new(RunShared::new(ctx, def.stop_on_error));
    ctx.log.info(format!(
        "mapping: sources {}; target {} {}",
        def.sources
            .iter()
            .map(|s| format!("`{}` ({})", s.name, format_name(s.format)))
            .collect::<Vec<_>>()
            .join(", "),
        format_name(def.target.format),
        target.display()
    ));

    let session = session(ctx);
    let stats = register_sources(def, ctx, &session, &shared).await?;
    if ctx.stop.requested() {
        return Err(EngineError::Stopped);
    }
    let mut stream = execute(&session, &sql).await?;
    let mut sink = Sink::create(
        def.target.format,
        &target,
        ctx.run_id,
        stream.schema(),
        ctx.counters.clone(),
    )?;
    let moved = pump(&mut stream, &mut sink, &shared, ctx).await;
    // Dropping the stream ends the readers before anything else happens.
    drop(stream);
    moved?;
    let written = tokio::select! {
        biased;
        _ = ctx.stop.immediate.cancelled() => return Err(EngineError::Stopped),
        done = sink.complete() => done?,
    };
    sink.publish().await?;

    let failed = report_sources(&stats, &shared, ctx);
    ctx.log.info(format!(
        "target: {written} rows written to {} in {:.2}s",
        target.display(),
        started.elapsed().as_secs_f64()
    ));
    Ok(if failed == 0 {
        Outcome::Completed
    } else {
        Outcome::CompletedWithErrors
    })
}

/// Registers every file source and database table under its name; answers the file sources' row
/// counts, which the run reports at its end.
async fn register_sources(
    def: &MappingDef,
    ctx: &RunContext,
    session: &SessionContext,
    shared: &Arc<RunShared>,
) -> Result<Vec<Arc<SourceStats>>, EngineError> {
    let mut stats = Vec::with_capacity(def.sources.len());
    for src in &def.sources {
        let table = tokio::select! {
            biased;
            _ = ctx.stop.immediate.cancelled() => return Err(EngineError::Stopped),
            table = open_source(src, ctx, shared) => table?,
        };
        stats.push(table.stats());
        session
            .register_table(TableReference::bare(src.name.as_str()), table)
            .map_err(|e| EngineError::Definition(format!("source `{}`: {e}", src.name)))?;
    }
    for t in &def.tables {
        let src = ObjectSource {
            connection: Some(t.connection.clone()),
            table: t.table.clone(),
            query: t.query.clone(),
            filter: t.filter.clone(),
            ..Default::default()
        };
        let label = format!("table `{}`: ", t.name);
        tokio::select! {
            biased;
            _ = ctx.stop.immediate.cancelled() => return Err(EngineError::Stopped),
            r = register_database(session, &t.name, &src, None, ctx, &ctx.counters, &label) => r?,
        };
    }
    Ok(stats)
}

/// Plans and starts the query. Planning errors (syntax, unknown tables or columns, DDL) are the
/// definition's fault.
async fn execute(
    session: &SessionContext,
    sql: &str,
) -> Result<SendableRecordBatchStream, EngineError> {
    let frame = session
        .sql_with_options(sql, read_only())
        .await
        .map_err(|e| EngineError::Definition(e.to_string()))?;
    frame
        .execute_stream()
        .await
        .map_err(|e| EngineError::Definition(e.to_string()))
}

/// Logs each file source's counts, and how many failed rows went unlogged; answers the failed rows.
fn report_sources(stats: &[Arc<SourceStats>], shared: &RunShared, ctx: &RunContext) -> u64 {
    let mut failed = 0;
    for s in stats {
        let (read, bad) = (
            s.read.load(Ordering::Relaxed),
            s.failed.load(Ordering::Relaxed),
        );
        failed += bad;
        ctx.log.info(format!(
            "source `{}`: {read} rows read, {bad} failed",
            s.name
        ));
    }
    let unlogged = failed.saturating_sub(shared.bad_rows_logged());
    if unlogged > 0 {
        ctx.log.warn(format!(
            "{unlogged} more failed rows were skipped without being logged one by one"
        ));
    }
    failed
}

/// The SQL to run: the transform with parameters substituted, or a copy of the only source.
fn query(def: &MappingDef, ctx: &RunContext) -> Result<String, EngineError> {
    let all: Vec<&str> = def
        .sources
        .iter()
        .map(|s| s.name.as_str())
        .chain(def.tables.iter().map(|t| t.name.as_str()))
        .collect();
    if all.is_empty() {
        return Err(EngineError::Definition(
            "a mapping needs at least one source".into(),
        ));
    }
    let mut names = BTreeSet::new();
    for s in &all {
        if s.trim().is_empty() {
            return Err(EngineError::Definition("a source needs a name".into()));
        }
        if !names.insert(*s) {
            return Err(EngineError::Definition(format!(
                "two sources are named `{s}`"
            )));
        }
    }
    match (&def.transform, all.as_slice()) {
        (Some(t), _) => ctx.substitute_sql(&t.sql, SqlKind::Query, "transform.sql"),
        (None, [only]) => Ok(format!("SELECT * FROM \"{}\"", only.replace('"', "\"\""))),
        (None, _) => Err(EngineError::Definition(
            "a mapping with several sources needs a transform saying how to combine them".into(),
        )),
    }
}

/// Moves the query's batches into the sink until the end, an error, or a stop.
async fn pump(
    stream: &mut SendableRecordBatchStream,
    sink: &mut Sink,
    shared: &RunShared,
    ctx: &RunContext,
) -> Result<(), EngineError> {
    let immediate = &ctx.stop.immediate;
    loop {
        let next = tokio::select! {
            biased;
            _ = immediate.cancelled() => return Err(EngineError::Stopped),
            next = stream.next() => next,
        };
        match next {
            None => return Ok(()),
            Some(Err(e)) => return Err(classify(e, shared)),
            Some(Ok(batch)) => {
                tokio::select! {
                    biased;
                    _ = immediate.cancelled() => return Err(EngineError::Stopped),
                    written = sink.write(batch) => written?,
                }
                // A graceful stop lets the batch in hand reach the writer, then stops.
                if ctx.stop.graceful.is_cancelled() {
                    return Err(EngineError::Stopped);
                }
            }
        }
    }
}
