//! A run's log on its way to the store: lines wait up to 200 ms to be written together, and what is
//! left when the run ends is handed back, to be written with the end in one transaction.

use crate::domain::NewLogLine;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long a log line waits to be written with the lines after it.
const LOG_FLUSH: Duration = Duration::from_millis(200);
/// Lines written at once at most.
const LOG_BATCH: usize = 1000;

/// Writes log lines in batches until the run is over; answers the lines left for the end.
pub(super) async fn drain_log(
    store: Arc<dyn crate::store::Store>,
    run_id: uuid::Uuid,
    mut rx: mpsc::UnboundedReceiver<NewLogLine>,
    done: CancellationToken,
) -> Vec<NewLogLine> {
    let mut buf = Vec::new();
    // Lines wait up to LOG_FLUSH to be written together; what is left when the run ends is
    // answered, to be written with the end.
    let mut due: Option<tokio::time::Instant> = None;
    loop {
        let flush = tokio::select! {
            n = rx.recv_many(&mut buf, LOG_BATCH) => {
                if n == 0 {
                    return buf;
                }
                due.get_or_insert_with(|| tokio::time::Instant::now() + LOG_FLUSH);
                buf.len() >= LOG_BATCH
            }
            _ = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)), if due.is_some() => true,
            _ = done.cancelled() => {
                while let Ok(line) = rx.try_recv() {
                    buf.push(line);
                }
                return buf;
            }
        };
        if flush {
            if let Err(e) = store.append_log(run_id, &buf).await {
                tracing::warn!(run = %run_id, error = %e, "writing run log failed");
            }
            buf.clear();
            due = None;
        }
    }
}
