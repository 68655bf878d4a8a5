//! Wake-ups between nodes: a transaction that queues work (a run, a run's end and its callback,
//! a resent callback) sends one `NOTIFY` as it commits; every node listens and wakes its worker,
//! notifier and waiters at once instead of at their next poll. Polling stays as the fallback:
//! a notification lost while a listener reconnects costs one poll interval, never work.

use super::*;
use sqlx::postgres::PgListener;
use sqlx::{Postgres, Transaction};
use tokio::sync::mpsc;

const CHANNEL: &str = "sluice_wake";
/// Ids of ended runs one notification names at most (its payload stays far below 8000 bytes).
const MAX_IDS: usize = 100;

/// Queues the notification `what` in `tx`, sent when (and only if) it commits. PostgreSQL folds
/// identical notifications of one transaction into one.
pub(super) async fn notify(
    s: &PgStore,
    tx: &mut Transaction<'_, Postgres>,
    what: &str,
) -> Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(format!("{}|{what}", s.instance))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The notification of runs that ended in one transaction.
pub(super) fn ended(runs: &[Uuid]) -> String {
    if runs.len() > MAX_IDS {
        return "ended:".into();
    }
    let ids: Vec<String> = runs.iter().map(Uuid::to_string).collect();
    format!("ended:{}", ids.join(","))
}

/// Starts listening; wake-ups sent by other processes arrive on the answer.
pub(super) fn watch(s: &PgStore) -> mpsc::Receiver<Wake> {
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(listen(s.pool.clone(), s.instance, tx));
    rx
}

async fn listen(pool: sqlx::PgPool, me: Uuid, tx: mpsc::Sender<Wake>) {
    let mut listener = loop {
        match connect(&pool).await {
            Ok(l) => break l,
            Err(e) => {
                tracing::warn!("listening for other nodes' work failed, retrying: {e}");
                if pause(&tx).await {
                    return;
                }
            }
        }
    };
    loop {
        let wake = match listener.try_recv().await {
            Ok(Some(n)) => parse(n.payload(), me),
            // The connection dropped (the next call reconnects): whatever was sent meanwhile is
            // lost, so look for everything once.
            Ok(None) => Some(Wake::Everything),
            Err(e) => {
                tracing::warn!("listening for other nodes' work: {e}");
                if pause(&tx).await {
                    return;
                }
                continue;
            }
        };
        if let Some(wake) = wake
            && tx.send(wake).await.is_err()
        {
            return;
        }
    }
}

async fn connect(pool: &sqlx::PgPool) -> Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Waits a moment before trying again; true when nobody listens any more.
async fn pause(tx: &mpsc::Sender<Wake>) -> bool {
    tokio::select! {
        _ = tx.closed() => true,
        _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => false,
    }
}

/// A notification's meaning, or None for one this process sent (it already woke itself) or one
/// it does not know.
fn parse(payload: &str, me: Uuid) -> Option<Wake> {
    let (from, what) = payload.split_once('|')?;
    if from == me.to_string() {
        return None;
    }
    match what {
        "queued" => Some(Wake::RunQueued),
        "callback" => Some(Wake::CallbackQueued),
        _ => {
            let ids = what.strip_prefix("ended:")?;
            Some(Wake::RunsEnded(
                ids.split(',').filter_map(|id| id.parse().ok()).collect(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_read_back_and_a_node_ignores_its_own() {
        let (me, other) = (Uuid::now_v7(), Uuid::now_v7());
        let run = Uuid::now_v7();
        let said = |what: &str| format!("{other}|{what}");
        assert_eq!(parse(&said("queued"), me), Some(Wake::RunQueued));
        assert_eq!(parse(&said("callback"), me), Some(Wake::CallbackQueued));
        assert_eq!(
            parse(&said(&ended(&[run])), me),
            Some(Wake::RunsEnded(vec![run]))
        );
        let many: Vec<Uuid> = (0..=MAX_IDS).map(|_| Uuid::now_v7()).collect();
        assert_eq!(
            parse(&said(&ended(&many)), me),
            Some(Wake::RunsEnded(vec![]))
        );
        assert_eq!(parse(&format!("{me}|queued"), me), None);
        assert_eq!(parse("garbage", me), None);
    }
}
