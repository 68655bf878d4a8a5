//! Linear taskflows: steps run in order as child runs, a failed step stops the flow unless it
//! may go on, a stop reaches the running step; driven through the IICS job and activity API and
//! the taskflow service API (`/active-bpel`).

use super::iics_jobs::Iics;
use super::support::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const CSV: &str = "id,country,amount\n1,DE,10\n2,FR,20\n3,DE,30\n4,US,40\n";

fn mapping(sql: &str, out: &str) -> String {
    format!(
        "type = \"MTT\"\nallow_parallel = true\n[[sources]]\nname = \"orders\"\nformat = \"csv\"\npath = \"orders.csv\"\n\
         [transform]\nsql = \"{sql}\"\n[target]\nformat = \"csv\"\npath = \"${{sluice.data_dir}}/{out}_${{sluice.run_number}}.csv\"\n"
    )
}

fn flow(steps: &[(&str, bool)]) -> String {
    let mut s = String::from("type = \"WORKFLOW\"\ndescription = \"a linear taskflow\"\n");
    for (task, go_on) in steps {
        s.push_str(&format!(
            "[[steps]]\ntask = \"{task}\"\ncontinue_on_error = {go_on}\n"
        ));
    }
    s
}

fn defs(slow_target: &std::path::Path) -> tempfile::TempDir {
    defs_dir(&[
        ("orders.csv", CSV),
        (
            "steps/by_country.toml",
            &mapping(
                "SELECT * FROM orders WHERE country = '${country}'",
                "by_country",
            ),
        ),
        ("steps/all.toml", &mapping("SELECT * FROM orders", "all")),
        (
            "steps/broken.toml",
            &mapping("SELECT no_such_column FROM orders", "broken"),
        ),
        ("steps/slow.toml", &slow_task(slow_target, true)),
        (
            "flows/tf_ok.toml",
            "type = \"WORKFLOW\"\n[[steps]]\ntask = \"steps/by_country\"\n[steps.parameters]\ncountry = \"DE\"\n[[steps]]\ntask = \"steps/all\"\n",
        ),
        (
            "flows/tf_fail.toml",
            &flow(&[
                ("steps/all", false),
                ("steps/broken", false),
                ("steps/all", false),
            ]),
        ),
        (
            "flows/tf_go_on.toml",
            &flow(&[
                ("steps/all", false),
                ("steps/broken", true),
                ("steps/all", false),
            ]),
        ),
        (
            "flows/tf_slow.toml",
            &flow(&[("steps/slow", false), ("steps/all", false)]),
        ),
    ])
}

/// The activityLog `state` of each step entry of a taskflow's entry.
fn step_states(entry: &Value) -> Vec<i64> {
    entry["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_i64().unwrap())
        .collect()
}

async fn job(c: &Iics, name: &str) -> (String, i64) {
    let (status, job) = c
        .post(
            "/api/v2/job",
            json!({"taskName": name, "taskType": "Workflow"}),
        )
        .await;
    assert_eq!(status, 200, "{job}");
    (
        job["taskId"].as_str().unwrap().to_string(),
        job["runId"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn steps_run_in_order_and_a_failure_stops_the_flow_unless_it_may_go_on() {
    let out = tempfile::tempdir().unwrap();
    let d = defs(&out.path().join("slow.csv"));
    let server = TestServer::start_with(d.path(), None, &[]).await;
    let c = Iics::login(&server).await;

    // All steps succeed; the parameters of a step reach its run; the flow counts its steps' rows.
    let (task_id, run_id) = job(&c, "tf_ok").await;
    c.wait_gone(&task_id, run_id, 120).await;
    let e = c.log_entry(&task_id, run_id).await;
    assert_eq!(e["state"], 1, "{e}");
    assert_eq!(e["type"], "WORKFLOW");
    let steps = e["entries"].as_array().unwrap();
    let names: Vec<&str> = steps
        .iter()
        .map(|s| s["objectName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["steps/by_country", "steps/all"]);
    assert!(steps.iter().all(|s| s["state"] == 1), "{e}");
    assert_eq!(steps[0]["successTargetRows"], 2, "country = DE: {e}");
    assert_eq!(steps[1]["successTargetRows"], 4);
    assert_eq!(e["successTargetRows"], 6, "the flow sums its steps");

    // A failing step ends the flow failed; the step after it never runs (state 4).
    let (task_id, run_id) = job(&c, "tf_fail").await;
    c.wait_gone(&task_id, run_id, 120).await;
    let e = c.log_entry(&task_id, run_id).await;
    assert_eq!(e["state"], 3, "{e}");
    let states = step_states(&e);
    assert_eq!(states, [1, 3, 4], "{e}");
    let msg = e["errorMsg"].as_str().unwrap();
    assert!(msg.contains("Step 2 `steps/broken`"), "{msg}");
    assert!(
        msg.contains("no_such_column"),
        "the step's own error: {msg}"
    );

    // With continue_on_error the flow goes on and completes with errors.
    let (task_id, run_id) = job(&c, "tf_go_on").await;
    c.wait_gone(&task_id, run_id, 120).await;
    let e = c.log_entry(&task_id, run_id).await;
    assert_eq!(e["state"], 2, "{e}");
    let states = step_states(&e);
    assert_eq!(states, [1, 3, 1], "{e}");

    // A mapping task is not a taskflow: the type is checked.
    let (status, err) = c
        .post(
            "/api/v2/job",
            json!({"taskName": "tf_ok", "taskType": "MTT"}),
        )
        .await;
    assert_eq!(
        (status, err["@type"].clone()),
        (400, json!("error")),
        "{err}"
    );
}

async fn tf_status(server: &TestServer, auth: &(String, String), id: &str) -> Value {
    let resp = server
        .http
        .get(format!(
            "{}/active-bpel/services/tf/status/{id}",
            server.url
        ))
        .basic_auth(&auth.0, Some(&auth.1))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    resp.json().await.unwrap()
}

/// Polls a taskflow run's status until it is no longer RUNNING.
async fn until_ended(server: &TestServer, auth: &(String, String), id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let s = tf_status(server, auth, id).await;
        if s["status"] != "RUNNING" {
            return s;
        }
        assert!(Instant::now() < deadline, "{s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_taskflow_service_api_runs_reports_and_terminates() {
    let out = tempfile::tempdir().unwrap();
    let d = defs(&out.path().join("slow.csv"));
    let server = TestServer::start_with(d.path(), None, &[]).await;
    let auth = (ADMIN.to_string(), ADMIN_PASSWORD.to_string());

    // Run by name with HTTP Basic and an input field; the RunId is read as text (it is wide).
    let resp = server
        .http
        .post(format!("{}/active-bpel/rt/tf_ok", server.url))
        .basic_auth(ADMIN, Some(ADMIN_PASSWORD))
        .json(&json!({"country": "FR"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let answer: Value = resp.json().await.unwrap();
    let id = answer["RunId"].as_str().unwrap().to_string();
    assert!(id.parse::<u128>().is_ok(), "{answer}");
    let done = until_ended(&server, &auth, &id).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    assert_eq!(done["assetType"], "TASKFLOW");
    assert_eq!(done["assetName"], "tf_ok");
    assert_eq!(done["location"], "flows");
    assert_eq!(done["subtasks"], 2);

    // The same through the session header, under /saas, and the list form filtered by status.
    let c = Iics::login(&server).await;
    let (status, list) = c
        .get("/active-bpel/services/tf/status?runStatus=Success&rowLimit=5")
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let (status, e) = c.get("/active-bpel/services/tf/status?rowLimit=51").await;
    assert_eq!((status, e["@type"].clone()), (400, json!("error")));

    // Terminate a flow while its slow step runs: the step is stopped too.
    let resp = server
        .http
        .get(format!("{}/saas/active-bpel/rt/tf_slow", server.url))
        .header("INFA-SESSION-ID", &c.session)
        .send()
        .await
        .unwrap();
    let answer: Value = resp.json().await.unwrap();
    let id = answer["RunId"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, runs) = server.get("/api/v1/runs?task=steps/slow&limit=1").await;
        if runs["runs"][0]["state"] == "running" {
            break;
        }
        assert!(Instant::now() < deadline, "the slow step never ran: {runs}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let resp = server
        .http
        .put(format!("{}/active-bpel/services/tf/terminate", server.url))
        .header("INFA-SESSION-ID", &c.session)
        .json(&json!({"runid": [id]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let s = until_ended(&server, &auth, &id).await;
    assert_eq!(s["status"], "STOPPED", "{s}");
    assert_eq!(
        s["subtaskDetails"]["details"]["tasks"][0]["status"], "STOPPED",
        "{s}"
    );
    let (_, runs) = server.get("/api/v1/runs?task=steps/slow&limit=1").await;
    assert_eq!(runs["runs"][0]["state"], "stopped", "{runs}");
    assert_eq!(
        s["subtaskDetails"]["details"]["tasks"][1]["status"], "NOT_STARTED",
        "{s}"
    );

    // Unknown flows, tasks that are not flows, and bad credentials.
    let resp = server
        .http
        .post(format!("{}/active-bpel/rt/nope", server.url))
        .basic_auth(ADMIN, Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let resp = server
        .http
        .post(format!("{}/active-bpel/rt/all", server.url))
        .basic_auth(ADMIN, Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let resp = server
        .http
        .post(format!("{}/active-bpel/rt/tf_ok", server.url))
        .basic_auth(ADMIN, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}
