//! Checks of the transactional writer: refused rows rejected alone, exact counts for every
//! operation (with and without a unique index on the keys), batch commits, and a target left as it
//! was by a failed apply or a rollback.

use super::{TestDb, rejected};
use crate::engine::db::{ObjectName, Operation};
use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use std::sync::Arc;

/// Rows of `(id, v)`.
fn rows(ids: &[i64], vs: &[Option<&str>]) -> RecordBatch {
    RecordBatch::try_from_iter(vec![
        ("id", Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef),
        ("v", Arc::new(StringArray::from(vs.to_vec())) as ArrayRef),
    ])
    .unwrap()
}

/// Keys alone.
fn ids(ids: &[i64]) -> RecordBatch {
    RecordBatch::try_from_iter(vec![(
        "id",
        Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef,
    )])
    .unwrap()
}

/// A table of `(id, v)` holding `rows`.
async fn table_with(db: &TestDb, tag: &str, columns: &str, rows: &[(i64, &str)]) -> ObjectName {
    let t = db.fresh(tag, columns).await;
    for (id, v) in rows {
        db.exec(&format!("INSERT INTO {} VALUES ({id}, '{v}')", db.q(&t)))
            .await;
    }
    t
}

async fn contents(db: &TestDb, t: &ObjectName) -> Vec<String> {
    db.rows(&format!("SELECT id, v FROM {}", db.q(t))).await
}

pub(super) async fn refused_rows_are_rejected_alone(db: &TestDb) {
    let t = table_with(
        db,
        "rejects",
        "id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL",
        &[(1, "one")],
    )
    .await;
    // 1 repeats a key the table holds (the database refuses it); 3 is NULL where the column is
    // NOT NULL (Sluice refuses it before sending); 2 and 4 are fine.
    let batch = rows(
        &[1, 2, 3, 4],
        &[Some("dup"), Some("two"), None, Some("four")],
    );
    let (rejects, applied) = db.write(&t, Operation::Insert, &[], &batch).await;
    assert_eq!(applied.inserts, 2, "{rejects:?}");
    let got = rejected(&rejects, &batch);
    assert_eq!(
        got.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        vec![1, 3],
        "{got:?}"
    );
    assert!(got[0].1.contains(db.duplicate_says), "{got:?}");
    assert!(got[1].1.contains("NOT NULL"), "{got:?}");
    assert_eq!(contents(db, &t).await, ["1|one", "2|two", "4|four"]);
    db.drop_table(&t).await;
}

pub(super) async fn operations_count_exactly(db: &TestDb) {
    let t = table_with(
        db,
        "ops",
        "id BIGINT PRIMARY KEY, v VARCHAR(20)",
        &[(1, "one"), (2, "two")],
    )
    .await;
    // 1 changed, 2 unchanged, 5 new and twice (the last row wins; the first is skipped).
    let batch = rows(
        &[1, 2, 5, 5],
        &[Some("uno"), Some("two"), Some("x"), Some("five")],
    );
    let (_, a) = db.write(&t, Operation::Upsert, &["id"], &batch).await;
    assert_eq!((a.inserts, a.updates, a.skipped), (1, 1, 2), "upsert {a:?}");
    // 1 changed, 5 unchanged, 42 missing.
    let batch = rows(&[1, 5, 42], &[Some("eins"), Some("five"), Some("x")]);
    let (_, a) = db.write(&t, Operation::Update, &["id"], &batch).await;
    assert_eq!((a.inserts, a.updates, a.skipped), (0, 1, 2), "update {a:?}");
    // 2 twice, 99 missing.
    let (_, a) = db
        .write(&t, Operation::Delete, &["id"], &ids(&[2, 2, 99]))
        .await;
    assert_eq!((a.deletes, a.skipped), (1, 2), "delete {a:?}");
    assert_eq!(contents(db, &t).await, ["1|eins", "5|five"]);
    db.drop_table(&t).await;
}

/// Update, upsert and delete match keys through the staging table, not an index; an upsert of keys
/// alone inserts the missing ones and changes nothing else.
pub(super) async fn staged_operations_need_no_unique_index(db: &TestDb) {
    let t = table_with(
        db,
        "noindex",
        "id BIGINT, v VARCHAR(20)",
        &[(1, "one"), (2, "two")],
    )
    .await;
    let batch = rows(
        &[1, 2, 3, 3],
        &[Some("z"), Some("two"), Some("c"), Some("d")],
    );
    let (_, a) = db.write(&t, Operation::Upsert, &["id"], &batch).await;
    assert_eq!((a.inserts, a.updates, a.skipped), (1, 1, 2), "upsert {a:?}");
    let (_, a) = db
        .write(&t, Operation::Upsert, &["id"], &ids(&[1, 7]))
        .await;
    assert_eq!((a.inserts, a.updates, a.skipped), (1, 0, 1), "keys {a:?}");
    let (_, a) = db.write(&t, Operation::Delete, &["id"], &ids(&[2])).await;
    assert_eq!((a.deletes, a.skipped), (1, 0), "delete {a:?}");
    assert_eq!(contents(db, &t).await, ["1|z", "3|d", "7|NULL"]);
    db.drop_table(&t).await;
}

/// A task that commits every N rows commits one writer many times: each commit reports, and
/// applies, only what was written since the one before.
pub(super) async fn each_commit_applies_what_was_written_since_the_last(db: &TestDb) {
    let t = db
        .fresh("commits", "id BIGINT PRIMARY KEY, v VARCHAR(20)")
        .await;
    let mut w = db
        .writer(&t, Operation::Upsert, &["id"], false, &["id", "v"])
        .await;
    w.write(&rows(&[1, 2], &[Some("a"), Some("b")]))
        .await
        .unwrap();
    let a = w.commit().await.unwrap();
    assert_eq!((a.inserts, a.updates, a.skipped), (2, 0, 0), "first {a:?}");
    // Not a change of case alone: MySQL compares text under the column's collation, where `b`
    // and `B` are often equal (the row would count as unchanged).
    w.write(&rows(&[2, 3], &[Some("bee"), Some("c")]))
        .await
        .unwrap();
    let a = w.commit().await.unwrap();
    assert_eq!((a.inserts, a.updates, a.skipped), (1, 1, 0), "second {a:?}");
    let a = w.commit().await.unwrap();
    assert_eq!((a.inserts, a.updates, a.skipped), (0, 0, 0), "empty {a:?}");
    drop(w);
    let mut w = db
        .writer(&t, Operation::Insert, &[], false, &["id", "v"])
        .await;
    w.write(&rows(&[4], &[Some("d")])).await.unwrap();
    assert_eq!(w.commit().await.unwrap().inserts, 1);
    w.write(&rows(&[5], &[Some("e")])).await.unwrap();
    assert_eq!(w.commit().await.unwrap().inserts, 1);
    drop(w);
    assert_eq!(
        contents(db, &t).await,
        ["1|a", "2|bee", "3|c", "4|d", "5|e"]
    );
    db.drop_table(&t).await;
}

/// An apply the database refuses halfway (the update done, then an insert breaks a unique
/// column) fails the commit, and the rollback takes back the update too.
pub(super) async fn a_failed_apply_leaves_the_table_as_it_was(db: &TestDb) {
    let t = table_with(
        db,
        "failed",
        "id BIGINT PRIMARY KEY, v VARCHAR(20) UNIQUE",
        &[(1, "a"), (2, "b")],
    )
    .await;
    let mut w = db
        .writer(&t, Operation::Upsert, &["id"], false, &["id", "v"])
        .await;
    w.write(&rows(&[1, 3], &[Some("z"), Some("b")]))
        .await
        .unwrap();
    let e = w.commit().await.unwrap_err().to_string();
    assert!(e.contains(db.duplicate_says), "{e}");
    w.rollback().await.unwrap();
    assert_eq!(contents(db, &t).await, ["1|a", "2|b"]);
    db.drop_table(&t).await;
}

pub(super) async fn a_rolled_back_writer_leaves_the_table_as_it_was(db: &TestDb) {
    let t = table_with(
        db,
        "rollback",
        "id BIGINT PRIMARY KEY, v VARCHAR(20)",
        &[(1, "one"), (2, "two")],
    )
    .await;
    for (op, keys) in [
        (Operation::Insert, &[][..]),
        (Operation::Upsert, &["id"][..]),
    ] {
        let mut w = db.writer(&t, op, keys, true, &["id", "v"]).await;
        w.write(&rows(&[2, 7], &[Some("x"), Some("seven")]))
            .await
            .unwrap();
        w.rollback().await.unwrap();
        assert_eq!(contents(db, &t).await, ["1|one", "2|two"], "{op}");
    }
    db.drop_table(&t).await;
}
