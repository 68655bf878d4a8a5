//! Tasks and connections: uniqueness, look-ups, updates, deletion.

use super::*;
use crate::domain::task::{DEFAULT_FOLDER, Origin};
use crate::domain::{ConnectionConfig, ConnectionType, Secret};

pub(super) async fn tasks(store: &dyn Store, org: Uuid) {
    let t = sample_task(org, "sales", "t1", false);
    store.create_task(&t).await.unwrap();
    let dup = Task {
        id: Uuid::now_v7(),
        ..t.clone()
    };
    assert!(matches!(
        store.create_task(&dup).await,
        Err(StoreError::NameTaken(_))
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

pub(super) async fn connections(store: &dyn Store, org: Uuid) {
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
        Err(StoreError::NameTaken(_))
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
    secrets_round_trip(store, org).await;
}

/// Secrets come back as written whatever a backend keeps at rest (it seals them), through every
/// look-up and after an update.
async fn secrets_round_trip(store: &dyn Store, org: Uuid) {
    let now = now_micros();
    let mut c = Connection {
        id: Uuid::now_v7(),
        org_id: org,
        name: "warehouse".into(),
        conn_type: ConnectionType::Postgres,
        description: String::new(),
        config: ConnectionConfig {
            host: Some("db.example".into()),
            password: Some(Secret::Value("pa:ss {\"word\"} é".into())),
            secret: Some(Secret::FromEnv {
                env: "WAREHOUSE_KEY".into(),
            }),
            ..Default::default()
        },
        origin: Origin::Api,
        created_at: now,
        updated_at: now,
    };
    store.create_connection(&c).await.unwrap();
    let by_id = store.get_connection(org, c.id).await.unwrap().unwrap();
    assert_eq!(by_id, c);
    let by_name = store.get_connection_by_name(org, "warehouse").await;
    assert_eq!(by_name.unwrap().unwrap(), c);
    assert_eq!(store.list_connections(org).await.unwrap(), vec![c.clone()]);
    c.config.password = Some(Secret::Value("rotated".into()));
    c.config.secret = Some(Secret::Value(String::new()));
    store.update_connection(&c).await.unwrap();
    assert_eq!(store.get_connection(org, c.id).await.unwrap().unwrap(), c);
    store.delete_connection(org, c.id).await.unwrap();
}
