//! Streaming reads from SQLite: the source becomes a temporary view (so `pragma_table_info` gives
//! each column's declared type), then its rows stream on their own task, each value converted to
//! the declared type through the same coercion writers use, into Arrow batches.

use super::{DIALECT, LiteColumn, columns_of, connect, lite_err, target_type};
use crate::engine::db::build::{append, finish, fresh};
use crate::engine::db::types::{META_TYPE, TargetColumn, TargetType, field};
use crate::engine::db::value::{Val, coerce};
use crate::engine::db::{Endpoint, ObjectName, ReadSpec, ReadStream};
use crate::engine::{EngineError, StopSignal};
use datafusion::arrow::array::ArrayBuilder;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use futures::StreamExt;
use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, Row, Sqlite, TypeInfo, ValueRef};
use std::borrow::Cow;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The Arrow type a declared column type reads as, and the coercion target on the way.
fn plan(c: &LiteColumn) -> (DataType, TargetType, Vec<(&'static str, String)>) {
    let ty = target_type(&c.declared);
    let mut meta = Vec::new();
    let dt = match &ty {
        TargetType::Bool => DataType::Boolean,
        TargetType::Int { .. } => DataType::Int64,
        TargetType::Float { .. } => DataType::Float64,
        TargetType::Decimal { precision, scale } => {
            DataType::Decimal128((*precision).max(1), *scale)
        }
        TargetType::Binary { .. } => DataType::Binary,
        TargetType::Date => DataType::Date32,
        TargetType::Time => DataType::Time64(TimeUnit::Microsecond),
        TargetType::Timestamp { tz: false } => DataType::Timestamp(TimeUnit::Microsecond, None),
        TargetType::Timestamp { tz: true } => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
        TargetType::Json => {
            meta.push((META_TYPE, "json".to_string()));
            DataType::Utf8
        }
        TargetType::Uuid => {
            meta.push((META_TYPE, "uuid".to_string()));
            DataType::Utf8
        }
        // Text, and columns without a declared type (expressions of a query): their text form.
        TargetType::Text { .. } | TargetType::Other => DataType::Utf8,
    };
    let ty = match ty {
        TargetType::Other => TargetType::text(),
        t => t,
    };
    (dt, ty, meta)
}

pub async fn open_reader(
    ep: &Endpoint,
    spec: &ReadSpec,
    _stop: &StopSignal,
) -> Result<ReadStream, EngineError> {
    let mut conn = connect(ep, false).await?;
    let def_err = |e: sqlx::Error| match lite_err(ep, e) {
        EngineError::Data(m) => EngineError::Definition(m),
        other => other,
    };
    let base = DIALECT.source_select(&spec.object);
    let mut high_water = None;
    let select = match &spec.watermark {
        None => base,
        Some(w) => {
            let after = w.after.as_deref();
            let max: Option<String> =
                sqlx::query_scalar(&DIALECT.max_as_text(&base, &w.column, after))
                    .fetch_one(&mut conn)
                    .await
                    .map_err(def_err)?;
            high_water = max.clone().or_else(|| w.after.clone());
            DIALECT.between_marks(&base, &w.column, after, max.as_deref())
        }
    };
    sqlx::query(&format!("CREATE TEMP VIEW \"__sluice_source\" AS {select}"))
        .execute(&mut conn)
        .await
        .map_err(def_err)?;
    let view = ObjectName {
        schema: Some("temp".into()),
        name: "__sluice_source".into(),
    };
    let cols = columns_of(&mut conn, ep, &view).await?;
    let mut fields = Vec::new();
    let mut targets = Vec::new();
    for c in &cols {
        let (dt, ty, meta) = plan(c);
        fields.push(field(&c.name, dt, true, &meta));
        targets.push(TargetColumn {
            name: c.name.clone(),
            ty,
            nullable: true,
            declared: c.declared.clone(),
        });
    }
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let (tx, mut rx) = mpsc::channel::<Result<RecordBatch, EngineError>>(2);
    let (schema2, ep2, batch_size) = (schema.clone(), ep.clone(), spec.batch_size.max(1));
    tokio::spawn(async move {
        let mut rows = sqlx::query("SELECT * FROM temp.\"__sluice_source\"").fetch(&mut conn);
        let mut builders = fresh(&schema2, batch_size);
        let mut n = 0usize;
        let mut row_no = 0u64;
        loop {
            let row = match rows.next().await {
                None => break,
                Some(Err(e)) => {
                    let _ = tx.send(Err(lite_err(&ep2, e))).await;
                    return;
                }
                Some(Ok(row)) => row,
            };
            row_no += 1;
            if let Err(m) = append_row(&row, &targets, &schema2, &mut builders) {
                let _ = tx
                    .send(Err(EngineError::Data(format!(
                        "SQLite `{}`: row {row_no}: {m}",
                        ep2.name
                    ))))
                    .await;
                return;
            }
            n += 1;
            if n == batch_size {
                let b = finish(&schema2, &mut builders);
                builders = fresh(&schema2, batch_size);
                n = 0;
                if tx.send(b).await.is_err() {
                    return;
                }
            }
        }
        if n > 0 {
            let _ = tx.send(finish(&schema2, &mut builders)).await;
        }
    });
    let batches = futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed();
    Ok(ReadStream {
        schema,
        batches,
        high_water,
    })
}

/// A stored value as it is (SQLite's storage class decides).
fn raw(row: &SqliteRow, i: usize) -> Result<Val<'_>, String> {
    let v = row.try_get_raw(i).map_err(|e| e.to_string())?;
    if v.is_null() {
        return Ok(Val::Null);
    }
    let class = v.type_info().name().to_string();
    let e = |e: sqlx::error::BoxDynError| e.to_string();
    Ok(match class.as_str() {
        "INTEGER" => Val::Int(<i64 as Decode<Sqlite>>::decode(v).map_err(e)?),
        "REAL" => Val::Float(<f64 as Decode<Sqlite>>::decode(v).map_err(e)?),
        "BLOB" => Val::Bytes(Cow::Borrowed(
            <&[u8] as Decode<Sqlite>>::decode(v).map_err(e)?,
        )),
        _ => Val::Text(Cow::Borrowed(
            <&str as Decode<Sqlite>>::decode(v).map_err(e)?,
        )),
    })
}

fn append_row(
    row: &SqliteRow,
    targets: &[TargetColumn],
    schema: &SchemaRef,
    builders: &mut [Box<dyn ArrayBuilder>],
) -> Result<(), String> {
    for (i, t) in targets.iter().enumerate() {
        // A stored integer is a boolean's 0/1; everything else goes through coercion.
        let v = coerce(raw(row, i)?, t)?;
        append(builders[i].as_mut(), schema.field(i).data_type(), v)
            .map_err(|m| format!("column `{}`: {m}", t.name))?;
    }
    Ok(())
}
