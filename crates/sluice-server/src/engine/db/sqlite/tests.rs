//! What only SQLite shows, on real database files: decimals wider than its 8-byte floats kept
//! exactly as text or refused, and JSON kept as text. What every connector does is checked by the
//! conformance suite (`db::conformance`).

use crate::engine::db::Operation;
use crate::engine::db::conformance::{TestDb, render};
use datafusion::arrow::array::{ArrayRef, Decimal128Array, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use std::sync::Arc;

async fn db() -> TestDb {
    TestDb::sqlite().await.expect("SQLite needs no service")
}

#[tokio::test]
async fn wide_decimals_and_json_round_trip_as_text() {
    let db = db().await;
    // SQLite would turn a 38-digit DECIMAL into a float: such values live in TEXT columns.
    let t = db
        .fresh("text", "id INTEGER PRIMARY KEY, d TEXT, j JSON")
        .await;
    let max38 = 10i128.pow(38) - 1;
    let batch = RecordBatch::try_from_iter(vec![
        ("id", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
        (
            "d",
            Arc::new(
                Decimal128Array::from(vec![Some(max38), None])
                    .with_precision_and_scale(38, 10)
                    .unwrap(),
            ),
        ),
        (
            "j",
            Arc::new(StringArray::from(vec![Some("{\"a\":[1]}"), None])),
        ),
    ])
    .unwrap();
    let (rejects, applied) = db.write(&t, Operation::Insert, &[], &batch).await;
    assert!(rejects.is_empty(), "{rejects:?}");
    assert_eq!(applied.inserts, 2);
    let got = db
        .rows(&format!("SELECT * FROM {} ORDER BY id", db.q(&t)))
        .await;
    assert_eq!(
        got,
        vec![
            "1|9999999999999999999999999999.9999999999|{\"a\":[1]}".to_string(),
            "2|NULL|NULL".to_string()
        ],
        "exact 38 digits"
    );
}

#[tokio::test]
async fn decimals_sqlite_would_round_are_rejected() {
    let db = db().await;
    let t = db
        .fresh("round", "id INTEGER PRIMARY KEY, d DECIMAL(38,10)")
        .await;
    let batch = RecordBatch::try_from_iter(vec![
        ("id", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
        (
            "d",
            Arc::new(
                Decimal128Array::from(vec![Some(10i128.pow(38) - 1), Some(12_345_000_000_000)])
                    .with_precision_and_scale(38, 10)
                    .unwrap(),
            ),
        ),
    ])
    .unwrap();
    let (rejects, applied) = db.write(&t, Operation::Insert, &[], &batch).await;
    assert_eq!(applied.inserts, 1);
    assert_eq!(rejects.len(), 1);
    assert!(
        rejects[0].reason.contains("15 significant digits"),
        "{rejects:?}"
    );
    let got = db.rows(&format!("SELECT d FROM {}", db.q(&t))).await;
    assert_eq!(got, render(&batch.project(&[1]).unwrap().slice(1, 1)));
}
