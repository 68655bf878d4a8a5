//! The monitor's assets, embedded in the binary (no build step, nothing fetched at run time):
//! htmx and its server-sent-events extension (vendored, see `assets/ui/README.md`), the
//! stylesheet and the small script for the live log.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const FILES: &[(&str, &str, &str)] = &[
    (
        "htmx-2.0.11.min.js",
        "text/javascript",
        include_str!("../../../assets/ui/htmx-2.0.11.min.js"),
    ),
    (
        "htmx-ext-sse-2.2.4.js",
        "text/javascript",
        include_str!("../../../assets/ui/htmx-ext-sse-2.2.4.js"),
    ),
    (
        "monitor-1.js",
        "text/javascript",
        include_str!("../../../assets/ui/monitor.js"),
    ),
    (
        "icon-1.svg",
        "image/svg+xml",
        include_str!("../../../assets/ui/icon.svg"),
    ),
    (
        "monitor-1.css",
        "text/css",
        include_str!("../../../assets/ui/monitor.css"),
    ),
];

/// An asset by name. Names carry a version, so browsers keep them for a year.
pub async fn asset(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, body)) => (
            [
                (header::CONTENT_TYPE, *mime),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            *body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
