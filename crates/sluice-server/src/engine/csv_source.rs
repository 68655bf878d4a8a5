//! CSV sources: column names and types (declared or inferred from a sample), and the streaming
//! reader that turns records into typed batches, setting aside rows that do not parse.
//!
//! Records are read as bytes and appended to per-column string buffers (no per-value allocation);
//! each batch is then cast column by column to its type. A cast that turns a non-empty field into
//! NULL marks the row as failed: it is reported with its line and filtered out of the batch.

use super::source::{self, FileReader, INFER_SAMPLE_ROWS, Output, ReadError, clip, type_name};
use crate::domain::task::FileSource;
use crate::engine::EngineError;
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, BooleanBufferBuilder, StringArray};
use datafusion::arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::compute::{CastOptions, cast_with_options, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A batch is cut early past this many bytes, keeping memory bounded and string offsets in `i32`.
const MAX_BATCH_BYTES: usize = 256 << 20;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

pub(super) struct CsvReader {
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
                    out.bad_row(file, line, &reason)?;
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

fn csv_reader<R: Read>(input: R, delimiter: u8) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        // Rows with the wrong number of fields are reported per row, not as a reader error.
        .flexible(true)
        .delimiter(delimiter)
        .buffer_capacity(1 << 20)
        .from_reader(input)
}

/// Opens a file past its UTF-8 byte order mark, if it has one (the csv crate keeps it).
fn open_skipping_bom(path: &Path) -> std::io::Result<File> {
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

fn is_utf8(record: &csv::ByteRecord) -> bool {
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
        for (column, field) in self.columns.iter_mut().zip(schema.fields()) {
            let raw = column.take()?;
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
                out.bad_row(file, self.lines[*row], reason)?;
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

// Bits of the kinds of value seen in a column while inferring.
const BOOL: u8 = 1;
const INT: u8 = 2;
const FLOAT: u8 = 4;
const DATE: u8 = 8;
const TIMESTAMP: u8 = 16;
const TEXT: u8 = 32;

/// Names columns from the header (or `column_N`) and types them from the first rows.
fn infer(source: &FileSource, file: &Path, delimiter: u8) -> Result<SchemaRef, EngineError> {
    let name = &source.name;
    let io = |e: &dyn std::fmt::Display| {
        EngineError::Data(format!("source `{name}`: {}: {e}", file.display()))
    };
    let mut reader = csv_reader(open_skipping_bom(file).map_err(|e| io(&e))?, delimiter);
    let mut record = csv::ByteRecord::new();
    let mut names: Option<Vec<String>> = None;
    if source.header && reader.read_byte_record(&mut record).map_err(|e| io(&e))? {
        names = Some(
            record
                .iter()
                .map(|f| String::from_utf8_lossy(f).trim().to_string())
                .collect(),
        );
    }
    let mut kinds: Vec<u8> = names.as_ref().map_or_else(Vec::new, |n| vec![0; n.len()]);
    let mut sampled = 0;
    while sampled < INFER_SAMPLE_ROWS && reader.read_byte_record(&mut record).map_err(|e| io(&e))? {
        if names.is_none() {
            names = Some((1..=record.len()).map(|i| format!("column_{i}")).collect());
            kinds = vec![0; record.len()];
        }
        // Rows that will fail anyway say nothing about the types.
        if record.len() != kinds.len() || !is_utf8(&record) {
            continue;
        }
        sampled += 1;
        for (kind, field) in kinds.iter_mut().zip(record.iter()) {
            if !field.is_empty() {
                *kind |= classify(field);
            }
        }
    }
    let names = names.filter(|n| !n.is_empty()).ok_or_else(|| {
        EngineError::Definition(format!(
            "source `{name}`: {} is empty, so its columns cannot be inferred; declare them",
            file.display()
        ))
    })?;
    let fields: Vec<Field> = unique_names(names)
        .into_iter()
        .zip(&kinds)
        .map(|(n, k)| Field::new(n, resolve(*k), true))
        .collect();
    Ok(Arc::new(Schema::new(fields)))
}

/// Blank names become `column_N`; repeats get `_2`, `_3`, ... (SQL needs distinct names).
fn unique_names(raw: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for (i, name) in raw.into_iter().enumerate() {
        let base = if name.is_empty() {
            format!("column_{}", i + 1)
        } else {
            name
        };
        let mut candidate = base.clone();
        let mut n = 2;
        while out.contains(&candidate) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        out.push(candidate);
    }
    out
}

/// The narrowest type that holds every kind of value seen.
fn resolve(kinds: u8) -> DataType {
    match kinds {
        BOOL => DataType::Boolean,
        INT => DataType::Int64,
        k if k & !(INT | FLOAT) == 0 && k != 0 => DataType::Float64,
        DATE => DataType::Date32,
        k if k & !(DATE | TIMESTAMP) == 0 && k != 0 => {
            DataType::Timestamp(TimeUnit::Microsecond, None)
        }
        _ => DataType::Utf8,
    }
}

/// The kind of one non-empty value (the same shapes Arrow's own CSV inference recognises).
fn classify(v: &[u8]) -> u8 {
    if v.eq_ignore_ascii_case(b"true") || v.eq_ignore_ascii_case(b"false") {
        BOOL
    } else if is_int(v) {
        INT
    } else if is_float(v) {
        FLOAT
    } else if is_date(v) {
        DATE
    } else if is_timestamp(v) {
        TIMESTAMP
    } else {
        TEXT
    }
}

fn digits(v: &[u8]) -> usize {
    v.iter().take_while(|b| b.is_ascii_digit()).count()
}

fn is_int(v: &[u8]) -> bool {
    let body = v.strip_prefix(b"-").unwrap_or(v);
    // Too big for int64 stays text (an identifier must not lose digits as a float).
    !body.is_empty()
        && digits(body) == body.len()
        && std::str::from_utf8(v).is_ok_and(|s| s.parse::<i64>().is_ok())
}

fn is_float(v: &[u8]) -> bool {
    if matches!(v, b"NaN" | b"nan" | b"inf" | b"-inf") {
        return true;
    }
    let v = v.strip_prefix(b"-").unwrap_or(v);
    let int = digits(v);
    let mut rest = &v[int..];
    let mut frac = 0;
    let mut dot = false;
    if let Some(r) = rest.strip_prefix(b".") {
        dot = true;
        frac = digits(r);
        rest = &r[frac..];
    }
    if int + frac == 0 {
        return false;
    }
    let mut exponent = false;
    if let Some(r) = rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) {
        let r = r
            .strip_prefix(b"+")
            .or_else(|| r.strip_prefix(b"-"))
            .unwrap_or(r);
        let n = digits(r);
        if n == 0 {
            return false;
        }
        exponent = true;
        rest = &r[n..];
    }
    rest.is_empty() && (dot || exponent)
}

fn is_date(v: &[u8]) -> bool {
    v.len() == 10 && is_date_prefix(v)
}

fn is_date_prefix(v: &[u8]) -> bool {
    v.len() >= 10
        && digits(&v[..4]) == 4
        && v[4] == b'-'
        && digits(&v[5..7]) == 2
        && v[7] == b'-'
        && digits(&v[8..10]) == 2
}

fn is_timestamp(v: &[u8]) -> bool {
    v.len() >= 19
        && is_date_prefix(v)
        && matches!(v[10], b'T' | b' ')
        && digits(&v[11..13]) == 2
        && v[13] == b':'
        && digits(&v[14..16]) == 2
        && v[16] == b':'
        && digits(&v[17..19]) == 2
        && v.get(19).is_none_or(|b| !b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_values_like_arrow() {
        assert_eq!(classify(b"42"), INT);
        assert_eq!(classify(b"-7"), INT);
        assert_eq!(classify(b"99999999999999999999"), TEXT);
        assert_eq!(classify(b"1.5"), FLOAT);
        assert_eq!(classify(b"1e5"), FLOAT);
        assert_eq!(classify(b".5"), FLOAT);
        assert_eq!(classify(b"1.2.3"), TEXT);
        assert_eq!(classify(b"TRUE"), BOOL);
        assert_eq!(classify(b"2024-01-31"), DATE);
        assert_eq!(classify(b"2024-01-31 10:00:00"), TIMESTAMP);
        assert_eq!(classify(b"2024-01-31T10:00:00.123Z"), TIMESTAMP);
        assert_eq!(classify(b"abc"), TEXT);
        assert_eq!(resolve(INT | FLOAT), DataType::Float64);
        assert_eq!(
            resolve(DATE | TIMESTAMP),
            DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        assert_eq!(resolve(INT | TEXT), DataType::Utf8);
        assert_eq!(resolve(0), DataType::Utf8);
    }

    #[test]
    fn names_are_made_unique() {
        let names = unique_names(vec!["a".into(), "".into(), "a".into(), "a".into()]);
        assert_eq!(names, ["a", "column_2", "a_2", "a_3"]);
    }
}
