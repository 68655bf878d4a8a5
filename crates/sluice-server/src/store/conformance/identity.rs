//! Orgs, users and tokens; what one org may see of another.

use super::*;
use crate::domain::ids;
use crate::domain::task::DEFAULT_FOLDER;

pub(super) async fn identity(store: &dyn Store, org: Uuid) {
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

pub(super) async fn org_isolation(store: &dyn Store) {
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
