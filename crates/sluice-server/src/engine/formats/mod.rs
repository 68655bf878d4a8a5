//! File formats: the CSV, JSON and Parquet readers behind a file source, the table that streams a
//! reader's batches into DataFusion, and the sink that writes a target file atomically. Formats
//! know files and Arrow only; the pipeline above decides what is read and where it goes.

mod csv_infer;
mod csv_source;
mod json_source;
mod parquet_source;
mod sink;
mod source;

pub(crate) use sink::Sink;
pub(crate) use source::{FileTable, RunShared, SourceStats, describe_schema, expand};

use crate::domain::task::{FileFormat, FileSource};
use crate::engine::EngineError;
use datafusion::arrow::datatypes::SchemaRef;
use source::FileReader;
use std::path::PathBuf;
use std::sync::Arc;

/// Opens a source's files with its format's reader: the columns they hold and the reader that
/// streams them. Blocking file I/O (headers, schema inference), so callers run it off the runtime.
pub(crate) fn open_reader(
    source: &FileSource,
    files: Vec<PathBuf>,
) -> Result<(SchemaRef, Arc<dyn FileReader>), EngineError> {
    Ok(match source.format {
        FileFormat::Csv => {
            let r = csv_source::CsvReader::open(source, files)?;
            (r.schema(), Arc::new(r))
        }
        FileFormat::Json => {
            let r = json_source::JsonReader::open(source, files)?;
            (r.schema(), Arc::new(r))
        }
        FileFormat::Parquet => {
            let r = parquet_source::ParquetReader::open(source, files)?;
            (r.schema(), Arc::new(r))
        }
    })
}

/// A format as definitions and log lines name it.
pub(crate) fn format_name(format: FileFormat) -> &'static str {
    match format {
        FileFormat::Csv => "csv",
        FileFormat::Parquet => "parquet",
        FileFormat::Json => "json",
    }
}
