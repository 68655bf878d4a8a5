//! The scheduler: every node fires due schedules through the store's firing pass, which makes
//! each fire exactly once however many nodes try at the same moment. It sleeps until the
//! earliest next fire, but never longer than [`POLL`], so a schedule defined or resumed on
//! another node fires on time too.

use super::{Worker, WorkerHandle};
use crate::store::{Fired, StoreError};
use crate::telemetry::FireOutcome;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// Longest sleep between passes: bounds the lag of a fire that another node's change made due.
pub(super) const POLL: Duration = Duration::from_millis(500);
/// Schedules one pass fires at most; a pass that fires this many goes again at once.
const BATCH: i64 = 200;

impl Worker {
    /// Fires every schedule due at `now` and wakes the claim loop for the runs made; answers
    /// what the pass did. The scheduler loop's work, for tests that drive it step by step.
    pub async fn fire_schedules(&self, now: DateTime<Utc>) -> Result<Fired, StoreError> {
        // A read first: a poll with nothing due takes no write transaction (SQLite has one
        // writer, and the run lifecycle needs it).
        if !matches!(self.store.next_schedule_fire().await?, Some(at) if at <= now) {
            return Ok(Fired::default());
        }
        let fired = self.store.fire_schedules(now, BATCH).await?;
        let skipped = fired.skipped.iter().map(|(_, n)| *n).sum();
        self.telemetry
            .schedule_fires(FireOutcome::Queued, fired.runs.len() as u64);
        self.telemetry
            .schedule_fires(FireOutcome::Refused, fired.refused.len() as u64);
        self.telemetry.schedule_fires(FireOutcome::Skipped, skipped);
        if !fired.runs.is_empty() {
            self.events.run_queued();
        }
        for run in &fired.runs {
            if let Some(fire) = &run.fire {
                tracing::info!(schedule = %fire.schedule_name, run = %run.id,
                    due = %fire.at, lag_ms = (now - fire.at).num_milliseconds(), "schedule fired");
            }
        }
        for r in &fired.refused {
            if r.quiet {
                tracing::info!(schedule = %r.schedule, task = %r.task, due = %r.at,
                    reason = %r.reason, "a schedule's fire was skipped");
            } else {
                tracing::warn!(schedule = %r.schedule, task = %r.task, due = %r.at,
                    reason = %r.reason, "a schedule's fire was not run");
            }
        }
        for (schedule, skipped) in &fired.skipped {
            tracing::info!(%schedule, skipped, "missed fires skipped by the schedule's catch-up policy");
        }
        Ok(fired)
    }

    pub(super) async fn scheduler_loop(self: Arc<Self>, h: WorkerHandle) {
        loop {
            let wait = match self.fire_schedules(Utc::now()).await {
                Ok(_) => self.until_next_fire().await,
                Err(e) => {
                    tracing::warn!(error = %e, "firing schedules failed; trying again");
                    POLL
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = h.shutdown.cancelled() => return,
            }
        }
    }

    /// How long to sleep before the next pass: until the earliest fire, at most [`POLL`].
    async fn until_next_fire(&self) -> Duration {
        match self.store.next_schedule_fire().await {
            // A millisecond past the fire, so a clock read a hair early does not find it not due.
            Ok(Some(at)) => (at - Utc::now())
                .to_std()
                .map(|d| d + Duration::from_millis(1))
                .unwrap_or(Duration::ZERO)
                .min(POLL),
            Ok(None) | Err(_) => POLL,
        }
    }
}
