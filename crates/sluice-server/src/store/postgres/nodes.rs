//! Node names on a shared store: each live node holds a session advisory lock on its name, on a
//! connection of its own. The lock goes with the connection, so a node that dies (even killed)
//! lets its name go at once and can start again under it; a second live node of the same name
//! is refused.

use super::*;
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio_util::sync::CancellationToken;

/// How often the holding connection is checked, and retaken after the database came back.
const CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

pub(super) async fn hold_node_name(s: &PgStore, node: &str) -> Result<NodeHold> {
    let conn = take(&s.options, node)
        .await?
        .ok_or_else(|| StoreError::NodeNameTaken(node.to_string()))?;
    let stop = CancellationToken::new();
    tokio::spawn(keep_holding(
        s.options.clone(),
        node.to_string(),
        conn,
        stop.clone(),
    ));
    Ok(NodeHold::releasing(stop.drop_guard()))
}

/// A connection holding the name's lock, or `None` when a live node holds it.
async fn take(options: &PgConnectOptions, node: &str) -> Result<Option<PgConnection>> {
    // The server drops a vanished peer's connection (and its lock) within about half a minute
    // even when its machine died without closing the socket.
    let mut conn = options
        .clone()
        .options([
            ("tcp_keepalives_idle", "10"),
            ("tcp_keepalives_interval", "5"),
            ("tcp_keepalives_count", "3"),
        ])
        .connect()
        .await?;
    // Per schema: several Sluice stores may share one database.
    let held: bool = sqlx::query_scalar(
        "SELECT pg_try_advisory_lock(hashtextextended(current_schema() || '/node/' || $1, 0))",
    )
    .bind(node)
    .fetch_one(&mut conn)
    .await?;
    if held {
        Ok(Some(conn))
    } else {
        let _ = conn.close().await;
        Ok(None)
    }
}

/// Keeps the lock's connection alive until `stop`; when the database drops it (a restart), takes
/// the name again as soon as the database answers.
async fn keep_holding(
    options: PgConnectOptions,
    node: String,
    mut conn: PgConnection,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => {
                let _ = conn.close().await;
                return;
            }
            _ = tokio::time::sleep(CHECK_EVERY) => {}
        }
        if conn.ping().await.is_ok() {
            continue;
        }
        match take(&options, &node).await {
            Ok(Some(again)) => {
                tracing::info!(node = %node, "holding this node's name again");
                conn = again;
            }
            Ok(None) => tracing::error!(
                node = %node,
                "another node took this node's name while the store was unreachable"
            ),
            Err(e) => tracing::warn!(node = %node, "store unreachable: {e}"),
        }
    }
}
