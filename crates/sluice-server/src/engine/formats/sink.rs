//! The target file: batches are written on a blocking thread to a temporary file beside the target,
//! which is fsynced and renamed over the target only when every batch is in. A drop guard deletes
//! the temporary file on every other way out (error, stop, dropped future, panic), so the target is
//! either the complete new file or untouched.

use crate::domain::task::FileFormat;
use crate::engine::{EngineError, LiveCounters};
use datafusion::arrow::csv::WriterBuilder as CsvWriterBuilder;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::json::LineDelimitedWriter;
use datafusion::arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const WRITE_BUFFER: usize = 1 << 20;

enum Msg {
    Batch(RecordBatch),
    Finish,
}

/// Deletes the temporary file when dropped, unless it became the target.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl TempFile {
    /// The file became the target: nothing left to delete.
    fn persist(&mut self) {
        self.keep = true;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

pub(crate) struct Sink {
    tx: Option<mpsc::Sender<Msg>>,
    /// The writer thread; it ends with the number of rows written.
    writer: Option<JoinHandle<Result<u64, EngineError>>>,
    temp: TempFile,
    target: PathBuf,
}

impl Sink {
    /// Creates the temporary file (and the target's directory) and starts the writer thread.
    pub fn create(
        format: FileFormat,
        target: &Path,
        run_id: uuid::Uuid,
        schema: SchemaRef,
        counters: Arc<LiveCounters>,
    ) -> Result<Sink, EngineError> {
        let name = target.file_name().ok_or_else(|| {
            EngineError::Definition(format!("target {} has no file name", target.display()))
        })?;
        let dir = target.parent().unwrap_or(Path::new("."));
        let fail =
            |e: std::io::Error| EngineError::Data(format!("target {}: {e}", target.display()));
        std::fs::create_dir_all(dir).map_err(fail)?;
        let path = dir.join(format!(".{}.sluice-{run_id}.tmp", name.to_string_lossy()));
        let file = File::create(&path).map_err(fail)?;
        let temp = TempFile { path, keep: false };
        let sync = file.try_clone().map_err(fail)?;
        let writer = FormatWriter::new(format, file, schema.clone())?;
        let (tx, rx) = mpsc::channel(2);
        let handle = tokio::task::spawn_blocking(move || {
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                write_loop(writer, rx, &sync, &schema, &counters)
            }))
            .unwrap_or_else(|_| Err(EngineError::Data("the target writer panicked".into())))
        });
        Ok(Sink {
            tx: Some(tx),
            writer: Some(handle),
            temp,
            target: target.to_path_buf(),
        })
    }

    /// Queues a batch; waits only when the writer is two batches behind.
    pub async fn write(&mut self, batch: RecordBatch) -> Result<(), EngineError> {
        let sent = match &self.tx {
            Some(tx) => tx.send(Msg::Batch(batch)).await.is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            Err(self.writer_error().await)
        }
    }

    /// Writes the file's end and syncs it. Dropping the future part way leaves the target as it
    /// was (the guard deletes the temporary file).
    /// Returns the rows written.
    pub async fn complete(&mut self) -> Result<u64, EngineError> {
        let sent = match self.tx.take() {
            Some(tx) => tx.send(Msg::Finish).await.is_ok(),
            None => false,
        };
        if !sent {
            return Err(self.writer_error().await);
        }
        match self.writer.take() {
            Some(handle) => join(handle).await,
            None => Err(EngineError::Data("the target writer is gone".into())),
        }
    }

    /// Renames the completed file over the target. Runs to its end on a blocking thread even if
    /// the caller goes away, so the target is never half replaced.
    pub async fn publish(self) -> Result<(), EngineError> {
        let Sink {
            mut temp, target, ..
        } = self;
        tokio::task::spawn_blocking(move || {
            publish(&temp.path, &target)?;
            temp.persist();
            Ok(())
        })
        .await
        .map_err(|e| EngineError::Data(format!("publishing the target: {e}")))?
    }

    async fn writer_error(&mut self) -> EngineError {
        self.tx = None;
        match self.writer.take() {
            Some(handle) => match join(handle).await {
                Err(e) => e,
                Ok(_) => EngineError::Data("the target writer ended early".into()),
            },
            None => EngineError::Data("the target writer is gone".into()),
        }
    }
}

async fn join(handle: JoinHandle<Result<u64, EngineError>>) -> Result<u64, EngineError> {
    handle
        .await
        .map_err(|e| EngineError::Data(format!("the target writer failed: {e}")))?
}

/// Renames the finished temporary file over the target, then syncs the directory so the rename
/// itself survives a crash.
fn publish(temp: &Path, target: &Path) -> Result<(), EngineError> {
    std::fs::rename(temp, target).map_err(|e| {
        EngineError::Data(format!("renaming onto target {}: {e}", target.display()))
    })?;
    if let Some(dir) = target.parent()
        && let Ok(d) = File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })
    {
        // Best effort: some filesystems cannot sync a directory.
        let _ = d.sync_all();
    }
    Ok(())
}

/// The writer thread: writes batches until `Finish` (then completes the file) or until the sender
/// goes away (the run ended otherwise; the guard deletes the file).
fn write_loop(
    mut writer: FormatWriter,
    mut rx: mpsc::Receiver<Msg>,
    sync: &File,
    schema: &SchemaRef,
    counters: &LiveCounters,
) -> Result<u64, EngineError> {
    let mut rows = 0u64;
    loop {
        match rx.blocking_recv() {
            Some(Msg::Batch(batch)) => {
                writer.write(&batch)?;
                let n = batch.num_rows() as u64;
                rows += n;
                LiveCounters::add(&counters.target_rows_written, n);
            }
            Some(Msg::Finish) => {
                if rows == 0 {
                    // So a CSV target still gets its header.
                    writer.write(&RecordBatch::new_empty(schema.clone()))?;
                }
                writer.finish()?;
                sync.sync_all()
                    .map_err(|e| EngineError::Data(format!("syncing the target: {e}")))?;
                return Ok(rows);
            }
            None => return Err(EngineError::Stopped),
        }
    }
}

enum FormatWriter {
    Csv(Box<datafusion::arrow::csv::Writer<BufWriter<File>>>),
    Json(LineDelimitedWriter<BufWriter<File>>),
    Parquet(Box<ArrowWriter<File>>),
}

fn data_error(e: impl std::fmt::Display) -> EngineError {
    EngineError::Data(format!("writing the target: {e}"))
}

impl FormatWriter {
    fn new(format: FileFormat, file: File, schema: SchemaRef) -> Result<FormatWriter, EngineError> {
        Ok(match format {
            FileFormat::Csv => FormatWriter::Csv(Box::new(
                CsvWriterBuilder::new()
                    .with_header(true)
                    .build(BufWriter::with_capacity(WRITE_BUFFER, file)),
            )),
            FileFormat::Json => FormatWriter::Json(LineDelimitedWriter::new(
                BufWriter::with_capacity(WRITE_BUFFER, file),
            )),
            FileFormat::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    // Row groups are held in memory until complete; cap them by size as well.
                    .set_max_row_group_bytes(Some(256 << 20))
                    .build();
                FormatWriter::Parquet(Box::new(
                    ArrowWriter::try_new(file, schema, Some(props)).map_err(data_error)?,
                ))
            }
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), EngineError> {
        match self {
            FormatWriter::Csv(w) => w.write(batch).map_err(data_error),
            FormatWriter::Json(w) => w.write(batch).map_err(data_error),
            FormatWriter::Parquet(w) => w.write(batch).map_err(data_error),
        }
    }

    fn finish(self) -> Result<(), EngineError> {
        match self {
            FormatWriter::Csv(w) => w.into_inner().flush().map_err(data_error),
            FormatWriter::Json(mut w) => {
                w.finish().map_err(data_error)?;
                w.into_inner().flush().map_err(data_error)
            }
            FormatWriter::Parquet(w) => w.close().map(|_| ()).map_err(data_error),
        }
    }
}
