//! What a start does when its task is busy (`on_busy`: queue keeps order, cancel_previous stops
//! the run before), retries of a failed run (linked attempts, one callback for the last), and the
//! IICS schedule resources (v2 and v3) with scheduled runs in the activity log.

use super::support::*;
use serde_json::{Value, json};
use sluice_types::{RunList, RunView, ScheduleFires, ScheduleView, StartRun};
use std::time::Duration;

/// A task whose every run fails while planning (its SQL names a column the source lacks).
fn failing_task(retries: u32) -> String {
    format!(
        "type = \"MTT\"\nallow_parallel = true\nretries = {retries}\nretry_delay_secs = 0\n[[sources]]\nname = \"o\"\nformat = \"csv\"\npath = \"{}\"\n[transform]\nsql = \"SELECT no_such_column FROM o\"\n[target]\nformat = \"csv\"\npath = \"out.csv\"\n",
        examples_dir().join("data/orders.csv").display()
    )
}

async fn runs_of(app: &TestApp, task: &str) -> Vec<RunView> {
    let list: RunList = app
        .get(&format!("/api/v1/runs?task={task}&limit=100"))
        .typed()
        .expect(200)
        .await;
    list.runs
}

#[tokio::test]
async fn a_failed_run_is_retried_as_linked_attempts_and_calls_back_once() {
    let defs = defs_dir(&[("work/flaky.toml", &failing_task(2))]);
    let app = TestApp::spawn_with(defs.path(), None, &[]).await;
    let receiver = Receiver::start().await;
    let first = app
        .runs()
        .start(&StartRun {
            task: "work/flaky".into(),
            parameters: Default::default(),
            callback_url: Some(receiver.url("/done")),
            external_id: None,
            trigger: None,
        })
        .expect(201)
        .await;
    assert_eq!((first.attempt, first.attempts), (1, 3));
    let got = receiver.received(1, Duration::from_secs(60)).await;
    let mut runs = runs_of(&app, "work/flaky").await;
    runs.sort_by_key(|r| r.attempt);
    assert_eq!(
        runs.iter().map(|r| r.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(
        runs.iter().all(|r| r.state == "failed" && r.attempts == 3),
        "{runs:#?}"
    );
    assert_eq!(runs[0].retry_of, None);
    assert_eq!(runs[1].retry_of, Some(runs[0].id));
    assert_eq!(runs[2].retry_of, Some(runs[1].id));
    let body = got[0].json();
    assert_eq!(
        (
            body["id"].as_str(),
            body["attempt"].as_u64(),
            body["attempts"].as_u64()
        ),
        (Some(runs[2].id.to_string().as_str()), Some(3), Some(3)),
        "{body}"
    );
    let log = app.messages(&runs[2], "info").await;
    assert!(log.iter().any(|l| l.contains("Attempt 3 of 3")), "{log:?}");
    // Only the last attempt calls back.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.count(), 1);
    // A task may not ask for absurd retries.
    let e = app
        .api()
        .apply_definitions(
            json!({"files": [{"path": "x/bad.toml", "content": failing_task(1000)}]}),
        )
        .expect(422)
        .await;
    assert!(
        e.errors.iter().any(|e| e.contains("retries: at most 20")),
        "{e:?}"
    );
}

/// A run of about `secs` seconds on PostgreSQL (`pg_sleep`), exclusive, with the given policy.
fn slow_task(on_busy: &str, out: &std::path::Path) -> String {
    format!(
        "type = \"MTT\"\nallow_parallel = false\non_busy = \"{on_busy}\"\n[[tables]]\nname = \"t\"\nconnection = \"pg\"\nquery = \"SELECT 1 AS id, (SELECT 1 FROM pg_sleep(1.5)) AS paced\"\n[target]\nformat = \"csv\"\npath = \"{}/{on_busy}-${{n}}.csv\"\n",
        out.display()
    )
}

async fn start_n(app: &TestApp, task: &str, n: usize) -> RunView {
    app.start_run(task, &[("n", &n.to_string())]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_tasks_queue_in_order_or_cancel_the_run_before() {
    if pg_database().await.is_none() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let defs = defs_dir(&[
        ("connections/pg.toml", &pg_connection_file()),
        ("work/queued.toml", &slow_task("queue", out.path())),
        (
            "work/latest.toml",
            &slow_task("cancel_previous", out.path()),
        ),
        ("work/single.toml", &slow_task("refuse", out.path())),
    ]);
    let app = TestApp::spawn_with(defs.path(), None, &[("SLUICE_WORKER__CONCURRENCY", "4")]).await;

    let queued: Vec<RunView> = futures_in_order(&app, "work/queued", 3).await;
    let mut ended = Vec::new();
    for r in &queued {
        ended.push(app.wait_end(r, 60).await);
    }
    for pair in ended.windows(2) {
        assert_eq!(pair[1].state, "completed");
        assert!(
            pair[1].started_at.unwrap() >= pair[0].ended_at.unwrap(),
            "one at a time, in order: {pair:#?}"
        );
    }

    let first = start_n(&app, "work/latest", 1).await;
    app.wait_for(&first, 30, |r| r.state == "running").await;
    let second = start_n(&app, "work/latest", 2).await;
    let first = app.wait_end(&first, 30).await;
    assert_eq!(first.state, "stopped", "{first:?}");
    assert!(
        first
            .stopped_by
            .as_deref()
            .unwrap_or_default()
            .contains("cancel_previous")
    );
    assert_eq!(app.wait_end(&second, 30).await.state, "completed");

    let one = start_n(&app, "work/single", 1).await;
    let refused = app
        .runs()
        .start(&StartRun {
            task: "work/single".into(),
            ..Default::default()
        })
        .expect_error(409)
        .await;
    assert_eq!(refused.code, "task_running");
    app.wait_end(&one, 30).await;
}

async fn futures_in_order(app: &TestApp, task: &str, n: usize) -> Vec<RunView> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(start_n(app, task, i).await);
    }
    out
}

#[tokio::test]
async fn iics_clients_manage_schedules_and_see_scheduled_runs() {
    let out = tempfile::tempdir().unwrap();
    let task = format!(
        "type = \"MTT\"\nallow_parallel = true\nschedules = [\"tick\"]\n[[sources]]\nname = \"o\"\nformat = \"csv\"\npath = \"{}\"\n[target]\nformat = \"csv\"\npath = \"{}/tick.csv\"\n",
        examples_dir().join("data/orders.csv").display(),
        out.path().display()
    );
    let defs = defs_dir(&[
        (
            "schedules/tick.toml",
            "kind = \"schedule\"\ncron = \"* * * * * *\"\n",
        ),
        ("work/ticked.toml", &task),
    ]);
    let app = TestApp::spawn_with(defs.path(), None, &[]).await;
    let iics = app.iics().await;

    let made = iics
        .post(
            "/api/v2/schedule",
            json!({"@type": "schedule", "name": "Weekday 6am",
            "startTime": "2026-03-02T06:00:00.000Z", "interval": "Weekly",
            "mon": true, "wed": "true", "timeZoneId": "America/New_York"}),
        )
        .expect(200)
        .await;
    assert_eq!(
        (made["@type"].as_str(), made["interval"].as_str()),
        (Some("schedule"), Some("Weekly"))
    );
    assert_eq!(made["id"].as_str().unwrap().len(), 20);
    assert_eq!(
        (
            made["mon"].as_bool(),
            made["tue"].as_bool(),
            made["wed"].as_bool()
        ),
        (Some(true), Some(false), Some(true))
    );
    assert_eq!(made["startTimeUTC"], "2026-03-02T11:00:00.000Z");
    let fires: ScheduleFires = app
        .get("/api/v1/schedules/Weekday%206am/next?count=4")
        .typed()
        .expect(200)
        .await;
    assert!(
        fires.local.iter().all(|l| l.contains("T06:00:00")),
        "{fires:?}"
    );
    let by_name = iics
        .get("/api/v2/schedule/name/weekday%206AM")
        .expect(200)
        .await;
    assert_eq!(by_name["id"], made["id"]);
    let listed = iics.get("/api/v2/schedule").expect(200).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);

    let v3 = iics
        .get("/public/core/v3/schedule?q=name=='Weekday 6am'")
        .expect(200)
        .await;
    assert_eq!(v3["count"], 1, "{v3}");
    let id = v3["schedules"][0]["id"].as_str().unwrap().to_string();
    let patch = iics
        .http
        .patch(format!(
            "{}/public/core/v3/schedule/{id}",
            iics.server_url.trim_end_matches("/saas")
        ))
        .header("INFA-SESSION-ID", &iics.session)
        .json(&json!({"id": id, "status": "disabled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 200);
    let native: ScheduleView = app
        .get("/api/v1/schedules/Weekday%206am")
        .typed()
        .expect(200)
        .await;
    assert!(native.paused);
    let bad = iics
        .post("/api/v2/schedule", json!({"name": "x", "startTime": "2026-03-02T06:00:00.000Z", "interval": "Fortnightly"}))
        .send()
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    let bad: Value = serde_json::from_str(&bad.text).unwrap();
    assert_eq!(bad["@type"], "error");
    assert!(
        bad["description"].as_str().unwrap().contains("interval"),
        "{bad}"
    );

    // A run the per-second schedule made, as the activity log shows it.
    let tasks = app.tasks().list("").expect(200).await;
    let ticked = tasks.iter().find(|t| t.name == "ticked").unwrap();
    let run = eventually(secs(20), async || {
        let runs = runs_of(&app, "work/ticked").await;
        runs.into_iter()
            .find(|r| r.finished)
            .ok_or("no scheduled run ended yet".to_string())
    })
    .await;
    let entry = iics.log_entry(&ticked.iics_task_id, run.run_number).await;
    assert_eq!(
        (
            entry["runContextType"].as_str(),
            entry["scheduleName"].as_str()
        ),
        (Some("SCHEDULER"), Some("tick"))
    );

    // Attaching a schedule to a task as IICS does: `scheduleId` on the v2 task object.
    let path = format!("/api/v2/mttask/{}", ticked.iics_task_id);
    let attached = iics
        .post(&path, json!({"@type": "mtTask", "scheduleId": made["id"]}))
        .header("Update-Mode", "PARTIAL")
        .expect(200)
        .await;
    assert_eq!(attached["scheduleId"], made["id"], "{attached}");
    assert_eq!(iics.get(&path).expect(200).await["scheduleId"], made["id"]);
    let task: sluice_types::TaskView = app
        .get(&format!("/api/v1/tasks/{}", ticked.id))
        .typed()
        .expect(200)
        .await;
    let names: Vec<&str> = task.schedules.iter().map(|b| b.schedule.as_str()).collect();
    assert_eq!(names, ["Weekday 6am"]);
    let unknown = iics.post(&path, json!({"scheduleId": "nope"})).send().await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    let detached = iics
        .post(&path, json!({"scheduleId": null}))
        .expect(200)
        .await;
    assert!(detached.get("scheduleId").is_none(), "{detached}");
}
