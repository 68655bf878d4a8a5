//! Stopping runs (both modes, mid-run), parallel-run rejection, external ids, waiting, log paging.

use super::support::*;
use serde_json::json;

#[tokio::test]
async fn stop_graceful_and_immediate_mid_run_leave_the_target_untouched() {
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("copy.csv");
    std::fs::write(&target, "previous,content\n").unwrap();
    let defs = defs_dir(&[("big/copy.toml", &slow_task(&target, true))]);
    let server = TestServer::start_with(defs.path(), None, &[]).await;

    for mode in ["graceful", "immediate"] {
        let run = server.start_run("big/copy", json!({})).await;
        server
            .wait_for(&run, 60, |r| {
                r["counters"]["source_rows_read"].as_u64().unwrap_or(0) > 0
            })
            .await;
        let id = run["id"].as_str().unwrap();
        let (status, stopping) = server
            .post(&format!("/api/v1/runs/{id}/stop"), json!({"mode": mode}))
            .await;
        assert_eq!(status, 200, "{stopping}");
        let done = server.wait_end(&run, 60).await;
        assert_eq!(done["state"], "stopped", "{mode}: {done}");
        assert_eq!(done["stop_mode"], mode);
        assert_eq!(done["stopped_by"], ADMIN);
        assert!(
            done["error"].as_str().unwrap().contains("unchanged"),
            "{done}"
        );
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "previous,content\n"
        );
        let files = std::fs::read_dir(out.path()).unwrap().count();
        assert_eq!(files, 1, "{mode}: no temporary file is left");
    }
}

#[tokio::test]
async fn a_task_that_may_not_run_in_parallel_refuses_a_second_start() {
    let out = tempfile::tempdir().unwrap();
    let defs = defs_dir(&[("single.toml", &slow_task(&out.path().join("x.csv"), false))]);
    let server = TestServer::start_with(defs.path(), None, &[]).await;
    let first = server.start_run("single", json!({})).await;
    let (status, err) = server.post("/api/v1/runs", json!({"task": "single"})).await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["code"], "task_running");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("does not allow parallel runs"),
        "{err}"
    );
    let id = first["id"].as_str().unwrap();
    server
        .post(
            &format!("/api/v1/runs/{id}/stop"),
            json!({"mode": "immediate"}),
        )
        .await;
    server.wait_end(&first, 60).await;
    let again = server.start_run("single", json!({})).await;
    assert_eq!(again["run_number"], 2, "a refused start used no number");
    server
        .post(
            &format!("/api/v1/runs/{}/stop", again["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
}

#[tokio::test]
async fn external_ids_are_idempotent_and_runs_are_listed_and_paged() {
    let server = TestServer::start().await;
    let body =
        json!({"task": "gift_orders", "external_id": "job-42", "parameters": {"country": "FR"}});
    let (s1, r1) = server.post("/api/v1/runs", body.clone()).await;
    let (s2, r2) = server.post("/api/v1/runs", body).await;
    assert_eq!((s1, s2), (201, 200));
    assert_eq!(r1["id"], r2["id"]);
    let (s3, err) = server
        .post(
            "/api/v1/runs",
            json!({"task": "gift_orders", "external_id": "job-42"}),
        )
        .await;
    assert_eq!((s3, err["code"].as_str()), (409, Some("conflict")));
    let (status, by_ext) = server.get("/api/v1/runs/job-42").await;
    assert_eq!((status, &by_ext["id"]), (200, &r1["id"]));
    server.wait_end(&r1, 120).await;

    for _ in 0..3 {
        let r = server.start_run("gift_orders", json!({})).await;
        server.wait_end(&r, 120).await;
    }
    let (_, page1) = server.get("/api/v1/runs?task=gift_orders&limit=2").await;
    let runs = page1["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["run_number"], 4, "newest first");
    let before = page1["next_before"].as_str().unwrap();
    let (_, page2) = server
        .get(&format!(
            "/api/v1/runs?task=gift_orders&limit=2&before={before}"
        ))
        .await;
    let numbers: Vec<i64> = page2["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, vec![2, 1]);
    let (_, done) = server
        .get("/api/v1/runs?state=completed,failed&limit=100")
        .await;
    assert_eq!(done["runs"].as_array().unwrap().len(), 4);

    // Log paging: `after` continues where the last page ended.
    let (_, first) = server
        .get(&format!(
            "/api/v1/runs/{}/log?level=debug&limit=1",
            r1["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(first["lines"].as_array().unwrap().len(), 1);
    let after = first["next_after"].as_i64().unwrap();
    let (_, rest) = server
        .get(&format!(
            "/api/v1/runs/{}/log?level=debug&after={after}",
            r1["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        rest["lines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["seq"].as_i64().unwrap() > after)
    );
    assert_eq!(rest["finished"], true);
}
