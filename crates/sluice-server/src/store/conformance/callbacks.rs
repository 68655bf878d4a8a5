//! The callback outbox: queued with the end of a run, retried, delivered, given up.

use super::*;
use crate::domain::Outcome;

pub(super) async fn callbacks(store: &dyn Store, org: Uuid) {
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
