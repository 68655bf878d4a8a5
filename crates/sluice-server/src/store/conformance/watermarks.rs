//! High-water marks (absent, set, replaced, cleared; per task and per object; gone with their
//! task) and webhook keys.

use super::*;

pub(super) async fn watermarks(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "marks", "replicate", true);
    let other = sample_task(org, "marks", "other", true);
    store.create_task(&t).await.unwrap();
    store.create_task(&other).await.unwrap();
    let r1 = store
        .create_run(&t, new_run("m"), Utc::now())
        .await
        .unwrap();
    let r2 = store
        .create_run(&t, new_run("m"), Utc::now())
        .await
        .unwrap();
    let mark = |task: Uuid, object: &'static str| async move {
        store.get_watermark(task, object).await.unwrap()
    };

    assert_eq!(mark(t.id, "public.a").await, None, "absent at first");
    store
        .set_watermark(t.id, "public.a", "100", r1.id)
        .await
        .unwrap();
    store
        .set_watermark(t.id, "public.b", "2026-01-01 00:00:00", r1.id)
        .await
        .unwrap();
    store
        .set_watermark(t.id, "public.a", "250", r2.id)
        .await
        .unwrap();
    assert_eq!(
        mark(t.id, "public.a").await.as_deref(),
        Some("250"),
        "a later mark replaces the earlier one"
    );
    assert_eq!(
        mark(t.id, "public.b").await.as_deref(),
        Some("2026-01-01 00:00:00"),
        "marks are kept per object"
    );

    // Per task: the same object of another task has its own mark.
    assert_eq!(mark(other.id, "public.a").await, None);
    store
        .set_watermark(other.id, "public.a", "7", r1.id)
        .await
        .unwrap();
    assert_eq!(mark(t.id, "public.a").await.as_deref(), Some("250"));

    // A full reload clears a task's marks, and only that task's.
    assert_eq!(store.clear_watermarks(t.id).await.unwrap(), 2);
    assert_eq!(mark(t.id, "public.a").await, None);
    assert_eq!(mark(t.id, "public.b").await, None);
    assert_eq!(mark(other.id, "public.a").await.as_deref(), Some("7"));
    assert_eq!(
        store.clear_watermarks(t.id).await.unwrap(),
        0,
        "clearing again clears nothing"
    );
    store
        .set_watermark(t.id, "public.a", "300", r2.id)
        .await
        .unwrap();
    assert_eq!(
        mark(t.id, "public.a").await.as_deref(),
        Some("300"),
        "marks are kept again after a clear"
    );

    // A deleted task takes its marks with it (once its runs are over); others keep theirs.
    for r in [r1.id, r2.id] {
        store
            .request_stop(org, r, StopMode::Immediate, "cleanup", Utc::now())
            .await
            .unwrap();
    }
    store.delete_task(org, t.id).await.unwrap();
    assert_eq!(mark(t.id, "public.a").await, None);
    assert_eq!(mark(other.id, "public.a").await.as_deref(), Some("7"));
}

/// Webhook keys: none at first, one per task, a new one replaces the old, gone with the task.
pub(super) async fn webhook_keys(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "hooks", "job", true);
    let other = sample_task(org, "hooks", "other", true);
    store.create_task(&t).await.unwrap();
    store.create_task(&other).await.unwrap();
    let matches = |task: Uuid, key: &'static str| async move {
        store.webhook_key_matches(task, key).await.unwrap()
    };
    assert!(!matches(t.id, "k1").await);
    store.set_webhook_key(t.id, "k1").await.unwrap();
    assert!(matches(t.id, "k1").await);
    assert!(
        !matches(other.id, "k1").await,
        "a key opens its own task only"
    );
    assert_eq!(
        store.get_task_any_org(t.id).await.unwrap().map(|x| x.id),
        Some(t.id)
    );
    store.set_webhook_key(t.id, "k2").await.unwrap();
    assert!(!matches(t.id, "k1").await, "rotated away");
    assert!(matches(t.id, "k2").await);
    store.delete_task(org, t.id).await.unwrap();
    store.set_webhook_key(other.id, "k2").await.unwrap();
    assert!(
        matches(other.id, "k2").await,
        "the deleted task's key went with it"
    );
}
