//! The CLI against a live server, with the RunAJob exit codes.

use super::support::*;
use std::process::Command;

fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .env("SLUICE_URL", &app.url)
        .env("SLUICE_USER", ADMIN)
        .env("SLUICE_PASSWORD", ADMIN_PASSWORD)
        .env_remove("SLUICE_TOKEN")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_wait_and_exit_codes() {
    let app = TestApp::spawn().await;
    let out = tokio::task::spawn_blocking({
        let (url, token) = (app.url.clone(), app.token.clone());
        move || {
            Command::new(env!("CARGO_BIN_EXE_sluice"))
                .args([
                    "run",
                    "sales/orders_by_country",
                    "--param",
                    "since=2026-03-01",
                    "--wait",
                ])
                .env("SLUICE_URL", url)
                .env("SLUICE_TOKEN", token)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("completed"));

    let s = &app;
    let nowait = tokio::task::block_in_place(|| cli(s, &["run", "gift_orders"]));
    assert_eq!(
        nowait.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&nowait.stderr)
    );
    let unknown = tokio::task::block_in_place(|| cli(s, &["run", "no_such_task"]));
    assert_eq!(unknown.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not found"));

    let listed = tokio::task::block_in_place(|| cli(s, &["runs", "--json"]));
    assert_eq!(listed.status.code(), Some(0));
    let v: sluice_types::RunList = serde_json::from_slice(&listed.stdout).unwrap();
    assert!(v.runs.len() >= 2);
}

#[tokio::test]
async fn the_task_table_shows_every_id_format() {
    let app = TestApp::spawn().await;
    let out = cli(&app, &["tasks", "--folder", "sales"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let tasks = app.tasks().list("?folder=sales").expect(200).await;
    for t in &tasks {
        for id in [
            t.path.clone(),
            t.id.to_string(),
            t.iics_task_id.clone(),
            t.starfish_job_id.to_string(),
            t.starfish_project_id.to_string(),
        ] {
            assert!(text.contains(&id), "{id} of {} in\n{text}", t.path);
        }
    }
}
