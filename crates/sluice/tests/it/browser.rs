//! The web monitor in a real browser: Debian's Chromium, driven by playwright-core from Node
//! (`tests/browser/monitor.mjs`). This test starts the server (the bundled examples and a
//! long-running task), a callback receiver, and reads what the script reports. What a browser
//! cannot be trusted to check is checked over plain HTTP in `monitor_http.rs`.
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
