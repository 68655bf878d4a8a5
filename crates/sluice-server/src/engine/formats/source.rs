//! File sources as DataFusion tables: glob expansion, the table provider, and the plumbing that runs
//! a format's blocking reader on its own thread and streams its batches (with row counting, bad-row
//! reporting and stop checks) into DataFusion.

use crate::domain::task::{ColumnType, FileSource};
use crate::engine::{EngineError, LiveCounters, RunContext, RunLog, StopSignal};
use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Failed rows logged one by one per run; past this only the end-of-run summary mentions them, so a
/// file full of bad rows cannot flood the log.
pub(crate) const MAX_LOGGED_BAD_ROWS: u64 = 100;

/// Rows sampled from the first file to infer column types when none are declared.
pub(crate) const INFER_SAMPLE_ROWS: usize = 1000;

/// State every source of one run shares.
pub(crate) struct RunShared {
    pub counters: Arc<LiveCounters>,
    pub log: RunLog,
    pub stop: StopSignal,
    pub stop_on_error: bool,
    pub batch_size: usize,
    /// Failed rows counted so far (the first [`MAX_LOGGED_BAD_ROWS`] of them are logged).
    bad_logged: AtomicU64,
    /// The first error a reader hit, in its own words (DataFusion would wrap it in its prefixes).
    fatal: Mutex<Option<String>>,
    /// Where rows that do not parse go, for loads (mapping tasks only log them).
    rejects: Option<Arc<Mutex<crate::engine::rejects::Rejects>>>,
}

impl RunShared {
    pub fn new(ctx: &RunContext, stop_on_error: bool) -> RunShared {
        RunShared {
            counters: ctx.counters.clone(),
            log: ctx.log.clone(),
            stop: ctx.stop.clone(),
            stop_on_error,
            batch_size: ctx.batch_size.max(1),
            bad_logged: AtomicU64::new(0),
            fatal: Mutex::new(None),
            rejects: None,
        }
    }

    /// Sends rows that do not parse to the run's reject file too.
    pub fn with_rejects(mut self, r: Arc<Mutex<crate::engine::rejects::Rejects>>) -> RunShared {
        self.rejects = Some(r);
        self
    }

    /// How many failed rows were logged one by one.
    pub fn bad_rows_logged(&self) -> u64 {
        self.bad_logged
            .load(Ordering::Relaxed)
            .min(MAX_LOGGED_BAD_ROWS)
    }

    pub fn take_fatal(&self) -> Option<String> {
        self.fatal.lock().ok().and_then(|mut f| f.take())
    }

    fn set_fatal(&self, message: &str) {
        if let Ok(mut f) = self.fatal.lock() {
            f.get_or_insert_with(|| message.to_string());
        }
    }
}

/// Per-source row counts, for the source's summary line.
#[derive(Debug)]
pub(crate) struct SourceStats {
    pub name: String,
    pub read: AtomicU64,
    pub failed: AtomicU64,
    /// Set by the first scan of the table: a table the SQL reads twice (a self-join) counts once.
    counted: AtomicBool,
}

/// Why a reader thread stopped early.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The query no longer wants rows (it finished, failed, or was dropped): exit quietly.
    Gone,
    Stopped,
    /// The run must fail with this message.
    Fatal(String),
}

impl ReadError {
    pub fn io(source: &str, file: &Path, e: impl fmt::Display) -> ReadError {
        ReadError::Fatal(format!("source `{source}`: {}: {e}", file.display()))
    }
}

/// A reader thread's handle on the outside: where batches go, and where rows are counted.
pub(crate) struct Output {
    tx: mpsc::Sender<DfResult<RecordBatch>>,
    shared: Arc<RunShared>,
    stats: Arc<SourceStats>,
    counting: bool,
    projection: Option<Vec<usize>>,
    projected: SchemaRef,
}

impl Output {
    pub fn batch_size(&self) -> usize {
        self.shared.batch_size
    }

    pub fn source(&self) -> &str {
        &self.stats.name
    }

    /// Counts rows read (good or bad).
    pub fn rows_read(&self, n: u64) {
        if self.counting && n > 0 {
            self.stats.read.fetch_add(n, Ordering::Relaxed);
            LiveCounters::add(&self.shared.counters.source_rows_read, n);
        }
    }

    /// Records a row that failed to parse: counted, logged (up to the limit), skipped, or the end
    /// of the run when the task stops on the first error.
    pub fn bad_row(
        &self,
        file: &Path,
        line: u64,
        reason: &str,
        fields: &[&str],
    ) -> Result<(), ReadError> {
        let message = format!(
            "source `{}`: {} line {line}: {reason}",
            self.stats.name,
            file.display()
        );
        if self.counting {
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
            LiveCounters::add(&self.shared.counters.source_rows_failed, 1);
        }
        if self.shared.stop_on_error {
            return Err(ReadError::Fatal(message));
        }
        if !self.counting {
            return Ok(());
        }
        if let Some(r) = &self.shared.rejects
            && let Ok(mut r) = r.lock()
        {
            r.add_source(file, line, reason, fields)
                .map_err(|e| ReadError::Fatal(format!("writing the reject file: {e}")))?;
        }
        let logged = self.shared.bad_logged.fetch_add(1, Ordering::Relaxed);
        if logged < MAX_LOGGED_BAD_ROWS {
            self.shared.log.warn(format!("{message} (row skipped)"));
        }
        Ok(())
    }

    /// Hands a full-width batch to the query (projected to the columns it reads); then honours a
    /// stop request, so a stop takes effect between batches.
    pub fn send(&self, batch: RecordBatch) -> Result<(), ReadError> {
        let batch = match &self.projection {
            Some(p) => batch
                .project(p)
                .map_err(|e| ReadError::Fatal(e.to_string()))?,
            None => batch,
        };
        self.send_projected(batch)
    }

    /// [`Output::send`] for a batch already in the projected schema.
    pub fn send_projected(&self, batch: RecordBatch) -> Result<(), ReadError> {
        if batch.num_rows() > 0 {
            self.tx
                .blocking_send(Ok(batch))
                .map_err(|_| ReadError::Gone)?;
        }
        self.checkpoint()
    }

    /// Between batches: has the query gone, or was a stop asked for?
    pub fn checkpoint(&self) -> Result<(), ReadError> {
        if self.tx.is_closed() {
            return Err(ReadError::Gone);
        }
        if self.shared.stop.requested() {
            return Err(ReadError::Stopped);
        }
        Ok(())
    }

    pub fn stop_on_error(&self) -> bool {
        self.shared.stop_on_error
    }

    /// The projection the query asked for, for readers that can skip columns (Parquet).
    pub fn projection(&self) -> Option<&[usize]> {
        self.projection.as_deref()
    }

    pub fn projected_schema(&self) -> &SchemaRef {
        &self.projected
    }
}

/// A format's reader: reads every file in order on a blocking thread, sending full-width batches.
pub(crate) trait FileReader: Send + Sync + 'static {
    fn read(&self, out: &Output) -> Result<(), ReadError>;
}

/// A source registered as a table.
pub(crate) struct FileTable {
    schema: SchemaRef,
    reader: Arc<dyn FileReader>,
    shared: Arc<RunShared>,
    stats: Arc<SourceStats>,
}

impl FileTable {
    pub fn new(
        schema: SchemaRef,
        reader: Arc<dyn FileReader>,
        shared: Arc<RunShared>,
        source: &FileSource,
    ) -> FileTable {
        let stats = Arc::new(SourceStats {
            name: source.name.clone(),
            read: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            counted: AtomicBool::new(false),
        });
        FileTable {
            schema,
            reader,
            shared,
            stats,
        }
    }

    pub fn stats(&self) -> Arc<SourceStats> {
        self.stats.clone()
    }
}

impl fmt::Debug for FileTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileTable")
            .field("source", &self.stats.name)
            .finish()
    }
}

#[async_trait]
impl TableProvider for FileTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        // The projection goes to the partition itself so Parquet can skip unread columns.
        let projected = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => self.schema.clone(),
        };
        let partition = Arc::new(FilePartition {
            reader: self.reader.clone(),
            shared: self.shared.clone(),
            stats: self.stats.clone(),
            projection: projection.cloned(),
            projected: projected.clone(),
        });
        let exec =
            StreamingTableExec::try_new(projected, vec![partition], None, vec![], false, limit)?;
        Ok(Arc::new(exec))
    }
}

/// One scan of a source: a stream fed by a reader thread.
struct FilePartition {
    reader: Arc<dyn FileReader>,
    shared: Arc<RunShared>,
    stats: Arc<SourceStats>,
    projection: Option<Vec<usize>>,
    projected: SchemaRef,
}

impl fmt::Debug for FilePartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilePartition")
            .field("source", &self.stats.name)
            .finish()
    }
}

impl PartitionStream for FilePartition {
    fn schema(&self) -> &SchemaRef {
        &self.projected
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        // A small bound keeps memory flat: the reader runs at most two batches ahead.
        let (tx, mut rx) = mpsc::channel(2);
        let mut pending = Some((tx, self.reader.clone()));
        let shared = self.shared.clone();
        let stats = self.stats.clone();
        let projection = self.projection.clone();
        let projected = self.projected.clone();
        // The thread starts on first poll, so a stream that is built but never read costs nothing.
        let stream = futures::stream::poll_fn(move |cx| {
            if let Some((tx, reader)) = pending.take() {
                let counting = !stats.counted.swap(true, Ordering::Relaxed);
                let out = Output {
                    tx,
                    shared: shared.clone(),
                    stats: stats.clone(),
                    counting,
                    projection: projection.clone(),
                    projected: projected.clone(),
                };
                tokio::task::spawn_blocking(move || run_reader(reader.as_ref(), out));
            }
            rx.poll_recv(cx)
        });
        Box::pin(RecordBatchStreamAdapter::new(
            self.projected.clone(),
            stream,
        ))
    }
}

/// Runs a reader to its end and reports how it ended on the stream. A panic becomes an error rather
/// than a silently short stream.
fn run_reader(reader: &dyn FileReader, out: Output) {
    let result =
        std::panic::catch_unwind(AssertUnwindSafe(|| reader.read(&out))).unwrap_or_else(|_| {
            Err(ReadError::Fatal(format!(
                "source `{}`: reader panicked",
                out.source()
            )))
        });
    let error = match result {
        Ok(()) | Err(ReadError::Gone) => return,
        Err(ReadError::Stopped) => DataFusionError::Execution("stopped".into()),
        Err(ReadError::Fatal(message)) => {
            out.shared.set_fatal(&message);
            DataFusionError::Execution(message)
        }
    };
    let _ = out.tx.blocking_send(Err(error));
}

/// Expands a source's path (parameters, connection root, glob) to the files it names, in order.
pub(crate) fn expand(source: &FileSource, ctx: &RunContext) -> Result<Vec<PathBuf>, EngineError> {
    let path = ctx.resolve_path(&source.path, source.connection.as_deref())?;
    let pattern = path.to_string_lossy().into_owned();
    let name = &source.name;
    let no_match =
        || EngineError::Definition(format!("source `{name}`: no file matches {pattern}"));
    // A file that exists as named is that file, even if its name has glob characters.
    if path.is_file() {
        return Ok(vec![path]);
    }
    if !pattern.contains(['*', '?', '[']) {
        return Err(no_match());
    }
    // `*` does not match a leading dot: hidden files, such as another run's temporary target,
    // are not read unless the pattern names them.
    let options = glob::MatchOptions {
        require_literal_leading_dot: true,
        ..Default::default()
    };
    let entries = glob::glob_with(&pattern, options).map_err(|e| {
        EngineError::Definition(format!("source `{name}`: bad glob {pattern}: {e}"))
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let file = entry.map_err(|e| EngineError::Data(format!("source `{name}`: {e}")))?;
        if file.is_file() {
            ctx.check_found(&file, source.connection.as_deref())?;
            files.push(file);
        }
    }
    if files.is_empty() {
        return Err(no_match());
    }
    files.sort();
    Ok(files)
}

/// The Arrow type a declared column type reads as.
pub(crate) fn arrow_type(t: ColumnType) -> DataType {
    match t {
        ColumnType::Text => DataType::Utf8,
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Float64 => DataType::Float64,
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
    }
}

/// The schema of declared columns (all nullable: an empty field is NULL).
pub(crate) fn declared_schema(source: &FileSource) -> SchemaRef {
    let fields: Vec<Field> = source
        .columns
        .iter()
        .map(|c| Field::new(&c.name, arrow_type(c.column_type), true))
        .collect();
    Arc::new(Schema::new(fields))
}

/// How a type reads in messages.
pub(crate) fn type_name(t: &DataType) -> String {
    match t {
        DataType::Utf8 => "text".into(),
        DataType::Int64 => "int64".into(),
        DataType::Float64 => "float64".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Date32 => "date".into(),
        DataType::Timestamp(_, _) => "timestamp".into(),
        other => other.to_string().to_lowercase(),
    }
}

/// `name type, ...` for the source's info line.
pub(crate) fn describe_schema(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("{} {}", f.name(), type_name(f.data_type())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Shortens a raw value for a log line, on a character boundary.
pub(crate) fn clip(value: &str) -> String {
    const MAX: usize = 60;
    match value.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}...", &value[..at]),
        None => value.to_string(),
    }
}
