//! CSV sources: column names and types (declared or inferred from a sample), and the streaming
//! reader that turns records into typed batches, setting aside rows that do not parse.
//!
//! Records are read as bytes and appended to per-column string buffers (no per-value allocation);
//! each batch is then cast column by column to its type. A cast that turns a non-empty field into
//! NULL marks the row as failed: it is reported with its line and filtered out of the batch.

use super::csv_infer::infer;
use super::source::{self, FileReader, Output, ReadError, clip, type_name};
use crate::domain::task::FileSource;
use crate::engine::EngineError;
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, BooleanBufferBuilder, StringArray};
use datafusion::arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::compute::{CastOptions, cast_with_options, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A batch is cut early past this many bytes, keeping memory bounded and string offsets in `i32`.
const MAX_BATCH_BYTES: usize = 64 << 20;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

pub(crate) struct CsvReader {
    files: Vec<PathBuf>,
    delimiter: u8,
    header: bool,
    schema: SchemaRef,
}

impl CsvReader {
    /// Works out the source's schema (reading the first file's header and a sample when the
    /// columns are not declared). Blocking.
    pub fn open(source: &FileSource, files: Vec<PathBuf>) -> Result<CsvReader, EngineError> {
        let name = &source.name;
        let delimiter = u8::try_from(source.delimiter)
            .ok()
            .filter(u8::is_ascii)
            .ok_or_else(|| {
                EngineError::Definition(format!(
                    "source `{name}`: the delimiter must be a single ASCII character"
                ))
            })?;
        let first = files
            .first()
            .ok_or_else(|| EngineError::Definition(format!("source `{name}`: no files")))?;
        let schema = if source.columns.is_empty() {
            infer(source, first, delimiter)?
        } else {
            let schema = source::declared_schema(source);
            if source.header {
                check_header(source, first, delimiter, schema.fields().len())?;
            }
            schema
        };
        Ok(CsvReader {
            files,
            delimiter,
            header: source.header,
            schema,
        })
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn read_file(&self, file: &Path, out: &Output) -> Result<(), ReadError> {
        let io = |e: &dyn std::fmt::Display| ReadError::io(out.source(), file, e);
        let mut reader = csv_reader(open_skipping_bom(file).map_err(|e| io(&e))?, self.delimiter);
        let mut record = csv::ByteRecord::new();
        let mut pending = Pending::new(&self.schema);
        let mut skip_header = self.header;
        let width = self.schema.fields().len();
        let batch_size = out.batch_size();
        while reader.read_byte_record(&mut record).map_err(|e| io(&e))? {
            if skip_header {
                skip_header = false;
                continue;
            }
            let line = record.position().map_or(0, |p| p.line());
            pending.read += 1;
            let problem = if record.len() != width {
                Some(format!("expected {width} fields, found {}", record.len()))
            } else if !is_utf8(&record) {
                Some("not valid UTF-8".to_string())
            } else {
                None
            };
            match problem {
                Some(reason) => {
                    if out.stop_on_error() {
                        // Rows before this one may hold an earlier error: report in file order.
                        pending.flush(&self.schema, file, out)?;
                    }
                    let fields: Vec<String> = record
                        .iter()
                        .map(|f| String::from_utf8_lossy(f).into_owned())
                        .collect();
                    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
                    out.bad_row(file, line, &reason, &fields)?;
                }
                None => pending.push(&record, line),
            }
            if pending.read >= batch_size as u64 || pending.bytes >= MAX_BATCH_BYTES {
                pending.flush(&self.schema, file, out)?;
            }
        }
        pending.flush(&self.schema, file, out)
    }
}

impl FileReader for CsvReader {
    fn read(&self, out: &Output) -> Result<(), ReadError> {
        for file in &self.files {
            self.read_file(file, out)?;
        }
        Ok(())
    }
}

pub(crate) fn csv_reader<R: Read>(input: R, delimiter: u8) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        // Rows with the wrong number of fields are reported per row, not as a reader error.
        .flexible(true)
        .delimiter(delimiter)
        .buffer_capacity(1 << 20)
        .from_reader(input)
}

/// Opens a file past its UTF-8 byte order mark, if it has one (the csv crate keeps it).
pub(crate) fn open_skipping_bom(path: &Path) -> std::io::Result<File> {
    let mut file = File::open(path)?;
    let mut head = [0u8; 3];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    if &head[..n] != UTF8_BOM {
        file.seek(SeekFrom::Start(0))?;
    }
    Ok(file)
}

pub(crate) fn is_utf8(record: &csv::ByteRecord) -> bool {
    // Whole-record ASCII is the common case and the cheapest check; otherwise each field must be
    // valid on its own (a field boundary must not split a character).
    record.as_slice().is_ascii() || record.iter().all(|f| std::str::from_utf8(f).is_ok())
}

/// Rows read since the last batch went out, as raw string columns.
struct Pending {
    columns: Vec<RawColumn>,
    lines: Vec<u64>,
    bytes: usize,
    /// Rows read (good or bad) not yet counted.
    read: u64,
}

struct RawColumn {
    data: Vec<u8>,
    offsets: Vec<i32>,
    valid: BooleanBufferBuilder,
}

impl RawColumn {
    fn new() -> RawColumn {
        RawColumn {
            data: Vec::new(),
            offsets: vec![0],
            valid: BooleanBufferBuilder::new(1024),
        }
    }

    /// Hands the buffered values over as an array, leaving the column empty (with its capacity).
    fn take(&mut self) -> Result<StringArray, ReadError> {
        let capacity = self.data.capacity();
        let data = std::mem::replace(&mut self.data, Vec::with_capacity(capacity));
        let mut offsets = Vec::with_capacity(self.offsets.capacity());
        offsets.push(0);
        let offsets = std::mem::replace(&mut self.offsets, offsets);
        let nulls = NullBuffer::new(self.valid.finish());
        let nulls = (nulls.null_count() > 0).then_some(nulls);
        // Offsets start at 0 and only grow, so `OffsetBuffer::new` holds; UTF-8 is checked again.
        StringArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Buffer::from_vec(data),
            nulls,
        )
        .map_err(|e| ReadError::Fatal(e.to_string()))
    }
}

impl Pending {
    fn new(schema: &Schema) -> Pending {
        Pending {
            columns: schema.fields().iter().map(|_| RawColumn::new()).collect(),
            lines: Vec::new(),
            bytes: 0,
            read: 0,
        }
    }

    fn push(&mut self, record: &csv::ByteRecord, line: u64) {
        for (column, field) in self.columns.iter_mut().zip(record.iter()) {
            column.data.extend_from_slice(field);
            // Cannot truncate: a batch is cut at MAX_BATCH_BYTES, far below i32::MAX.
            column.offsets.push(column.data.len() as i32);
            column.valid.append(!field.is_empty());
        }
        self.lines.push(line);
        self.bytes += record.as_slice().len();
    }

    /// Types the buffered rows, reports and drops those that do not fit, and sends the rest.
    fn flush(&mut self, schema: &SchemaRef, file: &Path, out: &Output) -> Result<(), ReadError> {
        out.rows_read(std::mem::take(&mut self.read));
        self.bytes = 0;
        if self.lines.is_empty() {
            return out.checkpoint();
        }
        let rows = self.lines.len();
        let fatal = |e: &dyn std::fmt::Display| ReadError::io(out.source(), file, e);
        let options = CastOptions::default(); // safe: a value that does not fit becomes NULL
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        let mut failed: Option<BooleanBuffer> = None;
        let mut reasons: BTreeMap<usize, String> = BTreeMap::new();
        // All raw columns first: a refused row goes to the reject file with every field.
        let raws = self
            .columns
            .iter_mut()
            .map(|c| c.take())
            .collect::<Result<Vec<_>, _>>()?;
        for (raw, field) in raws.iter().zip(schema.fields()) {
            let raw = raw.clone();
            if field.data_type() == &DataType::Utf8 {
                arrays.push(Arc::new(raw));
                continue;
            }
            let typed =
                cast_with_options(&raw, field.data_type(), &options).map_err(|e| fatal(&e))?;
            // Casting never fills a NULL, so equal counts mean every value fit.
            if typed.null_count() != raw.null_count() {
                let bad = &valid_bits(raw.nulls(), rows) & &!&valid_bits(typed.nulls(), rows);
                for row in bad.set_indices() {
                    reasons.entry(row).or_insert_with(|| {
                        format!(
                            "column `{}`: `{}` is not a valid {}",
                            field.name(),
                            clip(raw.value(row)),
                            type_name(field.data_type())
                        )
                    });
                }
                failed = Some(match failed {
                    Some(f) => &f | &bad,
                    None => bad,
                });
            }
            arrays.push(typed);
        }
        let mut batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| fatal(&e))?;
        if let Some(failed) = failed {
            for (row, reason) in &reasons {
                let fields: Vec<&str> = raws
                    .iter()
                    .map(|r| if r.is_null(*row) { "" } else { r.value(*row) })
                    .collect();
                out.bad_row(file, self.lines[*row], reason, &fields)?;
            }
            let keep = BooleanArray::new(!&failed, None);
            batch = filter_record_batch(&batch, &keep).map_err(|e| fatal(&e))?;
        }
        self.lines.clear();
        out.send(batch)
    }
}

fn valid_bits(nulls: Option<&NullBuffer>, len: usize) -> BooleanBuffer {
    nulls.map_or_else(|| BooleanBuffer::new_set(len), |n| n.inner().clone())
}

/// Checks a declared source's header against its declared columns, so a mismatch is one clear
/// error rather than every row failing.
fn check_header(
    source: &FileSource,
    file: &Path,
    delimiter: u8,
    declared: usize,
) -> Result<(), EngineError> {
    let io = |e: &dyn std::fmt::Display| {
        EngineError::Data(format!("source `{}`: {}: {e}", source.name, file.display()))
    };
    let mut reader = csv_reader(open_skipping_bom(file).map_err(|e| io(&e))?, delimiter);
    let mut record = csv::ByteRecord::new();
    if reader.read_byte_record(&mut record).map_err(|e| io(&e))? && record.len() != declared {
        return Err(EngineError::Definition(format!(
            "source `{}`: {} has {} columns in its header but {declared} are declared",
            source.name,
            file.display(),
            record.len()
        )));
    }
    Ok(())
}
