//! Stops (queued, running, escalation) and leases lost with their node.

use super::*;
use crate::domain::Outcome;

pub(super) async fn stops(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "stop", "t", true);
    store.create_task(&t).await.unwrap();
    let queued = store
        .create_run(&t, new_run("a"), Utc::now())
        .await
        .unwrap();
    let stopped = store
        .request_stop(org, queued.id, StopMode::Graceful, "bob", Utc::now())
        .await
        .unwrap();
    assert_eq!(
        stopped.state,
        RunState::Stopped,
        "a queued run stops at once"
    );
    assert_eq!(stopped.stopped_by.as_deref(), Some("bob"));
    assert!(
        store
            .claim_run("n", Duration::from_secs(30), Utc::now())
            .await
            .unwrap()
            .is_none()
    );

    let r = store
        .create_run(&t, new_run("a"), Utc::now())
        .await
        .unwrap();
    store
        .claim_run("n", Duration::from_secs(30), Utc::now())
        .await
        .unwrap()
        .unwrap();
    store.begin_run(r.id, "n").await.unwrap();
    let s = store
        .request_stop(org, r.id, StopMode::Graceful, "bob", Utc::now())
        .await
        .unwrap();
    assert_eq!(s.state, RunState::Stopping);
    let hb = store
        .heartbeat(
            r.id,
            "n",
            Duration::from_secs(30),
            Counters::default(),
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(hb.stop, Some(StopMode::Graceful));
    let s = store
        .request_stop(org, r.id, StopMode::Immediate, "carol", Utc::now())
        .await
        .unwrap();
    assert_eq!(
        s.stop_mode,
        Some(StopMode::Immediate),
        "a harder stop escalates"
    );
    let s = store
        .request_stop(org, r.id, StopMode::Graceful, "dave", Utc::now())
        .await
        .unwrap();
    assert_eq!(
        s.stop_mode,
        Some(StopMode::Immediate),
        "and is not softened again"
    );
    let halted = store
        .finish_run(r.id, "n", end(RunEvent::Halted), Utc::now())
        .await
        .unwrap();
    assert_eq!(halted.state, RunState::Stopped);
    assert!(
        store
            .request_stop(org, r.id, StopMode::Graceful, "x", Utc::now())
            .await
            .is_err()
    );
}

pub(super) async fn leases(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "lease", "t", true);
    store.create_task(&t).await.unwrap();
    let short = store
        .create_run(&t, new_run("a"), Utc::now())
        .await
        .unwrap();
    let held = store
        .create_run(&t, new_run("a"), Utc::now())
        .await
        .unwrap();
    let mine = store
        .create_run(&t, new_run("a"), Utc::now())
        .await
        .unwrap();
    // The clock is the caller's: "dead" claimed a minute ago with a 30-second lease.
    let now = Utc::now();
    store
        .claim_run(
            "dead",
            Duration::from_secs(30),
            now - chrono::Duration::seconds(60),
        )
        .await
        .unwrap()
        .unwrap();
    store
        .claim_run("alive", Duration::from_secs(60), Utc::now())
        .await
        .unwrap()
        .unwrap();
    store
        .claim_run("me", Duration::from_secs(60), Utc::now())
        .await
        .unwrap()
        .unwrap();
    let lost = store.resolve_lost_runs(now, None, "lost").await.unwrap();
    assert_eq!(
        lost.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![short.id]
    );
    assert_eq!(lost[0].state, RunState::Failed);
    assert!(lost[0].error.as_deref().unwrap().contains("lost"));
    let mine_lost = store
        .resolve_lost_runs(Utc::now(), Some("me"), "restarted")
        .await
        .unwrap();
    assert_eq!(
        mine_lost.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![mine.id]
    );
    assert!(
        !store
            .heartbeat(
                short.id,
                "dead",
                Duration::from_secs(1),
                Counters::default(),
                Utc::now()
            )
            .await
            .unwrap()
            .held
    );
    assert!(
        store
            .finish_run(
                short.id,
                "dead",
                end(RunEvent::Finish(Outcome::Completed)),
                Utc::now()
            )
            .await
            .is_err()
    );
    let still = store.get_run(org, held.id).await.unwrap().unwrap();
    assert_eq!(
        still.state,
        RunState::Starting,
        "a live lease is left alone"
    );
    store
        .finish_run(held.id, "alive", end(RunEvent::Fail), Utc::now())
        .await
        .unwrap();
}
