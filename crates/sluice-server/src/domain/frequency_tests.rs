//! Frequency schedules with the clock passed in: the daylight-saving matrix (a fixed-time fire in
//! the gap and in the fold runs once; a 15-minute interval keeps its real-time spacing and its
//! count), each repeat kind, the window, start / end bounds, serde, and every refused field.
//! Dates are 2026's transitions, as in `schedule_tests.rs`.

use super::*;
use chrono::TimeZone;

#[path = "frequency_calendar_tests.rs"]
mod calendar;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, 0)
        .unwrap()
}

fn tz(zone: &str) -> Tz {
    zone.parse().unwrap()
}

/// A frequency from TOML (which also checks the serde shape), checked.
fn freq(toml_text: &str) -> Frequency {
    let f: Frequency = toml::from_str(toml_text).unwrap();
    f.check().unwrap();
    f
}

fn every(kind: Every, interval: u32, start: NaiveDateTime) -> Frequency {
    Frequency {
        every: kind,
        interval,
        start,
        end: None,
        days: None,
        from_time: None,
        to_time: None,
        day_of_month: None,
        week_of_month: None,
        day_of_week: None,
    }
}

/// Fires strictly after `from` and before `until`, capped so a bug cannot loop forever.
fn fires(
    f: &Frequency,
    zone: &str,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut at = from;
    while let Some(t) = f.next_after(tz(zone), at) {
        if t >= until || out.len() > 5000 {
            break;
        }
        assert!(t > at, "{t} is not after {at}");
        out.push(t);
        at = t;
    }
    out
}

/// Local wall times of fires, for readable assertions.
fn walls(fires: &[DateTime<Utc>], zone: &str) -> Vec<String> {
    let zone = tz(zone);
    fires
        .iter()
        .map(|t| t.with_timezone(&zone).format("%a %m-%d %H:%M").to_string())
        .collect()
}

struct Case {
    zone: &'static str,
    /// A local date-time inside the gap and the one UTC instant it fires (the end of the gap).
    gap_local: NaiveDateTime,
    gap_fire: DateTime<Utc>,
    /// A local date-time inside the fold and its one UTC fire (the first occurrence).
    fold_local: NaiveDateTime,
    fold_fire: DateTime<Utc>,
    /// UTC instants just before each change, on a 15-minute grid.
    spring: DateTime<Utc>,
    fall: DateTime<Utc>,
}

fn matrix() -> Vec<Case> {
    vec![
        // 2026-03-08 02:00 EST → 03:00 EDT; 2026-11-01 02:00 EDT → 01:00 EST.
        Case {
            zone: "America/New_York",
            gap_local: local(2026, 3, 8, 2, 30),
            gap_fire: utc(2026, 3, 8, 7, 0),
            fold_local: local(2026, 11, 1, 1, 30),
            fold_fire: utc(2026, 11, 1, 5, 30),
            spring: utc(2026, 3, 8, 4, 0),
            fall: utc(2026, 11, 1, 3, 0),
        },
        // 2026-03-29 02:00 CET → 03:00 CEST; 2026-10-25 03:00 CEST → 02:00 CET.
        Case {
            zone: "Europe/Berlin",
            gap_local: local(2026, 3, 29, 2, 30),
            gap_fire: utc(2026, 3, 29, 1, 0),
            fold_local: local(2026, 10, 25, 2, 30),
            fold_fire: utc(2026, 10, 25, 0, 30),
            spring: utc(2026, 3, 28, 22, 0),
            fall: utc(2026, 10, 24, 22, 0),
        },
        // A 30-minute shift: 2026-10-04 02:00 (+10:30) → 02:30 (+11); 2026-04-05 02:00 (+11) →
        // 01:30 (+10:30).
        Case {
            zone: "Australia/Lord_Howe",
            gap_local: local(2026, 10, 4, 2, 15),
            gap_fire: utc(2026, 10, 3, 15, 30),
            fold_local: local(2026, 4, 5, 1, 45),
            fold_fire: utc(2026, 4, 4, 14, 45),
            spring: utc(2026, 10, 3, 12, 0),
            fall: utc(2026, 4, 4, 12, 0),
        },
        // Changes at midnight: 2026-03-08 00:00 CST → 01:00 CDT (a midnight fire runs at 01:00);
        // 2026-11-01 01:00 CDT → 00:00 CST.
        Case {
            zone: "America/Havana",
            gap_local: local(2026, 3, 8, 0, 0),
            gap_fire: utc(2026, 3, 8, 5, 0),
            fold_local: local(2026, 11, 1, 0, 30),
            fold_fire: utc(2026, 11, 1, 4, 30),
            spring: utc(2026, 3, 8, 2, 0),
            fall: utc(2026, 11, 1, 2, 0),
        },
    ]
}

/// A daily schedule at `at`'s time of day, started a week earlier.
fn daily_at(at: NaiveDateTime) -> Frequency {
    every(Every::Days, 1, at - Duration::days(7))
}

#[test]
fn a_daily_fire_in_the_gap_runs_once_at_the_end_of_the_gap() {
    for c in matrix() {
        let f = daily_at(c.gap_local);
        let got = fires(
            &f,
            c.zone,
            c.gap_fire - Duration::hours(20),
            c.gap_fire + Duration::hours(20),
        );
        assert_eq!(got, vec![c.gap_fire], "{}", c.zone);
    }
}

#[test]
fn a_daily_fire_in_the_fold_runs_once_at_its_first_occurrence() {
    for c in matrix() {
        let f = daily_at(c.fold_local);
        let got = fires(
            &f,
            c.zone,
            c.fold_fire - Duration::hours(20),
            c.fold_fire + Duration::hours(20),
        );
        assert_eq!(got, vec![c.fold_fire], "{}", c.zone);
    }
}

#[test]
fn fixed_time_fires_in_the_gap_and_fold_hold_for_weekly_monthly_and_once() {
    for c in matrix() {
        for (at, fire) in [(c.gap_local, c.gap_fire), (c.fold_local, c.fold_fire)] {
            let once = every(Every::Once, 1, at);
            assert_eq!(
                once.next_after(tz(c.zone), fire - Duration::days(1)),
                Some(fire)
            );
            let weekly = every(Every::Weeks, 1, at - Duration::days(7));
            assert_eq!(
                weekly.next_after(tz(c.zone), fire - Duration::days(1)),
                Some(fire)
            );
            let mut monthly = every(Every::Months, 1, at - Months::new(1));
            monthly.day_of_month = Some(DayOfMonth::Day(at.day()));
            assert_eq!(
                monthly.next_after(tz(c.zone), fire - Duration::days(1)),
                Some(fire),
                "{}",
                c.zone
            );
        }
    }
}

#[test]
fn every_15_minutes_keeps_real_time_spacing_and_count_through_both_changes() {
    for c in matrix() {
        let f = every(Every::Minutes, 15, local(2026, 1, 1, 0, 0));
        for around in [c.spring, c.fall] {
            let got = fires(&f, c.zone, around, around + Duration::hours(12));
            let gaps: Vec<i64> = got
                .windows(2)
                .map(|w| (w[1] - w[0]).num_minutes())
                .collect();
            assert!(
                gaps.iter().all(|g| *g == 15),
                "{} at {around}: {gaps:?}",
                c.zone
            );
            // (around, around + 12 h) holds 12·4 − 1 grid points: `after` itself is excluded.
            assert_eq!(got.len(), 47, "{} at {around}", c.zone);
        }
    }
}

#[test]
fn a_15_minute_window_spanning_each_change_counts_real_time() {
    for c in matrix() {
        // A window from 00:00 to 06:00 local on the change day: the grid runs in real time, so
        // the day that loses time has fewer fires and the day that gains has more.
        let mut f = every(Every::Minutes, 15, local(2026, 1, 1, 0, 0));
        f.from_time = NaiveTime::from_hms_opt(0, 0, 0);
        f.to_time = NaiveTime::from_hms_opt(6, 0, 0);
        for day in [c.gap_local.date(), c.fold_local.date()] {
            let opens = resolve(tz(c.zone), day.and_time(NaiveTime::MIN)).unwrap();
            let closes = resolve(tz(c.zone), day.and_hms_opt(6, 0, 0).unwrap()).unwrap();
            let got = fires(
                &f,
                c.zone,
                opens - Duration::seconds(1),
                opens + Duration::hours(12),
            );
            let gaps: Vec<i64> = got
                .windows(2)
                .map(|w| (w[1] - w[0]).num_minutes())
                .collect();
            assert!(gaps.iter().all(|g| *g == 15), "{}: {gaps:?}", c.zone);
            assert_eq!(got.last(), Some(&closes), "{}: inclusive end", c.zone);
            let real = (closes - opens).num_minutes();
            assert_eq!(got.len() as i64, real / 15 + 1, "{} on {day}", c.zone);
            assert_ne!(
                real, 360,
                "{} on {day}: the window spans the change",
                c.zone
            );
        }
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    const KINDS: [Every; 7] = [
        Every::Once,
        Every::Minutes,
        Every::Hours,
        Every::Days,
        Every::Weeks,
        Every::Biweekly,
        Every::Months,
    ];
    const WEEKS: [WeekOfMonth; 5] = [
        WeekOfMonth::First,
        WeekOfMonth::Second,
        WeekOfMonth::Third,
        WeekOfMonth::Fourth,
        WeekOfMonth::Last,
    ];
    const KINDS_OF_DAY: [DayOfWeek; 10] = [
        DayOfWeek::Sunday,
        DayOfWeek::Monday,
        DayOfWeek::Tuesday,
        DayOfWeek::Wednesday,
        DayOfWeek::Thursday,
        DayOfWeek::Friday,
        DayOfWeek::Saturday,
        DayOfWeek::Day,
        DayOfWeek::Weekday,
        DayOfWeek::WeekendDay,
    ];
    const ZONES: [&str; 7] = [
        "America/New_York",
        "Europe/Berlin",
        "Australia/Lord_Howe",
        "America/Havana",
        "America/Santiago",
        "Asia/Kolkata",
        "UTC",
    ];

    /// Frequencies of every kind, with each field drawn only where it applies.
    fn any_frequency() -> impl Strategy<Value = Frequency> {
        let shape = (0..7usize, 1..=40u32, 0..2 * 365 * 24 * 60i64, 1..=0x7fu8);
        let extra = (
            any::<bool>(),
            0..1440u32,
            1..600u32,
            0..40u32,
            0..6usize,
            0..10usize,
        );
        (shape, extra)
            .prop_map(
                |((kind, n, start_min, bits), (some_days, from, len, dom, wom, dow))| {
                    let every_kind = KINDS[kind];
                    let interval = match every_kind {
                        Every::Minutes | Every::Days => n,
                        Every::Hours => n % 24 + 1,
                        Every::Weeks => n % 5 + 1,
                        Every::Months => n % 12 + 1,
                        Every::Once | Every::Biweekly => 1,
                    };
                    let start = local(2026, 1, 1, 0, 0) + Duration::minutes(start_min);
                    let mut f = every(every_kind, interval, start);
                    if some_days && !matches!(every_kind, Every::Once | Every::Months) {
                        let all = [
                            Weekday::Sun,
                            Weekday::Mon,
                            Weekday::Tue,
                            Weekday::Wed,
                            Weekday::Thu,
                            Weekday::Fri,
                            Weekday::Sat,
                        ];
                        f.days = Some(
                            all.into_iter()
                                .filter(|d| bits & (1 << d.num_days_from_sunday()) != 0)
                                .collect(),
                        );
                    }
                    if matches!(every_kind, Every::Minutes | Every::Hours)
                        && from + len < 1440
                        && dom % 2 == 0
                    {
                        f.from_time = NaiveTime::from_num_seconds_from_midnight_opt(from * 60, 0);
                        f.to_time =
                            NaiveTime::from_num_seconds_from_midnight_opt((from + len) * 60, 0);
                    }
                    if every_kind == Every::Months {
                        match dom {
                            1..=31 => f.day_of_month = Some(DayOfMonth::Day(dom)),
                            32 => f.day_of_month = Some(DayOfMonth::Last),
                            0 if wom < 5 => {
                                f.week_of_month = Some(WEEKS[wom]);
                                f.day_of_week = Some(KINDS_OF_DAY[dow]);
                            }
                            _ => {}
                        }
                    }
                    f
                },
            )
            .prop_filter("checks", |f| f.check().is_ok())
    }

    proptest! {
        /// The answer is after `after`, within the schedule's bounds, and nothing is skipped:
        /// asking from any instant between `after` and the answer gives the same answer.
        #[test]
        fn next_after_is_consistent(
            f in any_frequency(),
            zone in 0..ZONES.len(),
            after_min in -30 * 24 * 60..3 * 365 * 24 * 60i64,
            probes in proptest::collection::vec(0.0..1.0f64, 1..6),
        ) {
            let zone = ZONES[zone];
            let after = resolve(tz(zone), f.start).unwrap() + Duration::minutes(after_min);
            let Some(fire) = f.next_after(tz(zone), after) else { return Ok(()) };
            prop_assert!(fire > after);
            prop_assert!(fire >= resolve(tz(zone), f.start).unwrap());
            let span = (fire - after).num_seconds();
            for p in probes {
                let at = after + Duration::seconds((span as f64 * p) as i64);
                if at < fire {
                    prop_assert_eq!(f.next_after(tz(zone), at), Some(fire), "from {}", at);
                }
            }
            prop_assert_eq!(f.next_after(tz(zone), fire - Duration::nanoseconds(1)), Some(fire));
            let days = f.day_set();
            let wall = fire.with_timezone(&tz(zone));
            let any_day = matches!(f.every, Every::Months | Every::Once);
            prop_assert!(any_day || days.has(wall.weekday()));
        }
    }
}
