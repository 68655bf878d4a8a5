//! Bad input is answered with the right status and a clear message, never a 500.

use super::support::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let app = TestApp::spawn().await;
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
        let call = match &body {
            Some(b) => app.send(method.clone(), path, b),
            None => app.request(method.clone(), path),
        };
        let answer = call.expect_error(status).await;
        assert_eq!(answer.code, code, "{method} {path} {body:?}: {answer:?}");
        assert!(!answer.message.is_empty());
    }
    // Malformed JSON and a wrong content type.
    let runs = app.endpoint("/api/v1/runs");
    let malformed = app
        .http
        .post(&runs)
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body("{\"task\": ");
    let e = Call::<()>::new(malformed, "POST /api/v1/runs")
        .expect_error(400)
        .await;
    assert_eq!(e.code, "invalid_request");
    let form = app.http.post(&runs).bearer_auth(&app.token).body("task=x");
    Call::<()>::new(form, "POST /api/v1/runs")
        .expect_status(415)
        .await;
    let e = app
        .runs()
        .stop("00000000-0000-0000-0000-000000000000", Some("sideways"))
        .expect_error(400)
        .await;
    assert_eq!(e.code, "invalid_request");
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
    let app = TestApp::spawn_with(defs.path(), None, &[]).await;
    let log = app.server_log();
    let root = defs.path().canonicalize().unwrap();
    let expected = format!(
        "{}: source.path: file not found",
        root.join("sales/missing_file.toml").display()
    );
    assert!(log.contains(&expected), "{expected}\n---\n{log}");
    assert!(log.contains("sales/broken.toml: sources[0].name"), "{log}");
    assert!(log.contains("sales/not_toml.toml: toml:"), "{log}");
    let run = app.start_run("ok/good", &[]).await;
    let done = app.wait_end(&run, 60).await;
    assert_eq!(
        done.state, "completed",
        "the good file still works: {done:?}"
    );

    // The same checks over the API: 422, one line per problem, the good file applied. Tasks
    // defined through the API read files in their org's area (or a connection's root) only.
    let area = app.org_area().await;
    std::fs::write(area.join("orders.csv"), "order_id\n1\n").unwrap();
    let report = app
        .api()
        .apply_definitions(json!({"files": [
                {"path": "api/bad.toml", "content": "type = \"MTT\"\n[target]\nformat = \"csv\"\npath = \"x\"\n"},
                {"path": "api/good.toml", "content": GOOD},
                {"path": "api/outside.toml", "content": GOOD.replace("orders.csv", "/dev/null")},
                {"path": "../escape.toml", "content": GOOD},
            ]}))
        .expect(422)
        .await;
    let errors = &report.errors;
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
    assert_eq!(report.created, ["api/good"]);
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
    let app = TestApp::spawn_with(defs.path(), None, &[]).await;
    let run = app.start_run("lenient", &[]).await;
    let done = app.wait_end(&run, 60).await;
    assert_eq!(done.state, "completed_with_errors", "{done:?}");
    assert_eq!(done.counters.source_rows_read, 6);
    assert_eq!(done.counters.source_rows_failed, 3);
    assert_eq!(done.counters.target_rows_written, 3);
    let out = std::fs::read_to_string(app.data_dir.join("good_rows.csv")).unwrap();
    let ids: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids, vec!["1", "3", "6"]);
    let warnings = app.messages(&done, "warn").await;
    for line in ["line 3", "line 5", "line 6"] {
        assert!(
            warnings.iter().any(|w| w.contains(line)),
            "{line}: {warnings:?}"
        );
    }

    let run = app.start_run("strict", &[]).await;
    let done = app.wait_end(&run, 60).await;
    assert_eq!(done.state, "failed", "{done:?}");
    assert!(
        done.error.as_deref().unwrap().contains("line 3"),
        "{done:?}"
    );
    assert!(!app.data_dir.join("strict_rows.csv").exists());
}
