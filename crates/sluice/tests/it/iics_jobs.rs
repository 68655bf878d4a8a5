//! IICS jobs over real HTTP in the order real clients call them: login, v3 lookup, start by
//! federated id / task name / task id, poll activityMonitor until the run leaves it, then read
//! activityLog and check `state` and the row counts; stops; parameter files; callbacks.

use super::support::*;
use serde_json::json;

/// Gift orders of `country` in the bundled CSV, counted here from the file itself.
fn gift_orders(country: &str) -> u64 {
    let text = std::fs::read_to_string(examples_dir().join("data/orders.csv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split(',').collect();
            f[4] == country && f[9] == "gift"
        })
        .count() as u64
}

#[tokio::test]
async fn jobs_run_by_federated_id_name_and_id_as_clients_call_them() {
    let app = TestApp::spawn().await;
    let c = app.iics().await;

    // v3 lookup by path with the v2 session, on the v2 serverUrl (clients do both).
    let found = c
        .post(
            "/public/core/v3/lookup",
            json!({"objects": [{"path": "sales/gift_orders", "type": "mtt"}]}),
        )
        .expect(200)
        .await;
    let federated = found["objects"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(federated.len(), 22);
    assert_eq!(found["objects"][0]["type"], "MTT");

    // Start by federated id, with a trailing comma and the type in another case.
    let job = c
        .post_text(
            "/api/v2/job",
            &format!(r#"{{"@type": "job", "taskFederatedId": "{federated}", "taskType": "mtt",}}"#),
        )
        .expect(200)
        .await;
    assert_eq!(job["@type"], "job");
    assert_eq!(job["taskName"], "gift_orders");
    assert_eq!(job["taskFederatedId"], federated.as_str());
    assert_eq!(job["taskType"], "MTT");
    assert_eq!(job["runId"], 1);
    assert_eq!(job["runInParallel"], true);
    let task_id = job["taskId"].as_str().unwrap().to_string();
    assert_eq!(task_id.len(), 20);

    c.wait_gone(&task_id, 1, 120).await;
    let entry = c.log_entry(&task_id, 1).await;
    assert_eq!(entry["@type"], "activityLogEntry");
    assert_eq!(entry["state"], 1, "{entry}");
    assert_eq!(entry["objectId"], task_id.as_str());
    assert_eq!(entry["objectName"], "gift_orders");
    assert_eq!(entry["isStopped"], false);
    assert_eq!(entry["successSourceRows"], 2000, "every CSV row is read");
    assert_eq!(entry["successTargetRows"], gift_orders("US"), "{entry}");
    assert_eq!(entry["failedTargetRows"], 0);
    assert_eq!(entry["transformationEntries"][1]["txType"], "TARGET");
    assert!(entry["endTimeUtc"].as_str().unwrap().ends_with('Z'));
    assert!(entry["startTime"].as_str().is_some());

    // By name, then by the 20-character id: the run numbers count on.
    let job = c
        .post(
            "/api/v2/job",
            json!({"@type": "job", "taskName": "gift_orders", "taskType": "MTT"}),
        )
        .expect(200)
        .await;
    assert_eq!(job["runId"], 2, "{job}");
    let job = c
        .post(
            "/api/v2/job",
            json!({"@type": "job", "taskId": task_id, "taskType": "MTT"}),
        )
        .expect(200)
        .await;
    assert_eq!(job["runId"], 3, "{job}");
    c.wait_gone(&task_id, 2, 120).await;
    c.wait_gone(&task_id, 3, 120).await;
    assert_eq!(c.log_entry(&task_id, 3).await["state"], 1);

    // The whole log: newest first, paged with offset and rowLimit; one entry by its id.
    let all = c.get("/api/v2/activity/activityLog").expect(200).await;
    let runs: Vec<i64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["runId"].as_i64().unwrap())
        .collect();
    assert_eq!(runs, vec![3, 2, 1]);
    let page = c
        .get("/api/v2/activity/activityLog?offset=1&rowLimit=1")
        .expect(200)
        .await;
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(page[0]["runId"], 2);
    let id = all[0]["id"].as_str().unwrap();
    let one = c
        .get(&format!("/api/v2/activity/activityLog/{id}"))
        .expect(200)
        .await;
    assert_eq!(one["runId"], 3);

    // The session log is a download named after the task and run.
    let log = c
        .get(&format!("/api/v2/activity/activityLog/{id}/sessionLog"))
        .expect_status(200)
        .await;
    let disposition = log.header("content-disposition");
    assert!(disposition.contains("gift_orders_3.log"), "{disposition}");
    assert!(log.text.contains("INFO"), "{}", log.text);

    // v2 task list by type; v3 objects filtered by type and location.
    let tasks = c.get("/api/v2/task?type=MTT").expect(200).await;
    assert!(
        tasks
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == task_id.as_str())
    );
    assert!(tasks.as_array().unwrap().iter().all(|t| t["type"] == "MTT"));
    let objects = c
        .get("/public/core/v3/objects?q=type=='MTT'%20and%20location=='sales'&limit=1&skip=0")
        .expect(200)
        .await;
    assert_eq!(objects["count"], 2, "{objects}");
    assert_eq!(objects["objects"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn stop_and_clean_stop_end_the_job_failed_and_stopped() {
    let out = tempfile::tempdir().unwrap();
    let defs = defs_dir(&[(
        "ops/slow.toml",
        &slow_task(&out.path().join("o.csv"), false),
    )]);
    let app = TestApp::spawn_with(defs.path(), None, &[]).await;
    let c = app.iics().await;
    for (n, query) in [(1, ""), (2, "?cleanStop=true")] {
        let job = c
            .post(
                "/api/v2/job",
                json!({"taskName": "slow", "taskType": "MTT"}),
            )
            .expect(200)
            .await;
        assert_eq!(job["runId"], n, "{job}");
        assert_eq!(job["runInParallel"], false);
        let task_id = job["taskId"].as_str().unwrap().to_string();
        // Wait until it moves data, as a client watching activityMonitor would.
        let monitor = format!("/api/v2/activity/activityMonitor?taskId={task_id}");
        eventually(secs(60), async || {
            let list = c.get(&monitor).send().await.value();
            let running = list.as_array().unwrap().iter();
            if running.clone().any(|e| e["executionState"] == "RUNNING") {
                Ok(())
            } else {
                Err(format!("never running: {list}"))
            }
        })
        .await;
        // A second start of a task that may not run in parallel is refused.
        let e = c
            .post(
                "/api/v2/job",
                json!({"taskName": "slow", "taskType": "MTT"}),
            )
            .expect(400)
            .await;
        assert_eq!(e["@type"], "error", "{e}");
        let done = c
            .post(
                &format!("/api/v2/job/stop{query}"),
                json!({"taskId": task_id, "taskType": "MTT"}),
            )
            .expect(200)
            .await;
        assert_eq!(
            done,
            json!({"@type": "success", "description": "The job was stopped by user admin using the API."})
        );
        c.wait_gone(&task_id, n, 60).await;
        let entry = c.log_entry(&task_id, n).await;
        assert_eq!(entry["state"], 3, "{entry}");
        assert_eq!(entry["isStopped"], true);
        assert!(
            entry["errorMsg"].as_str().unwrap().contains("admin"),
            "{entry}"
        );
        // Nothing is running now: a stop has nothing to stop.
        let e = c
            .post(
                "/api/v2/job/stop",
                json!({"taskId": task_id, "taskType": "MTT"}),
            )
            .expect(400)
            .await;
        assert_eq!(e["statusCode"], 400, "{e}");
    }
}

#[tokio::test]
async fn parameter_files_and_callbacks_in_the_iics_shape() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let params = app.data_dir.join("parameters/nightly");
    std::fs::create_dir_all(&params).unwrap();
    std::fs::write(
        params.join("gift.param"),
        "#USE_SECTIONS\n[Global]\n$$country=FR\n[sales].[gift_orders]\n$$country=DE\n",
    )
    .unwrap();
    let c = app.iics().await;
    let job = c
        .post(
            "/api/v2/job",
            json!({
                "@type": "job", "taskName": "gift_orders", "taskType": "MTT",
                "callbackURL": receiver.url("/done"),
                "runtime": {"@type": "mtTaskRuntime", "parameterFileName": "gift.param",
                            "parameterFileDir": "nightly"},
            }),
        )
        .expect(200)
        .await;
    let task_id = job["taskId"].as_str().unwrap().to_string();
    c.wait_gone(&task_id, 1, 120).await;
    let entry = c.log_entry(&task_id, 1).await;
    assert_eq!(entry["successTargetRows"], gift_orders("DE"), "{entry}");
    assert!(
        app.data_dir
            .join("output/sales/gift_orders_DE.jsonl")
            .is_file()
    );

    let got = receiver.received(1, secs(30)).await;
    assert_eq!(
        (got[0].method.as_str(), got[0].path.as_str()),
        ("POST", "/done")
    );
    assert!(
        got[0]
            .header("content-type")
            .starts_with("application/json")
    );
    let body = got[0].json();
    assert_eq!(body["@type"], "callbackUrlResponse");
    assert_eq!(body["objectId"], task_id.as_str());
    assert_eq!(body["objectName"], "gift_orders");
    assert_eq!(body["runId"], 1);
    assert_eq!(body["status"], "COMPLETED");
    assert!(body["endTime"].as_str().unwrap().ends_with('Z'));

    // The file may sit at the top level too; a missing one or one outside the directory is a 400.
    std::fs::write(app.data_dir.join("parameters/top.param"), "$$country=IN\n").unwrap();
    c.post(
        "/api/v2/job",
        json!({"taskName": "gift_orders", "taskType": "MTT", "parameterFileName": "top.param"}),
    )
    .expect(200)
    .await;
    c.wait_gone(&task_id, 2, 120).await;
    assert_eq!(
        c.log_entry(&task_id, 2).await["successTargetRows"],
        gift_orders("IN")
    );
    for file in ["missing.param", "../admin-password", "/etc/passwd"] {
        let e = c
            .post(
                "/api/v2/job",
                json!({"taskName": "gift_orders", "taskType": "MTT", "parameterFileName": file}),
            )
            .expect(400)
            .await;
        assert_eq!(e["@type"], "error", "{file}: {e}");
    }
}
