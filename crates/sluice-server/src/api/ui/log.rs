//! A run's log in the monitor: the last lines first (read from the end, so a log of a million
//! lines shows as fast as a short one), a level filter and a text search, line numbers, earlier
//! pages, a download, and a live tail. The tail is a stream of server-sent events, each carrying
//! the lines after the last one sent and that line's number as its id: a browser reconnecting
//! sends the id back (`Last-Event-ID`) and misses no line.

use super::layout::{Section, page as shell};
use super::session::Session;
use super::{UiError, UiResult};
use crate::domain::{LogLevel, LogLine, Run};
use crate::service::App;
use crate::store::LogSearch;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use maud::{Markup, html};
use serde::Deserialize;
use std::convert::Infallible;
use std::time::Duration;
use uuid::Uuid;

/// How often the tail looks for new lines: with the worker's 200 ms flush, a line shows within
/// half a second of being written.
const TAIL_EVERY: Duration = Duration::from_millis(150);
/// Lines one event carries at most.
const EVENT_LINES: i64 = 500;
/// How long one tail stream lasts before the browser reconnects (and is authenticated again).
const LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Lines a download reads at a time.
const DOWNLOAD_PAGE: i64 = 5000;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LogQuery {
    /// Lowest level shown: debug, info, warn, error (default: debug, everything).
    #[serde(default)]
    pub level: String,
    /// Only lines containing this text (ignoring case).
    #[serde(default)]
    pub q: String,
    /// Lines before this line number (an earlier page).
    #[serde(default)]
    pub before: Option<i64>,
}

impl LogQuery {
    fn level(&self) -> UiResult<LogLevel> {
        match self.level.trim() {
            "" => Ok(LogLevel::Debug),
            l => l
                .parse()
                .map_err(|e: String| UiError::invalid(format!("level: {e}"))),
        }
    }

    fn contains(&self) -> Option<String> {
        let q = self.q.trim();
        (!q.is_empty()).then(|| q.to_string())
    }

    fn search(&self, after: i64, limit: i64, last: bool) -> UiResult<LogSearch> {
        Ok(LogSearch {
            after,
            before: self.before,
            min_level: self.level()?,
            contains: self.contains(),
            limit,
            last,
        })
    }

    fn query(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        if !self.level.trim().is_empty() {
            s.append_pair("level", self.level.trim());
        }
        if let Some(q) = self.contains() {
            s.append_pair("q", &q);
        }
        s.finish()
    }
}

/// The log section of a run's page: its last `limit` lines (or those before `before`).
pub async fn section(
    app: &App,
    session: &Session,
    run: &Run,
    q: &LogQuery,
    limit: i64,
) -> UiResult<Markup> {
    let (_, lines) = app
        .search_log(session.who.org_id(), run.id, &q.search(0, limit, true)?)
        .await?;
    let last_seq = lines
        .last()
        .map_or(q.before.map_or(0, |b| b - 1), |l| l.seq);
    // An earlier page stays still; the newest one follows the run.
    let live = q.before.is_none();
    let base = format!("/ui/runs/{}", run.id);
    let query = q.query();
    Ok(html! {
        section #log {
            h2 { "Log" }
            form.logbar method="get" action=(format!("{base}#log")) {
                label { "Level"
                    select name="level" {
                        @for (v, label) in [("", "all"), ("info", "info and above"), ("warn", "warnings and errors"), ("error", "errors")] {
                            option value=(v) selected[q.level == v] { (label) }
                        }
                    }
                }
                label { "Search" input type="search" name="q" value=(q.q) maxlength="200"; }
                button type="submit" { "Apply" }
                a href=(format!("{base}/log.txt?{query}")) download { "Download" }
                a href=(format!("{base}/log?{query}")) { "Full page" }
            }
            @if let Some(first) = lines.first().filter(|_| lines.len() as i64 == limit) {
                p { a href=(format!("{base}/log?{query}&before={}", first.seq)) { "Earlier lines" } }
            }
            table.log #log-lines data-run=(run.id) data-after=(last_seq)
                data-live=[live.then_some(format!("{base}/log/live?{query}"))] {
                tbody { @for l in &lines { (line_row(l)) } }
            }
            @if lines.is_empty() { p.muted #log-empty { "No lines yet." } }
        }
    })
}

fn line_row(l: &LogLine) -> Markup {
    html! {
        tr class=(format!("l-{}", l.level.as_str())) {
            td.seq { (l.seq) }
            td.at { (l.at.format("%H:%M:%S%.3f")) }
            td.lvl { (l.level.as_str()) }
            td.msg { (l.message) }
        }
    }
}

/// The log on a page of its own: more lines per page.
pub async fn page(
    State(app): State<App>,
    session: Session,
    Path(id): Path<Uuid>,
    Query(q): Query<LogQuery>,
) -> UiResult<Response> {
    let run = app.get_run(session.who.org_id(), id).await?;
    let section = section(&app, &session, &run, &q, 2000).await?;
    let title = format!("Log of run {}", run.run_number);
    let body = html! {
        p.crumbs { a href="/ui/runs" { "Runs" } " / " a href=(format!("/ui/runs/{id}")) { "Run #" (run.run_number) } }
        (section)
    };
    Ok(shell(&session, Section::Runs, &title, body).into_response())
}

/// Where a tail starts (a separate extractor: numbers do not survive `serde(flatten)` in a query).
#[derive(Deserialize)]
pub struct TailFrom {
    #[serde(default)]
    after: i64,
}

/// The live tail: `lines` events (JSON arrays of `{seq, at, level, message}`), then `end` once
/// the run has ended and every line was sent.
pub async fn live(
    State(app): State<App>,
    session: Session,
    Path(id): Path<Uuid>,
    Query(lq): Query<LogQuery>,
    Query(from): Query<TailFrom>,
    headers: HeaderMap,
) -> UiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let org = session.who.org_id();
    app.get_run(org, id).await?;
    // A reconnecting browser says the last line it has.
    let resumed = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let after = resumed.unwrap_or(from.after).max(0);
    let search = LogQuery { before: None, ..lq }.search(after, EVENT_LINES, false)?;
    let until = tokio::time::Instant::now() + LIFETIME;
    let stopping = app.stopping.clone().cancelled_owned();
    let stream = futures::stream::unfold(
        (app, search, false),
        move |(app, mut search, ended)| async move {
            if ended {
                return None;
            }
            loop {
                if tokio::time::Instant::now() >= until {
                    return None;
                }
                // Whether the run had ended before this read: then an empty read is the end.
                let finished = app.get_run(org, id).await.map(|r| r.state.is_terminal());
                match app.search_log(org, id, &search).await {
                    Ok((_, lines)) if !lines.is_empty() => {
                        let last = lines.last().map_or(search.after, |l| l.seq);
                        search.after = last;
                        let event = Event::default()
                            .event("lines")
                            .id(last.to_string())
                            .data(lines_json(&lines));
                        return Some((Ok(event), (app, search, false)));
                    }
                    Ok(_) if matches!(finished, Ok(true)) => {
                        let event = Event::default().event("end").data("end");
                        return Some((Ok(event), (app, search, true)));
                    }
                    _ => tokio::time::sleep(TAIL_EVERY).await,
                }
            }
        },
    )
    .take_until(stopping);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn lines_json(lines: &[LogLine]) -> String {
    let out: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| {
            serde_json::json!({
                "seq": l.seq,
                "at": l.at.format("%H:%M:%S%.3f").to_string(),
                "level": l.level.as_str(),
                "message": l.message,
            })
        })
        .collect();
    serde_json::Value::Array(out).to_string()
}

/// The whole log (as filtered) as text, read and sent a page at a time.
pub async fn download(
    State(app): State<App>,
    session: Session,
    Path(id): Path<Uuid>,
    Query(q): Query<LogQuery>,
) -> UiResult<Response> {
    let org = session.who.org_id();
    let run = app.get_run(org, id).await?;
    let search = LogQuery { before: None, ..q }.search(0, DOWNLOAD_PAGE, false)?;
    let pages = futures::stream::unfold(Some((app, search)), move |state| async move {
        let (app, mut search) = state?;
        match app.search_log(org, id, &search).await {
            Ok((_, lines)) if lines.is_empty() => None,
            Ok((_, lines)) => {
                search.after = lines.last().map_or(search.after, |l| l.seq);
                let mut text = String::new();
                for l in &lines {
                    text.push_str(&format!(
                        "{:>7} {} {:<5} {}\n",
                        l.seq,
                        l.at.to_rfc3339(),
                        l.level.as_str(),
                        l.message
                    ));
                }
                Some((
                    Ok::<_, Infallible>(bytes::Bytes::from(text)),
                    Some((app, search)),
                ))
            }
            // The response has begun: a store error ends it short (the client sees it cut).
            Err(e) => {
                tracing::warn!(run = %id, error = %e, "a log download was cut short");
                None
            }
        }
    });
    let name = format!(
        "attachment; filename=\"run-{}-{}.log\"",
        run.run_number, run.id
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (header::CONTENT_DISPOSITION, name),
        ],
        axum::body::Body::from_stream(pages),
    )
        .into_response())
}
