//! Tests of errors, of runs that end early (stops, LIMIT), of joins, and the CSV to Parquet
//! benchmark.

use super::run;
use super::tests::{COUNTRIES, Harness, orders_csv};
use crate::domain::Outcome;
use crate::domain::task::MappingDef;
use crate::engine::EngineError;
use serde_json::json;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[tokio::test]
async fn definition_errors_leave_nothing_behind() {
    let h = Harness::new(&[]);
    h.write("a.csv", "x,y\n1,2\n");
    let with_sql = |sql: &str| {
        json!({
            "sources": [{"name": "a", "format": "csv", "path": "a.csv"}],
            "transform": {"sql": sql},
            "target": {"format": "parquet", "path": "out/a.parquet"},
        })
    };
    for sql in [
        "SELEC x FROM a",
        "SELECT x FROM nope",
        "SELECT z FROM a",
        "CREATE TABLE t AS SELECT 1",
        "COPY a TO 'elsewhere.csv'",
    ] {
        match h.run(with_sql(sql)).await {
            Err(EngineError::Definition(_)) => {}
            other => panic!("{sql}: unexpected {other:?}"),
        }
    }
    assert!(!h.path("out/a.parquet").exists());
    assert!(!h.path("elsewhere.csv").exists());
    assert!(h.temp_files().is_empty());

    let missing = json!({
        "sources": [{"name": "orders", "format": "csv", "path": "missing/*.csv"}],
        "target": {"format": "csv", "path": "o.csv"},
    });
    match h.run(missing).await {
        Err(EngineError::Definition(m)) => {
            assert!(m.contains("source `orders`: no file matches"), "{m}")
        }
        other => panic!("unexpected {other:?}"),
    }
    let two = json!({
        "sources": [{"name": "a", "format": "csv", "path": "a.csv"},
                    {"name": "b", "format": "csv", "path": "a.csv"}],
        "target": {"format": "csv", "path": "o.csv"},
    });
    assert!(matches!(h.run(two).await, Err(EngineError::Definition(_))));
    let missing_param = with_sql("SELECT x FROM a WHERE y > ${nope}");
    assert!(matches!(
        h.run(missing_param).await,
        Err(EngineError::Definition(_))
    ));
}

#[tokio::test]
async fn runtime_sql_errors_are_data_errors() {
    let h = Harness::new(&[]);
    h.write("a.csv", "x,y\n1,abc\n");
    let result = h
        .run(json!({
            "sources": [{"name": "a", "format": "csv", "path": "a.csv"}],
            "transform": {"sql": "SELECT x, arrow_cast(y, 'Int64') AS y FROM a"},
            "target": {"format": "csv", "path": "out.csv"},
        }))
        .await;
    assert!(matches!(result, Err(EngineError::Data(_))), "{result:?}");
    assert!(!h.path("out.csv").exists());
    assert!(h.temp_files().is_empty());
}

#[tokio::test]
async fn sources_join_and_a_self_join_counts_rows_once() {
    let h = Harness::new(&[]);
    let (text, input) = orders_csv(2_000);
    h.write("orders.csv", text);
    h.write(
        "countries.jsonl",
        "{\"code\": \"DE\", \"region\": \"EU\"}\n{\"code\": \"US\", \"region\": \"NA\"}\n",
    );
    let outcome = h
        .run(json!({
            "sources": [
                {"name": "orders", "format": "csv", "path": "orders.csv"},
                {"name": "countries", "format": "json", "path": "countries.jsonl"},
            ],
            "transform": {"sql": "SELECT c.region, COUNT(*) AS n FROM orders o \
                JOIN countries c ON o.country = c.code \
                JOIN orders o2 ON o2.id = o.id GROUP BY c.region ORDER BY c.region"},
            "target": {"format": "csv", "path": "regions.csv"},
        }))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Completed);
    let count = |c: &str| input.iter().filter(|r| r.1 == c).count();
    assert_eq!(
        fs::read_to_string(h.path("regions.csv")).unwrap(),
        format!("region,n\nEU,{}\nNA,{}\n", count("DE"), count("US"))
    );
    assert_eq!(h.counter(|c| &c.source_rows_read), 2_002);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_ends_the_readers_early() {
    let h = Harness::new(&[]);
    let (text, _) = orders_csv(300_000);
    h.write("big.csv", text);
    let outcome = h
        .run(json!({
            "sources": [{"name": "big", "format": "csv", "path": "big.csv"}],
            "transform": {"sql": "SELECT id FROM big LIMIT 5"},
            "target": {"format": "json", "path": "five.jsonl"},
        }))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Completed);
    assert_eq!(
        fs::read_to_string(h.path("five.jsonl"))
            .unwrap()
            .lines()
            .count(),
        5
    );
    assert!(h.counter(|c| &c.source_rows_read) < 300_000);
}

/// Starts a 300k-row copy, asks for a stop once rows are moving, and checks the target is as it
/// was and no temporary file is left.
async fn stop_midway(immediate: bool) {
    let h = Harness::new(&[]);
    let (text, _) = orders_csv(300_000);
    h.write("big.csv", text);
    h.write("big.parquet", b"previous target");
    let def: MappingDef = serde_json::from_value(json!({
        "sources": [{"name": "big", "format": "csv", "path": "big.csv"}],
        "target": {"format": "parquet", "path": "big.parquet"},
    }))
    .unwrap();
    let ctx = h.ctx.clone();
    let task = tokio::spawn(async move { run(&def, &ctx).await });
    let started = Instant::now();
    while h.counter(|c| &c.source_rows_read) == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "no progress");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let token = if immediate {
        &h.ctx.stop.immediate
    } else {
        &h.ctx.stop.graceful
    };
    token.cancel();
    let stopped_at = Instant::now();
    let result = task.await.unwrap();
    assert!(matches!(result, Err(EngineError::Stopped)), "{result:?}");
    assert!(stopped_at.elapsed() < Duration::from_secs(5));
    assert!(h.counter(|c| &c.source_rows_read) < 300_000);
    assert_eq!(fs::read(h.path("big.parquet")).unwrap(), b"previous target");
    // The writer thread may still be closing its (already unlinked) file; give it a moment.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(h.temp_files().is_empty(), "{:?}", h.temp_files());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_leaves_target_untouched() {
    stop_midway(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immediate_stop_leaves_target_untouched() {
    stop_midway(true).await;
}

#[tokio::test]
async fn stop_before_start_does_nothing() {
    let h = Harness::new(&[]);
    h.write("a.csv", "x\n1\n");
    h.ctx.stop.graceful.cancel();
    let result = h
        .run(json!({
            "sources": [{"name": "a", "format": "csv", "path": "a.csv"}],
            "target": {"format": "csv", "path": "b.csv"},
        }))
        .await;
    assert!(matches!(result, Err(EngineError::Stopped)));
    assert!(!h.path("b.csv").exists());
}

/// The 5-million-row CSV to Parquet copy the benchmark runs; prints time and peak memory.
/// `cargo test -p sluice-server --release bench_csv_to_parquet -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: large and slow without optimisations"]
async fn bench_csv_to_parquet() {
    let rows: usize = std::env::var("SLUICE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000);
    let h = Harness::new(&[]);
    // SLUICE_BENCH_CSV names an existing file to read instead (to compare with other tools).
    let given = std::env::var("SLUICE_BENCH_CSV").ok();
    let path = given
        .clone()
        .map_or_else(|| h.path("big.csv"), PathBuf::from);
    if given.is_none() {
        write_bench_csv(&path, rows);
    }
    let size = fs::metadata(&path).unwrap().len();
    let def: MappingDef = serde_json::from_value(json!({
        "sources": [{"name": "big", "format": "csv", "path": path}],
        "transform": {"sql": std::env::var("SLUICE_BENCH_SQL").unwrap_or("SELECT * FROM big".into())},
        "target": {"format": "parquet", "path": "big.parquet"},
    }))
    .unwrap();
    let started = Instant::now();
    let outcome = run(&def, &h.ctx).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(outcome, Outcome::Completed);
    let rows = h.counter(|c| &c.source_rows_read);
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("");
    eprintln!(
        "{rows} rows, {} MB csv -> {} MB parquet in {:.2}s; {peak}",
        size >> 20,
        fs::metadata(h.path("big.parquet")).unwrap().len() >> 20,
        elapsed.as_secs_f64()
    );
}

fn write_bench_csv(path: &Path, rows: usize) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(fs::File::create(path).unwrap());
    writeln!(out, "id,customer,country,amount,qty,order_date,note").unwrap();
    let mut seed: u64 = 7;
    for id in 0..rows {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let country = COUNTRIES[(seed >> 33) as usize % COUNTRIES.len()];
        writeln!(
            out,
            "{id},customer-{},{country},{}.{:02},{},2024-{:02}-{:02},some note {}",
            (seed >> 40) % 100_000,
            (seed >> 30) % 10_000,
            (seed >> 20) % 100,
            (seed >> 10) % 50,
            1 + (seed >> 8) % 12,
            1 + (seed >> 4) % 28,
            seed % 1000
        )
        .unwrap();
    }
    out.flush().unwrap();
}
