//! IICS schedules: v2 `/api/v2/schedule` (list, by id, `name/<name>`, create, update with
//! `Update-Mode: PARTIAL`, delete) and v3 `/public/core/v3/schedule` (list with `q=`, by id,
//! create, PATCH or PUT, delete; `status` enables and disables). Every change is the native
//! service's `put_schedule`; the shapes are `schedule_shape`'s.

use super::json::parse;
use super::schedule_shape::{Version, input_of, object, v2_id};
use super::session::{IicsSession, V3Session};
use super::{V2Error, V3Error, v2, v3};
use crate::domain::Origin;
use crate::domain::schedule::Schedule;
use crate::service::schedules::spec_from_input;
use crate::service::{App, ServiceError};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

pub fn routes() -> Router<App> {
    let r = v2(Router::new(), "/schedule", get(list_v2).post(create_v2));
    let r = v2(r, "/schedule/name/{name}", get(by_name_v2));
    let r = v2(
        r,
        "/schedule/{id}",
        get(read_v2).post(update_v2).delete(delete_v2),
    );
    let r = v3(r, "/schedule", get(list_v3).post(create_v3));
    v3(
        r,
        "/schedule/{id}",
        get(read_v3)
            .patch(update_v3)
            .put(update_v3)
            .delete(delete_v3),
    )
}

fn invalid(problems: Vec<String>) -> ServiceError {
    ServiceError::InvalidDefinition(problems)
}

fn body_object(body: &Bytes) -> Result<Map<String, Value>, V2Error> {
    match parse::<Value>(body)? {
        Value::Object(m) => Ok(m),
        _ => Err(V2Error::bad_request("The body must be a schedule object.")),
    }
}

/// Creates or replaces a schedule from an IICS body; `existing` is the one being updated.
async fn save(
    app: &App,
    s: &IicsSession,
    body: Map<String, Value>,
    version: Version,
    existing: Option<&Schedule>,
) -> Result<Schedule, ServiceError> {
    let mut input = input_of(&body, version).map_err(|e| invalid(vec![e]))?;
    // What IICS has no field for stays as it was.
    if let Some(e) = existing {
        input.paused = input.paused.or(Some(e.paused));
        input.catch_up = Some(e.catch_up.as_str().to_string());
        input.catch_up_window_secs = Some(e.catch_up_window_secs);
    }
    let spec = spec_from_input(input).map_err(invalid)?;
    if existing.is_none()
        && app
            .resolve_schedule(s.who.org_id(), &spec.name)
            .await
            .is_ok()
    {
        return Err(ServiceError::Conflict(format!(
            "A schedule named `{}` exists.",
            spec.name
        )));
    }
    let (_, saved) = app
        .put_schedule(&s.who, spec, Origin::Api, existing.map(|e| e.id))
        .await?;
    Ok(saved)
}

/// A schedule by any of its ids: the v2 20-character id, the v3 id (its UUID) or its
/// federated id.
async fn find(app: &App, s: &IicsSession, id: &str) -> Result<Schedule, ServiceError> {
    let all = app.list_schedules(s.who.org_id()).await?;
    all.into_iter()
        .find(|sch| {
            v2_id(sch) == id
                || sch.id.to_string() == id
                || crate::domain::ids::federated_id(sch.id) == id
        })
        .ok_or_else(|| ServiceError::NotFound(format!("Schedule `{id}` was not found.")))
}

/// An update body over the stored schedule: v2 `Update-Mode: PARTIAL` and every v3 update
/// change only the fields they carry.
fn merged(current: &Schedule, body: Map<String, Value>, version: Version) -> Map<String, Value> {
    let Value::Object(mut base) = object(current, version) else {
        return body;
    };
    // The stored `startTime` of a v2 object is wall-clock time: it reads back as such.
    base.extend(body);
    base
}

async fn list_v2(State(app): State<App>, s: IicsSession) -> Result<Json<Value>, V2Error> {
    let all = app.list_schedules(s.who.org_id()).await?;
    Ok(Json(Value::Array(
        all.iter().map(|sch| object(sch, Version::V2)).collect(),
    )))
}

async fn read_v2(
    State(app): State<App>,
    s: IicsSession,
    Path(id): Path<String>,
) -> Result<Json<Value>, V2Error> {
    Ok(Json(object(&find(&app, &s, &id).await?, Version::V2)))
}

async fn by_name_v2(
    State(app): State<App>,
    s: IicsSession,
    Path(name): Path<String>,
) -> Result<Json<Value>, V2Error> {
    let all = app.list_schedules(s.who.org_id()).await?;
    // IICS schedule names are unique ignoring case.
    let found = all
        .iter()
        .find(|sch| sch.name.eq_ignore_ascii_case(&name))
        .ok_or_else(|| V2Error::not_found(format!("Schedule `{name}` was not found.")))?;
    Ok(Json(object(found, Version::V2)))
}

async fn create_v2(
    State(app): State<App>,
    s: IicsSession,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let saved = save(&app, &s, body_object(&body)?, Version::V2, None).await?;
    Ok(Json(object(&saved, Version::V2)))
}

async fn update_v2(
    State(app): State<App>,
    s: IicsSession,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let current = find(&app, &s, &id).await?;
    let partial = headers
        .get("update-mode")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("partial"));
    let mut body = body_object(&body)?;
    if partial {
        body = merged(&current, body, Version::V2);
    }
    body.entry("name").or_insert_with(|| json!(current.name));
    let saved = save(&app, &s, body, Version::V2, Some(&current)).await?;
    Ok(Json(object(&saved, Version::V2)))
}

async fn delete_v2(
    State(app): State<App>,
    s: IicsSession,
    Path(id): Path<String>,
) -> Result<StatusCode, V2Error> {
    let found = find(&app, &s, &id).await?;
    app.delete_schedule(&s.who, found.id).await?;
    Ok(StatusCode::OK)
}

/// v3 `q`: `field=='value'` terms joined by ` and ` over name, status, interval, id and
/// scheduleFederatedId, compared ignoring case.
fn matches_q(sch: &Value, q: &str) -> Result<bool, String> {
    for term in q.split(" and ") {
        let (field, value) = term
            .split_once("==")
            .ok_or_else(|| format!("q: `{term}` is not `field=='value'`"))?;
        let field = field.trim();
        if !["name", "status", "interval", "id", "scheduleFederatedId"].contains(&field) {
            return Err(format!("q: `{field}` cannot be filtered on"));
        }
        let value = value.trim().trim_matches('\'').trim_matches('"');
        let have = sch[field].as_str().unwrap_or_default();
        if !have.eq_ignore_ascii_case(value) {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn list_v3(
    State(app): State<App>,
    V3Session(s): V3Session,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, V3Error> {
    let all = app.list_schedules(s.who.org_id()).await?;
    let mut out = Vec::new();
    for sch in &all {
        let obj = object(sch, Version::V3);
        let keep = match q.get("q").map(|q| q.trim()).filter(|q| !q.is_empty()) {
            Some(q) => matches_q(&obj, q).map_err(|e| V3Error(V2Error::bad_request(e)))?,
            None => true,
        };
        if keep {
            out.push(obj);
        }
    }
    Ok(Json(json!({"count": out.len(), "schedules": out})))
}

async fn read_v3(
    State(app): State<App>,
    V3Session(s): V3Session,
    Path(id): Path<String>,
) -> Result<Json<Value>, V3Error> {
    Ok(Json(object(&find(&app, &s, &id).await?, Version::V3)))
}

async fn create_v3(
    State(app): State<App>,
    V3Session(s): V3Session,
    body: Bytes,
) -> Result<Json<Value>, V3Error> {
    let body = body_object(&body).map_err(V3Error)?;
    let saved = save(&app, &s, body, Version::V3, None).await?;
    Ok(Json(object(&saved, Version::V3)))
}

async fn update_v3(
    State(app): State<App>,
    V3Session(s): V3Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, V3Error> {
    let current = find(&app, &s, &id).await?;
    let mut body = body_object(&body).map_err(V3Error)?;
    // Some clients wrap the object: `{"schedules": [{...}]}`.
    if let Some(Value::Array(list)) = body.get("schedules")
        && let Some(Value::Object(inner)) = list.first()
    {
        body = inner.clone();
    }
    let saved = save(
        &app,
        &s,
        merged(&current, body, Version::V3),
        Version::V3,
        Some(&current),
    )
    .await?;
    Ok(Json(object(&saved, Version::V3)))
}

async fn delete_v3(
    State(app): State<App>,
    V3Session(s): V3Session,
    Path(id): Path<String>,
) -> Result<StatusCode, V3Error> {
    let found = find(&app, &s, &id).await?;
    app.delete_schedule(&s.who, found.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
