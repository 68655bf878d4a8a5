//! Parquet sources: the schema (declared, or the first file's), and a reader that reads only the
//! columns the query uses, matching them by name in every file.

use super::source::{self, FileReader, Output, ReadError};
use crate::domain::task::FileSource;
use crate::engine::EngineError;
use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) struct ParquetReader {
    files: Vec<PathBuf>,
    schema: SchemaRef,
}

impl ParquetReader {
    /// Reads the first file's schema unless columns are declared. Blocking.
    pub fn open(source: &FileSource, files: Vec<PathBuf>) -> Result<ParquetReader, EngineError> {
        let schema = if source.columns.is_empty() {
            let first = files.first().ok_or_else(|| {
                EngineError::Definition(format!("source `{}`: no files", source.name))
            })?;
            let fail = |e: &dyn std::fmt::Display| {
                EngineError::Data(format!(
                    "source `{}`: {}: {e}",
                    source.name,
                    first.display()
                ))
            };
            let file = File::open(first).map_err(|e| fail(&e))?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| fail(&e))?;
            // Nullable everywhere and without metadata: later files of a glob may differ in both.
            let fields: Vec<Field> = builder
                .schema()
                .fields()
                .iter()
                .map(|f| Field::new(f.name(), f.data_type().clone(), true))
                .collect();
            Arc::new(Schema::new(fields))
        } else {
            source::declared_schema(source)
        };
        Ok(ParquetReader { files, schema })
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn read_file(&self, path: &Path, out: &Output) -> Result<(), ReadError> {
        let fail = |e: &dyn std::fmt::Display| ReadError::io(out.source(), path, e);
        let file = File::open(path).map_err(|e| fail(&e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| fail(&e))?;
        let wanted: Vec<&Field> = match out.projection() {
            Some(p) => p.iter().map(|i| self.schema.field(*i)).collect(),
            None => self.schema.fields().iter().map(|f| f.as_ref()).collect(),
        };
        let file_schema = builder.schema().clone();
        let mut roots = Vec::with_capacity(wanted.len());
        for field in &wanted {
            let index = file_schema
                .index_of(field.name())
                .map_err(|_| fail(&format!("the file has no column `{}`", field.name())))?;
            roots.push(index);
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let reader = builder
            .with_projection(mask)
            .with_batch_size(out.batch_size())
            .build()
            .map_err(|e| fail(&e))?;
        // Strict casts: a value that does not fit the declared type is an error, not a NULL.
        let options = CastOptions {
            safe: false,
            ..Default::default()
        };
        for batch in reader {
            let batch = batch.map_err(|e| fail(&e))?;
            let rows = batch.num_rows();
            let mut columns: Vec<ArrayRef> = Vec::with_capacity(wanted.len());
            for field in &wanted {
                let column = batch
                    .column_by_name(field.name())
                    .ok_or_else(|| fail(&format!("column `{}` missing", field.name())))?;
                columns.push(if column.data_type() == field.data_type() {
                    column.clone()
                } else {
                    cast_with_options(column, field.data_type(), &options)
                        .map_err(|e| fail(&format!("column `{}`: {e}", field.name())))?
                });
            }
            let batch = RecordBatch::try_new_with_options(
                out.projected_schema().clone(),
                columns,
                &RecordBatchOptions::new().with_row_count(Some(rows)),
            )
            .map_err(|e| fail(&e))?;
            out.rows_read(rows as u64);
            out.send_projected(batch)?;
        }
        Ok(())
    }
}

impl FileReader for ParquetReader {
    fn read(&self, out: &Output) -> Result<(), ReadError> {
        for file in &self.files {
            self.read_file(file, out)?;
        }
        Ok(())
    }
}
