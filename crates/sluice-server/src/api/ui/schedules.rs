//! Schedules in the monitor: each one's rule, next and previous fires in its own time zone, the
//! tasks it runs, and pause/resume.

use super::UiResult;
use super::layout::{Done, Section, csrf_field, notice, page as shell, redirect_done};
use super::session::{CsrfForm, Session};
use crate::domain::schedule::{Rule, Schedule};
use crate::service::App;
use crate::store::TaskFilter;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, html};

/// A time in the schedule's zone, with UTC as its title.
fn zoned(at: Option<DateTime<Utc>>, tz: &str) -> Markup {
    let Some(at) = at else {
        return html! { span.muted { "—" } };
    };
    let local = match tz.parse::<chrono_tz::Tz>() {
        Ok(z) => at
            .with_timezone(&z)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string(),
        Err(_) => at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    };
    html! { time datetime=(at.to_rfc3339()) title=(format!("{} UTC", at.format("%Y-%m-%d %H:%M:%S"))) { (local) } }
}

fn rule(s: &Schedule) -> String {
    match &s.rule {
        Rule::Cron(c) => format!("cron {c}"),
        Rule::Frequency(f) => serde_json::to_string(f).unwrap_or_default(),
    }
}

pub async fn page(
    State(app): State<App>,
    session: Session,
    Query(n): Query<Done>,
) -> UiResult<Response> {
    let org = session.who.org_id();
    let schedules = app.list_schedules(org).await?;
    let tasks = app.list_tasks(org, &TaskFilter::default()).await?;
    let body = html! {
        h1 { "Schedules" }
        (notice(n.done.as_deref(), false))
        @if schedules.is_empty() { p.muted { "No schedules yet." } }
        @else {
            table.schedules {
                thead { tr { th { "Schedule" } th { "Rule" } th { "Time zone" } th { "Next fire" } th { "Previous fire" } th { "Tasks" } th {} } }
                tbody {
                    @for s in &schedules {
                        @let bound: Vec<_> = tasks.iter().filter(|t| t.policy.schedules.iter().any(|b| b.schedule == s.name)).collect();
                        tr data-schedule=(s.name) {
                            td { (s.name) @if s.paused { " " span.badge.paused { "paused" } } }
                            td { code { (rule(s)) } }
                            td { (s.timezone) }
                            td { (zoned((!s.paused).then_some(s.next_fire_at).flatten(), &s.timezone)) }
                            td { (zoned(s.last_fire_at, &s.timezone)) }
                            td { @for (i, t) in bound.iter().enumerate() {
                                @if i > 0 { ", " }
                                a href=(format!("/ui/tasks/{}", t.id)) { (t.path()) }
                            } }
                            td {
                                @let (verb, label) = if s.paused { ("resume", "Resume") } else { ("pause", "Pause") };
                                form.inline method="post" action=(format!("/ui/schedules/{}/{verb}", s.id)) {
                                    (csrf_field(&session))
                                    button type="submit" { (label) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(shell(&session, Section::Schedules, "Schedules", body).into_response())
}

async fn set_paused(app: &App, session: &Session, id: &str, paused: bool) -> UiResult<Response> {
    let s = app.set_schedule_paused(&session.who, id, paused).await?;
    let done = format!("{} {}.", if paused { "Paused" } else { "Resumed" }, s.name);
    Ok(redirect_done("/ui/schedules", &done))
}

pub async fn pause(
    State(app): State<App>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> UiResult<Response> {
    session.check_csrf(&form.csrf)?;
    set_paused(&app, &session, &id, true).await
}

pub async fn resume(
    State(app): State<App>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> UiResult<Response> {
    session.check_csrf(&form.csrf)?;
    set_paused(&app, &session, &id, false).await
}
