//! The callback outbox: queued with the end of a run, claimed by one node, retried with every
//! attempt kept, delivered, given up, resent.

use super::*;
use crate::domain::Outcome;

const LEASE: Duration = Duration::from_secs(60);

fn attempt(number: i64, status: Option<i64>, error: Option<&str>) -> Attempt {
    // Stores keep microseconds.
    let now = DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).expect("in range");
    Attempt {
        number,
        started_at: now,
        ended_at: now,
        status,
        error: error.map(str::to_string),
    }
}

pub(super) async fn callbacks(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "cb", "t", true);
    store.create_task(&t).await.unwrap();
    let with_cb = NewRun {
        callback_url: Some("http://127.0.0.1:9/cb".into()),
        ..new_run("a")
    };
    let r = store
        .create_run(&t, with_cb.clone(), Utc::now())
        .await
        .unwrap();
    let claim = |node: &'static str, at: DateTime<Utc>| store.claim_callbacks(node, at, 10, LEASE);
    assert!(
        claim("n1", Utc::now()).await.unwrap().is_empty(),
        "none before the end"
    );
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
    let due = claim("n1", Utc::now()).await.unwrap();
    assert_eq!(due.len(), 1, "the end queues the callback");
    assert_eq!(
        (due[0].run_id, due[0].url.as_str(), due[0].state.as_str()),
        (r.id, "http://127.0.0.1:9/cb", "pending")
    );
    let id = due[0].id;
    // Claimed: no other node gets it until the claim expires or is released.
    assert!(claim("n2", Utc::now()).await.unwrap().is_empty());
    assert_eq!(
        claim("n2", Utc::now() + LEASE + Duration::from_secs(1))
            .await
            .unwrap()
            .len(),
        1,
        "an expired claim is claimable"
    );
    assert_eq!(store.release_callbacks("n2").await.unwrap(), 1);
    assert_eq!(store.release_callbacks("n2").await.unwrap(), 0);

    let later = Utc::now() + Duration::from_secs(60);
    let first = attempt(1, Some(500), Some("HTTP 500"));
    store
        .record_delivery(
            id,
            &first,
            Delivery::Retry {
                at: later,
                error: "HTTP 500".into(),
            },
        )
        .await
        .unwrap();
    assert!(
        claim("n1", Utc::now()).await.unwrap().is_empty(),
        "not due yet"
    );
    assert_eq!(
        store
            .next_callback_due()
            .await
            .unwrap()
            .map(|t| t.timestamp()),
        Some(later.timestamp())
    );
    let due = claim("n1", later).await.unwrap();
    assert_eq!((due[0].attempts, due[0].round_attempts), (1, 1));
    assert_eq!(due[0].last_error.as_deref(), Some("HTTP 500"));
    let second = attempt(2, Some(200), None);
    store
        .record_delivery(id, &second, Delivery::Delivered)
        .await
        .unwrap();
    assert!(claim("n1", later).await.unwrap().is_empty());
    let (cb, attempts) = store.list_callbacks(r.id).await.unwrap().pop().unwrap();
    assert_eq!((cb.state.as_str(), cb.last_error), ("delivered", None));
    assert!(cb.delivered_at.is_some());
    assert_eq!(attempts, vec![first, second], "every attempt is kept");

    // A resend starts a new round from now, whatever the state.
    let again = Utc::now() + Duration::from_secs(5);
    let resent = store.resend_callback(id, again).await.unwrap();
    assert_eq!(
        (
            resent.state.as_str(),
            resent.attempts,
            resent.round_attempts
        ),
        ("pending", 2, 0)
    );
    assert_eq!(resent.round_started_at.timestamp(), again.timestamp());
    assert_eq!(claim("n1", again).await.unwrap().len(), 1);
    assert!(matches!(
        store.resend_callback(Uuid::now_v7(), again).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.get_callback(id).await.unwrap().unwrap().id, id);
    store
        .record_delivery(id, &attempt(3, Some(200), None), Delivery::Delivered)
        .await
        .unwrap();

    // A queued run stopped before it started also calls back.
    let q = store.create_run(&t, with_cb, Utc::now()).await.unwrap();
    store
        .request_stop(org, q.id, StopMode::Graceful, "x", Utc::now())
        .await
        .unwrap();
    let due = claim("n1", Utc::now()).await.unwrap();
    assert_eq!(due.len(), 1);
    store
        .record_delivery(
            due[0].id,
            &attempt(1, None, Some("down")),
            Delivery::GiveUp {
                error: "down".into(),
            },
        )
        .await
        .unwrap();
    let (cb, attempts) = store.list_callbacks(q.id).await.unwrap().pop().unwrap();
    assert_eq!(
        (cb.state.as_str(), cb.last_error.as_deref()),
        ("failed", Some("down"))
    );
    assert_eq!(attempts[0].status, None);
    assert_eq!(store.next_callback_due().await.unwrap(), None);
}
