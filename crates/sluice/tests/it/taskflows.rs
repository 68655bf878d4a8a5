//! Linear taskflows: steps run in order as child runs, a failed step stops the flow unless it
//! may go on, a stop reaches the running step; driven through the IICS job and activity API and
//! the taskflow service API (`/active-bpel`).

use super::support::*;
use reqwest::Method;
use serde_json::{Value, json};

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
    let job = c
        .post(
            "/api/v2/job",
            json!({"taskName": name, "taskType": "Workflow"}),
        )
        .expect(200)
        .await;
    (
        job["taskId"].as_str().unwrap().to_string(),
        job["runId"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn steps_run_in_order_and_a_failure_stops_the_flow_unless_it_may_go_on() {
    let out = tempfile::tempdir().unwrap();
    let d = defs(&out.path().join("slow.csv"));
    let app = TestApp::spawn_with(d.path(), None, &[]).await;
    let c = app.iics().await;

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
    let err = c
        .post(
            "/api/v2/job",
            json!({"taskName": "tf_ok", "taskType": "MTT"}),
        )
        .expect(400)
        .await;
    assert_eq!(err["@type"], "error", "{err}");
}

#[tokio::test]
async fn the_taskflow_service_api_runs_reports_and_terminates() {
    let out = tempfile::tempdir().unwrap();
    let d = defs(&out.path().join("slow.csv"));
    let app = TestApp::spawn_with(d.path(), None, &[]).await;
    let tf = app.taskflows();

    // Run by name with HTTP Basic and an input field; the RunId is read as text (it is wide).
    let input = json!({"country": "FR"}).to_string();
    let answer = tf
        .call(Method::POST, "/active-bpel/rt/tf_ok", Some(input))
        .expect(200)
        .await;
    let id = answer["RunId"].as_str().unwrap().to_string();
    assert!(id.parse::<u128>().is_ok(), "{answer}");
    let done = tf.until_ended_by_path(&id).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    assert_eq!(done["assetType"], "TASKFLOW");
    assert_eq!(done["assetName"], "tf_ok");
    assert_eq!(done["location"], "flows");
    assert_eq!(done["subtasks"], 2);

    // The same through the session header, under /saas, and the list form filtered by status.
    let c = app.iics().await;
    let list = c
        .get("/active-bpel/services/tf/status?runStatus=Success&rowLimit=5")
        .expect(200)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let e = c
        .get("/active-bpel/services/tf/status?rowLimit=51")
        .expect(400)
        .await;
    assert_eq!(e["@type"], "error");

    // Terminate a flow while its slow step runs: the step is stopped too.
    let answer = app
        .anonymous()
        .get("/saas/active-bpel/rt/tf_slow")
        .header("INFA-SESSION-ID", &c.session)
        .send()
        .await
        .json::<Value>();
    let id = answer["RunId"].as_str().unwrap().to_string();
    let slow = async || {
        app.runs()
            .list("?task=steps/slow&limit=1")
            .expect(200)
            .await
    };
    eventually(secs(60), async || {
        let runs = slow().await;
        match runs.runs.first() {
            Some(r) if r.state == "running" => Ok(()),
            _ => Err(format!("the slow step never ran: {runs:?}")),
        }
    })
    .await;
    app.anonymous()
        .send(
            Method::PUT,
            "/active-bpel/services/tf/terminate",
            json!({"runid": [id]}),
        )
        .header("INFA-SESSION-ID", &c.session)
        .expect_status(200)
        .await;
    let s = tf.until_ended_by_path(&id).await;
    assert_eq!(s["status"], "STOPPED", "{s}");
    assert_eq!(
        s["subtaskDetails"]["details"]["tasks"][0]["status"], "STOPPED",
        "{s}"
    );
    let runs = slow().await;
    assert_eq!(runs.runs[0].state, "stopped", "{runs:?}");
    assert_eq!(
        s["subtaskDetails"]["details"]["tasks"][1]["status"], "NOT_STARTED",
        "{s}"
    );

    // Unknown flows, tasks that are not flows, and bad credentials.
    let run = |tf: &Taskflows, name: &str| {
        tf.call(Method::POST, &format!("/active-bpel/rt/{name}"), None)
    };
    run(&tf, "nope").expect_status(404).await;
    run(&tf, "all").expect_status(400).await;
    let wrong = app.taskflows().signed_in_as(ADMIN, "wrong");
    run(&wrong, "tf_ok").expect_status(401).await;
}
