//! Callback delivery against real receivers on loopback: a receiver that fails, redirects, hangs
//! and then answers (attempt times checked against the configured schedule from the kept
//! attempts), one that refuses until the callback is given up and then resent, one that was down
//! while the server was killed and restarted (and one the restarted server's policy denies where it
//! connects), and signed deliveries checked as a receiver would. The inside of the host is refused
//! at the start.

use super::iics_jobs::Iics;
use super::support::*;
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
enum Answer {
    Status(u16),
    /// Answers 302 with the `/hook` of this address as the location.
    Redirect(SocketAddr),
    /// Answers 200 only after this long (past the attempt timeout).
    Hang(Duration),
}

#[derive(Default)]
struct Received {
    script: VecDeque<Answer>,
    bodies: Vec<(HeaderMap, Bytes)>,
}

/// A receiver on `addr` (a free port when None) answering by `script`, then 200.
async fn receiver(
    addr: Option<SocketAddr>,
    script: &[Answer],
) -> (SocketAddr, Arc<Mutex<Received>>) {
    let state = Arc::new(Mutex::new(Received {
        script: script.iter().copied().collect(),
        bodies: Vec::new(),
    }));
    let s = state.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let s = s.clone();
            async move {
                let answer = {
                    let mut r = s.lock().unwrap();
                    r.bodies.push((headers, body));
                    r.script.pop_front().unwrap_or(Answer::Status(200))
                };
                match answer {
                    Answer::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
                    Answer::Redirect(to) => {
                        let location = format!("http://{to}/hook");
                        (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
                    }
                    Answer::Hang(d) => {
                        tokio::time::sleep(d).await;
                        StatusCode::OK.into_response()
                    }
                }
            }
        }),
    );
    let listener =
        tokio::net::TcpListener::bind(addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, state)
}

/// A port on loopback address `ip` nothing listens on (connections are refused).
async fn closed_port(ip: &str) -> SocketAddr {
    let l = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    l.local_addr().unwrap()
}

/// A listener that counts the connections made to it and drops them.
async fn counting_listener() -> (SocketAddr, Arc<AtomicUsize>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok(conn) = l.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    (addr, seen)
}

/// Starting a run with callback `url` is refused (400) saying `why`.
async fn refused_at_start(server: &TestServer, url: &str, why: &str) {
    let (status, e) = server
        .post(
            "/api/v1/runs",
            json!({"task": "gift_orders", "callback_url": url}),
        )
        .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (400, Some("invalid_request")),
        "{url}: {e}"
    );
    let message = e["message"].as_str().unwrap();
    assert!(message.contains(why), "{url}: {message}");
}

/// Polls the run's callbacks until `done` holds for the first.
async fn callback_until(
    server: &TestServer,
    run: &str,
    secs: u64,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let (status, list) = server.get(&format!("/api/v1/runs/{run}/callbacks")).await;
        assert_eq!(status, 200, "{list}");
        if let Some(cb) = list.get(0)
            && done(cb)
        {
            return cb.clone();
        }
        assert!(
            Instant::now() < deadline,
            "callback never got there: {list}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

/// Milliseconds from attempt `a`'s end to attempt `b`'s start.
fn gap_ms(log: &[Value], a: usize, b: usize) -> i64 {
    (at(&log[b]["started_at"]) - at(&log[a]["ended_at"])).num_milliseconds()
}

async fn start(server: &TestServer, url: &str) -> String {
    let (status, run) = server
        .post(
            "/api/v1/runs",
            json!({"task": "gift_orders", "callback_url": url}),
        )
        .await;
    assert_eq!(status, 201, "{run}");
    run["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn attempts_follow_the_schedule_through_failures_redirects_and_hangs() {
    // Where the redirect points: it must never be sent anything.
    let (elsewhere, sent_elsewhere) = receiver(None, &[]).await;
    // An HTTP proxy from the environment: it must never be connected to.
    let (proxy, proxied) = counting_listener().await;
    let proxy = format!("http://{proxy}");
    let script = [
        Answer::Status(500),
        Answer::Status(500),
        Answer::Redirect(elsewhere),
        Answer::Hang(Duration::from_secs(3)),
        Answer::Status(503),
    ];
    let (addr, got) = receiver(None, &script).await;
    let env = [
        ("SLUICE_NOTIFY__IMMEDIATE_ATTEMPTS", "3"),
        ("SLUICE_NOTIFY__FIRST_INTERVAL_MS", "400"),
        ("SLUICE_NOTIFY__MAX_INTERVAL_MS", "800"),
        ("SLUICE_NOTIFY__ATTEMPT_TIMEOUT_MS", "500"),
        ("HTTP_PROXY", proxy.as_str()),
        ("http_proxy", proxy.as_str()),
        ("NO_PROXY", ""),
        ("no_proxy", ""),
    ];
    let server = TestServer::start_with(&examples_dir(), None, &env).await;
    // The inside of the host is refused at the start, in every form, with nothing configured.
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:169.254.169.254]/",
        "http://2852039166/",
    ] {
        refused_at_start(&server, url, "169.254.169.254").await;
    }
    let run = start(&server, &format!("http://{addr}/hook")).await;
    let cb = callback_until(&server, &run, 60, |cb| cb["state"] == "delivered").await;
    let log = cb["attempt_log"].as_array().unwrap().clone();
    let statuses: Vec<Value> = log.iter().map(|a| a["status"].clone()).collect();
    assert_eq!(
        statuses,
        vec![
            json!(500),
            json!(500),
            json!(302),
            Value::Null,
            json!(503),
            json!(200)
        ],
        "{cb}"
    );
    assert!(
        log[3]["error"]
            .as_str()
            .unwrap()
            .contains("no answer within 500 ms"),
        "{cb}"
    );
    assert!(
        log[0]["error"].as_str().unwrap().contains("HTTP 500"),
        "{cb}"
    );
    assert!(
        log[2]["error"].as_str().unwrap().contains("HTTP 302"),
        "{cb}"
    );
    assert!(sent_elsewhere.lock().unwrap().bodies.is_empty());
    assert_eq!(proxied.load(Ordering::SeqCst), 0, "no proxy is used");
    // The schedule: immediate attempts, then 400 ms, then doubling to the 800 ms cap.
    assert!(gap_ms(&log, 2, 3) >= 400, "{cb}");
    assert!(gap_ms(&log, 3, 4) >= 800, "{cb}");
    assert!(gap_ms(&log, 4, 5) >= 800, "{cb}");
    let hung = (at(&log[3]["ended_at"]) - at(&log[3]["started_at"])).num_milliseconds();
    assert!(
        hung >= 500,
        "the hanging attempt ran to the timeout: {hung} ms"
    );
    // Every attempt carried the same body: the ended run.
    let got = got.lock().unwrap();
    assert_eq!(got.bodies.len(), 6);
    let first: Value = serde_json::from_slice(&got.bodies[0].1).unwrap();
    assert_eq!(first["id"].as_str(), Some(run.as_str()));
    assert_eq!(first["state"], "completed");
    assert!(got.bodies.iter().all(|(_, b)| b == &got.bodies[0].1));
}

#[tokio::test]
async fn a_refused_callback_is_given_up_then_resent() {
    let port = closed_port("127.0.0.1").await;
    let env = [
        ("SLUICE_NOTIFY__FIRST_INTERVAL_MS", "200"),
        ("SLUICE_NOTIFY__MAX_INTERVAL_MS", "400"),
        ("SLUICE_NOTIFY__GIVE_UP_AFTER_SECS", "2"),
    ];
    let server = TestServer::start_with(&examples_dir(), None, &env).await;
    let run = start(&server, &format!("http://{port}/hook")).await;
    let cb = callback_until(&server, &run, 30, |cb| cb["state"] == "failed").await;
    let log = cb["attempt_log"].as_array().unwrap();
    assert!(log.len() >= 4, "three immediate attempts and more: {cb}");
    assert!(log.iter().all(|a| a["status"].is_null()), "{cb}");
    let last = at(&log[log.len() - 1]["started_at"]);
    let first = at(&log[0]["started_at"]);
    assert!(
        (last - first).num_milliseconds() <= 2000,
        "none after the give-up time: {cb}"
    );
    let messages: Vec<String> = server
        .log(&json!({"id": run}), "warn")
        .await
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_string())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("giving up")),
        "{messages:?}"
    );

    // The receiver comes up; a resend delivers, and the attempts go on counting.
    let (_, got) = receiver(Some(port), &[]).await;
    let id = cb["id"].as_str().unwrap();
    let (status, resent) = server
        .post(
            &format!("/api/v1/runs/{run}/callbacks/{id}/resend"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, resent["state"].clone()),
        (200, json!("pending")),
        "{resent}"
    );
    let cb = callback_until(&server, &run, 30, |cb| cb["state"] == "delivered").await;
    assert_eq!(cb["attempt_log"].as_array().unwrap().len(), log.len() + 1);
    assert_eq!(got.lock().unwrap().bodies.len(), 1);
    let (status, e) = server
        .post(
            &format!("/api/v1/runs/{run}/callbacks/{}/resend", uuid_like()),
            json!({}),
        )
        .await;
    assert_eq!((status, e["code"].clone()), (404, json!("not_found")));
}

fn uuid_like() -> &'static str {
    "0192f0c0-0000-7000-8000-000000000000"
}

/// Also: a callback that got past its start under one policy and is denied by the next one (the
/// restarted server allows the name `localhost` but denies where it leads) is refused where it
/// connects, and its receiver sees nothing.
#[tokio::test]
async fn a_callback_interrupted_by_a_restart_is_still_delivered() {
    // On 127.0.0.2: the restarted server denies 127.0.0.1 only.
    let port = closed_port("127.0.0.2").await;
    let local = closed_port("127.0.0.1").await;
    let data = tempfile::tempdir().unwrap();
    let env = [
        ("SLUICE_NOTIFY__FIRST_INTERVAL_MS", "300"),
        ("SLUICE_NOTIFY__MAX_INTERVAL_MS", "600"),
    ];
    let mut server = TestServer::start_with(&examples_dir(), Some(data.path()), &env).await;
    let c = Iics::login(&server).await;
    let (status, job) = c
        .post(
            "/api/v2/job",
            json!({"taskName": "gift_orders", "taskType": "MTT", "callbackURL": format!("http://{port}/hook")}),
        )
        .await;
    assert_eq!(status, 200, "{job}");
    let (_, runs) = server.get("/api/v1/runs?limit=1").await;
    let run = runs["runs"][0]["id"].as_str().unwrap().to_string();
    let by_name = format!("http://localhost:{}/hook", local.port());
    let named_run = start(&server, &by_name).await;
    callback_until(&server, &run, 60, |cb| cb["attempts"].as_i64() >= Some(3)).await;
    callback_until(&server, &named_run, 60, |cb| {
        cb["attempts"].as_i64() >= Some(1)
    })
    .await;
    server.kill();
    let restarted = Utc::now();

    let (_, got) = receiver(Some(port), &[]).await;
    let (_, got_local) = receiver(Some(local), &[]).await;
    let mut env = env.to_vec();
    env.push(("SLUICE_NOTIFY__ALLOW", r#"["localhost", "127.0.0.2"]"#));
    env.push(("SLUICE_NOTIFY__DENY", r#"["127.0.0.1/32", "::1/128"]"#));
    let server = TestServer::start_with(&examples_dir(), Some(data.path()), &env).await;
    let cb = callback_until(&server, &run, 60, |cb| cb["state"] == "delivered").await;
    assert!(cb["attempts"].as_i64().unwrap() >= 4, "{cb}");
    {
        let got = got.lock().unwrap();
        assert_eq!(got.bodies.len(), 1);
        let body: Value = serde_json::from_slice(&got.bodies[0].1).unwrap();
        assert_eq!(body["@type"], "callbackUrlResponse", "{body}");
        assert_eq!(body["objectId"], job["taskId"]);
        assert_eq!(body["runId"], 1);
        assert_eq!(body["status"], "COMPLETED");
    }

    // `localhost` is allowed by name; the address it leads to is denied, and the deny wins.
    let since_restart = |cb: &Value| -> Vec<Value> {
        let log = cb["attempt_log"].as_array().unwrap();
        let after = |a: &&Value| at(&a["started_at"]) > restarted;
        log.iter().filter(after).cloned().collect()
    };
    let cb = callback_until(&server, &named_run, 60, |cb| since_restart(cb).len() >= 2).await;
    for attempt in since_restart(&cb) {
        assert!(attempt["status"].is_null(), "{cb}");
        let error = attempt["error"].as_str().unwrap();
        assert!(
            error.contains("refused at connect time")
                && error.contains("127.0.0.1 is in notify.deny"),
            "{cb}"
        );
    }
    assert!(got_local.lock().unwrap().bodies.is_empty());
    // A new run to it is refused at its start, by name or by address.
    refused_at_start(&server, &by_name, "127.0.0.1 is in notify.deny").await;
    let by_address = format!("http://{local}/hook");
    refused_at_start(&server, &by_address, "127.0.0.1 is in notify.deny").await;
}

#[tokio::test]
async fn signed_deliveries_verify_as_standard_webhooks() {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use hmac::{Hmac, Mac};
    let key = b"a signing key of thirty-two byte";
    let secret = format!("whsec_{}", STANDARD.encode(key));
    let (addr, got) = receiver(None, &[]).await;
    let env = [("SLUICE_NOTIFY__SIGNING_SECRETS__DEFAULT", secret.as_str())];
    let server = TestServer::start_with(&examples_dir(), None, &env).await;
    let run = start(&server, &format!("http://{addr}/hook")).await;
    callback_until(&server, &run, 60, |cb| cb["state"] == "delivered").await;
    let got = got.lock().unwrap();
    let (headers, body) = &got.bodies[0];
    let h = |name: &str| headers[name].to_str().unwrap().to_string();
    let (id, ts) = (h("webhook-id"), h("webhook-timestamp"));
    assert!(id.starts_with("msg_"), "{id}");
    let age = Utc::now().timestamp() - ts.parse::<i64>().unwrap();
    assert!((0..300).contains(&age), "a fresh timestamp: {ts}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    assert_eq!(h("webhook-signature"), expected);
}
