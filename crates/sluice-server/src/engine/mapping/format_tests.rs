//! Tests of the mapping task's file formats: JSON lines and Parquet sources, globs of files, and
//! each format as a target.

use super::tests::{Harness, read_parquet, rows};
use crate::domain::Outcome;
use datafusion::arrow::array::{ArrayRef, Date32Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use serde_json::json;
use std::fs;
use std::path::Path;
use std::sync::Arc;

#[tokio::test]
async fn json_lines_source_skips_bad_lines() {
    let mut h = Harness::new(&[]);
    h.write(
        "events.jsonl",
        "{\"id\": 1, \"kind\": \"a\", \"score\": 1.5}\n\
         {\"id\": 2, \"kind\": \"b\", \"score\": 2}\n\
         \n\
         not json\n\
         {\"id\": \"x\", \"kind\": \"c\", \"score\": 3}\n\
         [1, 2]\n\
         {\"id\": 5, \"kind\": 7}\n\
         {\"id\": 6, \"kind\": \"f\", \"score\": null}\n",
    );
    let outcome = h
        .run(json!({
            "sources": [{"name": "events", "format": "jsonl", "path": "events.jsonl",
                "columns": [{"name": "id", "type": "int64"}, {"name": "kind", "type": "text"},
                            {"name": "score", "type": "float64"}]}],
            "transform": {"sql": "SELECT id, kind, score FROM events ORDER BY id"},
            "target": {"format": "csv", "path": "events.csv"},
        }))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::CompletedWithErrors);
    assert_eq!(h.counter(|c| &c.source_rows_read), 7);
    assert_eq!(h.counter(|c| &c.source_rows_failed), 3);
    assert_eq!(
        fs::read_to_string(h.path("events.csv")).unwrap(),
        "id,kind,score\n1,a,1.5\n2,b,2.0\n5,7,\n6,f,\n"
    );
    let logs = h.logs().join("\n");
    for line in [4, 5, 6] {
        assert!(
            logs.contains(&format!("events.jsonl line {line}: ")),
            "{logs}"
        );
    }

    // Undeclared columns are inferred from the first objects, in the order keys first appear.
    h.write(
        "more.jsonl",
        "{\"zeta\": 1, \"alpha\": \"a\", \"when\": \"2024-01-01\"}\n{\"alpha\": null, \"zeta\": 2.5, \"ok\": true}\n",
    );
    h.run(json!({
        "sources": [{"name": "more", "format": "json", "path": "more.jsonl"}],
        "target": {"format": "parquet", "path": "more.parquet"},
    }))
    .await
    .unwrap();
    let logs = h.logs().join("\n");
    assert!(
        logs.contains("columns: zeta float64, alpha text, when text, ok boolean"),
        "{logs}"
    );
    let got = rows(&read_parquet(&h.path("more.parquet")));
    assert_eq!(
        got,
        [["1.0", "a", "2024-01-01", ""], ["2.5", "", "", "true"]]
    );
}

fn write_parquet(path: &Path) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("day", DataType::Date32, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![3, 1, 2, 4])),
        Arc::new(StringArray::from(vec![
            Some("c"),
            Some("a"),
            None,
            Some("d,e"),
        ])),
        Arc::new(Date32Array::from(vec![
            Some(19723),
            None,
            Some(19724),
            Some(0),
        ])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut writer = ArrowWriter::try_new(fs::File::create(path).unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

#[tokio::test]
async fn parquet_source_to_csv_target() {
    let h = Harness::new(&[]);
    write_parquet(&h.path("p.parquet"));
    let source = json!([{"name": "p", "format": "parquet", "path": "p.parquet"}]);
    let outcome = h
        .run(json!({
            "sources": source,
            "transform": {"sql": "SELECT id, name, day FROM p WHERE id > 1 ORDER BY id"},
            "target": {"format": "csv", "path": "p.csv"},
        }))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Completed);
    assert_eq!(
        fs::read_to_string(h.path("p.csv")).unwrap(),
        "id,name,day\n2,,2024-01-02\n3,c,2024-01-01\n4,\"d,e\",1970-01-01\n"
    );
    assert_eq!(h.counter(|c| &c.source_rows_read), 4);
    assert_eq!(h.counter(|c| &c.target_rows_written), 3);

    // No column read at all: only the row count travels.
    h.run(json!({
        "sources": source,
        "transform": {"sql": "SELECT count(*) AS n FROM p"},
        "target": {"format": "json", "path": "n.jsonl"},
    }))
    .await
    .unwrap();
    assert_eq!(
        fs::read_to_string(h.path("n.jsonl")).unwrap(),
        "{\"n\":4}\n"
    );
}

#[tokio::test]
async fn glob_of_csv_files_to_json_lines() {
    let h = Harness::new(&[("day", "2024")]);
    for part in 1..=3 {
        let mut text = String::from("part,seq\n");
        for seq in 0..(part * 10) {
            text.push_str(&format!("{part},{seq}\n"));
        }
        h.write(&format!("data/{}/part-{part}.csv", "2024"), text);
    }
    h.write("data/2024/other.txt", "not,a,part\n");
    h.write("data/2024/.part-9.csv", "part,seq\n9,9\n");
    let outcome = h
        .run(json!({
            "sources": [{"name": "parts", "format": "csv", "path": "data/${day}/part-*.csv"}],
            "target": {"format": "json", "path": "parts.jsonl"},
        }))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Completed);
    let text = fs::read_to_string(h.path("parts.jsonl")).unwrap();
    let got: Vec<(i64, i64)> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["part"].as_i64().unwrap(), v["seq"].as_i64().unwrap())
        })
        .collect();
    let expected: Vec<(i64, i64)> = (1..=3)
        .flat_map(|p| (0..p * 10).map(move |s| (p, s)))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(h.counter(|c| &c.source_rows_read), 60);
    assert_eq!(h.counter(|c| &c.target_rows_written), 60);
}
