//! Run children: the parts of a run (a replication's tables), each with its state and counters.

use super::{Store, sample_task};
use crate::domain::{Counters, NewRun, RunChild, RunState, Trigger};
use chrono::{DateTime, Utc};
use uuid::Uuid;

fn at(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
}

pub(super) async fn children(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "journal", "replicate", true);
    store.create_task(&t).await.unwrap();
    let new = || NewRun {
        started_by: "j".into(),
        trigger: Some(Trigger::Api),
        ..Default::default()
    };
    let r1 = store.create_run(&t, new()).await.unwrap();
    let r2 = store.create_run(&t, new()).await.unwrap();
    assert!(store.list_run_children(r1.id).await.unwrap().is_empty());

    let child = |run_id, seq, name: &str, state| RunChild {
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
    };
    // Put out of order; listed by seq.
    store
        .put_run_child(&child(r1.id, 2, "public.b", RunState::Queued))
        .await
        .unwrap();
    store
        .put_run_child(&child(r1.id, 1, "public.a", RunState::Running))
        .await
        .unwrap();
    store
        .put_run_child(&child(r2.id, 1, "other", RunState::Queued))
        .await
        .unwrap();
    // Replacing by seq keeps one row with the new values.
    let mut done = child(r1.id, 1, "public.a", RunState::Failed);
    done.ended_at = at(1_700_000_000_500_000);
    done.error = Some("boom".into());
    done.counters.target_rows_failed = 3;
    store.put_run_child(&done).await.unwrap();
    let got = store.list_run_children(r1.id).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], done);
    assert_eq!(got[1].name, "public.b");
    assert_eq!(got[1].state, RunState::Queued);
    assert_eq!(store.list_run_children(r2.id).await.unwrap().len(), 1);

    // Leave nothing queued for the checks that follow.
    for r in [r1.id, r2.id] {
        store
            .request_stop(org, r, crate::domain::StopMode::Immediate, "j")
            .await
            .unwrap();
    }
}
