//! Schedules in the native API: what a client sends to define one, what it reads back, and the
//! schedules a task runs on.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// A schedule to create or replace: a cron expression or a frequency, in a time zone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// An IANA time zone (`Europe/Berlin`); defaults to `UTC`.
    #[serde(default)]
    pub timezone: Option<String>,
    /// A cron expression: 5 fields, or 6 with seconds first; `L`, `W` and `#` allowed.
    #[serde(default)]
    pub cron: Option<String>,
    /// An IICS-style frequency, instead of `cron` (see README, Schedules).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub frequency: Option<serde_json::Value>,
    /// What missed fires do: `none`, `last` (default) or `all`.
    #[serde(default)]
    pub catch_up: Option<String>,
    /// Missed fires older than this are skipped (default a day, at most 31 days).
    #[serde(default)]
    pub catch_up_window_secs: Option<u64>,
    /// A paused schedule never fires.
    #[serde(default)]
    pub paused: Option<bool>,
}

/// A schedule as stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ScheduleView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub timezone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub frequency: Option<serde_json::Value>,
    pub catch_up: String,
    pub catch_up_window_secs: u64,
    pub paused: bool,
    /// The next fire not made yet; null when paused or when the rule has no more fires.
    pub next_fire_at: Option<DateTime<Utc>>,
    pub last_fire_at: Option<DateTime<Utc>>,
    /// `api`, or the definition file it was loaded from.
    pub origin: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A schedule's coming fires (`GET /api/v1/schedules/{schedule}/next`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ScheduleFires {
    pub schedule: String,
    pub timezone: String,
    /// In UTC, oldest first.
    pub fires: Vec<DateTime<Utc>>,
    /// The same fires in the schedule's time zone (RFC 3339, with the offset in force).
    pub local: Vec<String>,
}

/// A schedule a task runs on: its name, or its name with the parameters its fires pass.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(untagged)]
pub enum TaskScheduleInput {
    Name(String),
    Binding {
        schedule: String,
        #[serde(default)]
        parameters: BTreeMap<String, String>,
    },
}

/// A schedule a task runs on, with the parameters its fires pass over the task's defaults.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct TaskScheduleView {
    pub schedule: String,
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
}

/// A blackout period to create or replace (by name): `start` and `end` (one stretch), or
/// `from_time` and `to_time` (every day, or the listed `days`), wall-clock times in `timezone`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct BlackoutInput {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// An IANA time zone; defaults to `UTC`.
    #[serde(default)]
    pub timezone: Option<String>,
    /// `2026-12-24T00:00:00`.
    #[serde(default)]
    pub start: Option<String>,
    #[serde(default)]
    pub end: Option<String>,
    /// `01:00`.
    #[serde(default)]
    pub from_time: Option<String>,
    #[serde(default)]
    pub to_time: Option<String>,
    /// `["sat", "sun"]`; the days a daily window starts on (default every day).
    #[serde(default)]
    pub days: Option<Vec<String>>,
}

/// A blackout period as stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct BlackoutView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub timezone: String,
    /// `{start, end}` or `{from_time, to_time, days}`.
    #[schema(value_type = Object)]
    pub window: serde_json::Value,
    pub origin: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A backfill: the schedule's fires from `from` to `to` (both included), made now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackfillInput {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// `all` (default: every fire of the range, at most 1000), `last` (the latest) or `none`.
    #[serde(default)]
    pub catch_up: Option<String>,
}

/// What a backfill made.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BackfillReport {
    /// The fires of the range the policy kept.
    pub fires: usize,
    /// The runs made (fires already made earlier are not made again).
    pub runs: Vec<crate::RunView>,
    /// Fires a busy task did not take, with why.
    pub refused: Vec<String>,
}
