//! Which API surface a request belongs to, and the one layer that answers errors raised before or
//! around a handler (a body over the limit, a path or query that does not decode, an unknown
//! route or method, a panic) in that surface's own error shape instead of the framework's plain
//! text. Clients of IICS and Starfish parse every error body as their API documents it.

use super::ApiError;
use crate::service::App;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The surfaces Sluice serves, told apart by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Native,
    IicsV2,
    IicsV3,
    Starfish,
    /// The web monitor, `/ui`: errors are HTML pages.
    Monitor,
}

impl Surface {
    pub fn of_path(path: &str) -> Surface {
        let lower = path.to_ascii_lowercase();
        if lower.contains("/public/core/v3") {
            Surface::IicsV3
        } else if ["/ma/", "/saas/", "/api/v2/", "/active-bpel/", "/disnext/"]
            .iter()
            .any(|p| lower.starts_with(p))
        {
            Surface::IicsV2
        } else if lower == "/token" || lower.starts_with("/v1/") {
            Surface::Starfish
        } else if lower == "/ui" || lower.starts_with("/ui/") {
            Surface::Monitor
        } else {
            Surface::Native
        }
    }
}

/// An error response in `surface`'s shape; `headers` are the request's (for the answer format
/// IICS v2 and Starfish clients ask for).
pub fn error_response(
    surface: Surface,
    status: StatusCode,
    message: String,
    headers: &HeaderMap,
) -> Response {
    match surface {
        Surface::Native => ApiError::new(status, native_code(status), message).into_response(),
        Surface::IicsV2 => super::iics::error_response(status, message, false, headers),
        Surface::IicsV3 => super::iics::error_response(status, message, true, headers),
        Surface::Starfish => super::starfish::error_response(status, message, headers),
        Surface::Monitor => super::ui::error_response(status, &message),
    }
}

fn native_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        s if s.is_server_error() => "internal",
        _ => "invalid_request",
    }
}

/// Whether a handler already shaped this answer (the APIs answer JSON or XML, the monitor
/// HTML).
fn shaped(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json") || v.contains("xml") || v.contains("html"))
}

/// The message for an unshaped error: the framework's text, or what the status means.
fn message(status: StatusCode, text: &str, body_limit: usize) -> String {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("the request body is larger than the limit of {body_limit} bytes")
        }
        StatusCode::NOT_FOUND if text.is_empty() => "no such route".into(),
        StatusCode::METHOD_NOT_ALLOWED => "this route does not take that method".into(),
        StatusCode::INTERNAL_SERVER_ERROR if text.is_empty() => {
            "the server hit a bug handling this request; it has been logged".into()
        }
        _ if text.is_empty() => status
            .canonical_reason()
            .unwrap_or("the request failed")
            .into(),
        _ => text.to_string(),
    }
}

/// Headers of the original answer a client still needs from the shaped one.
const KEPT: [header::HeaderName; 3] =
    [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE];

/// The layer: error answers nobody shaped get their surface's shape, with their status.
pub async fn shape_errors(State(app): State<App>, req: Request, next: Next) -> Response {
    let surface = Surface::of_path(req.uri().path());
    let mut formats = HeaderMap::new();
    for name in [header::ACCEPT, header::CONTENT_TYPE] {
        if let Some(v) = req.headers().get(&name) {
            formats.insert(name, v.clone());
        }
    }
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) || shaped(&resp) {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    // The framework's messages are one line; never buffer more than a little of an odd body.
    let text = match axum::body::to_bytes(body, 4096).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(_) => String::new(),
    };
    let text = message(status, &text, app.config.max_body_bytes);
    let mut shaped = error_response(surface, status, text, &formats);
    for name in KEPT {
        if let Some(v) = parts.headers.get(&name) {
            shaped.headers_mut().insert(name, v.clone());
        }
    }
    shaped
}

/// The answer to a panic inside a handler: plain, so [`shape_errors`] gives it its surface's shape.
pub fn panic_response(_: Box<dyn std::any::Any + Send>) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_belong_to_their_surface() {
        assert_eq!(Surface::of_path("/api/v1/runs"), Surface::Native);
        assert_eq!(Surface::of_path("/healthz"), Surface::Native);
        assert_eq!(Surface::of_path("/nowhere"), Surface::Native);
        assert_eq!(Surface::of_path("/saas/api/v2/job"), Surface::IicsV2);
        assert_eq!(Surface::of_path("/api/v2/job"), Surface::IicsV2);
        assert_eq!(Surface::of_path("/ma/api/v2/user/login"), Surface::IicsV2);
        assert_eq!(Surface::of_path("/active-bpel/rt/x"), Surface::IicsV2);
        assert_eq!(
            Surface::of_path("/disnext/api/v1/CodeTask"),
            Surface::IicsV2
        );
        assert_eq!(
            Surface::of_path("/saas/public/core/v3/login"),
            Surface::IicsV3
        );
        assert_eq!(Surface::of_path("/public/core/v3/lookup"), Surface::IicsV3);
        assert_eq!(Surface::of_path("/token"), Surface::Starfish);
        assert_eq!(Surface::of_path("/Token"), Surface::Starfish);
        assert_eq!(Surface::of_path("/v1/ExecuteJob"), Surface::Starfish);
    }
}
