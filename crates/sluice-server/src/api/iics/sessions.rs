//! Session upkeep: `user/validSessionId`, v2 `user/logout` and `user/logoutall`, v3 `logout`.

use super::json::parse;
use super::session::session_id;
use super::{V2Error, V3Error, v2, v3};
use crate::api::RequestClient;
use crate::service::{App, ServiceError, SessionKind};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn routes() -> Router<App> {
    let r = Router::new();
    let r = v2(r, "/user/validSessionId", post(valid_session_id));
    let r = v2(r, "/user/logout", post(logout_v2));
    let r = v2(r, "/user/logoutall", post(logout_all));
    let r = r.route("/ma/api/v2/user/logoutall", post(logout_all));
    v3(r, "/logout", post(logout_v3))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValidatedToken {
    user_name: Option<String>,
    ic_token: Option<String>,
}

/// Whether `icToken` (or the session header) is a live session, and for how many more minutes
/// without use. An unknown or expired one is answered `isValidToken: false`, not an error.
async fn valid_session_id(
    State(app): State<App>,
    RequestClient(client): RequestClient,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let req: ValidatedToken = parse(&body)?;
    let token = req
        .ic_token
        .filter(|t| !t.trim().is_empty())
        .or_else(|| session_id(&headers))
        .ok_or_else(|| V2Error::bad_request("icToken is required."))?;
    let live = match app.session(token.trim(), client).await {
        Ok((who, expires)) => req
            .user_name
            .as_deref()
            .is_none_or(|u| u.is_empty() || u == who.user.username)
            .then_some(expires),
        Err(ServiceError::Unauthorized(_)) => None,
        Err(other) => return Err(other.into()),
    };
    let (valid, minutes) = match live {
        Some(Some(at)) => (true, (at - chrono::Utc::now()).num_minutes().max(0)),
        // A token without an end in time (a native API token) does not expire.
        Some(None) => (true, i64::from(i32::MAX)),
        None => (false, 0),
    };
    Ok(Json(json!({
        "@type": "validatedToken",
        "timeUntilExpire": minutes,
        "isValidToken": valid,
    })))
}

/// Ends the session in the header; ending one that is already gone is not an error.
async fn logout_v2(State(app): State<App>, headers: HeaderMap) -> Result<StatusCode, V2Error> {
    let token = session_id(&headers).ok_or_else(V2Error::session)?;
    app.logout(&token).await?;
    Ok(StatusCode::OK)
}

async fn logout_v3(State(app): State<App>, headers: HeaderMap) -> Result<StatusCode, V3Error> {
    let token = session_id(&headers).ok_or_else(|| V3Error(V2Error::session()))?;
    app.logout(&token).await?;
    Ok(StatusCode::OK)
}

#[derive(Deserialize)]
struct Credentials {
    username: Option<String>,
    password: Option<String>,
}

/// Ends every IICS session of the user whose name and password are given.
async fn logout_all(
    State(app): State<App>,
    RequestClient(client): RequestClient,
    body: Bytes,
) -> Result<StatusCode, V2Error> {
    let c: Credentials = parse(&body)?;
    let (Some(user), Some(password)) = (c.username, c.password) else {
        return Err(V2Error::bad_request("username and password are required."));
    };
    app.logout_all(&user, &password, SessionKind::Iics, client)
        .await
        .map_err(|e| match e {
            ServiceError::Unauthorized(_) => V2Error::bad_login(),
            other => other.into(),
        })?;
    Ok(StatusCode::OK)
}
