//! IICS jobs over real HTTP in the order real clients call them: login, v3 lookup, start by
//! federated id / task name / task id, poll activityMonitor until the run leaves it, then read
//! activityLog and check `state` and the row counts; stops; parameter files; callbacks.

use super::support::*;
use axum::{Json, Router, http::StatusCode, routing::post};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An IICS client of a test server: a v2 session and the `serverUrl` login answered.
pub struct Iics {
    pub http: reqwest::Client,
    pub server_url: String,
    pub session: String,
}

impl Iics {
    pub async fn login(server: &TestServer) -> Iics {
        let resp = server
            .http
            .post(format!("{}/ma/api/v2/user/login", server.url))
            .json(&json!({"@type": "login", "username": ADMIN, "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let user: Value = resp.json().await.unwrap();
        Iics {
            http: server.http.clone(),
            server_url: user["serverUrl"].as_str().unwrap().to_string(),
            session: user["icSessionId"].as_str().unwrap().to_string(),
        }
    }

    /// POSTs raw text to `<serverUrl><path>` with the session in `icSessionId`.
    pub async fn post_text(&self, path: &str, body: &str) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.server_url))
            .header("icSessionId", &self.session)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post_text(path, &body.to_string()).await
    }

    /// GETs `<serverUrl><path>`, the session in `INFA-SESSION-ID` (clients mix them).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.server_url))
            .header("INFA-SESSION-ID", &self.session)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Polls activityMonitor until the run of `task_id` numbered `run_id` has left it.
    pub async fn wait_gone(&self, task_id: &str, run_id: i64, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let (status, list) = self
                .get("/api/v2/activity/activityMonitor?details=true")
                .await;
            assert_eq!(status, 200, "{list}");
            let here = list
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["taskId"] == task_id && e["runId"] == run_id);
            if !here {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "run {run_id} still in activityMonitor"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The activityLog entry of one run (empty answer = still running, as clients read it).
    pub async fn log_entry(&self, task_id: &str, run_id: i64) -> Value {
        let (status, list) = self
            .get(&format!(
                "/api/v2/activity/activityLog?taskId={task_id}&runId={run_id}"
            ))
            .await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        list[0].clone()
    }
}

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
    let server = TestServer::start().await;
    let c = Iics::login(&server).await;

    // v3 lookup by path with the v2 session, on the v2 serverUrl (clients do both).
    let (status, found) = c
        .post(
            "/public/core/v3/lookup",
            json!({"objects": [{"path": "sales/gift_orders", "type": "mtt"}]}),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    let federated = found["objects"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(federated.len(), 22);
    assert_eq!(found["objects"][0]["type"], "MTT");

    // Start by federated id, with a trailing comma and the type in another case.
    let (status, job) = c
        .post_text(
            "/api/v2/job",
            &format!(r#"{{"@type": "job", "taskFederatedId": "{federated}", "taskType": "mtt",}}"#),
        )
        .await;
    assert_eq!(status, 200, "{job}");
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
    let (status, job) = c
        .post(
            "/api/v2/job",
            json!({"@type": "job", "taskName": "gift_orders", "taskType": "MTT"}),
        )
        .await;
    assert_eq!((status, job["runId"].clone()), (200, json!(2)), "{job}");
    let (status, job) = c
        .post(
            "/api/v2/job",
            json!({"@type": "job", "taskId": task_id, "taskType": "MTT"}),
        )
        .await;
    assert_eq!((status, job["runId"].clone()), (200, json!(3)), "{job}");
    c.wait_gone(&task_id, 2, 120).await;
    c.wait_gone(&task_id, 3, 120).await;
    assert_eq!(c.log_entry(&task_id, 3).await["state"], 1);

    // The whole log: newest first, paged with offset and rowLimit; one entry by its id.
    let (_, all) = c.get("/api/v2/activity/activityLog").await;
    let runs: Vec<i64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["runId"].as_i64().unwrap())
        .collect();
    assert_eq!(runs, vec![3, 2, 1]);
    let (_, page) = c
        .get("/api/v2/activity/activityLog?offset=1&rowLimit=1")
        .await;
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(page[0]["runId"], 2);
    let id = all[0]["id"].as_str().unwrap();
    let (status, one) = c.get(&format!("/api/v2/activity/activityLog/{id}")).await;
    assert_eq!((status, one["runId"].clone()), (200, json!(3)));

    // The session log is a download named after the task and run.
    let resp = c
        .http
        .get(format!(
            "{}/api/v2/activity/activityLog/{id}/sessionLog",
            c.server_url
        ))
        .header("icSessionId", &c.session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let disposition = resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(disposition.contains("gift_orders_3.log"), "{disposition}");
    let text = resp.text().await.unwrap();
    assert!(text.contains("INFO"), "{text}");

    // v2 task list by type; v3 objects filtered by type and location.
    let (status, tasks) = c.get("/api/v2/task?type=MTT").await;
    assert_eq!(status, 200);
    assert!(
        tasks
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == task_id.as_str())
    );
    assert!(tasks.as_array().unwrap().iter().all(|t| t["type"] == "MTT"));
    let (status, objects) = c
        .get("/public/core/v3/objects?q=type=='MTT'%20and%20location=='sales'&limit=1&skip=0")
        .await;
    assert_eq!(status, 200, "{objects}");
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
    let server = TestServer::start_with(defs.path(), None, &[]).await;
    let c = Iics::login(&server).await;
    for (n, query) in [(1, ""), (2, "?cleanStop=true")] {
        let (status, job) = c
            .post(
                "/api/v2/job",
                json!({"taskName": "slow", "taskType": "MTT"}),
            )
            .await;
        assert_eq!((status, job["runId"].clone()), (200, json!(n)), "{job}");
        assert_eq!(job["runInParallel"], false);
        let task_id = job["taskId"].as_str().unwrap().to_string();
        // Wait until it moves data, as a client watching activityMonitor would.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, list) = c
                .get(&format!(
                    "/api/v2/activity/activityMonitor?taskId={task_id}"
                ))
                .await;
            if list
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["executionState"] == "RUNNING")
            {
                break;
            }
            assert!(Instant::now() < deadline, "never running: {list}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A second start of a task that may not run in parallel is refused.
        let (status, e) = c
            .post(
                "/api/v2/job",
                json!({"taskName": "slow", "taskType": "MTT"}),
            )
            .await;
        assert_eq!((status, e["@type"].clone()), (400, json!("error")), "{e}");
        let (status, done) = c
            .post(
                &format!("/api/v2/job/stop{query}"),
                json!({"taskId": task_id, "taskType": "MTT"}),
            )
            .await;
        assert_eq!(status, 200, "{done}");
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
        let (status, e) = c
            .post(
                "/api/v2/job/stop",
                json!({"taskId": task_id, "taskType": "MTT"}),
            )
            .await;
        assert_eq!((status, e["statusCode"].clone()), (400, json!(400)), "{e}");
    }
}

#[tokio::test]
async fn parameter_files_and_callbacks_in_the_iics_shape() {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let g = got.clone();
    let receiver = Router::new().route(
        "/done",
        post(move |Json(body): Json<Value>| {
            let g = g.clone();
            async move {
                g.lock().unwrap().push(body);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });

    let server = TestServer::start().await;
    let params = server.data_dir.join("parameters/nightly");
    std::fs::create_dir_all(&params).unwrap();
    std::fs::write(
        params.join("gift.param"),
        "#USE_SECTIONS\n[Global]\n$$country=FR\n[sales].[gift_orders]\n$$country=DE\n",
    )
    .unwrap();
    let c = Iics::login(&server).await;
    let (status, job) = c
        .post(
            "/api/v2/job",
            json!({
                "@type": "job", "taskName": "gift_orders", "taskType": "MTT",
                "callbackURL": format!("http://{addr}/done"),
                "runtime": {"@type": "mtTaskRuntime", "parameterFileName": "gift.param",
                            "parameterFileDir": "nightly"},
            }),
        )
        .await;
    assert_eq!(status, 200, "{job}");
    let task_id = job["taskId"].as_str().unwrap().to_string();
    c.wait_gone(&task_id, 1, 120).await;
    let entry = c.log_entry(&task_id, 1).await;
    assert_eq!(entry["successTargetRows"], gift_orders("DE"), "{entry}");
    assert!(
        server
            .data_dir
            .join("output/sales/gift_orders_DE.jsonl")
            .is_file()
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    while got.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no callback");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let body = got.lock().unwrap()[0].clone();
    assert_eq!(body["@type"], "callbackUrlResponse");
    assert_eq!(body["objectId"], task_id.as_str());
    assert_eq!(body["objectName"], "gift_orders");
    assert_eq!(body["runId"], 1);
    assert_eq!(body["status"], "COMPLETED");
    assert!(body["endTime"].as_str().unwrap().ends_with('Z'));

    // The file may sit at the top level too; a missing one or one outside the directory is a 400.
    std::fs::write(
        server.data_dir.join("parameters/top.param"),
        "$$country=IN\n",
    )
    .unwrap();
    let (status, job) = c
        .post(
            "/api/v2/job",
            json!({"taskName": "gift_orders", "taskType": "MTT", "parameterFileName": "top.param"}),
        )
        .await;
    assert_eq!(status, 200, "{job}");
    c.wait_gone(&task_id, 2, 120).await;
    assert_eq!(
        c.log_entry(&task_id, 2).await["successTargetRows"],
        gift_orders("IN")
    );
    for file in ["missing.param", "../admin-password", "/etc/passwd"] {
        let (status, e) = c
            .post(
                "/api/v2/job",
                json!({"taskName": "gift_orders", "taskType": "MTT", "parameterFileName": file}),
            )
            .await;
        assert_eq!(
            (status, e["@type"].clone()),
            (400, json!("error")),
            "{file}: {e}"
        );
    }
}
