//! The two IICS error objects: v2 `{"@type":"error","code","description","statusCode"}` and v3
//! `{"error":{"code","message","requestId","details"}}`, each with its HTTP status, and the one
//! mapping from service errors to them.

use crate::api::{Failure, with_retry_after};
use crate::service::ServiceError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A v2 error: answered as the v2 error object.
#[derive(Debug)]
pub struct V2Error {
    pub status: StatusCode,
    pub code: String,
    pub description: String,
    /// Seconds to wait before trying again (`Retry-After`), for a 429.
    pub retry_after: Option<u64>,
}

impl V2Error {
    pub fn new(status: StatusCode, code: &str, description: impl Into<String>) -> V2Error {
        V2Error {
            status,
            code: code.into(),
            description: description.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(description: impl Into<String>) -> V2Error {
        V2Error::new(StatusCode::BAD_REQUEST, "CMN_400", description)
    }

    pub fn not_found(description: impl Into<String>) -> V2Error {
        V2Error::new(StatusCode::NOT_FOUND, "CMN_404", description)
    }

    /// A missing, unknown or expired session: clients log in again on a 401.
    pub fn session() -> V2Error {
        V2Error::new(
            StatusCode::UNAUTHORIZED,
            "AUTH_01",
            "Invalid session. Please login again.",
        )
    }

    pub fn bad_login() -> V2Error {
        V2Error::new(
            StatusCode::FORBIDDEN,
            "UI_10000",
            "User name or password is not valid.",
        )
    }
}

impl From<ServiceError> for V2Error {
    fn from(e: ServiceError) -> V2Error {
        let f = Failure::from(&e);
        V2Error {
            retry_after: f.retry_after,
            ..V2Error::new(iics_status(f.status), code(&e), f.message)
        }
    }
}

impl IntoResponse for V2Error {
    fn into_response(self) -> Response {
        let body = json!({
            "@type": "error",
            "code": self.code,
            "description": self.description,
            "statusCode": self.status.as_u16(),
        });
        with_retry_after((self.status, Json(body)).into_response(), self.retry_after)
    }
}

/// A v3 error: answered as the v3 error object.
#[derive(Debug)]
pub struct V3Error(pub V2Error);

impl From<ServiceError> for V3Error {
    fn from(e: ServiceError) -> V3Error {
        V3Error(e.into())
    }
}

impl IntoResponse for V3Error {
    fn into_response(self) -> Response {
        let e = self.0;
        let body = json!({
            "error": {
                "code": e.code,
                "message": e.description,
                "requestId": uuid::Uuid::now_v7().simple().to_string(),
                "details": null,
            }
        });
        with_retry_after((e.status, Json(body)).into_response(), e.retry_after)
    }
}

/// An error raised around a handler (body limit, undecodable path or query, unknown route), in
/// the v2 object (XML when the client asks for it) or the v3 one.
pub fn error_response(
    status: StatusCode,
    message: String,
    v3: bool,
    headers: &axum::http::HeaderMap,
) -> Response {
    let code = match status {
        StatusCode::UNAUTHORIZED => "AUTH_01".to_string(),
        other => format!("CMN_{}", other.as_u16()),
    };
    let e = V2Error::new(status, &code, message);
    if v3 {
        return V3Error(e).into_response();
    }
    if super::xml::wants_xml(headers) {
        let body = super::xml::json_to_xml(&json!({
            "@type": "error",
            "code": e.code,
            "description": e.description,
            "statusCode": status.as_u16(),
        }));
        return (
            status,
            [(
                axum::http::header::CONTENT_TYPE,
                "application/xml; charset=utf-8",
            )],
            body,
        )
            .into_response();
    }
    e.into_response()
}

/// IICS answers a conflict (a job already running, a name taken) and an invalid definition with
/// 400; every other status is the one all surfaces use.
fn iics_status(status: StatusCode) -> StatusCode {
    match status {
        StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
        other => other,
    }
}

/// The IICS error code of each kind of failure.
fn code(e: &ServiceError) -> &'static str {
    match e {
        ServiceError::NotFound(_) => "CMN_404",
        ServiceError::Invalid(_) | ServiceError::InvalidDefinition(_) => "CMN_400",
        ServiceError::Conflict(_) | ServiceError::TaskRunning(_) => "CMN_409",
        ServiceError::Unauthorized(_) => "AUTH_01",
        ServiceError::Forbidden(_) => "CMN_403",
        ServiceError::TooManyRequests { .. } => "CMN_429",
        ServiceError::Internal(_) => "CMN_500",
        ServiceError::Unavailable(_) => "CMN_503",
    }
}
