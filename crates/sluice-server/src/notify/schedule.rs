//! When a failed callback is tried again: a number of immediate attempts, then intervals doubling
//! from a first one up to a cap, until a time after the round started. Pure: `now` is given.

use crate::config::NotifyConfig;
use chrono::{DateTime, Utc};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub immediate_attempts: i64,
    pub first_interval: Duration,
    pub max_interval: Duration,
    pub give_up_after: Duration,
}

impl Default for Schedule {
    /// The schedule IICS documents: three immediate attempts, then 30 s doubling to 3 minutes,
    /// for 30 minutes.
    fn default() -> Self {
        Schedule::from(&NotifyConfig::default())
    }
}

impl From<&NotifyConfig> for Schedule {
    fn from(c: &NotifyConfig) -> Self {
        Schedule {
            immediate_attempts: i64::from(c.immediate_attempts.max(1)),
            first_interval: Duration::from_millis(c.first_interval_ms.max(1)),
            max_interval: Duration::from_millis(c.max_interval_ms.max(c.first_interval_ms).max(1)),
            give_up_after: Duration::from_secs(c.give_up_after_secs),
        }
    }
}

impl Schedule {
    /// After `attempts` failed attempts of a round that started at `started`, the time of the
    /// next, or None when it is time to give up.
    pub fn next_attempt(
        &self,
        attempts: i64,
        started: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let delay = if attempts < self.immediate_attempts {
            Duration::ZERO
        } else {
            let doublings = (attempts - self.immediate_attempts).min(16) as u32;
            (self.first_interval * 2u32.pow(doublings)).min(self.max_interval)
        };
        let at = now + delay;
        (at <= started + self.give_up_after).then_some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_immediate_then_backoff_capped_then_give_up() {
        let s = Schedule::default();
        let (first, max) = (s.first_interval, s.max_interval);
        assert_eq!((first.as_secs(), max.as_secs()), (30, 180));
        let t0 = Utc::now();
        assert_eq!(s.next_attempt(1, t0, t0), Some(t0));
        assert_eq!(s.next_attempt(2, t0, t0), Some(t0));
        assert_eq!(s.next_attempt(3, t0, t0), Some(t0 + first));
        assert_eq!(s.next_attempt(4, t0, t0), Some(t0 + first * 2));
        assert_eq!(s.next_attempt(5, t0, t0), Some(t0 + first * 4));
        assert_eq!(s.next_attempt(6, t0, t0), Some(t0 + max));
        assert_eq!(s.next_attempt(40, t0, t0), Some(t0 + max));
        let late = t0 + s.give_up_after - Duration::from_secs(60);
        assert_eq!(s.next_attempt(9, t0, late), None);
    }

    /// The whole IICS schedule, walked on an injected clock: attempts at 0, 0, 0, 30 s, 1 min 30,
    /// 3 min 30, then every 3 minutes, none after 30 minutes.
    #[test]
    fn the_whole_schedule_spans_thirty_minutes() {
        let s = Schedule::default();
        let t0 = Utc::now();
        let (mut now, mut attempts, mut times) = (t0, 1, vec![0]);
        while let Some(at) = s.next_attempt(attempts, t0, now) {
            now = at;
            attempts += 1;
            times.push((at - t0).num_seconds());
        }
        assert_eq!(&times[..7], &[0, 0, 0, 30, 90, 210, 390]);
        assert!(
            times.windows(2).skip(6).all(|w| w[1] - w[0] == 180),
            "{times:?}"
        );
        assert!(*times.last().unwrap() <= 1800);
        assert!(*times.last().unwrap() > 1800 - 180);
    }

    #[test]
    fn a_configured_schedule() {
        let s = Schedule::from(&NotifyConfig {
            immediate_attempts: 1,
            first_interval_ms: 100,
            max_interval_ms: 250,
            give_up_after_secs: 1,
            ..NotifyConfig::default()
        });
        let t0 = Utc::now();
        let ms = |n| std::time::Duration::from_millis(n);
        assert_eq!(s.next_attempt(1, t0, t0), Some(t0 + ms(100)));
        assert_eq!(s.next_attempt(2, t0, t0), Some(t0 + ms(200)));
        assert_eq!(s.next_attempt(3, t0, t0), Some(t0 + ms(250)));
        assert_eq!(s.next_attempt(4, t0, t0 + ms(900)), None);
    }
}
