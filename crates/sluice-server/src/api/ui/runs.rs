//! The runs page: counts by state, filters kept in the URL, a page of runs that updates while
//! runs change, and bulk stop or rerun of what the filters select.

use super::UiResult;
use super::filters::{PAGE, RunQuery};
use super::layout::{
    self, Done, Section, count, csrf_field, notice, page as shell, redirect_done, state_badge, time,
};
use super::session::Session;
use crate::domain::{RunState, StopMode, TaskType, Trigger};
use crate::service::App;
use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use sluice_types::RunView;

/// Runs one bulk action touches at most.
pub const BULK_LIMIT: i64 = 1000;

const TRIGGERS: [Trigger; 6] = [
    Trigger::Api,
    Trigger::Cli,
    Trigger::Schedule,
    Trigger::Taskflow,
    Trigger::Iics,
    Trigger::Starfish,
];

pub async fn page(
    State(app): State<App>,
    session: Session,
    Query(q): Query<RunQuery>,
    Query(n): Query<Done>,
) -> UiResult<Response> {
    let table = table_markup(&app, &session, &q).await?;
    // Only the newest page follows changes: an older page stays as it was read.
    let live = q.before.is_empty();
    let query = q.to_query();
    let body = html! {
        h1 { "Runs" }
        (notice(n.done.as_deref(), false))
        (filter_form(&q))
        @if live {
            div #runs hx-ext="sse" sse-connect=(format!("/ui/runs/live?{query}")) {
                div hx-get=(format!("/ui/runs/table?{query}")) hx-trigger="sse:changed"
                    hx-swap="innerHTML" { (table) }
            }
        } @else {
            div #runs { (table) }
        }
        (bulk_form(&session, &q))
    };
    Ok(shell(&session, Section::Runs, "Runs", body).into_response())
}

/// The counts and the table alone, for htmx to swap in when runs change.
pub async fn table(
    State(app): State<App>,
    session: Session,
    Query(q): Query<RunQuery>,
) -> UiResult<Response> {
    Ok(table_markup(&app, &session, &q).await?.into_response())
}

async fn table_markup(app: &App, session: &Session, q: &RunQuery) -> UiResult<Markup> {
    let org = session.who.org_id();
    let filter = q.filter(app, org, PAGE).await?;
    let (runs, counts) =
        tokio::try_join!(app.list_runs(org, &filter), app.count_runs(org, &filter))?;
    let views = app.run_views(&runs).await;
    let next = (runs.len() as i64 == PAGE)
        .then(|| runs.last().map(|r| r.id))
        .flatten();
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let selected = q.states()?;
    Ok(html! {
        nav.counts aria-label="Runs by state" {
            a href=(format!("/ui/runs?{}", q.with_state(""))) aria-current=[selected.is_empty().then_some("true")] {
                "all " span.n { (count(total as u64)) }
            }
            @for state in RunState::ALL {
                @let n = counts.iter().find(|(s, _)| *s == state).map_or(0, |(_, n)| *n);
                a class=(format!("s-{}", state.as_str())) href=(format!("/ui/runs?{}", q.with_state(state.as_str())))
                    aria-current=[(selected == [state]).then_some("true")] data-state=(state.as_str()) {
                    (state.as_str().replace('_', " ")) " " span.n { (count(n as u64)) }
                }
            }
        }
        (runs_table(&views))
        nav.pages {
            @if !q.before.is_empty() {
                a href=(format!("/ui/runs?{}", q.with_before_cleared())) { "← Newest" }
            }
            @if let Some(before) = next {
                a rel="next" href=(format!("/ui/runs?{}", q.with_before(before))) { "Older →" }
            }
        }
    })
}

/// A table of runs (also the task page's history).
pub fn runs_table(views: &[RunView]) -> Markup {
    html! {
        @if views.is_empty() {
            p.muted.empty { "No runs match." }
        } @else {
            table.runs {
                thead { tr {
                    th { "Run" } th { "Task" } th { "Type" } th { "State" } th { "Trigger" }
                    th { "Started" } th { "Duration" } th.num { "Read" } th.num { "Written" }
                    th.num { "Failed" } th { "Node" }
                } }
                tbody {
                    @for r in views {
                        tr data-run=(r.id) {
                            td { a href=(format!("/ui/runs/{}", r.id)) { "#" (r.run_number) } }
                            td { a href=(format!("/ui/tasks/{}", r.task_id)) { (r.task_path) } }
                            td { (r.task_type) }
                            td { (state_badge(&r.state)) }
                            td { (r.trigger) @if let Some(s) = &r.schedule { " · " (s) } }
                            td { (time(r.started_at.or(Some(r.created_at)))) }
                            td { (layout::run_duration(r.started_at, r.ended_at)) }
                            td.num { (count(r.counters.source_rows_read)) }
                            td.num { (count(r.counters.target_rows_written)) }
                            td.num { (count(r.counters.source_rows_failed + r.counters.target_rows_failed)) }
                            td { (r.node.as_deref().unwrap_or("—")) }
                        }
                    }
                }
            }
        }
    }
}

fn filter_form(q: &RunQuery) -> Markup {
    let selected = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    html! {
        form.filters method="get" action="/ui/runs" {
            label { "State"
                select name="state" {
                    option value="" { "any" }
                    @for (value, label) in STATE_GROUPS {
                        option value=(value) selected[q.state == value] { (label) }
                    }
                    @for s in RunState::ALL {
                        option value=(s.as_str()) selected[q.state == s.as_str()] { (s.as_str().replace('_', " ")) }
                    }
                }
            }
            label { "Task" input name="task" value=(q.task) placeholder="folder/name or id"; }
            label { "Folder" input name="folder" value=(q.folder); }
            label { "Type"
                select name="type" {
                    option value="" { "any" }
                    @for t in TaskType::ALL {
                        option value=(t.code()) selected[selected(&q.task_type, t.code())] { (t.code()) }
                    }
                }
            }
            label { "Trigger"
                select name="trigger" {
                    option value="" { "any" }
                    @for t in TRIGGERS {
                        option value=(t.as_str()) selected[selected(&q.trigger, t.as_str())] { (t.as_str()) }
                    }
                }
            }
            label { "Node" input name="node" value=(q.node); }
            label { "From (UTC)" input type="datetime-local" name="from" value=(q.from); }
            label { "To (UTC)" input type="datetime-local" name="to" value=(q.to); }
            button type="submit" { "Filter" }
            a href="/ui/runs" { "Clear" }
        }
    }
}

fn bulk_form(session: &Session, q: &RunQuery) -> Markup {
    let mut whole = q.clone();
    whole.before.clear();
    html! {
        details.bulk {
            summary { "Act on every run these filters select (up to " (BULK_LIMIT) ")" }
            form method="post" action="/ui/runs/bulk" {
                (csrf_field(session))
                input type="hidden" name="filters" value=(whole.to_query());
                button name="action" value="stop" type="submit" data-confirm="Stop every unfinished run these filters select?" { "Stop them (graceful)" }
                button name="action" value="stop_immediate" type="submit" data-confirm="Stop every unfinished run these filters select, now?" { "Stop them now" }
                button name="action" value="rerun" type="submit" data-confirm="Start every run these filters select again?" { "Rerun them" }
            }
        }
    }
}

/// Several states at once, as the state filter offers them (the URL takes any comma list).
const STATE_GROUPS: [(&str, &str); 2] = [
    ("queued,starting,running,stopping", "unfinished"),
    ("completed_with_errors,failed,stopped", "ended badly"),
];

#[derive(Deserialize)]
pub struct BulkForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    action: String,
    #[serde(default)]
    filters: String,
}

/// Stops or reruns every run the filters select (newest first, up to [`BULK_LIMIT`]), one by
/// one as the API would; answers to the runs page with what was done.
pub async fn bulk(
    State(app): State<App>,
    session: Session,
    Form(form): Form<BulkForm>,
) -> UiResult<Response> {
    session.check_csrf(&form.csrf)?;
    let q = filters_of(&form.filters)?;
    let org = session.who.org_id();
    let filter = q.filter(&app, org, BULK_LIMIT).await?;
    let runs = app.list_runs(org, &filter).await?;
    let (mut done, mut refused) = (0usize, Vec::new());
    for run in &runs {
        let outcome = match form.action.as_str() {
            "stop" | "stop_immediate" if run.state.is_terminal() => continue,
            "stop" => app
                .stop_run(&session.who, run.id, StopMode::Graceful)
                .await
                .map(|_| ()),
            "stop_immediate" => app
                .stop_run(&session.who, run.id, StopMode::Immediate)
                .await
                .map(|_| ()),
            "rerun" => app.rerun(&session.who, run.id).await.map(|_| ()),
            other => {
                return Err(super::UiError::invalid(format!(
                    "action: `{other}` is not one (stop, stop_immediate, rerun)"
                )));
            }
        };
        match outcome {
            Ok(()) => done += 1,
            Err(e) => refused.push(format!("run {}: {e}", run.run_number)),
        }
    }
    let verb = if form.action == "rerun" {
        "Reran"
    } else {
        "Stopped"
    };
    let mut message = format!("{verb} {done} run(s).");
    if let Some(first) = refused.first() {
        message.push_str(&format!(" {} refused; the first: {first}", refused.len()));
    }
    Ok(redirect_done(
        &format!("/ui/runs?{}", q.to_query()),
        &message,
    ))
}

/// The filters a bulk form carries, as the runs page reads them from its URL.
fn filters_of(query: &str) -> UiResult<RunQuery> {
    let uri: axum::http::Uri = format!("/ui/runs?{query}")
        .parse()
        .map_err(|_| super::UiError::invalid("filters: not a query string"))?;
    Query::<RunQuery>::try_from_uri(&uri)
        .map(|Query(q)| q)
        .map_err(|e| super::UiError::invalid(e.body_text()))
}
