//! Building Arrow batches from coerced values, for the readers that get one value at a time
//! (SQLite, MySQL): a builder per column, picked by the column's Arrow type.

use super::value::Val;
use crate::engine::EngineError;
use chrono::{NaiveTime, Timelike};
use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder,
    Float32Builder, Float64Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder,
    Time64MicrosecondBuilder, TimestampMicrosecondBuilder, UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;

pub fn fresh(schema: &SchemaRef, n: usize) -> Vec<Box<dyn ArrayBuilder>> {
    schema
        .fields()
        .iter()
        .map(|f| -> Box<dyn ArrayBuilder> {
            match f.data_type() {
                DataType::Boolean => Box::new(BooleanBuilder::with_capacity(n)),
                DataType::Int16 => Box::new(Int16Builder::with_capacity(n)),
                DataType::Int32 => Box::new(Int32Builder::with_capacity(n)),
                DataType::Int64 => Box::new(Int64Builder::with_capacity(n)),
                DataType::UInt64 => Box::new(UInt64Builder::with_capacity(n)),
                DataType::Float32 => Box::new(Float32Builder::with_capacity(n)),
                DataType::Float64 => Box::new(Float64Builder::with_capacity(n)),
                DataType::Decimal128(..) => Box::new(
                    Decimal128Builder::with_capacity(n).with_data_type(f.data_type().clone()),
                ),
                DataType::Binary => Box::new(BinaryBuilder::with_capacity(n, n * 16)),
                DataType::Date32 => Box::new(Date32Builder::with_capacity(n)),
                DataType::Time64(_) => Box::new(Time64MicrosecondBuilder::with_capacity(n)),
                DataType::Timestamp(_, Some(tz)) => Box::new(
                    TimestampMicrosecondBuilder::with_capacity(n).with_timezone(tz.clone()),
                ),
                DataType::Timestamp(_, None) => {
                    Box::new(TimestampMicrosecondBuilder::with_capacity(n))
                }
                _ => Box::new(StringBuilder::with_capacity(n, n * 16)),
            }
        })
        .collect()
}

pub fn finish(
    schema: &SchemaRef,
    builders: &mut [Box<dyn ArrayBuilder>],
) -> Result<RecordBatch, EngineError> {
    let cols: Vec<ArrayRef> = builders.iter_mut().map(|b| b.finish()).collect();
    RecordBatch::try_new(schema.clone(), cols).map_err(|e| EngineError::Data(e.to_string()))
}

/// Appends a value coerced to the column's type.
pub fn append(b: &mut dyn ArrayBuilder, dt: &DataType, v: Val) -> Result<(), String> {
    macro_rules! get {
        ($t:ty) => {
            b.as_any_mut()
                .downcast_mut::<$t>()
                .ok_or("builder mismatch")?
        };
    }
    let micros_of = |t: NaiveTime| {
        t.num_seconds_from_midnight() as i64 * 1_000_000 + (t.nanosecond() / 1000) as i64
    };
    match (dt, v) {
        (DataType::Boolean, Val::Null) => get!(BooleanBuilder).append_null(),
        (DataType::Boolean, Val::Bool(x)) => get!(BooleanBuilder).append_value(x),
        (DataType::Int16, Val::Null) => get!(Int16Builder).append_null(),
        (DataType::Int16, Val::Int(x)) => get!(Int16Builder).append_value(x as i16),
        (DataType::Int32, Val::Null) => get!(Int32Builder).append_null(),
        (DataType::Int32, Val::Int(x)) => get!(Int32Builder).append_value(x as i32),
        (DataType::Int64, Val::Null) => get!(Int64Builder).append_null(),
        (DataType::Int64, Val::Int(x)) => get!(Int64Builder).append_value(x),
        (DataType::UInt64, Val::Null) => get!(UInt64Builder).append_null(),
        (DataType::UInt64, Val::Int(x)) => get!(UInt64Builder).append_value(x as u64),
        (DataType::UInt64, Val::UInt(x)) => get!(UInt64Builder).append_value(x),
        (DataType::Float32, Val::Null) => get!(Float32Builder).append_null(),
        (DataType::Float32, Val::Float(x)) => get!(Float32Builder).append_value(x as f32),
        (DataType::Float64, Val::Null) => get!(Float64Builder).append_null(),
        (DataType::Float64, Val::Float(x)) => get!(Float64Builder).append_value(x),
        (DataType::Decimal128(..), Val::Null) => get!(Decimal128Builder).append_null(),
        (DataType::Decimal128(..), Val::Decimal(x, _)) => get!(Decimal128Builder).append_value(x),
        (DataType::Binary, Val::Null) => get!(BinaryBuilder).append_null(),
        (DataType::Binary, Val::Bytes(x)) => get!(BinaryBuilder).append_value(x),
        (DataType::Date32, Val::Null) => get!(Date32Builder).append_null(),
        (DataType::Date32, Val::Date(d)) => get!(Date32Builder).append_value(
            (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32,
        ),
        (DataType::Time64(_), Val::Null) => get!(Time64MicrosecondBuilder).append_null(),
        (DataType::Time64(_), Val::Time(t)) => {
            get!(Time64MicrosecondBuilder).append_value(micros_of(t))
        }
        (DataType::Timestamp(..), Val::Null) => get!(TimestampMicrosecondBuilder).append_null(),
        (DataType::Timestamp(..), Val::Timestamp(t)) => {
            get!(TimestampMicrosecondBuilder).append_value(t.and_utc().timestamp_micros())
        }
        (DataType::Timestamp(..), Val::TimestampTz(t)) => {
            get!(TimestampMicrosecondBuilder).append_value(t.timestamp_micros())
        }
        (_, Val::Null) => get!(StringBuilder).append_null(),
        (_, Val::Uuid(u)) => get!(StringBuilder).append_value(u.hyphenated().to_string()),
        (_, Val::Text(t) | Val::Json(t)) => get!(StringBuilder).append_value(t),
        (_, other) => return Err(format!("unexpected value {other:?}")),
    }
    Ok(())
}
