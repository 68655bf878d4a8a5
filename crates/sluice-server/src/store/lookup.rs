//! Finding a task by any name a client may give it, over any [`Store`]: the API surfaces (through
//! the service) and the worker (taskflow steps, chains) resolve references the same way.

use super::{Result, Store, StoreError, TaskFilter};
use crate::domain::{Task, ids};
use uuid::Uuid;

/// Finds a task of the org by its UUID, its 20-character IICS id, its 22-character federated id,
/// `folder/name`, or its bare name when exactly one folder has a task of that name (a name in
/// several folders is refused, naming them).
pub async fn resolve_task(store: &dyn Store, org_id: Uuid, reference: &str) -> Result<Task> {
    let r = reference.trim();
    let not_found = || StoreError::NotFound(format!("task `{r}`"));
    if r.is_empty() {
        return Err(StoreError::BadReference("task: must not be empty".into()));
    }
    if let Ok(id) = Uuid::parse_str(r) {
        return store.get_task(org_id, id).await?.ok_or_else(not_found);
    }
    if let Some(id) = ids::parse_federated_id(r)
        && let Some(t) = store.get_task(org_id, id).await?
    {
        return Ok(t);
    }
    if r.len() == 20
        && let Some(t) = store.get_task_by_short_id(org_id, r).await?
    {
        return Ok(t);
    }
    if let Some((folder, name)) = r.rsplit_once('/') {
        return store
            .get_task_by_path(org_id, folder, name)
            .await?
            .ok_or_else(not_found);
    }
    let filter = TaskFilter {
        name: Some(r.to_string()),
        ..Default::default()
    };
    let matches = store.list_tasks(org_id, &filter).await?;
    match matches.len() {
        0 => Err(not_found()),
        1 => Ok(matches.into_iter().next().expect("one")),
        _ => {
            // IICS would pick the Default folder; Sluice reaches every folder, so a name in
            // several is a question only the caller can answer.
            let paths: Vec<String> = matches.iter().map(Task::path).collect();
            Err(StoreError::BadReference(format!(
                "task name `{r}` is in several folders; name one of {} (or use the task's id)",
                paths.join(", ")
            )))
        }
    }
}
