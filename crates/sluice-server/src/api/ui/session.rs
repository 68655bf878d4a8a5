//! The monitor's session: a cookie (HttpOnly, SameSite=Strict, scoped to `/ui`) holding a native
//! session token, read into the signed-in user of each request; and protection of every
//! state-changing form against cross-site requests: a token derived from the session (a form
//! field, or htmx's header) and the request's `Origin` checked against its `Host`.

use super::UiError;
use crate::api::client_of;
use crate::service::{App, Principal, ServiceError};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum_extra::extract::cookie::CookieJar;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

pub const COOKIE: &str = "sluice_session";

/// The signed-in user of a monitor request.
pub struct Session {
    pub who: Principal,
    /// The token forms must send back.
    pub csrf: String,
}

impl Session {
    /// Refuses a form whose token is not this session's.
    pub fn check_csrf(&self, sent: &str) -> Result<(), UiError> {
        if same(sent.trim(), &self.csrf) {
            Ok(())
        } else {
            Err(UiError::forbidden(
                "this form is out of date or came from another site; reload the page and try again",
            ))
        }
    }
}

/// The form token of a session: an HMAC of a fixed label keyed by the session's token, so it
/// needs no storage and no other site can compute it (it cannot read the cookie).
fn csrf_token(session_token: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(session_token.as_bytes()).expect("HMAC takes any key");
    mac.update(b"sluice-monitor-csrf");
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Whether a request that changes something comes from a page of this node: browsers send
/// `Origin` with every POST; when they do, it must name the host the request went to.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

impl FromRequestParts<App> for Session {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = jar.get(COOKIE).map(|c| c.value().to_string()) else {
            return Err(UiError::SignIn);
        };
        if parts.method != Method::GET && !same_origin(&parts.headers) {
            return Err(UiError::forbidden("cross-site requests are refused"));
        }
        let client = client_of(parts, app);
        let who = match app.authenticate(&token, client).await {
            Ok(who) => who,
            Err(ServiceError::Unauthorized(_)) => return Err(UiError::SignIn),
            Err(e) => return Err(e.into()),
        };
        let csrf = csrf_token(&token);
        // htmx sends the token as a header on every request it makes.
        if parts.method != Method::GET
            && let Some(sent) = parts.headers.get("x-csrf-token")
        {
            let session = Session { who, csrf };
            session.check_csrf(sent.to_str().unwrap_or_default())?;
            return Ok(session);
        }
        Ok(Session { who, csrf })
    }
}

/// A form that carries nothing but its token (sign-out, pause, resend, check...).
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf")]
    pub csrf: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_token_depends_on_the_session() {
        assert_ne!(csrf_token("slc_a"), csrf_token("slc_b"));
        assert_eq!(csrf_token("slc_a"), csrf_token("slc_a"));
        assert_eq!(csrf_token("slc_a").len(), 64);
    }

    #[test]
    fn a_post_from_another_origin_is_told_apart() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
    }
}
