//! The Starfish v1 surface over real HTTP: a token, ExecuteJobAsync in JSON, XML and form bodies
//! for a job whose filter uses the argument (checked by the rows it wrote into PostgreSQL), the
//! webhook at a loopback receiver, idempotent and conflicting runIDs, every validation error,
//! ExecuteJob's answer, row ranges, threadCount, Results.

use super::support::*;
use serde_json::{Value, json};
use std::sync::Arc;

const CSV: &str = "id,country,amount\n1,DE,10\n2,FR,20\n3,DE,30\n4,US,40\n5,FR,50\n6,DE,60\n7,US,70\n8,DE,80\n9,FR,90\n10,US,100\n";

fn count_in_csv(country: &str) -> i64 {
    CSV.lines()
        .filter(|l| l.contains(&format!(",{country},")))
        .count() as i64
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
    TestApp,
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
    let app = TestApp::spawn_with(defs.path(), None, &[]).await;
    let tasks = app.tasks().list("").expect(200).await;
    let ids = |name: &str| {
        let t = tasks.iter().find(|t| t.name == name).unwrap();
        (
            t.starfish_project_id.to_string(),
            t.starfish_job_id.to_string(),
        )
    };
    let (a, b) = (ids("by_country"), ids("plain"));
    (app, defs, a, b)
}

fn guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[tokio::test]
async fn execute_job_async_in_json_xml_and_form_loads_the_rows_the_argument_names() {
    let Some(pg) = pg().await else { return };
    let (t1, t2) = (table_name("sf_country"), table_name("sf_plain"));
    let (app, _defs, (project, job), _) = setup(&t1, &t2).await;
    let receiver = Receiver::builder().otherwise(204).start().await;
    let sf = app.starfish().await;

    // JSON, with a webhook.
    let r1 = guid();
    let a = sf
        .json(
            "/v1/ExecuteJobAsync",
            json!({"runID": r1, "projectID": project, "jobID": job, "argument": "DE",
                   "loggingLevel": 2, "webHookURL": receiver.url("/hook")}),
        )
        .expect(200)
        .await;
    assert_eq!(a, json!({"runID": r1, "started": true, "error": null}));
    let got = receiver.received(1, secs(60)).await;
    assert_eq!(
        (got[0].method.as_str(), got[0].path.as_str()),
        ("POST", "/hook")
    );
    assert!(
        got[0]
            .header("content-type")
            .starts_with("application/json")
    );
    let hook = got[0].json();
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
    let answer = sf
        .post(
            "/v1/ExecuteJobAsync",
            "application/xml",
            "application/xml",
            xml,
        )
        .expect_text(200)
        .await;
    assert!(answer.contains("<execJobAsyncResponse xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns=\"http://schemas.datacontract.org/2004/07/StarfishAPI.Controllers\"><error i:nil=\"true\"/><runID>"), "{answer}");
    assert!(answer.contains("<started>true</started>"), "{answer}");
    let done = sf.until_done(&r2).await;
    assert_eq!(
        (done["status"].as_str(), done["inserts"].as_i64()),
        (Some("Complete"), Some(count_in_csv("FR")))
    );

    // Form-urlencoded, answered in JSON (no Accept: the request's format, and form is not one).
    let r3 = guid();
    sf.post(
        "/v1/ExecuteJobAsync",
        "application/x-www-form-urlencoded",
        "*/*",
        format!("runID={r3}&projectID={project}&jobID={job}&argument=US"),
    )
    .expect_status(200)
    .await;
    sf.until_done(&r3).await;
    let all: i64 = pg
        .query_one(&format!("SELECT count(*) FROM {t1}"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(all, 10, "DE, FR and US: every row once");

    // ExecuteJob answers at the end with the result.
    let r4 = guid();
    let r = sf
        .json("/v1/ExecuteJob", json!({"runID": r4, "projectID": project, "jobID": job, "argument": "none", "instance": "x"}))
        .expect(200)
        .await;
    assert_eq!(
        (
            r["runID"].as_str(),
            r["status"].as_str(),
            r["inserts"].as_i64()
        ),
        (Some(r4.as_str()), Some("Complete"), Some(0))
    );
    assert!(r["log"].is_null(), "loggingLevel 0: no log");
    let x = sf
        .post(
            "/v1/ExecuteJob",
            "application/json",
            "text/xml",
            json!({"runID": guid(), "projectID": project, "jobID": job, "argument": "none"})
                .to_string(),
        )
        .expect_text(200)
        .await;
    assert!(
        x.contains("<execJobResponse ") && x.contains("<status>Complete</status>"),
        "{x}"
    );

    // Results: XML list, unknown and malformed run ids.
    let text = sf
        .results(&r1)
        .header("accept", "application/xml")
        .send()
        .await
        .text;
    assert!(
        text.contains("<ArrayOfresultsResponse") && text.contains("<status>Complete</status>"),
        "{text}"
    );
    sf.results(&guid()).expect_status(404).await;
    sf.results("not-a-guid").expect_status(400).await;
}

#[tokio::test]
async fn run_ids_are_idempotent_and_every_bad_request_is_refused() {
    let Some(pg) = pg().await else { return };
    let (t1, t2) = (table_name("sf_idem"), table_name("sf_range"));
    let (app, _defs, (project, job), (p2, plain)) = setup(&t1, &t2).await;
    let sf = Arc::new(app.starfish().await);

    // The same request 50 times at once: one run.
    let run = guid();
    let body = json!({"runID": run, "projectID": project, "jobID": job, "argument": "DE"});
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (sf, body) = (sf.clone(), body.clone());
        set.spawn(async move { sf.json("/v1/ExecuteJobAsync", body).expect(200).await });
    }
    while let Some(r) = set.join_next().await {
        let a = r.unwrap();
        assert_eq!(a["started"], true, "{a}");
    }
    let runs = app
        .runs()
        .list("?task=sf/by_country&limit=100")
        .expect(200)
        .await;
    assert_eq!(runs.runs.len(), 1, "{runs:?}");
    sf.until_done(&run).await;
    let n: i64 = pg
        .query_one(&format!("SELECT count(*) FROM {t1}"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, count_in_csv("DE"), "loaded once");
    // The runID again with another argument: refused, nothing starts.
    let a = sf
        .json(
            "/v1/ExecuteJobAsync",
            json!({"runID": run, "projectID": project, "jobID": job, "argument": "FR"}),
        )
        .expect(409)
        .await;
    assert_eq!(a["started"], false, "{a}");
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
        let e = sf.json("/v1/ExecuteJobAsync", b).send().await;
        assert_eq!(e.status, 400, "{field} = {value}: {}", e.text);
        let e = e.value();
        assert!(
            e["Message"].as_str().unwrap().contains(field),
            "{field}: {e}"
        );
    }
    let mut b = ok.clone();
    b["beginAtRow"] = json!("5");
    b["endAfterRow"] = json!("2");
    sf.json("/v1/ExecuteJobAsync", b).expect_status(400).await;
    sf.post(
        "/v1/ExecuteJobAsync",
        "application/json",
        "application/json",
        "{\"runID\": ".into(),
    )
    .expect_status(400)
    .await;
    let e = sf
        .post(
            "/v1/ExecuteJobAsync",
            "application/xml",
            "",
            "<execJobAsyncRequest><runID>".into(),
        )
        .expect_text(400)
        .await;
    assert!(
        e.contains("<Error ") && e.contains("<Message>"),
        "an XML request hears back in XML: {e}"
    );
    let other_project = json!({"runID": guid(), "projectID": p2, "jobID": job});
    let answer = sf.json("/v1/ExecuteJobAsync", other_project).send().await;
    assert_eq!(answer.status, 404, "a job of another project");
    sf.json(
        "/v1/ExecuteJobAsync",
        json!({"runID": guid(), "projectID": project, "jobID": guid()}),
    )
    .expect_status(404)
    .await;
    app.anonymous()
        .post("/v1/ExecuteJobAsync", &ok)
        .expect_status(401)
        .await;
    let wrong = app
        .http
        .post(app.endpoint("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=password&username={ADMIN}&password=wrong"
        ));
    let e = Call::<Value>::new(wrong, "POST /token").expect(400).await;
    assert_eq!(e["error"], "invalid_grant");
    // The Starfish token is a Sluice API token.
    app.signed_in_as(&sf.token)
        .tasks()
        .list("")
        .expect(200)
        .await;

    // beginAtRow/endAfterRow: exactly those rows; threadCount 4 loads the same as 1.
    for threads in ["1", "4"] {
        pg.execute(&format!("DROP TABLE IF EXISTS {t2}"), &[])
            .await
            .unwrap();
        let r = guid();
        sf.json(
            "/v1/ExecuteJobAsync",
            json!({"runID": r, "projectID": p2, "jobID": plain,
        "beginAtRow": "3", "endAfterRow": "6", "threadCount": threads}),
        )
        .expect(200)
        .await;
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
    let (app, _defs, (project, job), _) = setup(&t1, &t2).await;
    let sf = app.starfish().await;
    // Without chainJobs: the job alone.
    let alone = guid();
    sf.json(
        "/v1/ExecuteJobAsync",
        json!({"runID": alone, "projectID": project, "jobID": job, "argument": "US"}),
    )
    .expect(200)
    .await;
    sf.until_done(&alone).await;
    let results = sf.results(&alone).send().await.value();
    assert_eq!(results.as_array().unwrap().len(), 1);
    // With it: the job, then the chained one, each with its own result.
    let run = guid();
    sf.json("/v1/ExecuteJobAsync", json!({"runID": run, "projectID": project, "jobID": job, "argument": "DE", "chainJobs": true}))
        .expect(200)
        .await;
    sf.until_done(&run).await;
    let results = sf.results(&run).send().await.value();
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
    let (app, _defs, (project, job), (p2, plain)) = setup(&t1, &t2).await;
    let sf = app.starfish().await;
    let hook = |q: String, body: &str| sf.webhook(&format!("instance=prod&projectid={q}"), body);

    // With the bearer token: the raw body is the argument.
    let a = hook(format!("{project}&jobid={job}"), "FR")
        .header("authorization", &format!("Bearer {}", sf.token))
        .expect(200)
        .await;
    assert_eq!(a["started"], true, "{a}");
    let done = sf.until_done(a["runID"].as_str().unwrap()).await;
    assert_eq!(done["inserts"], count_in_csv("FR"), "{done}");

    // With the job's key, which opens that job only, and only until it is rotated.
    let k = app.tasks().webhook_key(&job).expect(200).await;
    let key = k.key.clone();
    assert_eq!(k.starfish_job_id.to_string(), job);
    let a = hook(format!("{project}&jobid={job}"), "US")
        .header("x-webhook-key", &key)
        .expect(200)
        .await;
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
    let status = |q: String| async move { hook(q, "x").send().await.status };
    let other_job = status(format!("{p2}&jobid={plain}&key={key}")).await;
    assert_eq!(other_job, 401, "another job's key");
    let again = app.tasks().webhook_key(&job).expect(200).await;
    assert_ne!(again.key, k.key);
    let rotated = status(format!("{project}&jobid={job}&key={key}")).await;
    assert_eq!(rotated, 401, "the rotated-away key");
    let neither = status(format!("{project}&jobid={job}")).await;
    assert_eq!(neither, 401, "neither token nor key");
}

#[tokio::test]
async fn results_of_a_run_still_going_say_so() {
    let out = tempfile::tempdir().unwrap();
    let defs = defs_dir(&[(
        "slow/big.toml",
        &slow_task(&out.path().join("o.csv"), false),
    )]);
    let app = TestApp::spawn_with(defs.path(), None, &[]).await;
    let tasks = app.tasks().list("").expect(200).await;
    let t = &tasks[0];
    let sf = app.starfish().await;
    let run = guid();
    sf.json(
        "/v1/ExecuteJobAsync",
        json!({"runID": run, "projectID": t.starfish_project_id, "jobID": t.starfish_job_id}),
    )
    .expect(200)
    .await;
    let r = sf.results(&run).expect(200).await;
    let status = r[0]["status"].as_str().unwrap();
    assert!(["Queued", "Running"].contains(&status), "{r}");
    // A second start while it runs (the job does not allow parallel runs): not started, with why.
    let a = sf
        .json("/v1/ExecuteJobAsync", json!({"runID": guid(), "projectID": t.starfish_project_id, "jobID": t.starfish_job_id}))
        .expect(409)
        .await;
    assert_eq!(a["started"], false, "{a}");
    assert!(!a["error"].as_str().unwrap().is_empty());
}
