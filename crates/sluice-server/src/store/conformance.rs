//! The store conformance suite: every [`Store`] implementation must pass it. Tests call
//! [`run_all`] with a fresh, empty store (SQLite here; PostgreSQL runs the same suite).

use super::*;
use crate::domain::task::{DEFAULT_FOLDER, Origin};
use crate::domain::{ConnectionConfig, ConnectionType, Outcome, TaskType, Trigger, ids};
use std::collections::BTreeMap;

/// Runs every check in order against `store`, panicking with a description on the first failure.
pub async fn run_all(store: &dyn Store) {
    let org = store
        .ensure_org(ids::default_org_id(), "default")
        .await
        .expect("ensure org");
    identity(store, org.id).await;
    tasks(store, org.id).await;
    connections(store, org.id).await;
    run_lifecycle(store, org.id).await;
    parallel_and_external_ids(store, org.id).await;
    stops(store, org.id).await;
    leases(store, org.id).await;
    logs(store, org.id).await;
    callbacks(store, org.id).await;
    org_isolation(store).await;
    super::conformance_journal::children_and_watermarks(store, org.id).await;
}

/// Now, to the microsecond: stores keep times at that precision.
fn now_micros() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).expect("in range")
}

pub fn sample_task(org_id: Uuid, folder: &str, name: &str, allow_parallel: bool) -> Task {
    let now = now_micros();
    Task {
        id: Uuid::now_v7(),
        org_id,
        folder: folder.into(),
        name: name.into(),
        task_type: TaskType::Mapping,
        description: "conformance".into(),
        allow_parallel,
        parameters: BTreeMap::from([("p".to_string(), "1".to_string())]),
        definition: serde_json::json!({"sources": [], "target": {"format": "csv", "path": "x"}}),
        origin: Origin::Api,
        created_at: now,
        updated_at: now,
    }
}

fn new_run(by: &str) -> NewRun {
    NewRun {
        started_by: by.into(),
        trigger: Some(Trigger::Api),
        ..Default::default()
    }
}

fn end(event: RunEvent) -> RunEnd {
    RunEnd {
        event,
        error: None,
        counters: Counters {
            source_rows_read: 10,
            target_rows_written: 9,
            source_rows_failed: 1,
            ..Default::default()
        },
    }
}

async fn identity(store: &dyn Store, org: Uuid) {
    let again = store
        .ensure_org(ids::default_org_id(), "default")
        .await
        .unwrap();
    assert_eq!(again.id, org, "ensure_org is idempotent");
    let user = store
        .create_user(org, "alice", "hash1", true)
        .await
        .unwrap();
    assert!(matches!(
        store.create_user(org, "alice", "hash2", false).await,
        Err(StoreError::Conflict(_))
    ));
    let (found, hash) = store.user_credentials("alice").await.unwrap().unwrap();
    assert_eq!((found.id, hash.as_str()), (user.id, "hash1"));
    store.set_password(user.id, "hash3").await.unwrap();
    assert_eq!(
        store.user_credentials("alice").await.unwrap().unwrap().1,
        "hash3"
    );
    let now = Utc::now();
    store
        .create_token(user.id, "tok-a", "t", None)
        .await
        .unwrap();
    store
        .create_token(user.id, "tok-old", "t", Some(now - Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(
        store
            .user_for_token("tok-a", now)
            .await
            .unwrap()
            .unwrap()
            .id,
        user.id
    );
    assert!(
        store
            .user_for_token("tok-old", now)
            .await
            .unwrap()
            .is_none(),
        "expired token"
    );
    assert!(store.user_for_token("nope", now).await.unwrap().is_none());
}

async fn tasks(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "sales", "t1", false);
    store.create_task(&t).await.unwrap();
    let dup = Task {
        id: Uuid::now_v7(),
        ..t.clone()
    };
    assert!(matches!(
        store.create_task(&dup).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_task(org, t.id).await.unwrap().unwrap(), t);
    assert_eq!(
        store
            .get_task_by_short_id(org, &t.short_id())
            .await
            .unwrap()
            .unwrap()
            .id,
        t.id
    );
    assert_eq!(
        store
            .get_task_by_path(org, "sales", "t1")
            .await
            .unwrap()
            .unwrap()
            .id,
        t.id
    );
    let mut changed = t.clone();
    changed.description = "changed".into();
    changed.updated_at = now_micros();
    store.update_task(&changed).await.unwrap();
    assert_eq!(
        store
            .get_task(org, t.id)
            .await
            .unwrap()
            .unwrap()
            .description,
        "changed"
    );
    let other = sample_task(org, DEFAULT_FOLDER, "t1", false);
    store.create_task(&other).await.unwrap();
    let by_name = store
        .list_tasks(
            org,
            &TaskFilter {
                name: Some("t1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_name.len(), 2);
    let in_folder = store
        .list_tasks(
            org,
            &TaskFilter {
                folder: Some("sales".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(in_folder.len(), 1);
    store.delete_task(org, other.id).await.unwrap();
    assert!(store.get_task(org, other.id).await.unwrap().is_none());
    assert!(matches!(
        store.delete_task(org, other.id).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn connections(store: &dyn Store, org: Uuid) {
    let now = now_micros();
    let c = Connection {
        id: Uuid::now_v7(),
        org_id: org,
        name: "files1".into(),
        conn_type: ConnectionType::Files,
        description: String::new(),
        config: ConnectionConfig {
            path: Some("/tmp".into()),
            ..Default::default()
        },
        origin: Origin::Api,
        created_at: now,
        updated_at: now,
    };
    store.create_connection(&c).await.unwrap();
    assert!(matches!(
        store
            .create_connection(&Connection {
                id: Uuid::now_v7(),
                ..c.clone()
            })
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .get_connection_by_name(org, "files1")
            .await
            .unwrap()
            .unwrap(),
        c
    );
    assert_eq!(store.list_connections(org).await.unwrap().len(), 1);
    store.delete_connection(org, c.id).await.unwrap();
    assert!(store.get_connection(org, c.id).await.unwrap().is_none());
}

async fn run_lifecycle(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "life", "t", true);
    store.create_task(&t).await.unwrap();
    let r1 = store.create_run(&t, new_run("alice")).await.unwrap();
    let r2 = store.create_run(&t, new_run("alice")).await.unwrap();
    assert_eq!(
        (r1.run_number, r2.run_number),
        (1, 2),
        "numbered per task from 1"
    );
    assert_eq!(r1.state, RunState::Queued);

    let lease = Duration::from_secs(30);
    let c1 = store
        .claim_run("n1", lease)
        .await
        .unwrap()
        .expect("claims the oldest");
    assert_eq!(c1.id, r1.id);
    assert_eq!(c1.state, RunState::Starting);
    assert_eq!(c1.lease_owner.as_deref(), Some("n1"));
    let c2 = store.claim_run("n2", lease).await.unwrap().unwrap();
    assert_eq!(c2.id, r2.id);
    assert!(
        store.claim_run("n1", lease).await.unwrap().is_none(),
        "nothing left"
    );

    assert!(matches!(
        store.begin_run(r1.id, "n2").await,
        Err(StoreError::Conflict(_))
    ));
    let running = store.begin_run(r1.id, "n1").await.unwrap();
    assert_eq!(running.state, RunState::Running);
    let counters = Counters {
        source_rows_read: 5,
        ..Default::default()
    };
    let hb = store.heartbeat(r1.id, "n1", lease, counters).await.unwrap();
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
            .heartbeat(r1.id, "n2", lease, counters)
            .await
            .unwrap()
            .held
    );

    let done = store
        .finish_run(
            r1.id,
            "n1",
            end(RunEvent::Finish(Outcome::CompletedWithErrors)),
        )
        .await
        .unwrap();
    assert_eq!(done.state, RunState::CompletedWithErrors);
    assert_eq!(done.counters.target_rows_written, 9);
    assert!(done.ended_at.is_some() && done.lease_owner.is_none());
    assert!(
        store
            .finish_run(r1.id, "n1", end(RunEvent::Finish(Outcome::Completed)))
            .await
            .is_err(),
        "an ended run cannot end again"
    );
    assert!(
        !store
            .heartbeat(r1.id, "n1", lease, counters)
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
            },
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

async fn parallel_and_external_ids(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "par", "single", false);
    store.create_task(&t).await.unwrap();
    let r = store.create_run(&t, new_run("a")).await.unwrap();
    let refused = store.create_run(&t, new_run("a")).await;
    assert!(matches!(refused, Err(StoreError::Conflict(ref m)) if m.contains("parallel")));
    store
        .claim_run("n", Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    store
        .finish_run(r.id, "n", end(RunEvent::Finish(Outcome::Completed)))
        .await
        .unwrap();
    let next = store.create_run(&t, new_run("a")).await.unwrap();
    assert_eq!(next.run_number, 2, "a refused start does not use a number");

    let ext = NewRun {
        external_id: Some("ext-1".into()),
        ..new_run("a")
    };
    let t2 = sample_task(org, "par", "multi", true);
    store.create_task(&t2).await.unwrap();
    let with_ext = store.create_run(&t2, ext.clone()).await.unwrap();
    assert!(matches!(
        store.create_run(&t2, ext).await,
        Err(StoreError::Conflict(_))
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
            .request_stop(org, id, StopMode::Graceful, "cleanup")
            .await
            .unwrap();
    }
}

async fn stops(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "stop", "t", true);
    store.create_task(&t).await.unwrap();
    let queued = store.create_run(&t, new_run("a")).await.unwrap();
    let stopped = store
        .request_stop(org, queued.id, StopMode::Graceful, "bob")
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
            .claim_run("n", Duration::from_secs(30))
            .await
            .unwrap()
            .is_none()
    );

    let r = store.create_run(&t, new_run("a")).await.unwrap();
    store
        .claim_run("n", Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    store.begin_run(r.id, "n").await.unwrap();
    let s = store
        .request_stop(org, r.id, StopMode::Graceful, "bob")
        .await
        .unwrap();
    assert_eq!(s.state, RunState::Stopping);
    let hb = store
        .heartbeat(r.id, "n", Duration::from_secs(30), Counters::default())
        .await
        .unwrap();
    assert_eq!(hb.stop, Some(StopMode::Graceful));
    let s = store
        .request_stop(org, r.id, StopMode::Immediate, "carol")
        .await
        .unwrap();
    assert_eq!(
        s.stop_mode,
        Some(StopMode::Immediate),
        "a harder stop escalates"
    );
    let s = store
        .request_stop(org, r.id, StopMode::Graceful, "dave")
        .await
        .unwrap();
    assert_eq!(
        s.stop_mode,
        Some(StopMode::Immediate),
        "and is not softened again"
    );
    let halted = store
        .finish_run(r.id, "n", end(RunEvent::Halted))
        .await
        .unwrap();
    assert_eq!(halted.state, RunState::Stopped);
    assert!(
        store
            .request_stop(org, r.id, StopMode::Graceful, "x")
            .await
            .is_err()
    );
}

async fn leases(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "lease", "t", true);
    store.create_task(&t).await.unwrap();
    let short = store.create_run(&t, new_run("a")).await.unwrap();
    let held = store.create_run(&t, new_run("a")).await.unwrap();
    let mine = store.create_run(&t, new_run("a")).await.unwrap();
    store
        .claim_run("dead", Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    store
        .claim_run("alive", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    store
        .claim_run("me", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let lost = store
        .resolve_lost_runs(Utc::now(), None, "lost")
        .await
        .unwrap();
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
                Counters::default()
            )
            .await
            .unwrap()
            .held
    );
    assert!(
        store
            .finish_run(short.id, "dead", end(RunEvent::Finish(Outcome::Completed)))
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
        .finish_run(held.id, "alive", end(RunEvent::Fail))
        .await
        .unwrap();
}

async fn logs(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "logs", "t", true);
    store.create_task(&t).await.unwrap();
    let r = store.create_run(&t, new_run("a")).await.unwrap();
    let line = |level, msg: &str| NewLogLine {
        at: Utc::now(),
        level,
        message: msg.into(),
    };
    store
        .append_log(
            r.id,
            &[line(LogLevel::Info, "one"), line(LogLevel::Debug, "two")],
        )
        .await
        .unwrap();
    store
        .append_log(r.id, &[line(LogLevel::Error, "three")])
        .await
        .unwrap();
    let all = store.read_log(r.id, 0, LogLevel::Debug, 100).await.unwrap();
    assert_eq!(all.iter().map(|l| l.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    let info = store.read_log(r.id, 0, LogLevel::Info, 100).await.unwrap();
    assert_eq!(
        info.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
        vec!["one", "three"]
    );
    let after = store.read_log(r.id, 1, LogLevel::Debug, 1).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].message, "two");
    store
        .request_stop(org, r.id, StopMode::Graceful, "cleanup")
        .await
        .unwrap();
}

async fn callbacks(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "cb", "t", true);
    store.create_task(&t).await.unwrap();
    let with_cb = NewRun {
        callback_url: Some("http://127.0.0.1:9/cb".into()),
        ..new_run("a")
    };
    let r = store.create_run(&t, with_cb.clone()).await.unwrap();
    assert!(
        store
            .due_callbacks(Utc::now(), 10)
            .await
            .unwrap()
            .is_empty(),
        "none before the end"
    );
    store
        .claim_run("n", Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    store
        .finish_run(r.id, "n", end(RunEvent::Finish(Outcome::Completed)))
        .await
        .unwrap();
    let due = store.due_callbacks(Utc::now(), 10).await.unwrap();
    assert_eq!(due.len(), 1, "the end queues the callback");
    assert_eq!(
        (due[0].run_id, due[0].url.as_str()),
        (r.id, "http://127.0.0.1:9/cb")
    );
    let later = Utc::now() + Duration::from_secs(60);
    store
        .record_delivery(
            due[0].id,
            Delivery::Retry {
                at: later,
                error: "HTTP 500".into(),
            },
        )
        .await
        .unwrap();
    assert!(
        store
            .due_callbacks(Utc::now(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .next_callback_due()
            .await
            .unwrap()
            .map(|t| t.timestamp()),
        Some(later.timestamp())
    );
    let due = store.due_callbacks(later, 10).await.unwrap();
    assert_eq!(due[0].attempts, 1);
    store
        .record_delivery(due[0].id, Delivery::Delivered)
        .await
        .unwrap();
    assert!(store.due_callbacks(later, 10).await.unwrap().is_empty());
    let (_, state, err) = store.run_callbacks(r.id).await.unwrap().pop().unwrap();
    assert_eq!((state.as_str(), err), ("delivered", None));

    // A queued run stopped before it started also calls back.
    let q = store.create_run(&t, with_cb).await.unwrap();
    store
        .request_stop(org, q.id, StopMode::Graceful, "x")
        .await
        .unwrap();
    let due = store.due_callbacks(Utc::now(), 10).await.unwrap();
    assert_eq!(due.len(), 1);
    store
        .record_delivery(
            due[0].id,
            Delivery::GiveUp {
                error: "down".into(),
            },
        )
        .await
        .unwrap();
    let (_, state, err) = store.run_callbacks(q.id).await.unwrap().pop().unwrap();
    assert_eq!((state.as_str(), err.as_deref()), ("failed", Some("down")));
    assert_eq!(store.next_callback_due().await.unwrap(), None);
}

async fn org_isolation(store: &dyn Store) {
    let a = store.create_org("org-a").await.unwrap();
    let b = store.create_org("org-b").await.unwrap();
    assert!(matches!(
        store.create_org("org-a").await,
        Err(StoreError::Conflict(_))
    ));
    let t = sample_task(a.id, DEFAULT_FOLDER, "secret", true);
    store.create_task(&t).await.unwrap();
    let same_name_in_b = sample_task(b.id, DEFAULT_FOLDER, "secret", true);
    store.create_task(&same_name_in_b).await.unwrap();
    assert!(store.get_task(b.id, t.id).await.unwrap().is_none());
    assert!(
        store
            .get_task_by_short_id(b.id, &t.short_id())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .list_tasks(b.id, &TaskFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
    let r = store
        .create_run(
            &t,
            NewRun {
                external_id: Some("shared".into()),
                ..new_run("a")
            },
        )
        .await
        .unwrap();
    assert!(store.get_run(b.id, r.id).await.unwrap().is_none());
    assert!(
        store
            .get_run_by_external_id(b.id, "shared")
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store
            .request_stop(b.id, r.id, StopMode::Immediate, "b")
            .await,
        Err(StoreError::NotFound(_))
    ));
    // External ids are unique per org, not globally.
    store
        .create_run(
            &same_name_in_b,
            NewRun {
                external_id: Some("shared".into()),
                ..new_run("b")
            },
        )
        .await
        .unwrap();
    assert!(
        store
            .list_runs(
                b.id,
                &RunFilter {
                    limit: 100,
                    ..Default::default()
                }
            )
            .await
            .unwrap()
            .len()
            == 1
    );
}
