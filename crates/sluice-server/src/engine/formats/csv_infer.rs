//! Column names and types of a CSV source with no declared columns: names from the header (made
//! unique), types from the kinds of value seen in the first rows of the first file.

use super::csv_source::{csv_reader, is_utf8, open_skipping_bom};
use super::source::INFER_SAMPLE_ROWS;
use crate::domain::task::FileSource;
use crate::engine::EngineError;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::path::Path;
use std::sync::Arc;

// Bits of the kinds of value seen in a column while inferring.
const BOOL: u8 = 1;
const INT: u8 = 2;
const FLOAT: u8 = 4;
const DATE: u8 = 8;
const TIMESTAMP: u8 = 16;
const TEXT: u8 = 32;

/// Names columns from the header (or `column_N`) and types them from the first rows.
pub(crate) fn infer(
    source: &FileSource,
    file: &Path,
    delimiter: u8,
) -> Result<SchemaRef, EngineError> {
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
