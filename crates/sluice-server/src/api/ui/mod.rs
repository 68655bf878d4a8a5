//! The web monitor at `/ui`: server-rendered pages (maud) with htmx and server-sent events for
//! the live parts, its few assets embedded in the binary. Every page reads through the service
//! as the signed-in user, so it shows their org only, and every action calls what the native API
//! calls, with the same rules. Pages render without JavaScript; live updates need it.

mod assets;
mod connections;
mod filters;
mod layout;
mod live;
mod log;
mod run;
mod runs;
mod schedules;
mod session;
mod signin;
mod tasks;

use crate::service::{App, ServiceError};
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/runs") }))
        .route("/ui/", get(|| async { Redirect::to("/ui/runs") }))
        .route("/ui/login", get(signin::login_page).post(signin::login))
        .route("/ui/logout", post(signin::logout))
        .route("/ui/assets/{name}", get(assets::asset))
        .route("/ui/runs", get(runs::page))
        .route("/ui/runs/table", get(runs::table))
        .route("/ui/runs/live", get(live::runs))
        .route("/ui/runs/bulk", post(runs::bulk))
        .route("/ui/runs/{run}", get(run::page))
        .route("/ui/runs/{run}/status", get(run::status))
        .route("/ui/runs/{run}/live", get(live::run))
        .route("/ui/runs/{run}/stop", post(run::stop))
        .route("/ui/runs/{run}/rerun", post(run::rerun))
        .route(
            "/ui/runs/{run}/callbacks/{callback}/resend",
            post(run::resend),
        )
        .route("/ui/runs/{run}/rejects", get(run::rejects))
        .route("/ui/runs/{run}/log", get(log::page))
        .route("/ui/runs/{run}/log/live", get(log::live))
        .route("/ui/runs/{run}/log.txt", get(log::download))
        .route("/ui/tasks", get(tasks::tree))
        .route("/ui/tasks/{task}", get(tasks::page))
        .route("/ui/tasks/{task}/start", post(tasks::start))
        .route("/ui/schedules", get(schedules::page))
        .route("/ui/schedules/{schedule}/pause", post(schedules::pause))
        .route("/ui/schedules/{schedule}/resume", post(schedules::resume))
        .route("/ui/connections", get(connections::page))
        .route(
            "/ui/connections/{connection}/check",
            post(connections::check),
        )
        .layer(axum::middleware::map_response(security_headers))
}

/// Pages of the monitor load only their own scripts and styles, and are never framed.
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("same-origin"),
    );
    resp
}

/// Why a monitor request was not answered with its page.
#[derive(Debug)]
pub enum UiError {
    /// No session, or it ended: to the sign-in page.
    SignIn,
    Page {
        status: StatusCode,
        message: String,
    },
}

impl UiError {
    pub fn forbidden(message: impl Into<String>) -> UiError {
        UiError::Page {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> UiError {
        UiError::Page {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl From<ServiceError> for UiError {
    fn from(e: ServiceError) -> Self {
        if matches!(e, ServiceError::Unauthorized(_)) {
            return UiError::SignIn;
        }
        let f = super::Failure::from(&e);
        UiError::Page {
            status: f.status,
            message: f.message,
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            // htmx follows `HX-Redirect`; a plain request follows the 303.
            UiError::SignIn => {
                ([("HX-Redirect", "/ui/login")], Redirect::to("/ui/login")).into_response()
            }
            UiError::Page { status, message } => error_response(status, &message),
        }
    }
}

/// An error as a page of its own (also for errors raised before a handler: an unknown path, a
/// query that does not decode).
pub fn error_response(status: StatusCode, message: &str) -> Response {
    let body = html! {
        section.signin {
            h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("Error")) }
            p role="alert" { (message) }
            p { a href="/ui/runs" { "Back to the runs" } }
        }
    };
    (status, layout::bare_page("Error", body)).into_response()
}

pub type UiResult<T> = Result<T, UiError>;
