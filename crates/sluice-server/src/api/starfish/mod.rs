//! The Starfish ETL v1 compatibility surface: `/token`, `v1/ExecuteJobAsync`, `v1/ExecuteJob`,
//! `v1/Webhook` and `v1/Results/{runID}`, in JSON, XML and form-urlencoded, translated to and from
//! the native model. A Starfish project is a Sluice folder and a job a task, both by GUID; a
//! `runID` is the run's external id; `argument` is the parameter `JobArgument`
//! (`@@VAR:JobArgument@@` in a definition).

mod fields;
mod format;
mod jobs;
mod shapes;
mod token;

use crate::domain::Run;
use crate::notify::CallbackBody;
use crate::service::{App, Principal};
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use format::{Format, StarfishError};

/// An error raised around a handler (body limit, undecodable path, unknown route), as ASP.NET
/// answers it, in the format the client asked for.
pub fn error_response(
    status: StatusCode,
    message: String,
    headers: &axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    StarfishError::new(status, message, Format::of_answer(headers)).into_response()
}

pub fn routes() -> Router<App> {
    token::routes().merge(jobs::routes())
}

/// The caller of a v1 resource: `Authorization: Bearer <token>` (from `/token`, or any Sluice
/// API token).
pub struct StarfishAuth(pub Principal);

impl FromRequestParts<App> for StarfishAuth {
    type Rejection = StarfishError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let format = Format::of_answer(&parts.headers);
        let denied = || {
            StarfishError::new(
                StatusCode::UNAUTHORIZED,
                "Authorization has been denied for this request.",
                format,
            )
        };
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim().to_string())
            .ok_or_else(denied)?;
        let client = crate::api::client_of(parts, app);
        let who = app
            .authenticate(&token, client)
            .await
            .map_err(|_| denied())?;
        Ok(StarfishAuth(who))
    }
}

/// The callbacks (webhooks) of runs started through Starfish: `execJobResponse`.
pub struct StarfishCallbacks(pub App);

#[async_trait::async_trait]
impl CallbackBody for StarfishCallbacks {
    async fn render(&self, run: &Run) -> Result<serde_json::Value, String> {
        shapes::exec_job_response(&self.0, run)
            .await
            .map_err(|e| e.to_string())
    }
}
