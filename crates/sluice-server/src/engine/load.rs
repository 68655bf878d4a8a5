//! The load pipeline that synchronization, replication and masking share: a source object (file or
//! database) registered as the table `source`, one SQL projection over it (field mapping, filter,
//! row range), an optional per-batch transform (masking), and a target — a database table through
//! a transactional [`TableWriter`], or a file written aside and renamed. Rejected rows go to the
//! run's reject file; the error threshold, batch commits and stops are handled here once.

use super::db::{
    self, Endpoint, ObjectName, Operation, ReadSpec, SourceObject, TargetColumn, Watermark,
    WriteSpec,
};
use super::load_target::{to_file, to_table};
use super::mapping::{open_source, session, source::RunShared};
use super::rejects::Rejects;
use super::sql_guard::SqlKind;
use super::{EngineError, LiveCounters, RunContext};
use crate::domain::load::{FieldMap, LoadOptions, ObjectSource};
use crate::domain::task::{FileFormat, FileSource};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::common::TableReference;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use futures::stream::BoxStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where a load writes.
pub enum TargetPlan {
    Table {
        ep: Endpoint,
        table: ObjectName,
        operation: Operation,
        keys: Vec<String>,
        truncate: bool,
        create: bool,
    },
    File {
        format: FileFormat,
        path: PathBuf,
    },
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

/// A database read registered as a table: one partition, streamed once.
struct OneShot {
    schema: SchemaRef,
    stream: Mutex<Option<BoxStream<'static, Result<RecordBatch, EngineError>>>>,
    counters: Arc<LiveCounters>,
}

impl std::fmt::Debug for OneShot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OneShot")
    }
}

impl PartitionStream for OneShot {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }
    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let stream = self.stream.lock().ok().and_then(|mut s| s.take());
        let counters = self.counters.clone();
        let s = match stream {
            Some(s) => s
                .map(move |b| {
                    let b =
                        b.map_err(|e| datafusion::error::DataFusionError::External(e.into()))?;
                    LiveCounters::add(&counters.source_rows_read, b.num_rows() as u64);
                    Ok(b)
                })
                .boxed(),
            None => futures::stream::empty().boxed(),
        };
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), s))
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
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

/// Registers a database table or query as the table `name`, streaming when the query runs;
/// answers the high-water mark of an incremental read.
pub(crate) async fn register_database(
    session: &SessionContext,
    name: &str,
    src: &ObjectSource,
    watermark: Option<Watermark>,
    ctx: &RunContext,
    counters: &Arc<LiveCounters>,
    label: &str,
) -> Result<Option<String>, EngineError> {
    let conn = src
        .connection
        .as_deref()
        .ok_or_else(|| EngineError::Definition("source: `connection` is missing".into()))?;
    let ep = ctx.endpoint(conn)?;
    let object = match (&src.table, &src.query) {
        (Some(t), None) => SourceObject::Table {
            name: ObjectName::parse(&ctx.substitute(t)?).map_err(EngineError::Definition)?,
            filter: src
                .filter
                .as_deref()
                .map(|f| ctx.substitute_sql(f, SqlKind::Native, "source.filter"))
                .transpose()?,
        },
        (None, Some(q)) => {
            SourceObject::Query(ctx.substitute_sql(q, SqlKind::Native, "source.query")?)
        }
        _ => {
            return Err(EngineError::Definition(
                "source: give either `table` or `query`".into(),
            ));
        }
    };
    let spec = ReadSpec {
        object,
        watermark,
        batch_size: ctx.batch_size.max(1),
    };
    let read = db::open_reader(&ep, &spec, &ctx.stop).await?;
    ctx.log.info(format!(
        "{}source `{}` ({}): columns {}",
        label,
        ep.name,
        ep.kind,
        read.schema
            .fields()
            .iter()
            .map(|f| format!("{} {}", f.name(), f.data_type()))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let part = OneShot {
        schema: read.schema.clone(),
        stream: Mutex::new(Some(read.batches)),
        counters: counters.clone(),
    };
    let table = StreamingTable::try_new(read.schema.clone(), vec![Arc::new(part)])
        .map_err(|e| EngineError::Data(e.to_string()))?;
    session
        .register_table(TableReference::bare(name), Arc::new(table))
        .map_err(|e| EngineError::Definition(e.to_string()))?;
    Ok(read.high_water)
}

/// The projection: `SELECT <fields> FROM <source, row range applied> [WHERE <file filter>]`.
fn projection_sql(
    source_cols: &[String],
    target_cols: Option<&[TargetColumn]>,
    fields: &[FieldMap],
    options: &LoadOptions,
    file_filter: Option<&str>,
    ctx: &RunContext,
    label: &str,
) -> Result<(String, Vec<String>), EngineError> {
    let mut exprs = Vec::new();
    let mut names = Vec::new();
    if fields.is_empty() {
        for s in source_cols {
            let target = match target_cols {
                None => Some(s.clone()),
                Some(cols) => cols
                    .iter()
                    .find(|c| &c.name == s)
                    .or_else(|| cols.iter().find(|c| c.name.eq_ignore_ascii_case(s)))
                    .map(|c| c.name.clone()),
            };
            match target {
                Some(t) => {
                    exprs.push(format!("{} AS {}", quote(s), quote(&t)));
                    names.push(t);
                }
                None => ctx.log.info(format!(
                    "{label}source column `{s}` has no target column of that name; not loaded"
                )),
            }
        }
        if names.is_empty() {
            return Err(EngineError::Definition(
                "no source column matches a target column by name; map them with `fields`".into(),
            ));
        }
    } else {
        for f in fields {
            let e = match (&f.expr, &f.source) {
                (Some(e), None) => format!(
                    "({})",
                    ctx.substitute_sql(e, SqlKind::Expression, &format!("fields.{}", f.target))?
                ),
                (None, Some(s)) => quote(s),
                (None, None) => quote(&f.target),
                (Some(_), Some(_)) => {
                    return Err(EngineError::Definition(format!(
                        "fields: `{}` has both `source` and `expr`",
                        f.target
                    )));
                }
            };
            exprs.push(format!("{e} AS {}", quote(&f.target)));
            names.push(f.target.clone());
        }
    }
    let first = ctx
        .run_option("first_row")
        .or(options.first_row)
        .unwrap_or(1)
        .max(1);
    let from = match ctx.run_option("last_row").or(options.last_row) {
        Some(last) if last < first => "(SELECT * FROM source LIMIT 0) AS source".to_string(),
        Some(last) => format!(
            "(SELECT * FROM source LIMIT {} OFFSET {}) AS source",
            last - first + 1,
            first - 1
        ),
        None if first > 1 => format!("(SELECT * FROM source OFFSET {}) AS source", first - 1),
        None => "source".to_string(),
    };
    let filter = file_filter
        .map(|f| {
            ctx.substitute_sql(f, SqlKind::Expression, "source.filter")
                .map(|f| format!(" WHERE {f}"))
        })
        .transpose()?
        .unwrap_or_default();
    Ok((
        format!("SELECT {} FROM {from}{filter}", exprs.join(", ")),
        names,
    ))
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
    let source_schema = session
        .table_provider(TableReference::bare("source"))
        .await
        .map_err(|e| EngineError::Definition(e.to_string()))?
        .schema();
    let source_cols: Vec<String> = source_schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let label = plan.label.clone();
    let options = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);

    // The target's columns decide which source columns are loaded (by name, unless mapped).
    let existing = match &plan.target {
        TargetPlan::Table { ep, table, .. } => db::describe_table(ep, table).await?,
        TargetPlan::File { .. } => None,
    };
    let (sql, _) = projection_sql(
        &source_cols,
        existing.as_deref(),
        plan.fields,
        plan.options,
        reg.file_filter.as_deref(),
        ctx,
        &label,
    )?;
    let frame = session
        .sql_with_options(&sql, options)
        .await
        .map_err(|e| EngineError::Definition(e.to_string()))?;
    let out_schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());

    let mut summary = LoadSummary {
        high_water: reg.high_water,
        ..LoadSummary::default()
    };
    let stream = frame
        .execute_stream()
        .await
        .map_err(|e| EngineError::Definition(e.to_string()))?;
    let result = match plan.target {
        TargetPlan::File { format, path } => {
            to_file(stream, format, &path, ctx, counters, &plan.transform).await
        }
        TargetPlan::Table {
            ep,
            table,
            operation,
            keys,
            truncate,
            create,
        } => {
            let columns = match existing {
                Some(cols) => cols,
                None if create => {
                    db::create_table(&ep, &table, &out_schema, &keys).await?;
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
            let mut spec_cols = Vec::new();
            for f in out_schema.fields() {
                let mut c = columns
                    .iter()
                    .find(|c| c.name == *f.name())
                    .cloned()
                    .ok_or_else(|| {
                        EngineError::Definition(format!(
                            "table `{table}` has no column `{}`",
                            f.name()
                        ))
                    })?;
                // A NULL key matches nothing: refuse it rather than insert a row no key finds.
                if operation != Operation::Insert && keys.contains(&c.name) {
                    c.nullable = false;
                }
                spec_cols.push(c);
            }
            for k in &keys {
                if !spec_cols.iter().any(|c| &c.name == k) {
                    return Err(EngineError::Definition(format!(
                        "key column `{k}` is not among the loaded columns"
                    )));
                }
            }
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
            let writer = db::open_writer(&ep, spec).await?;
            to_table(
                stream,
                writer,
                ctx,
                counters,
                &plan.transform,
                plan.options,
                &rejects,
            )
            .await
        }
    };
    let mut rejects = rejects
        .lock()
        .map_err(|_| EngineError::Data("reject file lock".into()))?;
    rejects.finish()?;
    summary.rejected = rejects.count();
    result.map(|()| summary)
}
