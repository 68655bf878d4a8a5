//! Schedules on a real server and a real clock kept short (a per-second schedule): fires make
//! runs with trigger `schedule`, each fire once; pause, resume, the coming fires, bad input; and
//! two nodes on one PostgreSQL firing one schedule, one killed and restarted meanwhile, with
//! every fire made exactly once.

use super::support::*;
use serde_json::json;
use sluice_types::{RunList, RunView, ScheduleFires, ScheduleView};
use std::time::Duration;

/// A quick task on the per-second schedule, passing a parameter.
fn defs(out: &std::path::Path) -> tempfile::TempDir {
    let task = format!(
        "type = \"MTT\"\nallow_parallel = true\nschedules = [{{ schedule = \"every-second\", parameters = {{ tag = \"fired\" }} }}]\n[[sources]]\nname = \"o\"\nformat = \"csv\"\npath = \"{}\"\n[target]\nformat = \"csv\"\npath = \"{}/out-${{tag}}.csv\"\n",
        examples_dir().join("data/orders.csv").display(),
        out.display()
    );
    let schedule = "kind = \"schedule\"\ntimezone = \"Europe/Berlin\"\ncron = \"* * * * * *\"\ncatch_up = \"all\"\n";
    defs_dir(&[
        ("schedules/every-second.toml", schedule),
        ("work/ticker.toml", &task),
    ])
}

async fn scheduled_runs(app: &TestApp) -> Vec<RunView> {
    let list: RunList = app.get("/api/v1/runs?limit=1000").typed().expect(200).await;
    list.runs
        .into_iter()
        .filter(|r| r.trigger == "schedule")
        .collect()
}

/// The fire times, sorted; panics on a fire made twice.
fn fire_times(runs: &[RunView]) -> Vec<chrono::DateTime<chrono::Utc>> {
    let mut ats: Vec<_> = runs
        .iter()
        .map(|r| r.fire_at.expect("a fire time"))
        .collect();
    ats.sort();
    let n = ats.len();
    ats.dedup();
    assert_eq!(n, ats.len(), "a fire was made twice: {runs:#?}");
    ats
}

/// Every second from the first fire to the last has its run: no fire lost.
fn assert_consecutive(ats: &[chrono::DateTime<chrono::Utc>]) {
    for pair in ats.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            chrono::Duration::seconds(1),
            "a fire is missing: {ats:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_second_schedule_fires_each_second_once_and_obeys_pause() {
    let out = tempfile::tempdir().unwrap();
    let defs = defs(out.path());
    let app = TestApp::spawn_with(defs.path(), None, &[]).await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let runs = scheduled_runs(&app).await;
    assert!(runs.len() >= 2, "fired {} times in 3.5 s", runs.len());
    for r in &runs {
        assert_eq!(r.schedule.as_deref(), Some("every-second"));
        assert_eq!(r.started_by, "every-second");
        assert_eq!(r.parameters.get("tag").map(String::as_str), Some("fired"));
        assert_eq!(
            r.fire_at.unwrap().timestamp_subsec_nanos(),
            0,
            "fires fall on whole seconds"
        );
    }
    assert_consecutive(&fire_times(&runs));
    let done = app.wait_end(&runs[0], 30).await;
    assert_eq!(done.state, "completed", "{done:?}");

    let paused: ScheduleView = app
        .api()
        .post("/api/v1/schedules/every-second/pause", json!({}))
        .typed()
        .expect(200)
        .await;
    assert!(paused.paused && paused.next_fire_at.is_none());
    // A pass in flight may still land; after it, nothing more.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let at_pause = scheduled_runs(&app).await.len();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(
        scheduled_runs(&app).await.len(),
        at_pause,
        "a paused schedule fired"
    );

    let resumed: ScheduleView = app
        .api()
        .post("/api/v1/schedules/every-second/resume", json!({}))
        .typed()
        .expect(200)
        .await;
    assert!(!resumed.paused && resumed.next_fire_at.is_some());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after = scheduled_runs(&app).await;
    assert!(after.len() > at_pause, "a resumed schedule fires again");
    // The paused seconds were not caught up: a gap in the fires, and no fire twice.
    let ats = fire_times(&after);
    assert!(
        ats.windows(2)
            .any(|p| p[1] - p[0] >= chrono::Duration::seconds(2))
    );

    // Deleting stops the fires and keeps the runs.
    app.api()
        .request(reqwest::Method::DELETE, "/api/v1/schedules/every-second")
        .expect_status(204)
        .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let kept = scheduled_runs(&app).await.len();
    assert!(kept >= after.len());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(scheduled_runs(&app).await.len(), kept);
}

/// The `sluice` CLI against `app`, as the admin.
fn cli(app: &TestApp, args: &[&str]) -> String {
    let out = tokio::task::block_in_place(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(args)
            .env("SLUICE_URL", &app.url)
            .env("SLUICE_TOKEN", &app.token)
            .output()
            .unwrap()
    });
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_are_defined_checked_and_listed_through_the_api() {
    let app = TestApp::spawn().await;
    let made: ScheduleView = app
        .api()
        .post(
            "/api/v1/schedules",
            json!({"name": "nightly", "timezone": "America/New_York", "cron": "30 2 * * *"}),
        )
        .typed()
        .expect(201)
        .await;
    assert_eq!((made.catch_up.as_str(), made.paused), ("last", false));
    let next: ScheduleFires = app
        .get("/api/v1/schedules/nightly/next?count=3")
        .typed()
        .expect(200)
        .await;
    assert_eq!(next.fires.len(), 3);
    assert!(
        next.local
            .iter()
            .all(|l| l.contains("T02:30:00") || l.contains("T03:00:00")),
        "{next:?}"
    );
    app.api()
        .post(
            "/api/v1/schedules",
            json!({"name": "nightly", "cron": "0 * * * *"}),
        )
        .expect_error(409)
        .await;
    for (body, field) in [
        (json!({"name": "bad", "cron": "61 * * * *"}), "cron:"),
        (
            json!({"name": "bad", "cron": "0 * * * *", "timezone": "Mars/Olympus"}),
            "timezone:",
        ),
        (
            json!({"name": "bad", "cron": "0 * * * *", "catch_up": "sometimes"}),
            "catch_up:",
        ),
        (json!({"name": "bad"}), "cron: missing"),
        (json!({"name": "bad", "cron": "1,".repeat(400)}), "cron:"),
    ] {
        let e = app
            .api()
            .post("/api/v1/schedules", body)
            .expect_error(422)
            .await;
        assert_eq!(e.code, "invalid_definition");
        assert!(e.message.contains(field), "{field}: {}", e.message);
    }
    // A task naming a schedule that does not exist is refused, and nothing is made.
    let task = json!({"name": "t", "type": "MTT", "schedules": ["no-such"],
        "definition": {"sources": [{"name": "o", "format": "csv", "path": "o.csv"}],
                       "target": {"format": "csv", "path": "x.csv"}}});
    let e = app
        .api()
        .post("/api/v1/tasks", task)
        .expect_error(422)
        .await;
    assert!(
        e.message.contains("no schedule named `no-such`"),
        "{}",
        e.message
    );
    app.get("/api/v1/tasks/Default/t").expect_status(404).await;
    let listed: Vec<ScheduleView> = app.get("/api/v1/schedules").typed().expect(200).await;
    assert_eq!(
        listed.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["nightly"]
    );

    // The CLI: the table, the coming fires in both clocks, pause, and a backfill.
    let table = cli(&app, &["schedules"]);
    assert!(
        table.contains("nightly") && table.contains("cron 30 2 * * *"),
        "{table}"
    );
    let next = cli(&app, &["schedules", "next", "nightly", "--count", "2"]);
    assert_eq!(
        next.matches("-04:00").count() + next.matches("-05:00").count(),
        2,
        "{next}"
    );
    assert!(cli(&app, &["schedules", "pause", "nightly"]).contains("paused"));
    let backfill = cli(
        &app,
        &[
            "schedules",
            "backfill",
            "nightly",
            "--from",
            "2026-11-01T00:00:00Z",
            "--to",
            "2026-11-03T23:00:00Z",
        ],
    );
    assert!(backfill.contains("3 fires, 0 runs made"), "{backfill}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_make_every_fire_exactly_once_through_a_node_kill() {
    let Some(db) = pg_database().await else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let defs = defs(out.path());
    let dirs = tempfile::tempdir().unwrap();
    let env = |name: &'static str| {
        vec![
            ("SLUICE_STORE", db.url.clone()),
            ("SLUICE_NODE_NAME", name.to_string()),
            ("SLUICE_WORKER__LEASE_SECS", "5".to_string()),
        ]
    };
    let node = |name: &'static str| {
        let env = env(name);
        let dir = dirs.path().join(name);
        let defs = defs.path().to_path_buf();
        async move {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            TestApp::spawn_with(&defs, Some(&dir), &env).await
        }
    };
    let a = node("node-a").await;
    let mut b = node("node-b").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    b.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let b = node("node-b").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    a.api()
        .post("/api/v1/schedules/every-second/pause", json!({}))
        .expect(200)
        .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let runs = scheduled_runs(&b).await;
    let ats = fire_times(&runs);
    assert!(ats.len() >= 8, "{} fires in about 10 s", ats.len());
    assert_consecutive(&ats);
}
