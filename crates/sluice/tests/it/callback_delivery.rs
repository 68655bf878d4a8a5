//! Callback delivery against real receivers on loopback: a receiver that fails, redirects, hangs
//! and then answers (attempt times checked against the configured schedule from the kept
//! attempts), one that refuses until the callback is given up and then resent, one that was down
//! while the server was killed and restarted (and one the restarted server's policy denies where it
//! connects), and signed deliveries checked as a receiver would. The inside of the host is refused
//! at the start.

use super::support::*;
use chrono::Utc;
use serde_json::{Value, json};
use sluice_types::{AttemptView, CallbackView, RunView, StartRun};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A receiver on `addr` answering 200.
async fn receiver_at(addr: SocketAddr) -> Receiver {
    Receiver::builder().at(addr).start().await
}

/// A port on loopback address `ip` nothing listens on (connections are refused).
async fn closed_port(ip: &str) -> SocketAddr {
    let l = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    l.local_addr().unwrap()
}

/// A listener that counts the connections made to it and drops them: it stands for a proxy, which
/// must never be connected to at all (not even without a request).
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

fn with_callback(url: &str) -> StartRun {
    StartRun {
        task: "gift_orders".into(),
        callback_url: Some(url.into()),
        ..StartRun::default()
    }
}

/// Starting a run with callback `url` is refused (400) saying `why`.
async fn refused_at_start(app: &TestApp, url: &str, why: &str) {
    let e = app
        .runs()
        .start(&with_callback(url))
        .expect_error(400)
        .await;
    assert_eq!(e.code, "invalid_request", "{url}: {e:?}");
    assert!(e.message.contains(why), "{url}: {}", e.message);
}

/// Polls the run's callbacks until `done` holds for the first.
async fn callback_until(
    app: &TestApp,
    run: &RunView,
    limit: u64,
    done: impl Fn(&CallbackView) -> bool,
) -> CallbackView {
    eventually(secs(limit), async || {
        let list = app.runs().callbacks(run).expect(200).await;
        match list.first() {
            Some(cb) if done(cb) => Ok(cb.clone()),
            _ => Err(format!("callback never got there: {list:?}")),
        }
    })
    .await
}

/// Milliseconds from attempt `a`'s end to attempt `b`'s start.
fn gap_ms(log: &[AttemptView], a: usize, b: usize) -> i64 {
    (log[b].started_at - log[a].ended_at).num_milliseconds()
}

async fn start(app: &TestApp, url: &str) -> RunView {
    app.runs().start(&with_callback(url)).expect(201).await
}

#[tokio::test]
async fn attempts_follow_the_schedule_through_failures_redirects_and_hangs() {
    // Where the redirect points: it must never be sent anything.
    let elsewhere = Receiver::start().await;
    // An HTTP proxy from the environment: it must never be connected to.
    let (proxy, proxied) = counting_listener().await;
    let proxy = format!("http://{proxy}");
    let script = [
        Reply::Status(500),
        Reply::Status(500),
        Reply::Redirect(elsewhere.url("/hook")),
        Reply::Hang(Duration::from_secs(3)),
        Reply::Status(503),
    ];
    let got = Receiver::builder().script(script).start().await;
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
    let app = TestApp::spawn_with(&examples_dir(), None, &env).await;
    // The inside of the host is refused at the start, in every form, with nothing configured.
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:169.254.169.254]/",
        "http://2852039166/",
    ] {
        refused_at_start(&app, url, "169.254.169.254").await;
    }
    let run = start(&app, &got.url("/hook")).await;
    let cb = callback_until(&app, &run, 60, |cb| cb.state == "delivered").await;
    let log = &cb.attempt_log;
    let statuses: Vec<Option<i64>> = log.iter().map(|a| a.status).collect();
    let expected = [Some(500), Some(500), Some(302), None, Some(503), Some(200)];
    assert_eq!(statuses, expected, "{cb:?}");
    let error = |i: usize| log[i].error.as_deref().unwrap();
    assert!(error(3).contains("no answer within 500 ms"), "{cb:?}");
    assert!(error(0).contains("HTTP 500"), "{cb:?}");
    assert!(error(2).contains("HTTP 302"), "{cb:?}");
    assert_eq!(elsewhere.count(), 0);
    assert_eq!(proxied.load(Ordering::SeqCst), 0, "no proxy is used");
    // The schedule: immediate attempts, then 400 ms, then doubling to the 800 ms cap.
    assert!(gap_ms(log, 2, 3) >= 400, "{cb:?}");
    assert!(gap_ms(log, 3, 4) >= 800, "{cb:?}");
    assert!(gap_ms(log, 4, 5) >= 800, "{cb:?}");
    let hung = (log[3].ended_at - log[3].started_at).num_milliseconds();
    assert!(
        hung >= 500,
        "the hanging attempt ran to the timeout: {hung} ms"
    );
    // Every attempt carried the same body: the ended run.
    let got = got.requests();
    assert_eq!(got.len(), 6);
    let first: RunView = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(first.id, run.id);
    assert_eq!(first.state, "completed");
    assert!(got.iter().all(|r| r.body == got[0].body));
}

#[tokio::test]
async fn a_refused_callback_is_given_up_then_resent() {
    let port = closed_port("127.0.0.1").await;
    let env = [
        ("SLUICE_NOTIFY__FIRST_INTERVAL_MS", "200"),
        ("SLUICE_NOTIFY__MAX_INTERVAL_MS", "400"),
        ("SLUICE_NOTIFY__GIVE_UP_AFTER_SECS", "2"),
    ];
    let app = TestApp::spawn_with(&examples_dir(), None, &env).await;
    let run = start(&app, &format!("http://{port}/hook")).await;
    let cb = callback_until(&app, &run, 30, |cb| cb.state == "failed").await;
    let log = &cb.attempt_log;
    assert!(log.len() >= 4, "three immediate attempts and more: {cb:?}");
    assert!(log.iter().all(|a| a.status.is_none()), "{cb:?}");
    let (first, last) = (log[0].started_at, log[log.len() - 1].started_at);
    assert!(
        (last - first).num_milliseconds() <= 2000,
        "none after the give-up time: {cb:?}"
    );
    let messages = app.messages(&run, "warn").await;
    assert!(
        messages.iter().any(|m| m.contains("giving up")),
        "{messages:?}"
    );

    // The receiver comes up; a resend delivers, and the attempts go on counting.
    let got = receiver_at(port).await;
    let id = cb.id.to_string();
    let resent = app.runs().resend(&run, &id).expect(200).await;
    assert_eq!(resent.state, "pending", "{resent:?}");
    let cb = callback_until(&app, &run, 30, |cb| cb.state == "delivered").await;
    assert_eq!(cb.attempt_log.len(), log.len() + 1);
    assert_eq!(got.count(), 1);
    let e = app.runs().resend(&run, uuid_like()).expect_error(404).await;
    assert_eq!(e.code, "not_found");
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
    let mut app = TestApp::spawn_with(&examples_dir(), Some(data.path()), &env).await;
    let c = app.iics().await;
    let job = c
        .post(
            "/api/v2/job",
            json!({"taskName": "gift_orders", "taskType": "MTT", "callbackURL": format!("http://{port}/hook")}),
        )
        .expect(200)
        .await;
    let runs = app.runs().list("?limit=1").expect(200).await;
    let run = runs.runs[0].clone();
    let by_name = format!("http://localhost:{}/hook", local.port());
    let named_run = start(&app, &by_name).await;
    callback_until(&app, &run, 60, |cb| cb.attempts >= 3).await;
    callback_until(&app, &named_run, 60, |cb| cb.attempts >= 1).await;
    app.kill();
    let restarted = Utc::now();

    let got = receiver_at(port).await;
    let got_local = receiver_at(local).await;
    let mut env = env.to_vec();
    env.push(("SLUICE_NOTIFY__ALLOW", r#"["localhost", "127.0.0.2"]"#));
    env.push(("SLUICE_NOTIFY__DENY", r#"["127.0.0.1/32", "::1/128"]"#));
    let app = TestApp::spawn_with(&examples_dir(), Some(data.path()), &env).await;
    let cb = callback_until(&app, &run, 60, |cb| cb.state == "delivered").await;
    assert!(cb.attempts >= 4, "{cb:?}");
    let bodies = got.requests();
    assert_eq!(bodies.len(), 1);
    let body: Value = bodies[0].json();
    assert_eq!(body["@type"], "callbackUrlResponse", "{body}");
    assert_eq!(body["objectId"], job["taskId"]);
    assert_eq!(body["runId"], 1);
    assert_eq!(body["status"], "COMPLETED");

    // `localhost` is allowed by name; the address it leads to is denied, and the deny wins.
    let since_restart = |cb: &CallbackView| -> Vec<AttemptView> {
        let after = |a: &&AttemptView| a.started_at > restarted;
        cb.attempt_log.iter().filter(after).cloned().collect()
    };
    let cb = callback_until(&app, &named_run, 60, |cb| since_restart(cb).len() >= 2).await;
    for attempt in since_restart(&cb) {
        assert!(attempt.status.is_none(), "{cb:?}");
        let error = attempt.error.as_deref().unwrap();
        assert!(
            error.contains("refused at connect time")
                && error.contains("127.0.0.1 is in notify.deny"),
            "{cb:?}"
        );
    }
    assert_eq!(got_local.count(), 0);
    // A new run to it is refused at its start, by name or by address.
    refused_at_start(&app, &by_name, "127.0.0.1 is in notify.deny").await;
    let by_address = format!("http://{local}/hook");
    refused_at_start(&app, &by_address, "127.0.0.1 is in notify.deny").await;
}

#[tokio::test]
async fn signed_deliveries_verify_as_standard_webhooks() {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use hmac::{Hmac, Mac};
    let key = b"a signing key of thirty-two byte";
    let secret = format!("whsec_{}", STANDARD.encode(key));
    let got = Receiver::start().await;
    let env = [("SLUICE_NOTIFY__SIGNING_SECRETS__DEFAULT", secret.as_str())];
    let app = TestApp::spawn_with(&examples_dir(), None, &env).await;
    let run = start(&app, &got.url("/hook")).await;
    callback_until(&app, &run, 60, |cb| cb.state == "delivered").await;
    let delivery = &got.requests()[0];
    let (id, ts) = (
        delivery.header("webhook-id"),
        delivery.header("webhook-timestamp"),
    );
    assert!(id.starts_with("msg_"), "{id}");
    let age = Utc::now().timestamp() - ts.parse::<i64>().unwrap();
    assert!((0..300).contains(&age), "a fresh timestamp: {ts}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&delivery.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    assert_eq!(delivery.header("webhook-signature"), expected);
}
