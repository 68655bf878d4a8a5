//! Blackout periods: windows, per org, in which no schedule fires (IICS has one per org; Sluice
//! any number). A window is one stretch of wall-clock time (`start` to `end`) or a daily one
//! (`from_time` to `to_time`, optionally on some days; it may cross midnight), read in an IANA
//! zone. A fire that falls inside is skipped, not caught up when the window ends: IICS documents
//! it so, and a blackout is usually maintenance that a burst of delayed runs at its end would
//! hit. Pure: the instant is passed in.

use super::frequency::{de_clock, de_start};
use chrono::{DateTime, Datelike, NaiveDateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// When a blackout holds, in its zone's wall-clock time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Window {
    /// From `start` up to (not including) `end`.
    Once {
        #[serde(deserialize_with = "de_start")]
        start: NaiveDateTime,
        #[serde(deserialize_with = "de_start")]
        end: NaiveDateTime,
    },
    /// Every day (or the listed days) from `from_time` up to `to_time`; a window whose end is
    /// before its start ends the next day, and `days` names the day it starts.
    Daily {
        #[serde(deserialize_with = "de_clock")]
        from_time: NaiveTime,
        #[serde(deserialize_with = "de_clock")]
        to_time: NaiveTime,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        days: Option<Vec<Weekday>>,
    },
}

/// A blackout period as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Blackout {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub description: String,
    pub timezone: String,
    pub window: Window,
    pub origin: super::task::Origin,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Window {
    /// Why the window does not hold together, as `field: message`.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Window::Once { start, end } if end <= start => Err("end: must be after start".into()),
            Window::Daily {
                from_time, to_time, ..
            } if from_time == to_time => Err("to_time: must differ from from_time".into()),
            Window::Daily { days: Some(d), .. } if d.is_empty() => {
                Err("days: empty (leave it out for every day)".into())
            }
            _ => Ok(()),
        }
    }

    /// Whether wall-clock time `t` is inside the window.
    pub fn holds_at(&self, t: NaiveDateTime) -> bool {
        match self {
            Window::Once { start, end } => *start <= t && t < *end,
            Window::Daily {
                from_time,
                to_time,
                days,
            } => {
                let on = |day: Weekday| days.as_ref().is_none_or(|d| d.contains(&day));
                let time = t.time();
                if from_time < to_time {
                    *from_time <= time && time < *to_time && on(t.weekday())
                } else if time >= *from_time {
                    on(t.weekday())
                } else {
                    // After midnight: the window began the day before.
                    time < *to_time && on(t.weekday().pred())
                }
            }
        }
    }
}

impl Blackout {
    /// Whether instant `at` falls inside the blackout (a zone that does not parse holds never:
    /// it was checked when the blackout was written).
    pub fn holds(&self, at: DateTime<Utc>) -> bool {
        self.timezone
            .parse::<Tz>()
            .map(|zone| self.window.holds_at(at.with_timezone(&zone).naive_local()))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(d: u32, h: u32, m: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 6, d)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    #[test]
    fn a_one_off_window_holds_from_its_start_to_before_its_end() {
        let w = Window::Once {
            start: at(1, 22, 0),
            end: at(2, 2, 0),
        };
        assert!(!w.holds_at(at(1, 21, 59)));
        assert!(w.holds_at(at(1, 22, 0)));
        assert!(w.holds_at(at(2, 1, 59)));
        assert!(!w.holds_at(at(2, 2, 0)));
    }

    #[test]
    fn a_daily_window_may_cross_midnight_and_keep_to_its_days() {
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        // 2026-06-05 is a Friday.
        let w = Window::Daily {
            from_time: t("23:00"),
            to_time: t("01:00"),
            days: Some(vec![Weekday::Fri]),
        };
        assert!(w.holds_at(at(5, 23, 30)));
        assert!(
            w.holds_at(at(6, 0, 30)),
            "Saturday after midnight belongs to Friday's window"
        );
        assert!(
            !w.holds_at(at(6, 23, 30)),
            "Saturday's own evening is not a Friday"
        );
        assert!(
            !w.holds_at(at(5, 0, 30)),
            "Friday after midnight belongs to Thursday"
        );
        let every_day = Window::Daily {
            from_time: t("02:00"),
            to_time: t("03:00"),
            days: None,
        };
        assert!(every_day.holds_at(at(9, 2, 30)) && !every_day.holds_at(at(9, 3, 0)));
    }

    #[test]
    fn a_blackout_reads_its_window_in_its_zone() {
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        let b = Blackout {
            id: Uuid::nil(),
            org_id: Uuid::nil(),
            name: "maintenance".into(),
            description: String::new(),
            timezone: "Europe/Berlin".into(),
            window: Window::Daily {
                from_time: t("02:00"),
                to_time: t("03:00"),
                days: None,
            },
            origin: super::super::task::Origin::Api,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        // 02:30 in Berlin in June is 00:30 UTC.
        assert!(b.holds(Utc.with_ymd_and_hms(2026, 6, 1, 0, 30, 0).unwrap()));
        assert!(!b.holds(Utc.with_ymd_and_hms(2026, 6, 1, 2, 30, 0).unwrap()));
    }

    #[test]
    fn contradictory_windows_are_refused() {
        let w = Window::Once {
            start: at(2, 0, 0),
            end: at(1, 0, 0),
        };
        assert!(w.check().unwrap_err().starts_with("end:"));
    }
}
