//! What a node counts for Prometheus: every metric's name, help and labels live here, and the one
//! recorder `GET /metrics` renders. It sits below `store`, `service`, `worker` and `notify` (it
//! imports only `domain`), so each part records what happens where it happens.
//!
//! Labels stay bounded: task type, trigger, outcome, state, store operation; never a run id, and a
//! task's name only when the operator allows it (`[metrics] task_names = true`). Each node has its
//! own recorder (not the process-global one), so two servers in one process, as tests run them,
//! count apart.

use crate::domain::{Run, RunState, Task};
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

pub const RUNS_STARTED: &str = "sluice_runs_started_total";
pub const RUNS_ENDED: &str = "sluice_runs_ended_total";
pub const RUN_DURATION: &str = "sluice_run_duration_seconds";
pub const RUNS_ACTIVE: &str = "sluice_runs";
pub const PICKUP_LATENCY: &str = "sluice_run_pickup_seconds";
pub const START_LATENCY: &str = "sluice_run_start_seconds";
pub const CALLBACK_ATTEMPTS: &str = "sluice_callback_attempts_total";
pub const CALLBACKS_GIVEN_UP: &str = "sluice_callbacks_given_up_total";
pub const RUNS_LOST: &str = "sluice_runs_lost_total";
pub const SCHEDULE_FIRES: &str = "sluice_schedule_fires_total";
pub const STORE_QUERY: &str = "sluice_store_query_seconds";
pub const UP: &str = "sluice_up";

/// Run durations: a tenth of a second to a day.
const RUN_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0,
    86400.0,
];
/// Waits before a run is claimed or begins: a millisecond to ten minutes.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 600.0,
];
/// Store operations: a tenth of a millisecond to ten seconds.
const QUERY_BUCKETS: &[f64] = &[
    0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// `[metrics]` in the configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MetricsConfig {
    /// Adds a `task` label (folder/name) to the run counters and durations. Off by default: every
    /// task then makes series of its own, which a large org can make many of.
    #[serde(default)]
    pub task_names: bool,
    /// When set, `GET /metrics` answers only requests bearing it (`Authorization: Bearer ...`,
    /// Prometheus's `authorization.credentials`); unset, anyone who reaches the node may scrape.
    #[serde(default, skip_serializing)]
    pub token: Option<String>,
}

/// How a callback attempt went.
#[derive(Debug, Clone, Copy)]
pub enum CallbackOutcome {
    /// The receiver answered 2xx.
    Delivered,
    /// It answered otherwise, did not answer, or may not be called (the outbound policy).
    Failed,
}

impl CallbackOutcome {
    fn label(self) -> &'static str {
        match self {
            CallbackOutcome::Delivered => "delivered",
            CallbackOutcome::Failed => "failed",
        }
    }
}

/// How a due schedule fire went.
#[derive(Debug, Clone, Copy)]
pub enum FireOutcome {
    /// It queued a run.
    Queued,
    /// The task did not take it (busy, or gone).
    Refused,
    /// The catch-up policy left it out.
    Skipped,
}

/// One node's metrics. Cheap to clone.
#[derive(Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

struct Inner {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    process: metrics_process::Collector,
    task_names: bool,
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry::new(&MetricsConfig::default())
    }
}

impl Telemetry {
    pub fn new(config: &MetricsConfig) -> Telemetry {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(RUN_DURATION.into()), RUN_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(PICKUP_LATENCY.into()), LATENCY_BUCKETS)
            })
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(START_LATENCY.into()), LATENCY_BUCKETS)
            })
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(STORE_QUERY.into()), QUERY_BUCKETS)
            })
            .expect("bucket lists are constant and not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let telemetry = Telemetry {
            inner: Arc::new(Inner {
                recorder,
                handle,
                process: metrics_process::Collector::default(),
                task_names: config.task_names,
            }),
        };
        telemetry.with(|| {
            describe();
            telemetry.inner.process.describe();
            // Counters a node may go long without touching start at 0, so that a dashboard
            // shows 0 rather than no data.
            counter!(RUNS_LOST).absolute(0);
            counter!(CALLBACKS_GIVEN_UP).absolute(0);
        });
        telemetry
    }

    /// Runs `f` with this node's recorder as the one the `metrics` macros record to.
    fn with(&self, f: impl FnOnce()) {
        metrics::with_local_recorder(&self.inner.recorder, f);
    }

    fn task_label(&self, task: Option<&Task>) -> Option<String> {
        self.inner
            .task_names
            .then(|| task.map(|t| t.path()).unwrap_or_else(|| "(deleted)".into()))
    }

    /// A worker of this node began a run; `claimed_after` is how long it waited in the queue
    /// (from when it could first be claimed), `began_after` how long its preparation took.
    pub fn run_started(
        &self,
        run: &Run,
        task: &Task,
        claimed_after: Duration,
        began_after: Duration,
    ) {
        let labels = self.run_labels(run, Some(task));
        self.with(|| {
            counter!(RUNS_STARTED, &labels).increment(1);
            histogram!(PICKUP_LATENCY).record(claimed_after.as_secs_f64());
            histogram!(START_LATENCY).record(began_after.as_secs_f64());
        });
    }

    /// A run ended here (or was resolved here); `task` is None when it is gone.
    pub fn run_ended(&self, run: &Run, task: Option<&Task>) {
        let mut labels = self.run_labels(run, task);
        labels.push(("outcome", run.state.as_str().to_string()));
        let took = match (run.started_at, run.ended_at) {
            (Some(s), Some(e)) => (e - s).to_std().ok(),
            _ => None,
        };
        self.with(|| {
            counter!(RUNS_ENDED, &labels).increment(1);
            if let Some(took) = took {
                histogram!(RUN_DURATION, &labels).record(took.as_secs_f64());
            }
        });
    }

    fn run_labels(&self, run: &Run, task: Option<&Task>) -> Vec<(&'static str, String)> {
        let mut labels = vec![
            (
                "task_type",
                task.map(|t| t.task_type.code().to_string())
                    .unwrap_or_else(|| "unknown".into()),
            ),
            ("trigger", run.trigger.as_str().to_string()),
        ];
        if let Some(name) = self.task_label(task) {
            labels.push(("task", name));
        }
        labels
    }

    /// Runs this node resolved as lost (their node stopped renewing their lease).
    pub fn runs_lost(&self, count: usize) {
        self.with(|| counter!(RUNS_LOST).increment(count as u64));
    }

    pub fn callback_attempt(&self, outcome: CallbackOutcome) {
        self.with(|| counter!(CALLBACK_ATTEMPTS, "outcome" => outcome.label()).increment(1));
    }

    /// A callback ran out of attempts (or time) and will not be tried again.
    pub fn callback_given_up(&self) {
        self.with(|| counter!(CALLBACKS_GIVEN_UP).increment(1));
    }

    pub fn schedule_fires(&self, outcome: FireOutcome, count: u64) {
        let label = match outcome {
            FireOutcome::Queued => "queued",
            FireOutcome::Refused => "refused",
            FireOutcome::Skipped => "skipped",
        };
        if count > 0 {
            self.with(|| counter!(SCHEDULE_FIRES, "outcome" => label).increment(count));
        }
    }

    /// One store operation took `took`; `op` is the store method's name.
    pub fn store_query(&self, op: &'static str, took: Duration) {
        self.with(|| histogram!(STORE_QUERY, "op" => op).record(took.as_secs_f64()));
    }

    /// The Prometheus text: `active` is the store's count of runs in each unfinished state
    /// (every org's), `store_up` whether the store answered.
    pub fn render(&self, active: &[(RunState, i64)], store_up: bool) -> String {
        self.with(|| {
            for state in RunState::ACTIVE {
                let n = active
                    .iter()
                    .find(|(s, _)| s == &state)
                    .map_or(0, |(_, n)| *n);
                gauge!(RUNS_ACTIVE, "state" => state.as_str()).set(n as f64);
            }
            gauge!(UP).set(if store_up { 1.0 } else { 0.0 });
            self.inner.process.collect();
        });
        self.inner.handle.run_upkeep();
        self.inner.handle.render()
    }
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        RUNS_STARTED,
        "Runs this node began, by task type and trigger."
    );
    describe_counter!(
        RUNS_ENDED,
        "Runs that ended on this node (or that it stopped or resolved), by task type, trigger and outcome."
    );
    describe_histogram!(
        RUN_DURATION,
        Unit::Seconds,
        "How long runs took, start to end."
    );
    describe_gauge!(
        RUNS_ACTIVE,
        "Unfinished runs in the store (every node's), by state: the queue and what is running."
    );
    describe_histogram!(
        PICKUP_LATENCY,
        Unit::Seconds,
        "From when a run could be claimed (accepted, or its retry delay over) to its claim by this node."
    );
    describe_histogram!(
        START_LATENCY,
        Unit::Seconds,
        "From a run's claim to its task beginning to run (its preparation)."
    );
    describe_counter!(
        CALLBACK_ATTEMPTS,
        "Callback deliveries tried by this node, by outcome."
    );
    describe_counter!(
        CALLBACKS_GIVEN_UP,
        "Callbacks this node stopped trying (out of attempts)."
    );
    describe_counter!(
        RUNS_LOST,
        "Runs this node resolved as failed because their node was lost."
    );
    describe_counter!(
        SCHEDULE_FIRES,
        "Due schedule fires handled by this node, by outcome."
    );
    describe_histogram!(
        STORE_QUERY,
        Unit::Seconds,
        "Store operations' time, by operation."
    );
    describe_gauge!(UP, "1 while this node's store answers, else 0.");
}
