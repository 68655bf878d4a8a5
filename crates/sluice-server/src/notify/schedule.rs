//! When a failed callback is tried again.

use chrono::{DateTime, Utc};
use std::time::Duration;

/// Attempts made back to back before backing off.
pub const IMMEDIATE_ATTEMPTS: i64 = 3;
/// The first interval after the immediate attempts; it doubles up to [`MAX_INTERVAL`].
pub const FIRST_INTERVAL: Duration = Duration::from_secs(30);
pub const MAX_INTERVAL: Duration = Duration::from_secs(180);
/// No attempt is started later than this after the run ended.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(30 * 60);

/// After `attempts` failed attempts of a callback queued at `created`, the time of the next, or
/// None when it is time to give up.
pub fn next_attempt(
    attempts: i64,
    created: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let delay = if attempts < IMMEDIATE_ATTEMPTS {
        Duration::ZERO
    } else {
        let doublings = (attempts - IMMEDIATE_ATTEMPTS).min(8) as u32;
        (FIRST_INTERVAL * 2u32.pow(doublings)).min(MAX_INTERVAL)
    };
    let at = now + delay;
    (at <= created + GIVE_UP_AFTER).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_immediate_then_backoff_capped_then_give_up() {
        let t0 = Utc::now();
        assert_eq!(next_attempt(1, t0, t0), Some(t0));
        assert_eq!(next_attempt(2, t0, t0), Some(t0));
        assert_eq!(next_attempt(3, t0, t0), Some(t0 + FIRST_INTERVAL));
        assert_eq!(next_attempt(4, t0, t0), Some(t0 + FIRST_INTERVAL * 2));
        assert_eq!(next_attempt(5, t0, t0), Some(t0 + FIRST_INTERVAL * 4));
        assert_eq!(next_attempt(6, t0, t0), Some(t0 + MAX_INTERVAL));
        assert_eq!(next_attempt(40, t0, t0), Some(t0 + MAX_INTERVAL));
        let late = t0 + GIVE_UP_AFTER - Duration::from_secs(60);
        assert_eq!(next_attempt(9, t0, late), None);
    }

    #[test]
    fn the_whole_schedule_spans_thirty_minutes() {
        let t0 = Utc::now();
        let (mut now, mut attempts) = (t0, 1);
        while let Some(at) = next_attempt(attempts, t0, now) {
            now = at;
            attempts += 1;
        }
        assert!(now <= t0 + GIVE_UP_AFTER);
        assert!(now >= t0 + GIVE_UP_AFTER - MAX_INTERVAL);
        assert!((12..=20).contains(&attempts), "{attempts} attempts");
    }
}
