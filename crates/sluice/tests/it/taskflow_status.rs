//! IICS taskflow status as clients read it: `RunId` answered as a string, `status?runId=` gives
//! that run alone, every field clients index is there, steps in `subtaskDetails.details.tasks`,
//! a nested taskflow's steps reached through its own `runId`; the list form paged in the store.

use super::support::*;
use serde_json::{Value, json};

const CSV: &str = "id,country,amount\n1,DE,10\n2,FR,20\n3,DE,30\n4,US,40\n";

/// Every field of a status object, and of each step.
const FIELDS: [&str; 15] = [
    "assetName",
    "assetType",
    "runId",
    "location",
    "status",
    "startTime",
    "endTime",
    "updateTime",
    "duration",
    "runtimeEnv",
    "runtimeEnvName",
    "startedBy",
    "errorMessage",
    "rowsProcessed",
    "erroredRows",
];

fn mapping(sql: &str, out: &str) -> String {
    format!(
        "type = \"MTT\"\nallow_parallel = true\n[[sources]]\nname = \"orders\"\nformat = \"csv\"\npath = \"orders.csv\"\n\
         [transform]\nsql = \"{sql}\"\n[target]\nformat = \"csv\"\npath = \"${{sluice.data_dir}}/{out}_${{sluice.run_number}}.csv\"\n"
    )
}

fn flow(steps: &[&str]) -> String {
    let mut s = String::from("type = \"WORKFLOW\"\n");
    for task in steps {
        s.push_str(&format!("[[steps]]\ntask = \"{task}\"\n"));
    }
    s
}

fn has_every_field(object: &Value) {
    for f in FIELDS {
        assert!(object.get(f).is_some(), "`{f}` missing from {object}");
    }
    for f in ["assetName", "assetType", "runId", "location", "status"] {
        assert!(object[f].is_string(), "`{f}` of {object}");
    }
    for f in ["duration", "rowsProcessed", "erroredRows"] {
        assert!(object[f].is_u64(), "`{f}` of {object}");
    }
}

fn steps(status: &Value) -> Vec<Value> {
    let tasks = status["subtaskDetails"]["details"]["tasks"].as_array();
    let tasks = tasks
        .unwrap_or_else(|| panic!("no steps in {status}"))
        .clone();
    assert_eq!(status["subtasks"], json!(tasks.len()), "{status}");
    tasks
}

#[tokio::test]
async fn taskflow_status_answers_one_run_every_field_and_nested_steps() {
    let out = tempfile::tempdir().unwrap();
    let d = defs_dir(&[
        ("orders.csv", CSV),
        (
            "steps/de.toml",
            &mapping("SELECT * FROM orders WHERE country = 'DE'", "de"),
        ),
        ("steps/all.toml", &mapping("SELECT * FROM orders", "all")),
        (
            "steps/slow.toml",
            &slow_task(&out.path().join("slow.csv"), true),
        ),
        ("flows/inner.toml", &flow(&["steps/de", "steps/all"])),
        ("flows/outer.toml", &flow(&["steps/all", "flows/inner"])),
        ("flows/loop_a.toml", &flow(&["steps/all", "flows/loop_b"])),
        ("flows/loop_b.toml", &flow(&["flows/loop_a"])),
        ("flows/slow_flow.toml", &flow(&["steps/slow"])),
    ]);
    let app = TestApp::spawn_with(d.path(), None, &[]).await;
    let c = app.taskflows();

    // Two runs: `runId` picks each one, not the newest.
    let a = c.start("inner").await;
    let first = c.until_ended(&a).await;
    let b = c.start("outer").await;
    let outer = c.until_ended(&b).await;
    assert_eq!(c.one(&a).await["runId"], a);
    assert_eq!(outer["runId"], b);

    // Every field, on the run and on each step.
    has_every_field(&first);
    assert_eq!(
        (
            &first["status"],
            &first["assetType"],
            &first["assetName"],
            &first["location"]
        ),
        (
            &json!("SUCCESS"),
            &json!("TASKFLOW"),
            &json!("inner"),
            &json!("flows")
        )
    );
    assert_eq!(first["startedBy"], ADMIN);
    assert_eq!(first["errorMessage"], "");
    assert_eq!(
        first["rowsProcessed"], 6,
        "2 German orders, then all 4: {first}"
    );
    assert!(first["endTime"].is_string() && first["updateTime"].is_string());
    let inner_steps = steps(&first);
    assert_eq!(inner_steps.len(), 2);
    for (step, (name, rows)) in inner_steps.iter().zip([("de", 2), ("all", 4)]) {
        has_every_field(step);
        assert_eq!(step["assetName"], name, "{step}");
        assert_eq!(step["assetType"], "MTT", "{step}");
        assert_eq!(step["location"], "steps", "{step}");
        assert_eq!(step["status"], "SUCCESS", "{step}");
        assert_eq!(step["rowsProcessed"], rows, "{step}");
        assert!(
            step["runId"].as_str().unwrap().parse::<u64>().is_ok(),
            "{step}"
        );
    }

    // A nested taskflow is a step of type TASKFLOW whose runId fetches its own status.
    let outer_steps = steps(&outer);
    assert_eq!(outer_steps[0]["assetType"], "MTT");
    let nested = &outer_steps[1];
    has_every_field(nested);
    assert_eq!(
        (
            &nested["assetType"],
            &nested["assetName"],
            &nested["status"]
        ),
        (&json!("TASKFLOW"), &json!("inner"), &json!("SUCCESS"))
    );
    let nested_id = nested["runId"].as_str().unwrap();
    let by_path = c.status(nested_id).await;
    assert_eq!(by_path["runId"], nested_id);
    assert_eq!(steps(&by_path).len(), 2);
    assert_eq!(outer["rowsProcessed"], 4 + 6, "{outer}");

    list_form(&c, &[nested_id, &b, &a]).await;
    refusals(&c, &app, &a).await;
    terminate_with_a_numeric_run_id(&c).await;
}

/// Without `runId`: taskflow runs only, newest first, paged and filtered.
async fn list_form(c: &Taskflows, newest_first: &[&str]) {
    let ids = |list: &Value| -> Vec<String> {
        let list = list.as_array().unwrap();
        list.iter()
            .map(|s| s["runId"].as_str().unwrap().to_string())
            .collect()
    };
    let all = c.get("/active-bpel/services/tf/status").expect(200).await;
    assert_eq!(ids(&all), newest_first);
    let page = c
        .get("/active-bpel/services/tf/status?offset=1&rowLimit=1")
        .send()
        .await
        .value();
    assert_eq!(ids(&page), [newest_first[1]]);
    let ok = c
        .get("/active-bpel/services/tf/status?runStatus=Success&rowLimit=50")
        .send()
        .await
        .value();
    assert_eq!(ids(&ok).len(), 3);
    let failed = c
        .get("/active-bpel/services/tf/status?runStatus=Failed")
        .send()
        .await
        .value();
    assert_eq!(ids(&failed).len(), 0);
    let later = c
        .get("/active-bpel/services/tf/status?startTime=2999-01-01T00:00:00Z")
        .send()
        .await
        .value();
    assert_eq!(ids(&later).len(), 0);
    for bad in [
        "rowLimit=0",
        "rowLimit=51",
        "offset=-1",
        "runStatus=Sleeping",
        "startTime=x",
    ] {
        let e = c
            .get(&format!("/active-bpel/services/tf/status?{bad}"))
            .send()
            .await;
        assert_eq!(e.status, 400, "{bad}: {}", e.text);
    }
}

/// Unknown runs, runs that are not taskflows, another org's runs: 404; a taskflow that runs
/// itself fails before any step, saying so.
async fn refusals(c: &Taskflows, app: &TestApp, a: &str) {
    let missing = format!("/active-bpel/services/tf/status?runId={}", u128::MAX / 3);
    let e = c.get(&missing).expect(404).await;
    assert_eq!(e["@type"], "error", "{e}");
    let runs = app.runs().list("?task=steps/all&limit=1").expect(200).await;
    let mapping_run = runs.runs[0].id;
    c.get(&format!(
        "/active-bpel/services/tf/status?runId={mapping_run}"
    ))
    .expect_status(404)
    .await;

    let _ = app.orgs().create("tf-other").send().await;
    app.user_with_role("tf-other", "tf-other-admin", "admin")
        .await;
    let other = app
        .taskflows()
        .signed_in_as("tf-other-admin", USER_PASSWORD);
    let status_of_a = format!("/active-bpel/services/tf/status?runId={a}");
    other.get(&status_of_a).expect_status(404).await;

    let looping = c.start("loop_a").await;
    let ended = c.until_ended(&looping).await;
    assert_eq!(ended["status"], "FAILED", "{ended}");
    let why = ended["errorMessage"].as_str().unwrap();
    assert!(why.contains("may not run itself"), "{why}");
    assert!(
        why.contains("flows/loop_a → flows/loop_b → flows/loop_a"),
        "{why}"
    );
}

/// A client that sends the wide `RunId` back as a JSON number loses no digit of it.
async fn terminate_with_a_numeric_run_id(c: &Taskflows) {
    let id = c.start("slow_flow").await;
    let body = format!("{{\"runid\": [{id}]}}");
    let answer = c
        .call(
            reqwest::Method::PUT,
            "/active-bpel/services/tf/terminate",
            Some(body),
        )
        .expect(200)
        .await;
    assert_eq!(answer["runs"][0]["runId"], id);
    let ended = c.until_ended(&id).await;
    assert_eq!(ended["status"], "STOPPED", "{ended}");
}
