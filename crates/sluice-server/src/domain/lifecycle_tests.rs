use super::*;
use crate::domain::run::Outcome;
use crate::domain::task::{Origin, TaskType};

fn task(allow_parallel: bool) -> Task {
    let now = Utc::now();
    Task {
        id: Uuid::new_v4(),
        org_id: Uuid::new_v4(),
        folder: "Default".into(),
        name: "t".into(),
        task_type: TaskType::Mapping,
        description: String::new(),
        allow_parallel,
        chain: Vec::new(),
        parameters: Default::default(),
        policy: Default::default(),
        definition: serde_json::Value::Null,
        origin: Origin::Api,
        created_at: now,
        updated_at: now,
    }
}

fn new_run(callback: Option<&str>) -> NewRun {
    NewRun {
        started_by: "ann".into(),
        callback_url: callback.map(str::to_string),
        ..NewRun::default()
    }
}

/// A run of `task` in `state`, held by `node` when claimed.
fn run_in(state: RunState, node: &str, callback: Option<&str>) -> Run {
    let now = Utc::now();
    let mut run = create(&task(true), new_run(callback), 1, None, now)
        .unwrap()
        .run;
    if state != RunState::Queued {
        let c = claim(node, Duration::from_secs(30), now);
        run.state = c.state;
        run.lease_owner = Some(c.lease_owner);
        run.lease_expires_at = Some(c.lease_expires_at);
        run.started_at = Some(c.started_at);
    }
    if matches!(state, RunState::Running | RunState::Stopping) {
        run = begin(&run, node).unwrap();
    }
    if state == RunState::Stopping {
        run = request_stop(&run, StopMode::Graceful, "bob", now)
            .unwrap()
            .run;
    }
    assert_eq!(run.state, state);
    run
}

#[test]
fn a_task_that_may_not_run_in_parallel_refuses_a_second_active_run() {
    let now = Utc::now();
    let refused = create(&task(false), new_run(None), 8, Some(7), now).unwrap_err();
    assert_eq!(
        refused,
        Refusal::TaskBusy {
            task: "Default/t".into(),
            run_number: 7
        }
    );
    let run = create(&task(true), new_run(None), 8, Some(7), now)
        .unwrap()
        .run;
    assert_eq!(
        (run.state, run.run_number, run.trigger),
        (RunState::Queued, 8, Trigger::Api)
    );
    assert_eq!(run.created_at, now);
}

#[test]
fn a_stop_while_queued_ends_the_run_and_queues_its_callback() {
    let now = Utc::now();
    let run = run_in(RunState::Queued, "n1", Some("http://hook"));
    let change = request_stop(&run, StopMode::Graceful, "bob", now).unwrap();
    assert_eq!(change.run.state, RunState::Stopped);
    assert_eq!(change.run.ended_at, Some(now));
    assert_eq!(
        change.run.error.as_deref(),
        Some("Stopped by bob before it started.")
    );
    assert_eq!(
        change.callback,
        Some(QueuedCallback {
            url: "http://hook".into(),
            due: now
        })
    );
}

#[test]
fn a_stop_while_starting_keeps_the_run_stopping_through_begin() {
    let now = Utc::now();
    let run = run_in(RunState::Starting, "n1", None);
    let stopping = request_stop(&run, StopMode::Graceful, "bob", now).unwrap();
    assert_eq!(stopping.run.state, RunState::Stopping);
    assert_eq!(stopping.callback, None);
    let begun = begin(&stopping.run, "n1").unwrap();
    assert_eq!(begun.state, RunState::Stopping);
}

#[test]
fn stops_escalate_from_graceful_to_immediate_and_never_back() {
    let now = Utc::now();
    let run = run_in(RunState::Running, "n1", None);
    let graceful = request_stop(&run, StopMode::Graceful, "a", now)
        .unwrap()
        .run;
    assert_eq!(graceful.stop_mode, Some(StopMode::Graceful));
    let immediate = request_stop(&graceful, StopMode::Immediate, "b", now)
        .unwrap()
        .run;
    assert_eq!(immediate.stop_mode, Some(StopMode::Immediate));
    assert_eq!(immediate.stopped_by.as_deref(), Some("b"));
    let again = request_stop(&immediate, StopMode::Graceful, "c", now)
        .unwrap()
        .run;
    assert_eq!(again.stop_mode, Some(StopMode::Immediate));
    assert_eq!(again.state, RunState::Stopping);
}

#[test]
fn an_ended_run_takes_no_stop() {
    let now = Utc::now();
    let run = run_in(RunState::Queued, "n1", None);
    let stopped = request_stop(&run, StopMode::Graceful, "a", now)
        .unwrap()
        .run;
    assert!(matches!(
        request_stop(&stopped, StopMode::Immediate, "b", now),
        Err(Refusal::Transition(_))
    ));
}

#[test]
fn finish_writes_the_outcome_counters_and_end_and_lets_the_lease_go() {
    let now = Utc::now();
    let run = run_in(RunState::Running, "n1", Some("http://hook"));
    let report = RunEnd {
        event: RunEvent::Finish(Outcome::CompletedWithErrors),
        error: Some("2 rows rejected".into()),
        counters: Counters {
            source_rows_read: 10,
            ..Counters::default()
        },
        log: Vec::new(),
    };
    let change = finish(&run, "n1", report, now).unwrap();
    let r = &change.run;
    assert_eq!(r.state, RunState::CompletedWithErrors);
    assert_eq!(r.error.as_deref(), Some("2 rows rejected"));
    assert_eq!(r.counters.source_rows_read, 10);
    assert_eq!(
        (r.ended_at, &r.lease_owner, r.lease_expires_at),
        (Some(now), &None, None)
    );
    assert!(change.callback.is_some());
}

#[test]
fn only_the_holder_may_begin_or_finish() {
    let now = Utc::now();
    let run = run_in(RunState::Starting, "n1", None);
    assert!(matches!(begin(&run, "n2"), Err(Refusal::NotHeld { .. })));
    let report = RunEnd {
        event: RunEvent::Fail,
        error: None,
        counters: Counters::default(),
        log: Vec::new(),
    };
    assert!(matches!(
        finish(&run, "n2", report, now),
        Err(Refusal::NotHeld { .. })
    ));
}

#[test]
fn a_lost_run_fails_naming_its_node_and_a_run_without_url_queues_nothing() {
    let now = Utc::now();
    let run = run_in(RunState::Running, "n1", None);
    assert!(!is_lost(&run, now, None));
    assert!(is_lost(&run, now + Duration::from_secs(31), None));
    assert!(is_lost(&run, now, Some("n1")));
    assert!(!is_lost(&run, now, Some("n2")));
    let change = lose(&run, "lost", now).unwrap();
    assert_eq!(change.run.state, RunState::Failed);
    assert_eq!(change.run.error.as_deref(), Some("lost (node `n1`)"));
    assert_eq!(change.callback, None);
    let queued = run_in(RunState::Queued, "n1", None);
    assert!(!is_lost(&queued, now + Duration::from_secs(3600), None));
    assert!(lose(&queued, "lost", now).is_err());
}
