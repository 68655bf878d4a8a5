//! Busy tasks and retries: `queue` keeps starts in order behind the active run, `cancel_previous`
//! stops it and waits for its end, `refuse` and `skip` refuse; a failed run with attempts left
//! queues its retry (linked, delayed, no callback yet) and only the last attempt's end sends one.

use super::*;
use crate::domain::Outcome;
use crate::domain::task::{OnBusy, RetryPolicy, RunPolicy};

const LEASE: Duration = Duration::from_secs(60);

fn single(org: Uuid, name: &str, on_busy: OnBusy) -> Task {
    Task {
        policy: RunPolicy {
            on_busy,
            ..Default::default()
        },
        ..sample_task(org, "busy", name, false)
    }
}

async fn claim_ids(store: &dyn Store, at: DateTime<Utc>) -> Vec<Uuid> {
    let runs = store.claim_runs("n", LEASE, at, 10).await.unwrap();
    runs.into_iter().map(|r| r.id).collect()
}

async fn finish(store: &dyn Store, id: Uuid, event: RunEvent) -> Run {
    store
        .finish_run(id, "n", end(event), now_micros())
        .await
        .unwrap()
}

pub(super) async fn busy_policies(store: &dyn Store, org: Uuid) {
    for refusing in [OnBusy::Refuse, OnBusy::Skip] {
        let t = single(org, refusing.as_str(), refusing);
        store.create_task(&t).await.unwrap();
        store
            .create_run(&t, new_run("a"), Utc::now())
            .await
            .unwrap();
        let second = store.create_run(&t, new_run("b"), Utc::now()).await;
        assert!(
            matches!(second, Err(StoreError::TaskBusy { .. })),
            "{refusing:?}"
        );
    }

    // Queue: three starts, claimed one at a time, in order.
    let q = single(org, "queue", OnBusy::Queue);
    store.create_task(&q).await.unwrap();
    let mut queued = Vec::new();
    for by in ["a", "b", "c"] {
        queued.push(
            store
                .create_run(&q, new_run(by), Utc::now())
                .await
                .unwrap()
                .id,
        );
    }
    // The tasks above hold active runs too; only queue's are looked at.
    let claimable = |ids: Vec<Uuid>| {
        ids.into_iter()
            .filter(|id| queued.contains(id))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        claimable(claim_ids(store, Utc::now()).await),
        vec![queued[0]]
    );
    assert!(
        claimable(claim_ids(store, Utc::now()).await).is_empty(),
        "the second waits"
    );
    finish(store, queued[0], RunEvent::Finish(Outcome::Completed)).await;
    assert_eq!(
        claimable(claim_ids(store, Utc::now()).await),
        vec![queued[1]]
    );
    finish(store, queued[1], RunEvent::Finish(Outcome::Failed)).await;
    assert_eq!(
        claimable(claim_ids(store, Utc::now()).await),
        vec![queued[2]]
    );
    finish(store, queued[2], RunEvent::Finish(Outcome::Completed)).await;

    // Cancel previous: the running run is asked to stop at once; the new one waits for its end.
    let c = single(org, "cancel", OnBusy::CancelPrevious);
    store.create_task(&c).await.unwrap();
    let first = store
        .create_run(&c, new_run("a"), Utc::now())
        .await
        .unwrap();
    assert_eq!(claim_ids(store, Utc::now()).await, vec![first.id]);
    let second = store
        .create_run(&c, new_run("b"), Utc::now())
        .await
        .unwrap();
    let stopping = store.get_run(org, first.id).await.unwrap().unwrap();
    assert_eq!(
        (stopping.state, stopping.stop_mode),
        (RunState::Stopping, Some(StopMode::Immediate))
    );
    assert!(
        claim_ids(store, Utc::now()).await.is_empty(),
        "waits for the stopped run's end"
    );
    finish(store, first.id, RunEvent::Halted).await;
    assert_eq!(claim_ids(store, Utc::now()).await, vec![second.id]);
    // A queued run cancelled by a newer start stops at once.
    let third = store
        .create_run(&c, new_run("c"), Utc::now())
        .await
        .unwrap();
    let fourth = store
        .create_run(&c, new_run("d"), Utc::now())
        .await
        .unwrap();
    let third = store.get_run(org, third.id).await.unwrap().unwrap();
    assert_eq!(third.state, RunState::Stopped);
    assert_eq!(
        store.get_run(org, fourth.id).await.unwrap().unwrap().state,
        RunState::Queued
    );
}

pub(super) async fn retries(store: &dyn Store, org: Uuid) {
    let t = Task {
        policy: RunPolicy {
            retry: RetryPolicy {
                retries: 2,
                delay_secs: 10,
                backoff: 2.0,
            },
            ..Default::default()
        },
        ..sample_task(org, "retry", "flaky", false)
    };
    store.create_task(&t).await.unwrap();
    let with_cb = NewRun {
        callback_url: Some("http://127.0.0.1:9/cb".into()),
        ..new_run("a")
    };
    let first = store.create_run(&t, with_cb, Utc::now()).await.unwrap();
    assert_eq!(
        (first.attempt, first.max_attempts(), first.retry_of),
        (1, 3, None)
    );
    let mut at = Utc::now();
    let mut previous = first.clone();
    for (attempt, delay) in [(2u32, 10i64), (3, 20)] {
        assert_eq!(claim_ids(store, at).await, vec![previous.id]);
        let ended = finish(store, previous.id, RunEvent::Finish(Outcome::Failed)).await;
        assert!(
            store.list_callbacks(previous.id).await.unwrap().is_empty(),
            "no callback while attempts are left"
        );
        let mut found = store
            .list_runs(
                org,
                &RunFilter {
                    task_id: Some(t.id),
                    states: vec![RunState::Queued],
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        let retry = found.pop().unwrap();
        assert_eq!(
            (retry.attempt, retry.retry_of, retry.max_attempts()),
            (attempt, Some(previous.id), 3)
        );
        assert_eq!(retry.callback_url, first.callback_url);
        let due = ended.ended_at.unwrap() + chrono::Duration::seconds(delay);
        assert_eq!(retry.not_before, Some(due));
        assert!(
            claim_ids(store, due - chrono::Duration::seconds(1))
                .await
                .is_empty(),
            "waits for its delay"
        );
        at = due;
        previous = retry;
    }
    assert_eq!(claim_ids(store, at).await, vec![previous.id]);
    finish(store, previous.id, RunEvent::Finish(Outcome::Failed)).await;
    assert_eq!(
        store.list_callbacks(previous.id).await.unwrap().len(),
        1,
        "the last attempt calls back"
    );
    let active = RunFilter {
        task_id: Some(t.id),
        states: RunState::ACTIVE.to_vec(),
        limit: 10,
        ..Default::default()
    };
    assert!(
        store.list_runs(org, &active).await.unwrap().is_empty(),
        "three attempts in all"
    );

    // A stopped run is not retried.
    let stopped = store
        .create_run(&t, new_run("s"), Utc::now())
        .await
        .unwrap();
    store
        .request_stop(org, stopped.id, StopMode::Graceful, "me", Utc::now())
        .await
        .unwrap();
    assert!(store.list_runs(org, &active).await.unwrap().is_empty());
    // A run lost with its node is failed, and retried.
    let lost = store
        .create_run(&t, new_run("l"), Utc::now())
        .await
        .unwrap();
    assert_eq!(claim_ids(store, Utc::now()).await, vec![lost.id]);
    store
        .resolve_lost_runs(Utc::now(), Some("n"), "gone")
        .await
        .unwrap();
    let retried = store.list_runs(org, &active).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].retry_of, Some(lost.id));
}
