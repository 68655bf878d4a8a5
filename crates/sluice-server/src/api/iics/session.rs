//! IICS sessions: the session id (a Sluice session token) arrives in `icSessionId` (v2),
//! `INFA-SESSION-ID` (v3) or `IDS-SESSION-ID` (code tasks); header names are case-insensitive and
//! every route takes any of the three. A missing or unknown session is a 401 with the v2 object.

use super::{V2Error, V3Error};
use crate::api::client_of;
use crate::service::{App, Principal, ServiceError, SigninKind};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

pub const SESSION_HEADERS: [&str; 3] = ["icSessionId", "INFA-SESSION-ID", "IDS-SESSION-ID"];

/// The caller of an IICS route, and the session id it used.
pub struct IicsSession {
    pub who: Principal,
}

/// The caller of a v3 route: the same session, refused with the v3 error object.
pub struct V3Session(pub IicsSession);

pub fn session_id(headers: &HeaderMap) -> Option<String> {
    SESSION_HEADERS
        .iter()
        .find_map(|h| headers.get(*h))
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

impl FromRequestParts<App> for IicsSession {
    type Rejection = V2Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let client = client_of(parts, app);
        if let Some(session_id) = session_id(&parts.headers) {
            let who = app
                .authenticate(&session_id, client)
                .await
                .map_err(|_| V2Error::session())?;
            return Ok(IicsSession { who });
        }
        // The taskflow service API also takes HTTP Basic, throttled like every sign-in.
        let (user, password) = basic(&parts.headers).ok_or_else(V2Error::session)?;
        let who = app
            .authenticate_password(&user, &password, client, SigninKind::Basic)
            .await
            .map_err(|e| match e {
                e @ ServiceError::TooManyRequests { .. } => V2Error::from(e),
                _ => V2Error::session(),
            })?;
        Ok(IicsSession { who })
    }
}

impl FromRequestParts<App> for V3Session {
    type Rejection = V3Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        IicsSession::from_request_parts(parts, app)
            .await
            .map(V3Session)
            .map_err(V3Error)
    }
}

/// The user name and password of an `Authorization: Basic` header.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// This server's base URL (`http://host:port`) for `serverUrl`: the configured public URL, else
/// as the client reached it.
pub fn base_url(app: &App, headers: &HeaderMap) -> String {
    if let Some(url) = &app.config.iics.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(axum::http::header::HOST))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("http");
    format!("{scheme}://{host}")
}
