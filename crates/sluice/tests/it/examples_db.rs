//! The bundled data examples, end to end on the machine's PostgreSQL, MariaDB and SQLite: load the
//! orders CSV into PostgreSQL (twice: the second run changes nothing), replicate them to MariaDB
//! incrementally, copy them to a SQLite file, and mask them.

use super::support::*;
use mysql_async::prelude::Queryable;

#[tokio::test]
async fn the_warehouse_examples_run_on_the_local_services() {
    let Some(pg) = pg().await else { return };
    let Some(mut my) = mysql().await else { return };
    pg.batch_execute("DROP TABLE IF EXISTS sluice_example_orders, sluice_example_orders_masked")
        .await
        .unwrap();
    my.query_drop("DROP TABLE IF EXISTS sluice_example_orders")
        .await
        .unwrap();
    let (pg_url, my_url) = (pg_url(), mysql_url());
    let app = TestApp::spawn_with(
        &examples_dir(),
        None,
        &[
            ("SLUICE_EXAMPLE_PG_URL", pg_url.as_str()),
            ("SLUICE_EXAMPLE_MYSQL_URL", my_url.as_str()),
            (
                "SLUICE_EXAMPLE_MASK_KEY",
                "a-test-only-masking-key-0123456789",
            ),
        ],
    )
    .await;
    let run = |task: &'static str| {
        let app = &app;
        async move {
            let r = app.wait_end(&app.start_run(task, &[]).await, 120).await;
            assert_eq!(r.state, "completed", "{task}: {r:?}");
            r
        }
    };

    let r = run("warehouse/load_orders").await;
    assert_eq!(r.counters.inserts, 2000, "{r:?}");
    let r = run("warehouse/load_orders").await;
    assert_eq!(
        (r.counters.inserts, r.counters.updates, r.counters.skipped),
        (0, 0, 2000),
        "a second load of the same file changes nothing: {r:?}"
    );

    let r = run("warehouse/replicate_to_mariadb").await;
    assert_eq!(r.counters.inserts, 2000, "{r:?}");
    let pg_sum: f64 = pg
        .query_one(
            "SELECT round(sum(amount)::numeric, 2)::float8 FROM sluice_example_orders",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let my_sum: Option<f64> = my
        .query_first("SELECT ROUND(SUM(amount), 2) FROM sluice_example_orders")
        .await
        .unwrap();
    assert_eq!(Some(pg_sum), my_sum);

    // New orders: the next replication copies exactly those.
    pg.batch_execute(
        "INSERT INTO sluice_example_orders (order_id, customer_id, customer_name, email, country, status, amount, quantity)
         SELECT i, 1, 'New Cust', 'new@example.com', 'DE', 'NEW', 10, 1 FROM generate_series(2001, 2010) i",
    )
    .await
    .unwrap();
    let r = run("warehouse/replicate_to_mariadb").await;
    assert_eq!(r.counters.source_rows_read, 10, "{r:?}");
    let n: Option<i64> = my
        .query_first("SELECT COUNT(*) FROM sluice_example_orders")
        .await
        .unwrap();
    assert_eq!(n, Some(2010));

    let r = run("warehouse/replicate_to_sqlite").await;
    assert!(
        r.children
            .iter()
            .any(|c| c.name == "sluice_example_orders" && c.counters.inserts == 2010),
        "{r:?}"
    );
    assert!(app.data_dir.join("examples/warehouse.db").exists());

    let r = run("warehouse/mask_orders").await;
    assert_eq!(r.counters.target_rows_written, 2010, "{r:?}");
    let leaked: i64 = pg
        .query_one(
            "SELECT count(*) FROM sluice_example_orders o JOIN sluice_example_orders_masked m USING (order_id)
             WHERE m.email = o.email OR m.customer_name = o.customer_name OR m.customer_id = o.customer_id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(leaked, 0);
}
