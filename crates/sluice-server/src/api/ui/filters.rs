//! The runs page's filters: read from the URL (so a filtered view can be bookmarked, shared and
//! reloaded), turned into the store's run filter, and written back into links and forms.

use super::{UiError, UiResult};
use crate::domain::{RunState, TaskType, Trigger};
use crate::service::App;
use crate::store::RunFilter;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

/// Runs one page shows.
pub const PAGE: i64 = 50;
/// The longest value a filter field takes (a task path, a folder, a node name).
const MAX_FIELD: usize = 400;

/// The filters as the URL carries them; every field optional, empty = not filtered.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunQuery {
    /// Comma-separated states.
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub task: String,
    #[serde(default)]
    pub folder: String,
    #[serde(default, rename = "type")]
    pub task_type: String,
    #[serde(default)]
    pub trigger: String,
    #[serde(default)]
    pub node: String,
    /// `YYYY-MM-DDTHH:MM` (a `datetime-local` field), UTC.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    /// The page: runs older than this one.
    #[serde(default)]
    pub before: String,
}

impl RunQuery {
    pub fn states(&self) -> UiResult<Vec<RunState>> {
        RunState::parse_list(&self.state).map_err(|e| UiError::invalid(format!("state: {e}")))
    }

    /// The store's filter for these fields: the task is resolved in the caller's org.
    pub async fn filter(&self, app: &App, org_id: Uuid, limit: i64) -> UiResult<RunFilter> {
        for (name, v) in [
            ("task", &self.task),
            ("folder", &self.folder),
            ("node", &self.node),
        ] {
            if v.len() > MAX_FIELD {
                return Err(UiError::invalid(format!(
                    "{name}: longer than {MAX_FIELD} characters"
                )));
            }
        }
        let task_id = match self.task.trim() {
            "" => None,
            t => Some(app.resolve_task(org_id, t).await?.id),
        };
        Ok(RunFilter {
            task_id,
            states: self.states()?,
            before: parse_opt(&self.before, "before", |s| s.parse::<Uuid>())?,
            limit,
            offset: 0,
            task_type: parse_opt(&self.task_type, "type", |s| s.parse::<TaskType>())?,
            started_from: parse_opt(&self.from, "from", parse_time)?,
            started_to: parse_opt(&self.to, "to", parse_time)?,
            folder: non_empty(&self.folder),
            trigger: parse_opt(&self.trigger, "trigger", |s| s.parse::<Trigger>())?,
            node: non_empty(&self.node),
        })
    }

    /// The query string of these filters with `state` replaced (the count links).
    pub fn with_state(&self, state: &str) -> String {
        let mut q = self.clone();
        q.state = state.into();
        q.before.clear();
        q.to_query()
    }

    /// The query string of these filters for the page of runs older than `before`.
    pub fn with_before(&self, before: Uuid) -> String {
        let mut q = self.clone();
        q.before = before.to_string();
        q.to_query()
    }

    /// The query string of these filters for the newest page.
    pub fn with_before_cleared(&self) -> String {
        let mut q = self.clone();
        q.before.clear();
        q.to_query()
    }

    pub fn to_query(&self) -> String {
        let pairs = [
            ("state", &self.state),
            ("task", &self.task),
            ("folder", &self.folder),
            ("type", &self.task_type),
            ("trigger", &self.trigger),
            ("node", &self.node),
            ("from", &self.from),
            ("to", &self.to),
            ("before", &self.before),
        ];
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            if !v.trim().is_empty() {
                out.append_pair(k, v.trim());
            }
        }
        out.finish()
    }
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn parse_opt<T, E: std::fmt::Display>(
    s: &str,
    field: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> UiResult<Option<T>> {
    match s.trim() {
        "" => Ok(None),
        v => parse(v)
            .map(Some)
            .map_err(|e| UiError::invalid(format!("{field}: {e}"))),
    }
}

/// A `datetime-local` value (minutes or seconds), or an RFC 3339 time.
fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("`{s}` is not a time (YYYY-MM-DDTHH:MM, UTC)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_round_trip_through_the_url() {
        let q = RunQuery {
            state: "failed,stopped".into(),
            folder: "Sales & Co".into(),
            ..Default::default()
        };
        assert_eq!(q.to_query(), "state=failed%2Cstopped&folder=Sales+%26+Co");
        assert_eq!(q.with_state("queued"), "state=queued&folder=Sales+%26+Co");
    }

    #[test]
    fn times_read_as_utc() {
        let t = parse_time("2026-12-01T10:30").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-01T10:30:00+00:00");
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn a_bad_state_is_named() {
        let q = RunQuery {
            state: "done".into(),
            ..Default::default()
        };
        assert!(q.states().is_err());
    }
}
