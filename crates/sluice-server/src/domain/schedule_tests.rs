//! The daylight-saving matrix: for each zone, a fixed-time fire in the spring-forward gap runs
//! once after the gap, one in the fall-back fold runs once, and an interval keeps its real-time
//! spacing through both. Dates are 2026's transitions.

use super::*;
use chrono::TimeZone;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// Fires of `cron` in `zone` from `from` (UTC) for `hours` hours.
fn fires(cron: &str, zone: &str, from: DateTime<Utc>, hours: i64) -> Vec<DateTime<Utc>> {
    let t = Timing::cron(cron, zone).unwrap();
    let end = from + chrono::Duration::hours(hours);
    t.next_fires(from, 10_000)
        .into_iter()
        .take_while(|f| *f < end)
        .collect()
}

struct Case {
    zone: &'static str,
    /// A fixed local time inside the gap, as a cron expression, and the one UTC instant it fires.
    gap_cron: &'static str,
    gap_day: DateTime<Utc>,
    gap_fire: DateTime<Utc>,
    /// A fixed local time inside the fold, and its one UTC fire (the first occurrence).
    fold_cron: &'static str,
    fold_day: DateTime<Utc>,
    fold_fire: DateTime<Utc>,
}

fn matrix() -> Vec<Case> {
    vec![
        // 2026-03-08 02:00 EST → 03:00 EDT; 2026-11-01 02:00 EDT → 01:00 EST.
        Case {
            zone: "America/New_York",
            gap_cron: "30 2 * * *",
            gap_day: utc(2026, 3, 8, 0, 0),
            gap_fire: utc(2026, 3, 8, 7, 0),
            fold_cron: "30 1 * * *",
            fold_day: utc(2026, 11, 1, 0, 0),
            fold_fire: utc(2026, 11, 1, 5, 30),
        },
        // 2026-03-29 02:00 CET → 03:00 CEST; 2026-10-25 03:00 CEST → 02:00 CET.
        Case {
            zone: "Europe/Berlin",
            gap_cron: "0 30 2 * * *",
            gap_day: utc(2026, 3, 28, 12, 0),
            gap_fire: utc(2026, 3, 29, 1, 0),
            fold_cron: "0 30 2 * * *",
            fold_day: utc(2026, 10, 24, 12, 0),
            fold_fire: utc(2026, 10, 25, 0, 30),
        },
        // A 30-minute shift: 2026-10-04 02:00 (+10:30) → 02:30 (+11); 2026-04-05 02:00 (+11) →
        // 01:30 (+10:30).
        Case {
            zone: "Australia/Lord_Howe",
            gap_cron: "15 2 * * *",
            gap_day: utc(2026, 10, 3, 0, 0),
            gap_fire: utc(2026, 10, 3, 15, 30),
            fold_cron: "45 1 * * *",
            fold_day: utc(2026, 4, 4, 0, 0),
            fold_fire: utc(2026, 4, 4, 14, 45),
        },
        // Changes at midnight: 2026-03-08 00:00 CST → 01:00 CDT (a daily midnight fire is not
        // skipped: it runs at 01:00); 2026-11-01 01:00 CDT → 00:00 CST.
        Case {
            zone: "America/Havana",
            gap_cron: "0 0 * * *",
            gap_day: utc(2026, 3, 7, 12, 0),
            gap_fire: utc(2026, 3, 8, 5, 0),
            fold_cron: "30 0 * * *",
            fold_day: utc(2026, 10, 31, 12, 0),
            fold_fire: utc(2026, 11, 1, 4, 30),
        },
    ]
}

#[test]
fn a_fixed_time_in_the_gap_fires_once_at_the_end_of_the_gap() {
    for c in matrix() {
        let got = fires(c.gap_cron, c.zone, c.gap_day, 30);
        assert_eq!(got.first(), Some(&c.gap_fire), "{}: {got:?}", c.zone);
        let that_day: Vec<_> = got
            .iter()
            .filter(|f| (**f - c.gap_fire).num_hours().abs() < 12)
            .collect();
        assert_eq!(that_day.len(), 1, "{}: once on the day of the gap", c.zone);
    }
}

#[test]
fn a_fixed_time_in_the_fold_fires_once() {
    for c in matrix() {
        let got = fires(c.fold_cron, c.zone, c.fold_day, 24);
        assert_eq!(got, vec![c.fold_fire], "{}", c.zone);
    }
}

#[test]
fn an_interval_keeps_its_spacing_in_real_time_through_both_changes() {
    for c in matrix() {
        for day in [c.gap_day, c.fold_day] {
            let got = fires("*/15 * * * *", c.zone, day, 48);
            let gaps: Vec<i64> = got
                .windows(2)
                .map(|w| (w[1] - w[0]).num_minutes())
                .collect();
            assert!(
                gaps.iter().all(|g| *g == 15),
                "{} from {day}: {gaps:?}",
                c.zone
            );
        }
    }
}

#[test]
fn bad_timings_say_which_field() {
    assert!(matches!(
        Timing::cron("0 30 2 * * *", "Mars/Olympus"),
        Err(TimingError::Zone(_))
    ));
    assert!(matches!(
        Timing::cron("61 * * * *", "UTC"),
        Err(TimingError::Cron(_))
    ));
    assert!(matches!(
        Timing::cron(&"1,".repeat(500), "UTC"),
        Err(TimingError::Cron(_))
    ));
    let last_friday = Timing::cron("0 0 18 * * 5L", "Europe/Berlin").unwrap();
    let next = last_friday.next_after(utc(2026, 12, 1, 0, 0)).unwrap();
    assert_eq!(
        next,
        utc(2026, 12, 25, 17, 0),
        "the last Friday of December, 18:00 CET"
    );
}
