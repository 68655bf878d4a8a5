//! When a frequency schedule fires: the IICS repeat model (once, every N minutes / hours / days /
//! weeks, biweekly, monthly on a date or "the second Tuesday") read in an IANA time zone, with
//! the daylight-saving rules of `schedule.rs`: a fixed-time fire in a spring-forward gap runs
//! once, at the first instant after the gap; one in a fall-back fold runs once, at its first
//! occurrence; minute and hour intervals keep their spacing in real time. Pure: the clock is
//! passed in, and every search is bounded.

use chrono::{
    DateTime, Datelike, Days, Duration, LocalResult, Months, NaiveDate, NaiveDateTime, NaiveTime,
    Offset, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A frequency schedule. Local times are wall-clock times in the zone passed to
/// [`Frequency::next_after`]; `end` and `to_time` are inclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Frequency {
    /// The unit it repeats in (IICS `interval`).
    pub every: Every,
    /// Every `interval` units (IICS `frequency`); 1 unless given.
    #[serde(default = "one")]
    pub interval: u32,
    /// The first possible fire; the time of day of daily, weekly and monthly fires; for minutes
    /// and hours without a window, the origin of their real-time grid.
    #[serde(deserialize_with = "de_start")]
    pub start: NaiveDateTime,
    /// No fire after this.
    #[serde(default, deserialize_with = "de_end")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<NaiveDateTime>,
    /// The days it may fire on (IICS `sun`..`sat`; Daily `weekDay` is mon..fri). Left out: every
    /// day, or for weeks / biweekly the weekday of `start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<Weekday>>,
    /// Minutes / hours only: fire only between these times of each allowed day, counting the
    /// interval from this one each day (IICS `rangeStartTime`).
    #[serde(default, deserialize_with = "de_time")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_time: Option<NaiveTime>,
    /// The window's last possible fire (IICS `rangeEndTime`).
    #[serde(default, deserialize_with = "de_time")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_time: Option<NaiveTime>,
    /// Months only: the date (a month without it is skipped), or `"last"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_of_month: Option<DayOfMonth>,
    /// Months only, with `day_of_week`: which one of the month's matching days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub week_of_month: Option<WeekOfMonth>,
    /// Months only, with `week_of_month`: which days count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_of_week: Option<DayOfWeek>,
}

/// The unit a frequency repeats in. Leaving out `day_of_month` and `week_of_month`, months
/// repeat on the date of `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Every {
    Once,
    Minutes,
    Hours,
    Days,
    Weeks,
    /// Every other week (IICS has it as its own interval): `weeks` with `interval = 2`.
    Biweekly,
    Months,
}

/// A date in the month: 1 to 31, or the month's last day (`"last"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayOfMonth {
    Day(u32),
    Last,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeekOfMonth {
    First,
    Second,
    Third,
    Fourth,
    Last,
}

/// Which days of the month `week_of_month` counts: one weekday, any day, Monday to Friday, or
/// Saturday and Sunday ("the last weekday" is the month's last Monday-to-Friday day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayOfWeek {
    Sunday,
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Day,
    Weekday,
    WeekendDay,
}

/// Why a frequency does not hold together; each names the offending field.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum FrequencyError {
    #[error("{field}: not used with `every = \"{every}\"`")]
    NotApplicable { field: &'static str, every: Every },
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl FrequencyError {
    /// The field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            Self::NotApplicable { field, .. } | Self::Invalid { field, .. } => field,
        }
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Result<(), FrequencyError> {
    let reason = reason.into();
    Err(FrequencyError::Invalid { field, reason })
}

/// How many eligible months a monthly search looks at before giving up: enough for a 29
/// February once every 12 months (8 years apart around 2100), and [`Frequency::check`] refuses
/// dates that never come, so only the far end of the calendar reaches it.
const MONTH_TRIES: u32 = 48;

impl Frequency {
    /// Refuses out-of-range values, fields that do not apply to `every`, and combinations that
    /// can never fire.
    pub fn check(&self) -> Result<(), FrequencyError> {
        self.check_applicable()?;
        let max = match self.every {
            Every::Once | Every::Biweekly => 1,
            Every::Minutes => 1440,
            Every::Hours => 24,
            Every::Days => 365,
            Every::Weeks => 52,
            Every::Months => 12,
        };
        let n = self.interval;
        if !(1..=max).contains(&n) {
            invalid(
                "interval",
                format!("{n} is outside 1..={max} for {}", self.every),
            )?;
        }
        if let Some(end) = self.end.filter(|end| *end < self.start) {
            invalid("end", format!("{end} is before start {}", self.start))?;
        }
        if self.days.as_ref().is_some_and(Vec::is_empty) {
            invalid("days", "empty: list a day, or leave it out")?;
        }
        match (self.from_time, self.to_time) {
            (Some(_), None) => invalid("from_time", "needs `to_time` as well")?,
            (None, Some(_)) => invalid("to_time", "needs `from_time` as well")?,
            (Some(from), Some(to)) if from >= to => {
                invalid("to_time", format!("{to} is not after from_time {from}"))?
            }
            _ => {}
        }
        self.check_month_day()?;
        self.check_reachable()
    }

    /// The first fire strictly after `after`, reading local times in `zone`; `None` once the
    /// schedule is over (or if it does not [`check`](Self::check)).
    pub fn next_after(&self, zone: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.check().ok()?;
        let fire = match self.every {
            Every::Once => resolve(zone, self.start).filter(|t| *t > after),
            Every::Minutes | Every::Hours if self.from_time.is_some() => {
                self.next_in_window(zone, after)
            }
            Every::Minutes | Every::Hours => self.next_free_running(zone, after),
            _ => self.next_fixed(zone, after),
        }?;
        match self.end {
            Some(end) if fire > resolve(zone, end)? => None,
            _ => Some(fire),
        }
    }

    fn check_applicable(&self) -> Result<(), FrequencyError> {
        use Every::*;
        let every = self.every;
        let given = [
            ("interval", self.interval != 1),
            ("end", self.end.is_some()),
            ("days", self.days.is_some()),
            ("from_time", self.from_time.is_some()),
            ("to_time", self.to_time.is_some()),
            ("day_of_month", self.day_of_month.is_some()),
            ("week_of_month", self.week_of_month.is_some()),
            ("day_of_week", self.day_of_week.is_some()),
        ];
        let applies = |field| match field {
            "interval" => !matches!(every, Once | Biweekly),
            "end" => every != Once,
            "days" => !matches!(every, Once | Months),
            "from_time" | "to_time" => matches!(every, Minutes | Hours),
            _ => every == Months,
        };
        match given.into_iter().find(|(f, on)| *on && !applies(*f)) {
            Some((field, _)) => Err(FrequencyError::NotApplicable { field, every }),
            None => Ok(()),
        }
    }

    fn check_month_day(&self) -> Result<(), FrequencyError> {
        match (self.day_of_month, self.week_of_month, self.day_of_week) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                invalid("day_of_month", "not with week_of_month / day_of_week")
            }
            (Some(DayOfMonth::Day(n)), ..) if !(1..=31).contains(&n) => invalid(
                "day_of_month",
                format!("{n} is outside 1..=31 (or \"last\")"),
            ),
            (None, Some(_), None) => invalid("week_of_month", "needs `day_of_week` as well"),
            (None, None, Some(_)) => invalid("day_of_week", "needs `week_of_month` as well"),
            _ => Ok(()),
        }
    }

    /// Refuses the combinations that would search forever: a day step that is a whole number of
    /// weeks from a weekday not in `days`, and a date no month of the schedule has.
    fn check_reachable(&self) -> Result<(), FrequencyError> {
        let start = self.start.date();
        match self.every {
            Every::Days
                if self.interval.is_multiple_of(7) && !self.day_set().has(start.weekday()) =>
            {
                let (n, wd) = (self.interval, start.weekday());
                invalid(
                    "days",
                    format!("every {n} days from a {wd} never lands on them"),
                )
            }
            Every::Months if self.next_day(start).is_none() => {
                invalid("day_of_month", "no month this schedule runs in has it")
            }
            _ => Ok(()),
        }
    }

    fn day_set(&self) -> DaySet {
        match (&self.days, self.every) {
            (Some(days), _) => DaySet(days.iter().fold(0, |m, d| m | DaySet::bit(*d))),
            (None, Every::Weeks | Every::Biweekly) => DaySet(DaySet::bit(self.start.weekday())),
            (None, _) => DaySet(0x7f),
        }
    }

    /// Daily, weekly and monthly: the first firing day's fire after `after`. The day before
    /// `after`'s local date is looked at too, because a fire in a gap can move past midnight.
    fn next_fixed(&self, zone: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let time = self.start.time();
        let around = after.with_timezone(&zone).date_naive().pred_opt()?;
        let mut from = around.max(self.start.date());
        // At most the day before, the day of, and the day after `after` can come up.
        for _ in 0..4 {
            let day = self.next_day(from)?;
            let fire = resolve(zone, day.and_time(time))?;
            if fire > after {
                return Some(fire);
            }
            from = day.succ_opt()?;
        }
        None
    }

    /// The first firing day on or after `from` (which is on or after the start date). Each arm
    /// jumps straight to the next eligible period, so it takes a handful of steps.
    fn next_day(&self, from: NaiveDate) -> Option<NaiveDate> {
        let start = self.start.date();
        let set = self.day_set();
        let n = i64::from(self.interval);
        match self.every {
            Every::Days => {
                let first = ((from - start).num_days().max(0) + n - 1) / n;
                // The weekdays of `start + k·n` repeat within 7 steps.
                (first..first + 7)
                    .filter_map(|k| start.checked_add_days(days(k * n)))
                    .find(|d| set.has(d.weekday()))
            }
            Every::Weeks | Every::Biweekly => self.next_week_day(from, set),
            Every::Months => self.next_month_day(from),
            Every::Once | Every::Minutes | Every::Hours => None,
        }
    }

    /// Weeks run Sunday to Saturday (IICS lists `sun` first); the week holding `start` is week
    /// 0, and every `interval`-th week from it fires on its days in `days`.
    fn next_week_day(&self, from: NaiveDate, set: DaySet) -> Option<NaiveDate> {
        let n = if self.every == Every::Biweekly {
            2
        } else {
            i64::from(self.interval)
        };
        let start = self.start.date();
        let anchor = start.checked_sub_days(days(start.weekday().num_days_from_sunday().into()))?;
        let eligible = |d: &NaiveDate| (*d - anchor).num_days().div_euclid(7) % n == 0;
        // An eligible week comes within `n` weeks and has a day in `days`: at most 371 days.
        let span = usize::try_from(7 * (n + 1)).ok()?;
        from.iter_days()
            .take(span)
            .find(|d| set.has(d.weekday()) && eligible(d))
    }

    /// Every `interval`-th month from the start's month, on its chosen day; a month without
    /// that day (31 in April) is skipped, as cron does.
    fn next_month_day(&self, from: NaiveDate) -> Option<NaiveDate> {
        let start = self.start.date();
        let index = |d: NaiveDate| d.year() * 12 + d.month0() as i32;
        let n = self.interval as i32;
        let behind = (index(from) - index(start)).rem_euclid(n);
        let first = NaiveDate::from_ymd_opt(from.year(), from.month(), 1)?;
        let mut month = first.checked_add_months(Months::new(((n - behind) % n) as u32))?;
        for _ in 0..MONTH_TRIES {
            if let Some(day) = self.day_in_month(month).filter(|d| *d >= from) {
                return Some(day);
            }
            month = month.checked_add_months(Months::new(n as u32))?;
        }
        None
    }

    /// The chosen day of the month starting at `first`, if that month has it.
    fn day_in_month(&self, first: NaiveDate) -> Option<NaiveDate> {
        let len = first.checked_add_months(Months::new(1))?.pred_opt()?.day();
        let nth = |n: u32| first.with_day(n);
        match (self.day_of_month, self.week_of_month, self.day_of_week) {
            (Some(DayOfMonth::Day(d)), ..) => nth(d),
            (Some(DayOfMonth::Last), ..) => nth(len),
            (None, Some(week), Some(kind)) => {
                let mut matching = (1..=len).filter(|d| nth(*d).is_some_and(|x| kind.has(x)));
                // Every kind matches at least 4 days of any month, so "fourth" always exists.
                match week {
                    WeekOfMonth::Last => matching.next_back(),
                    other => matching.nth(other as usize),
                }
                .and_then(nth)
            }
            _ => nth(self.start.day()),
        }
    }

    /// Minutes / hours with no window: fire k is `start + k·interval` in real time; a fire on a
    /// day not in `days` is skipped, by jumping to the next allowed day's first fire.
    fn next_free_running(&self, zone: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let (set, start_at) = (self.day_set(), resolve(zone, self.start)?);
        let mut floor = after;
        // The step is at most a day, so each allowed day has a fire (bar a 24-hour step across a
        // 23-hour day): a few jumps reach one.
        for _ in 0..8 {
            let fire = grid_after(start_at, self.step(), floor)?;
            let day = fire.with_timezone(&zone).date_naive();
            if set.has(day.weekday()) {
                return Some(fire);
            }
            let next = set.next_on_or_after(day.succ_opt()?)?;
            let midnight = resolve(zone, next.and_time(NaiveTime::MIN))?;
            floor = midnight.checked_sub_signed(Duration::nanoseconds(1))?;
        }
        None
    }

    /// Minutes / hours in a window: each allowed day the count restarts at `from` (a fixed-time
    /// fire, so DST-resolved as one) and runs in real time up to and including `to`. `start` only
    /// bounds it: the first day's fires keep the window's grid.
    fn next_in_window(&self, zone: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let (set, from, to) = (self.day_set(), self.from_time?, self.to_time?);
        let start_at = resolve(zone, self.start)?;
        let floor = after.max(start_at.checked_sub_signed(Duration::nanoseconds(1))?);
        let around = after.with_timezone(&zone).date_naive().pred_opt()?;
        let mut day = around.max(self.start.date());
        // The day before `after`, its day, and a week to the next allowed day.
        for _ in 0..9 {
            if set.has(day.weekday()) {
                let opens = resolve(zone, day.and_time(from))?;
                let closes = resolve(zone, day.and_time(to))?;
                let fire = grid_after(opens, self.step(), floor)?;
                if fire <= closes {
                    return Some(fire);
                }
            }
            day = day.succ_opt()?;
        }
        None
    }

    /// The interval of minutes / hours, in seconds.
    fn step(&self) -> i64 {
        let unit = if self.every == Every::Hours { 3600 } else { 60 };
        i64::from(self.interval) * unit
    }
}

fn one() -> u32 {
    1
}

fn days(n: i64) -> Days {
    Days::new(n.max(0) as u64)
}

/// The first of `origin + k·step` (k ≥ 0, `step` in seconds) strictly after `floor`.
fn grid_after(origin: DateTime<Utc>, step: i64, floor: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if floor < origin {
        return Some(origin);
    }
    // Truncating whole seconds is a floor here (the difference is not negative), and `step`
    // is whole seconds, so this is floor((floor - origin) / step) + 1.
    let k = (floor - origin).num_seconds() / step + 1;
    origin.checked_add_signed(Duration::try_seconds(k.checked_mul(step)?)?)
}

/// The instant a local wall time means: in a fold its first occurrence, in a gap the first
/// instant after the gap.
fn resolve(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => gap_end(zone, local),
    }
}

/// The change that swallowed `local`: it happened between where `local` lands under the offset
/// after it (earlier) and under the one before it (later). Bisect whole seconds between the two
/// for the first instant whose wall clock reads past `local`.
fn gap_end(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let offset_near = |days: i64| -> Option<i64> {
        let probe = local.checked_add_signed(Duration::days(days))?;
        let offset = zone.offset_from_utc_datetime(&probe).fix();
        Some(offset.local_minus_utc().into())
    };
    let past = |secs: i64| {
        DateTime::from_timestamp(secs, 0)
            .is_some_and(|t| t.with_timezone(&zone).naive_local() > local)
    };
    let naive = local.and_utc().timestamp();
    let mut lo = naive - offset_near(1)?;
    let mut hi = naive - offset_near(-1)? + 1;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if past(mid) { hi = mid } else { lo = mid }
    }
    DateTime::from_timestamp(hi, 0)
}

/// A set of weekdays, one bit each from Sunday.
#[derive(Clone, Copy)]
struct DaySet(u8);

impl DaySet {
    fn bit(day: Weekday) -> u8 {
        1 << day.num_days_from_sunday()
    }

    fn has(self, day: Weekday) -> bool {
        self.0 & Self::bit(day) != 0
    }

    fn next_on_or_after(self, from: NaiveDate) -> Option<NaiveDate> {
        from.iter_days().take(7).find(|d| self.has(d.weekday()))
    }
}

impl DayOfWeek {
    fn has(self, date: NaiveDate) -> bool {
        let wd = date.weekday();
        let weekend = matches!(wd, Weekday::Sat | Weekday::Sun);
        match self {
            Self::Day => true,
            Self::Weekday => !weekend,
            Self::WeekendDay => weekend,
            one => one as u32 == wd.num_days_from_sunday(),
        }
    }
}

impl fmt::Display for Every {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Each variant is one word, so its serde name is its lowercased Debug name.
        f.write_str(&format!("{self:?}").to_lowercase())
    }
}

#[path = "frequency_serde.rs"]
mod serde_impls;
pub(crate) use serde_impls::{de_clock, de_start};
use serde_impls::{de_end, de_time};

#[cfg(test)]
#[path = "frequency_tests.rs"]
mod tests;
