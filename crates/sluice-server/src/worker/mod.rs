//! The worker: claims queued runs up to the configured concurrency, runs each under a lease kept
//! alive by heartbeats, passes stops on to the engine, and resolves runs whose worker died.

mod execute;
mod journal;
mod log_drain;
mod retention;
mod run_files;
mod scheduler;
mod taskflow;
#[cfg(test)]
mod tests;

use crate::config::WorkerConfig;
use crate::domain::StopMode;
use crate::domain::runtime_env::RuntimeEnvironment;
use crate::engine::StopSignal;
use crate::events::Events;
use crate::store::{Store, StoreError};
use chrono::Utc;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

/// Why a run whose worker vanished failed.
pub const LOST_REASON: &str = "The run was interrupted: the Sluice node running it stopped (crash, kill or lost lease) before it finished";

/// Cheap to clone; shared by the API (to pass stops on) and the server.
#[derive(Clone)]
pub struct WorkerHandle {
    running: Arc<Mutex<HashMap<Uuid, StopSignal>>>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl WorkerHandle {
    /// Passes a stop to a run this node executes (other nodes learn it at their next heartbeat).
    pub fn signal_stop(&self, run_id: Uuid, mode: StopMode) {
        if let Some(signal) = self.running.lock().expect("not poisoned").get(&run_id) {
            signal.graceful.cancel();
            if mode == StopMode::Immediate {
                signal.immediate.cancel();
            }
        }
    }

    /// Runs executing on this node.
    pub fn running(&self) -> Vec<Uuid> {
        self.running
            .lock()
            .expect("not poisoned")
            .keys()
            .copied()
            .collect()
    }
}

/// Everything a worker needs.
pub struct Worker {
    pub store: Arc<dyn Store>,
    pub config: WorkerConfig,
    pub node: String,
    pub data_dir: PathBuf,
    /// Runs queued wake the claim loop; runs ended here are announced.
    pub events: Events,
    pub spark: crate::config::SparkConfig,
    /// The operator's runtime environments, for code tasks.
    pub runtime_envs: Arc<std::collections::BTreeMap<String, RuntimeEnvironment>>,
    /// What the operator lets each org's API-defined objects reach, by org name.
    pub grants: Arc<std::collections::BTreeMap<String, crate::domain::org_grants::OrgGrants>>,
    /// What this node counts: runs begun and ended here, runs it resolved as lost, fires.
    pub telemetry: crate::telemetry::Telemetry,
}

impl Worker {
    /// A handle with no loops behind it, for driving a worker one [`Worker::step`] at a time.
    pub fn idle_handle() -> WorkerHandle {
        WorkerHandle {
            running: Arc::default(),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
        }
    }

    /// Claims the oldest queued run and runs it to its end, here and now; answers its id, or
    /// None when nothing was queued. The claim loop's work, one run at a time, for tests that
    /// need a worker but not a server.
    pub async fn step(&self, h: &WorkerHandle) -> Result<Option<Uuid>, crate::store::StoreError> {
        let lease = self.config.lease();
        let Some(run) = self.store.claim_run(&self.node, lease, Utc::now()).await? else {
            return Ok(None);
        };
        let slot = Arc::new(Semaphore::new(1))
            .acquire_owned()
            .await
            .expect("never closed");
        let id = run.id;
        self.execute(run, h, slot).await;
        Ok(Some(id))
    }

    /// Starts the claim loop, the scheduler and the lease reaper; returns the handle.
    pub fn spawn(self) -> WorkerHandle {
        let handle = Worker::idle_handle();
        let worker = Arc::new(self);
        let h = handle.clone();
        let w = worker.clone();
        handle.tracker.spawn(async move { w.claim_loop(h).await });
        let h = handle.clone();
        let w = worker.clone();
        handle
            .tracker
            .spawn(async move { w.scheduler_loop(h).await });
        let h = handle.clone();
        handle
            .tracker
            .spawn(async move { worker.reap_loop(h).await });
        handle
    }

    async fn claim_loop(self: Arc<Self>, h: WorkerHandle) {
        let slots = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut ended = self.events.subscribe_ended();
        loop {
            let first = tokio::select! {
                p = slots.clone().acquire_owned() => p.expect("never closed"),
                _ = h.shutdown.cancelled() => return,
            };
            // Every slot free now is filled by one claim (one write, however many runs).
            let mut permits = vec![first];
            while let Ok(p) = slots.clone().try_acquire_owned() {
                permits.push(p);
            }
            match self
                .store
                .claim_runs(&self.node, self.config.lease(), Utc::now(), permits.len())
                .await
            {
                Ok(runs) if runs.is_empty() => {
                    drop(permits);
                    tokio::select! {
                        _ = self.events.queued_run() => {}
                        // An end may free the next queued run of a task that runs one at a time
                        // (`on_busy = "queue"`, `cancel_previous`).
                        _ = ended.recv() => {}
                        _ = tokio::time::sleep(self.config.poll()) => {}
                        _ = h.shutdown.cancelled() => return,
                    }
                }
                Ok(runs) => {
                    // Slots left over (fewer runs were queued) go back as the permits drop.
                    for (run, permit) in runs.into_iter().zip(permits) {
                        let (w, h2) = (self.clone(), h.clone());
                        h.tracker.spawn(async move {
                            w.execute(run, &h2, permit).await;
                        });
                    }
                }
                Err(e) => {
                    drop(permits);
                    tracing::error!(error = %e, "claiming runs failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = h.shutdown.cancelled() => return,
                    }
                }
            }
        }
    }

    /// Fails runs whose lease expired (their node died without saying so), and now and then
    /// removes runs older than the retention.
    async fn reap_loop(self: Arc<Self>, h: WorkerHandle) {
        let every = self.config.lease() / 2;
        let mut next_purge = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = h.shutdown.cancelled() => return,
            }
            self.resolve_lost(None).await;
            if let Some(days) = self.config.retention_days
                && tokio::time::Instant::now() >= next_purge
            {
                retention::purge(&self.store, &self.data_dir, days, &h.shutdown).await;
                next_purge = tokio::time::Instant::now() + retention::EVERY;
            }
        }
    }

    /// Resolves lost runs; with `node`, also every run that node holds (used at start-up, when
    /// this node's earlier life cannot be running anything any more).
    pub async fn resolve_lost(&self, node: Option<&str>) {
        match self
            .store
            .resolve_lost_runs(Utc::now(), node, LOST_REASON)
            .await
        {
            Ok(runs) => {
                for run in &runs {
                    tracing::warn!(run = %run.id, "resolved a run whose node was lost");
                    let task = self
                        .store
                        .get_task(run.org_id, run.task_id)
                        .await
                        .ok()
                        .flatten();
                    self.telemetry.run_ended(run, task.as_ref());
                }
                self.telemetry.runs_lost(runs.len());
                self.events.runs_ended(runs.iter().map(|r| r.id));
            }
            Err(e) => tracing::error!(error = %e, "resolving lost runs failed"),
        }
    }
}

impl WorkerHandle {
    /// Stops claiming, asks running runs to stop gracefully, waits up to `grace`, then stops the
    /// rest immediately and waits a little more. Runs still going after that keep their lease and
    /// are resolved when the node starts again.
    pub async fn shutdown(&self, grace: Duration) {
        self.shutdown.cancel();
        self.tracker.close();
        let signals: Vec<StopSignal> = self
            .running
            .lock()
            .expect("not poisoned")
            .values()
            .cloned()
            .collect();
        for s in &signals {
            s.graceful.cancel();
        }
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            for s in &signals {
                s.immediate.cancel();
            }
            let _ = tokio::time::timeout(Duration::from_secs(5), self.tracker.wait()).await;
        }
    }
}

/// Retries a store call while the store is unreachable (a database restart), for at most `limit`
/// (a run's lease: past it, another node resolves the run anyway); any other answer is final.
pub(crate) async fn patiently<T, F, Fut>(
    limit: Duration,
    what: &str,
    mut call: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let give_up = Instant::now() + limit;
    loop {
        match call().await {
            Err(StoreError::Unavailable(e)) if Instant::now() < give_up => {
                tracing::warn!(error = %e, "{what}: the store is unreachable; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            other => return other,
        }
    }
}
