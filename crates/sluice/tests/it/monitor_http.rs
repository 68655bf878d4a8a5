//! The web monitor over plain HTTP, for what a browser cannot be trusted to check: another org
//! sees none of this org's runs, a form without its session's token or from another site is
//! refused, bad input answers an error page, the live log resumes after the last line a browser
//! had, bulk actions do what the API does, and a stopping node ends its event streams.

use super::support::*;
use sluice_types::RunList;

/// A form body (`application/x-www-form-urlencoded`), as a browser sends one.
trait FormBody {
    fn form_body(self, pairs: &[(&str, &str)]) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_body(self, pairs: &[(&str, &str)]) -> Self {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }
}

/// A signed-in monitor session over plain HTTP (no redirects followed): its cookie and its form
/// token, read from a page.
async fn monitor_session(app: &TestApp, user: &str, password: &str) -> (reqwest::Client, String) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = http
        .post(app.endpoint("/ui/login"))
        .form_body(&[
            ("username", user),
            ("password", password),
            ("next", "/ui/runs"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "{:?}", resp.text().await);
    let cookie = resp
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_string();
    let page = http
        .get(app.endpoint("/ui/runs"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form token on the page")
        .to_string();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(
            [(reqwest::header::COOKIE, pair.parse().unwrap())]
                .into_iter()
                .collect(),
        )
        .build()
        .unwrap();
    (client, csrf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_shows_an_org_its_own_runs_and_refuses_forged_forms() {
    let app = TestApp::spawn().await;
    let run = app.start_run("gift_orders", &[]).await;
    app.wait_end(&run, 60).await;
    app.orgs().create("other").expect(201).await;
    app.user_with_role("other", "stranger", "operator").await;

    // The admin sees the run; a user of another org does not, even by its id.
    let (admin, csrf) = monitor_session(&app, ADMIN, ADMIN_PASSWORD).await;
    let page = admin.get(app.endpoint("/ui/runs")).send().await.unwrap();
    assert!(page.text().await.unwrap().contains(&run.id.to_string()));
    // Filters by several states at once (the "ended badly" group) and by one.
    for (states, shown) in [
        ("completed_with_errors,failed,stopped", false),
        ("completed", true),
    ] {
        let page = admin
            .get(app.endpoint(&format!("/ui/runs?state={states}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let text = page.text().await.unwrap();
        assert_eq!(text.contains(&run.id.to_string()), shown, "state={states}");
    }
    // A state named thousands of times is one state: each run listed once, by the API and here.
    let repeated = "completed,".repeat(2000);
    let listed = app
        .runs()
        .list(&format!("?state={repeated}"))
        .expect(200)
        .await;
    assert_eq!(listed.runs.iter().filter(|r| r.id == run.id).count(), 1);
    let page = admin
        .get(app.endpoint(&format!("/ui/runs?state={repeated}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(&run.id.to_string()));
    let (stranger, _) = monitor_session(&app, "stranger", USER_PASSWORD).await;
    let page = stranger.get(app.endpoint("/ui/runs")).send().await.unwrap();
    assert!(!page.text().await.unwrap().contains(&run.id.to_string()));
    let theirs = stranger
        .get(app.endpoint(&format!("/ui/runs/{}", run.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), 404);

    // A form without the session's token, or from another site, is refused; with it, it works.
    let rerun = app.endpoint(&format!("/ui/runs/{}/rerun", run.id));
    let forged = admin
        .post(&rerun)
        .form_body(&[("_csrf", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let cross = admin
        .post(&rerun)
        .header("origin", "https://evil.example")
        .form_body(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let fine = admin
        .post(&rerun)
        .form_body(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), 303);
    let runs: sluice_types::RunList = app.get("/api/v1/runs").typed().expect(200).await;
    assert_eq!(runs.runs.len(), 2, "the rerun made one run");

    // Bad input answers an error page, never a 500.
    for path in [
        "/ui/runs?state=done",
        "/ui/runs?from=yesterday",
        "/ui/runs/not-a-uuid",
        "/ui/tasks/nope",
    ] {
        let resp = admin.get(app.endpoint(path)).send().await.unwrap();
        let status = resp.status().as_u16();
        assert!((400..500).contains(&status), "{path}: {status}");
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("text/html"), "{path}: {ct}");
    }
    // Signed out, a page sends to the sign-in page.
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = anonymous
        .get(app.endpoint("/ui/runs"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/ui/login");
}

/// The events of a server-sent event stream until `last` arrives (or 20 s pass): (event, id, data).
async fn events_until(mut resp: reqwest::Response, last: &str) -> Vec<(String, String, String)> {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + secs(20);
    while !text.contains(&format!("event: {last}\n")) {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .expect("the stream went quiet")
            .unwrap()
            .expect("the stream ended early");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text.split("\n\n")
        .filter(|block| block.contains("event: "))
        .map(|block| {
            let field = |name: &str| {
                block
                    .lines()
                    .filter_map(|l| l.strip_prefix(&format!("{name}: ")))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            (field("event"), field("id"), field("data"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_log_resumes_after_the_last_line_a_browser_had() {
    let app = TestApp::spawn().await;
    let run = app.start_run("gift_orders", &[]).await;
    app.wait_end(&run, 60).await;
    let total = app.log(&run, "debug").await.len() as i64;
    assert!(total >= 4, "{total} lines");
    let (monitor, _) = monitor_session(&app, ADMIN, ADMIN_PASSWORD).await;
    // A browser reconnecting says the last line it had; that wins over the page's `after`.
    let resp = monitor
        .get(app.endpoint(&format!("/ui/runs/{}/log/live?after=1", run.id)))
        .header("last-event-id", "3")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let events = events_until(resp, "end").await;
    let mut seqs = Vec::new();
    for (event, id, data) in &events {
        if event == "lines" {
            let lines: Vec<serde_json::Value> = serde_json::from_str(data).unwrap();
            seqs.extend(lines.iter().map(|l| l["seq"].as_i64().unwrap()));
            assert_eq!(
                id,
                &seqs.last().unwrap().to_string(),
                "an event's id is its last line"
            );
        }
    }
    assert_eq!(seqs, (4..=total).collect::<Vec<_>>(), "{events:?}");
    assert_eq!(events.last().unwrap().0, "end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_actions_stop_and_rerun_what_the_filters_select() {
    let defs = defs_dir(&[(
        "ops/sleeper.toml",
        "type = \"CODE\"\nallow_parallel = true\nengine = \"process\"\nprogram = \"/bin/sleep\"\nargs = [\"60\"]\n",
    )]);
    let app = TestApp::spawn_with(defs.path(), None, &[("SLUICE_WORKER__CONCURRENCY", "4")]).await;
    for _ in 0..3 {
        app.start_run("ops/sleeper", &[]).await;
    }
    let (monitor, csrf) = monitor_session(&app, ADMIN, ADMIN_PASSWORD).await;
    let bulk = |filters: &str, action: &str| {
        monitor.post(app.endpoint("/ui/runs/bulk")).form_body(&[
            ("_csrf", csrf.as_str()),
            ("filters", filters),
            ("action", action),
        ])
    };
    let resp = bulk(
        "task=ops%2Fsleeper&state=queued%2Cstarting%2Crunning",
        "stop_immediate",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 303);
    let to = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(to.contains("Stopped+3+run"), "{to}");
    let list = async || -> RunList {
        app.get("/api/v1/runs?task=ops/sleeper")
            .typed()
            .expect(200)
            .await
    };
    eventually(secs(30), async || {
        list().await.runs.iter().all(|r| r.state == "stopped")
    })
    .await;

    let resp = bulk("task=ops%2Fsleeper&state=stopped", "rerun")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let runs = list().await.runs;
    assert_eq!(runs.len(), 6, "three reruns");
    assert_eq!(runs.iter().filter(|r| r.state != "stopped").count(), 3);
    // Stop them too, so the test leaves nothing running.
    bulk("task=ops%2Fsleeper", "stop_immediate")
        .send()
        .await
        .unwrap();
    // An unknown action is refused, doing nothing.
    let resp = bulk("task=ops%2Fsleeper", "delete").send().await.unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_node_ends_its_event_streams() {
    let mut app = TestApp::spawn().await;
    let (monitor, _) = monitor_session(&app, ADMIN, ADMIN_PASSWORD).await;
    let open = monitor
        .get(app.endpoint("/ui/runs/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), 200);
    // Graceful shutdown waits for answers in flight; an event stream must not hold it for ever.
    let status = tokio::time::timeout(secs(60), app.terminate())
        .await
        .expect("the node stopped while a browser followed its runs");
    assert!(status.success(), "{status:?}");
    drop(open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_check_reads_the_data_directory_as_a_run_does() {
    let app = TestApp::spawn().await;
    let said = app.connections().check("local_sqlite").expect(200).await;
    assert!(!said.message.contains("${"), "{said:?}");
    let data_dir = app.data_dir.canonicalize().unwrap();
    // The bundled SQLite file lives in the data directory once a run made it; before, the check
    // names where it looked.
    assert!(
        said.ok || said.message.contains(&data_dir.display().to_string()),
        "{said:?}"
    );
}
