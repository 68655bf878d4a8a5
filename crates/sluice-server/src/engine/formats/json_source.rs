//! JSON-lines sources: column names and types (declared or inferred from a sample), and the
//! streaming reader that decodes a batch of lines at once and, when a batch fails, splits it until
//! the failing lines are isolated, reported and skipped.

use super::source::{self, FileReader, INFER_SAMPLE_ROWS, Output, ReadError};
use crate::domain::task::FileSource;
use crate::engine::EngineError;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::json::ReaderBuilder;
use datafusion::arrow::json::reader::infer_json_schema_from_iterator;
use datafusion::arrow::record_batch::RecordBatch;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A batch is cut early past this many bytes of JSON.
const MAX_BATCH_BYTES: usize = 64 << 20;

pub(crate) struct JsonReader {
    files: Vec<PathBuf>,
    schema: SchemaRef,
}

/// Lines read since the last batch went out: their bytes back to back, where each starts, and the
/// line number of each.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    starts: Vec<usize>,
    lines: Vec<u64>,
}

impl JsonReader {
    /// Works out the source's schema (from a sample of the first file when not declared). Blocking.
    pub fn open(source: &FileSource, files: Vec<PathBuf>) -> Result<JsonReader, EngineError> {
        let schema = if source.columns.is_empty() {
            let first = files.first().ok_or_else(|| {
                EngineError::Definition(format!("source `{}`: no files", source.name))
            })?;
            infer(source, first)?
        } else {
            source::declared_schema(source)
        };
        Ok(JsonReader { files, schema })
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn read_file(&self, file: &Path, out: &Output) -> Result<(), ReadError> {
        let io = |e: std::io::Error| ReadError::io(out.source(), file, e);
        let mut reader = BufReader::with_capacity(1 << 20, File::open(file).map_err(io)?);
        let mut pending = Pending::default();
        let mut line_no = 0u64;
        loop {
            let start = pending.bytes.len();
            if reader.read_until(b'\n', &mut pending.bytes).map_err(io)? == 0 {
                break;
            }
            line_no += 1;
            if pending.bytes[start..].iter().all(u8::is_ascii_whitespace) {
                pending.bytes.truncate(start);
                continue;
            }
            if pending.bytes.last() != Some(&b'\n') {
                pending.bytes.push(b'\n');
            }
            pending.starts.push(start);
            pending.lines.push(line_no);
            if pending.starts.len() >= out.batch_size() || pending.bytes.len() >= MAX_BATCH_BYTES {
                self.flush(&mut pending, file, out)?;
            }
        }
        self.flush(&mut pending, file, out)
    }

    fn flush(&self, pending: &mut Pending, file: &Path, out: &Output) -> Result<(), ReadError> {
        let rows = pending.starts.len();
        out.rows_read(rows as u64);
        if rows == 0 {
            return out.checkpoint();
        }
        pending.starts.push(pending.bytes.len());
        let mut good = Vec::new();
        let mut bad = Vec::new();
        self.decode_range(pending, 0, rows, &mut good, &mut bad);
        for (row, reason) in &bad {
            let (from, to) = (
                pending.starts[*row],
                pending
                    .starts
                    .get(row + 1)
                    .copied()
                    .unwrap_or(pending.bytes.len()),
            );
            let text = String::from_utf8_lossy(&pending.bytes[from..to]);
            out.bad_row(file, pending.lines[*row], reason, &[text.trim_end()])?;
        }
        let batch = concat_batches(&self.schema, &good)
            .map_err(|e| ReadError::io(out.source(), file, e))?;
        pending.bytes.clear();
        pending.starts.clear();
        pending.lines.clear();
        out.send(batch)
    }

    /// Decodes lines `lo..hi`; on failure halves the range until each failing line stands alone.
    /// Good lines keep their order.
    fn decode_range(
        &self,
        pending: &Pending,
        lo: usize,
        hi: usize,
        good: &mut Vec<RecordBatch>,
        bad: &mut Vec<(usize, String)>,
    ) {
        let bytes = &pending.bytes[pending.starts[lo]..pending.starts[hi]];
        match self.decode(bytes, hi - lo) {
            Ok(batch) => good.push(batch),
            Err(reason) if hi - lo == 1 => bad.push((lo, reason)),
            Err(_) => {
                let mid = lo + (hi - lo) / 2;
                self.decode_range(pending, lo, mid, good, bad);
                self.decode_range(pending, mid, hi, good, bad);
            }
        }
    }

    fn decode(&self, bytes: &[u8], rows: usize) -> Result<RecordBatch, String> {
        // One spare row of capacity so trailing whitespace is consumed and an extra value shows.
        let mut decoder = ReaderBuilder::new(self.schema.clone())
            .with_batch_size(rows + 1)
            .with_coerce_primitive(true)
            .build_decoder()
            .map_err(|e| e.to_string())?;
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = decoder.decode(rest).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("more than one JSON value on a line".into());
            }
            rest = &rest[n..];
        }
        let batch = decoder
            .flush()
            .map_err(|e| e.to_string())?
            .unwrap_or_else(|| RecordBatch::new_empty(self.schema.clone()));
        if batch.num_rows() != rows {
            return Err("expected exactly one JSON object on the line".into());
        }
        Ok(batch)
    }
}

impl FileReader for JsonReader {
    fn read(&self, out: &Output) -> Result<(), ReadError> {
        for file in &self.files {
            self.read_file(file, out)?;
        }
        Ok(())
    }
}

/// Types columns from the first objects of the file; columns keep the order keys first appear in.
fn infer(source: &FileSource, file: &Path) -> Result<SchemaRef, EngineError> {
    let name = &source.name;
    let io = |e: &dyn std::fmt::Display| {
        EngineError::Data(format!("source `{name}`: {}: {e}", file.display()))
    };
    let reader = BufReader::new(File::open(file).map_err(|e| io(&e))?);
    let mut values = Vec::new();
    let mut order: Vec<String> = Vec::new();
    for line in reader.split(b'\n') {
        let line = line.map_err(|e| io(&e))?;
        // Lines that are not objects will fail when read; they say nothing about the types.
        let Ok(keys) = serde_json::from_slice::<Keys>(&line) else {
            continue;
        };
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&line) else {
            continue;
        };
        for key in keys.0 {
            if !order.contains(&key) {
                order.push(key);
            }
        }
        values.push(value);
        if values.len() >= INFER_SAMPLE_ROWS {
            break;
        }
    }
    let inferred = infer_json_schema_from_iterator(values.iter().map(Ok)).map_err(|e| io(&e))?;
    let mut fields: Vec<Field> = Vec::with_capacity(order.len());
    for key in &order {
        if let Ok(field) = inferred.field_with_name(key) {
            // A column only ever null in the sample reads as text rather than as the Null type.
            let data_type = match field.data_type() {
                DataType::Null => DataType::Utf8,
                t => t.clone(),
            };
            fields.push(Field::new(key, data_type, true));
        }
    }
    if fields.is_empty() {
        return Err(EngineError::Definition(format!(
            "source `{name}`: {} has no JSON objects to infer columns from; declare them",
            file.display()
        )));
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// An object's keys in the order they are written (`serde_json::Value` sorts them).
struct Keys(Vec<String>);

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Keys, D::Error> {
        struct KeysVisitor;
        impl<'de> Visitor<'de> for KeysVisitor {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    keys.push(key);
                }
                Ok(Keys(keys))
            }
        }
        deserializer.deserialize_map(KeysVisitor)
    }
}
