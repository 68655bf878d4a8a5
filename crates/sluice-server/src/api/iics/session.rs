//! IICS sessions: the session id (a Sluice session token) arrives in `icSessionId` (v2),
//! `INFA-SESSION-ID` (v3) or `IDS-SESSION-ID` (code tasks); header names are case-insensitive and
//! every route takes any of the three. A missing or unknown session is a 401 with the v2 object.

use super::V2Error;
use crate::service::{App, Principal};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

pub const SESSION_HEADERS: [&str; 3] = ["icSessionId", "INFA-SESSION-ID", "IDS-SESSION-ID"];

/// The caller of an IICS route, and the session id it used.
// The job and activity routes (issue 4, next) read both; so far only the check itself is used.
#[allow(dead_code)]
pub struct IicsSession {
    pub who: Principal,
    pub session_id: String,
}

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
        let session_id = session_id(&parts.headers).ok_or_else(V2Error::session)?;
        let who = app
            .authenticate(&session_id)
            .await
            .map_err(|_| V2Error::session())?;
        Ok(IicsSession { who, session_id })
    }
}

/// This server's base URL as the client reached it (`http://host:port`), for `serverUrl`.
pub fn base_url(headers: &HeaderMap) -> String {
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
