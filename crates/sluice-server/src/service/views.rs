//! Domain objects as the native API shows them (also the body of native callbacks).

use super::App;
use crate::domain::spark::{SparkProgress, Tally};
use crate::domain::{Connection, Counters, LogLine, Origin, Run, RunChild, Task};
use sluice_types::{
    AttemptView, CallbackView, ConnectionView, CountersView, LogLineView, RunChildView, RunView,
    SparkView, TallyView, TaskView,
};
use std::collections::HashMap;
use uuid::Uuid;

pub fn task_view(t: &Task) -> TaskView {
    TaskView {
        id: t.id,
        iics_task_id: t.short_id(),
        federated_id: t.federated_id(),
        starfish_job_id: t.id,
        starfish_project_id: t.folder_id(),
        folder: t.folder.clone(),
        name: t.name.clone(),
        path: t.path(),
        task_type: t.task_type.code().into(),
        description: t.description.clone(),
        allow_parallel: t.allow_parallel,
        chain: t.chain.clone(),
        parameters: t.parameters.clone(),
        definition: t.definition.clone(),
        schedules: t
            .policy
            .schedules
            .iter()
            .map(|b| sluice_types::TaskScheduleView {
                schedule: b.schedule.clone(),
                parameters: b.parameters.clone(),
            })
            .collect(),
        on_busy: t.policy.on_busy.as_str().into(),
        retries: t.policy.retry.retries,
        retry_delay_secs: t.policy.retry.delay_secs,
        retry_backoff: t.policy.retry.backoff,
        origin: origin_label(&t.origin),
        created_at: t.created_at,
        updated_at: t.updated_at,
    }
}

pub fn origin_label(o: &Origin) -> String {
    match o {
        Origin::Api => "api".into(),
        Origin::File { path, root } => format!("file:{root}/{path}"),
    }
}

pub fn connection_view(c: &Connection) -> ConnectionView {
    ConnectionView {
        id: c.id,
        name: c.name.clone(),
        conn_type: c.conn_type.as_str().into(),
        description: c.description.clone(),
        config: serde_json::to_value(c.config.redacted()).unwrap_or_default(),
        origin: origin_label(&c.origin),
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

pub fn counters_view(c: &Counters) -> CountersView {
    CountersView {
        source_rows_read: c.source_rows_read,
        source_rows_failed: c.source_rows_failed,
        target_rows_written: c.target_rows_written,
        target_rows_failed: c.target_rows_failed,
        inserts: c.inserts,
        updates: c.updates,
        deletes: c.deletes,
        skipped: c.skipped,
    }
}

/// `task` names the run's task; a deleted task shows as `(deleted)`.
pub fn schedule_view(s: &crate::domain::schedule::Schedule) -> sluice_types::ScheduleView {
    use crate::domain::schedule::Rule;
    let (cron, frequency) = match &s.rule {
        Rule::Cron(c) => (Some(c.clone()), None),
        Rule::Frequency(f) => (None, serde_json::to_value(f).ok()),
    };
    sluice_types::ScheduleView {
        id: s.id,
        name: s.name.clone(),
        description: s.description.clone(),
        timezone: s.timezone.clone(),
        cron,
        frequency,
        catch_up: s.catch_up.as_str().into(),
        catch_up_window_secs: s.catch_up_window_secs,
        paused: s.paused,
        next_fire_at: if s.paused { None } else { s.next_fire_at },
        last_fire_at: s.last_fire_at,
        origin: origin_label(&s.origin),
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

pub fn run_view(r: &Run, task: Option<(&str, &str)>) -> RunView {
    let (path, ty) = task.unwrap_or(("(deleted)", ""));
    RunView {
        id: r.id,
        run_number: r.run_number,
        external_id: r.external_id.clone(),
        task_id: r.task_id,
        task_path: path.into(),
        task_type: ty.into(),
        state: r.state.as_str().into(),
        finished: r.state.is_terminal(),
        trigger: r.trigger.as_str().into(),
        started_by: r.started_by.clone(),
        parameters: r.parameters.clone(),
        callback_url: r.callback_url.clone(),
        stop_mode: r.stop_mode.map(|m| m.as_str().into()),
        stopped_by: r.stopped_by.clone(),
        error: r.error.clone(),
        counters: counters_view(&r.counters),
        created_at: r.created_at,
        started_at: r.started_at,
        ended_at: r.ended_at,
        node: r.node.clone(),
        schedule: r.fire.as_ref().map(|f| f.schedule_name.clone()),
        fire_at: r.fire.as_ref().map(|f| f.at),
        attempt: r.attempt,
        attempts: r.max_attempts(),
        retry_of: r.retry_of,
        children: Vec::new(),
        spark: r.spark.as_ref().map(spark_view),
    }
}

pub fn spark_view(p: &SparkProgress) -> SparkView {
    let t = |t: &Tally| TallyView {
        total: t.total,
        completed: t.completed,
        active: t.active,
        failed: t.failed,
        skipped: t.skipped,
    };
    SparkView {
        app_id: p.app_id.clone(),
        app_name: p.app_name.clone(),
        ui_url: p.ui_url.clone(),
        state: p.state.as_str().into(),
        jobs: t(&p.jobs),
        stages: t(&p.stages),
        tasks: t(&p.tasks),
        updated_at: p.updated_at,
    }
}

pub fn run_child_view(c: &RunChild) -> RunChildView {
    RunChildView {
        name: c.name.clone(),
        state: c.state.as_str().into(),
        started_at: c.started_at,
        ended_at: c.ended_at,
        counters: counters_view(&c.counters),
        error: c.error.clone(),
    }
}

pub fn callback_view(
    cb: &crate::store::Callback,
    attempts: &[crate::store::Attempt],
) -> CallbackView {
    CallbackView {
        id: cb.id,
        url: cb.url.clone(),
        state: cb.state.clone(),
        attempts: cb.attempts,
        next_attempt_at: cb.is_pending().then_some(cb.next_attempt_at),
        last_error: cb.last_error.clone(),
        delivered_at: cb.delivered_at,
        created_at: cb.created_at,
        attempt_log: attempts
            .iter()
            .map(|a| AttemptView {
                number: a.number,
                started_at: a.started_at,
                ended_at: a.ended_at,
                status: a.status,
                error: a.error.clone(),
            })
            .collect(),
    }
}

pub fn log_line_view(l: &LogLine) -> LogLineView {
    LogLineView {
        seq: l.seq,
        at: l.at,
        level: l.level.as_str().into(),
        message: l.message.clone(),
    }
}

impl App {
    /// Views of runs, with their tasks looked up once each.
    pub async fn run_views(&self, runs: &[Run]) -> Vec<RunView> {
        let mut tasks: HashMap<Uuid, Option<(String, String)>> = HashMap::new();
        let mut out = Vec::with_capacity(runs.len());
        for r in runs {
            if let std::collections::hash_map::Entry::Vacant(slot) = tasks.entry(r.task_id) {
                let t = self
                    .store
                    .get_task(r.org_id, r.task_id)
                    .await
                    .ok()
                    .flatten();
                slot.insert(t.map(|t| (t.path(), t.task_type.code().to_string())));
            }
            let t = tasks[&r.task_id].as_ref();
            out.push(run_view(r, t.map(|(p, ty)| (p.as_str(), ty.as_str()))));
        }
        out
    }

    /// One run's view, with its children.
    pub async fn run_view(&self, run: &Run) -> RunView {
        let mut view = self
            .run_views(std::slice::from_ref(run))
            .await
            .pop()
            .expect("one view per run");
        // Children are extra detail: a failure to read them leaves the view without them.
        match self.store.list_run_children(run.id).await {
            Ok(children) => view.children = children.iter().map(run_child_view).collect(),
            Err(e) => tracing::warn!(run = %run.id, error = %e, "reading the run's children"),
        }
        view
    }
}
