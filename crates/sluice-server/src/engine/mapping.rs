//! The mapping task (MTT): file sources registered as DataFusion tables, an optional SQL transform
//! over them, and one target file written atomically, streaming batch by batch throughout.

#[path = "csv_infer.rs"]
pub(crate) mod csv_infer;
#[path = "csv_source.rs"]
pub(crate) mod csv_source;
#[path = "json_source.rs"]
pub(crate) mod json_source;
#[path = "parquet_source.rs"]
pub(crate) mod parquet_source;
#[path = "sink.rs"]
pub(crate) mod sink;
#[path = "source.rs"]
pub(crate) mod source;
#[cfg(test)]
#[path = "mapping_stop_tests.rs"]
mod stop_tests;
#[cfg(test)]
#[path = "mapping_tests.rs"]
mod tests;

use super::sql_guard::SqlKind;
use super::{EngineError, RunContext};
use crate::domain::Outcome;
use crate::domain::task::{FileFormat, FileSource, MappingDef};
use datafusion::common::TableReference;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;
use sink::Sink;
use source::{FileReader, FileTable, RunShared};
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
    let mut stats = Vec::with_capacity(def.sources.len());
    for src in &def.sources {
        let table = tokio::select! {
            biased;
            _ = ctx.stop.immediate.cancelled() => return Err(EngineError::Stopped),
            table = open_source(src, ctx, &shared) => table?,
        };
        stats.push(table.stats());
        session
            .register_table(TableReference::bare(src.name.as_str()), table)
            .map_err(|e| EngineError::Definition(format!("source `{}`: {e}", src.name)))?;
    }
    for t in &def.tables {
        let src = crate::domain::load::ObjectSource {
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
            r = super::load::register_database(&session, &t.name, &src, None, ctx, &ctx.counters, &label) => r?,
        };
    }
    if ctx.stop.requested() {
        return Err(EngineError::Stopped);
    }

    // Planning errors (syntax, unknown tables or columns, DDL) are the definition's fault.
    let options = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let frame = session
        .sql_with_options(&sql, options)
        .await
        .map_err(|e| EngineError::Definition(e.to_string()))?;
    let mut stream = frame
        .execute_stream()
        .await
        .map_err(|e| EngineError::Definition(e.to_string()))?;

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

    let mut failed = 0;
    for s in &stats {
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

pub(crate) fn session(ctx: &RunContext) -> SessionContext {
    let config = SessionConfig::new()
        .with_target_partitions(2)
        .with_batch_size(ctx.batch_size.max(1))
        // Column and table names match as written (`Country` is not `country`), as in the files.
        .set_bool("datafusion.sql_parser.enable_ident_normalization", false);
    SessionContext::new_with_config(config)
}

/// Finds a source's files and works out its columns (file I/O, so on a blocking thread).
pub(crate) async fn open_source(
    src: &FileSource,
    ctx: &RunContext,
    shared: &Arc<RunShared>,
) -> Result<Arc<FileTable>, EngineError> {
    let (source, run) = (src.clone(), ctx.clone());
    let (schema, reader, files) = tokio::task::spawn_blocking(move || {
        let files = source::expand(&source, &run)?;
        let (schema, reader): (_, Arc<dyn FileReader>) = match source.format {
            FileFormat::Csv => {
                let r = csv_source::CsvReader::open(&source, files.clone())?;
                (r.schema(), Arc::new(r))
            }
            FileFormat::Json => {
                let r = json_source::JsonReader::open(&source, files.clone())?;
                (r.schema(), Arc::new(r))
            }
            FileFormat::Parquet => {
                let r = parquet_source::ParquetReader::open(&source, files.clone())?;
                (r.schema(), Arc::new(r))
            }
        };
        Ok::<_, EngineError>((schema, reader, files))
    })
    .await
    .map_err(|e| EngineError::Data(format!("source `{}`: {e}", src.name)))??;
    ctx.log.info(format!(
        "source `{}`: {} file(s) ({}{}); columns: {}",
        src.name,
        files.len(),
        files
            .iter()
            .take(3)
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        if files.len() > 3 { ", ..." } else { "" },
        source::describe_schema(&schema)
    ));
    Ok(Arc::new(FileTable::new(
        schema,
        reader,
        shared.clone(),
        src,
    )))
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

/// What a failed query means: a stop, a reader's own error, or DataFusion's.
pub(crate) fn classify(e: DataFusionError, shared: &RunShared) -> EngineError {
    if shared.stop.requested() {
        return EngineError::Stopped;
    }
    match shared.take_fatal() {
        Some(message) => EngineError::Data(message),
        None => EngineError::Data(e.to_string()),
    }
}

pub(crate) fn format_name(format: FileFormat) -> &'static str {
    match format {
        FileFormat::Csv => "csv",
        FileFormat::Parquet => "parquet",
        FileFormat::Json => "json",
    }
}
