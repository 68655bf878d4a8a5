//! Server-sent events that tell a page its data changed: the page then fetches the fragment that
//! changed (htmx, `hx-trigger="sse:changed"`). A stream looks at the store (which every node
//! writes to), so it sees runs of every node alike. It ends after [`LIFETIME`]; the browser
//! reconnects, which checks the session again.

use super::UiResult;
use super::filters::{PAGE, RunQuery};
use super::session::Session;
use crate::service::App;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use std::convert::Infallible;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;
use tokio::time::Instant;
use uuid::Uuid;

/// How long one stream lasts before the browser must connect (and be authenticated) again.
const LIFETIME: Duration = Duration::from_secs(15 * 60);
/// How often the runs list looks for changes.
const LIST_EVERY: Duration = Duration::from_millis(1000);
/// How often a run's page looks: its counters move while it runs.
const RUN_EVERY: Duration = Duration::from_millis(250);
/// How often it looks once the run has ended and no callback is pending: only an action (a
/// resend, a rerun) changes it then, so a page left open costs the store little.
const SETTLED_EVERY: Duration = Duration::from_secs(2);

/// What a probe saw: a fingerprint, and whether what it watches has settled (then the stream
/// looks at its slower pace).
struct Seen {
    print: u64,
    settled: bool,
}

/// `changed` at the first look (the page was rendered before the stream connected: whatever
/// changed in between is fetched), then whenever what `probe` sees differs from what it saw last;
/// nothing while the store does not answer (the page keeps what it shows). Looks every `every`,
/// or every `settled` once the probe says nothing moves by itself any more.
fn changes<F, Fut>(
    stopping: tokio_util::sync::CancellationToken,
    probe: F,
    every: Duration,
    settled: Duration,
) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Option<Seen>> + Send,
{
    let until = Instant::now() + LIFETIME;
    let stopping = stopping.cancelled_owned();
    let start = (probe, None::<u64>, every);
    futures::stream::unfold(start, move |(probe, mut last, mut pace)| async move {
        loop {
            tokio::time::sleep(pace).await;
            if Instant::now() >= until {
                return None;
            }
            let Some(seen) = probe().await else { continue };
            pace = if seen.settled { settled } else { every };
            let changed = last != Some(seen.print);
            last = Some(seen.print);
            if changed {
                // An event without data is never dispatched by a browser: it carries a token.
                let event = Event::default().event("changed").data("1");
                return Some((Ok(event), (probe, last, pace)));
            }
        }
    })
    .take_until(stopping)
}

fn fingerprint(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// The runs page: the runs its filters select, and their counts.
pub async fn runs(
    State(app): State<App>,
    session: Session,
    Query(q): Query<RunQuery>,
) -> UiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let org = session.who.org_id();
    let filter = q.filter(&app, org, PAGE).await?;
    let stopping = app.stopping.clone();
    let probe = move || {
        let (app, filter) = (app.clone(), filter.clone());
        async move {
            let (runs, counts) =
                tokio::try_join!(app.list_runs(org, &filter), app.count_runs(org, &filter)).ok()?;
            let text = format!(
                "{counts:?}{:?}",
                runs.iter()
                    .map(|r| (r.id, r.state, &r.counters, r.ended_at))
                    .collect::<Vec<_>>()
            );
            Some(Seen {
                print: fingerprint(&text),
                settled: false,
            })
        }
    };
    let stream = changes(stopping, probe, LIST_EVERY, LIST_EVERY);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// A run's page: its state, counters, parts and callbacks.
pub async fn run(
    State(app): State<App>,
    session: Session,
    Path(id): Path<Uuid>,
) -> UiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let org = session.who.org_id();
    app.get_run(org, id).await?;
    let stopping = app.stopping.clone();
    let probe = move || {
        let app = app.clone();
        async move {
            let run = app.get_run(org, id).await.ok()?;
            let children = app.run_children(run.id).await.ok()?;
            let callbacks = app.run_callbacks(org, id).await.ok()?;
            let text = format!(
                "{:?}{:?}{:?}{:?}{:?}",
                (run.state, &run.counters, run.ended_at, &run.error),
                run.spark,
                children
                    .iter()
                    .map(|c| (c.state, &c.counters))
                    .collect::<Vec<_>>(),
                callbacks
                    .iter()
                    .map(|(c, a)| (c.id, a.len(), &c.state))
                    .collect::<Vec<_>>(),
                run.stop_mode,
            );
            let settled = run.state.is_terminal() && !callbacks.iter().any(|(c, _)| c.is_pending());
            Some(Seen {
                print: fingerprint(&text),
                settled,
            })
        }
    };
    let stream = changes(stopping, probe, RUN_EVERY, SETTLED_EVERY);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
