//! `GET /metrics` after known work (an API start with a callback, a per-second schedule): the
//! counts are what happened, labels carry no run ids or task names; every metric the Grafana
//! dashboard uses exists; `/readyz` answers 503 while the store's schema is behind the build;
//! `[metrics] token` guards the scrape.

use super::support::*;
use sluice_types::{RunList, StartRun};
use std::collections::BTreeMap;

/// One sample of a scrape.
pub(super) struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

pub(super) fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once("=\"").expect("label=\"value\"");
                    (k.to_string(), v.trim_end_matches('"').to_string())
                })
                .collect();
            Sample {
                name: name.to_string(),
                labels,
                value: value.parse().expect("a number"),
            }
        })
        .collect()
}

/// The sum of the samples of `name` carrying every label of `with`.
pub(super) fn total(samples: &[Sample], name: &str, with: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            with.iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

fn defs(out: &std::path::Path) -> tempfile::TempDir {
    let orders = examples_dir().join("data/orders.csv");
    let task = |schedule: &str, name: &str| {
        format!(
            "type = \"MTT\"\n{schedule}[[sources]]\nname = \"o\"\nformat = \"csv\"\npath = \"{}\"\n[target]\nformat = \"csv\"\npath = \"{}/{name}.csv\"\n",
            orders.display(),
            out.display()
        )
    };
    defs_dir(&[
        (
            "schedules/every-second.toml",
            "kind = \"schedule\"\ntimezone = \"UTC\"\ncron = \"* * * * * *\"\ncatch_up = \"none\"\n",
        ),
        (
            "work/ticker.toml",
            &task("schedules = [{ schedule = \"every-second\" }]\n", "ticker"),
        ),
        ("work/copy.toml", &task("", "copy")),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_counts_the_work_done_and_feeds_the_dashboard() {
    let out = tempfile::tempdir().unwrap();
    let defs = defs(out.path());
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(defs.path(), None, &[]).await;
    let start = StartRun {
        task: "work/copy".into(),
        callback_url: Some(receiver.url("/done")),
        ..StartRun::default()
    };
    let run = app.runs().start(&start).expect(201).await;
    let ended = app.wait_end(&run, 60).await;
    assert_eq!(ended.state, "completed", "{ended:?}");
    receiver.received(1, secs(30)).await;
    // A scheduled run has ended too.
    eventually(secs(30), async || {
        let list: RunList = app.get("/api/v1/runs?limit=1000").typed().expect(200).await;
        list.runs
            .iter()
            .any(|r| r.trigger == "schedule" && r.finished)
            .then_some(())
    })
    .await;

    let (text, s) = eventually(secs(10), async || {
        let text = app.anonymous().get("/metrics").expect_text(200).await;
        let s = samples(&text);
        // The delivery is counted once its attempt is recorded, a moment after it arrived.
        (total(
            &s,
            "sluice_callback_attempts_total",
            &[("outcome", "delivered")],
        ) == 1.0)
            .then_some((text, s))
    })
    .await;
    let api = [("trigger", "api"), ("task_type", "MTT")];
    assert_eq!(total(&s, "sluice_runs_started_total", &api), 1.0, "{text}");
    let completed = [("trigger", "api"), ("outcome", "completed")];
    assert_eq!(
        total(&s, "sluice_runs_ended_total", &completed),
        1.0,
        "{text}"
    );
    assert_eq!(total(&s, "sluice_run_duration_seconds_count", &api), 1.0);
    assert!(total(&s, "sluice_runs_started_total", &[("trigger", "schedule")]) >= 1.0);
    assert!(total(&s, "sluice_schedule_fires_total", &[("outcome", "queued")]) >= 1.0);
    assert!(total(&s, "sluice_run_pickup_seconds_count", &[]) >= 2.0);
    assert!(total(&s, "sluice_run_start_seconds_count", &[]) >= 2.0);
    assert_eq!(total(&s, "sluice_callbacks_given_up_total", &[]), 0.0);
    assert_eq!(total(&s, "sluice_runs_lost_total", &[]), 0.0);
    assert_eq!(total(&s, "sluice_up", &[]), 1.0);
    assert!(
        s.iter()
            .any(|x| x.name == "sluice_runs" && x.labels["state"] == "queued")
    );
    assert!(
        total(
            &s,
            "sluice_store_query_seconds_count",
            &[("op", "claim_runs")]
        ) > 0.0
    );
    assert!(
        total(&s, "process_resident_memory_bytes", &[]) > 0.0,
        "{text}"
    );
    // Bounded labels: no run ids, no task names.
    assert!(!text.contains(&run.id.to_string()), "{text}");
    assert!(!text.contains("copy") && !text.contains("ticker"), "{text}");

    // Every metric a dashboard panel queries is one this node exports.
    let path = examples_dir().join("../ops/grafana/sluice-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut used = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let words = expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
            used.extend(
                words
                    .filter(|w| w.starts_with("sluice_") || w.starts_with("process_"))
                    .map(str::to_string),
            );
        }
    }
    assert!(used.len() >= 10, "{used:?}");
    for name in &used {
        assert!(
            s.iter().any(|x| &x.name == name),
            "the dashboard uses {name}, which the scrape does not have:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_while_the_schema_is_behind_and_a_token_guards_the_scrape() {
    let Some(db) = pg_database().await else {
        return;
    };
    let app = TestApp::spawn_with(
        &examples_dir(),
        None,
        &[
            ("SLUICE_STORE", db.url.as_str()),
            ("SLUICE_METRICS__TOKEN", "scrape-secret"),
        ],
    )
    .await;
    app.anonymous().get("/readyz").expect_status(200).await;
    let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let latest: i64 = client
        .query_one("SELECT max(version) FROM _sqlx_migrations", &[])
        .await
        .unwrap()
        .get(0);
    // As if the database had been migrated by an older build only.
    client
        .execute(
            "UPDATE _sqlx_migrations SET success = false WHERE version = $1",
            &[&latest],
        )
        .await
        .unwrap();
    let said = app.anonymous().get("/readyz").expect_json(503).await;
    assert!(
        said["store"]
            .as_str()
            .unwrap()
            .contains(&latest.to_string()),
        "{said}"
    );
    client
        .execute(
            "UPDATE _sqlx_migrations SET success = true WHERE version = $1",
            &[&latest],
        )
        .await
        .unwrap();
    app.anonymous().get("/readyz").expect_status(200).await;

    app.anonymous().get("/metrics").expect_status(401).await;
    let text = app
        .anonymous()
        .get("/metrics")
        .header("authorization", "Bearer scrape-secret")
        .expect_text(200)
        .await;
    assert!(text.contains("sluice_up 1"), "{text}");
}
