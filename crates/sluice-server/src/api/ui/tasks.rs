//! Tasks in the monitor: a folder tree with each task's type, last run and next scheduled fire;
//! a task's page with its run history, a chart of its last 100 runs' durations, its definition
//! as TOML, and a form to start it with parameters.

use super::layout::{self, Section, csrf_field, page as shell, redirect_done, state_badge, time};
use super::runs::runs_table;
use super::session::Session;
use super::{UiError, UiResult};
use crate::domain::Run;
use crate::domain::schedule::Schedule;
use crate::service::App;
use crate::service::runs::StartRequest;
use crate::store::{RunFilter, TaskFilter};
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// Runs the duration chart shows.
const CHART_RUNS: i64 = 100;
/// Parameters a start form takes at most (lines of `name=value`).
const MAX_START_PARAMETERS: usize = 200;

pub async fn tree(State(app): State<App>, session: Session) -> UiResult<Response> {
    let org = session.who.org_id();
    let tasks = app.list_tasks(org, &TaskFilter::default()).await?;
    let schedules = app.list_schedules(org).await?;
    let next: HashMap<&str, Option<DateTime<Utc>>> = schedules
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                (!s.paused).then_some(s.next_fire_at).flatten(),
            )
        })
        .collect();
    let mut lasts: HashMap<Uuid, Run> = app
        .latest_runs(org)
        .await?
        .into_iter()
        .map(|r| (r.task_id, r))
        .collect();
    let mut folders: BTreeMap<&str, Vec<(&crate::domain::Task, Option<Run>)>> = BTreeMap::new();
    for t in &tasks {
        let last = lasts.remove(&t.id);
        folders
            .entry(t.folder.as_str())
            .or_default()
            .push((t, last));
    }
    let body = html! {
        h1 { "Tasks" }
        @if folders.is_empty() { p.muted { "No tasks yet." } }
        @for (folder, tasks) in &folders {
            details.folder open {
                summary { (folder) " " span.muted { "(" (tasks.len()) ")" } }
                table.tasks {
                    thead { tr { th { "Task" } th { "Type" } th { "Last run" } th { "Next fire" } } }
                    tbody {
                        @for (t, last) in tasks {
                            @let fire = t.policy.schedules.iter().filter_map(|b| next.get(b.schedule.as_str()).copied().flatten()).min();
                            tr {
                                td { a href=(format!("/ui/tasks/{}", t.id)) { (t.name) } }
                                td { (t.task_type.code()) }
                                td { @if let Some(r) = last {
                                    a href=(format!("/ui/runs/{}", r.id)) { (state_badge(r.state.as_str())) }
                                    " " (time(r.started_at.or(Some(r.created_at))))
                                } @else { span.muted { "never" } } }
                                td { (time(fire)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(shell(&session, Section::Tasks, "Tasks", body).into_response())
}

pub async fn page(
    State(app): State<App>,
    session: Session,
    Path(reference): Path<String>,
) -> UiResult<Response> {
    let org = session.who.org_id();
    let task = app.resolve_task(org, &reference).await?;
    let filter = RunFilter {
        task_id: Some(task.id),
        limit: CHART_RUNS,
        ..Default::default()
    };
    let runs = app.list_runs(org, &filter).await?;
    let views = app.run_views(&runs[..runs.len().min(20)]).await;
    let schedules: Vec<Schedule> = app
        .list_schedules(org)
        .await?
        .into_iter()
        .filter(|s| task.policy.schedules.iter().any(|b| b.schedule == s.name))
        .collect();
    let toml = crate::service::definition_export::task_to_toml(&task);
    let title = task.path();
    let body = html! {
        p.crumbs { a href="/ui/tasks" { "Tasks" } " / " (task.folder) }
        h1 { (task.name) " " span.muted { (task.task_type.code()) } }
        @if !task.description.is_empty() { p { (task.description) } }
        (start_form(&session, &task))
        @if !schedules.is_empty() {
            section { h2 { "Schedules" }
                ul { @for s in &schedules { li {
                    a href="/ui/schedules" { (s.name) } " · next " (time((!s.paused).then_some(s.next_fire_at).flatten()))
                    @if s.paused { " " span.badge { "paused" } }
                } } }
            }
        }
        section { h2 { "Durations of the last " (runs.len()) " runs" } (duration_chart(&runs)) }
        section { h2 { "Recent runs" } (runs_table(&views))
            p { a href=(format!("/ui/runs?task={}", task.id)) { "Every run of this task" } } }
        section { h2 { "Definition" } pre.toml { code { (toml) } } }
    };
    Ok(shell(&session, Section::Tasks, &title, body).into_response())
}

/// Bars of the runs' durations, oldest on the left, coloured by how they ended (inline SVG: no
/// script, and it prints).
fn duration_chart(runs: &[Run]) -> Markup {
    let done: Vec<(&Run, f64)> = runs
        .iter()
        .rev()
        .filter_map(|r| {
            let (s, e) = (r.started_at?, r.ended_at?);
            Some((r, (e - s).num_milliseconds().max(0) as f64 / 1000.0))
        })
        .collect();
    if done.is_empty() {
        return html! { p.muted { "No finished runs yet." } };
    }
    let longest = done.iter().map(|(_, d)| *d).fold(0.001, f64::max);
    let (w, h, gap) = (8.0, 120.0, 2.0);
    let width = done.len() as f64 * (w + gap);
    html! {
        figure.chart {
            svg #duration-chart viewBox=(format!("0 0 {width} {h}")) width=(width) height=(h) role="img"
                aria-label=(format!("Durations of {} runs; the longest {}", done.len(), layout::duration(longest))) {
                @for (i, (r, d)) in done.iter().enumerate() {
                    @let bar = (d / longest * (h - 2.0)).max(1.0);
                    a href=(format!("/ui/runs/{}", r.id)) {
                        rect class=(format!("s-{}", r.state.as_str())) x=(i as f64 * (w + gap)) y=(h - bar) width=(w) height=(bar) {
                            title { "#" (r.run_number) ": " (layout::duration(*d)) " (" (r.state.as_str()) ")" }
                        }
                    }
                }
            }
            figcaption { "Longest: " (layout::duration(longest)) }
        }
    }
}

fn start_form(session: &Session, task: &crate::domain::Task) -> Markup {
    let defaults: String = task
        .parameters
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    html! {
        details.start open {
            summary { "Start a run" }
            form method="post" action=(format!("/ui/tasks/{}/start", task.id)) {
                (csrf_field(session))
                label { "Parameters (one name=value a line; the task's defaults apply to those left out)"
                    textarea name="parameters" rows="4" placeholder=(defaults) {}
                }
                label { "Callback URL (optional)" input type="url" name="callback_url"; }
                button type="submit" #start-run { "Start" }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct StartForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    parameters: String,
    #[serde(default)]
    callback_url: String,
}

/// `name=value` lines; blank lines and `#` comments are skipped.
fn parse_parameters(text: &str) -> UiResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line.split_once('=').ok_or_else(|| {
            UiError::invalid(format!("parameters, line {}: write name=value", n + 1))
        })?;
        out.insert(k.trim().to_string(), v.trim().to_string());
        if out.len() > MAX_START_PARAMETERS {
            return Err(UiError::invalid(format!(
                "parameters: at most {MAX_START_PARAMETERS}"
            )));
        }
    }
    Ok(out)
}

/// Starts a run as `POST /api/v1/runs` does, and goes to its page.
pub async fn start(
    State(app): State<App>,
    session: Session,
    Path(reference): Path<String>,
    Form(form): Form<StartForm>,
) -> UiResult<Response> {
    session.check_csrf(&form.csrf)?;
    let task = app.resolve_task(session.who.org_id(), &reference).await?;
    let callback = form.callback_url.trim();
    let req = StartRequest {
        parameters: parse_parameters(&form.parameters)?,
        callback_url: (!callback.is_empty()).then(|| callback.to_string()),
        external_id: None,
        trigger: Some(crate::domain::Trigger::Api),
        options: Default::default(),
    };
    let (run, _) = app.start_run(&session.who, &task, req).await?;
    Ok(redirect_done(&format!("/ui/runs/{}", run.id), "Started."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_read_one_a_line() {
        let p = parse_parameters("a=1\n\n# note\n b = two words \n").unwrap();
        assert_eq!(p.get("a").map(String::as_str), Some("1"));
        assert_eq!(p.get("b").map(String::as_str), Some("two words"));
        assert!(parse_parameters("novalue").is_err());
    }
}
