//! Checks that values survive a write and a read: a table created from an Arrow schema (as
//! replication creates its targets), filled with edge values and NULLs, read back the same.

use super::{TestDb, render};
use crate::engine::db::{self, Operation};
use datafusion::arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array,
    StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::record_batch::RecordBatch;
use std::sync::Arc;

fn edge_values() -> RecordBatch {
    RecordBatch::try_from_iter(vec![
        ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
        (
            "b",
            Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
        ),
        (
            "i",
            Arc::new(Int64Array::from(vec![Some(i64::MAX), Some(i64::MIN), None])),
        ),
        (
            "f",
            Arc::new(Float64Array::from(vec![Some(1.5), Some(-0.25), None])),
        ),
        (
            "m",
            Arc::new(
                Decimal128Array::from(vec![Some(-123_456), Some(1), None])
                    .with_precision_and_scale(12, 2)
                    .unwrap(),
            ),
        ),
        (
            "s",
            Arc::new(StringArray::from(vec![Some("Zoë ✓ 😀"), Some(""), None])),
        ),
        (
            "ts",
            Arc::new(TimestampMicrosecondArray::from(vec![
                Some(1_772_368_496_789_012),
                Some(0),
                None,
            ])),
        ),
        (
            "d",
            Arc::new(Date32Array::from(vec![Some(19_782), Some(-1), None])),
        ),
        (
            "bl",
            Arc::new(BinaryArray::from_opt_vec(vec![
                Some(b"\x00\xff"),
                Some(b"\x01"),
                None,
            ])),
        ),
    ])
    .unwrap()
}

pub(super) async fn values_round_trip_through_a_created_table(db: &TestDb) {
    let t = db.name("values");
    db.exec(&format!("DROP TABLE IF EXISTS {}", db.q(&t))).await;
    let batch = edge_values();
    db::create_table(&db.ep, &t, &batch.schema(), &["id".to_string()])
        .await
        .unwrap();
    let (rejects, applied) = db.write(&t, Operation::Insert, &[], &batch).await;
    assert!(rejects.is_empty(), "{rejects:?}");
    assert_eq!(applied.inserts, 3);
    let got = db
        .rows(&format!("SELECT * FROM {} ORDER BY id", db.q(&t)))
        .await;
    assert_eq!(got, render(&batch), "values and NULLs read back as written");
    db.drop_table(&t).await;
}
