//! Run children: the parts of a run (a replication's tables), each with its state and counters.

use super::*;
use crate::domain::RunChild;

fn at(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
}

fn child(run_id: Uuid, seq: i32, name: &str, state: RunState) -> RunChild {
    RunChild {
        run_id,
        seq,
        name: name.into(),
        state,
        started_at: at(1_700_000_000_000_001),
        ended_at: None,
        counters: Counters {
            source_rows_read: 7,
            inserts: 5,
            skipped: 2,
            ..Counters::default()
        },
        error: None,
        task_id: None,
        child_run_id: None,
    }
}

pub(super) async fn children(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "children", "replicate", true);
    store.create_task(&t).await.unwrap();
    let r1 = store
        .create_run(&t, new_run("c"), Utc::now())
        .await
        .unwrap();
    let r2 = store
        .create_run(&t, new_run("c"), Utc::now())
        .await
        .unwrap();
    assert!(store.list_run_children(r1.id).await.unwrap().is_empty());

    // Put out of order; listed by seq.
    let b = child(r1.id, 2, "public.b", RunState::Queued);
    store.put_run_child(&b).await.unwrap();
    store
        .put_run_child(&child(r1.id, 1, "public.a", RunState::Running))
        .await
        .unwrap();
    let theirs = child(r2.id, 1, "other", RunState::Queued);
    store.put_run_child(&theirs).await.unwrap();
    let names = |children: Vec<RunChild>| children.into_iter().map(|c| c.name).collect::<Vec<_>>();
    assert_eq!(
        names(store.list_run_children(r1.id).await.unwrap()),
        vec!["public.a", "public.b"],
        "ordered by seq"
    );

    // Replacing by seq keeps one row with the new values, every field of them.
    let done = RunChild {
        state: RunState::CompletedWithErrors,
        ended_at: at(1_700_000_000_500_000),
        error: Some("3 rows rejected".into()),
        // A taskflow step's: its task and its own run.
        task_id: Some(t.id),
        child_run_id: Some(r2.id),
        counters: Counters {
            source_rows_read: 1,
            source_rows_failed: 2,
            target_rows_written: 3,
            target_rows_failed: 4,
            inserts: 5,
            updates: 6,
            deletes: 7,
            skipped: 8,
        },
        ..child(r1.id, 1, "public.a", RunState::Running)
    };
    store.put_run_child(&done).await.unwrap();
    assert_eq!(
        store.list_run_children(r1.id).await.unwrap(),
        vec![done.clone(), b],
        "replaced in place; counters, times and error round trip"
    );
    assert_eq!(
        store.list_run_children(r2.id).await.unwrap(),
        vec![theirs],
        "another run's child with the same seq is its own"
    );

    // Every state a child can be in round trips.
    let states = [
        RunState::Queued,
        RunState::Running,
        RunState::Completed,
        RunState::CompletedWithErrors,
        RunState::Failed,
        RunState::Stopped,
    ];
    for (i, state) in states.into_iter().enumerate() {
        let mut c = child(r2.id, i as i32 + 10, &format!("t{i}"), state);
        c.started_at = None;
        store.put_run_child(&c).await.unwrap();
    }
    let got = store.list_run_children(r2.id).await.unwrap();
    assert_eq!(
        got.iter().skip(1).map(|c| c.state).collect::<Vec<_>>(),
        states
    );
    assert!(got.iter().skip(1).all(|c| c.started_at.is_none()));

    // Leave nothing queued for the checks that follow.
    for r in [r1.id, r2.id] {
        store
            .request_stop(org, r, StopMode::Immediate, "cleanup", Utc::now())
            .await
            .unwrap();
    }
}
