//! A run's page: its state, times and counters (live), parameters, error, parts on a timeline,
//! Spark progress, callbacks with every attempt, reject rows, the log; and its actions: stop
//! (graceful or immediate), rerun, resend a callback.

use super::layout::{
    self, Done, Section, count, csrf_field, notice, page as shell, redirect_done, state_badge, time,
};
use super::session::{CsrfForm, Session};
use super::{UiResult, log};
use crate::domain::{RunChild, StopMode};
use crate::service::App;
use crate::store::{Attempt, Callback};
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use sluice_types::RunView;
use uuid::Uuid;

pub async fn page(
    State(app): State<App>,
    session: Session,
    Path(id): Path<Uuid>,
    Query(n): Query<Done>,
    Query(lq): Query<log::LogQuery>,
) -> UiResult<Response> {
    let org = session.who.org_id();
    let run = app.get_run(org, id).await?;
    let view = app.run_view(&run).await;
    let status = status_markup(&app, &session, &view).await?;
    let log = log::section(&app, &session, &run, &lq, 200).await?;
    let title = format!("Run #{} of {}", view.run_number, view.task_path);
    let body = html! {
        p.crumbs { a href="/ui/runs" { "Runs" } " / " a href=(format!("/ui/tasks/{}", view.task_id)) { (view.task_path) } }
        h1 { (title) }
        (notice(n.done.as_deref(), false))
        (actions(&session, &view))
        div #status hx-ext="sse" sse-connect=(format!("/ui/runs/{id}/live")) {
            div hx-get=(format!("/ui/runs/{id}/status")) hx-trigger="sse:changed" hx-swap="innerHTML" {
                (status)
            }
        }
        @if !view.parameters.is_empty() {
            section {
                h2 { "Parameters" }
                table.kv { @for (k, v) in &view.parameters { tr { th { (k) } td { code { (v) } } } } }
            }
        }
        (log)
    };
    Ok(shell(&session, Section::Runs, &title, body).into_response())
}

/// The parts that change while the run goes on, for htmx to swap in.
pub async fn status(
    State(app): State<App>,
    session: Session,
    Path(id): Path<Uuid>,
) -> UiResult<Response> {
    let run = app.get_run(session.who.org_id(), id).await?;
    let view = app.run_view(&run).await;
    Ok(status_markup(&app, &session, &view).await?.into_response())
}

fn actions(session: &Session, r: &RunView) -> Markup {
    let post = |path: &str, label: &str, mode: Option<&str>| {
        html! {
            form.inline method="post" action=(format!("/ui/runs/{}/{path}", r.id)) {
                (csrf_field(session))
                @if let Some(m) = mode { input type="hidden" name="mode" value=(m); }
                button type="submit" { (label) }
            }
        }
    };
    html! {
        div.actions {
            @if !r.finished {
                (post("stop", "Stop", Some("graceful")))
                (post("stop", "Stop now", Some("immediate")))
            }
            (post("rerun", "Rerun", None))
        }
    }
}

async fn status_markup(app: &App, session: &Session, r: &RunView) -> UiResult<Markup> {
    let children = app.run_children(r.id).await?;
    let callbacks = app.run_callbacks(session.who.org_id(), r.id).await?;
    let c = &r.counters;
    Ok(html! {
        div.facts {
            dl {
                dt { "State" } dd #run-state data-state=(r.state) { (state_badge(&r.state)) }
                dt { "Created" } dd { (time(Some(r.created_at))) }
                dt { "Started" } dd { (time(r.started_at)) }
                dt { "Ended" } dd { (time(r.ended_at)) }
                dt { "Duration" } dd { (layout::run_duration(r.started_at, r.ended_at)) }
                dt { "Trigger" } dd { (r.trigger) " by " (r.started_by) }
                @if let Some(s) = &r.schedule { dt { "Schedule" } dd { (s) " (due " (time(r.fire_at)) ")" } }
                dt { "Attempt" } dd { (r.attempt) " of " (r.attempts)
                    @if let Some(prev) = r.retry_of { " · retries " a href=(format!("/ui/runs/{prev}")) { "an earlier run" } } }
                dt { "Node" } dd { (r.node.as_deref().unwrap_or("—")) }
                @if let Some(ext) = &r.external_id { dt { "External id" } dd { code { (ext) } } }
                @if let Some(by) = &r.stopped_by { dt { "Stopped by" } dd { (by) " (" (r.stop_mode.as_deref().unwrap_or("")) ")" } }
            }
            table.counters #counters {
                tr { th { "Source rows read" } td.num #rows-read { (count(c.source_rows_read)) } }
                tr { th { "Source rows failed" } td.num { (count(c.source_rows_failed)) } }
                tr { th { "Target rows written" } td.num #rows-written { (count(c.target_rows_written)) } }
                tr { th { "Target rows failed" } td.num { (count(c.target_rows_failed)) } }
                tr { th { "Inserts · updates · deletes" } td.num { (count(c.inserts)) " · " (count(c.updates)) " · " (count(c.deletes)) } }
            }
        }
        @if let Some(e) = &r.error { p.error role="alert" { (e) } }
        @if c.source_rows_failed + c.target_rows_failed > 0 {
            p { a href=(format!("/ui/runs/{}/rejects", r.id)) download { "Download the rejected rows (NDJSON)" } }
        }
        @if let Some(s) = &r.spark {
            section.spark {
                h2 { "Spark" }
                p { (s.state) @if let Some(id) = &s.app_id { " · " code { (id) } }
                    @if let Some(url) = &s.ui_url { " · " a href=(url) target="_blank" rel="noopener" { "Spark UI" } } }
                p { "Jobs " (s.jobs.completed) "/" (s.jobs.total) " · stages " (s.stages.completed) "/" (s.stages.total)
                    " · tasks " (s.tasks.completed) "/" (s.tasks.total) }
            }
        }
        @if !children.is_empty() { (timeline(&children, r.started_at)) }
        (callbacks_markup(session, r.id, &callbacks))
    })
}

/// The run's parts (a taskflow's steps, a replication's tables) as bars on one time axis.
fn timeline(children: &[RunChild], run_start: Option<DateTime<Utc>>) -> Markup {
    let now = Utc::now();
    let start = children
        .iter()
        .filter_map(|c| c.started_at)
        .chain(run_start)
        .min()
        .unwrap_or(now);
    let end = children
        .iter()
        .map(|c| c.ended_at.unwrap_or(now))
        .max()
        .unwrap_or(now)
        .max(start + chrono::Duration::milliseconds(1));
    let span = (end - start).num_milliseconds().max(1) as f64;
    let x =
        |t: DateTime<Utc>| ((t - start).num_milliseconds() as f64 / span * 600.0).clamp(0.0, 600.0);
    let (row, height) = (22.0, 22.0 * children.len() as f64);
    html! {
        section.timeline {
            h2 { "Parts" }
            table.children {
                thead { tr { th { "#" } th { "Part" } th { "State" } th { "Duration" } th.num { "Read" } th.num { "Written" } th { "Timeline" } } }
                tbody {
                    @for (i, c) in children.iter().enumerate() {
                        tr {
                            td { (c.seq) }
                            td { @if let Some(run) = c.child_run_id { a href=(format!("/ui/runs/{run}")) { (c.name) } } @else { (c.name) } }
                            td { (state_badge(c.state.as_str())) }
                            td { (layout::run_duration(c.started_at, c.ended_at)) }
                            td.num { (count(c.counters.source_rows_read)) }
                            td.num { (count(c.counters.target_rows_written)) }
                            @if i == 0 {
                                td.gantt rowspan=(children.len()) {
                                    svg viewBox=(format!("0 0 600 {height}")) width="600" height=(height) role="img" aria-label="Parts on a timeline" {
                                        @for (j, c) in children.iter().enumerate() {
                                            @if let Some(s) = c.started_at {
                                                rect class=(format!("s-{}", c.state.as_str())) x=(x(s)) y=(j as f64 * row + 4.0)
                                                    width=((x(c.ended_at.unwrap_or(now)) - x(s)).max(2.0)) height="14" {
                                                    title { (c.name) ": " (layout::run_duration(c.started_at, c.ended_at)) }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn callbacks_markup(
    session: &Session,
    run: Uuid,
    callbacks: &[(Callback, Vec<Attempt>)],
) -> Markup {
    html! {
        @if !callbacks.is_empty() {
            section.callbacks {
                h2 { "Callbacks" }
                @for (cb, attempts) in callbacks {
                    div.callback data-callback=(cb.id) {
                        p {
                            code { (cb.url) } " · " span.cb-state data-state=(cb.state) { (cb.state) }
                            " · " (attempts.len()) " attempt(s)"
                            form.inline method="post" action=(format!("/ui/runs/{run}/callbacks/{}/resend", cb.id)) {
                                (csrf_field(session))
                                button type="submit" { "Resend" }
                            }
                        }
                        @if !attempts.is_empty() {
                            table.attempts {
                                thead { tr { th { "#" } th { "Sent" } th { "Took" } th { "Answer" } } }
                                tbody {
                                    @for a in attempts {
                                        tr {
                                            td { (a.number) }
                                            td { (time(Some(a.started_at))) }
                                            td { (layout::run_duration(Some(a.started_at), Some(a.ended_at))) }
                                            td { @if let Some(s) = a.status { "HTTP " (s) } @if let Some(e) = &a.error { " " span.error { (e) } } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    mode: Option<String>,
}

fn back(run: Uuid, done: &str) -> Response {
    redirect_done(&format!("/ui/runs/{run}"), done)
}

pub async fn stop(
    State(app): State<App>,
    session: Session,
    Path(id): Path<Uuid>,
    Form(form): Form<ActionForm>,
) -> UiResult<Response> {
    session.check_csrf(&form.csrf)?;
    let mode = match form.mode.as_deref() {
        None | Some("") => StopMode::Graceful,
        Some(m) => m.parse().map_err(super::UiError::invalid)?,
    };
    let run = app.stop_run(&session.who, id, mode).await?;
    Ok(back(run.id, &format!("Stop asked ({}).", mode.as_str())))
}

pub async fn rerun(
    State(app): State<App>,
    session: Session,
    Path(id): Path<Uuid>,
    Form(form): Form<ActionForm>,
) -> UiResult<Response> {
    session.check_csrf(&form.csrf)?;
    let run = app.rerun(&session.who, id).await?;
    Ok(back(run.id, "Started again: this is the new run."))
}

pub async fn resend(
    State(app): State<App>,
    session: Session,
    Path((run, callback)): Path<(Uuid, Uuid)>,
    Form(form): Form<CsrfForm>,
) -> UiResult<Response> {
    session.check_csrf(&form.csrf)?;
    app.resend_callback(&session.who, run, callback).await?;
    Ok(back(run, "Callback queued to be sent again."))
}

/// The run's rejected rows, as the API's `GET /api/v1/runs/{run}/rejects` streams them.
pub async fn rejects(
    State(app): State<App>,
    session: Session,
    Path(id): Path<Uuid>,
) -> UiResult<Response> {
    let run = app.get_run(session.who.org_id(), id).await?;
    let files = app.reject_files(run.id).await?;
    let body = axum::body::Body::from_stream(app.reject_bytes(run.id, files));
    let disposition = format!("attachment; filename=\"run-{}-rejects.ndjson\"", run.id);
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/x-ndjson".to_string(),
            ),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
