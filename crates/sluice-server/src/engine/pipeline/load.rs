//! The load that synchronization, replication and masking share: a source object (file or
//! database) registered as the table `source`, one SQL projection over it (field mapping, filter,
//! row range), an optional per-batch transform (masking), and a target — a database table through
//! a transactional [`TableWriter`], or a file written aside and renamed. Rejected rows go to the
//! run's reject file; the error threshold, batch commits and stops are handled by the `target` module.

use super::projection::projection_sql;
use super::target::{to_file, to_table};
use super::{open_source, read_only, register_database, session};
use crate::domain::load::{FieldMap, LoadOptions, ObjectSource, ObjectTarget};
use crate::domain::task::{FileFormat, FileSource};
use crate::engine::db::{
    self, Endpoint, ObjectName, Operation, TableWriter, TargetColumn, Watermark, WriteSpec,
};
use crate::engine::formats::RunShared;
use crate::engine::rejects::Rejects;
use crate::engine::{EngineError, LiveCounters, RunContext};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::TableReference;
use datafusion::prelude::SessionContext;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where a load writes.
pub enum TargetPlan {
    Table(TableTarget),
    File { format: FileFormat, path: PathBuf },
}

/// A database table a load writes, and how.
pub struct TableTarget {
    pub ep: Endpoint,
    pub table: ObjectName,
    pub operation: Operation,
    pub keys: Vec<String>,
    /// Empty the table first, in the load's transaction.
    pub truncate: bool,
    /// Create the table from the projected columns when it does not exist.
    pub create: bool,
}

/// Where an object target (synchronization, masking) writes, with parameters substituted.
pub(crate) fn target_plan(t: &ObjectTarget, ctx: &RunContext) -> Result<TargetPlan, EngineError> {
    if t.is_file() {
        let (Some(format), Some(path)) = (t.format, &t.path) else {
            return Err(EngineError::Definition(
                "target: a file target needs `format` and `path`".into(),
            ));
        };
        if t.operation != Operation::Insert {
            return Err(EngineError::Definition(format!(
                "target: a file target only takes `insert`, not `{}`",
                t.operation
            )));
        }
        return Ok(TargetPlan::File {
            format,
            path: ctx.resolve_path(path, t.connection.as_deref())?,
        });
    }
    let (Some(conn), Some(table)) = (&t.connection, &t.table) else {
        return Err(EngineError::Definition(
            "target: a table target needs `connection` and `table`".into(),
        ));
    };
    Ok(TargetPlan::Table(TableTarget {
        ep: ctx.endpoint(conn)?,
        table: ObjectName::parse(&ctx.substitute(table)?).map_err(EngineError::Definition)?,
        operation: t.operation,
        keys: t.keys.clone(),
        truncate: t.truncate,
        create: t.create,
    }))
}

/// A per-batch transform applied after the projection (masking).
pub type BatchTransform = Box<dyn Fn(RecordBatch) -> Result<RecordBatch, String> + Send + Sync>;

pub struct LoadPlan<'a> {
    pub source: &'a ObjectSource,
    pub target: TargetPlan,
    pub fields: &'a [FieldMap],
    pub options: &'a LoadOptions,
    pub transform: Option<BatchTransform>,
    pub watermark: Option<Watermark>,
    /// Prefix for log lines (`table orders: `), empty for single-object tasks.
    pub label: String,
    /// Where rejects go, when not the run's reject file (one file per replicated table).
    pub rejects_path: Option<PathBuf>,
}

/// What a load did.
#[derive(Debug, Default)]
pub struct LoadSummary {
    pub rejected: u64,
    /// The high-water mark to keep (incremental reads), once committed.
    pub high_water: Option<String>,
}

/// What registering the source leaves to the rest of the load.
struct Registered {
    /// A file source's filter, applied by the projection (database filters are pushed down).
    file_filter: Option<String>,
    high_water: Option<String>,
}

/// Registers the source as the table `source`.
async fn register_source(
    plan: &LoadPlan<'_>,
    ctx: &RunContext,
    session: &SessionContext,
    counters: &Arc<LiveCounters>,
    rejects: &Arc<Mutex<Rejects>>,
) -> Result<Registered, EngineError> {
    let src = plan.source;
    if src.is_file() {
        let (Some(format), Some(path)) = (src.format, src.path.clone()) else {
            return Err(EngineError::Definition(
                "source: a file source needs `format` and `path`".into(),
            ));
        };
        let fs = FileSource {
            name: "source".into(),
            format,
            path,
            connection: src.connection.clone(),
            delimiter: src.delimiter,
            header: src.header,
            columns: src.columns.clone(),
        };
        let shared =
            Arc::new(RunShared::new(ctx, plan.options.stop_on_error).with_rejects(rejects.clone()));
        let table = open_source(&fs, ctx, &shared).await?;
        session
            .register_table(TableReference::bare("source"), table)
            .map_err(|e| EngineError::Definition(e.to_string()))?;
        return Ok(Registered {
            file_filter: src.filter.clone(),
            high_water: None,
        });
    }
    let high_water = register_database(
        session,
        "source",
        src,
        plan.watermark.clone(),
        ctx,
        counters,
        &plan.label,
    )
    .await?;
    Ok(Registered {
        file_filter: None,
        high_water,
    })
}

/// Runs one load to its end: every row read, written or rejected, committed; or rolled back.
pub async fn run_load(
    plan: LoadPlan<'_>,
    ctx: &RunContext,
    counters: &Arc<LiveCounters>,
) -> Result<LoadSummary, EngineError> {
    let session = session(ctx);
    let rejects_path = plan
        .rejects_path
        .clone()
        .unwrap_or_else(|| ctx.rejects_path.clone());
    // Shared with the file readers, which send rows that do not parse here too.
    let rejects = Arc::new(Mutex::new(Rejects::new(
        rejects_path,
        ctx.log.clone(),
        plan.label.clone(),
    )));
    let reg = tokio::select! {
        biased;
        _ = ctx.stop.immediate.cancelled() => return Err(EngineError::Stopped),
        r = register_source(&plan, ctx, &session, counters, &rejects) => r?,
    };
    let source_cols = source_columns(&session).await?;

    // The target's columns decide which source columns are loaded (by name, unless mapped).
    let existing = match &plan.target {
        TargetPlan::Table(t) => db::describe_table(&t.ep, &t.table).await?,
        TargetPlan::File { .. } => None,
    };
    let sql = projection_sql(
        &source_cols,
        existing.as_deref(),
        plan.fields,
        plan.options,
        reg.file_filter.as_deref(),
        ctx,
        &plan.label,
    )?;
    let frame = session
        .sql_with_options(&sql, read_only())
        .await
        .map_err(|e| EngineError::Definition(e.to_string()))?;
    let out_schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
    let stream = frame
        .execute_stream()
        .await
        .map_err(|e| EngineError::Definition(e.to_string()))?;
    let result = match plan.target {
        TargetPlan::File { format, path } => {
            to_file(stream, format, &path, ctx, counters, &plan.transform).await
        }
        TargetPlan::Table(target) => {
            let writer = open_table(target, existing, &out_schema, ctx, &plan.label).await?;
            let t = &plan.transform;
            to_table(stream, writer, ctx, counters, t, plan.options, &rejects).await
        }
    };
    let mut rejects = rejects
        .lock()
        .map_err(|_| EngineError::Data("reject file lock".into()))?;
    rejects.finish()?;
    result.map(|()| LoadSummary {
        rejected: rejects.count(),
        high_water: reg.high_water,
    })
}

/// The names of the registered source's columns.
async fn source_columns(session: &SessionContext) -> Result<Vec<String>, EngineError> {
    let schema = session
        .table_provider(TableReference::bare("source"))
        .await
        .map_err(|e| EngineError::Definition(e.to_string()))?
        .schema();
    Ok(schema.fields().iter().map(|f| f.name().clone()).collect())
}

/// Opens the target table's writer, creating the table first when asked and it is missing.
async fn open_table(
    target: TableTarget,
    existing: Option<Vec<TargetColumn>>,
    out_schema: &SchemaRef,
    ctx: &RunContext,
    label: &str,
) -> Result<Box<dyn TableWriter>, EngineError> {
    let TableTarget {
        ep,
        table,
        operation,
        keys,
        truncate,
        create,
    } = target;
    let columns = match existing {
        Some(cols) => cols,
        None if create => {
            db::create_table(&ep, &table, out_schema, &keys).await?;
            ctx.log
                .info(format!("{label}created table `{table}` in `{}`", ep.name));
            db::describe_table(&ep, &table).await?.unwrap_or_default()
        }
        None => {
            return Err(EngineError::Definition(format!(
                "table `{table}` does not exist in `{}` (set `create = true` to create it)",
                ep.name
            )));
        }
    };
    let spec_cols = write_columns(out_schema, &columns, &table, operation, &keys)?;
    ctx.log.info(format!(
        "{label}target `{table}` in `{}` ({}): {operation}{}{}",
        ep.name,
        ep.kind,
        if keys.is_empty() {
            String::new()
        } else {
            format!(" on ({})", keys.join(", "))
        },
        if truncate { ", truncating first" } else { "" }
    ));
    let spec = WriteSpec {
        table,
        operation,
        keys,
        truncate,
        columns: spec_cols,
    };
    db::open_writer(&ep, spec).await
}

/// The table's columns the projected columns fill, in their order; every key among them.
fn write_columns(
    out_schema: &SchemaRef,
    columns: &[TargetColumn],
    table: &ObjectName,
    operation: Operation,
    keys: &[String],
) -> Result<Vec<TargetColumn>, EngineError> {
    let mut spec_cols = Vec::new();
    for f in out_schema.fields() {
        let mut c = columns
            .iter()
            .find(|c| c.name == *f.name())
            .cloned()
            .ok_or_else(|| {
                EngineError::Definition(format!("table `{table}` has no column `{}`", f.name()))
            })?;
        // A NULL key matches nothing: refuse it rather than insert a row no key finds.
        if operation != Operation::Insert && keys.contains(&c.name) {
            c.nullable = false;
        }
        spec_cols.push(c);
    }
    for k in keys {
        if !spec_cols.iter().any(|c| &c.name == k) {
            return Err(EngineError::Definition(format!(
                "key column `{k}` is not among the loaded columns"
            )));
        }
    }
    Ok(spec_cols)
}
