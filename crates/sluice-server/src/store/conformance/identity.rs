//! Orgs, users and tokens; what one org may see of another.

use super::*;
use crate::domain::ids;
use crate::domain::task::DEFAULT_FOLDER;

/// Roles are kept per user and changed only within the user's org.
async fn roles(store: &dyn Store, org: Uuid) {
    let bob = store
        .create_user(org, "bob", "h", Role::Monitor)
        .await
        .unwrap();
    let found = store.user_credentials("bob").await.unwrap().unwrap().0;
    assert_eq!(found.role, Role::Monitor);
    let other = store.create_org("roles-elsewhere").await.unwrap();
    assert!(matches!(
        store.set_user_role(other.id, bob.id, Role::Admin).await,
        Err(StoreError::NotFound(_))
    ));
    let changed = store
        .set_user_role(org, bob.id, Role::Operator)
        .await
        .unwrap();
    assert_eq!((changed.id, changed.role), (bob.id, Role::Operator));
    let listed = store.list_users(org).await.unwrap();
    assert_eq!(
        listed.iter().find(|u| u.id == bob.id).map(|u| u.role),
        Some(Role::Operator)
    );
}

pub(super) async fn identity(store: &dyn Store, org: Uuid) {
    let again = store
        .ensure_org(ids::default_org_id(), "default")
        .await
        .unwrap();
    assert_eq!(again.id, org, "ensure_org is idempotent");
    let user = store
        .create_user(org, "alice", "hash1", Role::Admin)
        .await
        .unwrap();
    assert_eq!(user.role, Role::Admin);
    assert!(matches!(
        store
            .create_user(org, "alice", "hash2", Role::Monitor)
            .await,
        Err(StoreError::NameTaken(_))
    ));
    roles(store, org).await;
    let (found, hash) = store.user_credentials("alice").await.unwrap().unwrap();
    assert_eq!((found.id, hash.as_str()), (user.id, "hash1"));
    store.set_password(user.id, "hash3").await.unwrap();
    assert_eq!(
        store.user_credentials("alice").await.unwrap().unwrap().1,
        "hash3"
    );
    let now = Utc::now();
    let token = |hash: &'static str, expires_at, idle| NewToken {
        user_id: user.id,
        hash,
        name: "t",
        created_at: now,
        expires_at,
        idle,
    };
    store
        .create_token(&token("tok-a", None, None))
        .await
        .unwrap();
    store
        .create_token(&token("tok-old", Some(now - Duration::from_secs(1)), None))
        .await
        .unwrap();
    let (found, expiry) = store.user_for_token("tok-a", now).await.unwrap().unwrap();
    assert_eq!((found.id, expiry), (user.id, None));
    assert!(
        store
            .user_for_token("tok-old", now)
            .await
            .unwrap()
            .is_none(),
        "expired token"
    );
    assert!(store.user_for_token("nope", now).await.unwrap().is_none());
    idle_sessions(store, &user, now).await;
    assert!(store.revoke_token("tok-a").await.unwrap());
    assert!(!store.revoke_token("tok-a").await.unwrap());
    assert!(store.user_for_token("tok-a", now).await.unwrap().is_none());
}

/// A session with a 30-minute idle limit, used on an injected clock: each use moves the limit.
async fn idle_sessions(store: &dyn Store, user: &User, t0: DateTime<Utc>) {
    // Stores keep microseconds.
    let t0 = DateTime::from_timestamp_micros(t0.timestamp_micros()).expect("in range");
    let minutes = |m: i64| t0 + chrono::Duration::minutes(m);
    for hash in ["idle-1", "idle-2", "idle-3"] {
        store
            .create_token(&NewToken {
                user_id: user.id,
                hash,
                name: "iics-session",
                created_at: t0,
                expires_at: None,
                idle: Some(Duration::from_secs(30 * 60)),
            })
            .await
            .unwrap();
    }
    // Used at 29 and 58 minutes: still valid; the expiry answered follows the last use.
    let (_, at) = store
        .user_for_token("idle-1", minutes(29))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(at, Some(minutes(59)));
    let (_, at) = store
        .user_for_token("idle-1", minutes(58))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(at, Some(minutes(88)));
    assert!(
        store
            .user_for_token("idle-1", minutes(89))
            .await
            .unwrap()
            .is_none()
    );
    // Unused for 31 minutes: gone.
    assert!(
        store
            .user_for_token("idle-2", minutes(31))
            .await
            .unwrap()
            .is_none()
    );
    // Every session of the user goes at once; other tokens stay.
    assert_eq!(
        store
            .revoke_user_tokens(user.id, "iics-session")
            .await
            .unwrap(),
        3
    );
    assert!(
        store
            .user_for_token("idle-3", minutes(1))
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.user_for_token("tok-a", t0).await.unwrap().is_some());
}

pub(super) async fn org_isolation(store: &dyn Store) {
    let a = store.create_org("org-a").await.unwrap();
    let b = store.create_org("org-b").await.unwrap();
    assert!(matches!(
        store.create_org("org-a").await,
        Err(StoreError::NameTaken(_))
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
            Utc::now(),
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
            .request_stop(b.id, r.id, StopMode::Immediate, "b", Utc::now())
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
            Utc::now(),
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
