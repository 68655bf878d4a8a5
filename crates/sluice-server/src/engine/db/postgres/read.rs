//! Streaming reads from PostgreSQL: the source becomes a temporary view (so the catalog gives
//! every column's exact type, `numeric(p,s)` included), then binary `COPY (SELECT ...) TO STDOUT`
//! streams its rows, decoded into Arrow batches on their own task while the consumer works.

use super::binary::numeric_text;
use super::{DIALECT, PgColumn, columns_of, connect, numeric_typmod, pg_err};
use crate::engine::db::types::{META_MAX_CHARS, META_TYPE, field};
use crate::engine::db::value::parse_decimal;
use crate::engine::db::{Endpoint, ReadSpec, ReadStream};
use crate::engine::{EngineError, StopSignal};
use bytes::{Buf, Bytes, BytesMut};
use datafusion::arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder,
    Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use futures::StreamExt;
use std::sync::Arc;
use tokio::sync::mpsc;

const VIEW: &str = "pg_temp.__sluice_source";
const PG_EPOCH_DAYS: i32 = 10_957;
const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS as i64 * 86_400_000_000;

/// How one column is decoded, and the expression that selects it.
#[derive(Debug, Clone, Copy)]
enum Dec {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Decimal(u8, i8),
    /// Unconstrained numerics, decoded to their exact text.
    NumericText,
    /// Text, json, and every type read through `::text`.
    Text,
    Jsonb,
    Bytea,
    Uuid,
    Date,
    Time,
    Timestamp,
    TimestampTz,
}

fn plan_column(c: &PgColumn) -> (Dec, DataType, Vec<(&'static str, String)>, bool) {
    let mut meta = Vec::new();
    let mut as_text = false;
    let dec = match c.type_name.as_str() {
        "bool" => Dec::Bool,
        "int2" => Dec::Int2,
        "int4" => Dec::Int4,
        "int8" => Dec::Int8,
        "float4" => Dec::Float4,
        "float8" => Dec::Float8,
        "numeric" => match numeric_typmod(c.typmod) {
            Some((p, s)) if p <= 38 && s >= 0 => Dec::Decimal(p, s),
            _ => Dec::NumericText,
        },
        "varchar" | "bpchar" => {
            if c.typmod >= 4 {
                meta.push((META_MAX_CHARS, (c.typmod - 4).to_string()));
            }
            Dec::Text
        }
        "text" | "name" | "citext" => Dec::Text,
        "json" => {
            meta.push((META_TYPE, "json".to_string()));
            Dec::Text
        }
        "jsonb" => {
            meta.push((META_TYPE, "json".to_string()));
            Dec::Jsonb
        }
        "uuid" => {
            meta.push((META_TYPE, "uuid".to_string()));
            Dec::Uuid
        }
        "bytea" => Dec::Bytea,
        "date" => Dec::Date,
        "time" => Dec::Time,
        "timestamp" => Dec::Timestamp,
        "timestamptz" => Dec::TimestampTz,
        _ => {
            as_text = true;
            Dec::Text
        }
    };
    let dt = match dec {
        Dec::Bool => DataType::Boolean,
        Dec::Int2 => DataType::Int16,
        Dec::Int4 => DataType::Int32,
        Dec::Int8 => DataType::Int64,
        Dec::Float4 => DataType::Float32,
        Dec::Float8 => DataType::Float64,
        Dec::Decimal(p, s) => DataType::Decimal128(p.max(1), s),
        Dec::NumericText | Dec::Text | Dec::Jsonb | Dec::Uuid => DataType::Utf8,
        Dec::Bytea => DataType::Binary,
        Dec::Date => DataType::Date32,
        Dec::Time => DataType::Time64(TimeUnit::Microsecond),
        Dec::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        Dec::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    };
    (dec, dt, meta, as_text)
}

pub async fn open_reader(
    ep: &Endpoint,
    spec: &ReadSpec,
    _stop: &StopSignal,
) -> Result<ReadStream, EngineError> {
    let client = connect(ep).await?;
    let base = DIALECT.source_select(&spec.object);
    // A bad table name or query is the definition's fault: say so in PostgreSQL's words.
    let def_err = |e: tokio_postgres::Error| {
        EngineError::Definition(format!(
            "PostgreSQL `{}`: {}",
            ep.name,
            super::pg_message(&e)
        ))
    };
    let mut high_water = None;
    let select = match &spec.watermark {
        None => base,
        Some(w) => {
            let after = w.after.as_deref();
            let max_sql = DIALECT.max_as_text(&base, &w.column, after);
            let max: Option<String> = client
                .query_one(&max_sql, &[])
                .await
                .map_err(def_err)?
                .get(0);
            high_water = max.clone().or_else(|| w.after.clone());
            DIALECT.between_marks(&base, &w.column, after, max.as_deref())
        }
    };
    client
        .batch_execute(&format!("CREATE TEMP VIEW __sluice_source AS {select}"))
        .await
        .map_err(def_err)?;
    let cols = columns_of(&client, ep, VIEW).await?.unwrap_or_default();
    let mut decs = Vec::with_capacity(cols.len());
    let mut fields = Vec::with_capacity(cols.len());
    let mut exprs = Vec::with_capacity(cols.len());
    for c in &cols {
        let (dec, dt, meta, as_text) = plan_column(c);
        let q = DIALECT.quote(&c.name);
        exprs.push(if as_text { format!("{q}::text") } else { q });
        fields.push(field(&c.name, dt, true, &meta));
        decs.push(dec);
    }
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let copy = format!(
        "COPY (SELECT {} FROM {VIEW}) TO STDOUT (FORMAT binary)",
        exprs.join(", ")
    );
    let stream = client.copy_out(&copy).await.map_err(def_err)?;
    let (tx, mut rx) = mpsc::channel::<Result<RecordBatch, EngineError>>(2);
    let batch_size = spec.batch_size.max(1);
    let schema2 = schema.clone();
    let ep2 = ep.clone();
    tokio::spawn(async move {
        // The client lives as long as the COPY streams.
        let client = client;
        let mut stream = std::pin::pin!(stream);
        let mut decoder = Decoder::new(schema2, decs, batch_size);
        let mut buf = BytesMut::new();
        loop {
            let chunk: Option<Result<Bytes, tokio_postgres::Error>> = stream.next().await;
            let result = match chunk {
                Some(Ok(bytes)) => {
                    buf.extend_from_slice(&bytes);
                    decoder.consume(&mut buf)
                }
                Some(Err(e)) => Err(pg_err(&ep2, e)),
                None => {
                    // The view goes before the reader says it is done: left to the session's
                    // end, its cleanup would still hold locks on the source's catalog entries
                    // after the run ended, and a DROP of the source table could deadlock with it.
                    if let Err(e) = client
                        .batch_execute(&format!("DROP VIEW IF EXISTS {VIEW}"))
                        .await
                    {
                        tracing::debug!("dropping the source view: {e}");
                    }
                    if let Some(b) = decoder.finish() {
                        let _ = tx.send(b).await;
                    }
                    return;
                }
            };
            match result {
                Ok(batches) => {
                    for b in batches {
                        if tx.send(Ok(b)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
    });
    let batches = futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed();
    Ok(ReadStream {
        schema,
        batches,
        high_water,
    })
}

enum Bld {
    Bool(BooleanBuilder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Dec(Decimal128Builder, i8),
    Str(StringBuilder),
    Bin(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Ts(TimestampMicrosecondBuilder),
}

struct Decoder {
    schema: SchemaRef,
    decs: Vec<Dec>,
    builders: Vec<Bld>,
    rows: usize,
    batch_size: usize,
    header_done: bool,
    done: bool,
}

fn be_i16(b: &[u8]) -> i16 {
    i16::from_be_bytes([b[0], b[1]])
}
fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
fn be_i64(b: &[u8]) -> i64 {
    i64::from_be_bytes(b[..8].try_into().expect("8 bytes"))
}

impl Decoder {
    fn new(schema: SchemaRef, decs: Vec<Dec>, batch_size: usize) -> Decoder {
        let mut d = Decoder {
            schema,
            decs,
            builders: Vec::new(),
            rows: 0,
            batch_size,
            header_done: false,
            done: false,
        };
        d.builders = d.fresh();
        d
    }

    fn fresh(&self) -> Vec<Bld> {
        let n = self.batch_size;
        self.decs
            .iter()
            .zip(self.schema.fields())
            .map(|(d, f)| match d {
                Dec::Bool => Bld::Bool(BooleanBuilder::with_capacity(n)),
                Dec::Int2 => Bld::I16(Int16Builder::with_capacity(n)),
                Dec::Int4 => Bld::I32(Int32Builder::with_capacity(n)),
                Dec::Int8 => Bld::I64(Int64Builder::with_capacity(n)),
                Dec::Float4 => Bld::F32(Float32Builder::with_capacity(n)),
                Dec::Float8 => Bld::F64(Float64Builder::with_capacity(n)),
                Dec::Decimal(_, s) => Bld::Dec(
                    Decimal128Builder::with_capacity(n).with_data_type(f.data_type().clone()),
                    *s,
                ),
                Dec::NumericText | Dec::Text | Dec::Jsonb | Dec::Uuid => {
                    Bld::Str(StringBuilder::with_capacity(n, n * 16))
                }
                Dec::Bytea => Bld::Bin(BinaryBuilder::with_capacity(n, n * 16)),
                Dec::Date => Bld::Date(Date32Builder::with_capacity(n)),
                Dec::Time => Bld::Time(Time64MicrosecondBuilder::with_capacity(n)),
                Dec::Timestamp => Bld::Ts(TimestampMicrosecondBuilder::with_capacity(n)),
                Dec::TimestampTz => {
                    Bld::Ts(TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC"))
                }
            })
            .collect()
    }

    /// Decodes every complete row in `buf`, leaving a partial one for the next chunk.
    fn consume(&mut self, buf: &mut BytesMut) -> Result<Vec<RecordBatch>, EngineError> {
        let mut out = Vec::new();
        if !self.header_done {
            if buf.len() < 19 {
                return Ok(out);
            }
            if &buf[..11] != b"PGCOPY\n\xff\r\n\0" {
                return Err(EngineError::Data(
                    "PostgreSQL sent an unexpected COPY header".into(),
                ));
            }
            let ext = be_i32(&buf[15..19]) as usize;
            if buf.len() < 19 + ext {
                return Ok(out);
            }
            buf.advance(19 + ext);
            self.header_done = true;
        }
        while !self.done {
            let Some(len) = self.row_len(buf) else { break };
            let row = buf.split_to(len);
            if be_i16(&row) == -1 {
                self.done = true;
                break;
            }
            self.decode_row(&row[2..])?;
            self.rows += 1;
            if self.rows == self.batch_size {
                out.push(self.flush()?);
            }
        }
        Ok(out)
    }

    /// The length of the complete row at the start of `buf`, if it is all there.
    fn row_len(&self, buf: &[u8]) -> Option<usize> {
        if buf.len() < 2 {
            return None;
        }
        let n = be_i16(buf);
        if n == -1 {
            return Some(2);
        }
        let mut pos = 2;
        for _ in 0..n {
            if buf.len() < pos + 4 {
                return None;
            }
            let l = be_i32(&buf[pos..]);
            pos += 4 + l.max(0) as usize;
        }
        (buf.len() >= pos).then_some(pos)
    }

    fn decode_row(&mut self, mut b: &[u8]) -> Result<(), EngineError> {
        for (i, bld) in self.builders.iter_mut().enumerate() {
            let len = be_i32(b);
            b = &b[4..];
            if len < 0 {
                append_null(bld);
                continue;
            }
            let (v, rest) = b.split_at(len as usize);
            b = rest;
            decode(bld, self.decs[i], v).map_err(|m| {
                EngineError::Data(format!("column `{}`: {m}", self.schema.field(i).name()))
            })?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<RecordBatch, EngineError> {
        let fresh = self.fresh();
        let builders = std::mem::replace(&mut self.builders, fresh);
        self.rows = 0;
        let cols: Vec<ArrayRef> = builders.into_iter().map(finish).collect();
        RecordBatch::try_new(self.schema.clone(), cols)
            .map_err(|e| EngineError::Data(format!("building a batch: {e}")))
    }

    fn finish(&mut self) -> Option<Result<RecordBatch, EngineError>> {
        if !self.done {
            return Some(Err(EngineError::Data(
                "the COPY stream from PostgreSQL ended early".into(),
            )));
        }
        (self.rows > 0).then(|| self.flush())
    }
}

fn append_null(b: &mut Bld) {
    match b {
        Bld::Bool(x) => x.append_null(),
        Bld::I16(x) => x.append_null(),
        Bld::I32(x) => x.append_null(),
        Bld::I64(x) => x.append_null(),
        Bld::F32(x) => x.append_null(),
        Bld::F64(x) => x.append_null(),
        Bld::Dec(x, _) => x.append_null(),
        Bld::Str(x) => x.append_null(),
        Bld::Bin(x) => x.append_null(),
        Bld::Date(x) => x.append_null(),
        Bld::Time(x) => x.append_null(),
        Bld::Ts(x) => x.append_null(),
    }
}

fn finish(b: Bld) -> ArrayRef {
    match b {
        Bld::Bool(mut x) => Arc::new(x.finish()),
        Bld::I16(mut x) => Arc::new(x.finish()),
        Bld::I32(mut x) => Arc::new(x.finish()),
        Bld::I64(mut x) => Arc::new(x.finish()),
        Bld::F32(mut x) => Arc::new(x.finish()),
        Bld::F64(mut x) => Arc::new(x.finish()),
        Bld::Dec(mut x, _) => Arc::new(x.finish()),
        Bld::Str(mut x) => Arc::new(x.finish()),
        Bld::Bin(mut x) => Arc::new(x.finish()),
        Bld::Date(mut x) => Arc::new(x.finish()),
        Bld::Time(mut x) => Arc::new(x.finish()),
        Bld::Ts(mut x) => Arc::new(x.finish()),
    }
}

fn utf8(v: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(v).map_err(|e| format!("invalid UTF-8: {e}"))
}

fn decode(b: &mut Bld, dec: Dec, v: &[u8]) -> Result<(), String> {
    match (b, dec) {
        (Bld::Bool(x), _) => x.append_value(v.first() == Some(&1)),
        (Bld::I16(x), _) => x.append_value(be_i16(v)),
        (Bld::I32(x), _) => x.append_value(be_i32(v)),
        (Bld::I64(x), _) => x.append_value(be_i64(v)),
        (Bld::F32(x), _) => x.append_value(f32::from_bits(be_i32(v) as u32)),
        (Bld::F64(x), _) => x.append_value(f64::from_bits(be_i64(v) as u64)),
        (Bld::Dec(x, scale), _) => {
            let text = numeric_text(v).ok_or("NaN cannot be held by a fixed-point column")?;
            x.append_value(parse_decimal(&text, *scale)?);
        }
        (Bld::Str(x), Dec::NumericText) => {
            x.append_value(numeric_text(v).unwrap_or_else(|| "NaN".into()))
        }
        (Bld::Str(x), Dec::Jsonb) => x.append_value(utf8(v.get(1..).unwrap_or_default())?),
        (Bld::Str(x), Dec::Uuid) => {
            let u = uuid::Uuid::from_slice(v).map_err(|e| e.to_string())?;
            x.append_value(u.hyphenated().to_string());
        }
        (Bld::Str(x), _) => x.append_value(utf8(v)?),
        (Bld::Bin(x), _) => x.append_value(v),
        (Bld::Date(x), _) => {
            let d = be_i32(v);
            if d == i32::MAX || d == i32::MIN {
                return Err("an infinite date has no value in Arrow".into());
            }
            x.append_value(d + PG_EPOCH_DAYS);
        }
        (Bld::Time(x), _) => x.append_value(be_i64(v)),
        (Bld::Ts(x), _) => {
            let t = be_i64(v);
            if t == i64::MAX || t == i64::MIN {
                return Err("an infinite timestamp has no value in Arrow".into());
            }
            x.append_value(t + PG_EPOCH_MICROS);
        }
    }
    Ok(())
}
