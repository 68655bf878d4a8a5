//! `GET /api/v1/audit`: the audit log, newest first (Admins).

use super::{ApiError, ApiQuery, ApiResult, Auth};
use crate::domain::audit::{AuditAction, AuditEvent};
use crate::service::App;
use crate::store::AuditFilter;
use axum::extract::State;
use axum::{Json, Router, routing::get};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sluice_types::{AuditEventView, AuditList};
use std::collections::HashMap;
use uuid::Uuid;

pub fn routes() -> Router<App> {
    Router::new().route("/audit", get(list))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only events at or after this time (RFC 3339, e.g. `2026-03-01T00:00:00Z`).
    pub since: Option<DateTime<Utc>>,
    /// Only events of this action (`signin`, `signin.throttled`, `user.create`, `user.role`,
    /// `user.password`, `org.create`, `connection.create`, `connection.update`,
    /// `connection.delete`).
    pub action: Option<String>,
    /// Only events of this actor (a user name, or `anonymous`).
    pub actor: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
    /// Events skipped, newest first (the previous page's `next_offset`).
    pub offset: Option<i64>,
}

/// The audit log, newest first: sign-ins and failed sign-ins on every surface, and changes to
/// users, orgs and connections. An Admin reads their org's events; an Admin of the default org
/// reads every org's, and the failed sign-ins as user names nobody has.
#[utoipa::path(get, path = "/api/v1/audit", tag = "auth", params(AuditQuery),
    security(("bearer" = [])), responses((status = 200, body = AuditList)))]
pub async fn list(
    State(app): State<App>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditList>> {
    let action = q
        .action
        .as_deref()
        .map(str::parse::<AuditAction>)
        .transpose()
        .map_err(|e| ApiError::invalid(format!("action: {e}")))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit: must be between 1 and 1000"));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::invalid("offset: must not be negative"));
    }
    let filter = AuditFilter {
        org_id: None,
        since: q.since,
        action,
        actor: q.actor,
        limit,
        offset,
    };
    let events = app.list_audit(&who, filter).await?;
    let orgs: HashMap<Uuid, String> = app
        .list_orgs(&who)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    // A page at the very end of i64 has no next page (found by the fuzz step: it overflowed).
    let next_offset = (events.len() as i64 == limit)
        .then(|| offset.checked_add(limit))
        .flatten();
    Ok(Json(AuditList {
        events: events.iter().map(|(id, e)| view(*id, e, &orgs)).collect(),
        next_offset,
    }))
}

fn view(id: i64, e: &AuditEvent, orgs: &HashMap<Uuid, String>) -> AuditEventView {
    AuditEventView {
        id,
        at: e.at,
        org_id: e.org_id,
        org_name: e.org_id.and_then(|o| orgs.get(&o).cloned()),
        actor: e.actor.clone(),
        action: e.action.to_string(),
        target: e.target.clone(),
        client_addr: e.client_addr.map(|a| a.to_string()),
        surface: e.surface.to_string(),
        outcome: e.outcome.to_string(),
        detail: e.detail.clone(),
    }
}
