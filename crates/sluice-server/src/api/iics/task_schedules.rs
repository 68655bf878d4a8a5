//! Attaching a schedule to a task as IICS clients do: the v2 task objects `mttask` and `workflow`
//! carry `scheduleId` (the v2 schedule id); `GET /api/v2/{mttask|workflow}/<id>` shows it and
//! `POST` of the object (with or without `Update-Mode: PARTIAL`) sets it (empty or null: no
//! schedule). Other fields of those objects are Sluice's definition files' to change.

use super::entries::utc_time;
use super::json::parse;
use super::schedule_shape::v2_id;
use super::session::IicsSession;
use super::{V2Error, v2};
use crate::domain::ids::{self, ShortIdKind};
use crate::domain::task::ScheduleBinding;
use crate::domain::{Task, TaskType};
use crate::service::App;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

pub fn routes() -> Router<App> {
    let r = v2(
        Router::new(),
        "/mttask/{id}",
        get(read_mttask).post(update_mttask),
    );
    v2(
        r,
        "/workflow/{id}",
        get(read_workflow).post(update_workflow),
    )
}

/// The task of a v2 id (or any id Sluice knows), of the resource's type.
async fn task_of(app: &App, s: &IicsSession, id: &str, ty: TaskType) -> Result<Task, V2Error> {
    let task = app
        .resolve_task(s.who.org_id(), id)
        .await
        .map_err(|_| V2Error::not_found(format!("Task `{id}` was not found.")))?;
    if task.task_type != ty {
        return Err(V2Error::not_found(format!(
            "`{id}` is not a {} task.",
            ty.code()
        )));
    }
    Ok(task)
}

async fn object(app: &App, s: &IicsSession, t: &Task, at_type: &str) -> Result<Value, V2Error> {
    let schedules = app.list_schedules(s.who.org_id()).await?;
    // IICS holds one schedule a task: the first the task names.
    let schedule_id = t
        .policy
        .schedules
        .first()
        .and_then(|b| schedules.iter().find(|sch| sch.name == b.schedule))
        .map(v2_id);
    let mut m = serde_json::Map::new();
    m.insert("@type".into(), json!(at_type));
    m.insert("id".into(), json!(t.short_id()));
    m.insert(
        "orgId".into(),
        json!(ids::short_id(t.org_id, ShortIdKind::Org)),
    );
    m.insert("name".into(), json!(t.name));
    m.insert("description".into(), json!(t.description));
    m.insert("createTime".into(), json!(utc_time(t.created_at)));
    m.insert("updateTime".into(), json!(utc_time(t.updated_at)));
    if let Some(id) = schedule_id {
        m.insert("scheduleId".into(), json!(id));
    }
    Ok(Value::Object(m))
}

async fn update(
    app: &App,
    s: &IicsSession,
    id: &str,
    ty: TaskType,
    at_type: &str,
    body: &Bytes,
) -> Result<Json<Value>, V2Error> {
    let task = task_of(app, s, id, ty).await?;
    let body: Value = parse(body)?;
    let Some(wanted) = body.get("scheduleId") else {
        return Ok(Json(object(app, s, &task, at_type).await?));
    };
    let bindings = match wanted.as_str().filter(|w| !w.is_empty()) {
        None if wanted.is_null() || wanted.as_str().is_some() => Vec::new(),
        None => return Err(V2Error::bad_request("scheduleId must be a schedule id.")),
        Some(wanted) => {
            let all = app.list_schedules(s.who.org_id()).await?;
            let schedule = all
                .iter()
                .find(|sch| v2_id(sch) == wanted || sch.id.to_string() == wanted)
                .ok_or_else(|| {
                    V2Error::bad_request(format!("Schedule `{wanted}` was not found."))
                })?;
            vec![ScheduleBinding {
                schedule: schedule.name.clone(),
                parameters: Default::default(),
            }]
        }
    };
    let task = app.set_task_schedules(&s.who, &task, bindings).await?;
    Ok(Json(object(app, s, &task, at_type).await?))
}

async fn read_mttask(
    State(app): State<App>,
    s: IicsSession,
    Path(id): Path<String>,
) -> Result<Json<Value>, V2Error> {
    let task = task_of(&app, &s, &id, TaskType::Mapping).await?;
    Ok(Json(object(&app, &s, &task, "mtTask").await?))
}

async fn update_mttask(
    State(app): State<App>,
    s: IicsSession,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    update(&app, &s, &id, TaskType::Mapping, "mtTask", &body).await
}

async fn read_workflow(
    State(app): State<App>,
    s: IicsSession,
    Path(id): Path<String>,
) -> Result<Json<Value>, V2Error> {
    let task = task_of(&app, &s, &id, TaskType::Workflow).await?;
    Ok(Json(object(&app, &s, &task, "workflow").await?))
}

async fn update_workflow(
    State(app): State<App>,
    s: IicsSession,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    update(&app, &s, &id, TaskType::Workflow, "workflow", &body).await
}
