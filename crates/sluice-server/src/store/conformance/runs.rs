//! The run lifecycle: numbering, claims, heartbeats, ends, listing; parallel runs and external
//! ids.

use super::*;
use crate::domain::Outcome;
use crate::domain::spark::{SparkProgress, SparkState, Tally};

pub(super) async fn run_lifecycle(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "life", "t", true);
    store.create_task(&t).await.unwrap();
    let r1 = store
        .create_run(&t, new_run("alice"), Utc::now())
        .await
        .unwrap();
    let r2 = store
        .create_run(&t, new_run("alice"), Utc::now())
        .await
        .unwrap();
    assert_eq!(
        (r1.run_number, r2.run_number),
        (1, 2),
        "numbered per task from 1"
    );
    assert_eq!(r1.state, RunState::Queued);

    let lease = Duration::from_secs(30);
    let c1 = store
        .claim_run("n1", lease, Utc::now())
        .await
        .unwrap()
        .expect("claims the oldest");
    assert_eq!(c1.id, r1.id);
    assert_eq!(c1.state, RunState::Starting);
    assert_eq!(c1.lease_owner.as_deref(), Some("n1"));
    assert_eq!(c1.node.as_deref(), Some("n1"), "a claim names the node");
    assert_eq!(r1.node, None, "a queued run has no node yet");
    let c2 = store
        .claim_run("n2", lease, Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c2.id, r2.id);
    assert!(
        store
            .claim_run("n1", lease, Utc::now())
            .await
            .unwrap()
            .is_none(),
        "nothing left"
    );

    assert!(matches!(
        store.begin_run(r1.id, "n2").await,
        Err(StoreError::NotHeld { run, .. }) if run == r1.id
    ));
    let running = store.begin_run(r1.id, "n1").await.unwrap();
    assert_eq!(running.state, RunState::Running);
    let counters = Counters {
        source_rows_read: 5,
        ..Default::default()
    };
    let hb = store
        .heartbeat(r1.id, "n1", lease, counters, Utc::now())
        .await
        .unwrap();
    assert_eq!(
        hb,
        Heartbeat {
            held: true,
            stop: None
        }
    );
    let seen = store.get_run(org, r1.id).await.unwrap().unwrap();
    assert_eq!(
        seen.counters.source_rows_read, 5,
        "heartbeats save counters"
    );
    assert!(
        !store
            .heartbeat(r1.id, "n2", lease, counters, Utc::now())
            .await
            .unwrap()
            .held
    );

    // The Spark progress is the holder's to write; another node's write is dropped.
    assert!(seen.spark.is_none());
    let progress = SparkProgress {
        app_id: Some("local-17".into()),
        ui_url: Some("http://127.0.0.1:4040".into()),
        state: SparkState::Running,
        jobs: Tally {
            total: 3,
            completed: 2,
            active: 1,
            ..Tally::default()
        },
        updated_at: Some(now_micros()),
        ..SparkProgress::default()
    };
    assert!(
        store
            .set_spark_progress(r1.id, "n1", &progress)
            .await
            .unwrap()
    );
    let other = SparkProgress {
        app_id: Some("theirs".into()),
        ..SparkProgress::default()
    };
    assert!(!store.set_spark_progress(r1.id, "n2", &other).await.unwrap());
    let seen = store.get_run(org, r1.id).await.unwrap().unwrap();
    assert_eq!(seen.spark.as_ref(), Some(&progress), "round trips whole");

    let done = store
        .finish_run(
            r1.id,
            "n1",
            end(RunEvent::Finish(Outcome::CompletedWithErrors)),
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(done.state, RunState::CompletedWithErrors);
    assert_eq!(done.spark, Some(progress.clone()), "the end keeps it");
    assert!(
        !store.set_spark_progress(r1.id, "n1", &other).await.unwrap(),
        "an ended run's progress stays as it ended"
    );
    assert_eq!(done.counters.target_rows_written, 9);
    assert!(done.ended_at.is_some() && done.lease_owner.is_none());
    let seen = store.get_run(org, r1.id).await.unwrap().unwrap();
    assert_eq!(
        seen.node.as_deref(),
        Some("n1"),
        "the node stays named after the end"
    );
    assert!(
        store
            .finish_run(
                r1.id,
                "n1",
                end(RunEvent::Finish(Outcome::Completed)),
                Utc::now()
            )
            .await
            .is_err(),
        "an ended run cannot end again"
    );
    assert!(
        !store
            .heartbeat(r1.id, "n1", lease, counters, Utc::now())
            .await
            .unwrap()
            .held
    );
    // Starting straight to failed.
    let failed = store
        .finish_run(
            r2.id,
            "n2",
            RunEnd {
                event: RunEvent::Fail,
                error: Some("boom".into()),
                counters: Counters::default(),
                log: Vec::new(),
            },
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(
        (failed.state, failed.error.as_deref()),
        (RunState::Failed, Some("boom"))
    );
    let listed = store
        .list_runs(
            org,
            &RunFilter {
                task_id: Some(t.id),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![r2.id, r1.id],
        "newest first"
    );
    let page = store
        .list_runs(
            org,
            &RunFilter {
                task_id: Some(t.id),
                before: Some(r2.id),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    let skipped = store
        .list_runs(
            org,
            &RunFilter {
                task_id: Some(t.id),
                limit: 10,
                offset: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        skipped.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![r1.id],
        "offset skips the newest"
    );
    let by_state = store
        .list_runs(
            org,
            &RunFilter {
                task_id: Some(t.id),
                states: vec![RunState::Failed],
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_state.len(), 1);
    by_type_and_time(store, org, &[r1.id, r2.id]).await;
    assert_eq!(
        store.get_run_by_number(t.id, 2).await.unwrap().unwrap().id,
        r2.id
    );
    assert!(
        matches!(store.delete_task(org, t.id).await, Ok(())),
        "ended runs do not block deletion"
    );
    assert!(
        store.get_run(org, r1.id).await.unwrap().is_some(),
        "history outlives the task"
    );
}

pub(super) async fn parallel_and_external_ids(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "par", "single", false);
    store.create_task(&t).await.unwrap();
    let r = store
        .create_run(&t, new_run("a"), Utc::now())
        .await
        .unwrap();
    let refused = store.create_run(&t, new_run("a"), Utc::now()).await;
    assert!(matches!(
        refused,
        Err(StoreError::TaskBusy { run_number: 1, .. })
    ));
    assert!(matches!(
        store.delete_task(org, t.id).await,
        Err(StoreError::HasActiveRuns)
    ));
    store
        .claim_run("n", Duration::from_secs(30), Utc::now())
        .await
        .unwrap()
        .unwrap();
    store
        .finish_run(
            r.id,
            "n",
            end(RunEvent::Finish(Outcome::Completed)),
            Utc::now(),
        )
        .await
        .unwrap();
    let next = store
        .create_run(&t, new_run("a"), Utc::now())
        .await
        .unwrap();
    assert_eq!(next.run_number, 2, "a refused start does not use a number");

    let ext = NewRun {
        external_id: Some("ext-1".into()),
        ..new_run("a")
    };
    let t2 = sample_task(org, "par", "multi", true);
    store.create_task(&t2).await.unwrap();
    let with_ext = store
        .create_run(&t2, ext.clone(), Utc::now())
        .await
        .unwrap();
    assert!(matches!(
        store.create_run(&t2, ext, Utc::now()).await,
        Err(StoreError::ExternalIdTaken(ref id)) if id == "ext-1"
    ));
    assert_eq!(
        store
            .get_run_by_external_id(org, "ext-1")
            .await
            .unwrap()
            .unwrap()
            .id,
        with_ext.id
    );
    // Leave nothing queued for the checks that follow.
    for id in [next.id, with_ext.id] {
        store
            .request_stop(org, id, StopMode::Graceful, "cleanup", Utc::now())
            .await
            .unwrap();
    }
}

/// Runs filtered by their task's type and by when they started, in the store (the IICS taskflow
/// status list).
async fn by_type_and_time(store: &dyn Store, org: Uuid, mapping_runs: &[Uuid]) {
    let mut flow = sample_task(org, "flows", "typed", true);
    flow.task_type = TaskType::Workflow;
    store.create_task(&flow).await.unwrap();
    let flow_run = store
        .create_run(&flow, new_run("f"), Utc::now())
        .await
        .unwrap();
    let ids = |f: RunFilter| async move {
        let runs = store.list_runs(org, &f).await.unwrap();
        runs.into_iter().map(|r| r.id).collect::<Vec<_>>()
    };
    let typed = |task_type| RunFilter {
        task_type: Some(task_type),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(ids(typed(TaskType::Workflow)).await, vec![flow_run.id]);
    let mappings = ids(typed(TaskType::Mapping)).await;
    assert!(mapping_runs.iter().all(|r| mappings.contains(r)));
    assert!(!mappings.contains(&flow_run.id));
    let other_org = store.create_org("typed-elsewhere").await.unwrap().id;
    let none = store.list_runs(other_org, &typed(TaskType::Workflow)).await;
    assert!(none.unwrap().is_empty());

    // A run not started yet is placed by its creation time.
    let at = flow_run.started_at.unwrap_or(flow_run.created_at);
    let window = |from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>| RunFilter {
        started_from: from,
        started_to: to,
        ..typed(TaskType::Workflow)
    };
    let second = chrono::Duration::seconds(1);
    assert_eq!(ids(window(Some(at), Some(at))).await, vec![flow_run.id]);
    assert!(ids(window(Some(at + second), None)).await.is_empty());
    assert!(ids(window(None, Some(at - second))).await.is_empty());
    // Ended, so that the claims checked after this find only their own runs.
    let stopped = store.request_stop(org, flow_run.id, StopMode::Immediate, "f", Utc::now());
    assert_eq!(stopped.await.unwrap().state, RunState::Stopped);
}
