//! Retention: runs that ended more than `retention_days` ago are removed from the store in small
//! batches (so no transaction holds the store for long), and this node's reject files with them.

use crate::store::Store;
use chrono::Utc;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often a node looks for runs past the retention.
pub(super) const EVERY: Duration = Duration::from_secs(3600);
/// Runs removed per transaction.
const BATCH: i64 = 500;

pub(super) async fn purge(
    store: &Arc<dyn Store>,
    data_dir: &Path,
    days: u32,
    stop: &CancellationToken,
) {
    let before = Utc::now() - chrono::Duration::days(i64::from(days));
    let mut removed = 0usize;
    while !stop.is_cancelled() {
        match store.purge_runs(before, BATCH).await {
            Ok(ids) if ids.is_empty() => break,
            Ok(ids) => {
                removed += ids.len();
                for id in ids {
                    forget_rejects(data_dir, id).await;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "removing runs past the retention failed");
                break;
            }
        }
        // Let the run lifecycle's writes through between batches.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if removed > 0 {
        tracing::info!(runs = removed, days, "removed runs past the retention");
    }
}

/// The run's reject file (one load) or directory (one file per table), if this node wrote them.
async fn forget_rejects(data_dir: &Path, run: uuid::Uuid) {
    let base = data_dir.join("rejects");
    let _ = tokio::fs::remove_file(base.join(format!("{run}.jsonl"))).await;
    let _ = tokio::fs::remove_dir_all(base.join(run.to_string())).await;
}
