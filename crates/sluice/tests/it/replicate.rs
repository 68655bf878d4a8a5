//! Replication tasks (DRS) against the real PostgreSQL: tables chosen by list and pattern, target
//! tables created, full reloads, incremental runs that copy exactly the new and changed rows, one
//! child per table with its own counters, and a files target.

use super::support::*;

#[tokio::test]
async fn replication_full_and_incremental_with_children() {
    let Some(pg) = pg().await else { return };
    let p = format!("it_rep{}_", std::process::id());
    let (a, b, skip) = (format!("{p}a"), format!("{p}b"), format!("{p}skip"));
    pg.batch_execute(&format!(
        "DROP TABLE IF EXISTS {a}, {b}, {skip}, copy_{a}, copy_{b}, copy_{skip};
         CREATE TABLE {a} (id int PRIMARY KEY, v text, updated bigint NOT NULL);
         INSERT INTO {a} SELECT i, 'a' || i, i FROM generate_series(1, 1000) i;
         CREATE TABLE {b} (k text PRIMARY KEY, amount numeric(10,2), updated bigint NOT NULL);
         INSERT INTO {b} SELECT 'k' || i, i / 4.0, i FROM generate_series(1, 300) i;
         CREATE TABLE {skip} (id int PRIMARY KEY);"
    ))
    .await
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let incremental = format!(
        "type = \"DRS\"\nmode = \"incremental\"\nwatermark = \"updated\"\n[source]\nconnection = \"pg\"\npattern = \"{p}*\"\nexclude = [\"{skip}\"]\n[target]\nconnection = \"pg\"\nprefix = \"copy_\"\n[options]\nthreads = 2\n"
    );
    let files = format!(
        "type = \"DRS\"\n[source]\nconnection = \"pg\"\ntables = [\"{a}\", \"{b}\"]\n[target]\nformat = \"parquet\"\npath = \"{}\"\n",
        out.path().display()
    );
    let defs = defs_dir(&[
        ("connections/pg.toml", &pg_connection_file()),
        ("rep/incremental.toml", &incremental),
        ("rep/files.toml", &files),
    ]);
    let app = TestApp::spawn_with(defs.path(), None, &[]).await;
    let same = |src: String, dst: String| {
        let pg = &pg;
        async move {
            let n: i64 = pg
                .query_one(
                    &format!("SELECT count(*) FROM ((SELECT * FROM {src} EXCEPT SELECT * FROM {dst}) UNION ALL (SELECT * FROM {dst} EXCEPT SELECT * FROM {src})) d"),
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            n == 0
        }
    };

    // First run: everything, into created tables.
    let run = app
        .wait_end(&app.start_run("rep/incremental", &[]).await, 60)
        .await;
    assert_eq!(run.state, "completed", "{run:?}");
    assert_eq!(run.counters.inserts, 1300, "{run:?}");
    assert!(
        same(a.clone(), format!("copy_{a}")).await && same(b.clone(), format!("copy_{b}")).await
    );
    let full = app.runs().get(&run).expect(200).await;
    let children = &full.children;
    assert_eq!(children.len(), 2, "{full:?}");
    assert_eq!(children[0].name, a);
    assert_eq!(children[0].state, "completed");
    assert_eq!(children[0].counters.inserts, 1000);
    assert_eq!(children[1].counters.inserts, 300);

    // New and changed rows, then a second run copies exactly those.
    pg.batch_execute(&format!(
        "INSERT INTO {a} SELECT i, 'a' || i, 2000 + i FROM generate_series(1001, 1010) i;
         UPDATE {a} SET v = 'changed', updated = 3000 WHERE id <= 5;
         UPDATE {b} SET amount = -1, updated = 4000 WHERE k = 'k7';"
    ))
    .await
    .unwrap();
    let run = app
        .wait_end(&app.start_run("rep/incremental", &[]).await, 60)
        .await;
    assert_eq!(run.state, "completed", "{run:?}");
    assert_eq!(run.counters.source_rows_read, 16, "{run:?}");
    assert_eq!(run.counters.inserts, 10, "{run:?}");
    assert_eq!(run.counters.updates, 6, "{run:?}");
    assert!(
        same(a.clone(), format!("copy_{a}")).await && same(b.clone(), format!("copy_{b}")).await
    );

    // Nothing new: nothing read.
    let run = app
        .wait_end(&app.start_run("rep/incremental", &[]).await, 60)
        .await;
    assert_eq!(run.counters.source_rows_read, 0, "{run:?}");

    let run = app
        .wait_end(&app.start_run("rep/files", &[]).await, 60)
        .await;
    assert_eq!(run.state, "completed", "{run:?}");
    for (t, n) in [(&a, 1010), (&b, 300)] {
        let f = std::fs::File::open(out.path().join(format!("{t}.parquet"))).unwrap();
        let rows: usize =
            datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
                .unwrap()
                .build()
                .unwrap()
                .map(|b| b.unwrap().num_rows())
                .sum();
        assert_eq!(rows, n, "{t}");
    }
    pg.batch_execute(&format!("DROP TABLE {a}, {b}, {skip}, copy_{a}, copy_{b}"))
        .await
        .unwrap();
}
