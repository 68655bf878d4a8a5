//! The store conformance suite on the embedded SQLite store.

use sluice_server::store::{SqliteStore, conformance};

#[tokio::test]
async fn sqlite_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("sluice.db"))
        .await
        .unwrap();
    conformance::run_all(&store).await;
}

#[tokio::test]
async fn sqlite_store_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluice.db");
    let org = {
        let store = SqliteStore::open(&path).await.unwrap();
        use sluice_server::store::Store;
        store.create_org("kept").await.unwrap()
    };
    let store = SqliteStore::open(&path).await.unwrap();
    use sluice_server::store::Store;
    let orgs = store.list_orgs().await.unwrap();
    assert!(
        orgs.iter().any(|o| o.id == org.id),
        "migrations re-run cleanly; data kept"
    );
}
