//! The shared store on PostgreSQL, for several nodes on one database. Every node reads and writes
//! through a pool; the run lifecycle takes row locks where SQLite's single writer serialised,
//! and claims skip rows other nodes hold (`FOR UPDATE SKIP LOCKED`).
//!
//! This module opens the database (migrating it under sqlx's advisory lock, so nodes starting at
//! once apply each migration once) and routes each [`Store`] method to the module of its
//! resource.

mod callbacks;
mod cells;
mod dispatch;
mod identity;
mod nodes;
mod records;
mod run_lists;
mod runs;
mod schedules;
mod tasks;
mod wake;

use super::*;
use crate::store::rows::{self, conflict_on_unique, is_unique_violation};
use crate::store::seal::Keyring;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::types::Json;
use std::str::FromStr;

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// How to connect, for the connection that holds this node's name.
    options: PgConnectOptions,
    /// This process's mark on the wake-ups it sends, so it does not wake itself twice.
    instance: Uuid,
    keyring: Keyring,
    meter: Meter,
}

/// Connections each node keeps at most.
const POOL_SIZE: u32 = 16;

impl PgStore {
    /// Opens the database a `postgres://` URL names with a pool of the default size.
    pub async fn open(url: &str, keyring: Keyring) -> Result<PgStore> {
        let options = PgConnectOptions::from_str(url)?;
        PgStore::open_with(options, POOL_SIZE, keyring).await
    }

    /// Opens the database, brings its schema up to date and seals with the keyring's current key
    /// every secret stored in plain text or with an earlier key.
    pub async fn open_with(
        options: PgConnectOptions,
        pool_size: u32,
        keyring: Keyring,
    ) -> Result<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(2))
            // A node that cannot reach the database fails its calls in bounded time (503s, a
            // worker that retries) instead of queueing them forever.
            .acquire_timeout(std::time::Duration::from_secs(5))
            // Each connection is pinged before use (the default): after a database restart,
            // a connection it dropped is replaced instead of failing its caller's query.
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        let store = PgStore {
            pool,
            options,
            instance: Uuid::new_v4(),
            keyring,
            meter: Meter::default(),
        };
        let resealed = tasks::reseal_secrets(&store).await?;
        if resealed > 0 {
            tracing::info!(
                connections = resealed,
                key = store.keyring.current_kid(),
                "sealed connection secrets with the current key"
            );
        }
        Ok(store)
    }
}

/// Commits `tx` when the work done in it succeeded, else rolls it back at once: a transaction
/// merely dropped keeps its locks until the pool next touches its connection, and other nodes
/// would wait on them.
async fn settle<T>(tx: sqlx::Transaction<'_, sqlx::Postgres>, out: Result<T>) -> Result<T> {
    match out {
        Ok(v) => {
            tx.commit().await?;
            Ok(v)
        }
        Err(e) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(error = %rollback, "rolling back a store transaction failed");
            }
            Err(e)
        }
    }
}
