//! The events seam of one node: a run was queued (the worker looks now), a run ended (waiters
//! look now; its callback was queued in the same transaction, so the notifier looks too), a
//! callback was queued. It sits below `service`, `worker` and `notify` so that none of them needs
//! another to say what happened. Other nodes learn the same things from the store, by polling.

use std::sync::Arc;
use tokio::sync::{Notify, broadcast};
use uuid::Uuid;

/// Said when a run ends on this node.
#[derive(Debug, Clone, Copy)]
pub struct RunEnded {
    pub run_id: Uuid,
}

/// Cheap to clone; one per node, shared by every part of it.
#[derive(Clone)]
pub struct Events {
    ended: broadcast::Sender<RunEnded>,
    run_queued: Arc<Notify>,
    callback_queued: Arc<Notify>,
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}

impl Events {
    pub fn new() -> Events {
        // Waiters that fall this far behind look at the store again (a lagged receiver).
        let (ended, _) = broadcast::channel(1024);
        Events {
            ended,
            run_queued: Arc::new(Notify::new()),
            callback_queued: Arc::new(Notify::new()),
        }
    }

    /// A run was queued: the worker claims now rather than at its next poll.
    pub fn run_queued(&self) {
        self.run_queued.notify_one();
    }

    /// A run ended; its end queued its callback, if it has one.
    pub fn run_ended(&self, run_id: Uuid) {
        let _ = self.ended.send(RunEnded { run_id });
        self.callback_queued.notify_one();
    }

    /// Several runs ended at once (resolved after their node was lost).
    pub fn runs_ended(&self, runs: impl IntoIterator<Item = Uuid>) {
        for run_id in runs {
            let _ = self.ended.send(RunEnded { run_id });
        }
        self.callback_queued.notify_one();
    }

    /// A callback was queued (a resend).
    pub fn callback_queued(&self) {
        self.callback_queued.notify_one();
    }

    /// Every run that ends on this node from now on.
    pub fn subscribe_ended(&self) -> broadcast::Receiver<RunEnded> {
        self.ended.subscribe()
    }

    /// Returns when a run was queued since the last call (at once if one already was).
    pub async fn queued_run(&self) {
        self.run_queued.notified().await;
    }

    /// Returns when a callback was queued since the last call (at once if one already was).
    pub async fn queued_callback(&self) {
        self.callback_queued.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_signal_given_before_anyone_waits_is_kept_for_the_next_wait() {
        let events = Events::new();
        events.run_queued();
        events.callback_queued();
        let quick = Duration::from_millis(100);
        assert!(
            tokio::time::timeout(quick, events.queued_run())
                .await
                .is_ok()
        );
        assert!(
            tokio::time::timeout(quick, events.queued_callback())
                .await
                .is_ok()
        );
        // Consumed: a second wait waits.
        assert!(
            tokio::time::timeout(quick, events.queued_run())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_run_end_reaches_subscribers_and_wakes_the_notifier() {
        let events = Events::new();
        let mut sub = events.subscribe_ended();
        let id = Uuid::new_v4();
        events.run_ended(id);
        assert_eq!(sub.recv().await.unwrap().run_id, id);
        let quick = Duration::from_millis(100);
        assert!(
            tokio::time::timeout(quick, events.queued_callback())
                .await
                .is_ok()
        );
    }
}
