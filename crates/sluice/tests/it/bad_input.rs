//! Bad input is answered with the right status and a clear message, never a 500.

use super::support::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let server = TestServer::start().await;
    let cases: Vec<(Method, &str, Option<serde_json::Value>, u16, &str)> = vec![
        (
            Method::POST,
            "/api/v1/runs",
            Some(json!({"task": "no_such_task"})),
            404,
            "not_found",
        ),
        (
            Method::POST,
            "/api/v1/runs",
            Some(json!({"task": 12})),
            400,
            "invalid_request",
        ),
        (
            Method::POST,
            "/api/v1/runs",
            Some(json!({"task": "orders_by_country", "parameters": {"a": 1}})),
            400,
            "invalid_request",
        ),
        (
            Method::POST,
            "/api/v1/runs",
            Some(json!({"task": "orders_by_country", "bogus": 1})),
            400,
            "invalid_request",
        ),
        (
            Method::POST,
            "/api/v1/runs",
            Some(json!({"task": "orders_by_country", "callback_url": "ftp://x"})),
            400,
            "invalid_request",
        ),
        (
            Method::POST,
            "/api/v1/runs",
            Some(json!({"task": "orders_by_country", "parameters": {"sluice.data_dir": "/"}})),
            400,
            "invalid_request",
        ),
        (
            Method::GET,
            "/api/v1/runs/not-a-run",
            None,
            404,
            "not_found",
        ),
        (
            Method::GET,
            "/api/v1/runs?state=bogus",
            None,
            400,
            "invalid_request",
        ),
        (
            Method::GET,
            "/api/v1/runs?limit=0",
            None,
            400,
            "invalid_request",
        ),
        (
            Method::GET,
            "/api/v1/runs?limit=abc",
            None,
            400,
            "invalid_request",
        ),
        (Method::GET, "/api/v1/tasks/nope", None, 404, "not_found"),
        (
            Method::GET,
            "/api/v1/tasks?type=XYZ",
            None,
            400,
            "invalid_request",
        ),
        (Method::GET, "/api/v1/nowhere", None, 404, "not_found"),
        (
            Method::DELETE,
            "/api/v1/runs",
            None,
            405,
            "method_not_allowed",
        ),
        (
            Method::POST,
            "/api/v1/tasks",
            Some(json!({"name": "x", "type": "MTT", "definition": {"sources": []}})),
            422,
            "invalid_definition",
        ),
        (
            Method::POST,
            "/api/v1/tasks",
            Some(json!({"name": "a/b", "type": "MTT", "definition": {}})),
            400,
            "invalid_request",
        ),
        (
            Method::POST,
            "/api/v1/tasks",
            Some(json!({"name": "x", "type": "BOGUS", "definition": {}})),
            400,
            "invalid_request",
        ),
        (
            Method::POST,
            "/api/v1/connections",
            Some(
                json!({"name": "c", "type": "postgres", "config": {"url": "postgres://u:secret@h/db"}}),
            ),
            422,
            "invalid_definition",
        ),
        (
            Method::POST,
            "/api/v1/connections",
            Some(json!({"name": "c", "type": "files", "config": {"path": 3}})),
            400,
            "invalid_request",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (got, answer) = server.call(method.clone(), path, body.clone()).await;
        assert_eq!(
            (got, answer["code"].as_str()),
            (status, Some(code)),
            "{method} {path} {body:?}: {answer}"
        );
        assert!(!answer["message"].as_str().unwrap().is_empty());
    }
    // Malformed JSON and a wrong content type.
    let resp = server
        .http
        .post(format!("{}/api/v1/runs", server.url))
        .bearer_auth(&server.token)
        .header("content-type", "application/json")
        .body("{\"task\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "invalid_request");
    let resp = server
        .http
        .post(format!("{}/api/v1/runs", server.url))
        .bearer_auth(&server.token)
        .body("task=x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    let (status, stop) = server
        .post(
            "/api/v1/runs/00000000-0000-0000-0000-000000000000/stop",
            json!({"mode": "sideways"}),
        )
        .await;
    assert_eq!(
        (status, stop["code"].as_str()),
        (400, Some("invalid_request"))
    );
}

const GOOD: &str = r#"type = "MTT"
[[sources]]
name = "o"
format = "csv"
path = "orders.csv"
[target]
format = "csv"
path = "${sluice.data_dir}/out.csv"
"#;

#[tokio::test]
async fn bad_definition_files_are_reported_with_file_and_field_and_do_not_stop_the_server() {
    let missing_source = GOOD.replace("orders.csv", "missing.csv");
    let defs = defs_dir(&[
        ("orders.csv", "id,name\n1,a\n"),
        ("ok/good.toml", GOOD),
        ("sales/missing_file.toml", &missing_source),
        (
            "sales/broken.toml",
            "type = \"MTT\"\n[[sources]]\nname = 3\n",
        ),
        ("sales/not_toml.toml", "this is not toml ]["),
    ]);
    let server = TestServer::start_with(defs.path(), None, &[]).await;
    let log = server.server_log();
    let root = defs.path().canonicalize().unwrap();
    let expected = format!(
        "{}: source.path: file not found",
        root.join("sales/missing_file.toml").display()
    );
    assert!(log.contains(&expected), "{expected}\n---\n{log}");
    assert!(log.contains("sales/broken.toml: sources[0].name"), "{log}");
    assert!(log.contains("sales/not_toml.toml: toml:"), "{log}");
    let run = server.start_run("ok/good", json!({})).await;
    let done = server.wait_end(&run, 60).await;
    assert_eq!(
        done["state"], "completed",
        "the good file still works: {done}"
    );

    // The same checks over the API: 422, one line per problem, the good file applied. Tasks
    // defined through the API read files in their org's area (or a connection's root) only.
    let area = server.org_area(&server.token).await;
    std::fs::write(area.join("orders.csv"), "order_id\n1\n").unwrap();
    let (status, report) = server
        .post(
            "/api/v1/definitions/apply",
            json!({"files": [
                {"path": "api/bad.toml", "content": "type = \"MTT\"\n[target]\nformat = \"csv\"\npath = \"x\"\n"},
                {"path": "api/good.toml", "content": GOOD},
                {"path": "api/outside.toml", "content": GOOD.replace("orders.csv", "/dev/null")},
                {"path": "../escape.toml", "content": GOOD},
            ]}),
        )
        .await;
    assert_eq!(status, 422, "{report}");
    let errors: Vec<&str> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("api/bad.toml: sources: ") && e.contains("at least one source")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.starts_with("../escape.toml: path")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("api/outside.toml: sources[0].path")
                && e.contains("relative path")),
        "{errors:?}"
    );
    assert_eq!(report["created"], json!(["api/good"]));
}

#[tokio::test]
async fn csv_rows_that_fail_to_parse_are_counted_logged_and_skipped() {
    let csv = "id,amount,day\n1,10.5,2026-01-01\n2,abc,2026-01-02\n3,7,2026-01-03\n4,1,2026-01-04,extra\n5,2,not-a-date\n6,3,2026-01-06\n";
    let task = r#"type = "MTT"
[[sources]]
name = "t"
format = "csv"
path = "rows.csv"
columns = [{ name = "id", type = "int64" }, { name = "amount", type = "float64" }, { name = "day", type = "date" }]
[transform]
sql = "SELECT id, amount FROM t ORDER BY id"
[target]
format = "csv"
path = "${sluice.data_dir}/good_rows.csv"
"#;
    let strict = task
        .replace("type = \"MTT\"", "type = \"MTT\"\nstop_on_error = true")
        .replace("good_rows", "strict_rows");
    let defs = defs_dir(&[
        ("rows.csv", csv),
        ("lenient.toml", task),
        ("strict.toml", &strict),
    ]);
    let server = TestServer::start_with(defs.path(), None, &[]).await;
    let run = server.start_run("lenient", json!({})).await;
    let done = server.wait_end(&run, 60).await;
    assert_eq!(done["state"], "completed_with_errors", "{done}");
    assert_eq!(done["counters"]["source_rows_read"], 6);
    assert_eq!(done["counters"]["source_rows_failed"], 3);
    assert_eq!(done["counters"]["target_rows_written"], 3);
    let out = std::fs::read_to_string(server.data_dir.join("good_rows.csv")).unwrap();
    let ids: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids, vec!["1", "3", "6"]);
    let warnings: Vec<String> = server
        .log(&done, "warn")
        .await
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_string())
        .collect();
    for line in ["line 3", "line 5", "line 6"] {
        assert!(
            warnings.iter().any(|w| w.contains(line)),
            "{line}: {warnings:?}"
        );
    }

    let run = server.start_run("strict", json!({})).await;
    let done = server.wait_end(&run, 60).await;
    assert_eq!(done["state"], "failed", "{done}");
    assert!(done["error"].as_str().unwrap().contains("line 3"), "{done}");
    assert!(!server.data_dir.join("strict_rows.csv").exists());
}
