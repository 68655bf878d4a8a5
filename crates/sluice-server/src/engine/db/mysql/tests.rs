//! The MySQL/MariaDB connector against the machine's MariaDB (`SLUICE_TEST_MYSQL_URL`): checks,
//! a round trip of edge values, rejects from both Sluice's checks and the server, exact operation
//! counts, rollback. Without the service the tests skip, saying so; under `CI=true` they fail.

use super::*;
use crate::engine::db::{
    self, Applied, Operation, ReadSpec, RejectedRow, SourceObject, StopSignal, WriteSpec,
};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Decimal128Array, Int64Array, StringArray,
    TimestampMicrosecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::{Decimal128Type, Int64Type, UInt64Type};
use datafusion::arrow::record_batch::RecordBatch;
use futures::StreamExt;
use std::sync::Arc;

async fn endpoint() -> Option<Endpoint> {
    let url = std::env::var("SLUICE_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    let ep = Endpoint {
        kind: DbKind::Mysql,
        name: "my".into(),
        url: url.clone(),
    };
    match check(&ep).await {
        Ok(_) => Some(ep),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("MariaDB at {url} is required under CI: {e}")
        }
        Err(e) => {
            eprintln!("skipping: MariaDB not reachable at {url}: {e}");
            None
        }
    }
}

fn name(tag: &str) -> ObjectName {
    ObjectName::parse(&format!("sluice_t_{tag}_{}", std::process::id())).unwrap()
}

async fn write(
    ep: &Endpoint,
    t: &ObjectName,
    op: Operation,
    keys: &[&str],
    batch: RecordBatch,
) -> (Vec<db::RowReject>, Applied) {
    let cols = db::describe_table(ep, t).await.unwrap().unwrap();
    let spec_cols = batch
        .schema()
        .fields()
        .iter()
        .map(|f| cols.iter().find(|c| c.name == *f.name()).unwrap().clone())
        .collect();
    let mut w = db::open_writer(
        ep,
        WriteSpec {
            table: t.clone(),
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
        batch_size: 1000,
    };
    let r = db::open_reader(ep, &spec, &StopSignal::default())
        .await
        .unwrap();
    r.batches.map(|b| b.unwrap()).collect().await
}

#[tokio::test]
async fn checks_say_what_answered_or_why_not() {
    let Some(ep) = endpoint().await else { return };
    let ok = db::check(&ep).await.unwrap();
    assert!(ok.contains("database `"), "{ok}");
    let bad = Endpoint {
        url: ep.url.rsplit_once('/').unwrap().0.to_string() + "/no_such_db_sluice",
        ..ep.clone()
    };
    let e = db::check(&bad).await.unwrap_err().to_string();
    assert!(e.contains("Unknown database"), "{e}");
}

#[tokio::test]
async fn edge_values_round_trip() {
    let Some(ep) = endpoint().await else { return };
    let t = name("edge");
    let q = DIALECT.table(&t);
    execute(&ep, &format!("DROP TABLE IF EXISTS {q}"))
        .await
        .unwrap();
    execute(
        &ep,
        &format!(
            "CREATE TABLE {q} (id BIGINT PRIMARY KEY, b BOOLEAN, u BIGINT UNSIGNED, d DECIMAL(38,10),
               m DECIMAL(12,2), s VARCHAR(20) CHARACTER SET utf8mb4, ts DATETIME(6), bl VARBINARY(10))"
        ),
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
    ])
    .unwrap();
    let (rejects, applied) = write(&ep, &t, Operation::Insert, &[], batch).await;
    assert!(rejects.is_empty(), "{rejects:?}");
    assert_eq!(applied.inserts, 3);
    let got = read_all(&ep, &format!("SELECT * FROM {q} ORDER BY id")).await;
    let b = &got[0];
    assert_eq!(b.num_rows(), 3);
    let col = |n: &str| b.column(b.schema().index_of(n).unwrap()).clone();
    assert_eq!(col("u").as_primitive::<UInt64Type>().value(0), u64::MAX);
    assert_eq!(
        col("d").as_primitive::<Decimal128Type>().value(0),
        max38,
        "exact 38 digits"
    );
    assert_eq!(col("d").as_primitive::<Decimal128Type>().value(1), -max38);
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
    assert!(
        (1..b.num_columns()).all(|c| b.column(c).is_null(2)),
        "NULLs stay NULL"
    );
    execute(&ep, &format!("DROP TABLE {q}")).await.unwrap();
}

#[tokio::test]
async fn refused_rows_are_rejected_alone_and_operations_count_exactly() {
    let Some(ep) = endpoint().await else { return };
    let t = name("ops");
    let q = DIALECT.table(&t);
    execute(&ep, &format!("DROP TABLE IF EXISTS {q}"))
        .await
        .unwrap();
    execute(
        &ep,
        &format!("CREATE TABLE {q} (id INT PRIMARY KEY, v VARCHAR(5) NOT NULL, n TINYINT, mb3 VARCHAR(10) CHARACTER SET utf8mb3)"),
    )
    .await
    .unwrap();
    execute(&ep, &format!("INSERT INTO {q} VALUES (1, 'one', 1, 'a')"))
        .await
        .unwrap();
    let batch =
        |ids: Vec<i64>, vs: Vec<Option<&str>>, ns: Vec<Option<i64>>, mb: Vec<Option<&str>>| {
            RecordBatch::try_from_iter(vec![
                ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
                ("v", Arc::new(StringArray::from(vs)) as ArrayRef),
                ("n", Arc::new(Int64Array::from(ns)) as ArrayRef),
                ("mb3", Arc::new(StringArray::from(mb)) as ArrayRef),
            ])
            .unwrap()
        };
    // 1: duplicate key (the server refuses it); 3: too long; 4: NULL; 5: TINYINT overflow;
    // 6: an emoji a utf8mb3 column cannot hold; 2 and 7 are fine.
    let (rejects, applied) = write(
        &ep,
        &t,
        Operation::Insert,
        &[],
        batch(
            vec![1, 2, 3, 4, 5, 6, 7],
            vec![
                Some("dup"),
                Some("two"),
                Some("toolong"),
                None,
                Some("five"),
                Some("six"),
                Some("seven"),
            ],
            vec![
                Some(1),
                Some(2),
                Some(3),
                Some(4),
                Some(300),
                Some(6),
                Some(7),
            ],
            vec![
                Some("x"),
                Some("y"),
                Some("z"),
                Some("w"),
                Some("v"),
                Some("😀"),
                Some("ok"),
            ],
        ),
    )
    .await;
    assert_eq!(applied.inserts, 2, "{rejects:?}");
    let reasons: Vec<(String, &str)> = rejects
        .iter()
        .map(|r| (format!("{:?}", r.row), r.reason.as_str()))
        .collect();
    assert_eq!(rejects.len(), 5, "{reasons:?}");
    assert!(
        rejects
            .iter()
            .any(|r| r.row == RejectedRow::Index(0) && r.reason.contains("Duplicate entry")),
        "{reasons:?}"
    );
    assert!(
        rejects
            .iter()
            .any(|r| r.row == RejectedRow::Index(2) && r.reason.contains("longer than 5")),
        "{reasons:?}"
    );
    assert!(
        rejects
            .iter()
            .any(|r| r.row == RejectedRow::Index(3) && r.reason.contains("NOT NULL")),
        "{reasons:?}"
    );
    assert!(
        rejects
            .iter()
            .any(|r| r.row == RejectedRow::Index(4) && r.reason.contains("out of range")),
        "{reasons:?}"
    );
    assert!(
        rejects
            .iter()
            .any(|r| r.row == RejectedRow::Index(5) && r.reason.contains("utf8mb3")),
        "{reasons:?}"
    );
    // Row 7: "seven" is 5 characters: fine.

    // Upsert: 1 changed, 2 unchanged, 5 new, 5 twice (the last wins).
    let (_, a) = write(
        &ep,
        &t,
        Operation::Upsert,
        &["id"],
        batch(
            vec![1, 2, 5, 5],
            vec![Some("uno"), Some("two"), Some("x"), Some("five")],
            vec![Some(1), Some(2), Some(5), Some(5)],
            vec![Some("a"), Some("y"), Some("q"), Some("q")],
        ),
    )
    .await;
    assert_eq!((a.inserts, a.updates, a.skipped), (1, 1, 2), "{a:?}");
    let keys = RecordBatch::try_from_iter(vec![(
        "id",
        Arc::new(Int64Array::from(vec![2, 99])) as ArrayRef,
    )])
    .unwrap();
    let (_, a) = write(&ep, &t, Operation::Delete, &["id"], keys).await;
    assert_eq!((a.deletes, a.skipped), (1, 1), "{a:?}");
    let got = read_all(
        &ep,
        &format!("SELECT CAST(id AS SIGNED) AS id, v FROM {q} ORDER BY id"),
    )
    .await;
    let ids: Vec<i64> = got[0]
        .column(0)
        .as_primitive::<Int64Type>()
        .values()
        .iter()
        .copied()
        .collect();
    assert_eq!(ids, vec![1, 5, 7]);

    // A rolled-back writer leaves the table as it was.
    let cols = db::describe_table(&ep, &t).await.unwrap().unwrap();
    let mut w = db::open_writer(
        &ep,
        WriteSpec {
            table: t.clone(),
            operation: Operation::Insert,
            keys: vec![],
            truncate: true,
            columns: cols,
        },
    )
    .await
    .unwrap();
    w.write(&batch(
        vec![70],
        vec![Some("s")],
        vec![Some(1)],
        vec![Some("a")],
    ))
    .await
    .unwrap();
    w.rollback().await.unwrap();
    let n: usize = read_all(&ep, &format!("SELECT * FROM {q}"))
        .await
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(n, 3);
    execute(&ep, &format!("DROP TABLE {q}")).await.unwrap();
}
