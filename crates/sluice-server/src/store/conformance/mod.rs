//! The store conformance suite: every [`Store`] implementation must pass it. Tests call
//! [`run_all`] with a fresh, empty store (SQLite here; PostgreSQL runs the same suite). One module
//! per area; the checks run in order and each leaves nothing queued for the next.

mod audit;
mod callbacks;
mod children;
mod identity;
mod logs;
mod races;
mod runs;
mod stops;
mod tasks;
mod watermarks;

use super::*;
use crate::domain::task::Origin;
use crate::domain::{TaskType, Trigger, ids};
use std::collections::BTreeMap;

/// Runs every check in order against `store`, panicking with a description on the first failure.
pub async fn run_all(store: &dyn Store) {
    let org = store
        .ensure_org(ids::default_org_id(), "default")
        .await
        .expect("ensure org");
    identity::identity(store, org.id).await;
    tasks::tasks(store, org.id).await;
    tasks::connections(store, org.id).await;
    runs::run_lifecycle(store, org.id).await;
    runs::parallel_and_external_ids(store, org.id).await;
    stops::stops(store, org.id).await;
    stops::leases(store, org.id).await;
    logs::logs(store, org.id).await;
    callbacks::callbacks(store, org.id).await;
    children::children(store, org.id).await;
    watermarks::watermarks(store, org.id).await;
    watermarks::webhook_keys(store, org.id).await;
    audit::audit(store, org.id).await;
    identity::org_isolation(store).await;
    races::races(store, org.id).await;
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
    }
}
