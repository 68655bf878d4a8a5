//! When a schedule fires: a cron expression read in an IANA time zone, with the daylight-saving
//! rules cron users expect (the Open Cron Pattern Specification, which croner implements): a
//! fixed-time fire that falls in a spring-forward gap runs once, at the first instant after the
//! gap; one that falls in a fall-back fold runs once, at its first occurrence; an interval
//! ("every 15 minutes") keeps its spacing in real time through both. Pure: the clock is passed in.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// A schedule's timing, checked: a cron expression (5 or 6 fields, seconds optional; `L`, `W`
/// and `#` as cron users expect) in a time zone.
#[derive(Debug, Clone)]
pub struct Timing {
    cron: Cron,
    zone: Tz,
}

/// Why a timing does not hold together; says which field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimingError {
    #[error("cron: {0}")]
    Cron(String),
    #[error("timezone: `{0}` is not an IANA time zone (e.g. `Europe/Berlin`, `UTC`)")]
    Zone(String),
}

/// Longest cron expression read: far above any real one, so a hostile one is refused before
/// it is parsed.
const MAX_CRON_LEN: usize = 256;

impl Timing {
    pub fn cron(expression: &str, zone: &str) -> Result<Timing, TimingError> {
        let zone: Tz = zone
            .parse()
            .map_err(|_| TimingError::Zone(zone.chars().take(64).collect()))?;
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
        Ok(Timing { cron, zone })
    }

    /// The first fire strictly after `after`, if the expression has one.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.zone);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
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

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
