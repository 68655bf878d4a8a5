//! Running a linear taskflow: each step is a run of its task, queued as a child of the taskflow's
//! run and waited for; the taskflow stops at the first failed step unless the step says to go on.
//! A stop of the taskflow is passed to the step running. Every step is kept as a child of the run
//! (state, times, counters, error) from the start, so steps that never ran show as such.

use super::{Worker, WorkerHandle};
use crate::domain::taskflow::{Step, TaskflowDef};
use crate::domain::{
    Counters, NewRun, Outcome, Run, RunChild, RunState, StopMode, Task, TaskType, Trigger,
};
use crate::engine::{EngineError, RunContext, context::store_counters};
use crate::store::lookup::resolve_task;
use chrono::Utc;
use std::time::Duration;
use uuid::Uuid;

/// How deep taskflows may run one another, and how many nested taskflows one may hold in all.
const MAX_NESTING: usize = 8;
const MAX_NESTED_FLOWS: usize = 200;

/// How often a step's state is read when no end is announced (it may run on another node).
const POLL: Duration = Duration::from_millis(500);

impl Worker {
    pub(super) async fn run_taskflow(
        &self,
        run: &Run,
        task: &Task,
        ctx: &RunContext,
        h: &WorkerHandle,
    ) -> Result<Outcome, EngineError> {
        let def: TaskflowDef = serde_json::from_value(task.definition.clone())
            .map_err(|e| EngineError::Definition(e.to_string()))?;
        // Every step's task is found before anything runs: a taskflow naming a missing task
        // fails whole, not half-way.
        let mut steps = Vec::with_capacity(def.steps.len());
        for (i, step) in def.steps.iter().enumerate() {
            let t = resolve_task(self.store.as_ref(), run.org_id, &step.task)
                .await
                .map_err(|e| EngineError::Definition(format!("steps[{i}] `{}`: {e}", step.task)))?;
            steps.push((step, t));
        }
        self.check_nesting(run.org_id, task).await?;
        let label = format!("taskflow {} (run {})", task.path(), run.run_number);
        self.run_steps(run, &label, &steps, ctx, h, true).await
    }

    /// Refuses, before any step runs, a taskflow that would run itself (at any depth) or nest
    /// taskflows deeper than [`MAX_NESTING`]: either would never end, or fill the queue.
    async fn check_nesting(&self, org: Uuid, root: &Task) -> Result<(), EngineError> {
        let mut stack = vec![(root.clone(), vec![root.clone()])];
        let mut visited = 0usize;
        while let Some((flow, path)) = stack.pop() {
            let def: TaskflowDef = serde_json::from_value(flow.definition.clone())
                .map_err(|e| EngineError::Definition(format!("{}: {e}", flow.path())))?;
            for step in &def.steps {
                let t = resolve_task(self.store.as_ref(), org, &step.task)
                    .await
                    .map_err(|e| {
                        EngineError::Definition(format!(
                            "{} step `{}`: {e}",
                            flow.path(),
                            step.task
                        ))
                    })?;
                if t.task_type != TaskType::Workflow {
                    continue;
                }
                let chain = || {
                    let names: Vec<String> = path.iter().map(Task::path).collect();
                    format!("{} → {}", names.join(" → "), t.path())
                };
                if path.iter().any(|p| p.id == t.id) {
                    return Err(EngineError::Definition(format!(
                        "a taskflow may not run itself: {}",
                        chain()
                    )));
                }
                visited += 1;
                if path.len() >= MAX_NESTING || visited > MAX_NESTED_FLOWS {
                    return Err(EngineError::Definition(format!(
                        "taskflows nest at most {MAX_NESTING} deep and {MAX_NESTED_FLOWS} in all: {}",
                        chain()
                    )));
                }
                let mut deeper = path.clone();
                deeper.push(t.clone());
                stack.push((t, deeper));
            }
        }
        Ok(())
    }

    /// Runs the chain of `task` after its own work (Starfish `chainJobs`): each chained task a
    /// step that must succeed for the next to run. The run's counters stay the task's own.
    pub(super) async fn run_chain(
        &self,
        run: &Run,
        task: &Task,
        ctx: &RunContext,
        h: &WorkerHandle,
    ) -> Result<Outcome, EngineError> {
        let mut steps = Vec::with_capacity(task.chain.len());
        for (i, reference) in task.chain.iter().enumerate() {
            let t = resolve_task(self.store.as_ref(), run.org_id, reference)
                .await
                .map_err(|e| EngineError::Definition(format!("chain[{i}] `{reference}`: {e}")))?;
            if t.task_type == TaskType::Workflow || t.id == task.id {
                return Err(EngineError::Definition(format!(
                    "chain[{i}] `{reference}`: a chain holds other jobs, not taskflows or itself"
                )));
            }
            let step = Step {
                task: reference.clone(),
                continue_on_error: false,
                parameters: Default::default(),
            };
            steps.push((step, t));
        }
        let steps: Vec<(&Step, Task)> = steps.iter().map(|(s, t)| (s, t.clone())).collect();
        let label = format!("the chain of {} (run {})", task.path(), run.run_number);
        self.run_steps(run, &label, &steps, ctx, h, false).await
    }

    /// Runs `steps` one after another as runs of their tasks, kept as children of `run`; with
    /// `sum`, the run's counters are the sum of its steps'.
    async fn run_steps(
        &self,
        run: &Run,
        label: &str,
        steps: &[(&Step, Task)],
        ctx: &RunContext,
        h: &WorkerHandle,
        sum: bool,
    ) -> Result<Outcome, EngineError> {
        for (i, (_, t)) in steps.iter().enumerate() {
            self.put_step(run, i, t, RunState::Queued, None, None)
                .await?;
        }
        let mut totals = Counters::default();
        let mut with_errors = 0;
        for (i, (step, t)) in steps.iter().enumerate() {
            if ctx.stop.requested() {
                return Err(EngineError::Stopped);
            }
            // Built-in options (row ranges, chains) belong to this run, not to its steps.
            let mut parameters: std::collections::BTreeMap<String, String> = run
                .parameters
                .iter()
                .filter(|(k, _)| !k.starts_with("sluice."))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            parameters.extend(step.parameters.clone());
            let new = NewRun {
                trigger: Some(Trigger::Taskflow),
                started_by: label.to_string(),
                parameters,
                ..NewRun::default()
            };
            let ended = match self.store.create_run(t, new, Utc::now()).await {
                Ok(child) => {
                    self.events.run_queued();
                    ctx.log.info(format!(
                        "Step {} `{}` started as its run {}",
                        i + 1,
                        t.path(),
                        child.run_number
                    ));
                    self.put_step(run, i, t, RunState::Running, Some(&child), None)
                        .await?;
                    let ended = self.wait_step(run, &child, ctx, h).await?;
                    self.put_step(run, i, t, ended.state, Some(&ended), None)
                        .await?;
                    totals.add(&ended.counters);
                    if sum {
                        store_counters(&ctx.counters, &totals);
                    }
                    Ok(ended)
                }
                Err(e) => {
                    let msg = format!("could not start: {e}");
                    self.put_step(run, i, t, RunState::Failed, None, Some(&msg))
                        .await?;
                    Err(msg)
                }
            };
            if ctx.stop.requested() {
                return Err(EngineError::Stopped);
            }
            let problem = match &ended {
                Ok(r) if r.state == RunState::Completed => None,
                Ok(r) => Some(format!(
                    "ended {}{}",
                    r.state,
                    r.error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                )),
                Err(msg) => Some(msg.clone()),
            };
            let Some(problem) = problem else { continue };
            let failed = !matches!(&ended, Ok(r) if r.state == RunState::CompletedWithErrors);
            let line = format!("Step {} `{}` {problem}", i + 1, t.path());
            if failed && !step.continue_on_error {
                ctx.log.error(&line);
                return Err(EngineError::Data(line));
            }
            ctx.log.warn(format!("{line}; going on"));
            with_errors += 1;
        }
        Ok(if with_errors == 0 {
            Outcome::Completed
        } else {
            Outcome::CompletedWithErrors
        })
    }

    /// Waits for a step's run to end, passing the taskflow's stop on to it.
    async fn wait_step(
        &self,
        run: &Run,
        child: &Run,
        ctx: &RunContext,
        h: &WorkerHandle,
    ) -> Result<Run, EngineError> {
        let mut ended = self.events.subscribe_ended();
        let mut passed: Option<StopMode> = None;
        loop {
            let current = self
                .store
                .get_run(run.org_id, child.id)
                .await
                .map_err(|e| EngineError::Data(format!("reading a step's run: {e}")))?
                .ok_or_else(|| EngineError::Data("a step's run disappeared".into()))?;
            if current.state.is_terminal() {
                return Ok(current);
            }
            let wanted = if ctx.stop.immediate.is_cancelled() {
                Some(StopMode::Immediate)
            } else if ctx.stop.graceful.is_cancelled() {
                Some(StopMode::Graceful)
            } else {
                None
            };
            if let Some(mode) = wanted
                && passed != Some(mode)
            {
                let by = format!("the taskflow's stop (run {})", run.run_number);
                match self
                    .store
                    .request_stop(run.org_id, child.id, mode, &by, Utc::now())
                    .await
                {
                    // A step stopped before it began ends here and now.
                    Ok(stopped) if stopped.state.is_terminal() => {
                        let task = self.store.get_task(run.org_id, stopped.task_id).await;
                        self.telemetry
                            .run_ended(&stopped, task.ok().flatten().as_ref());
                        self.events.run_ended(child.id);
                    }
                    Ok(_) => h.signal_stop(child.id, mode),
                    Err(e) => tracing::warn!(run = %child.id, error = %e, "stopping a step"),
                }
                passed = Some(mode);
                continue;
            }
            tokio::select! {
                _ = ended.recv() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = ctx.stop.graceful.cancelled(), if passed.is_none() => {}
                _ = ctx.stop.immediate.cancelled(), if passed != Some(StopMode::Immediate) => {}
            }
        }
    }

    async fn put_step(
        &self,
        run: &Run,
        i: usize,
        task: &Task,
        state: RunState,
        child: Option<&Run>,
        error: Option<&str>,
    ) -> Result<(), EngineError> {
        let step = RunChild {
            run_id: run.id,
            seq: i as i32 + 1,
            name: task.path(),
            state,
            started_at: child.and_then(|c| c.started_at.or(Some(c.created_at))),
            ended_at: child.and_then(|c| c.ended_at),
            counters: child.map(|c| c.counters).unwrap_or_default(),
            error: error
                .map(str::to_string)
                .or_else(|| child.and_then(|c| c.error.clone())),
            task_id: Some(task.id),
            child_run_id: child.map(|c| c.id),
        };
        self.store
            .put_run_child(&step)
            .await
            .map_err(|e| EngineError::Data(format!("recording a step: {e}")))
    }
}
