//! The SQLite connector on real database files: checks, a round trip of edge values, rejects,
//! exact operation counts, rollback.

use super::*;
use crate::engine::db::{self, Applied, Operation, ReadSpec, SourceObject, StopSignal, WriteSpec};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Decimal128Array, Float64Array, Int64Array,
    StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{Decimal128Type, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;
use futures::StreamExt;
use std::sync::Arc;

fn endpoint(dir: &tempfile::TempDir) -> Endpoint {
    Endpoint {
        kind: DbKind::Sqlite,
        name: "lite".into(),
        url: dir.path().join("t.db").display().to_string(),
    }
}

fn table(name: &str) -> ObjectName {
    ObjectName::parse(name).unwrap()
}

async fn write(
    ep: &Endpoint,
    t: &str,
    op: Operation,
    keys: &[&str],
    batch: RecordBatch,
) -> (Vec<db::RowReject>, Applied) {
    let cols = db::describe_table(ep, &table(t)).await.unwrap().unwrap();
    let spec_cols = batch
        .schema()
        .fields()
        .iter()
        .map(|f| cols.iter().find(|c| c.name == *f.name()).unwrap().clone())
        .collect();
    let mut w = db::open_writer(
        ep,
        WriteSpec {
            table: table(t),
            operation: op,
            keys: keys.iter().map(|k| k.to_string()).collect(),
            truncate: false,
            columns: spec_cols,
        },
    )
    .await
    .unwrap();
    let rejects = w.write(&batch).await.unwrap();
    let applied = w.commit().await.unwrap();
    (rejects, applied)
}

async fn read_all(ep: &Endpoint, sql: &str) -> Vec<RecordBatch> {
    let spec = ReadSpec {
        object: SourceObject::Query(sql.into()),
        watermark: None,
        batch_size: 2,
    };
    let r = db::open_reader(ep, &spec, &StopSignal::default())
        .await
        .unwrap();
    r.batches.map(|b| b.unwrap()).collect().await
}

#[tokio::test]
async fn checks_say_what_answered_or_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint(&dir);
    let missing = db::check(&ep).await.unwrap_err().to_string();
    assert!(missing.contains("does not exist"), "{missing}");
    execute(&ep, "CREATE TABLE x (a INT)").await.unwrap();
    let ok = db::check(&ep).await.unwrap();
    assert!(ok.starts_with("SQLite 3."), "{ok}");
    assert_eq!(db::list_tables(&ep, None).await.unwrap(), vec![table("x")]);
}

#[tokio::test]
async fn edge_values_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint(&dir);
    execute(
        &ep,
        // SQLite would turn a 38-digit DECIMAL into a float: such values live in TEXT columns.
        "CREATE TABLE t (id INTEGER PRIMARY KEY, b BOOLEAN, i BIGINT, f REAL, d TEXT,
           m DECIMAL(12,2), s TEXT, ts DATETIME, bl BLOB, j JSON)",
    )
    .await
    .unwrap();
    let max38 = 10i128.pow(38) - 1;
    let batch = RecordBatch::try_from_iter(vec![
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
            "d",
            Arc::new(
                Decimal128Array::from(vec![Some(max38), Some(-max38), None])
                    .with_precision_and_scale(38, 10)
                    .unwrap(),
            ),
        ),
        (
            "m",
            Arc::new(
                Decimal128Array::from(vec![Some(-123456), Some(1), None])
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
            "bl",
            Arc::new(BinaryArray::from_opt_vec(vec![
                Some(b"\x00\xff"),
                Some(b""),
                None,
            ])),
        ),
        (
            "j",
            Arc::new(StringArray::from(vec![
                Some("{\"a\":[1]}"),
                Some("[]"),
                None,
            ])),
        ),
    ])
    .unwrap();
    let (rejects, applied) = write(&ep, "t", Operation::Insert, &[], batch).await;
    assert!(rejects.is_empty(), "{rejects:?}");
    assert_eq!(applied.inserts, 3);
    let got = read_all(&ep, "SELECT * FROM t ORDER BY id").await;
    let rows: usize = got.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 3);
    let b = &got[0];
    let col = |n: &str| b.column(b.schema().index_of(n).unwrap()).clone();
    assert_eq!(col("i").as_primitive::<Int64Type>().value(0), i64::MAX);
    assert_eq!(col("i").as_primitive::<Int64Type>().value(1), i64::MIN);
    let d = col("d");
    assert_eq!(
        d.as_string::<i32>().value(0),
        "9999999999999999999999999999.9999999999",
        "exact 38 digits"
    );
    assert_eq!(col("m").as_primitive::<Decimal128Type>().value(0), -123456);
    assert_eq!(col("s").as_string::<i32>().value(0), "Zoë ✓ 😀");
    assert!(col("b").as_boolean().value(0));
    assert_eq!(col("bl").as_binary::<i32>().value(0), b"\x00\xff");
    let ts = col("ts");
    assert_eq!(
        ts.as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>()
            .value(0),
        1_772_368_496_789_012
    );
    // The NULL row reads back as NULLs.
    let last = &got[1];
    assert!((1..last.num_columns()).all(|c| last.column(c).is_null(0)));
}

#[tokio::test]
async fn refused_rows_are_rejected_alone_and_operations_count_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint(&dir);
    execute(
        &ep,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)",
    )
    .await
    .unwrap();
    execute(&ep, "INSERT INTO t VALUES (1, 'one')")
        .await
        .unwrap();
    let batch = |ids: Vec<i64>, vs: Vec<Option<&str>>| {
        RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
            ("v", Arc::new(StringArray::from(vs)) as ArrayRef),
        ])
        .unwrap()
    };
    let (rejects, applied) = write(
        &ep,
        "t",
        Operation::Insert,
        &[],
        batch(
            vec![1, 2, 3, 4],
            vec![Some("dup"), Some("two"), None, Some("four")],
        ),
    )
    .await;
    assert_eq!(applied.inserts, 2);
    assert_eq!(rejects.len(), 2, "{rejects:?}");
    assert!(rejects[0].reason.contains("UNIQUE"), "{rejects:?}");
    assert!(rejects[1].reason.contains("NOT NULL"), "{rejects:?}");

    // Upsert: 1 changed, 2 unchanged, 5 new, 5 twice (the last wins).
    let (_, a) = write(
        &ep,
        "t",
        Operation::Upsert,
        &["id"],
        batch(
            vec![1, 2, 5, 5],
            vec![Some("uno"), Some("two"), Some("x"), Some("five")],
        ),
    )
    .await;
    assert_eq!((a.inserts, a.updates, a.skipped), (1, 1, 2), "{a:?}");
    let keys = RecordBatch::try_from_iter(vec![(
        "id",
        Arc::new(Int64Array::from(vec![4, 99])) as ArrayRef,
    )])
    .unwrap();
    let (_, a) = write(&ep, "t", Operation::Delete, &["id"], keys).await;
    assert_eq!((a.deletes, a.skipped), (1, 1), "{a:?}");
    let got = read_all(&ep, "SELECT id || ':' || v AS r FROM t ORDER BY id").await;
    let rows: Vec<String> = got
        .iter()
        .flat_map(|b| {
            let c = b.column(0).as_string::<i32>().clone();
            (0..c.len()).map(move |i| c.value(i).to_string())
        })
        .collect();
    assert_eq!(rows, vec!["1:uno", "2:two", "5:five"]);

    // A rolled-back writer leaves the file as it was.
    let cols = db::describe_table(&ep, &table("t")).await.unwrap().unwrap();
    let mut w = db::open_writer(
        &ep,
        WriteSpec {
            table: table("t"),
            operation: Operation::Insert,
            keys: vec![],
            truncate: true,
            columns: cols,
        },
    )
    .await
    .unwrap();
    w.write(&batch(vec![7], vec![Some("seven")])).await.unwrap();
    w.rollback().await.unwrap();
    let n: usize = read_all(&ep, "SELECT * FROM t")
        .await
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(n, 3);
}

#[tokio::test]
async fn decimals_sqlite_would_round_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint(&dir);
    execute(
        &ep,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, d DECIMAL(38,10))",
    )
    .await
    .unwrap();
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
    let (rejects, applied) = write(&ep, "t", Operation::Insert, &[], batch).await;
    assert_eq!(applied.inserts, 1);
    assert_eq!(rejects.len(), 1);
    assert!(
        rejects[0].reason.contains("15 significant digits"),
        "{rejects:?}"
    );
    let got = read_all(&ep, "SELECT d FROM t").await;
    assert_eq!(
        got[0].column(0).as_primitive::<Decimal128Type>().value(0),
        12_345_000_000_000
    );
}
