//! When a token with an idle limit counts as used: a rule both backends share.

use chrono::{DateTime, Duration, Utc};

/// What a successful token lookup means for the stored row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenUse {
    /// Move the token's last use to now.
    pub touch: bool,
    /// When the token now expires (absolute expiry or idle end, whichever is first).
    pub expiry: Option<DateTime<Utc>>,
}

/// A token found valid at `now`, with its absolute expiry, idle limit (seconds) and last use.
pub(crate) fn token_use(
    now: DateTime<Utc>,
    expires: Option<DateTime<Utc>>,
    idle_secs: Option<i64>,
    last_used: Option<DateTime<Utc>>,
) -> TokenUse {
    let Some(idle_secs) = idle_secs else {
        return TokenUse {
            touch: false,
            expiry: expires,
        };
    };
    let idle = Duration::seconds(idle_secs);
    let used = last_used.unwrap_or(DateTime::UNIX_EPOCH);
    // Moving the mark on every request would make every read a write: move it only when a
    // noticeable part of the idle time has passed (a 30-minute session: every 15 seconds).
    let step = (idle / 4).min(Duration::seconds(15));
    let idle_end = now.max(used) + idle;
    TokenUse {
        touch: now - used >= step,
        expiry: Some(expires.map_or(idle_end, |e| e.min(idle_end))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_tokens_are_touched_in_steps_and_expire_at_the_first_end() {
        let now = DateTime::from_timestamp(1_000_000, 0).unwrap();
        let plain = token_use(now, None, None, None);
        assert_eq!((plain.touch, plain.expiry), (false, None));
        let recent = token_use(now, None, Some(1800), Some(now - Duration::seconds(5)));
        assert!(!recent.touch, "used 5 s ago: not moved yet");
        assert_eq!(recent.expiry, Some(now + Duration::seconds(1800)));
        let stale = token_use(now, None, Some(1800), Some(now - Duration::seconds(20)));
        assert!(stale.touch);
        let capped = token_use(
            now,
            Some(now + Duration::seconds(60)),
            Some(1800),
            Some(now),
        );
        assert_eq!(capped.expiry, Some(now + Duration::seconds(60)));
    }
}
