//! Schedules: their definitions, and the firing pass: one run per task per fire, never two
//! (however many passes run at once), paused and deleted schedules silent, a busy task's fire
//! refused without using a run number.

use super::*;
use crate::domain::schedule::{CatchUp, Rule, Schedule};
use crate::domain::task::{RunPolicy, ScheduleBinding};
use chrono::TimeZone;
use futures::future::join_all;

fn sample_schedule(org_id: Uuid, name: &str, cron: &str, next: DateTime<Utc>) -> Schedule {
    let now = now_micros();
    Schedule {
        id: Uuid::now_v7(),
        org_id,
        name: name.into(),
        description: "conformance".into(),
        timezone: "UTC".into(),
        rule: Rule::Cron(cron.into()),
        catch_up: CatchUp::All,
        catch_up_window_secs: 86_400,
        paused: false,
        origin: Origin::Api,
        next_fire_at: Some(next),
        last_fire_at: None,
        created_at: now,
        updated_at: now,
    }
}

fn bound_task(org: Uuid, name: &str, schedule: &str, parallel: bool) -> Task {
    Task {
        policy: RunPolicy {
            schedules: vec![ScheduleBinding {
                schedule: schedule.into(),
                parameters: BTreeMap::from([("region".to_string(), "emea".to_string())]),
            }],
            ..Default::default()
        },
        ..sample_task(org, "sched", name, parallel)
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

pub(super) async fn schedules(store: &dyn Store, org: Uuid) {
    let s = sample_schedule(org, "nightly", "0 30 2 * * *", t0());
    store.create_schedule(&s).await.unwrap();
    let dup = Schedule {
        id: Uuid::now_v7(),
        ..s.clone()
    };
    assert!(matches!(
        store.create_schedule(&dup).await,
        Err(StoreError::NameTaken(_))
    ));
    let found = store
        .find_schedules(org, None, Some("nightly"))
        .await
        .unwrap();
    assert_eq!(found, vec![s.clone()]);
    assert_eq!(
        store.find_schedules(org, Some(s.id), None).await.unwrap(),
        vec![s.clone()]
    );
    let other = store.create_org("other-sched").await.unwrap();
    assert!(
        store
            .find_schedules(other.id, None, None)
            .await
            .unwrap()
            .is_empty()
    );
    let changed = Schedule {
        paused: true,
        rule: Rule::Cron("0 0 3 * * *".into()),
        ..s.clone()
    };
    store.update_schedule(&changed).await.unwrap();
    assert_eq!(
        store.find_schedules(org, None, None).await.unwrap(),
        vec![changed.clone()]
    );
    assert_eq!(
        store.next_schedule_fire().await.unwrap(),
        None,
        "a paused schedule never fires"
    );
    store.delete_schedule(org, s.id).await.unwrap();
    assert!(matches!(
        store.delete_schedule(org, s.id).await,
        Err(StoreError::NotFound(_))
    ));
}

pub(super) async fn schedule_fires(store: &dyn Store, org: Uuid) {
    let s = sample_schedule(org, "every-second", "* * * * * *", t0());
    store.create_schedule(&s).await.unwrap();
    let task = bound_task(org, "bound", "every-second", true);
    store.create_task(&task).await.unwrap();
    store
        .create_task(&sample_task(org, "sched", "unbound", true))
        .await
        .unwrap();
    assert_eq!(store.next_schedule_fire().await.unwrap(), Some(t0()));

    let early = store
        .fire_schedules(t0() - chrono::Duration::milliseconds(1), 10)
        .await
        .unwrap();
    assert!(early.runs.is_empty(), "nothing fires before it is due");
    let fired = store.fire_schedules(t0(), 10).await.unwrap();
    assert_eq!(fired.runs.len(), 1);
    let run = &fired.runs[0];
    assert_eq!(run.task_id, task.id);
    assert_eq!(run.trigger, Trigger::Schedule);
    assert_eq!(
        run.parameters.get("region").map(String::as_str),
        Some("emea")
    );
    let fire = run.fire.clone().expect("the run records its fire");
    assert_eq!(
        (fire.schedule_id, fire.schedule_name.as_str(), fire.at),
        (s.id, "every-second", t0())
    );
    assert_eq!(
        store.get_run(org, run.id).await.unwrap().unwrap().fire,
        Some(fire)
    );
    let next = t0() + chrono::Duration::seconds(1);
    assert_eq!(store.next_schedule_fire().await.unwrap(), Some(next));
    assert!(
        store
            .fire_schedules(t0(), 10)
            .await
            .unwrap()
            .runs
            .is_empty(),
        "a fire is made once"
    );

    // A pass three seconds on makes the three fires due, oldest first (catch-up `all`).
    let later = store
        .fire_schedules(t0() + chrono::Duration::seconds(3), 10)
        .await
        .unwrap();
    let ats: Vec<_> = later
        .runs
        .iter()
        .map(|r| r.fire.as_ref().unwrap().at)
        .collect();
    assert_eq!(
        ats,
        (1..=3)
            .map(|i| t0() + chrono::Duration::seconds(i))
            .collect::<Vec<_>>()
    );

    // A schedule moved back (a stale write) does not make a fire twice: the run is keyed.
    let stale = Schedule {
        next_fire_at: Some(t0()),
        ..s.clone()
    };
    store.update_schedule(&stale).await.unwrap();
    let again = store
        .fire_schedules(t0() + chrono::Duration::seconds(3), 10)
        .await
        .unwrap();
    assert!(again.runs.is_empty(), "{:?}", again.runs);

    // Deleted: no more fires, and the runs it made stay.
    store.delete_schedule(org, s.id).await.unwrap();
    assert!(
        store
            .fire_schedules(t0() + chrono::Duration::seconds(60), 10)
            .await
            .unwrap()
            .runs
            .is_empty()
    );
    assert!(store.get_run(org, run.id).await.unwrap().is_some());
    busy_fire_is_refused(store, org).await;
}

/// A task that may not run in parallel and is running refuses the fire, using no run number.
async fn busy_fire_is_refused(store: &dyn Store, org: Uuid) {
    let s = sample_schedule(org, "busy", "* * * * * *", t0());
    store.create_schedule(&s).await.unwrap();
    let task = bound_task(org, "single", "busy", false);
    store.create_task(&task).await.unwrap();
    let running = store.create_run(&task, new_run("api"), t0()).await.unwrap();
    let fired = store.fire_schedules(t0(), 10).await.unwrap();
    assert!(fired.runs.is_empty());
    assert_eq!(fired.refused.len(), 1);
    assert_eq!(fired.refused[0].task, task.path());
    store
        .request_stop(org, running.id, StopMode::Immediate, "t", t0())
        .await
        .unwrap();
    let next = store.create_run(&task, new_run("api"), t0()).await.unwrap();
    assert_eq!(
        next.run_number,
        running.run_number + 1,
        "the refused fire used no number"
    );
}

/// Eight passes at once over twenty due schedules: every fire made exactly once.
pub(super) async fn concurrent_fires(store: &dyn Store, org: Uuid) {
    let task_names: Vec<String> = (0..20).map(|i| format!("race-{i}")).collect();
    for name in &task_names {
        store
            .create_schedule(&sample_schedule(org, name, "* * * * * *", t0()))
            .await
            .unwrap();
        store
            .create_task(&bound_task(org, name, name, true))
            .await
            .unwrap();
    }
    let at = t0() + chrono::Duration::seconds(4);
    let passes = join_all((0..8).map(|_| store.fire_schedules(at, 7))).await;
    let mut made: Vec<(Uuid, DateTime<Utc>)> = Vec::new();
    for pass in passes {
        for run in pass.unwrap().runs {
            made.push((run.task_id, run.fire.unwrap().at));
        }
    }
    // Passes limited to 7 schedules each may leave some due: finish them.
    loop {
        let more = store.fire_schedules(at, 100).await.unwrap();
        if more.runs.is_empty() {
            break;
        }
        made.extend(
            more.runs
                .into_iter()
                .map(|r| (r.task_id, r.fire.unwrap().at)),
        );
    }
    let total = made.len();
    made.sort();
    made.dedup();
    assert_eq!(total, made.len(), "a fire was made twice");
    assert_eq!(
        total,
        20 * 5,
        "each of 20 schedules fires 5 times (t0 .. t0+4s)"
    );
}

/// Blackouts are kept per org, and a fire inside one is skipped: no run, the schedule moves on.
pub(super) async fn blackouts(store: &dyn Store, org: Uuid) {
    use crate::domain::blackout::{Blackout, Window};
    let now = now_micros();
    let b = Blackout {
        id: Uuid::now_v7(),
        org_id: org,
        name: "maintenance".into(),
        description: String::new(),
        timezone: "UTC".into(),
        window: Window::Once {
            start: t0().naive_utc() - chrono::Duration::minutes(1),
            end: t0().naive_utc() + chrono::Duration::seconds(2),
        },
        origin: Origin::Api,
        created_at: now,
        updated_at: now,
    };
    store.put_blackout(&b).await.unwrap();
    store.put_blackout(&b).await.unwrap();
    assert_eq!(store.list_blackouts(org).await.unwrap(), vec![b.clone()]);
    let dup = Blackout {
        id: Uuid::now_v7(),
        ..b.clone()
    };
    assert!(matches!(
        store.put_blackout(&dup).await,
        Err(StoreError::NameTaken(_))
    ));
    let other = store.create_org("other-blackout").await.unwrap();
    assert!(store.list_blackouts(other.id).await.unwrap().is_empty());

    store
        .create_schedule(&sample_schedule(org, "held", "* * * * * *", t0()))
        .await
        .unwrap();
    store
        .create_task(&bound_task(org, "held", "held", true))
        .await
        .unwrap();
    let fired = store
        .fire_schedules(t0() + chrono::Duration::seconds(3), 10)
        .await
        .unwrap();
    let ats: Vec<_> = fired
        .runs
        .iter()
        .map(|r| r.fire.as_ref().unwrap().at)
        .collect();
    assert_eq!(
        ats,
        vec![
            t0() + chrono::Duration::seconds(2),
            t0() + chrono::Duration::seconds(3)
        ]
    );
    assert_eq!(fired.skipped, vec![("held".to_string(), 2)]);
    store.delete_blackout(org, b.id).await.unwrap();
    assert!(store.list_blackouts(org).await.unwrap().is_empty());
}
