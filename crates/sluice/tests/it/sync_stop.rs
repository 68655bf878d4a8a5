//! A stopped or killed load into PostgreSQL leaves the target as it was (one transaction), and a
//! load that commits in batches keeps exactly what its counters say it committed.

use super::support::*;
use serde_json::json;

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
    let server = TestServer::start_with(defs.path(), None, &[]).await;

    for mode in ["graceful", "immediate"] {
        let run = server.start_run("sync/one_tx", json!({})).await;
        server
            .wait_for(&run, 120, |r| {
                r["counters"]["target_rows_written"].as_u64() > Some(0)
            })
            .await;
        let id = run["id"].as_str().unwrap();
        let (status, body) = server
            .post(&format!("/api/v1/runs/{id}/stop"), json!({"mode": mode}))
            .await;
        assert!(status == 200 || status == 202, "{body}");
        let run = server.wait_end(&run, 120).await;
        assert_eq!(run["state"], "stopped", "{mode}: {run}");
        assert_eq!(count(&pg, &t1).await, 5, "{mode}: the table is as it was");
        assert_eq!(run["counters"]["target_rows_written"], 0, "{mode}: {run}");
    }

    let run = server.start_run("sync/batches", json!({})).await;
    server
        .wait_for(&run, 120, |r| {
            r["counters"]["inserts"].as_u64() >= Some(200_000)
        })
        .await;
    let id = run["id"].as_str().unwrap();
    server
        .post(
            &format!("/api/v1/runs/{id}/stop"),
            json!({"mode": "graceful"}),
        )
        .await;
    let run = server.wait_end(&run, 120).await;
    assert_eq!(run["state"], "stopped", "{run}");
    let committed = count(&pg, &t2).await - 5;
    assert!((200_000..3_000_000).contains(&committed), "{committed}");
    assert_eq!(
        run["counters"]["target_rows_written"].as_i64(),
        Some(committed),
        "{run}"
    );
    assert_eq!(
        run["counters"]["inserts"].as_i64(),
        Some(committed),
        "{run}"
    );
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
    let mut server = TestServer::start_with(defs.path(), Some(data.path()), &[]).await;
    let run = server.start_run("sync/load", json!({})).await;
    server
        .wait_for(&run, 120, |r| {
            r["counters"]["target_rows_written"].as_u64() > Some(0)
        })
        .await;
    server.kill();
    let server = TestServer::start_with(defs.path(), Some(data.path()), &[]).await;
    let run = server.wait_end(&run, 60).await;
    assert_eq!(run["state"], "failed", "{run}");
    // The killed session's transaction is rolled back by PostgreSQL once it notices the closed
    // socket; give it a moment, then nothing of the load may be visible.
    let mut n = count(&pg, &t).await;
    for _ in 0..50 {
        if n == 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        n = count(&pg, &t).await;
    }
    assert_eq!(n, 5);
    pg.batch_execute(&format!("DROP TABLE {t}")).await.unwrap();
}
