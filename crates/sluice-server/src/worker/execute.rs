//! Executing one claimed run: prepare its context, begin it, keep its lease alive, drain its log,
//! run the engine, and record how it ended.

use super::{Worker, WorkerHandle, patiently};
use crate::domain::Origin;
use crate::domain::identity::org_area;
use crate::domain::lifecycle::RunEnd;
use crate::domain::org_grants::OrgGrants;
use crate::domain::runtime_env::is_plain_relative;
use crate::domain::{LogLevel, Outcome, Run, RunEvent, StopMode, Task, TaskType};
use crate::engine::{self, EngineError, LiveCounters, RunContext, RunLog, StopSignal};
use crate::store::StoreError;
use chrono::Utc;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

impl Worker {
    /// Runs a claimed run holding `slot` (one of the node's `concurrency`).
    pub(super) async fn execute(&self, run: Run, h: &WorkerHandle, slot: OwnedSemaphorePermit) {
        let run_id = run.id;
        let signal = StopSignal::default();
        h.running
            .lock()
            .expect("not poisoned")
            .insert(run_id, signal.clone());
        let (log, rx) = RunLog::new();
        let log_done = CancellationToken::new();
        let drain = tokio::spawn(super::log_drain::drain_log(
            self.store.clone(),
            run_id,
            rx,
            log_done.clone(),
        ));
        let counters = Arc::new(LiveCounters::default());

        let mut slot = Some(slot);
        let mut task = None;
        let end = self
            .drive(
                &run,
                signal.clone(),
                log.clone(),
                counters.clone(),
                h,
                (&mut slot, &mut task),
            )
            .await;
        drop(slot);

        drop(log);
        log_done.cancel();
        let tail = drain.await.unwrap_or_default();
        h.running.lock().expect("not poisoned").remove(&run_id);
        match end {
            Some(mut end) => {
                super::run_files::keep_rejects(self.store.as_ref(), &self.data_dir, run_id).await;
                end.log = tail;
                if let Some(ended) = self.record_end(run_id, end).await {
                    self.telemetry.run_ended(&ended, task.as_ref());
                }
            }
            None => {
                if let Err(e) = self.store.append_log(run_id, &tail).await {
                    tracing::warn!(run = %run_id, error = %e, "writing run log failed");
                }
            }
        }
        self.events.run_ended(run_id);
    }

    /// Writes the run's end, retrying while the store is unreachable (a database restart) for as
    /// long as the lease would have lasted: past that, another node resolves the run as lost.
    async fn record_end(&self, run_id: uuid::Uuid, end: RunEnd) -> Option<Run> {
        let ended = patiently(self.config.lease(), "recording a run's end", || {
            self.store
                .finish_run(run_id, &self.node, end.clone(), Utc::now())
        })
        .await;
        match ended {
            Ok(run) => Some(run),
            Err(e) => {
                tracing::error!(run = %run_id, error = %e, "recording a run's end failed");
                // The end is not this node's to write any more; its last lines still tell
                // what happened here.
                let _ = self.store.append_log(run_id, &end.log).await;
                None
            }
        }
    }

    /// Runs the task; answers how the run ended, or None when the lease was lost (another node
    /// resolved the run and this one must not write to it). `held` is the run's slot (a taskflow
    /// gives it back) and where the task goes once loaded.
    async fn drive(
        &self,
        run: &Run,
        signal: StopSignal,
        log: RunLog,
        counters: Arc<LiveCounters>,
        h: &WorkerHandle,
        held: (&mut Option<OwnedSemaphorePermit>, &mut Option<Task>),
    ) -> Option<RunEnd> {
        let (slot, loaded) = held;
        let fail = |msg: String, counters: &LiveCounters| {
            Some(RunEnd {
                event: RunEvent::Fail,
                error: Some(msg),
                counters: counters.snapshot(),
                log: Vec::new(),
            })
        };
        let lease = self.config.lease();
        let task = patiently(lease, "loading a run's task", || {
            self.store.get_task(run.org_id, run.task_id)
        });
        let task = match task.await {
            Ok(Some(t)) => t,
            Ok(None) => {
                return fail(
                    "The task was deleted before the run started.".into(),
                    &counters,
                );
            }
            Err(e) => return fail(format!("Loading the task failed: {e}"), &counters),
        };
        *loaded = Some(task.clone());
        let ctx = match self
            .context(run, &task, signal.clone(), log.clone(), counters.clone())
            .await
        {
            Ok(ctx) => ctx,
            Err(msg) => {
                log.error(&msg);
                return fail(msg, &counters);
            }
        };
        self.telemetry
            .run_started(run, &task, queued_for(run), claimed_for(run));
        log.info(format!(
            "Run {} of {} `{}` started on node {} by {}",
            run.run_number,
            task.task_type,
            task.path(),
            self.node,
            run.started_by
        ));
        if let Some(fire) = &run.fire {
            log.info(format!(
                "Fire of schedule `{}` due at {}",
                fire.schedule_name,
                fire.at.to_rfc3339()
            ));
        }
        if let Some(before) = run.retry_of {
            log.info(format!(
                "Attempt {} of {}: retrying run {before}, which failed",
                run.attempt,
                run.max_attempts()
            ));
        }
        let ended = CancellationToken::new();
        tokio::spawn(begin_later(
            self.clone_parts(),
            run.id,
            signal.clone(),
            ended.clone(),
        ));

        let lost = CancellationToken::new();
        let beat = tokio::spawn(heartbeat(
            self.clone_parts(),
            run.id,
            counters.clone(),
            signal.clone(),
            lost.clone(),
        ));
        let started = Instant::now();
        let result = if task.task_type == TaskType::Workflow {
            // A taskflow only waits on its steps, which need slots of their own: holding one
            // here could leave every slot to taskflows waiting on steps that cannot start.
            slot.take();
            self.run_taskflow(run, &task, &ctx, h).await
        } else {
            let result = engine::run_task(&task, &ctx).await;
            self.then_chain(run, &task, &ctx, h, result).await
        };
        ended.cancel();
        beat.abort();
        if lost.is_cancelled() {
            log.error("The lease on this run was lost; its result is not recorded here.");
            return None;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let c = counters.snapshot();
        let (event, error) = match result {
            Ok(Outcome::Completed) => (RunEvent::Finish(Outcome::Completed), None),
            Ok(Outcome::CompletedWithErrors) => (
                RunEvent::Finish(Outcome::CompletedWithErrors),
                Some(format!(
                    "{} source rows and {} target rows failed; see the log",
                    c.source_rows_failed, c.target_rows_failed
                )),
            ),
            Ok(Outcome::Failed) => (
                RunEvent::Finish(Outcome::Failed),
                Some("The task failed; see the log".into()),
            ),
            Err(EngineError::Stopped) => {
                let mut current = self.store.get_run(run.org_id, run.id).await.ok().flatten();
                // A shutdown stops runs without a stop request in the store: record one, as a
                // halt is only valid from `stopping`.
                if current
                    .as_ref()
                    .is_some_and(|r| r.state != crate::domain::RunState::Stopping)
                {
                    current = self
                        .store
                        .request_stop(
                            run.org_id,
                            run.id,
                            StopMode::Graceful,
                            "the server (shutting down)",
                            Utc::now(),
                        )
                        .await
                        .ok();
                }
                let by = current
                    .as_ref()
                    .and_then(|r| r.stopped_by.clone())
                    .unwrap_or_else(|| "the server (shutting down)".into());
                let mode = current
                    .and_then(|r| r.stop_mode)
                    .unwrap_or(StopMode::Graceful);
                let msg = format!(
                    "Stopped ({}) by {by}; the target was left unchanged",
                    mode.as_str()
                );
                (RunEvent::Halted, Some(msg))
            }
            Err(e) => (
                RunEvent::Finish(Outcome::Failed),
                Some(log.masked(&e.to_string())),
            ),
        };
        let level = if error.is_some() {
            LogLevel::Warn
        } else {
            LogLevel::Info
        };
        log.log(
            level,
            format!(
                "Run ended after {elapsed:.3}s: read {} rows ({} failed), wrote {} rows{}",
                c.source_rows_read,
                c.source_rows_failed,
                c.target_rows_written,
                error
                    .as_deref()
                    .map(|e| format!("; {e}"))
                    .unwrap_or_default()
            ),
        );
        Some(RunEnd {
            event,
            error,
            counters: c,
            log: Vec::new(),
        })
    }

    /// Runs the task's chain when the run asks for it and the task's own work did not fail.
    async fn then_chain(
        &self,
        run: &Run,
        task: &Task,
        ctx: &RunContext,
        h: &WorkerHandle,
        result: Result<Outcome, EngineError>,
    ) -> Result<Outcome, EngineError> {
        let wanted = run.parameters.get("sluice.chain_jobs").map(String::as_str) == Some("true");
        match result {
            Ok(own @ (Outcome::Completed | Outcome::CompletedWithErrors))
                if wanted && !task.chain.is_empty() =>
            {
                let chain = self.run_chain(run, task, ctx, h).await?;
                Ok(if own == Outcome::Completed {
                    chain
                } else {
                    own
                })
            }
            other => other,
        }
    }

    async fn context(
        &self,
        run: &Run,
        task: &Task,
        stop: StopSignal,
        log: RunLog,
        counters: Arc<LiveCounters>,
    ) -> Result<RunContext, String> {
        let confined = task.origin == Origin::Api;
        let area = org_area(&self.data_dir, run.org_id);
        let base = task.base_dir(&self.data_dir);
        if confined {
            std::fs::create_dir_all(&area)
                .map_err(|e| format!("Creating the org's file area failed: {e}"))?;
        }
        let mut params: BTreeMap<String, String> = task.parameters.clone();
        params.extend(run.parameters.clone());
        // A confined task sees its file area as `.`: the server's own directories are not its
        // business, and an absolute path would be refused anyway.
        let shown = |p: &Path| {
            if confined {
                ".".to_string()
            } else {
                p.display().to_string()
            }
        };
        let builtins = [
            ("sluice.data_dir", shown(&self.data_dir)),
            ("sluice.run_id", run.id.to_string()),
            ("sluice.run_number", run.run_number.to_string()),
            ("sluice.task_name", task.name.clone()),
            ("sluice.task_folder", task.folder.clone()),
            // Where the task's relative paths resolve (its definitions directory), for programs
            // that take paths as arguments.
            ("sluice.definitions_dir", shown(&base)),
            (
                "sluice.date",
                chrono::Utc::now().format("%Y-%m-%d").to_string(),
            ),
        ];
        for (k, v) in builtins {
            params.insert(k.into(), v);
        }
        let lease = self.config.lease();
        let org_name = patiently(lease, "loading orgs", || self.store.list_orgs())
            .await
            .map_err(|e| format!("Loading the org failed: {e}"))?
            .into_iter()
            .find(|o| o.id == run.org_id)
            .map(|o| o.name)
            .unwrap_or_default();
        let grants = self.grants.get(&org_name).cloned().unwrap_or_default();
        let conns = patiently(lease, "loading connections", || {
            self.store.list_connections(run.org_id)
        })
        .await
        .map_err(|e| format!("Loading connections failed: {e}"))?;
        let file_roots = file_roots(&conns, &area, &grants, &log);
        if confined {
            // Whatever the run says, it says of paths relative to the roots it was given.
            let mut mask: Vec<(String, String)> = file_roots
                .iter()
                .map(|(name, root)| (root.display().to_string(), format!("<{name}>")))
                .collect();
            mask.push((area.display().to_string(), ".".into()));
            mask.push((self.data_dir.display().to_string(), "<data>".into()));
            log.set_mask(mask);
        }
        let connections = conns.into_iter().map(|c| (c.name.clone(), c)).collect();
        Ok(RunContext {
            run_id: run.id,
            params,
            base_dir: base,
            area,
            file_roots,
            counters,
            log,
            stop,
            batch_size: self.config.batch_size.max(1),
            connections,
            rejects_path: self
                .data_dir
                .join("rejects")
                .join(format!("{}.jsonl", run.id)),
            journal: Arc::new(super::journal::StoreJournal {
                store: self.store.clone(),
                task_id: task.id,
                run_id: run.id,
                node: self.node.clone(),
            }),
            spark: self.spark.clone(),
            org_name,
            confined,
            runtime_envs: self.runtime_envs.clone(),
            grants,
        })
    }

    fn clone_parts(&self) -> Beat {
        Beat {
            store: self.store.clone(),
            node: self.node.clone(),
            lease: self.config.lease(),
            every: self.config.heartbeat(),
        }
    }
}

/// How long a run goes on before its begin (`starting` to `running`) is written: a short run ends
/// first and is spared that write (it may end straight from `starting`).
const BEGIN_AFTER: Duration = Duration::from_millis(20);

/// Writes the run's begin once it has gone on for [`BEGIN_AFTER`], unless it `ended` first; a
/// stop asked for while it was starting is passed on.
async fn begin_later(b: Beat, run_id: uuid::Uuid, signal: StopSignal, ended: CancellationToken) {
    tokio::select! {
        _ = tokio::time::sleep(BEGIN_AFTER) => {}
        _ = ended.cancelled() => return,
    }
    match patiently(b.lease, "beginning a run", || {
        b.store.begin_run(run_id, &b.node)
    })
    .await
    {
        Ok(r) => {
            if let Some(mode) = r.stop_mode {
                apply_stop(&signal, mode);
            }
        }
        // It ended (or was resolved elsewhere) while the begin was on its way: nothing to do.
        Err(StoreError::Transition(_) | StoreError::NotHeld { .. }) => {}
        Err(e) => tracing::warn!(run = %run_id, error = %e, "beginning a run failed"),
    }
}

fn apply_stop(signal: &StopSignal, mode: StopMode) {
    signal.graceful.cancel();
    if mode == StopMode::Immediate {
        signal.immediate.cancel();
    }
}

struct Beat {
    store: Arc<dyn crate::store::Store>,
    node: String,
    lease: Duration,
    every: Duration,
}

/// Renews the lease and saves counters every beat; passes on stops asked for through the store
/// (possibly on another node); on a lost lease, stops the run at once.
async fn heartbeat(
    b: Beat,
    run_id: uuid::Uuid,
    counters: Arc<LiveCounters>,
    signal: StopSignal,
    lost: CancellationToken,
) {
    loop {
        tokio::time::sleep(b.every).await;
        match b
            .store
            .heartbeat(run_id, &b.node, b.lease, counters.snapshot(), Utc::now())
            .await
        {
            Ok(hb) if !hb.held => {
                lost.cancel();
                signal.immediate.cancel();
                signal.graceful.cancel();
                return;
            }
            Ok(hb) => {
                if let Some(mode) = hb.stop {
                    apply_stop(&signal, mode);
                }
            }
            // A failed beat is retried at the next; the lease outlives several beats.
            Err(e) => tracing::warn!(run = %run_id, error = %e, "heartbeat failed"),
        }
    }
}

/// The roots of the org's `files` connections: relative ones inside the directory they were
/// defined in (the org's file area for a connection defined through an API); an API-defined one
/// that names a directory the operator no longer grants is left out, saying so in the run's log.
fn file_roots(
    conns: &[crate::domain::Connection],
    area: &Path,
    grants: &OrgGrants,
    log: &RunLog,
) -> BTreeMap<String, PathBuf> {
    let mut roots = BTreeMap::new();
    for c in conns {
        let (crate::domain::ConnectionType::Files, Some(p)) = (c.conn_type, &c.config.path) else {
            continue;
        };
        let root = match &c.origin {
            Origin::File { root, .. } => PathBuf::from(root).join(p),
            Origin::Api if is_plain_relative(p) => area.join(p),
            Origin::Api if grants.allows_path(Path::new(p)) => PathBuf::from(p),
            Origin::Api => {
                log.warn(format!(
                    "connection `{}`: its directory is not granted to this org; it cannot be used",
                    c.name
                ));
                continue;
            }
        };
        roots.insert(c.name.clone(), root);
    }
    roots
}

/// How long a run waited to be claimed: from when it could first be (accepted, or its retry's
/// delay over) to its claim.
fn queued_for(run: &Run) -> Duration {
    let ready = run
        .not_before
        .map_or(run.created_at, |t| t.max(run.created_at));
    let claimed = run.started_at.unwrap_or(ready);
    (claimed - ready).to_std().unwrap_or_default()
}

/// How long a claimed run took to be ready to go (its task loaded, its context prepared).
fn claimed_for(run: &Run) -> Duration {
    run.started_at
        .and_then(|at| (Utc::now() - at).to_std().ok())
        .unwrap_or_default()
}
