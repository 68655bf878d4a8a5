//! Signing in to the monitor and out: the sign-in form (throttled like every sign-in), the
//! session cookie it sets, and sign-out, which ends the session's token at once.

use super::UiError;
use super::layout::{bare_page, notice};
use super::session::{COOKIE, CsrfForm, Session, same_origin};
use crate::api::RequestClient;
use crate::service::{App, ServiceError};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use maud::html;
use serde::Deserialize;

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
}
