//! Streaming reads from MySQL/MariaDB over the binary protocol: the result set's column metadata
//! gives the Arrow schema (integers by width and sign, DECIMAL(p,s), DATETIME vs TIMESTAMP,
//! binary vs text), and rows stream on their own task into Arrow batches.

use super::{DIALECT, connect, my_err};
use crate::engine::db::build::{append, finish, fresh};
use crate::engine::db::types::{META_MAX_CHARS, META_TYPE, TargetColumn, TargetType, field};
use crate::engine::db::value::{Val, coerce};
use crate::engine::db::{Endpoint, ReadSpec, ReadStream};
use crate::engine::{EngineError, StopSignal};
use chrono::{NaiveDate, NaiveTime};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use futures::StreamExt;
use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::prelude::Queryable;
use mysql_async::{Column, Value};
use std::borrow::Cow;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The binary character set: BINARY, VARBINARY, BLOB and BIT columns.
const BINARY_CHARSET: u16 = 63;

/// Bytes per character of a character set, for VARCHAR lengths (ids from SHOW COLLATION).
fn bytes_per_char(charset: u16) -> Option<u32> {
    match charset {
        33 | 83 | 192..=215 | 223 => Some(3),
        45 | 46 | 224..=247 | 255 | 305..=323 => Some(4),
        5 | 8 | 11 | 47 | 48 => Some(1),
        _ => None,
    }
}

/// The Arrow type a result column reads as, and the coercion on the way.
fn plan(c: &Column) -> (DataType, TargetType, Vec<(&'static str, String)>) {
    use ColumnType as T;
    let unsigned = c.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    let binary = c.character_set() == BINARY_CHARSET;
    let mut meta = Vec::new();
    let int = |dt: DataType| {
        let ty = TargetType::Int {
            bytes: 8,
            unsigned: dt == DataType::UInt64,
        };
        (dt, ty)
    };
    let (dt, ty) = match c.column_type() {
        T::MYSQL_TYPE_TINY if c.column_length() == 1 => (DataType::Boolean, TargetType::Bool),
        T::MYSQL_TYPE_TINY | T::MYSQL_TYPE_YEAR => int(DataType::Int16),
        T::MYSQL_TYPE_SHORT if unsigned => int(DataType::Int32),
        T::MYSQL_TYPE_SHORT => int(DataType::Int16),
        T::MYSQL_TYPE_INT24 => int(DataType::Int32),
        T::MYSQL_TYPE_LONG if unsigned => int(DataType::Int64),
        T::MYSQL_TYPE_LONG => int(DataType::Int32),
        T::MYSQL_TYPE_LONGLONG if unsigned => int(DataType::UInt64),
        T::MYSQL_TYPE_LONGLONG => int(DataType::Int64),
        T::MYSQL_TYPE_FLOAT => (DataType::Float32, TargetType::Float { bytes: 8 }),
        T::MYSQL_TYPE_DOUBLE => (DataType::Float64, TargetType::Float { bytes: 8 }),
        T::MYSQL_TYPE_NEWDECIMAL | T::MYSQL_TYPE_DECIMAL => {
            let scale = c.decimals() as i8;
            let sign = if unsigned { 0 } else { 1 };
            let point = if scale > 0 { 1 } else { 0 };
            let precision = c.column_length().saturating_sub(sign + point);
            if (1..=38).contains(&precision) {
                let (p, s) = (precision as u8, scale);
                (
                    DataType::Decimal128(p, s),
                    TargetType::Decimal {
                        precision: p,
                        scale: s,
                    },
                )
            } else {
                (DataType::Utf8, TargetType::text())
            }
        }
        T::MYSQL_TYPE_DATE | T::MYSQL_TYPE_NEWDATE => (DataType::Date32, TargetType::Date),
        T::MYSQL_TYPE_TIME | T::MYSQL_TYPE_TIME2 => {
            (DataType::Time64(TimeUnit::Microsecond), TargetType::Time)
        }
        T::MYSQL_TYPE_DATETIME | T::MYSQL_TYPE_DATETIME2 => (
            DataType::Timestamp(TimeUnit::Microsecond, None),
            TargetType::Timestamp { tz: false },
        ),
        // The session runs in UTC, so TIMESTAMP values arrive as UTC instants.
        T::MYSQL_TYPE_TIMESTAMP | T::MYSQL_TYPE_TIMESTAMP2 => (
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            TargetType::Timestamp { tz: true },
        ),
        T::MYSQL_TYPE_JSON => {
            meta.push((META_TYPE, "json".to_string()));
            (DataType::Utf8, TargetType::text())
        }
        T::MYSQL_TYPE_BIT => (DataType::Binary, TargetType::Binary { max_bytes: None }),
        T::MYSQL_TYPE_TINY_BLOB
        | T::MYSQL_TYPE_MEDIUM_BLOB
        | T::MYSQL_TYPE_LONG_BLOB
        | T::MYSQL_TYPE_BLOB
        | T::MYSQL_TYPE_VAR_STRING
        | T::MYSQL_TYPE_VARCHAR
        | T::MYSQL_TYPE_STRING
            if binary =>
        {
            (DataType::Binary, TargetType::Binary { max_bytes: None })
        }
        T::MYSQL_TYPE_VAR_STRING | T::MYSQL_TYPE_VARCHAR | T::MYSQL_TYPE_STRING => {
            if let Some(n) = bytes_per_char(c.character_set()) {
                meta.push((META_MAX_CHARS, (c.column_length() / n).to_string()));
            }
            (DataType::Utf8, TargetType::text())
        }
        _ => (DataType::Utf8, TargetType::text()),
    };
    (dt, ty, meta)
}

/// A protocol value as a typed value; `date_only` for DATE columns, `tz` for TIMESTAMP ones.
fn val(v: Value, binary: bool, date_only: bool, tz: bool) -> Result<Val<'static>, String> {
    Ok(match v {
        Value::NULL => Val::Null,
        Value::Int(i) => Val::Int(i),
        Value::UInt(u) => Val::UInt(u),
        Value::Float(f) => Val::Float(f as f64),
        Value::Double(d) => Val::Float(d),
        Value::Bytes(b) if binary => Val::Bytes(Cow::Owned(b)),
        Value::Bytes(b) => Val::Text(Cow::Owned(
            String::from_utf8(b).map_err(|e| format!("invalid UTF-8: {e}"))?,
        )),
        Value::Date(y, mo, d, h, mi, s, us) => {
            let date = NaiveDate::from_ymd_opt(y as i32, mo as u32, d as u32)
                .ok_or_else(|| format!("{y:04}-{mo:02}-{d:02} is not a date (a zero date?)"))?;
            if date_only {
                Val::Date(date)
            } else {
                let t = NaiveTime::from_hms_micro_opt(h as u32, mi as u32, s as u32, us)
                    .ok_or("not a time of day")?;
                let dt = date.and_time(t);
                if tz {
                    Val::TimestampTz(dt.and_utc())
                } else {
                    Val::Timestamp(dt)
                }
            }
        }
        Value::Time(neg, days, h, m, s, us) => {
            if neg || days > 0 {
                return Err("a TIME outside 00:00:00..24:00:00 has no time-of-day value".into());
            }
            Val::Time(
                NaiveTime::from_hms_micro_opt(h as u32, m as u32, s as u32, us)
                    .ok_or("not a time of day")?,
            )
        }
    })
}

type Opened = Result<SchemaRef, EngineError>;

pub async fn open_reader(
    ep: &Endpoint,
    spec: &ReadSpec,
    _stop: &StopSignal,
) -> Result<ReadStream, EngineError> {
    let mut conn = connect(ep).await?;
    let def_err = |e: mysql_async::Error| {
        EngineError::Definition(format!("MySQL `{}`: {}", ep.name, super::my_message(&e)))
    };
    let base = DIALECT.source_select(&spec.object);
    let mut high_water = None;
    let select = match &spec.watermark {
        None => base,
        Some(w) => {
            let after = w.after.as_deref();
            let max: Option<Option<String>> = conn
                .query_first(DIALECT.max_as_text(&base, &w.column, after))
                .await
                .map_err(def_err)?;
            let max = max.flatten();
            high_water = max.clone().or_else(|| w.after.clone());
            DIALECT.between_marks(&base, &w.column, after, max.as_deref())
        }
    };
    let (opened_tx, opened_rx) = oneshot::channel::<Opened>();
    let (tx, mut rx) = mpsc::channel::<Result<RecordBatch, EngineError>>(2);
    let (ep2, batch_size) = (ep.clone(), spec.batch_size.max(1));
    tokio::spawn(async move {
        let mut result = match conn.exec_iter(select, ()).await {
            Ok(r) => r,
            Err(e) => {
                let m = format!("MySQL `{}`: {}", ep2.name, super::my_message(&e));
                let _ = opened_tx.send(Err(EngineError::Definition(m)));
                return;
            }
        };
        let columns = result.columns().map(|c| c.to_vec()).unwrap_or_default();
        let mut fields = Vec::new();
        let mut targets = Vec::new();
        let mut shape = Vec::new();
        for c in &columns {
            let (dt, ty, meta) = plan(c);
            let name = c.name_str().to_string();
            shape.push((
                dt == DataType::Binary,
                dt == DataType::Date32,
                matches!(dt, DataType::Timestamp(_, Some(_))),
            ));
            fields.push(field(&name, dt, true, &meta));
            targets.push(TargetColumn {
                name,
                ty,
                nullable: true,
                declared: format!("{:?}", c.column_type()),
            });
        }
        let schema: SchemaRef = Arc::new(Schema::new(fields));
        if opened_tx.send(Ok(schema.clone())).is_err() {
            return;
        }
        let mut builders = fresh(&schema, batch_size);
        let (mut n, mut row_no) = (0usize, 0u64);
        loop {
            let row = match result.next().await {
                Ok(Some(row)) => row,
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Err(my_err(&ep2, e))).await;
                    return;
                }
            };
            row_no += 1;
            let values = row.unwrap();
            for (i, v) in values.into_iter().enumerate() {
                let (binary, date_only, tz) = shape[i];
                let r = val(v, binary, date_only, tz)
                    .and_then(|v| coerce(v, &targets[i]))
                    .and_then(|v| append(builders[i].as_mut(), schema.field(i).data_type(), v));
                if let Err(m) = r {
                    let m = format!(
                        "MySQL `{}`: row {row_no}, column `{}`: {m}",
                        ep2.name, targets[i].name
                    );
                    let _ = tx.send(Err(EngineError::Data(m))).await;
                    return;
                }
            }
            n += 1;
            if n == batch_size {
                let b = finish(&schema, &mut builders);
                builders = fresh(&schema, batch_size);
                n = 0;
                if tx.send(b).await.is_err() {
                    return;
                }
            }
        }
        if n > 0 {
            let _ = tx.send(finish(&schema, &mut builders)).await;
        }
    });
    let schema = opened_rx
        .await
        .map_err(|_| EngineError::Data("the MySQL reader stopped".into()))??;
    let batches = futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed();
    Ok(ReadStream {
        schema,
        batches,
        high_water,
    })
}
