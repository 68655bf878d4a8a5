//! Catch-up after downtime: each policy, the window, the per-pass cap, and a backlog too long to
//! step through.

use super::*;
use chrono::TimeZone;

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, h, m, s).unwrap()
}

fn every_minute() -> Timing {
    Timing::cron("0 * * * * *", "UTC").unwrap()
}

const DAY: Duration = Duration::days(1);

#[test]
fn a_fire_on_time_is_made_by_every_policy() {
    for policy in [CatchUp::None, CatchUp::Last, CatchUp::All] {
        let p = plan(&every_minute(), policy, DAY, at(1, 0, 0), at(1, 0, 0));
        assert_eq!(p.fires, vec![at(1, 0, 0)], "{policy}");
        assert_eq!(p.skipped, 0);
        assert_eq!(p.next, Some(at(1, 1, 0)));
    }
}

#[test]
fn nothing_is_made_before_the_fire_is_due() {
    let p = plan(
        &every_minute(),
        CatchUp::All,
        DAY,
        at(1, 0, 0),
        at(0, 59, 59),
    );
    assert!(p.fires.is_empty());
    assert_eq!(p.next, Some(at(1, 0, 0)));
}

#[test]
fn last_makes_one_run_for_the_missed_fires() {
    // Down from 01:00 to 01:10:30: eleven fires due.
    let p = plan(
        &every_minute(),
        CatchUp::Last,
        DAY,
        at(1, 0, 0),
        at(1, 10, 30),
    );
    assert_eq!(p.fires, vec![at(1, 10, 0)]);
    assert_eq!(p.skipped, 10);
    assert_eq!(p.next, Some(at(1, 11, 0)));
}

#[test]
fn none_skips_missed_fires_but_runs_one_still_on_time() {
    let late = plan(
        &every_minute(),
        CatchUp::None,
        DAY,
        at(1, 0, 0),
        at(1, 10, 30),
    );
    assert_eq!(
        late.fires,
        vec![at(1, 10, 0)],
        "30 s late is within the grace"
    );
    assert_eq!(late.skipped, 10);
    let hourly = Timing::cron("0 0 * * * *", "UTC").unwrap();
    let missed = plan(&hourly, CatchUp::None, DAY, at(1, 0, 0), at(3, 30, 0));
    assert!(missed.fires.is_empty());
    assert_eq!(missed.skipped, 3);
    assert_eq!(missed.next, Some(at(4, 0, 0)));
}

#[test]
fn all_runs_every_missed_fire_in_order() {
    let p = plan(&every_minute(), CatchUp::All, DAY, at(1, 0, 0), at(1, 3, 0));
    assert_eq!(
        p.fires,
        vec![at(1, 0, 0), at(1, 1, 0), at(1, 2, 0), at(1, 3, 0)]
    );
    assert_eq!(p.next, Some(at(1, 4, 0)));
}

#[test]
fn all_is_capped_per_pass_and_the_rest_stays_due() {
    let per_second = Timing::cron("* * * * * *", "UTC").unwrap();
    let p = plan(&per_second, CatchUp::All, DAY, at(1, 0, 0), at(2, 0, 0));
    assert_eq!(p.fires.len(), MAX_FIRES_PER_PASS);
    assert_eq!(p.fires[0], at(1, 0, 0));
    let next = p.next.unwrap();
    assert_eq!(
        next,
        at(1, 0, 0) + Duration::seconds(MAX_FIRES_PER_PASS as i64)
    );
    assert!(
        next <= at(2, 0, 0),
        "the next pass goes on with the backlog"
    );
}

#[test]
fn fires_older_than_the_window_are_skipped_whatever_the_policy() {
    let window = Duration::minutes(5);
    let p = plan(
        &every_minute(),
        CatchUp::All,
        window,
        at(1, 0, 0),
        at(1, 10, 30),
    );
    assert_eq!(p.fires.first(), Some(&at(1, 6, 0)));
    assert_eq!(p.fires.len(), 5);
    assert_eq!(p.skipped, 6);
}

#[test]
fn a_week_of_per_second_backlog_is_planned_without_stepping_through_it() {
    let per_second = Timing::cron("* * * * * *", "UTC").unwrap();
    let down = Utc.with_ymd_and_hms(2026, 5, 25, 0, 0, 0).unwrap();
    let p = plan(&per_second, CatchUp::Last, DAY, down, at(1, 0, 0));
    assert_eq!(p.fires, vec![at(1, 0, 0)]);
    assert_eq!(p.next, Some(at(1, 0, 1)));
    // Counting is bounded, so the count is a floor, not the 518,400 fires really missed.
    assert!(p.skipped >= 10_000);
}

#[test]
fn a_yearly_fire_waits_a_year_after_it_is_made() {
    let once = Timing::cron("0 0 12 1 6 *", "UTC").unwrap();
    let p = plan(&once, CatchUp::Last, DAY, at(12, 0, 0), at(12, 0, 1));
    assert_eq!(p.fires, vec![at(12, 0, 0)]);
    let next_year = Utc.with_ymd_and_hms(2027, 6, 1, 12, 0, 0).unwrap();
    assert_eq!(p.next, Some(next_year));
}

#[test]
fn fires_in_a_blackout_are_skipped_not_caught_up() {
    let in_blackout = |t: DateTime<Utc>| t >= at(1, 1, 0) && t < at(1, 3, 0);
    let p = plan_outside(
        &every_minute(),
        CatchUp::All,
        DAY,
        at(1, 0, 0),
        at(1, 4, 0),
        in_blackout,
    );
    assert_eq!(p.fires, vec![at(1, 0, 0), at(1, 3, 0), at(1, 4, 0)]);
    assert_eq!(p.skipped, 2);
    let on_time = plan_outside(
        &every_minute(),
        CatchUp::Last,
        DAY,
        at(1, 2, 0),
        at(1, 2, 0),
        in_blackout,
    );
    assert!(on_time.fires.is_empty());
    assert_eq!(on_time.next, Some(at(1, 3, 0)));
}

#[test]
fn a_backfill_makes_the_fires_of_its_range_by_policy() {
    let hourly = Timing::cron("0 0 * * * *", "UTC").unwrap();
    let all = backfill(&hourly, CatchUp::All, at(1, 0, 0), at(4, 0, 0)).unwrap();
    assert_eq!(
        all,
        vec![at(1, 0, 0), at(2, 0, 0), at(3, 0, 0), at(4, 0, 0)]
    );
    assert_eq!(
        backfill(&hourly, CatchUp::Last, at(1, 0, 0), at(4, 30, 0)).unwrap(),
        vec![at(4, 0, 0)]
    );
    assert!(
        backfill(&hourly, CatchUp::None, at(1, 0, 0), at(4, 0, 0))
            .unwrap()
            .is_empty()
    );
    assert!(backfill(&hourly, CatchUp::All, at(4, 0, 0), at(1, 0, 0)).is_err());
    let per_second = Timing::cron("* * * * * *", "UTC").unwrap();
    let e = backfill(&per_second, CatchUp::All, at(1, 0, 0), at(2, 0, 0)).unwrap_err();
    assert!(e.contains("more than 1000"), "{e}");
}
