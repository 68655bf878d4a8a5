//! Signing in to the monitor: a session cookie (HttpOnly, SameSite=Strict, scoped to `/ui`)
//! holding a native session token, and protection of every state-changing form against
//! cross-site requests: a token derived from the session (a form field, or htmx's header) and
//! the request's `Origin` checked against its `Host`.

use super::UiError;
use super::layout::{bare_page, notice};
use crate::api::{RequestClient, client_of};
use crate::service::{App, Principal, ServiceError};
use axum::extract::{Form, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use hmac::{Hmac, Mac};
use maud::html;
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
fn same_origin(headers: &HeaderMap) -> bool {
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

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    error: Option<String>,
}

/// Only a path of the monitor itself is a place to go after signing in.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/ui/") && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/ui/runs",
    }
}

pub async fn login_page(Query(q): Query<LoginQuery>) -> Response {
    login_form(q.next.as_deref(), q.error.as_deref(), StatusCode::OK)
}

fn login_form(next: Option<&str>, error: Option<&str>, status: StatusCode) -> Response {
    let body = html! {
        section.signin {
            h1 { "Sluice" }
            p.muted { "Sign in to watch and run your jobs." }
            (notice(error, true))
            form method="post" action="/ui/login" {
                input type="hidden" name="next" value=(safe_next(next));
                label { "User name" input name="username" autocomplete="username" required autofocus; }
                label { "Password" input name="password" type="password" autocomplete="current-password" required; }
                button type="submit" { "Sign in" }
            }
        }
    };
    (status, bare_page("Sign in", body)).into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

/// Checks the password (throttled like every sign-in) and sets the session cookie.
pub async fn login(
    State(app): State<App>,
    RequestClient(client): RequestClient,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    if !same_origin(&headers) {
        return UiError::forbidden("cross-site sign-ins are refused").into_response();
    }
    let next = safe_next(form.next.as_deref()).to_string();
    match app.login(&form.username, &form.password, client).await {
        Ok((token, _)) => {
            let cookie = Cookie::build((COOKIE, token))
                .path("/ui")
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(app.config.ui.secure_cookie)
                // No Max-Age: the cookie goes when the browser closes; the token itself expires
                // after `session_hours` whatever the browser keeps.
                .build();
            (jar.add(cookie), Redirect::to(&next)).into_response()
        }
        // The form again, with the error: a page like any other to the browser (200), not a
        // failed resource load.
        Err(ServiceError::Unauthorized(_)) => login_form(
            Some(&next),
            Some("The user name or password is not valid."),
            StatusCode::OK,
        ),
        Err(ServiceError::TooManyRequests { retry_after_secs }) => login_form(
            Some(&next),
            Some(&format!(
                "Too many failed sign-ins: try again in {retry_after_secs} seconds."
            )),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(e) => UiError::from(e).into_response(),
    }
}

/// A form that carries nothing but its token (sign-out, pause, resend, check...).
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf")]
    pub csrf: String,
}

/// Ends the session (its token stops working at once) and clears the cookie.
pub async fn logout(
    State(app): State<App>,
    session: Session,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> Result<Response, UiError> {
    session.check_csrf(&form.csrf)?;
    if let Some(token) = jar.get(COOKIE).map(|c| c.value().to_string()) {
        app.logout(&token).await?;
    }
    let gone = Cookie::build((COOKIE, "")).path("/ui").build();
    Ok((jar.remove(gone), Redirect::to("/ui/login")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_monitor_paths_are_places_to_go_next() {
        assert_eq!(
            safe_next(Some("/ui/runs?state=failed")),
            "/ui/runs?state=failed"
        );
        assert_eq!(safe_next(Some("https://evil.example/")), "/ui/runs");
        assert_eq!(safe_next(Some("//evil.example/ui/")), "/ui/runs");
        assert_eq!(safe_next(Some("/ui/\\evil")), "/ui/runs");
        assert_eq!(safe_next(None), "/ui/runs");
    }

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
