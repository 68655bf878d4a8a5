//! Finding tasks: v2 `GET /api/v2/task?type=`, v3 `POST lookup` (by id or by path and type) and
//! v3 `GET objects` with its `q` filter (`type==` and `location==`), `limit` and `skip`.

use super::entries::utc_time;
use super::json::parse;
use super::session::{IicsSession, V3Session};
use super::{V2Error, V3Error, v2, v3};
use crate::domain::ids::{self, ShortIdKind};
use crate::domain::{Task, TaskType};
use crate::service::{App, ServiceError};
use crate::store::TaskFilter;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

/// v3 `objects`: the most answered at once, as IICS documents.
const MAX_OBJECTS: usize = 200;

pub fn routes() -> Router<App> {
    let r = v2(Router::new(), "/task", get(list_v2));
    let r = v3(r, "/lookup", post(lookup));
    v3(r, "/objects", get(objects))
}

fn task_type(s: &str) -> Result<TaskType, String> {
    // v3 spells a linear taskflow `TASKFLOW` in places; Sluice's code is WORKFLOW.
    if s.eq_ignore_ascii_case("taskflow") {
        return Ok(TaskType::Workflow);
    }
    s.parse()
}

async fn list_v2(
    State(app): State<App>,
    s: IicsSession,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, V2Error> {
    let ty = match q.get("type").map(|t| t.trim()).filter(|t| !t.is_empty()) {
        Some(t) => Some(task_type(t).map_err(|e| V2Error::bad_request(format!("type: {e}")))?),
        None => None,
    };
    let tasks = app
        .list_tasks(
            s.who.org_id(),
            &TaskFilter {
                task_type: ty,
                ..Default::default()
            },
        )
        .await?;
    let org = ids::short_id(s.who.org_id(), ShortIdKind::Org);
    let out: Vec<Value> = tasks
        .iter()
        .map(|t| {
            json!({
                "@type": "task",
                "id": t.short_id(),
                "federatedId": t.federated_id(),
                "orgId": org,
                "name": t.name,
                "path": t.path(),
                "type": t.task_type.code(),
                "description": t.description,
                "createTime": utc_time(t.created_at),
                "updateTime": utc_time(t.updated_at),
                "createdBy": "sluice",
                "updatedBy": "sluice",
            })
        })
        .collect();
    Ok(Json(Value::Array(out)))
}

/// A task as v3 lookup and objects show it; its `id` is what `taskFederatedId` takes.
fn v3_object(t: &Task) -> Value {
    json!({
        "id": t.federated_id(),
        "path": t.path(),
        "type": t.task_type.code(),
        "description": t.description,
        "createdBy": "sluice",
        "updatedBy": "sluice",
        "createTime": utc_time(t.created_at),
        "updateTime": utc_time(t.updated_at),
        "tags": [],
        "sourceControl": null,
        "customAttributes": null,
    })
}

#[derive(Deserialize)]
struct LookupRequest {
    objects: Option<Vec<LookupItem>>,
}

#[derive(Deserialize)]
struct LookupItem {
    id: Option<String>,
    path: Option<String>,
    #[serde(rename = "type")]
    object_type: Option<String>,
}

fn v3_error(status: StatusCode, code: &str, message: impl Into<String>) -> V3Error {
    V3Error(V2Error::new(status, code, message))
}

async fn lookup(
    State(app): State<App>,
    V3Session(s): V3Session,
    body: Bytes,
) -> Result<Json<Value>, V3Error> {
    let req: LookupRequest = parse(&body).map_err(V3Error)?;
    let items = req.objects.filter(|o| !o.is_empty()).ok_or_else(|| {
        v3_error(
            StatusCode::BAD_REQUEST,
            "CMN_400",
            "objects: at least one is required",
        )
    })?;
    let org = s.who.org_id();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let ty =
            match item.object_type.as_deref().filter(|t| !t.is_empty()) {
                Some(t) => Some(task_type(t).map_err(|e| {
                    v3_error(StatusCode::BAD_REQUEST, "CMN_400", format!("type: {e}"))
                })?),
                None => None,
            };
        let (reference, found) = match (item.id.as_deref(), item.path.as_deref()) {
            (Some(id), _) if !id.trim().is_empty() => (id, app.resolve_task(org, id).await),
            (_, Some(path)) if path.contains('/') => (path, app.resolve_task(org, path).await),
            (_, Some(path)) => (
                path,
                Err(ServiceError::Invalid(format!(
                    "path `{path}` must be `<folder>/<name>`"
                ))),
            ),
            _ => {
                return Err(v3_error(
                    StatusCode::BAD_REQUEST,
                    "CMN_400",
                    "each object needs an id, or a path and a type",
                ));
            }
        };
        let task = match found {
            Ok(t) if ty.is_none_or(|ty| ty == t.task_type) => t,
            Ok(_) | Err(ServiceError::NotFound(_)) => {
                return Err(v3_error(
                    StatusCode::NOT_FOUND,
                    "CMN_404",
                    format!("object `{reference}` was not found"),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        out.push(v3_object(&task));
    }
    Ok(Json(json!({ "objects": out })))
}

/// The `q` filter: `key=='value'` terms joined by `and`; `type` and `location` are understood.
fn parse_q(q: &str) -> Result<(Option<TaskType>, Option<String>), String> {
    let (mut ty, mut location) = (None, None);
    for term in q.split(" and ").map(str::trim).filter(|t| !t.is_empty()) {
        let (key, value) = term
            .split_once("==")
            .ok_or_else(|| format!("`{term}` is not `name=='value'`"))?;
        let value = value.trim().trim_matches(|c| c == '\'' || c == '"');
        match key.trim() {
            "type" => ty = Some(task_type(value)?),
            "location" => location = Some(value.trim_matches('/').to_string()),
            other => return Err(format!("`{other}` cannot be filtered on (type, location)")),
        }
    }
    Ok((ty, location))
}

async fn objects(
    State(app): State<App>,
    V3Session(s): V3Session,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, V3Error> {
    let bad = |m: String| v3_error(StatusCode::BAD_REQUEST, "CMN_400", m);
    let (ty, location) = parse_q(q.get("q").map(String::as_str).unwrap_or("")).map_err(bad)?;
    let number = |key: &str, default: usize| -> Result<usize, V3Error> {
        match q.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| bad(format!("{key} must be a whole number, not `{v}`"))),
        }
    };
    let limit = number("limit", MAX_OBJECTS)?;
    let skip = number("skip", 0)?;
    if !(1..=MAX_OBJECTS).contains(&limit) {
        return Err(bad(format!("limit must be between 1 and {MAX_OBJECTS}")));
    }
    let tasks = app
        .list_tasks(
            s.who.org_id(),
            &TaskFilter {
                task_type: ty,
                folder: location,
                ..Default::default()
            },
        )
        .await?;
    let page: Vec<Value> = tasks.iter().skip(skip).take(limit).map(v3_object).collect();
    Ok(Json(json!({ "count": tasks.len(), "objects": page })))
}
