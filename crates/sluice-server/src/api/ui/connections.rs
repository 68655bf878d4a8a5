//! Connections in the monitor: type, settings without their secrets, and a check that shows
//! what the database (or directory) answered.

use super::UiResult;
use super::layout::{Section, csrf_field, page as shell};
use super::session::{CsrfForm, Session};
use crate::service::App;
use crate::service::views::connection_view;
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use sluice_types::ConnectionCheck;
use uuid::Uuid;

pub async fn page(State(app): State<App>, session: Session) -> UiResult<Response> {
    render(&app, &session, None).await
}

async fn render(
    app: &App,
    session: &Session,
    checked: Option<(Uuid, ConnectionCheck)>,
) -> UiResult<Response> {
    let conns = app.list_connections(session.who.org_id()).await?;
    let body = html! {
        h1 { "Connections" }
        @if conns.is_empty() { p.muted { "No connections yet." } }
        @for c in conns.iter().map(connection_view) {
            section.connection data-connection=(c.name) {
                h2 { (c.name) " " span.muted { (c.conn_type) } }
                @if !c.description.is_empty() { p { (c.description) } }
                (settings(&c.config))
                form.inline method="post" action=(format!("/ui/connections/{}/check", c.id))
                    hx-post=(format!("/ui/connections/{}/check", c.id)) hx-target=(format!("#check-{}", c.id)) hx-swap="innerHTML" {
                    (csrf_field(session))
                    button type="submit" { "Check" }
                }
                span.check id=(format!("check-{}", c.id)) role="status" {
                    @if let Some((_, result)) = checked.as_ref().filter(|(id, _)| *id == c.id) { (check_result(result)) }
                }
            }
        }
    };
    Ok(shell(session, Section::Connections, "Connections", body).into_response())
}

/// The settings as the API shows them: secrets are `***` or the name of the variable they come
/// from, never their value.
fn settings(config: &serde_json::Value) -> Markup {
    let Some(map) = config.as_object() else {
        return html! {};
    };
    html! {
        table.kv { @for (k, v) in map {
            @if !v.is_null() { tr { th { (k) } td { code { (match v { serde_json::Value::String(s) => s.clone(), other => other.to_string() }) } } } }
        } }
    }
}

fn check_result(c: &ConnectionCheck) -> Markup {
    html! {
        span class=(if c.ok { "ok" } else { "error" }) {
            (if c.ok { "Works: " } else { "Fails: " }) (c.message) " (" (c.elapsed_ms) " ms)"
        }
    }
}

/// Tries the connection now (as `POST /api/v1/connections/{id}/check`); htmx gets the result
/// alone, a plain form the page with it.
pub async fn check(
    State(app): State<App>,
    session: Session,
    Path(reference): Path<String>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> UiResult<Response> {
    session.check_csrf(&form.csrf)?;
    let conn = app
        .resolve_connection(session.who.org_id(), &reference)
        .await?;
    let result = app.check_connection(&session.who, &conn).await?;
    if headers.contains_key("hx-request") {
        return Ok(check_result(&result).into_response());
    }
    render(&app, &session, Some((conn.id, result))).await
}
