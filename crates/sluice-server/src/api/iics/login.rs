//! v2 and v3 login against Sluice's users, and the server time: `/ma/api/v2/user/login`,
//! `/saas/public/core/v3/login`, `/saas/api/v2/server/serverTime`.

use super::json::parse;
use super::session::{IicsSession, base_url};
use super::{V2Error, V3Error, v2, v3};
use crate::api::RequestClient;
use crate::domain::audit::Client;
use crate::domain::ids::{self, ShortIdKind};
use crate::service::{App, Principal, ServiceError, SessionKind};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn routes() -> Router<App> {
    let r = Router::new()
        .route("/ma/api/v2/user/login", post(login_v2))
        .route("/saas/api/v2/user/login", post(login_v2));
    let r = v3(r, "/login", post(login_v3));
    v2(r, "/server/serverTime", get(server_time))
}

#[derive(Deserialize)]
struct Credentials {
    username: Option<String>,
    password: Option<String>,
}

fn credentials(c: Credentials) -> Result<(String, String), V2Error> {
    match (c.username, c.password) {
        (Some(u), Some(p)) if !u.is_empty() && u.len() <= 255 && p.len() <= 255 => Ok((u, p)),
        (Some(_), Some(_)) => Err(V2Error::bad_request(
            "username must be 1 to 255 characters and password at most 255.",
        )),
        _ => Err(V2Error::bad_request("username and password are required.")),
    }
}

async fn login(app: &App, c: Credentials, client: Client) -> Result<(String, Principal), V2Error> {
    let (username, password) = credentials(c)?;
    app.login_as(&username, &password, SessionKind::Iics, client)
        .await
        .map_err(|e| match e {
            ServiceError::Unauthorized(_) => V2Error::bad_login(),
            other => other.into(),
        })
}

/// The v2 user object (what IICS answers), with this server as `serverUrl`.
fn user_object(app: &App, who: &Principal, session: &str, headers: &HeaderMap) -> Value {
    let u = &who.user;
    json!({
        "@type": "user",
        "id": ids::short_id(u.id, ShortIdKind::User),
        "orgId": ids::short_id(u.org_id, ShortIdKind::Org),
        "orgUuid": u.org_id.simple().to_string(),
        "name": u.username,
        "firstName": "",
        "lastName": "",
        "title": "",
        "phone": "",
        "emails": "",
        "timezone": "UTC",
        "serverUrl": format!("{}/saas", base_url(app, headers)),
        "icSessionId": session,
        "securityQuestion": "",
        "forceChangePassword": false,
        "spiUrl": null,
        "uuid": u.id.simple().to_string(),
        "createTime": u.created_at.format("%Y-%m-%dT%H:%M:%S.000Z").to_string(),
        "updateTime": u.created_at.format("%Y-%m-%dT%H:%M:%S.000Z").to_string(),
        "createdBy": "sluice",
        "updatedBy": "sluice",
        "roles": [],
    })
}

async fn login_v2(
    State(app): State<App>,
    RequestClient(client): RequestClient,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let (session, who) = login(&app, parse(&body)?, client).await?;
    Ok(Json(user_object(&app, &who, &session, &headers)))
}

async fn login_v3(
    State(app): State<App>,
    RequestClient(client): RequestClient,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, V3Error> {
    let c = parse(&body).map_err(V3Error)?;
    let (session, who) = login(&app, c, client).await.map_err(|e| {
        V3Error(if e.code == "UI_10000" {
            V2Error::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "AUTH_01",
                "Invalid user name or password.",
            )
        } else {
            e
        })
    })?;
    let u = &who.user;
    Ok(Json(json!({
        "products": [{
            "name": "Integration Cloud",
            "baseApiUrl": format!("{}/saas", base_url(&app, &headers)),
        }],
        "userInfo": {
            "sessionId": session,
            "id": ids::short_id(u.id, ShortIdKind::User),
            "name": u.username,
            "parentOrgId": ids::short_id(u.org_id, ShortIdKind::Org),
            "orgId": ids::short_id(u.org_id, ShortIdKind::Org),
            "orgName": who.org_name,
            "groups": {},
            "status": "Active",
        }
    })))
}

async fn server_time(_session: IicsSession) -> Json<Value> {
    Json(json!({
        "@type": "serverTime",
        "time": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S.%3fZ").to_string(),
    }))
}
