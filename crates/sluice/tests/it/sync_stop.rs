//! A stopped or killed load into PostgreSQL leaves the target as it was (one transaction), and a
//! load that commits in batches keeps exactly what its counters say it committed.

use super::support::*;

async fn count(pg: &tokio_postgres::Client, table: &str) -> i64 {
    pg.query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

fn big_load(table: &str, extra: &str) -> String {
    format!(
        "type = \"DSS\"\n[source]\nformat = \"csv\"\npath = \"{}\"\n[target]\nconnection = \"pg\"\ntable = \"{table}\"\n{extra}",
        big_csv().display()
    )
}

async fn fresh_table(pg: &tokio_postgres::Client, t: &str) {
    pg.batch_execute(&format!(
        "DROP TABLE IF EXISTS {t};
         CREATE TABLE {t} (order_id bigint PRIMARY KEY, country text, amount numeric(10,2), note text);
         INSERT INTO {t} SELECT -i, 'pre', 0, '' FROM generate_series(1, 5) i;"
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn stopping_a_load_leaves_the_table_as_it_was() {
    let Some(pg) = pg().await else { return };
    let (t1, t2) = (table_name("stop_tx"), table_name("stop_batches"));
    fresh_table(&pg, &t1).await;
    fresh_table(&pg, &t2).await;
    let defs = defs_dir(&[
        ("connections/pg.toml", &pg_connection_file()),
        ("sync/one_tx.toml", &big_load(&t1, "")),
        (
            "sync/batches.toml",
            &big_load(&t2, "[options]\ncommit_every = 100000\n"),
        ),
    ]);
    let app = TestApp::spawn_with(defs.path(), None, &[]).await;

    for mode in ["graceful", "immediate"] {
        let run = app.start_run("sync/one_tx", &[]).await;
        app.wait_for(&run, 120, |r| r.counters.target_rows_written > 0)
            .await;
        let stopping = app.runs().stop(&run, Some(mode)).send().await;
        assert!([200, 202].contains(&stopping.status), "{stopping:?}");
        let run = app.wait_end(&run, 120).await;
        assert_eq!(run.state, "stopped", "{mode}: {run:?}");
        assert_eq!(count(&pg, &t1).await, 5, "{mode}: the table is as it was");
        assert_eq!(run.counters.target_rows_written, 0, "{mode}: {run:?}");
    }

    let run = app.start_run("sync/batches", &[]).await;
    app.wait_for(&run, 120, |r| r.counters.inserts >= 200_000)
        .await;
    let _ = app.runs().stop(&run, Some("graceful")).send().await;
    let run = app.wait_end(&run, 120).await;
    assert_eq!(run.state, "stopped", "{run:?}");
    let committed = count(&pg, &t2).await - 5;
    assert!((200_000..3_000_000).contains(&committed), "{committed}");
    assert_eq!(
        run.counters.target_rows_written as i64, committed,
        "{run:?}"
    );
    assert_eq!(run.counters.inserts as i64, committed, "{run:?}");
    pg.batch_execute(&format!("DROP TABLE {t1}, {t2}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_killed_load_leaves_the_table_as_it_was() {
    let Some(pg) = pg().await else { return };
    let t = table_name("kill");
    fresh_table(&pg, &t).await;
    let defs = defs_dir(&[
        ("connections/pg.toml", &pg_connection_file()),
        ("sync/load.toml", &big_load(&t, "")),
    ]);
    let data = tempfile::tempdir().unwrap();
    let mut app = TestApp::spawn_with(defs.path(), Some(data.path()), &[]).await;
    let run = app.start_run("sync/load", &[]).await;
    app.wait_for(&run, 120, |r| r.counters.target_rows_written > 0)
        .await;
    app.kill();
    let app = TestApp::spawn_with(defs.path(), Some(data.path()), &[]).await;
    let run = app.wait_end(&run, 60).await;
    assert_eq!(run.state, "failed", "{run:?}");
    // The killed session's transaction is rolled back by PostgreSQL once it notices the closed
    // socket; give it a moment, then nothing of the load may be visible.
    eventually(secs(5), async || match count(&pg, &t).await {
        5 => Ok(()),
        n => Err(format!("{n} rows, not the 5 there were")),
    })
    .await;
    pg.batch_execute(&format!("DROP TABLE {t}")).await.unwrap();
}
