//! Synchronization tasks (DSS) against the real PostgreSQL: every operation with exact counts,
//! key collisions, rejects and thresholds, row ranges, and the target left as it was by a failed
//! or stopped load. Each table is checked by an independent query.

use super::support::*;
use serde_json::{Value, json};
use sluice_types::RunView;
use tokio_postgres::Client;

/// A server whose definitions are the test PostgreSQL connection plus `tasks` (name, TOML).
async fn spawn(tasks: &[(&str, String)]) -> (TestApp, tempfile::TempDir) {
    let mut files: Vec<(String, String)> =
        vec![("connections/pg.toml".into(), pg_connection_file())];
    for (name, body) in tasks {
        files.push((format!("sync/{name}.toml"), body.clone()));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let defs = defs_dir(&refs);
    (TestApp::spawn_with(defs.path(), None, &[]).await, defs)
}

async fn count(pg: &Client, table: &str) -> i64 {
    pg.query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

fn counters(run: &RunView) -> (u64, u64, u64, u64, u64) {
    let c = &run.counters;
    (
        c.inserts,
        c.updates,
        c.deletes,
        c.skipped,
        c.target_rows_failed,
    )
}

/// The run's rejected rows, through the API (whichever node ran it, they are in the store).
async fn rejects(app: &TestApp, run: &RunView) -> Vec<Value> {
    let text = app
        .get(&format!("/api/v1/runs/{}/rejects", run.id))
        .expect_text(200)
        .await;
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn csv_into_postgres_loads_every_row_and_rejects_only_key_collisions() {
    let Some(pg) = pg().await else { return };
    let t = table_name("csv_insert");
    pg.batch_execute(&format!(
        "DROP TABLE IF EXISTS {t};
         CREATE TABLE {t} (order_id bigint PRIMARY KEY, customer_id bigint, customer_name varchar(40),
           email text, country char(2), status text, amount numeric(12,2), quantity int,
           ordered_at timestamp, note text);
         INSERT INTO {t} (order_id, country) VALUES (1, 'XX'), (2, 'XX'), (3, 'XX');"
    ))
    .await
    .unwrap();
    let csv = examples_dir().join("data/orders.csv");
    let task = format!(
        "type = \"DSS\"\n[source]\nformat = \"csv\"\npath = \"{}\"\n[target]\nconnection = \"pg\"\ntable = \"{t}\"\n",
        csv.display()
    );
    let (app, _defs) = spawn(&[("load", task)]).await;
    let run = app.start_run("sync/load", &[]).await;
    let run = app.wait_end(&run, 120).await;
    assert_eq!(run.state, "completed_with_errors", "{run:?}");
    let (ins, upd, del, _, failed) = counters(&run);
    assert_eq!((ins, upd, del, failed), (1997, 0, 0, 3), "{run:?}");
    assert_eq!(run.counters.source_rows_read, 2000);
    let rej = rejects(&app, &run).await;
    assert_eq!(rej.len(), 3);
    for r in &rej {
        assert!(
            r["reason"].as_str().unwrap().contains("duplicate key"),
            "{r}"
        );
        assert!(r["row"]["order_id"].as_i64().unwrap() <= 3, "{r}");
    }

    // Row by row against the file.
    let rows = pg
        .query(
            &format!(
                "SELECT order_id, customer_name, amount::text, quantity, \
                 to_char(ordered_at, 'YYYY-MM-DD HH24:MI:SS'), coalesce(note, '') \
                 FROM {t} WHERE order_id > 3 ORDER BY order_id"
            ),
            &[],
        )
        .await
        .unwrap();
    let mut rdr = csv::Reader::from_path(&csv).unwrap();
    let expected: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).skip(3).collect();
    assert_eq!(rows.len(), expected.len());
    for (row, rec) in rows.iter().zip(&expected) {
        assert_eq!(row.get::<_, i64>(0).to_string(), &rec[0]);
        assert_eq!(row.get::<_, String>(1), &rec[2]);
        let amount: f64 = rec[6].parse().unwrap();
        assert_eq!(row.get::<_, String>(2), format!("{amount:.2}"));
        assert_eq!(row.get::<_, i32>(3).to_string(), &rec[7]);
        assert_eq!(row.get::<_, String>(4), &rec[8]);
        assert_eq!(row.get::<_, String>(5), &rec[9]);
    }
    let kept: String = pg
        .query_one(
            &format!("SELECT string_agg(country, ',') FROM {t} WHERE order_id <= 3"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        kept, "XX,XX,XX",
        "existing rows are not overwritten by an insert"
    );
    pg.batch_execute(&format!("DROP TABLE {t}")).await.unwrap();
}

#[tokio::test]
async fn upsert_update_delete_and_truncate_count_exactly() {
    let Some(pg) = pg().await else { return };
    let (src, dst) = (table_name("ops_src"), table_name("ops_dst"));
    pg.batch_execute(&format!(
        "DROP TABLE IF EXISTS {src}, {dst};
         CREATE TABLE {dst} (id int PRIMARY KEY, v int, name text);
         INSERT INTO {dst} SELECT i, i, 'n' || i FROM generate_series(1, 100) i;
         CREATE TABLE {src} (id int, v int, name text);
         -- 51..75 changed, 76..100 identical, 101..150 new; id 7 twice (the last wins).
         INSERT INTO {src} SELECT i, CASE WHEN i <= 75 THEN i * 10 ELSE i END, 'n' || i
           FROM generate_series(51, 150) i;
         INSERT INTO {src} VALUES (7, 70, 'first'), (7, 77, 'last');"
    ))
    .await
    .unwrap();
    let task = |op: &str, query: &str, extra: &str| {
        format!(
            "type = \"DSS\"\n[source]\nconnection = \"pg\"\nquery = \"{query}\"\n[target]\nconnection = \"pg\"\ntable = \"{dst}\"\noperation = \"{op}\"\nkeys = [\"id\"]\n{extra}"
        )
    };
    let all = format!("SELECT * FROM {src}");
    let (app, _defs) = spawn(&[
        ("upsert", task("upsert", &all, "")),
        ("update", task("update", &format!("SELECT id, v + 1 AS v FROM {src} WHERE id BETWEEN 140 AND 150 UNION ALL SELECT 900, 1"), "")),
        ("delete", task("delete", &format!("SELECT id FROM {dst} WHERE id <= 10 UNION ALL SELECT 1000"), "")),
        ("reload", task("insert", &format!("SELECT * FROM {src} WHERE id <> 7"), "truncate = true")),
    ])
    .await;

    let run = app
        .wait_end(&app.start_run("sync/upsert", &[]).await, 60)
        .await;
    assert_eq!(run.state, "completed", "{run:?}");
    // 50 new; 25 changed + id 7 (changed by its last row); 25 identical and 1 superseded skipped.
    assert_eq!(counters(&run), (50, 26, 0, 26, 0), "{run:?}");
    assert_eq!(count(&pg, &dst).await, 150);
    let changed: i64 = pg
        .query_one(
            &format!("SELECT count(*) FROM {dst} WHERE id BETWEEN 51 AND 75 AND v = id * 10"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(changed, 25);
    let seven: String = pg
        .query_one(
            &format!("SELECT name || ':' || v FROM {dst} WHERE id = 7"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(seven, "last:77");

    let run = app
        .wait_end(&app.start_run("sync/update", &[]).await, 60)
        .await;
    assert_eq!(run.state, "completed", "{run:?}");
    assert_eq!(counters(&run), (0, 11, 0, 1, 0), "{run:?}");
    assert_eq!(count(&pg, &dst).await, 150, "an update inserts nothing");

    let run = app
        .wait_end(&app.start_run("sync/delete", &[]).await, 60)
        .await;
    assert_eq!(counters(&run), (0, 0, 10, 1, 0), "{run:?}");
    assert_eq!(count(&pg, &dst).await, 140);

    let run = app
        .wait_end(&app.start_run("sync/reload", &[]).await, 60)
        .await;
    assert_eq!(run.state, "completed", "{run:?}");
    assert_eq!(counters(&run).0, 100);
    let same: i64 = pg
        .query_one(
            &format!("SELECT count(*) FROM ((SELECT * FROM {dst} EXCEPT SELECT * FROM {src} WHERE id <> 7) UNION ALL (SELECT * FROM {src} WHERE id <> 7 EXCEPT SELECT * FROM {dst})) d"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(same, 0, "truncate-then-load leaves exactly the source");
    pg.batch_execute(&format!("DROP TABLE {src}, {dst}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn rejected_rows_are_reported_and_the_threshold_fails_the_run_untouched() {
    let Some(pg) = pg().await else { return };
    let t = table_name("rejects");
    pg.batch_execute(&format!(
        "DROP TABLE IF EXISTS {t};
         CREATE TABLE {t} (id int PRIMARY KEY, code varchar(5) NOT NULL, small smallint, price numeric(6,2));
         INSERT INTO {t} VALUES (0, 'zero', 0, 0);"
    ))
    .await
    .unwrap();
    // Rows 1-6: good; 7: code too long; 8: NULL code; 9: smallint overflow; 10: price precision;
    // 11: price scale; 12: duplicate key of an existing row.
    let q = "SELECT * FROM (VALUES (1,'a',1,'1.5'),(2,'b',2,'2'),(3,'c',3,'3'),(4,'d',4,'4'),(5,'e',5,'5'),(6,'Ångst',6,'6.25'),(7,'toolong',7,'7'),(8,NULL,8,'8'),(9,'i',99999,'9'),(10,'j',10,'12345.6'),(11,'k',11,'1.234'),(0,'dup',0,'0')) v(id, code, small, price)";
    let task = |extra: &str| {
        format!(
            "type = \"DSS\"\n[source]\nconnection = \"pg\"\nquery = \"{q}\"\n[target]\nconnection = \"pg\"\ntable = \"{t}\"\n{extra}"
        )
    };
    let (app, _defs) = spawn(&[
        ("lenient", task("")),
        ("strict", task("[options]\nerror_threshold = 3")),
    ])
    .await;
    let run = app
        .wait_end(&app.start_run("sync/strict", &[]).await, 60)
        .await;
    assert_eq!(run.state, "failed", "{run:?}");
    assert!(
        run.error
            .as_deref()
            .unwrap_or_default()
            .contains("threshold")
            || !app.log(&run, "error").await.is_empty(),
        "{run:?}"
    );
    assert_eq!(
        count(&pg, &t).await,
        1,
        "a failed load leaves the table as it was"
    );
    assert_eq!(run.counters.target_rows_written, 0, "{run:?}");

    let run = app
        .wait_end(&app.start_run("sync/lenient", &[]).await, 60)
        .await;
    assert_eq!(run.state, "completed_with_errors", "{run:?}");
    let (ins, _, _, _, failed) = counters(&run);
    assert_eq!((ins, failed), (6, 6), "{run:?}");
    assert_eq!(count(&pg, &t).await, 7);
    let rej = rejects(&app, &run).await;
    let reason = |id: i64| {
        rej.iter()
            .find(|r| r["row"]["id"] == id)
            .unwrap_or_else(|| panic!("row {id} rejected: {rej:?}"))["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(reason(7).contains("longer than 5"), "{}", reason(7));
    assert!(reason(8).contains("NOT NULL"), "{}", reason(8));
    assert!(reason(9).contains("out of range"), "{}", reason(9));
    assert!(reason(10).contains("precision"), "{}", reason(10));
    assert!(
        reason(11).contains("digits after the point"),
        "{}",
        reason(11)
    );
    assert!(reason(0).contains("duplicate key"), "{}", reason(0));
    pg.batch_execute(&format!("DROP TABLE {t}")).await.unwrap();
}

#[tokio::test]
async fn a_row_range_loads_exactly_those_rows() {
    let Some(pg) = pg().await else { return };
    let t = table_name("range");
    pg.batch_execute(&format!("DROP TABLE IF EXISTS {t}"))
        .await
        .unwrap();
    let task = format!(
        "type = \"DSS\"\n[source]\nformat = \"csv\"\npath = \"{}\"\n[target]\nconnection = \"pg\"\ntable = \"{t}\"\ncreate = true\nkeys = [\"order_id\"]\n[options]\nfirst_row = 11\nlast_row = 20\n",
        examples_dir().join("data/orders.csv").display()
    );
    let (app, _defs) = spawn(&[("range", task)]).await;
    let run = app
        .wait_end(&app.start_run("sync/range", &[]).await, 60)
        .await;
    assert_eq!(run.state, "completed", "{run:?}");
    let ids: Vec<i64> = pg
        .query(&format!("SELECT order_id FROM {t} ORDER BY 1"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, (11..=20).collect::<Vec<i64>>());
    pg.batch_execute(&format!("DROP TABLE {t}")).await.unwrap();
}

#[tokio::test]
async fn connection_checks_say_why_they_fail() {
    if pg().await.is_none() {
        return;
    }
    let bad_db = "kind = \"connection\"\ntype = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:5432/no_such_db_sluice\"\n";
    let refused = "kind = \"connection\"\ntype = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:1/test\"\n";
    let defs = defs_dir(&[
        ("connections/pg.toml", &pg_connection_file()),
        ("connections/bad_db.toml", bad_db),
        ("connections/refused.toml", refused),
    ]);
    let app = TestApp::spawn_with(defs.path(), None, &[]).await;
    let ok = app.connections().check("pg").expect(200).await;
    assert!(ok.ok, "{ok:?}");
    assert!(ok.message.contains("PostgreSQL"), "{ok:?}");
    let bad = app.connections().check("bad_db").expect(200).await;
    assert!(!bad.ok);
    assert!(bad.message.contains("does not exist"), "{bad:?}");
    let refused = app.connections().check("refused").expect(200).await;
    assert!(!refused.ok);
    assert!(
        refused.message.to_lowercase().contains("refused"),
        "{refused:?}"
    );
    app.connections().check("nope").expect_status(404).await;
}

#[tokio::test]
async fn a_mapping_joins_a_file_with_a_database_table() {
    let Some(pg) = pg().await else { return };
    let t = table_name("regions");
    pg.batch_execute(&format!(
        "DROP TABLE IF EXISTS {t};
         CREATE TABLE {t} (code text PRIMARY KEY, region text);
         INSERT INTO {t} VALUES ('US', 'Americas'), ('BR', 'Americas'), ('CA', 'Americas'),
           ('DE', 'Europe'), ('FR', 'Europe'), ('GB', 'Europe');"
    ))
    .await
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("by_region.csv");
    let task = format!(
        r#"type = "MTT"
[[sources]]
name = "orders"
format = "csv"
path = "{csv}"
[[tables]]
name = "regions"
connection = "pg"
table = "{t}"
filter = "region <> 'Nowhere'"
[transform]
sql = "SELECT r.region, COUNT(*) AS orders FROM orders o JOIN regions r ON o.country = r.code GROUP BY r.region ORDER BY r.region"
[target]
format = "csv"
path = "{target}"
"#,
        csv = examples_dir().join("data/orders.csv").display(),
        target = target.display()
    );
    let (app, _defs) = spawn(&[("by_region", task)]).await;
    let run = app
        .wait_end(&app.start_run("sync/by_region", &[]).await, 60)
        .await;
    assert_eq!(run.state, "completed", "{run:?}");
    let mut expected = std::collections::BTreeMap::<&str, i64>::new();
    let mut rdr = csv::Reader::from_path(examples_dir().join("data/orders.csv")).unwrap();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        let region = match &rec[4] {
            "US" | "BR" | "CA" => "Americas",
            "DE" | "FR" | "GB" => "Europe",
            _ => continue,
        };
        *expected.entry(region).or_default() += 1;
    }
    let got = std::fs::read_to_string(&target).unwrap();
    let want = format!(
        "region,orders\n{}",
        expected
            .iter()
            .map(|(r, n)| format!("{r},{n}\n"))
            .collect::<String>()
    );
    assert_eq!(got, want);
    pg.batch_execute(&format!("DROP TABLE {t}")).await.unwrap();
}

#[tokio::test]
async fn upsert_without_a_unique_index_matches_on_the_keys() {
    let Some(pg) = pg().await else { return };
    let t = table_name("upsert_nokey");
    pg.batch_execute(&format!(
        "DROP TABLE IF EXISTS {t};
         CREATE TABLE {t} (a int, b text, v int);
         INSERT INTO {t} VALUES (1, 'x', 1), (2, 'x', 2), (3, 'x', 3);"
    ))
    .await
    .unwrap();
    // (1,x) changed, (2,x) unchanged, (4,x) new, (1,y) new (keys are both columns).
    let q = "SELECT * FROM (VALUES (1, 'x', 10), (2, 'x', 2), (4, 'x', 4), (1, 'y', 5)) v(a, b, v)";
    let task = format!(
        "type = \"DSS\"\n[source]\nconnection = \"pg\"\nquery = \"{q}\"\n[target]\nconnection = \"pg\"\ntable = \"{t}\"\noperation = \"upsert\"\nkeys = [\"a\", \"b\"]\n"
    );
    let (app, _defs) = spawn(&[("upsert_nokey", task)]).await;
    let run = app
        .wait_end(&app.start_run("sync/upsert_nokey", &[]).await, 60)
        .await;
    assert_eq!(run.state, "completed", "{run:?}");
    assert_eq!(counters(&run), (2, 1, 0, 1, 0), "{run:?}");
    let rows: Vec<String> = pg
        .query(&format!("SELECT a || b || v FROM {t} ORDER BY a, b"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, vec!["1x10", "1y5", "2x2", "3x3", "4x4"]);
    pg.batch_execute(&format!("DROP TABLE {t}")).await.unwrap();
}

#[tokio::test]
async fn rows_that_do_not_parse_go_to_the_reject_file_with_their_fields() {
    let Some(pg) = pg().await else { return };
    let t = table_name("bad_csv");
    pg.batch_execute(&format!(
        "DROP TABLE IF EXISTS {t}; CREATE TABLE {t} (id bigint PRIMARY KEY, name text);"
    ))
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("people.csv");
    std::fs::write(&csv, "id,name\n1,ann\ntwo,bob\n3,cy,extra\n4,dee\n").unwrap();
    let task = |extra: &str| {
        format!(
            "type = \"DSS\"\n[source]\nformat = \"csv\"\npath = \"{}\"\ncolumns = [{{ name = \"id\", type = \"int64\" }}, {{ name = \"name\", type = \"text\" }}]\n[target]\nconnection = \"pg\"\ntable = \"{t}\"\n{extra}",
            csv.display()
        )
    };
    let (app, _defs) = spawn(&[
        ("bad_csv", task("")),
        ("bad_csv_strict", task("[options]\nerror_threshold = 1\n")),
    ])
    .await;
    let run = app
        .wait_end(&app.start_run("sync/bad_csv_strict", &[]).await, 60)
        .await;
    assert_eq!(
        run.state, "failed",
        "two rejects pass a threshold of one: {run:?}"
    );
    assert_eq!(count(&pg, &t).await, 0);

    let run = app
        .wait_end(&app.start_run("sync/bad_csv", &[]).await, 60)
        .await;
    assert_eq!(run.state, "completed_with_errors", "{run:?}");
    assert_eq!(run.counters.source_rows_failed, 2, "{run:?}");
    assert_eq!(count(&pg, &t).await, 2);
    let rej = rejects(&app, &run).await;
    assert_eq!(rej.len(), 2, "{rej:?}");
    let two = rej
        .iter()
        .find(|r| r["row"]["line"] == 3)
        .expect("line 3 rejected");
    assert_eq!(two["row"]["fields"], json!(["two", "bob"]));
    assert!(
        two["reason"]
            .as_str()
            .unwrap()
            .contains("`two` is not a valid"),
        "{two}"
    );
    let four = rej
        .iter()
        .find(|r| r["row"]["line"] == 4)
        .expect("line 4 rejected");
    assert_eq!(four["row"]["fields"], json!(["3", "cy", "extra"]));
    pg.batch_execute(&format!("DROP TABLE {t}")).await.unwrap();
}
