//! Races a single SQLite writer hides and a shared backend must survive: eight claimers over 200
//! queued runs, twenty starts of a task that may not run in parallel, twenty starts with one
//! external id. The calls run concurrently (interleaved at every await), as nodes would.

use super::*;
use futures::future::join_all;
use std::collections::HashSet;

pub(super) async fn races(store: &dyn Store, org: Uuid) {
    batch_claims_take_the_oldest(store, org).await;
    claims_are_exclusive(store, org).await;
    single_run_tasks_start_once(store, org).await;
    external_ids_start_once(store, org).await;
}

/// One claim fills several free slots: the oldest queued runs, oldest first, each once.
async fn batch_claims_take_the_oldest(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "race", "batch", true);
    store.create_task(&t).await.unwrap();
    let mut queued = Vec::new();
    for _ in 0..5 {
        let r = store
            .create_run(&t, new_run("b"), Utc::now())
            .await
            .unwrap();
        queued.push(r.id);
    }
    let lease = Duration::from_secs(60);
    let first = store
        .claim_runs("batcher", lease, Utc::now(), 3)
        .await
        .unwrap();
    assert_eq!(first.iter().map(|r| r.id).collect::<Vec<_>>(), queued[..3]);
    assert!(first.iter().all(|r| r.state == RunState::Starting));
    let rest = store
        .claim_runs("batcher", lease, Utc::now(), 10)
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|r| r.id).collect::<Vec<_>>(), queued[3..]);
    assert!(
        store
            .claim_runs("batcher", lease, Utc::now(), 4)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .resolve_lost_runs(Utc::now(), Some("batcher"), "batch over")
        .await
        .unwrap();
}

async fn claims_are_exclusive(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "race", "many", true);
    store.create_task(&t).await.unwrap();
    let mut queued = HashSet::new();
    for _ in 0..200 {
        queued.insert(
            store
                .create_run(&t, new_run("r"), Utc::now())
                .await
                .unwrap()
                .id,
        );
    }
    let claimers = (0..8).map(|i| async move {
        let node = format!("claimer-{i}");
        let mut mine = Vec::new();
        let lease = Duration::from_secs(60);
        // Half the claimers take one run at a time, half three at once.
        let batch = if i % 2 == 0 { 1 } else { 3 };
        loop {
            let runs = store
                .claim_runs(&node, lease, Utc::now(), batch)
                .await
                .unwrap();
            if runs.is_empty() {
                break;
            }
            for run in runs {
                assert_eq!(run.lease_owner.as_deref(), Some(node.as_str()));
                mine.push(run.id);
            }
        }
        mine
    });
    let claimed: Vec<Uuid> = join_all(claimers).await.into_iter().flatten().collect();
    let ours: Vec<Uuid> = claimed
        .into_iter()
        .filter(|id| queued.contains(id))
        .collect();
    let once: HashSet<Uuid> = ours.iter().copied().collect();
    assert_eq!(ours.len(), once.len(), "a run was claimed twice");
    assert_eq!(once, queued, "every queued run was claimed");
    for i in 0..8 {
        let node = format!("claimer-{i}");
        store
            .resolve_lost_runs(Utc::now(), Some(&node), "race over")
            .await
            .unwrap();
    }
}

async fn single_run_tasks_start_once(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "race", "single", false);
    store.create_task(&t).await.unwrap();
    let starts = join_all((0..20).map(|_| store.create_run(&t, new_run("r"), Utc::now()))).await;
    let started: Vec<&Run> = starts.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(started.len(), 1, "exactly one start of a single-run task");
    for refused in starts.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(refused, StoreError::TaskBusy { .. }), "{refused}");
    }
    let stopped = store.request_stop(org, started[0].id, StopMode::Immediate, "race", Utc::now());
    assert_eq!(stopped.await.unwrap().state, RunState::Stopped);
}

async fn external_ids_start_once(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "race", "by-id", true);
    store.create_task(&t).await.unwrap();
    let new = NewRun {
        external_id: Some("race-ext".into()),
        ..new_run("r")
    };
    let starts = join_all((0..20).map(|_| store.create_run(&t, new.clone(), Utc::now()))).await;
    let started: Vec<&Run> = starts.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(started.len(), 1, "exactly one run per external id");
    for refused in starts.iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            matches!(refused, StoreError::ExternalIdTaken(_)),
            "{refused}"
        );
    }
    let found = store.get_run_by_external_id(org, "race-ext").await.unwrap();
    assert_eq!(found.map(|r| r.id), Some(started[0].id));
    store
        .request_stop(org, started[0].id, StopMode::Immediate, "race", Utc::now())
        .await
        .unwrap();
}
