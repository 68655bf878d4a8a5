//! The Starfish v1 surface over real HTTP: a token, ExecuteJobAsync in JSON, XML and form bodies
//! for a job whose filter uses the argument (checked by the rows it wrote into PostgreSQL), the
//! webhook at a loopback receiver, idempotent and conflicting runIDs, every validation error,
//! ExecuteJob's answer, row ranges, threadCount, Results.

use super::support::*;
use axum::{Json, Router, http::StatusCode, routing::post};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CSV: &str = "id,country,amount\n1,DE,10\n2,FR,20\n3,DE,30\n4,US,40\n5,FR,50\n6,DE,60\n7,US,70\n8,DE,80\n9,FR,90\n10,US,100\n";

fn count_in_csv(country: &str) -> i64 {
    CSV.lines()
        .filter(|l| l.contains(&format!(",{country},")))
        .count() as i64
}

struct Starfish {
    url: String,
    http: reqwest::Client,
    token: String,
}

impl Starfish {
    async fn connect(server: &TestServer) -> Starfish {
        let resp = server
            .http
            .post(format!("{}/token", server.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=password&username={ADMIN}&password={ADMIN_PASSWORD}"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let t: Value = resp.json().await.unwrap();
        assert_eq!(t["token_type"], "bearer");
        assert_eq!(t["expires_in"], 5 * 24 * 3600);
        Starfish {
            url: server.url.clone(),
            http: server.http.clone(),
            token: t["access_token"].as_str().unwrap().to_string(),
        }
    }

    /// POSTs `body` with `content_type`, asking for `accept`; answers status and text.
    async fn post(
        &self,
        path: &str,
        content_type: &str,
        accept: &str,
        body: String,
    ) -> (u16, String) {
        let resp = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .header("accept", accept)
            .body(body)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    async fn json(&self, path: &str, body: Value) -> (u16, Value) {
        let (s, t) = self
            .post(
                path,
                "application/json",
                "application/json",
                body.to_string(),
            )
            .await;
        (s, serde_json::from_str(&t).unwrap_or(Value::Null))
    }

    async fn results(&self, run: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}/v1/Results/{run}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    async fn until_done(&self, run: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (s, r) = self.results(run).await;
            assert_eq!(s, 200, "{r}");
            if !["Queued", "Running"].contains(&r[0]["status"].as_str().unwrap()) {
                return r[0].clone();
            }
            assert!(Instant::now() < deadline, "{r}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn job_file(table: &str, filter: bool) -> String {
    let filter = if filter {
        "filter = \"country = '@@VAR:JobArgument@@'\"\n"
    } else {
        ""
    };
    format!(
        "type = \"DSS\"\nallow_parallel = true\n[source]\nformat = \"csv\"\npath = \"orders.csv\"\n{filter}\
         [target]\nconnection = \"pg\"\ntable = \"{table}\"\noperation = \"insert\"\ncreate = true\n"
    )
}

/// A server with the by-country job and a plain one, and their (project, job) GUIDs.
async fn setup(
    by_country: &str,
    plain: &str,
) -> (
    TestServer,
    tempfile::TempDir,
    (String, String),
    (String, String),
) {
    let defs = defs_dir(&[
        ("connections/pg.toml", &pg_connection_file()),
        ("orders.csv", CSV),
        (
            "sf/by_country.toml",
            &job_file(by_country, true).replace(
                "allow_parallel = true\n",
                "allow_parallel = true\nchain = [\"other/plain\"]\n",
            ),
        ),
        ("other/plain.toml", &job_file(plain, false)),
    ]);
    let server = TestServer::start_with(defs.path(), None, &[]).await;
    let ids = |name: &str| {
        let server = &server;
        let name = name.to_string();
        async move {
            let (_, tasks) = server.get("/api/v1/tasks").await;
            let t = tasks
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["name"] == name.as_str())
                .unwrap()
                .clone();
            (
                t["starfish_project_id"].as_str().unwrap().to_string(),
                t["starfish_job_id"].as_str().unwrap().to_string(),
            )
        }
    };
    let a = ids("by_country").await;
    let b = ids("plain").await;
    (server, defs, a, b)
}

fn guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[tokio::test]
async fn execute_job_async_in_json_xml_and_form_loads_the_rows_the_argument_names() {
    let Some(pg) = pg().await else { return };
    let (t1, t2) = (table_name("sf_country"), table_name("sf_plain"));
    let (server, _defs, (project, job), _) = setup(&t1, &t2).await;
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let g = got.clone();
    let receiver = Router::new().route(
        "/hook",
        post(move |Json(b): Json<Value>| {
            let g = g.clone();
            async move {
                g.lock().unwrap().push(b);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });
    let sf = Starfish::connect(&server).await;

    // JSON, with a webhook.
    let r1 = guid();
    let (s, a) = sf
        .json(
            "/v1/ExecuteJobAsync",
            json!({"runID": r1, "projectID": project, "jobID": job, "argument": "DE",
                   "loggingLevel": 2, "webHookURL": format!("http://{addr}/hook")}),
        )
        .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a, json!({"runID": r1, "started": true, "error": null}));
    let deadline = Instant::now() + Duration::from_secs(60);
    while got.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no webhook");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hook = got.lock().unwrap()[0].clone();
    assert_eq!(hook["runID"], r1.as_str());
    assert_eq!(hook["status"], "Complete", "{hook}");
    assert_eq!(hook["inserts"], count_in_csv("DE"), "{hook}");
    assert_eq!(hook["errors"], 0);
    assert!(
        hook["log"].as_str().unwrap().contains("INFO"),
        "loggingLevel 2 carries the log: {hook}"
    );
    let n: i64 = pg
        .query_one(
            &format!("SELECT count(*) FROM {t1} WHERE country = 'DE'"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let all: i64 = pg
        .query_one(&format!("SELECT count(*) FROM {t1}"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!((n, all), (count_in_csv("DE"), count_in_csv("DE")));

    // XML (elements in any order), answered in XML.
    let r2 = guid();
    let xml = format!(
        "<execJobAsyncRequest xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns=\"http://schemas.datacontract.org/2004/07/StarfishAPI.Controllers\">\
         <jobID>{job}</jobID><argument>FR</argument><runID>{r2}</runID><projectID>{project}</projectID></execJobAsyncRequest>"
    );
    let (s, answer) = sf
        .post(
            "/v1/ExecuteJobAsync",
            "application/xml",
            "application/xml",
            xml,
        )
        .await;
    assert_eq!(s, 200, "{answer}");
    assert!(answer.contains("<execJobAsyncResponse xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns=\"http://schemas.datacontract.org/2004/07/StarfishAPI.Controllers\"><error i:nil=\"true\"/><runID>"), "{answer}");
    assert!(answer.contains("<started>true</started>"), "{answer}");
    let done = sf.until_done(&r2).await;
    assert_eq!(
        (done["status"].as_str(), done["inserts"].as_i64()),
        (Some("Complete"), Some(count_in_csv("FR")))
    );

    // Form-urlencoded, answered in JSON (no Accept: the request's format, and form is not one).
    let r3 = guid();
    let (s, answer) = sf
        .post(
            "/v1/ExecuteJobAsync",
            "application/x-www-form-urlencoded",
            "*/*",
            format!("runID={r3}&projectID={project}&jobID={job}&argument=US"),
        )
        .await;
    assert_eq!(s, 200, "{answer}");
    sf.until_done(&r3).await;
    let all: i64 = pg
        .query_one(&format!("SELECT count(*) FROM {t1}"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(all, 10, "DE, FR and US: every row once");

    // ExecuteJob answers at the end with the result.
    let r4 = guid();
    let (s, r) = sf
        .json("/v1/ExecuteJob", json!({"runID": r4, "projectID": project, "jobID": job, "argument": "none", "instance": "x"}))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (
            r["runID"].as_str(),
            r["status"].as_str(),
            r["inserts"].as_i64()
        ),
        (Some(r4.as_str()), Some("Complete"), Some(0))
    );
    assert!(r["log"].is_null(), "loggingLevel 0: no log");
    let (s, x) = sf
        .post(
            "/v1/ExecuteJob",
            "application/json",
            "text/xml",
            json!({"runID": guid(), "projectID": project, "jobID": job, "argument": "none"})
                .to_string(),
        )
        .await;
    assert_eq!(s, 200);
    assert!(
        x.contains("<execJobResponse ") && x.contains("<status>Complete</status>"),
        "{x}"
    );

    // Results: XML list, unknown and malformed run ids.
    let resp = sf
        .http
        .get(format!("{}/v1/Results/{r1}", sf.url))
        .bearer_auth(&sf.token)
        .header("accept", "application/xml")
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("<ArrayOfresultsResponse") && text.contains("<status>Complete</status>"),
        "{text}"
    );
    assert_eq!(sf.results(&guid()).await.0, 404);
    assert_eq!(sf.results("not-a-guid").await.0, 400);
}

#[tokio::test]
async fn run_ids_are_idempotent_and_every_bad_request_is_refused() {
    let Some(pg) = pg().await else { return };
    let (t1, t2) = (table_name("sf_idem"), table_name("sf_range"));
    let (server, _defs, (project, job), (p2, plain)) = setup(&t1, &t2).await;
    let sf = Arc::new(Starfish::connect(&server).await);

    // The same request 50 times at once: one run.
    let run = guid();
    let body = json!({"runID": run, "projectID": project, "jobID": job, "argument": "DE"});
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (sf, body) = (sf.clone(), body.clone());
        set.spawn(async move { sf.json("/v1/ExecuteJobAsync", body).await });
    }
    while let Some(r) = set.join_next().await {
        let (s, a) = r.unwrap();
        assert_eq!((s, a["started"].clone()), (200, json!(true)), "{a}");
    }
    let (_, runs) = server
        .get("/api/v1/runs?task=sf/by_country&limit=100")
        .await;
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1, "{runs}");
    sf.until_done(&run).await;
    let n: i64 = pg
        .query_one(&format!("SELECT count(*) FROM {t1}"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, count_in_csv("DE"), "loaded once");
    // The runID again with another argument: refused, nothing starts.
    let (s, a) = sf
        .json(
            "/v1/ExecuteJobAsync",
            json!({"runID": run, "projectID": project, "jobID": job, "argument": "FR"}),
        )
        .await;
    assert_eq!((s, a["started"].clone()), (409, json!(false)), "{a}");
    assert!(a["error"].as_str().unwrap().contains("already used"), "{a}");

    // Every validation error, before anything runs.
    let ok = json!({"runID": guid(), "projectID": project, "jobID": job});
    let cases: Vec<(&str, Value)> = vec![
        ("runID", Value::Null),
        ("runID", json!("0123456789-0123456789-0123456789-0123")),
        ("runID", json!("not-a-guid")),
        ("projectID", Value::Null),
        ("jobID", json!("42")),
        ("loggingLevel", json!(5)),
        ("beginAtRow", json!("0")),
        ("beginAtRow", json!("x")),
        ("endAfterRow", json!("-3")),
        ("threadCount", json!("99")),
        ("chainJobs", json!("maybe")),
    ];
    for (field, value) in cases {
        let mut b = ok.clone();
        b[field] = value.clone();
        let (s, e) = sf.json("/v1/ExecuteJobAsync", b).await;
        assert_eq!(s, 400, "{field} = {value}: {e}");
        assert!(
            e["Message"].as_str().unwrap().contains(field),
            "{field}: {e}"
        );
    }
    let mut b = ok.clone();
    b["beginAtRow"] = json!("5");
    b["endAfterRow"] = json!("2");
    assert_eq!(sf.json("/v1/ExecuteJobAsync", b).await.0, 400);
    let (s, e) = sf
        .post(
            "/v1/ExecuteJobAsync",
            "application/json",
            "application/json",
            "{\"runID\": ".into(),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    let (s, e) = sf
        .post(
            "/v1/ExecuteJobAsync",
            "application/xml",
            "",
            "<execJobAsyncRequest><runID>".into(),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    assert!(
        e.contains("<Error ") && e.contains("<Message>"),
        "an XML request hears back in XML: {e}"
    );
    let (s, _) = sf
        .json(
            "/v1/ExecuteJobAsync",
            json!({"runID": guid(), "projectID": p2, "jobID": job}),
        )
        .await;
    assert_eq!(s, 404, "a job of another project");
    let (s, _) = sf
        .json(
            "/v1/ExecuteJobAsync",
            json!({"runID": guid(), "projectID": project, "jobID": guid()}),
        )
        .await;
    assert_eq!(s, 404);
    let resp = sf
        .http
        .post(format!("{}/v1/ExecuteJobAsync", sf.url))
        .json(&ok)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let resp = sf
        .http
        .post(format!("{}/token", sf.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=password&username={ADMIN}&password=wrong"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    // The Starfish token is a Sluice API token.
    let resp = sf
        .http
        .get(format!("{}/api/v1/tasks", sf.url))
        .bearer_auth(&sf.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);

    // beginAtRow/endAfterRow: exactly those rows; threadCount 4 loads the same as 1.
    for threads in ["1", "4"] {
        pg.execute(&format!("DROP TABLE IF EXISTS {t2}"), &[])
            .await
            .unwrap();
        let r = guid();
        let (s, a) = sf
            .json(
                "/v1/ExecuteJobAsync",
                json!({"runID": r, "projectID": p2, "jobID": plain,
            "beginAtRow": "3", "endAfterRow": "6", "threadCount": threads}),
            )
            .await;
        assert_eq!(s, 200, "{a}");
        let done = sf.until_done(&r).await;
        assert_eq!(done["status"], "Complete", "{done}");
        let ids: Vec<i64> = pg
            .query(&format!("SELECT id FROM {t2} ORDER BY id"), &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(ids, vec![3, 4, 5, 6], "threadCount {threads}");
    }
}

#[tokio::test]
async fn chained_jobs_run_in_order_and_results_lists_each() {
    let Some(pg) = pg().await else { return };
    let (t1, t2) = (table_name("sf_chain_a"), table_name("sf_chain_b"));
    let (server, _defs, (project, job), _) = setup(&t1, &t2).await;
    let sf = Starfish::connect(&server).await;
    // Without chainJobs: the job alone.
    let alone = guid();
    let (s, a) = sf
        .json(
            "/v1/ExecuteJobAsync",
            json!({"runID": alone, "projectID": project, "jobID": job, "argument": "US"}),
        )
        .await;
    assert_eq!(s, 200, "{a}");
    sf.until_done(&alone).await;
    assert_eq!(sf.results(&alone).await.1.as_array().unwrap().len(), 1);
    // With it: the job, then the chained one, each with its own result.
    let run = guid();
    let (s, a) = sf.json("/v1/ExecuteJobAsync", json!({"runID": run, "projectID": project, "jobID": job, "argument": "DE", "chainJobs": true})).await;
    assert_eq!(s, 200, "{a}");
    sf.until_done(&run).await;
    let (_, results) = sf.results(&run).await;
    let list = results.as_array().unwrap();
    assert_eq!(list.len(), 2, "{results}");
    assert_eq!(
        (list[0]["status"].as_str(), list[0]["inserts"].as_i64()),
        (Some("Complete"), Some(count_in_csv("DE")))
    );
    assert_eq!(list[1]["jobName"], "other/plain");
    assert_eq!(
        (list[1]["status"].as_str(), list[1]["inserts"].as_i64()),
        (Some("Complete"), Some(10)),
        "{results}"
    );
    let n: i64 = pg
        .query_one(&format!("SELECT count(*) FROM {t2}"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 10, "the chained job loaded every row");
}

#[tokio::test]
async fn the_inbound_webhook_takes_the_raw_body_with_a_token_or_the_jobs_key() {
    let Some(pg) = pg().await else { return };
    let (t1, t2) = (table_name("sf_hook_a"), table_name("sf_hook_b"));
    let (server, _defs, (project, job), (p2, plain)) = setup(&t1, &t2).await;
    let sf = Starfish::connect(&server).await;
    let hook = |q: String| format!("{}/v1/Webhook?instance=prod&projectid={q}", sf.url);

    // With the bearer token: the raw body is the argument.
    let resp = sf
        .http
        .post(hook(format!("{project}&jobid={job}")))
        .bearer_auth(&sf.token)
        .body("FR")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let a: Value = resp.json().await.unwrap();
    assert_eq!(a["started"], true, "{a}");
    let done = sf.until_done(a["runID"].as_str().unwrap()).await;
    assert_eq!(done["inserts"], count_in_csv("FR"), "{done}");

    // With the job's key, which opens that job only, and only until it is rotated.
    let (s, k) = server
        .post(&format!("/api/v1/tasks/{job}/webhook-key"), json!({}))
        .await;
    assert_eq!(s, 200, "{k}");
    let key = k["key"].as_str().unwrap().to_string();
    assert_eq!(k["starfish_job_id"], job.as_str());
    let resp = sf
        .http
        .post(hook(format!("{project}&jobid={job}")))
        .header("x-webhook-key", &key)
        .body("US")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let a: Value = resp.json().await.unwrap();
    sf.until_done(a["runID"].as_str().unwrap()).await;
    let n: i64 = pg
        .query_one(
            &format!("SELECT count(*) FROM {t1} WHERE country = 'US'"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, count_in_csv("US"));
    let resp = sf
        .http
        .post(hook(format!("{p2}&jobid={plain}&key={key}")))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401, "another job's key");
    let (_, again) = server
        .post(&format!("/api/v1/tasks/{job}/webhook-key"), json!({}))
        .await;
    assert_ne!(again["key"], k["key"]);
    let resp = sf
        .http
        .post(hook(format!("{project}&jobid={job}&key={key}")))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401, "the rotated-away key");
    let resp = sf
        .http
        .post(hook(format!("{project}&jobid={job}")))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401, "neither token nor key");
}

#[tokio::test]
async fn results_of_a_run_still_going_say_so() {
    let out = tempfile::tempdir().unwrap();
    let defs = defs_dir(&[(
        "slow/big.toml",
        &slow_task(&out.path().join("o.csv"), false),
    )]);
    let server = TestServer::start_with(defs.path(), None, &[]).await;
    let (_, tasks) = server.get("/api/v1/tasks").await;
    let t = &tasks[0];
    let sf = Starfish::connect(&server).await;
    let run = guid();
    let (s, a) = sf
        .json("/v1/ExecuteJobAsync", json!({"runID": run, "projectID": t["starfish_project_id"], "jobID": t["starfish_job_id"]}))
        .await;
    assert_eq!(s, 200, "{a}");
    let (s, r) = sf.results(&run).await;
    assert_eq!(s, 200);
    let status = r[0]["status"].as_str().unwrap();
    assert!(["Queued", "Running"].contains(&status), "{r}");
    // A second start while it runs (the job does not allow parallel runs): not started, with why.
    let (s, a) = sf
        .json("/v1/ExecuteJobAsync", json!({"runID": guid(), "projectID": t["starfish_project_id"], "jobID": t["starfish_job_id"]}))
        .await;
    assert_eq!((s, a["started"].clone()), (409, json!(false)), "{a}");
    assert!(!a["error"].as_str().unwrap().is_empty());
}
