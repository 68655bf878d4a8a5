//! The embedded store on SQLite (WAL). All writes go through one connection, so transactions never
//! race each other for the write lock; reads use a small pool of their own.
//!
//! This module opens the database and routes each [`Store`] method to the module of its resource,
//! where the queries live.

mod audit;
mod callbacks;
mod cells;
mod children;
mod dispatch;
mod identity;
mod logs;
mod run_lists;
mod runs;
mod schedules;
mod tasks;
mod watermarks;

use super::*;
use crate::store::rows::{self, conflict_on_unique, is_unique_violation};
use crate::store::seal::Keyring;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::str::FromStr;

#[derive(Clone)]
pub struct SqliteStore {
    write: SqlitePool,
    read: SqlitePool,
    keyring: Keyring,
    meter: Meter,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file, brings its schema up to date and seals with
    /// the keyring's current key every secret stored in plain text or with an earlier key.
    pub async fn open(path: &Path, keyring: Keyring) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL is durable across a process crash (kill -9); only an OS crash or
            // power loss can lose the last commits. See ARCHITECTURE.md.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(10))
            .foreign_keys(true)
            // Freed pages and cells are zeroed, so a secret sealed again (or a deleted row)
            // leaves no plain copy in the file.
            .pragma("secure_delete", "ON");
        // A file's connections do not go stale: no ping (a round trip to the connection's
        // thread) before each use.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options.read_only(true))
            .await?;
        let store = SqliteStore {
            write,
            read,
            keyring,
            meter: Meter::default(),
        };
        let resealed = tasks::reseal_secrets(&store).await?;
        if resealed > 0 {
            // The plain or old-key pages also sit in the write-ahead log until a checkpoint
            // copies them over; truncating it leaves no copy behind.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&store.write)
                .await?;
            tracing::info!(
                connections = resealed,
                key = store.keyring.current_kid(),
                "sealed connection secrets with the current key"
            );
        }
        Ok(store)
    }
}

fn json_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain types serialize")
}
