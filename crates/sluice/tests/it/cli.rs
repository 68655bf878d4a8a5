//! The CLI against a live server, with the RunAJob exit codes.

use super::support::*;
use std::process::Command;

fn cli(server: &TestServer, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .env("SLUICE_URL", &server.url)
        .env("SLUICE_USER", ADMIN)
        .env("SLUICE_PASSWORD", ADMIN_PASSWORD)
        .env_remove("SLUICE_TOKEN")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_wait_and_exit_codes() {
    let server = TestServer::start().await;
    let out = tokio::task::spawn_blocking({
        let (url, token) = (server.url.clone(), server.token.clone());
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

    let s = &server;
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
    let v: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert!(v["runs"].as_array().unwrap().len() >= 2);
}

#[tokio::test]
async fn the_task_table_shows_every_id_format() {
    let server = TestServer::start().await;
    let out = cli(&server, &["tasks", "--folder", "sales"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (_, tasks) = server.get("/api/v1/tasks?folder=sales").await;
    for t in tasks.as_array().unwrap() {
        for key in [
            "path",
            "id",
            "iics_task_id",
            "starfish_job_id",
            "starfish_project_id",
        ] {
            assert!(
                text.contains(t[key].as_str().unwrap()),
                "{key} of {t} in\n{text}"
            );
        }
    }
}
