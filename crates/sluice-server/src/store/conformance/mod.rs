//! The store conformance suite: every [`Store`] implementation must pass it. A backend's tests
//! invoke [`store_conformance!`](crate::store_conformance) with a function opening a fresh, empty
//! store; it makes one test per check, so a failure names the check and the backend. One module
//! per area.

mod audit;
mod callbacks;
mod children;
mod identity;
mod logs;
mod monitor;
mod policies;
mod races;
mod retention;
mod runs;
mod schedules;
mod stops;
mod tasks;
mod watermarks;

use super::*;
use crate::domain::task::Origin;
use crate::domain::{TaskType, Trigger, ids};
use std::collections::BTreeMap;

/// Generates one `#[tokio::test]` per check, each on a fresh store from `$open` (an async
/// function answering the store and a guard that keeps its resources until the test ends, or
/// `None` when the backend's server is not there and the test skips, having said why), so a
/// failure names the check and the backend: `sluice_server::store_conformance!(fresh_store);`
/// inside the backend's test module.
#[macro_export]
macro_rules! store_conformance {
    ($open:path) => {
        $crate::store_conformance!(@checks $open;
            identity,
            tasks,
            connections,
            run_lifecycle,
            parallel_and_external_ids,
            stops,
            leases,
            logs,
            run_files,
            callbacks,
            children,
            watermarks,
            webhook_keys,
            audit,
            races,
            retention,
            org_isolation,
            schedules,
            schedule_fires,
            concurrent_fires,
            busy_policies,
            retries,
            blackouts,
            run_lists,
            log_search
        );
    };
    (@checks $open:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let Some((store, _guard)) = $open().await else {
                    return;
                };
                $crate::store::conformance::checks::$check(&*store).await;
            }
        )*
    };
}

/// The checks, each on its own: a fresh store and its default org.
pub mod checks {
    use super::*;

    pub async fn identity(store: &dyn Store) {
        identity::identity(store, default_org(store).await).await;
    }
    pub async fn tasks(store: &dyn Store) {
        tasks::tasks(store, default_org(store).await).await;
    }
    pub async fn connections(store: &dyn Store) {
        tasks::connections(store, default_org(store).await).await;
    }
    pub async fn run_lifecycle(store: &dyn Store) {
        runs::run_lifecycle(store, default_org(store).await).await;
    }
    pub async fn parallel_and_external_ids(store: &dyn Store) {
        runs::parallel_and_external_ids(store, default_org(store).await).await;
    }
    pub async fn stops(store: &dyn Store) {
        stops::stops(store, default_org(store).await).await;
    }
    pub async fn leases(store: &dyn Store) {
        stops::leases(store, default_org(store).await).await;
    }
    pub async fn logs(store: &dyn Store) {
        logs::logs(store, default_org(store).await).await;
    }
    pub async fn run_files(store: &dyn Store) {
        logs::run_files(store, default_org(store).await).await;
    }
    pub async fn callbacks(store: &dyn Store) {
        callbacks::callbacks(store, default_org(store).await).await;
    }
    pub async fn children(store: &dyn Store) {
        children::children(store, default_org(store).await).await;
    }
    pub async fn watermarks(store: &dyn Store) {
        watermarks::watermarks(store, default_org(store).await).await;
    }
    pub async fn webhook_keys(store: &dyn Store) {
        watermarks::webhook_keys(store, default_org(store).await).await;
    }
    pub async fn audit(store: &dyn Store) {
        audit::audit(store, default_org(store).await).await;
    }
    pub async fn races(store: &dyn Store) {
        races::races(store, default_org(store).await).await;
    }
    pub async fn retention(store: &dyn Store) {
        retention::retention(store, default_org(store).await).await;
    }
    pub async fn org_isolation(store: &dyn Store) {
        identity::org_isolation(store).await;
    }
    pub async fn schedules(store: &dyn Store) {
        schedules::schedules(store, default_org(store).await).await;
    }
    pub async fn schedule_fires(store: &dyn Store) {
        schedules::schedule_fires(store, default_org(store).await).await;
    }
    pub async fn concurrent_fires(store: &dyn Store) {
        schedules::concurrent_fires(store, default_org(store).await).await;
    }
    pub async fn busy_policies(store: &dyn Store) {
        policies::busy_policies(store, default_org(store).await).await;
    }
    pub async fn blackouts(store: &dyn Store) {
        schedules::blackouts(store, default_org(store).await).await;
    }
    pub async fn retries(store: &dyn Store) {
        policies::retries(store, default_org(store).await).await;
    }
    pub async fn run_lists(store: &dyn Store) {
        monitor::run_lists(store, default_org(store).await).await;
    }
    pub async fn log_search(store: &dyn Store) {
        monitor::log_search(store, default_org(store).await).await;
    }
}

async fn default_org(store: &dyn Store) -> Uuid {
    store
        .ensure_org(ids::default_org_id(), "default")
        .await
        .expect("ensure org")
        .id
}

/// Now, to the microsecond: stores keep times at that precision.
fn now_micros() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).expect("in range")
}

pub fn sample_task(org_id: Uuid, folder: &str, name: &str, allow_parallel: bool) -> Task {
    let now = now_micros();
    Task {
        id: Uuid::now_v7(),
        org_id,
        folder: folder.into(),
        name: name.into(),
        task_type: TaskType::Mapping,
        description: "conformance".into(),
        allow_parallel,
        chain: vec!["cb/next".into()],
        parameters: BTreeMap::from([("p".to_string(), "1".to_string())]),
        policy: Default::default(),
        definition: serde_json::json!({"sources": [], "target": {"format": "csv", "path": "x"}}),
        origin: Origin::Api,
        created_at: now,
        updated_at: now,
    }
}

fn new_run(by: &str) -> NewRun {
    NewRun {
        started_by: by.into(),
        trigger: Some(Trigger::Api),
        ..Default::default()
    }
}

fn end(event: RunEvent) -> RunEnd {
    RunEnd {
        event,
        error: None,
        counters: Counters {
            source_rows_read: 10,
            target_rows_written: 9,
            source_rows_failed: 1,
            ..Default::default()
        },
        log: Vec::new(),
    }
}
