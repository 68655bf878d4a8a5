//! The bundled mapping task, end to end: started by name and by every id, output checked row by
//! row against an independent computation, logs and counters.

use super::support::*;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Default, PartialEq)]
struct Agg {
    orders: i64,
    items: i64,
    revenue: f64,
}

/// The task's SQL, computed in plain Rust over the sample CSV.
fn expected(since: &str) -> BTreeMap<String, Agg> {
    let mut out: BTreeMap<String, Agg> = BTreeMap::new();
    let mut rdr = csv::Reader::from_path(examples_dir().join("data/orders.csv")).unwrap();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        if &rec[5] == "CANCELLED" || &rec[8] < since {
            continue;
        }
        let a = out.entry(rec[4].to_string()).or_default();
        a.orders += 1;
        a.items += rec[7].parse::<i64>().unwrap();
        a.revenue += rec[6].parse::<f64>().unwrap();
    }
    out
}

fn read_output(path: &Path) -> BTreeMap<String, Agg> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut out = BTreeMap::new();
    for batch in reader {
        let batch = batch.unwrap();
        let country = batch.column_by_name("country").unwrap();
        let country = datafusion::arrow::compute::cast(
            country,
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let country = country.as_string::<i32>();
        let orders = batch
            .column_by_name("orders")
            .unwrap()
            .as_primitive::<Int64Type>();
        let items = batch
            .column_by_name("items")
            .unwrap()
            .as_primitive::<Int64Type>();
        let revenue = batch
            .column_by_name("revenue")
            .unwrap()
            .as_primitive::<Float64Type>();
        for i in 0..batch.num_rows() {
            assert!(!country.is_null(i));
            out.insert(
                country.value(i).to_string(),
                Agg {
                    orders: orders.value(i),
                    items: items.value(i),
                    revenue: revenue.value(i),
                },
            );
        }
    }
    out
}

fn assert_same(got: &BTreeMap<String, Agg>, want: &BTreeMap<String, Agg>) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (country, w) in want {
        let g = &got[country];
        assert_eq!((g.orders, g.items), (w.orders, w.items), "{country}");
        assert!(
            (g.revenue - w.revenue).abs() < 0.006,
            "{country}: {} vs {}",
            g.revenue,
            w.revenue
        );
    }
}

#[tokio::test]
async fn orders_by_country_by_name_and_by_every_id() {
    let app = TestApp::spawn().await;
    let output = app.data_dir.join("output/sales/orders_by_country.parquet");

    // By bare name, folder/name, and the task's ids in every format.
    // The task's GUIDs are typed: the Starfish ids are UUIDs by the type of the answer.
    let task = app.tasks().get("sales/orders_by_country").expect(200).await;
    assert_eq!(task.iics_task_id.len(), 20);
    assert_eq!(task.federated_id.len(), 22);
    let refs = [
        "orders_by_country".to_string(),
        "sales/orders_by_country".to_string(),
        task.id.to_string(),
        task.iics_task_id.clone(),
        task.federated_id.clone(),
    ];
    let want = expected("2026-01-01");
    for (i, reference) in refs.iter().enumerate() {
        let run = app.start_run(reference, &[]).await;
        assert_eq!(run.run_number, i as i64 + 1, "numbered per task from 1");
        let done = app.wait_end(&run, 120).await;
        assert_eq!(done.state, "completed", "{done:?}");
        let c = &done.counters;
        assert_eq!(c.source_rows_read, 2000);
        assert_eq!(c.source_rows_failed, 0);
        assert_eq!(c.target_rows_written, want.len() as u64);
        assert_same(&read_output(&output), &want);
    }

    // A parameter changes the result, exactly as computed independently.
    let run = app
        .start_run("orders_by_country", &[("since", "2026-06-01")])
        .await;
    let done = app.wait_end(&run, 120).await;
    assert_eq!(done.state, "completed", "{done:?}");
    assert_same(&read_output(&output), &expected("2026-06-01"));

    // The log tells the story, filterable by level.
    let text = app.messages(&done, "info").await;
    assert!(text.iter().any(|m| m.contains("started")), "{text:?}");
    assert!(text.iter().any(|m| m.contains("Run ended")), "{text:?}");
    let errors = app.log(&done, "error").await;
    assert!(errors.is_empty(), "{errors:?}");
    // Leaves no temporary files beside the target.
    let names: Vec<_> = std::fs::read_dir(output.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["orders_by_country.parquet"]);
}

#[tokio::test]
async fn json_lines_example_filters_by_parameter() {
    let app = TestApp::spawn().await;
    let run = app.start_run("gift_orders", &[("country", "DE")]).await;
    let done = app.wait_end(&run, 120).await;
    assert_eq!(done.state, "completed", "{done:?}");
    let out =
        std::fs::read_to_string(app.data_dir.join("output/sales/gift_orders_DE.jsonl")).unwrap();
    let got: Vec<i64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["order_id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    let mut want = Vec::new();
    let mut rdr = csv::Reader::from_path(examples_dir().join("data/orders.csv")).unwrap();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        if &rec[4] == "DE" && &rec[9] == "gift" {
            want.push(rec[0].parse::<i64>().unwrap());
        }
    }
    assert!(!want.is_empty());
    assert_eq!(got, want);
    assert_eq!(done.counters.target_rows_written, want.len() as u64);
}
