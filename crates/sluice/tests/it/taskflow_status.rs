//! IICS taskflow status as clients read it: `RunId` answered as a string, `status?runId=` gives
//! that run alone, every field clients index is there, steps in `subtaskDetails.details.tasks`,
//! a nested taskflow's steps reached through its own `runId`; the list form paged in the store.

use super::support::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

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

struct Client<'a> {
    server: &'a TestServer,
}

impl Client<'_> {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> (u16, Value) {
        let mut req = self
            .server
            .http
            .request(method, format!("{}{path}", self.server.url))
            .basic_auth(ADMIN, Some(ADMIN_PASSWORD))
            .header("accept", "application/json");
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// Runs a taskflow by name; answers its `RunId`, which must be a string of digits.
    async fn start(&self, name: &str) -> String {
        let path = format!("/active-bpel/rt/{name}");
        let (status, body) = self.call(reqwest::Method::POST, &path, None).await;
        assert_eq!(status, 200, "{body}");
        let id = body["RunId"].as_str().expect("RunId is a string");
        assert!(id.len() > 20 && id.parse::<u128>().is_ok(), "{body}");
        id.to_string()
    }

    /// The status of one run through `?runId=`: exactly one element.
    async fn one(&self, id: &str) -> Value {
        let (status, list) = self
            .get(&format!("/active-bpel/services/tf/status?runId={id}"))
            .await;
        assert_eq!(status, 200, "{list}");
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), 1, "{list:?}");
        list[0].clone()
    }

    async fn until_ended(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let s = self.one(id).await;
            if s["status"] != "RUNNING" {
                return s;
            }
            assert!(Instant::now() < deadline, "{s}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
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
    let server = TestServer::start_with(d.path(), None, &[]).await;
    let c = Client { server: &server };

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
    let (status, by_path) = c
        .get(&format!("/active-bpel/services/tf/status/{nested_id}"))
        .await;
    assert_eq!(status, 200, "{by_path}");
    assert_eq!(by_path["runId"], nested_id);
    assert_eq!(steps(&by_path).len(), 2);
    assert_eq!(outer["rowsProcessed"], 4 + 6, "{outer}");

    list_form(&c, &[nested_id, &b, &a]).await;
    refusals(&c, &server, &a).await;
    terminate_with_a_numeric_run_id(&c).await;
}

/// Without `runId`: taskflow runs only, newest first, paged and filtered.
async fn list_form(c: &Client<'_>, newest_first: &[&str]) {
    let ids = |list: &Value| -> Vec<String> {
        let list = list.as_array().unwrap();
        list.iter()
            .map(|s| s["runId"].as_str().unwrap().to_string())
            .collect()
    };
    let (status, all) = c.get("/active-bpel/services/tf/status").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(ids(&all), newest_first);
    let (_, page) = c
        .get("/active-bpel/services/tf/status?offset=1&rowLimit=1")
        .await;
    assert_eq!(ids(&page), [newest_first[1]]);
    let (_, ok) = c
        .get("/active-bpel/services/tf/status?runStatus=Success&rowLimit=50")
        .await;
    assert_eq!(ids(&ok).len(), 3);
    let (_, failed) = c
        .get("/active-bpel/services/tf/status?runStatus=Failed")
        .await;
    assert_eq!(ids(&failed).len(), 0);
    let (_, later) = c
        .get("/active-bpel/services/tf/status?startTime=2999-01-01T00:00:00Z")
        .await;
    assert_eq!(ids(&later).len(), 0);
    for bad in [
        "rowLimit=0",
        "rowLimit=51",
        "offset=-1",
        "runStatus=Sleeping",
        "startTime=x",
    ] {
        let (status, e) = c
            .get(&format!("/active-bpel/services/tf/status?{bad}"))
            .await;
        assert_eq!(status, 400, "{bad}: {e}");
    }
}

/// Unknown runs, runs that are not taskflows, another org's runs: 404; a taskflow that runs
/// itself fails before any step, saying so.
async fn refusals(c: &Client<'_>, server: &TestServer, a: &str) {
    let missing = format!("/active-bpel/services/tf/status?runId={}", u128::MAX / 3);
    let (status, e) = c.get(&missing).await;
    assert_eq!(status, 404, "{e}");
    assert_eq!(e["@type"], "error", "{e}");
    let (_, runs) = server.get("/api/v1/runs?task=steps/all&limit=1").await;
    let mapping_run = runs["runs"][0]["id"].as_str().unwrap();
    let (status, _) = c
        .get(&format!(
            "/active-bpel/services/tf/status?runId={mapping_run}"
        ))
        .await;
    assert_eq!(status, 404);

    server
        .post("/api/v1/orgs", json!({"name": "tf-other"}))
        .await;
    super::security_roles::user_with_role(server, "tf-other", "tf-other-admin", "admin").await;
    let resp = server
        .http
        .get(format!(
            "{}/active-bpel/services/tf/status?runId={a}",
            server.url
        ))
        .basic_auth("tf-other-admin", Some("password-of-test"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);

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
async fn terminate_with_a_numeric_run_id(c: &Client<'_>) {
    let id = c.start("slow_flow").await;
    let body = format!("{{\"runid\": [{id}]}}");
    let (status, answer) = c
        .call(
            reqwest::Method::PUT,
            "/active-bpel/services/tf/terminate",
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["runs"][0]["runId"], id);
    let ended = c.until_ended(&id).await;
    assert_eq!(ended["status"], "STOPPED", "{ended}");
}
