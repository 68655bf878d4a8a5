//! The web monitor in a real browser: Debian's Chromium, driven by playwright-core from Node
//! (`tests/browser/monitor.mjs`). This test starts the server (the bundled examples and a
//! long-running task), a callback receiver, and reads what the script reports. It also checks,
//! over plain HTTP, what a browser cannot be trusted to: another org sees none of this org's runs,
//! a form without its token is refused.
//!
//! Needs `chromium` (`SLUICE_TEST_CHROMIUM`, default `/usr/bin/chromium`), `node`, and
//! playwright-core under `SLUICE_TEST_NODE_MODULES` (default `~/.cache/sluice-node/node_modules`;
//! `.ci/run` installs both). Screenshots go to `SLUICE_TEST_SCREENSHOTS` (default a temp dir).

use super::support::*;
use sluice_types::StartRun;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Browser {
    chromium: PathBuf,
    node_modules: PathBuf,
}

fn browser() -> Option<Browser> {
    let chromium = std::env::var_os("SLUICE_TEST_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let node_modules = std::env::var_os("SLUICE_TEST_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_default();
            Path::new(&home).join(".cache/sluice-node/node_modules")
        });
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let found = chromium.is_file() && node && node_modules.join("playwright-core").is_dir();
    if found {
        return Some(Browser {
            chromium,
            node_modules,
        });
    }
    let why = format!(
        "the browser tests need chromium at {}, node, and playwright-core in {}",
        chromium.display(),
        node_modules.display()
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why} (CI installs them: see .ci/run)");
    }
    eprintln!("skipping: {why}");
    None
}

/// The bundled examples, plus a task that writes a line every 100 ms for a minute.
fn defs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&examples_dir(), dir.path());
    let ticker = r#"type = "CODE"
description = "Writes a line every 100 ms for a minute"
engine = "process"
program = "/bin/sh"
args = ["-c", "i=0; while [ $i -lt 600 ]; do i=$((i+1)); echo \"tick $i at $(date +%s%3N)\"; sleep 0.1; done"]
"#;
    std::fs::create_dir_all(dir.path().join("ops")).unwrap();
    std::fs::write(dir.path().join("ops/ticker.toml"), ticker).unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

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

fn screenshots() -> PathBuf {
    std::env::var_os("SLUICE_TEST_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("sluice-ui-screenshots"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_in_a_real_browser() {
    let Some(browser) = browser() else {
        return;
    };
    let defs = defs();
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(defs.path(), None, &[]).await;
    // A run whose callback was delivered, for the browser to send again.
    let start = StartRun {
        task: "orders_by_country".into(),
        callback_url: Some(receiver.url("/done")),
        ..StartRun::default()
    };
    let with_callback = app.runs().start(&start).expect(201).await;
    app.wait_end(&with_callback, 60).await;
    receiver.received(1, secs(30)).await;

    let shots = screenshots();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/monitor.mjs");
    let out = tokio::process::Command::new("node")
        .arg(&script)
        .env("BASE_URL", &app.url)
        .env("USER", ADMIN)
        .env("PASSWORD", ADMIN_PASSWORD)
        .env("CALLBACK_RUN", with_callback.id.to_string())
        .env("SCREENSHOTS", &shots)
        .env("NODE_MODULES", &browser.node_modules)
        .env("CHROMIUM", &browser.chromium)
        .output()
        .await
        .expect("running node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("browser screenshots: {}", shots.display());
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser run failed:\n{stdout}\n{stderr}\nserver log:\n{}",
        app.server_log()
    );
    // The resend reached the receiver.
    let got = receiver.received(2, secs(30)).await;
    assert_eq!(got.len(), 2);
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
