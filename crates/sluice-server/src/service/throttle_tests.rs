//! The throttle on an injected clock.

use super::*;

fn policy() -> Policy {
    Policy {
        user_failures: 5,
        address_failures: 20,
        window: Duration::from_secs(15 * 60),
        lockout: Duration::from_secs(60),
        max_lockout: Duration::from_secs(15 * 60),
        max_tracked: 10_000,
    }
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// One failed attempt at `now`; answers the lockout it started.
fn fail(t: &mut Throttle, user: &str, addr: &str, now: Instant) -> Option<Duration> {
    let ticket = t.begin(user, ip(addr), now).expect("allowed");
    t.fail(ticket, now)
}

#[test]
fn five_failures_lock_the_user_name_even_for_the_right_password() {
    let mut t = Throttle::new(policy());
    let t0 = Instant::now();
    for i in 0..4 {
        assert_eq!(fail(&mut t, "alice", "10.0.0.1", t0 + secs(i)), None);
    }
    assert_eq!(
        fail(&mut t, "alice", "10.0.0.1", t0 + secs(4)),
        Some(secs(60))
    );
    // Locked: refused before any password is looked at, from any address.
    let refused = t.begin("alice", ip("10.9.9.9"), t0 + secs(10)).unwrap_err();
    assert_eq!(refused.retry_after, secs(54));
    assert_eq!(refused.retry_after_secs(), 54);
    // Another user name from the same address is not locked.
    let other = t.begin("bob", ip("10.0.0.1"), t0 + secs(10)).unwrap();
    t.succeed(other);
    // The lockout ends: one more try is allowed, and a success forgets everything.
    let ticket = t.begin("alice", ip("10.0.0.1"), t0 + secs(64)).unwrap();
    assert_eq!(ticket.refused_for_user, 1, "the refusal is counted once");
    t.succeed(ticket);
    for i in 0..4 {
        assert_eq!(fail(&mut t, "alice", "10.0.0.1", t0 + secs(70 + i)), None);
    }
}

#[test]
fn each_failure_after_a_lockout_doubles_the_next_up_to_the_cap() {
    let mut t = Throttle::new(policy());
    let mut now = Instant::now();
    for _ in 0..4 {
        fail(&mut t, "alice", "10.0.0.1", now);
    }
    let mut lockouts = Vec::new();
    for _ in 0..7 {
        let lock = fail(&mut t, "alice", "10.0.0.1", now).expect("locks");
        assert!(t.begin("alice", None, now + lock - secs(1)).is_err());
        lockouts.push(lock.as_secs());
        now += lock;
    }
    assert_eq!(lockouts, [60, 120, 240, 480, 900, 900, 900]);
}

#[test]
fn failures_are_forgotten_after_a_quiet_window() {
    let mut t = Throttle::new(policy());
    let t0 = Instant::now();
    for i in 0..4 {
        fail(&mut t, "alice", "10.0.0.1", t0 + secs(i));
    }
    let later = t0 + secs(3 + 15 * 60);
    for i in 0..4 {
        assert_eq!(fail(&mut t, "alice", "10.0.0.1", later + secs(i)), None);
    }
    // Five within the window do lock.
    assert!(fail(&mut t, "alice", "10.0.0.1", later + secs(5)).is_some());
}

#[test]
fn an_address_spraying_user_names_is_locked_and_a_success_does_not_free_it() {
    let mut t = Throttle::new(policy());
    let t0 = Instant::now();
    for i in 0..10 {
        fail(&mut t, &format!("user{i}"), "192.0.2.7", t0);
    }
    // A valid account from the same address resets its own name only.
    let ok = t.begin("mallory", ip("192.0.2.7"), t0).unwrap();
    t.succeed(ok);
    for i in 10..19 {
        assert_eq!(fail(&mut t, &format!("user{i}"), "192.0.2.7", t0), None);
    }
    assert_eq!(
        fail(&mut t, "user19", "192.0.2.7", t0),
        Some(secs(60)),
        "the 20th failure from the address locks it"
    );
    let refused = t
        .begin("mallory", ip("192.0.2.7"), t0 + secs(1))
        .unwrap_err();
    assert_eq!(refused.retry_after_secs(), 59);
    // Other addresses, and the same user names from them, are not locked.
    let elsewhere = t.begin("user3", ip("198.51.100.1"), t0 + secs(1)).unwrap();
    assert_eq!(elsewhere.refused_from_addr, 0);
    t.abandon(elsewhere);
    let after = t.begin("user3", ip("192.0.2.7"), t0 + secs(61)).unwrap();
    assert_eq!(after.refused_from_addr, 1);
}

#[test]
fn an_ipv6_client_is_counted_by_its_slash_64() {
    let mut t = Throttle::new(Policy {
        address_failures: 3,
        ..policy()
    });
    let t0 = Instant::now();
    for (i, a) in ["2001:db8::1", "2001:db8::2:3", "2001:db8::ffff:1"]
        .iter()
        .enumerate()
    {
        fail(&mut t, &format!("u{i}"), a, t0);
    }
    assert!(t.begin("v", ip("2001:db8::abcd"), t0).is_err());
    assert!(t.begin("v", ip("2001:db8:0:1::1"), t0).is_ok());
}

#[test]
fn parallel_attempts_cannot_get_past_the_limit() {
    let mut t = Throttle::new(Policy {
        user_failures: 3,
        ..policy()
    });
    let t0 = Instant::now();
    let held: Vec<Ticket> = (0..3)
        .map(|i| t.begin("alice", ip(&format!("10.0.0.{i}")), t0).unwrap())
        .collect();
    let refused = t.begin("alice", ip("10.0.0.9"), t0).unwrap_err();
    assert_eq!(refused.retry_after_secs(), 1);
    let mut held = held.into_iter();
    t.abandon(held.next().unwrap());
    let again = t.begin("alice", ip("10.0.0.9"), t0).unwrap();
    t.succeed(again);
    // The two still in flight fail: two failures, one place left.
    for ticket in held {
        assert_eq!(t.fail(ticket, t0), None);
    }
    let last = t.begin("alice", None, t0).unwrap();
    assert!(t.begin("alice", None, t0).is_err(), "one place only");
    assert_eq!(t.fail(last, t0), Some(secs(60)));
}

#[test]
fn spraying_names_stays_within_the_bound_and_keeps_lockouts() {
    let mut t = Throttle::new(Policy {
        max_tracked: 100,
        address_failures: 0,
        ..policy()
    });
    let t0 = Instant::now();
    for _ in 0..5 {
        fail(&mut t, "target", "10.0.0.1", t0);
    }
    for i in 0..10_000 {
        fail(&mut t, &format!("spray-{i}"), "10.0.0.1", t0 + secs(1));
        assert!(t.tracked().0 <= 100, "bounded at {i}");
    }
    assert!(
        t.begin("target", None, t0 + secs(2)).is_err(),
        "a locked name outlives unlocked ones"
    );
    assert_eq!(t.tracked().1, 0, "address_failures = 0 tracks no address");
}

#[test]
fn no_limit_means_never_refused() {
    let mut t = Throttle::new(Policy {
        user_failures: 0,
        address_failures: 0,
        ..policy()
    });
    let t0 = Instant::now();
    for _ in 0..50 {
        assert_eq!(fail(&mut t, "alice", "10.0.0.1", t0), None);
    }
    assert_eq!(t.tracked(), (0, 0));
}

#[test]
fn successes_are_never_throttled_and_leave_nothing_behind() {
    let mut t = Throttle::new(policy());
    let t0 = Instant::now();
    for i in 0..1000 {
        let ticket = t.begin("admin", ip("127.0.0.1"), t0 + secs(i)).unwrap();
        t.succeed(ticket);
    }
    assert_eq!(t.tracked(), (0, 0));
}
