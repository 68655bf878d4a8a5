//! A server killed with SIGKILL loses nothing: its running run is resolved after restart with a
//! clear reason and queued runs still run. SIGTERM stops running jobs at a safe point.

use super::support::*;

#[tokio::test]
async fn sigkill_mid_run_is_resolved_after_restart_and_nothing_else_is_lost() {
    let out = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let target = out.path().join("copy.csv");
    let defs = defs_dir(&[
        ("slow.toml", &slow_task(&target, true)),
        (
            "quick.toml",
            &format!(
                "type = \"MTT\"\n[[sources]]\nname = \"o\"\nformat = \"csv\"\npath = \"{}\"\n[target]\nformat = \"parquet\"\npath = \"{}\"\n",
                examples_dir().join("data/orders.csv").display(),
                out.path().join("quick.parquet").display()
            ),
        ),
    ]);
    // One run at a time, so the quick run waits in the queue behind the slow one.
    let env = [("SLUICE_WORKER__CONCURRENCY", "1")];
    let mut app = TestApp::spawn_with(defs.path(), Some(data.path()), &env).await;
    let slow = app.start_run("slow", &[]).await;
    app.wait_for(&slow, 60, |r| r.counters.source_rows_read > 0)
        .await;
    let queued = app.start_run("quick", &[]).await;
    assert_eq!(queued.state, "queued");
    app.kill();

    let app = TestApp::spawn_with(defs.path(), Some(data.path()), &env).await;
    let lost = app.runs().get(&slow).expect(200).await;
    assert_eq!(lost.state, "failed", "{lost:?}");
    assert!(
        lost.error.as_deref().unwrap().contains("interrupted"),
        "{lost:?}"
    );
    let done = app.wait_end(&queued, 120).await;
    assert_eq!(
        done.state, "completed",
        "the queued run survived the crash: {done:?}"
    );
    assert!(out.path().join("quick.parquet").exists());
    assert!(!target.exists(), "the killed run left no target");
    let leftovers: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("copy"))
        .collect();
    // A temp file of the killed process may remain (it had no chance to clean up), but never the target.
    assert!(
        leftovers.iter().all(|n| n.starts_with('.')),
        "{leftovers:?}"
    );
}

#[tokio::test]
async fn sigterm_stops_running_jobs_at_a_safe_point_and_exits() {
    let out = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let target = out.path().join("copy.csv");
    let defs = defs_dir(&[("slow.toml", &slow_task(&target, true))]);
    let mut app = TestApp::spawn_with(defs.path(), Some(data.path()), &[]).await;
    let run = app.start_run("slow", &[]).await;
    app.wait_for(&run, 60, |r| r.counters.source_rows_read > 0)
        .await;
    let status = app.terminate().await;
    assert!(
        status.success(),
        "clean exit: {status:?}\n{}",
        app.server_log()
    );

    let app = TestApp::spawn_with(defs.path(), Some(data.path()), &[]).await;
    let r = app.runs().get(&run).expect(200).await;
    assert_eq!(r.state, "stopped", "{r:?}");
    assert!(
        r.error.as_deref().unwrap().contains("shutting down"),
        "{r:?}"
    );
    assert!(!target.exists());
}
