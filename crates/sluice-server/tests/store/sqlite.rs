//! The store conformance suite on the embedded SQLite store, and what only SQLite's files show:
//! secrets sealed at rest.

use sluice_server::domain::task::Origin;
use sluice_server::domain::{Connection, ConnectionConfig, ConnectionType, Secret};
use sluice_server::store::seal::{Keyring, SealError, SecretKey};
use sluice_server::store::{SqliteStore, Store, StoreError};
use std::path::Path;
use uuid::Uuid;

/// The conformance suite, one test per check, each on a fresh database file.
mod conforms {
    use super::*;
    use std::sync::Arc;

    async fn fresh() -> Option<(Arc<dyn Store>, tempfile::TempDir)> {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("sluice.db"), Keyring::ephemeral())
            .await
            .unwrap();
        Some((Arc::new(store), dir))
    }

    sluice_server::store_conformance!(fresh);
}

#[tokio::test]
async fn sqlite_store_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluice.db");
    let ring = Keyring::ephemeral();
    let org = {
        let store = SqliteStore::open(&path, ring.clone()).await.unwrap();
        store.create_org("kept").await.unwrap()
    };
    let store = SqliteStore::open(&path, ring).await.unwrap();
    let orgs = store.list_orgs().await.unwrap();
    assert!(
        orgs.iter().any(|o| o.id == org.id),
        "migrations re-run cleanly; data kept"
    );
}

/// Every byte SQLite keeps for the database: the file, its write-ahead log and shared memory.
/// Callers close the store first, so no checkpoint moves bytes between files while they are read;
/// a file SQLite removed between listing and reading held nothing.
fn files_hold(dir: &Path, needle: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| match std::fs::read(p) {
            Ok(bytes) => bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => panic!("reading {}: {e}", p.display()),
        })
        .map(|p| p.display().to_string())
        .collect()
}

fn connection(org: Uuid, password: &str) -> Connection {
    let now = chrono::DateTime::from_timestamp_micros(chrono::Utc::now().timestamp_micros());
    Connection {
        id: Uuid::now_v7(),
        org_id: org,
        name: "warehouse".into(),
        conn_type: ConnectionType::Postgres,
        description: String::new(),
        config: ConnectionConfig {
            host: Some("db.example".into()),
            password: Some(Secret::Value(password.into())),
            ..Default::default()
        },
        origin: Origin::Api,
        created_at: now.unwrap(),
        updated_at: now.unwrap(),
    }
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_plain_ones_sealed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluice.db");
    let first = SecretKey::generate().0;
    let ring = Keyring::new(first.clone(), Vec::new());
    let store = SqliteStore::open(&path, ring.clone()).await.unwrap();
    let org = store.create_org("acme").await.unwrap().id;
    let c = connection(org, "hunter2-written-through-the-api");
    store.create_connection(&c).await.unwrap();
    assert!(files_hold(dir.path(), "hunter2-written-through-the-api").is_empty());

    // A database from before sealing: the secret written in plain text, straight to the table.
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let plain = r#"{"host":"db.example","password":"legacy-plain-password"}"#;
    sqlx::query("UPDATE connections SET config = ? WHERE id = ?")
        .bind(plain)
        .bind(c.id.to_string())
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;
    store.close().await;
    assert!(!files_hold(dir.path(), "legacy-plain-password").is_empty());

    let store = SqliteStore::open(&path, ring).await.unwrap();
    let got = store.get_connection(org, c.id).await.unwrap().unwrap();
    assert_eq!(
        got.config.password,
        Some(Secret::Value("legacy-plain-password".into()))
    );
    store.close().await;
    let left = files_hold(dir.path(), "legacy-plain-password");
    assert!(left.is_empty(), "plain secret left in {left:?}");

    // Rotated: the new key seals it again; the old one is then needed no more.
    let second = SecretKey::generate().0;
    let rotated = Keyring::new(second.clone(), vec![first.clone()]);
    SqliteStore::open(&path, rotated)
        .await
        .unwrap()
        .close()
        .await;
    assert!(!files_hold(dir.path(), second.kid()).is_empty());
    let only_new = Keyring::new(second, Vec::new());
    let store = SqliteStore::open(&path, only_new).await.unwrap();
    let got = store.get_connection(org, c.id).await.unwrap().unwrap();
    assert_eq!(got.config, connection(org, "legacy-plain-password").config);
    store.close().await;

    // Opened with neither key, the store says which key it needs instead of starting blind.
    let stranger = Keyring::new(first, Vec::new());
    match SqliteStore::open(&path, stranger).await {
        Err(StoreError::Sealed(SealError::UnknownKey(kid))) => assert!(!kid.is_empty()),
        other => panic!("expected an unknown key, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn a_store_url_picks_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("by-url.db").display());
    let store = sluice_server::store::open(&url, Keyring::ephemeral())
        .await
        .unwrap();
    store.create_org("by-url").await.unwrap();
    store.close().await;
    assert!(dir.path().join("by-url.db").exists());
    for unknown in ["mysql://localhost/sluice", "sqlite://", "/plain/path.db"] {
        match sluice_server::store::open(unknown, Keyring::ephemeral()).await {
            Err(StoreError::UnsupportedUrl(u)) => assert_eq!(u, unknown),
            other => panic!("{unknown}: {:?}", other.map(|_| ())),
        }
    }
    // A URL's password never reaches a message.
    match sluice_server::store::open("mysql://ops:hunter2@db/x", Keyring::ephemeral()).await {
        Err(e) => {
            let said = e.to_string();
            assert!(
                !said.contains("hunter2") && said.contains("ops:***@db"),
                "{said}"
            );
        }
        Ok(_) => panic!("a MySQL store URL opened"),
    }
}
