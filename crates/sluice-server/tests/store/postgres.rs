//! The store conformance suite on PostgreSQL, each check in a schema of its own, and what only a
//! shared store shows: several stores (as several nodes) on one database, migrating at once.
//! Needs the local PostgreSQL (`SLUICE_TEST_PG_URL`); skips without it, except under `CI=true`.

use sluice_server::store::seal::Keyring;
use sluice_server::store::{PgStore, Store, StoreError};
use sqlx::postgres::PgConnectOptions;
use std::str::FromStr;
use std::sync::Arc;
use uuid::Uuid;

fn pg_url() -> String {
    std::env::var("SLUICE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema of its own on the test database, dropped when the guard goes.
struct Schema {
    name: String,
}

impl Schema {
    /// A new empty schema, or `None` (having said why) when PostgreSQL is not there outside CI.
    async fn create() -> Option<Schema> {
        let admin = match sqlx::PgPool::connect(&pg_url()).await {
            Ok(pool) => pool,
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("PostgreSQL at {} is required under CI: {e}", pg_url())
            }
            Err(e) => {
                eprintln!("skipping: PostgreSQL not reachable at {}: {e}", pg_url());
                return None;
            }
        };
        let name = format!("store_{}", Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&admin)
            .await
            .expect("create schema");
        admin.close().await;
        Some(Schema { name })
    }

    fn options(&self) -> PgConnectOptions {
        PgConnectOptions::from_str(&pg_url())
            .expect("a PostgreSQL URL")
            .options([("search_path", self.name.as_str())])
            // Names this schema's connections, so the guard can end them before dropping it.
            .application_name(&self.name)
    }

    async fn open(&self, keyring: Keyring) -> Result<PgStore, StoreError> {
        PgStore::open_with(self.options(), 4, keyring).await
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside any runtime the test had: a thread of its own does the async work.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async {
                if let Ok(admin) = sqlx::PgPool::connect(&pg_url()).await {
                    // The test's runtime is blocked in this drop: its connections cannot finish
                    // what they were doing, so they are ended first.
                    let _ = sqlx::query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                         WHERE application_name = $1",
                    )
                    .bind(&name)
                    .execute(&admin)
                    .await;
                    let _ = sqlx::query(&format!("DROP SCHEMA {name} CASCADE"))
                        .execute(&admin)
                        .await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

/// The conformance suite, one test per check, each in a fresh schema.
mod conforms {
    use super::*;

    async fn fresh() -> Option<(Arc<dyn Store>, Schema)> {
        let schema = Schema::create().await?;
        let store = schema.open(Keyring::ephemeral()).await.expect("open store");
        Some((Arc::new(store), schema))
    }

    sluice_server::store_conformance!(fresh);
}

#[tokio::test]
async fn nodes_starting_at_once_migrate_once_and_share_everything() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let ring = Keyring::ephemeral();
    let opens = (0..3).map(|_| schema.open(ring.clone()));
    let nodes: Vec<PgStore> = futures::future::join_all(opens)
        .await
        .into_iter()
        .map(|s| s.expect("every node opens the store"))
        .collect();
    let org = nodes[0].create_org("shared").await.unwrap();
    for other in &nodes[1..] {
        let orgs = other.list_orgs().await.unwrap();
        assert!(
            orgs.iter().any(|o| o.id == org.id),
            "an org made on one node is on all"
        );
    }
    // Opened again (a node restarting), every migration is already there.
    schema.open(ring).await.expect("reopens");
    for node in nodes {
        node.close().await;
    }
}

#[tokio::test]
async fn an_unreachable_store_says_where_without_the_password() {
    let url = "postgres://sluice:hunter2@127.0.0.1:1/sluice";
    let Err(e) = sluice_server::store::open(url, Keyring::ephemeral()).await else {
        panic!("nothing listens on port 1");
    };
    assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
    let shown = sluice_server::store::redacted(url);
    assert_eq!(shown, "postgres://sluice:***@127.0.0.1:1/sluice");
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

#[tokio::test]
async fn a_node_name_is_held_by_one_live_node_and_let_go_with_it() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let (one, two) = (
        schema.open(Keyring::ephemeral()).await.unwrap(),
        schema.open(Keyring::ephemeral()).await.unwrap(),
    );
    let held = one.hold_node_name("node-a").await.expect("a free name");
    match two.hold_node_name("node-a").await {
        Err(StoreError::NodeNameTaken(name)) => assert_eq!(name, "node-a"),
        other => panic!("expected the name taken, got {:?}", other.map(|_| ())),
    }
    let _other = two
        .hold_node_name("node-b")
        .await
        .expect("another name is free");
    drop(held);
    // Let go as the holding connection closes.
    let mut again = None;
    for _ in 0..50 {
        if let Ok(h) = two.hold_node_name("node-a").await {
            again = Some(h);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(again.is_some(), "the name is free once its holder let go");
}

#[tokio::test]
async fn work_queued_on_one_node_wakes_the_others() {
    use sluice_server::domain::NewRun;
    use sluice_server::store::Wake;
    let Some(schema) = Schema::create().await else {
        return;
    };
    let ring = Keyring::ephemeral();
    let (here, there) = (
        schema.open(ring.clone()).await.unwrap(),
        schema.open(ring).await.unwrap(),
    );
    let mut wakes = there.watch().expect("a shared store tells of work");
    let mut own = here.watch().unwrap();
    let org = here.create_org("wakes").await.unwrap().id;
    let task = sluice_server::store::conformance::sample_task(org, "w", "t", true);
    here.create_task(&task).await.unwrap();
    // The listener may still be connecting: queue until a wake-up arrives.
    let mut woken = None;
    for _ in 0..50 {
        here.create_run(&task, NewRun::default(), chrono::Utc::now())
            .await
            .unwrap();
        let wait = std::time::Duration::from_millis(200);
        if let Ok(w) = tokio::time::timeout(wait, wakes.recv()).await {
            woken = w;
            break;
        }
    }
    assert_eq!(woken, Some(Wake::RunQueued));
    let quiet = std::time::Duration::from_millis(300);
    assert!(
        tokio::time::timeout(quiet, own.recv()).await.is_err(),
        "a node is not woken by its own work"
    );
}
