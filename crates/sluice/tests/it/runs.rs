//! Stopping runs (both modes, mid-run), parallel-run rejection, external ids, waiting, log paging.

use super::support::*;
use sluice_types::StartRun;

#[tokio::test]
async fn stop_graceful_and_immediate_mid_run_leave_the_target_untouched() {
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("copy.csv");
    std::fs::write(&target, "previous,content\n").unwrap();
    let defs = defs_dir(&[("big/copy.toml", &slow_task(&target, true))]);
    let app = TestApp::spawn_with(defs.path(), None, &[]).await;

    for mode in ["graceful", "immediate"] {
        let run = app.start_run("big/copy", &[]).await;
        app.wait_for(&run, 60, |r| r.counters.source_rows_read > 0)
            .await;
        app.runs().stop(&run, Some(mode)).expect(200).await;
        let done = app.wait_end(&run, 60).await;
        assert_eq!(done.state, "stopped", "{mode}: {done:?}");
        assert_eq!(done.stop_mode.as_deref(), Some(mode));
        assert_eq!(done.stopped_by.as_deref(), Some(ADMIN));
        assert!(
            done.error.as_deref().unwrap().contains("unchanged"),
            "{done:?}"
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
    let app = TestApp::spawn_with(defs.path(), None, &[]).await;
    let first = app.start_run("single", &[]).await;
    let err = app.runs().start(&start("single")).expect_error(409).await;
    assert_eq!(err.code, "task_running");
    assert!(
        err.message.contains("does not allow parallel runs"),
        "{err:?}"
    );
    let _ = app.runs().stop(&first, Some("immediate")).send().await;
    app.wait_end(&first, 60).await;
    let again = app.start_run("single", &[]).await;
    assert_eq!(again.run_number, 2, "a refused start used no number");
    let _ = app.runs().stop(&again, None).send().await;
}

fn start(task: &str) -> StartRun {
    StartRun {
        task: task.into(),
        ..StartRun::default()
    }
}

#[tokio::test]
async fn external_ids_are_idempotent_and_runs_are_listed_and_paged() {
    let app = TestApp::spawn().await;
    let body = StartRun {
        external_id: Some("job-42".into()),
        parameters: [("country".to_string(), "FR".to_string())].into(),
        ..start("gift_orders")
    };
    let r1 = app.runs().start(&body).expect(201).await;
    let r2 = app.runs().start(&body).expect(200).await;
    assert_eq!(r1.id, r2.id);
    let other = StartRun {
        external_id: Some("job-42".into()),
        ..start("gift_orders")
    };
    let err = app.runs().start(&other).expect_error(409).await;
    assert_eq!(err.code, "conflict");
    let by_ext = app.runs().get("job-42").expect(200).await;
    assert_eq!(by_ext.id, r1.id);
    app.wait_end(&r1, 120).await;

    for _ in 0..3 {
        let r = app.start_run("gift_orders", &[]).await;
        app.wait_end(&r, 120).await;
    }
    let page1 = app
        .runs()
        .list("?task=gift_orders&limit=2")
        .expect(200)
        .await;
    assert_eq!(page1.runs.len(), 2);
    assert_eq!(page1.runs[0].run_number, 4, "newest first");
    let before = page1.next_before.unwrap();
    let page2 = app
        .runs()
        .list(&format!("?task=gift_orders&limit=2&before={before}"))
        .expect(200)
        .await;
    let numbers: Vec<i64> = page2.runs.iter().map(|r| r.run_number).collect();
    assert_eq!(numbers, vec![2, 1]);
    let done = app
        .runs()
        .list("?state=completed,failed&limit=100")
        .expect(200)
        .await;
    assert_eq!(done.runs.len(), 4);

    // Log paging: `after` continues where the last page ended.
    let first = app
        .runs()
        .log(&r1, "?level=debug&limit=1")
        .expect(200)
        .await;
    assert_eq!(first.lines.len(), 1);
    let after = first.next_after;
    let rest = app
        .runs()
        .log(&r1, &format!("?level=debug&after={after}"))
        .expect(200)
        .await;
    assert!(rest.lines.iter().all(|l| l.seq > after));
    assert!(rest.finished);
}
