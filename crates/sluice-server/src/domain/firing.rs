//! Which fires a due schedule makes now: the fires due since its last one, thinned by its
//! catch-up policy and window, and the next fire to wait for. Every store runs this inside the
//! transaction that advances the schedule, so what a fire makes is decided once. Pure: the clock
//! is passed in, and every search is bounded, whatever the rule and however long the downtime.

use super::schedule::{CatchUp, Timing};
use chrono::{DateTime, Duration, Utc};

/// How late a fire may be and still count as on time under `catch_up = "none"`.
pub const GRACE: Duration = Duration::seconds(60);

/// Most fires one pass makes for one schedule under `catch_up = "all"`; the rest are made by
/// the next passes, so a long backlog never holds one transaction long.
pub const MAX_FIRES_PER_PASS: usize = 500;

/// What a pass over a due schedule does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The fires to make now, oldest first.
    pub fires: Vec<DateTime<Utc>>,
    /// Due fires left out by the policy or the window.
    pub skipped: u64,
    /// The schedule's next fire to wait for (may be due already, when a pass was capped).
    pub next: Option<DateTime<Utc>>,
}

/// The fires due for a schedule whose next fire `due` is at or before `now`.
pub fn plan(
    timing: &Timing,
    policy: CatchUp,
    window: Duration,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Plan {
    if due > now {
        return Plan {
            fires: Vec::new(),
            skipped: 0,
            next: Some(due),
        };
    }
    // Fires older than the window are skipped whatever the policy; jump over them rather than
    // step through them (a per-second schedule after a week down has 600,000).
    let floor = now - window;
    let (first, mut skipped) = if due < floor {
        let first = timing.next_after(floor - Duration::microseconds(1));
        (first, count_between(timing, due, floor))
    } else {
        (Some(due), 0)
    };
    let Some(first) = first.filter(|f| *f <= now) else {
        return Plan {
            fires: Vec::new(),
            skipped,
            next: first.or_else(|| timing.next_after(now)),
        };
    };
    if policy == CatchUp::All {
        let mut fires = vec![first];
        let mut next = timing.next_after(first);
        while let Some(t) = next.filter(|t| *t <= now) {
            if fires.len() == MAX_FIRES_PER_PASS {
                break;
            }
            fires.push(t);
            next = timing.next_after(t);
        }
        return Plan {
            fires,
            skipped,
            next,
        };
    }
    let (latest, earlier) = latest_at_or_before(timing, first, now);
    skipped += earlier;
    let fires = if policy == CatchUp::None && now - latest > GRACE {
        skipped += 1;
        Vec::new()
    } else {
        vec![latest]
    };
    Plan {
        fires,
        skipped,
        next: timing.next_after(now),
    }
}

/// [`plan`], with the fires that fall in a blackout (`blacked_out` answers whether an instant
/// does) skipped, not made: they count as skipped.
pub fn plan_outside(
    timing: &Timing,
    policy: CatchUp,
    window: Duration,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    blacked_out: impl Fn(DateTime<Utc>) -> bool,
) -> Plan {
    let mut p = plan(timing, policy, window, due, now);
    let before = p.fires.len();
    p.fires.retain(|t| !blacked_out(*t));
    p.skipped += (before - p.fires.len()) as u64;
    p
}

/// Most fires one backfill makes.
pub const MAX_BACKFILL: usize = 1000;

/// The fires a backfill from `from` to `to` (both included) makes under `policy`: every one
/// (`all`), the latest (`last`), or none (`none`: a backfill that makes nothing is refused by
/// the caller). Refuses a range holding more than [`MAX_BACKFILL`] fires under `all`.
pub fn backfill(
    timing: &Timing,
    policy: CatchUp,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, String> {
    if to < from {
        return Err("to: before from".into());
    }
    let first = timing.next_after(from - Duration::microseconds(1));
    let Some(first) = first.filter(|f| *f <= to) else {
        return Ok(Vec::new());
    };
    match policy {
        CatchUp::None => Ok(Vec::new()),
        CatchUp::Last => Ok(vec![latest_at_or_before(timing, first, to).0]),
        CatchUp::All => {
            let mut fires = vec![first];
            while let Some(t) = timing
                .next_after(*fires.last().expect("one"))
                .filter(|t| *t <= to)
            {
                if fires.len() == MAX_BACKFILL {
                    return Err(format!(
                        "the range holds more than {MAX_BACKFILL} fires; backfill it in parts"
                    ));
                }
                fires.push(t);
            }
            Ok(fires)
        }
    }
}

/// Counts fires in `[from, to)`, stopping at a bound: a count for the log, not a promise.
fn count_between(timing: &Timing, from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    const MAX_COUNT: u64 = 10_000;
    let mut n = 1;
    let mut at = from;
    while n < MAX_COUNT {
        match timing.next_after(at) {
            Some(t) if t < to => {
                n += 1;
                at = t;
            }
            _ => break,
        }
    }
    n
}

/// The latest fire at or before `now`, given `first`, a fire at or before it; and how many
/// fires came between. Looks back from `now` over doubling spans, so the steps taken are about
/// the fires in the last span, not all those since `first`.
fn latest_at_or_before(
    timing: &Timing,
    first: DateTime<Utc>,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, u64) {
    let mut span = Duration::seconds(1);
    let mut start = first;
    while now - span > first {
        match timing.next_after(now - span) {
            Some(t) if t <= now => {
                start = t;
                break;
            }
            _ => span = span * 2,
        }
    }
    let earlier = if start > first {
        count_between(timing, first, start)
    } else {
        0
    };
    let mut latest = start;
    let mut steps = earlier;
    // The span holds few fires (it was the first to hold any); bound the walk all the same.
    for _ in 0..100_000 {
        match timing.next_after(latest) {
            Some(t) if t <= now => {
                latest = t;
                steps += 1;
            }
            _ => break,
        }
    }
    (latest, steps)
}

#[cfg(test)]
#[path = "firing_tests.rs"]
mod tests;
