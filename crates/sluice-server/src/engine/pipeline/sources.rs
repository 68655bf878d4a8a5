//! Sources registered as session tables: a file source as a [`FileTable`] streaming its format's
//! reader, a database table or query as a one-shot stream from the connector's reader.

use crate::domain::load::ObjectSource;
use crate::domain::task::FileSource;
use crate::engine::db::{self, ObjectName, ReadSpec, SourceObject, Watermark};
use crate::engine::formats::{self, FileTable, RunShared};
use crate::engine::sql_guard::SqlKind;
use crate::engine::{EngineError, LiveCounters, RunContext};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::common::TableReference;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use futures::stream::BoxStream;
use std::sync::{Arc, Mutex};

/// Finds a source's files and works out its columns (file I/O, so on a blocking thread).
pub(crate) async fn open_source(
    src: &FileSource,
    ctx: &RunContext,
    shared: &Arc<RunShared>,
) -> Result<Arc<FileTable>, EngineError> {
    let (source, run) = (src.clone(), ctx.clone());
    let (schema, reader, files) = tokio::task::spawn_blocking(move || {
        let files = formats::expand(&source, &run)?;
        let (schema, reader) = formats::open_reader(&source, files.clone())?;
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
        formats::describe_schema(&schema)
    ));
    Ok(Arc::new(FileTable::new(
        schema,
        reader,
        shared.clone(),
        src,
    )))
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

/// What a database source reads: its table (with the filter) or its query, parameters substituted.
fn source_object(src: &ObjectSource, ctx: &RunContext) -> Result<SourceObject, EngineError> {
    match (&src.table, &src.query) {
        (Some(t), None) => Ok(SourceObject::Table {
            name: ObjectName::parse(&ctx.substitute(t)?).map_err(EngineError::Definition)?,
            filter: src
                .filter
                .as_deref()
                .map(|f| ctx.substitute_sql(f, SqlKind::Native, "source.filter"))
                .transpose()?,
        }),
        (None, Some(q)) => Ok(SourceObject::Query(ctx.substitute_sql(
            q,
            SqlKind::Native,
            "source.query",
        )?)),
        _ => Err(EngineError::Definition(
            "source: give either `table` or `query`".into(),
        )),
    }
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
    let spec = ReadSpec {
        object: source_object(src, ctx)?,
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
