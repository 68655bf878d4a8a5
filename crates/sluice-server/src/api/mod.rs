//! HTTP surfaces. `native` modules (one per resource) serve `/api/v1`; every handler is thin: it
//! extracts, calls the service, and shapes the answer. Errors are mapped once, here.

mod audit;
mod auth;
mod blackouts;
mod callbacks;
mod client;
mod connections;
mod definitions;
mod extract;
mod failure;
mod health;
pub mod iics;
mod metrics;
mod openapi;
mod openapi_policy;
mod request_log;
mod runs;
mod schedules;
pub mod starfish;
mod surface;
mod tasks;
mod ui;
mod xml;

pub use client::{RequestClient, client_of};
pub use extract::{ApiJson, ApiPath, ApiQuery, Auth};
pub use failure::Failure;

use crate::domain::Trigger;
use crate::notify::Bodies;
use crate::service::{App, ServiceError};
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sluice_types::ErrorBody;
use std::sync::Arc;

/// Each surface's callback bodies, for the notifier: a run's callback speaks the API that
/// started it.
pub fn callback_bodies(app: &App) -> Bodies {
    let mut bodies = Bodies::new(Arc::new(runs::NativeCallbacks(app.clone())));
    bodies.register(Trigger::Iics, Arc::new(iics::IicsCallbacks(app.clone())));
    bodies.register(
        Trigger::Starfish,
        Arc::new(starfish::StarfishCallbacks(app.clone())),
    );
    bodies
}

/// An error as the native API answers it: a status and `{"code", "message"}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds to wait before trying again (`Retry-After`), for a 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let code = match &e {
            ServiceError::NotFound(_) => "not_found",
            ServiceError::Invalid(_) => "invalid_request",
            ServiceError::InvalidDefinition(_) => "invalid_definition",
            ServiceError::Conflict(_) => "conflict",
            ServiceError::TaskRunning(_) => "task_running",
            ServiceError::Unauthorized(_) => "unauthorized",
            ServiceError::Forbidden(_) => "forbidden",
            ServiceError::TooManyRequests { .. } => "too_many_requests",
            ServiceError::Internal(_) => "internal",
            ServiceError::Unavailable(_) => "unavailable",
        };
        let f = Failure::from(&e);
        ApiError {
            retry_after: f.retry_after,
            ..ApiError::new(f.status, code, f.message)
        }
    }
}

/// Adds `Retry-After` (seconds) to an answer, when there is a wait to say.
pub fn with_retry_after(mut resp: Response, secs: Option<u64>) -> Response {
    if let Some(secs) = secs {
        resp.headers_mut()
            .insert(axum::http::header::RETRY_AFTER, secs.into());
    }
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code.into(),
            message: self.message,
        };
        let mut resp = with_retry_after(
            (self.status, axum::Json(body)).into_response(),
            self.retry_after,
        );
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"sluice\""),
            );
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The whole HTTP application.
pub fn router(app: App) -> Router {
    let v1 = Router::new()
        .merge(auth::routes())
        .merge(tasks::routes())
        .merge(connections::routes())
        .merge(definitions::routes())
        .merge(runs::routes())
        .merge(schedules::routes())
        .merge(blackouts::routes())
        .merge(callbacks::routes())
        .merge(audit::routes())
        .merge(openapi::routes());
    let body_limit = app.config.max_body_bytes;
    Router::new()
        .merge(health::routes())
        .merge(metrics::routes())
        .nest("/api/v1", v1)
        .merge(iics::routes())
        .merge(starfish::routes())
        .merge(ui::routes())
        // Plain answers: `surface::shape_errors` gives them the shape of the surface asked.
        .fallback(|| async { StatusCode::NOT_FOUND })
        .method_not_allowed_fallback(|| async { StatusCode::METHOD_NOT_ALLOWED })
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            surface::panic_response,
        ))
        // Every body is bounded before anything reads it: extractors and the compatibility
        // layers' own readers alike. A declared length over the limit is refused unread.
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            surface::shape_errors,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_log::span))
        .with_state(app)
}
