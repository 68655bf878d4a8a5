//! `POST /token`: the OAuth2 password grant, answering a bearer token (a Sluice API token, good on
//! the native API too) that lives 5 days, as Starfish's does.

use super::format::{Format, read_body};
use crate::api::RequestClient;
use crate::service::{App, ServiceError, SigninKind};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{Duration, Utc};
use serde_json::{Value, json};

/// Starfish's token lifetime.
const LIFETIME: Duration = Duration::days(5);

pub fn routes() -> Router<App> {
    Router::new()
        .route("/token", post(token))
        .route("/Token", post(token))
}

/// An OAuth2 error answer (`error`, `error_description`), as the grant's clients read it.
fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// A failed sign-in in the grant's shape. A throttled one is a 429 with `Retry-After` and
/// `temporarily_unavailable`, the RFC 6749 code OAuth clients take as "try again later".
fn grant_error(e: ServiceError) -> Response {
    match e {
        ServiceError::Unauthorized(_) => {
            oauth_error("invalid_grant", "The user name or password is incorrect.")
        }
        ServiceError::TooManyRequests { retry_after_secs } => {
            let description =
                format!("Too many failed sign-ins; try again in {retry_after_secs} seconds.");
            let body =
                json!({"error": "temporarily_unavailable", "error_description": description});
            crate::api::with_retry_after(
                (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response(),
                Some(retry_after_secs),
            )
        }
        other => crate::api::ApiError::from(other).into_response(),
    }
}

async fn token(
    State(app): State<App>,
    RequestClient(client): RequestClient,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = match read_body(&headers, &body, Format::Json) {
        Ok(f) => f,
        Err(_) => {
            return oauth_error(
                "invalid_request",
                "The body must be grant_type=password&username=..&password=..",
            );
        }
    };
    let text = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_string);
    if text("grant_type").as_deref() != Some("password") {
        return oauth_error(
            "unsupported_grant_type",
            "Only grant_type=password is supported.",
        );
    }
    let (Some(user), Some(password)) = (text("username"), text("password")) else {
        return oauth_error("invalid_request", "username and password are required.");
    };
    let signin = app.authenticate_password(&user, &password, client, SigninKind::PasswordGrant);
    let who = match signin.await {
        Ok(who) => who,
        Err(e) => return grant_error(e),
    };
    let issued = Utc::now();
    let expires = issued + LIFETIME;
    match app
        .issue_token(&who.user, "starfish", Some(expires), None)
        .await
    {
        Ok(token) => Json(json!({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": LIFETIME.num_seconds(),
            "userName": who.user.username,
            ".issued": issued.to_rfc2822(),
            ".expires": expires.to_rfc2822(),
        }))
        .into_response(),
        Err(e) => crate::api::ApiError::from(e).into_response(),
    }
}
