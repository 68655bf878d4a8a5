//! Security findings, part 1: no request brings a node down. Hostile bodies (a 20,000-deep XML
//! document, deep JSON, a 50 MB body declared and streamed), undecodable paths and repeated query
//! keys go to every route of every surface, signed in and not; every answer is a clear error in
//! its surface's shape (never a 5xx), and the server is still up and runs work afterwards. SQL
//! deep enough to overflow a planner's stack is refused when saved and when run, and the deepest
//! SQL accepted really runs.

use super::support::*;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Every route of the IICS and Starfish surfaces (method, path), at the root and under `/saas`.
fn compat_routes() -> Vec<(&'static str, String)> {
    let mut r: Vec<(&str, String)> = vec![
        ("POST", "/ma/api/v2/user/login".into()),
        ("POST", "/ma/api/v2/user/logoutall".into()),
        ("POST", "/token".into()),
        ("POST", "/Token".into()),
        ("POST", "/v1/ExecuteJobAsync".into()),
        ("POST", "/v1/executejob".into()),
        ("POST", "/v1/Webhook".into()),
        ("GET", "/v1/Results/x".into()),
    ];
    for root in ["", "/saas"] {
        for (m, p) in [
            ("POST", "/api/v2/user/login"),
            ("POST", "/api/v2/user/validSessionId"),
            ("POST", "/api/v2/user/logout"),
            ("POST", "/api/v2/user/logoutall"),
            ("GET", "/api/v2/server/serverTime"),
            ("POST", "/api/v2/job"),
            ("POST", "/api/v2/job/stop"),
            ("GET", "/api/v2/activity/activityMonitor"),
            ("GET", "/api/v2/activity/activityLog"),
            ("GET", "/api/v2/activity/activityLog/x"),
            ("GET", "/api/v2/activity/activityLog/x/sessionLog"),
            ("GET", "/api/v2/activity/errorLog/x"),
            ("GET", "/api/v2/task"),
            ("POST", "/public/core/v3/login"),
            ("POST", "/public/core/v3/logout"),
            ("POST", "/public/core/v3/lookup"),
            ("GET", "/public/core/v3/objects"),
            ("POST", "/active-bpel/rt/x"),
            ("GET", "/active-bpel/services/tf/status"),
            ("GET", "/active-bpel/services/tf/status/x"),
            ("PUT", "/active-bpel/services/tf/terminate"),
            ("POST", "/disnext/api/v1/CodeTask"),
            ("POST", "/disnext/api/v1/CodeTask/Start"),
            ("POST", "/disnext/api/v1/CodeTask/Cancel"),
            ("GET", "/disnext/api/v1/CodeTask/JobStatus/x"),
            ("GET", "/disnext/api/v1/CodeTask/SessionLogs/x"),
            ("GET", "/disnext/api/v1/CodeTask/SparkTaskStatus/x"),
            ("GET", "/disnext/api/v1/CodeTask/x"),
        ] {
            r.push((m, format!("{root}{p}")));
        }
    }
    r
}

/// Every route: the native ones from the OpenAPI document, path parameters filled in.
async fn all_routes(app: &TestApp) -> Vec<(String, String)> {
    let doc = app.get("/api/v1/openapi.json").expect_json(200).await;
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let filled: String = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().unwrap().keys() {
            routes.push((method.to_uppercase(), filled.clone()));
        }
    }
    assert!(routes.len() >= 30, "the document lists the native routes");
    routes.extend(compat_routes().into_iter().map(|(m, p)| (m.to_string(), p)));
    routes
}

/// Whether an error answer is in the shape of the surface its path belongs to.
fn shaped(path: &str, status: u16, text: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    let lower = path.to_ascii_lowercase();
    if text.trim_start().starts_with('<') {
        // IICS v2 and Starfish answer XML to XML clients: an error element naming the problem.
        return text.contains("<error>") || text.contains("<Error");
    }
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    if lower.contains("/public/core/v3") {
        v["error"]["code"].is_string() && v["error"]["message"].is_string()
    } else if ["/ma/", "/saas/", "/api/v2/", "/active-bpel/", "/disnext/"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        v["@type"] == "error" && v["statusCode"] == status && v["description"].is_string()
    } else if lower == "/token" || lower.starts_with("/v1/") {
        v["Message"].is_string() || v["error"].is_string()
    } else {
        v["code"].is_string() && v["message"].is_string()
    }
}

/// One raw HTTP/1.1 exchange: headers, then as much of the body as the server takes before it
/// answers. Answers the status line's code and the body.
fn raw_exchange(addr: &str, head: &str, body: &[u8], body_len: usize) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let body = body.to_vec();
    // The server may answer before it has read the body; writing stops when it closes.
    let feeder = std::thread::spawn(move || {
        let mut sent = 0;
        while sent < body_len {
            let n = body.len().min(body_len - sent);
            if writer.write_all(&body[..n]).is_err() {
                return;
            }
            sent += n;
        }
    });
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    drop(stream);
    let _ = feeder.join();
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_string())
}

#[tokio::test]
async fn hostile_requests_to_every_route_get_shaped_errors_and_the_server_stays_up() {
    let app = TestApp::spawn().await;
    let session = app.iics().await.session;
    let routes = all_routes(&app).await;
    let deep_xml = format!("{}{}", "<a>".repeat(20_000), "</a>".repeat(20_000));
    assert!(deep_xml.len() >= 140_000);
    let deep_json = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let bodies: [(&str, &str); 3] = [
        ("application/xml", deep_xml.as_str()),
        ("application/json", deep_json.as_str()),
        ("application/x-www-form-urlencoded", "a=%FF%FE&b=\u{0}"),
    ];
    let addr = app.url.trim_start_matches("http://").to_string();
    let auth = format!(
        "authorization: Bearer {}\r\nicSessionId: {session}\r\n",
        app.token
    );
    // Raw HTTP: a server may answer before it reads a body it has no use for, and then close;
    // the answer is what counts.
    let send = |method: &str, path: &str, ctype: &str, signed_in: bool, body: &[u8]| {
        let accept = if ctype.contains("xml") {
            "accept: application/xml\r\n"
        } else {
            ""
        };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: {ctype}\r\n{accept}{}content-length: {}\r\nconnection: close\r\n\r\n",
            if signed_in { auth.as_str() } else { "" },
            body.len()
        );
        raw_exchange(&addr, &head, body, body.len())
    };
    let mut checked = 0;
    for (method, path) in &routes {
        for signed_in in [false, true] {
            for (ctype, body) in bodies {
                let (status, text) = send(method, path, ctype, signed_in, body.as_bytes());
                assert!(
                    (1..500).contains(&status),
                    "{method} {path} ({ctype}): {status} {text}"
                );
                if status >= 400 {
                    assert!(
                        shaped(path, status, &text),
                        "{method} {path} ({ctype}) answered {status} out of shape: {text}"
                    );
                }
                checked += 1;
            }
        }
        // Undecodable bytes in the path and a repeated query key.
        for odd in [
            format!("{path}/%FF%FE"),
            format!("{path}?rowLimit=1&rowLimit=2&limit=1&limit=2"),
        ] {
            let (status, text) = send(method, &odd, "application/json", true, b"{}");
            assert!(
                (1..500).contains(&status),
                "{method} {odd}: {status} {text}"
            );
            if status >= 400 {
                assert!(
                    shaped(&odd, status, &text),
                    "{method} {odd}: {status} {text}"
                );
            }
        }
    }
    assert!(checked > 500, "{checked} requests");

    // A 50 MB body, declared (refused unread) and streamed (cut at the limit), on every route
    // that takes a body.
    let chunk = vec![b'{'; 1 << 20];
    for (method, path) in routes.iter().filter(|(m, _)| m != "GET") {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nauthorization: Bearer {}\r\nicSessionId: {session}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            app.token,
            50 << 20
        );
        let (status, body) = raw_exchange(&addr, &head, &chunk, 50 << 20);
        assert_eq!(status, 413, "{method} {path}: {body}");
        assert!(shaped(path, status, &body), "{method} {path}: {body}");
    }
    // The routes above include the logouts: sign in again.
    let session = app.iics().await.session;
    for path in [
        "/api/v1/tasks",
        "/saas/api/v2/job",
        "/v1/ExecuteJobAsync",
        "/token",
    ] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nauthorization: Bearer {}\r\nicSessionId: {session}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
            app.token
        );
        let mut chunked = format!("{:x}\r\n", chunk.len()).into_bytes();
        chunked.extend_from_slice(&chunk);
        chunked.extend_from_slice(b"\r\n");
        let (status, body) = raw_exchange(&addr, &head, &chunked, 50 * chunked.len());
        assert_eq!(status, 413, "streamed to {path}: {body}");
        assert!(shaped(path, status, &body), "{path}: {body}");
    }

    // Still up, and still working.
    app.get("/healthz").expect_status(200).await;
    let run = app.start_run("orders_by_country", &[]).await;
    let done = app.wait_end(&run, 120).await;
    assert_eq!(done.state, "completed", "{done:?}");
    assert!(
        !app.server_log().contains("overflowed its stack"),
        "no thread overflowed"
    );
}

fn chain(op: &str, terms: usize) -> String {
    vec!["1"; terms].join(op)
}

fn mapping(name: &str, transform: &str) -> Value {
    json!({
        "folder": "sec", "name": name, "type": "MTT",
        "allow_parallel": true,
        "definition": {
            "sources": [{"name": "orders", "format": "csv",
                         "path": "orders.csv"}],
            "transform": {"sql": transform},
            "target": {"format": "csv", "path": "out/deep.csv"}
        }
    })
}

#[tokio::test]
async fn deep_sql_is_refused_when_saved_and_when_run_and_the_deepest_accepted_runs() {
    let app = TestApp::spawn().await;
    // The org's file area holds the source (tasks defined through the API read only there).
    let area = app.org_area().await;
    std::fs::write(area.join("orders.csv"), "id,amount\n1,10\n2,20\n").unwrap();

    // The findings: 1,000 and 5,000 terms, and a 30,000-term OR chain.
    for sql in [
        format!("SELECT {} AS x FROM orders", chain("+", 1_000)),
        format!("SELECT {} AS x FROM orders", chain("+", 5_000)),
        format!("SELECT * FROM orders WHERE {}", chain(" OR id=", 30_000)),
    ] {
        let e = app
            .tasks()
            .create(mapping("deep", &sql))
            .expect_error(422)
            .await;
        assert!(e.message.contains("transform.sql"), "{}", e.message);
    }
    // The same depth through a parameter: accepted when saved, refused when the run plans it.
    app.tasks()
        .create(json!({
                "folder": "sec", "name": "param_sql", "type": "MTT", "allow_parallel": true,
                "definition": {
                    "sources": [{"name": "orders", "format": "csv", "path": "orders.csv"}],
                    "transform": {"sql": "SELECT ${expr} AS x FROM orders"},
                    "target": {"format": "csv", "path": "out/param.csv"}
                }
        }))
        .expect(201)
        .await;
    let mut runs = Vec::new();
    let deep = chain("+", 5_000);
    for _ in 0..3 {
        runs.push(app.start_run("sec/param_sql", &[("expr", &deep)]).await);
    }
    for run in &runs {
        let done = app.wait_end(run, 60).await;
        assert_eq!(done.state, "failed", "{done:?}");
        let error = done.error.as_deref().unwrap();
        assert!(error.contains("deep"), "{error}");
    }
    // The deepest accepted SQL plans and runs on the server's threads.
    let sql = format!("SELECT id, {} AS x FROM orders", chain("+", 240));
    app.tasks()
        .create(mapping("deepest", &sql))
        .expect(201)
        .await;
    let run = app.start_run("sec/deepest", &[]).await;
    let done = app.wait_end(&run, 60).await;
    assert_eq!(done.state, "completed", "{done:?}");
    let out = std::fs::read_to_string(area.join("out/deep.csv")).unwrap();
    assert_eq!(out.lines().nth(1), Some("1,240"), "{out}");
    assert!(!app.server_log().contains("overflowed its stack"));
}
