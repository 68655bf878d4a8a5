//! What only MySQL/MariaDB shows, against the machine's MariaDB (`SLUICE_TEST_MYSQL_URL`): unsigned
//! and 38-digit values, the limits of its column types (a VARCHAR length, a TINYINT range, a
//! utf8mb3 column), and a duplicate key the server refuses inside a multi-row INSERT isolated row
//! by row. What every connector does is checked by the conformance suite (`db::conformance`),
//! which also says how a missing service skips or fails.

use crate::engine::db::Operation;
use crate::engine::db::conformance::{TestDb, rejected, render};
use datafusion::arrow::array::{ArrayRef, Decimal128Array, Int64Array, StringArray, UInt64Array};
use datafusion::arrow::record_batch::RecordBatch;
use std::sync::Arc;

#[tokio::test]
async fn unsigned_and_38_digit_values_round_trip() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let t = db
        .fresh(
            "wide",
            "id BIGINT PRIMARY KEY, u BIGINT UNSIGNED, d DECIMAL(38,10)",
        )
        .await;
    let max38 = 10i128.pow(38) - 1;
    let batch = RecordBatch::try_from_iter(vec![
        ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
        (
            "u",
            Arc::new(UInt64Array::from(vec![Some(u64::MAX), Some(0), None])),
        ),
        (
            "d",
            Arc::new(
                Decimal128Array::from(vec![Some(max38), Some(-max38), None])
                    .with_precision_and_scale(38, 10)
                    .unwrap(),
            ),
        ),
    ])
    .unwrap();
    let (rejects, applied) = db.write(&t, Operation::Insert, &[], &batch).await;
    assert!(rejects.is_empty(), "{rejects:?}");
    assert_eq!(applied.inserts, 3);
    let got = db
        .rows(&format!("SELECT * FROM {} ORDER BY id", db.q(&t)))
        .await;
    assert_eq!(got, render(&batch), "u64::MAX and 38 exact digits");
    db.drop_table(&t).await;
}

#[tokio::test]
async fn column_limits_and_server_refusals_are_rejected_row_by_row() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let t = db
        .fresh(
            "refusals",
            "id INT PRIMARY KEY, v VARCHAR(5) NOT NULL, n TINYINT, mb3 VARCHAR(10) CHARACTER SET utf8mb3",
        )
        .await;
    db.exec(&format!(
        "INSERT INTO {} VALUES (1, 'one', 1, 'a')",
        db.q(&t)
    ))
    .await;
    // 1: duplicate key (the server refuses it inside a multi-row INSERT); 3: too long; 5: TINYINT
    // overflow; 6: an emoji a utf8mb3 column cannot hold; 2, 4 and 7 are fine ("seven" is 5
    // characters).
    let batch = RecordBatch::try_from_iter(vec![
        (
            "id",
            Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5, 6, 7])) as ArrayRef,
        ),
        (
            "v",
            Arc::new(StringArray::from(vec![
                "dup", "two", "toolong", "four", "five", "six", "seven",
            ])) as ArrayRef,
        ),
        (
            "n",
            Arc::new(Int64Array::from(vec![1, 2, 3, 4, 300, 6, 7])) as ArrayRef,
        ),
        (
            "mb3",
            Arc::new(StringArray::from(vec!["x", "y", "z", "w", "v", "😀", "ok"])) as ArrayRef,
        ),
    ])
    .unwrap();
    let (rejects, applied) = db.write(&t, Operation::Insert, &[], &batch).await;
    assert_eq!(applied.inserts, 3, "{rejects:?}");
    let got = rejected(&rejects, &batch);
    let ids: Vec<i64> = got.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, vec![1, 3, 5, 6], "{got:?}");
    for (i, says) in [
        "Duplicate entry",
        "longer than 5",
        "out of range",
        "utf8mb3",
    ]
    .iter()
    .enumerate()
    {
        assert!(got[i].1.contains(says), "{got:?}");
    }
    db.drop_table(&t).await;
}
