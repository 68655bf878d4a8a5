//! Checks of what a connector says about a database: whether it answers, and its tables, keys and
//! columns.

use super::TestDb;
use crate::engine::db::{self, DbKind, Endpoint};

/// A database that does not exist: another file beside SQLite's, another name on the servers.
fn missing(db: &TestDb) -> Endpoint {
    let url = match db.ep.kind {
        DbKind::Sqlite => db.ep.url.replace("t.db", "missing.db"),
        _ => db.ep.url.rsplit_once('/').unwrap().0.to_string() + "/no_such_db_sluice",
    };
    Endpoint {
        url,
        ..db.ep.clone()
    }
}

pub(super) async fn checks_say_what_answered_or_why_not(db: &TestDb) {
    // SQLite's file exists once a table is in it.
    let t = db.fresh("check", "a BIGINT").await;
    let ok = db::check(&db.ep).await.unwrap();
    assert!(
        ["PostgreSQL ", "MySQL ", "MariaDB ", "SQLite "]
            .iter()
            .any(|p| ok.starts_with(p))
            && ok.contains(|c: char| c.is_ascii_digit()),
        "the product and its version: {ok}"
    );
    let e = db::check(&missing(db)).await.unwrap_err().to_string();
    assert!(e.contains(db.missing_says), "{e}");
    db.drop_table(&t).await;
}

pub(super) async fn tables_keys_and_columns_are_described(db: &TestDb) {
    let t = db
        .fresh(
            "catalog",
            "b BIGINT NOT NULL, a VARCHAR(20) NOT NULL, note VARCHAR(20), PRIMARY KEY (a, b)",
        )
        .await;
    let tables = db::list_tables(&db.ep, None).await.unwrap();
    assert!(tables.contains(&t), "{t} among {tables:?}");
    assert_eq!(
        db::primary_key(&db.ep, &t).await.unwrap(),
        vec!["a", "b"],
        "in key order"
    );
    let cols = db::describe_table(&db.ep, &t).await.unwrap().unwrap();
    let got: Vec<(&str, bool)> = cols.iter().map(|c| (c.name.as_str(), c.nullable)).collect();
    assert_eq!(got, vec![("b", false), ("a", false), ("note", true)]);
    let none = db::describe_table(&db.ep, &db.name("no_such_table")).await;
    assert!(none.unwrap().is_none(), "a missing table is None");
    db.drop_table(&t).await;
}
