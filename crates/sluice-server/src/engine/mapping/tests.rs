//! Tests of the mapping task against real files in a temporary directory.

use super::run;
use crate::domain::NewLogLine;
use crate::domain::Outcome;
use crate::domain::task::MappingDef;
use crate::engine::{EngineError, LiveCounters, RunContext, RunLog, StopSignal};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::json;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tempfile::TempDir;
use tokio::sync::mpsc::UnboundedReceiver;

pub(super) struct Harness {
    dir: TempDir,
    pub(super) ctx: RunContext,
    rx: UnboundedReceiver<NewLogLine>,
}

impl Harness {
    pub(super) fn new(params: &[(&str, &str)]) -> Harness {
        let dir = TempDir::new().unwrap();
        let (log, rx) = RunLog::new();
        let ctx = RunContext {
            run_id: uuid::Uuid::new_v4(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            base_dir: dir.path().to_path_buf(),
            area: dir.path().to_path_buf(),
            file_roots: BTreeMap::new(),
            counters: Arc::new(LiveCounters::default()),
            log,
            stop: StopSignal::default(),
            batch_size: 8192,
            connections: BTreeMap::new(),
            rejects_path: dir.path().join("rejects.jsonl"),
            journal: Arc::new(crate::engine::journal::MemoryJournal::default()),
            spark: Default::default(),
            org_name: "default".into(),
            confined: false,
            runtime_envs: Default::default(),
            grants: Default::default(),
        };
        Harness { dir, ctx, rx }
    }

    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(super) fn write(&self, name: &str, content: impl AsRef<[u8]>) {
        let path = self.path(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    pub(super) fn logs(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.rx.try_recv() {
            lines.push(line.message);
        }
        lines
    }

    pub(super) fn counter(&self, which: fn(&LiveCounters) -> &std::sync::atomic::AtomicU64) -> u64 {
        which(&self.ctx.counters).load(Ordering::Relaxed)
    }

    pub(super) async fn run(&self, def: serde_json::Value) -> Result<Outcome, EngineError> {
        let def: MappingDef = serde_json::from_value(def).unwrap();
        run(&def, &self.ctx).await
    }

    /// Files in the directory (recursively) whose name marks them as temporary.
    pub(super) fn temp_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.to_string_lossy().contains(".sluice-") {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(self.dir.path(), &mut out);
        out
    }
}

pub(super) fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = fs::File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// Every row of the batches as display strings (NULL as "").
pub(super) fn rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            out.push(
                batch
                    .columns()
                    .iter()
                    .map(|c| array_value_to_string(c, row).unwrap())
                    .collect(),
            );
        }
    }
    out
}

pub(super) const COUNTRIES: [&str; 5] = ["DE", "FR", "IT", "NL", "US"];

/// Deterministic order rows: `id,country,amount,qty`, amount with two decimals.
pub(super) fn orders_csv(rows: usize) -> (String, Vec<(i64, &'static str, f64, i64)>) {
    let mut text = String::from("id,country,amount,qty\n");
    let mut parsed = Vec::with_capacity(rows);
    let mut seed: u64 = 42;
    for id in 0..rows as i64 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let country = COUNTRIES[(seed >> 33) as usize % COUNTRIES.len()];
        let cents = (seed >> 40) % 100_000;
        let qty = ((seed >> 20) % 100) as i64;
        let amount = format!("{}.{:02}", cents / 100, cents % 100);
        text.push_str(&format!("{id},{country},{amount},{qty}\n"));
        parsed.push((id, country, amount.parse().unwrap(), qty));
    }
    (text, parsed)
}

#[tokio::test]
async fn csv_to_parquet_aggregation_matches_plain_rust() {
    let mut h = Harness::new(&[("min", "50")]);
    h.ctx.batch_size = 1000;
    let (text, input) = orders_csv(20_000);
    h.write("in/orders.csv", text);
    let outcome = h
        .run(json!({
            "sources": [{"name": "orders", "format": "csv", "path": "in/orders.csv"}],
            "transform": {"sql": "SELECT country, SUM(qty) AS total_qty, COUNT(*) AS n, \
                SUM(amount) AS total FROM orders WHERE qty >= ${min} \
                GROUP BY country ORDER BY country"},
            "target": {"format": "parquet", "path": "out/by_country.parquet"},
        }))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Completed);

    let mut expected: BTreeMap<&str, (i64, i64, f64)> = BTreeMap::new();
    for (_, country, amount, qty) in input.iter().filter(|r| r.3 >= 50) {
        let e = expected.entry(country).or_default();
        e.0 += qty;
        e.1 += 1;
        e.2 += amount;
    }
    let got = rows(&read_parquet(&h.path("out/by_country.parquet")));
    assert_eq!(got.len(), expected.len());
    for (row, (country, (qty, n, total))) in got.iter().zip(&expected) {
        assert_eq!(row[0], *country);
        assert_eq!(row[1].parse::<i64>().unwrap(), *qty);
        assert_eq!(row[2].parse::<i64>().unwrap(), *n);
        let t: f64 = row[3].parse().unwrap();
        assert!(
            (t - total).abs() < 1e-6 * total.abs().max(1.0),
            "{t} vs {total}"
        );
    }
    assert_eq!(h.counter(|c| &c.source_rows_read), 20_000);
    assert_eq!(h.counter(|c| &c.source_rows_failed), 0);
    assert_eq!(h.counter(|c| &c.target_rows_written), expected.len() as u64);
    assert!(h.temp_files().is_empty());
    let logs = h.logs();
    assert!(
        logs.iter()
            .any(|l| l.contains("source `orders`: 20000 rows read, 0 failed")),
        "{logs:?}"
    );
    assert!(
        logs.iter().any(|l| l.contains("rows written to")),
        "{logs:?}"
    );
}

const BAD_CSV: &str = "id,name,amount,day\n\
1,ann,10,2024-01-01\n\
2,bob,20\n\
3,cid,abc,2024-01-03\n\
4,dan,40,2024-02-30\n\
5,eve,,\n\
6,fay,60,2024-01-06,extra\n\
7,gus,70,2024-01-07\n";

fn bad_csv_def(stop_on_error: bool) -> serde_json::Value {
    json!({
        "sources": [{
            "name": "people", "format": "csv", "path": "people.csv",
            "columns": [
                {"name": "id", "type": "int64"}, {"name": "name", "type": "text"},
                {"name": "amount", "type": "int64"}, {"name": "day", "type": "date"}
            ]
        }],
        "target": {"format": "csv", "path": "out/people.csv"},
        "stop_on_error": stop_on_error,
    })
}

#[tokio::test]
async fn bad_csv_rows_are_counted_logged_and_skipped() {
    let mut h = Harness::new(&[]);
    h.write("people.csv", BAD_CSV);
    let outcome = h.run(bad_csv_def(false)).await.unwrap();
    assert_eq!(outcome, Outcome::CompletedWithErrors);
    assert_eq!(h.counter(|c| &c.source_rows_read), 7);
    assert_eq!(h.counter(|c| &c.source_rows_failed), 4);
    assert_eq!(h.counter(|c| &c.target_rows_written), 3);
    let out = fs::read_to_string(h.path("out/people.csv")).unwrap();
    assert_eq!(
        out,
        "id,name,amount,day\n1,ann,10,2024-01-01\n5,eve,,\n7,gus,70,2024-01-07\n"
    );
    let logs = h.logs();
    let warned = |needle: &str| logs.iter().any(|l| l.contains(needle));
    assert!(warned("line 3: expected 4 fields, found 3"), "{logs:?}");
    assert!(
        warned("line 4: column `amount`: `abc` is not a valid int64"),
        "{logs:?}"
    );
    assert!(
        warned("line 5: column `day`: `2024-02-30` is not a valid date"),
        "{logs:?}"
    );
    assert!(warned("line 7: expected 4 fields, found 5"), "{logs:?}");
}

#[tokio::test]
async fn many_bad_rows_are_summarised_not_all_logged() {
    let mut h = Harness::new(&[]);
    let mut text = String::from("a,b\n");
    for i in 0..1000 {
        text.push_str(&format!("{i},{i}\n"));
    }
    for i in 0..150 {
        text.push_str(&format!("{i},{i},{i}\n"));
    }
    h.write("many.csv", text);
    let outcome = h
        .run(json!({
            "sources": [{"name": "many", "format": "csv", "path": "many.csv"}],
            "target": {"format": "csv", "path": "many.out.csv"},
        }))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::CompletedWithErrors);
    assert_eq!(h.counter(|c| &c.source_rows_read), 1150);
    assert_eq!(h.counter(|c| &c.source_rows_failed), 150);
    assert_eq!(h.counter(|c| &c.target_rows_written), 1000);
    let logs = h.logs();
    assert_eq!(
        logs.iter().filter(|l| l.contains("(row skipped)")).count(),
        100
    );
    assert!(
        logs.iter().any(|l| l.contains("50 more failed rows")),
        "{logs:?}"
    );
}

#[tokio::test]
async fn stop_on_error_fails_without_a_target() {
    let h = Harness::new(&[]);
    h.write("people.csv", BAD_CSV);
    let err = h.run(bad_csv_def(true)).await.unwrap_err();
    match err {
        EngineError::Data(m) => {
            assert!(m.contains("people.csv line 3: expected 4 fields"), "{m}")
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!h.path("out/people.csv").exists());
    assert!(h.temp_files().is_empty());
}

#[tokio::test]
async fn inferred_types_fail_later_rows_that_do_not_fit() {
    let mut h = Harness::new(&[]);
    let mut text = String::from("n,label,flag,at\n");
    for i in 0..1200 {
        text.push_str(&format!("{i},x{i},true,2024-01-01 10:00:00\n"));
    }
    text.push_str("1.5,y,false,2024-01-02 00:00:00\n");
    text.push_str("7,z,maybe,2024-01-02 00:00:00\n");
    text.push_str("8,\u{e9},false,2024-01-02 00:00:00\n");
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(b"9,\xff\xfe,true,2024-01-03 00:00:00\n");
    h.write("t.csv", bytes);
    let outcome = h
        .run(json!({
            "sources": [{"name": "t", "format": "csv", "path": "t.csv"}],
            "transform": {"sql": "SELECT n, label, flag, at FROM t WHERE n = 1199 OR label NOT LIKE 'x%'"},
            "target": {"format": "csv", "path": "t.out.csv"},
        }))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::CompletedWithErrors);
    assert_eq!(h.counter(|c| &c.source_rows_read), 1204);
    assert_eq!(h.counter(|c| &c.source_rows_failed), 3);
    let out = fs::read_to_string(h.path("t.out.csv")).unwrap();
    assert_eq!(
        out,
        "n,label,flag,at\n1199,x1199,true,2024-01-01T10:00:00\n8,\u{e9},false,2024-01-02T00:00:00\n"
    );
    let logs = h.logs().join("\n");
    assert!(
        logs.contains("columns: n int64, label text, flag boolean, at timestamp"),
        "{logs}"
    );
    assert!(
        logs.contains("line 1202: column `n`: `1.5` is not a valid int64"),
        "{logs}"
    );
    assert!(logs.contains("line 1203: column `flag`: `maybe`"), "{logs}");
    assert!(logs.contains("line 1205: not valid UTF-8"), "{logs}");
}

#[tokio::test]
async fn copy_without_transform_replaces_the_target() {
    let h = Harness::new(&[]);
    let input = "\u{feff}code;label\nA;\"x;y\"\nB;\nC;z\n";
    h.write("in.csv", input);
    h.write("out.csv", "old contents\n");
    let outcome = h
        .run(json!({
            "sources": [{"name": "codes", "format": "csv", "path": "in.csv", "delimiter": ";"}],
            "target": {"format": "csv", "path": "out.csv"},
        }))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Completed);
    assert_eq!(
        fs::read_to_string(h.path("out.csv")).unwrap(),
        "code,label\nA,x;y\nB,\nC,z\n"
    );

    // A headerless source with no rows still yields a CSV target with its header.
    h.write("empty.csv", "");
    h.run(json!({
        "sources": [{"name": "e", "format": "csv", "path": "empty.csv", "header": false,
                     "columns": [{"name": "a", "type": "int"}]}],
        "target": {"format": "csv", "path": "empty.out.csv"},
    }))
    .await
    .unwrap();
    assert_eq!(fs::read_to_string(h.path("empty.out.csv")).unwrap(), "a\n");
}
