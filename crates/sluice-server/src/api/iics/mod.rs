//! The Informatica Cloud (IICS) compatibility surface: the paths, bodies and error objects that
//! existing IICS scripts and tools call, translated to and from the native model. No logic of its
//! own lives here: every operation is a `service` call.
//!
//! v2 resources live under `<serverUrl>/api/v2` and v3 ones under `<baseApiUrl>/public/core/v3`,
//! both URLs ending in `/saas`; clients build them in different ways, so every resource answers
//! with and without the `/saas` prefix.

mod activity;
mod code_tasks;
mod entries;
mod error;
mod jobs;
mod json;
mod login;
mod schedule_shape;
mod schedules;
mod session;
mod sessions;
mod task_schedules;
mod taskflows;
mod tasks;
mod tf_status;
mod xml;

pub use error::{V2Error, V3Error, error_response};

use crate::domain::Run;
use crate::notify::CallbackBody;
use crate::service::App;
use axum::Router;
use axum::routing::MethodRouter;

/// The IICS routes, served at the root (`/ma/...`, `/saas/...`, `/api/v2/...`).
pub fn routes() -> Router<App> {
    login::routes()
        .merge(sessions::routes())
        .merge(jobs::routes())
        .merge(activity::routes())
        .merge(tasks::routes())
        .merge(taskflows::routes())
        .merge(code_tasks::routes())
        .merge(schedules::routes())
        .merge(task_schedules::routes())
        .layer(axum::middleware::from_fn(xml::negotiate))
}

/// Adds a v2 resource (`path` after `/api/v2`) at both of its places.
fn v2(router: Router<App>, path: &str, method: MethodRouter<App>) -> Router<App> {
    router
        .route(&format!("/saas/api/v2{path}"), method.clone())
        .route(&format!("/api/v2{path}"), method)
}

/// Adds a v3 resource (`path` after `/public/core/v3`) at both of its places.
fn v3(router: Router<App>, path: &str, method: MethodRouter<App>) -> Router<App> {
    router
        .route(&format!("/saas/public/core/v3{path}"), method.clone())
        .route(&format!("/public/core/v3{path}"), method)
}

/// The callbacks of runs started through IICS: `callbackUrlResponse`.
pub struct IicsCallbacks(pub App);

#[async_trait::async_trait]
impl CallbackBody for IicsCallbacks {
    async fn render(&self, run: &Run) -> Result<serde_json::Value, String> {
        let task = self
            .0
            .store
            .get_task(run.org_id, run.task_id)
            .await
            .map_err(|e| e.to_string())?;
        Ok(entries::callback_body(run, task.as_ref()))
    }
}
