//! Schedules and when they fire: a cron expression or an IICS-style frequency, read in an IANA
//! time zone, with the daylight-saving rules cron users expect (the Open Cron Pattern
//! Specification, which croner implements, and [`super::frequency`] for frequencies): a
//! fixed-time fire that falls in a spring-forward gap runs once, at the first instant after the
//! gap; one that falls in a fall-back fold runs once, at its first occurrence; an interval
//! ("every 15 minutes") keeps its spacing in real time through both. Pure: the clock is passed in.

use super::frequency::{Frequency, FrequencyError};
use super::task::Origin;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// How a schedule's fire times are written: a cron expression or a frequency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Cron(String),
    Frequency(Frequency),
}

/// A schedule's timing, checked: its rule in its time zone.
#[derive(Debug, Clone)]
pub struct Timing {
    rule: Checked,
    zone: Tz,
}

#[derive(Debug, Clone)]
enum Checked {
    Cron(Box<Cron>),
    Frequency(Frequency),
}

/// Why a timing does not hold together; says which field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimingError {
    #[error("cron: {0}")]
    Cron(String),
    #[error("timezone: `{0}` is not an IANA time zone (e.g. `Europe/Berlin`, `UTC`)")]
    Zone(String),
    #[error(transparent)]
    Frequency(#[from] FrequencyError),
}

/// Longest cron expression read: far above any real one, so a hostile one is refused before
/// it is parsed.
const MAX_CRON_LEN: usize = 256;

fn zone(name: &str) -> Result<Tz, TimingError> {
    name.parse()
        .map_err(|_| TimingError::Zone(name.chars().take(64).collect()))
}

impl Timing {
    /// A cron expression (5 or 6 fields, seconds optional; `L`, `W` and `#` as cron users
    /// expect) in a time zone.
    pub fn cron(expression: &str, zone_name: &str) -> Result<Timing, TimingError> {
        let zone = zone(zone_name)?;
        if expression.len() > MAX_CRON_LEN {
            return Err(TimingError::Cron(format!(
                "longer than {MAX_CRON_LEN} characters"
            )));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(expression)
            .map_err(|e| TimingError::Cron(e.to_string()))?;
        Ok(Timing {
            rule: Checked::Cron(Box::new(cron)),
            zone,
        })
    }

    /// A rule, cron or frequency, in a time zone.
    pub fn new(rule: &Rule, zone_name: &str) -> Result<Timing, TimingError> {
        match rule {
            Rule::Cron(expression) => Timing::cron(expression, zone_name),
            Rule::Frequency(f) => {
                let zone = zone(zone_name)?;
                f.check()?;
                Ok(Timing {
                    rule: Checked::Frequency(f.clone()),
                    zone,
                })
            }
        }
    }

    /// The first fire strictly after `after`, if the rule has one.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.rule {
            Checked::Cron(cron) => {
                let local = after.with_timezone(&self.zone);
                cron.find_next_occurrence(&local, false)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            }
            Checked::Frequency(f) => f.next_after(self.zone, after),
        }
    }

    /// The next `n` fires after `after` (`sluice schedules next`).
    pub fn next_fires(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut at = after;
        while out.len() < n {
            match self.next_after(at) {
                Some(t) => {
                    out.push(t);
                    at = t;
                }
                None => break,
            }
        }
        out
    }
}

/// What a schedule does with fires it missed (the node was down, or a blackout held them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Missed fires are skipped; only a fire at most a minute late still runs.
    None,
    /// One run stands for all the missed fires (the latest of them).
    #[default]
    Last,
    /// Every missed fire runs, oldest first, within the catch-up window.
    All,
}

impl CatchUp {
    pub fn as_str(self) -> &'static str {
        match self {
            CatchUp::None => "none",
            CatchUp::Last => "last",
            CatchUp::All => "all",
        }
    }
}

impl fmt::Display for CatchUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CatchUp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(CatchUp::None),
            "last" => Ok(CatchUp::Last),
            "all" => Ok(CatchUp::All),
            _ => Err(format!(
                "unknown catch-up policy `{s}`; expected none, last or all"
            )),
        }
    }
}

/// The catch-up window when none is given: a day.
pub const DEFAULT_CATCH_UP_WINDOW_SECS: u64 = 86_400;
/// The longest catch-up window: 31 days (a bound on what a catch-up may enumerate).
pub const MAX_CATCH_UP_WINDOW_SECS: u64 = 31 * 86_400;

/// A schedule as stored: when it fires, and what it does with fires it missed. Tasks name the
/// schedules they run on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub description: String,
    /// An IANA time zone: the rule's wall-clock times are read in it.
    pub timezone: String,
    pub rule: Rule,
    pub catch_up: CatchUp,
    /// Missed fires older than this are skipped whatever the policy.
    pub catch_up_window_secs: u64,
    /// A paused schedule never fires; resuming it applies the catch-up policy to what it missed.
    pub paused: bool,
    pub origin: Origin,
    /// The next fire not yet made (None: the rule has no more fires). Kept by the store.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// The latest fire made.
    pub last_fire_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Schedule {
    pub fn timing(&self) -> Result<Timing, TimingError> {
        Timing::new(&self.rule, &self.timezone)
    }
}

/// A schedule's fire, as its run records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fire {
    pub schedule_id: Uuid,
    pub schedule_name: String,
    /// When the fire was due (for a catch-up run, the latest fire it stands for).
    pub at: DateTime<Utc>,
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
