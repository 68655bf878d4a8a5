//! The page shell every monitor page shares (head, navigation, the signed-in user) and the small
//! pieces pages repeat: state badges, times, durations.

use super::session::Session;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

/// Paths of the embedded assets, named by version so browsers may keep them for good.
pub const HTMX: &str = "/ui/assets/htmx-2.0.11.min.js";
pub const HTMX_SSE: &str = "/ui/assets/htmx-ext-sse-2.2.4.js";
pub const MONITOR_JS: &str = "/ui/assets/monitor-1.js";
pub const MONITOR_CSS: &str = "/ui/assets/monitor-1.css";
pub const ICON: &str = "/ui/assets/icon-1.svg";

/// Which section of the navigation a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Runs,
    Tasks,
    Schedules,
    Connections,
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            // htmx would add a <style> of its own, which the page's Content-Security-Policy
            // refuses: the stylesheet carries the indicator styles instead.
            meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false}"#;
            title { (title) " · Sluice" }
            link rel="icon" href=(ICON) type="image/svg+xml";
            link rel="stylesheet" href=(MONITOR_CSS);
            script src=(HTMX) defer {}
            script src=(HTMX_SSE) defer {}
            script src=(MONITOR_JS) defer {}
        }
    }
}

/// A whole page for a signed-in user.
pub fn page(session: &Session, section: Section, title: &str, body: Markup) -> Markup {
    let csrf_header = format!(r#"{{"X-CSRF-Token":"{}"}}"#, session.csrf);
    let link = |s: Section, href: &str, label: &str| {
        html! { a href=(href) aria-current=[(s == section).then_some("page")] { (label) } }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body hx-headers=(csrf_header) {
                header.top {
                    a.brand href="/ui/runs" { "Sluice" }
                    nav {
                        (link(Section::Runs, "/ui/runs", "Runs"))
                        (link(Section::Tasks, "/ui/tasks", "Tasks"))
                        (link(Section::Schedules, "/ui/schedules", "Schedules"))
                        (link(Section::Connections, "/ui/connections", "Connections"))
                    }
                    div.who {
                        span title=(format!("role: {}", session.who.user.role)) {
                            (session.who.user.username) " · " (session.who.org_name)
                        }
                        form method="post" action="/ui/logout" {
                            (csrf_field(session))
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A page for no one signed in (sign-in, errors before sign-in).
pub fn bare_page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare { main { (body) } }
        }
    }
}

/// The hidden field every state-changing form carries.
pub fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name="_csrf" value=(session.csrf); }
}

/// A run state as a coloured badge.
pub fn state_badge(state: &str) -> Markup {
    html! { span class=(format!("badge s-{state}")) { (state.replace('_', " ")) } }
}

/// A time in UTC, to the second, with the full time as its title.
pub fn time(at: Option<DateTime<Utc>>) -> Markup {
    match at {
        Some(at) => html! {
            time datetime=(at.to_rfc3339()) title=(at.to_rfc3339()) {
                (at.format("%Y-%m-%d %H:%M:%S"))
            }
        },
        None => html! { span.muted { "—" } },
    }
}

/// A duration a person reads: 850 ms, 12.4 s, 3 m 20 s, 2 h 5 m.
pub fn duration(secs: f64) -> String {
    if secs < 1.0 {
        format!("{} ms", (secs * 1000.0).round() as i64)
    } else if secs < 60.0 {
        format!("{secs:.1} s")
    } else if secs < 3600.0 {
        format!("{} m {} s", (secs / 60.0) as i64, (secs % 60.0) as i64)
    } else {
        format!(
            "{} h {} m",
            (secs / 3600.0) as i64,
            ((secs % 3600.0) / 60.0) as i64
        )
    }
}

/// How long a run took, or has taken so far.
pub fn run_duration(started: Option<DateTime<Utc>>, ended: Option<DateTime<Utc>>) -> String {
    match started {
        Some(s) => {
            let end = ended.unwrap_or_else(Utc::now);
            duration((end - s).num_milliseconds().max(0) as f64 / 1000.0)
        }
        None => "—".into(),
    }
}

/// A number with thousands separated, as row counts read best.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What an action did, carried to the page it redirects to (`?done=...`).
#[derive(Deserialize)]
pub struct Done {
    pub done: Option<String>,
}

/// After an action: back to `path` (which may have a query already) saying what was done.
pub fn redirect_done(path: &str, message: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("done", message)
        .finish();
    Redirect::to(&format!("{path}{sep}{q}")).into_response()
}

/// A message after an action (`?done=...`), or an error.
pub fn notice(text: Option<&str>, error: bool) -> Markup {
    match text {
        Some(t) if !t.is_empty() => html! {
            p class=(if error { "notice error" } else { "notice" }) role=(if error { "alert" } else { "status" }) { (t) }
        },
        _ => html! {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_with_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
    }

    #[test]
    fn durations_read_in_the_unit_that_fits() {
        assert_eq!(duration(0.85), "850 ms");
        assert_eq!(duration(12.44), "12.4 s");
        assert_eq!(duration(200.0), "3 m 20 s");
        assert_eq!(duration(7500.0), "2 h 5 m");
    }
}
