//! Sign-in throttling, the one rule every surface that takes a password goes through: failed
//! sign-ins are counted per user name and per client address, and once either has too many, every
//! further attempt for it is refused — the right password too — for a lockout that doubles with
//! each failure after it (up to a cap). A success forgets the user name's failures (not the
//! address's: one good account must not launder an address that sprays others). Pure: the clock
//! is passed in.
//!
//! The state lives in memory on each node, bounded by `max_tracked` keys per kind (the least
//! useful are evicted first, so spraying names cannot grow it without limit). With several nodes
//! each one throttles on its own — an attacker gets the limits once per node — until a store
//! shared by the nodes keeps the counts.

use crate::config::SigninConfig;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The policy, from `[signin]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Failures of one user name that lock it; 0 = no limit per user name.
    pub user_failures: u32,
    /// Failures from one client address that lock it; 0 = no limit per address.
    pub address_failures: u32,
    /// Failures are forgotten this long after the last one (or after the lockout ended).
    pub window: Duration,
    /// The first lockout; each failure after it doubles the next one, up to `max_lockout`.
    pub lockout: Duration,
    pub max_lockout: Duration,
    /// Keys kept per kind (user names, addresses) before the least useful are evicted.
    pub max_tracked: usize,
}

impl Policy {
    pub fn from_config(c: &SigninConfig) -> Policy {
        Policy {
            user_failures: c.user_failures,
            address_failures: c.address_failures,
            window: Duration::from_secs(c.window_secs),
            lockout: Duration::from_secs(c.lockout_secs.max(1)),
            max_lockout: Duration::from_secs(c.max_lockout_secs.max(c.lockout_secs.max(1))),
            max_tracked: c.max_tracked.max(16),
        }
    }

    /// The lockout after `over` failures beyond the limit (0: the one reaching it).
    fn lockout_after(&self, over: u32) -> Duration {
        self.lockout
            .saturating_mul(1u32 << over.min(20))
            .min(self.max_lockout)
    }
}

/// An attempt refused without looking at the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub retry_after: Duration,
}

impl Refusal {
    /// Whole seconds to wait, at least 1 (what `Retry-After` says).
    pub fn retry_after_secs(&self) -> u64 {
        let d = self.retry_after;
        (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
    }
}

/// An attempt allowed to check its password; hand it back with [`Throttle::succeed`],
/// [`Throttle::fail`] or [`Throttle::abandon`].
#[derive(Debug, PartialEq, Eq)]
pub struct Ticket {
    user: String,
    addr: Option<IpAddr>,
    /// Attempts refused for this user name and from this address since the last ticket: the
    /// audit log counts them instead of keeping a row each.
    pub refused_for_user: u64,
    pub refused_from_addr: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    failures: u32,
    in_flight: u32,
    last_failure: Option<Instant>,
    locked_until: Option<Instant>,
    refused: u64,
    touched: Instant,
}

impl Entry {
    fn new(now: Instant) -> Entry {
        Entry {
            failures: 0,
            in_flight: 0,
            last_failure: None,
            locked_until: None,
            refused: 0,
            touched: now,
        }
    }

    fn locked_for(&self, now: Instant) -> Option<Duration> {
        self.locked_until
            .filter(|until| *until > now)
            .map(|until| until - now)
    }

    /// Forgets failures once `window` has passed since the last one and the lockout's end.
    fn forget_old(&mut self, window: Duration, now: Instant) {
        let quiet_since = self.last_failure.max(self.locked_until);
        if quiet_since.is_some_and(|t| now.saturating_duration_since(t) >= window) {
            self.failures = 0;
            self.last_failure = None;
            self.locked_until = None;
        }
    }

    /// Holds nothing worth keeping.
    fn idle(&self) -> bool {
        self.failures == 0 && self.in_flight == 0 && self.refused == 0
    }
}

/// The counts of one kind of key.
#[derive(Debug)]
struct Counter<K> {
    limit: u32,
    map: HashMap<K, Entry>,
}

impl<K: Hash + Eq + Clone> Counter<K> {
    fn new(limit: u32) -> Self {
        Counter {
            limit,
            map: HashMap::new(),
        }
    }

    /// Why `key` may not try now, if it may not.
    fn check(&mut self, key: &K, p: &Policy, now: Instant) -> Option<Duration> {
        if self.limit == 0 {
            return None;
        }
        let e = self.map.get_mut(key)?;
        e.forget_old(p.window, now);
        if let Some(wait) = e.locked_for(now) {
            return Some(wait);
        }
        // An attempt in flight may yet fail: no more may run at once than failures are left
        // before the limit (one once it was reached), or parallel guesses would get past it.
        let room = self.limit.saturating_sub(e.failures).max(1);
        (e.in_flight >= room).then_some(Duration::from_secs(1))
    }

    fn refuse(&mut self, key: &K) {
        if let Some(e) = self.map.get_mut(key) {
            e.refused += 1;
        }
    }

    /// Marks an attempt in flight; answers the refusals counted since the last one.
    fn start(&mut self, key: &K, p: &Policy, now: Instant) -> u64 {
        if self.limit == 0 {
            return 0;
        }
        let e = self.entry(key, p, now);
        e.in_flight += 1;
        e.touched = now;
        std::mem::take(&mut e.refused)
    }

    fn release(&mut self, key: &K) {
        if let Some(e) = self.map.get_mut(key) {
            e.in_flight = e.in_flight.saturating_sub(1);
            if e.idle() {
                self.map.remove(key);
            }
        }
    }

    /// Counts a failure; answers the lockout it starts, if it starts one.
    fn fail(&mut self, key: &K, p: &Policy, now: Instant) -> Option<Duration> {
        if self.limit == 0 {
            return None;
        }
        let limit = self.limit;
        let e = self.entry(key, p, now);
        e.in_flight = e.in_flight.saturating_sub(1);
        e.failures = e.failures.saturating_add(1);
        e.last_failure = Some(now);
        e.touched = now;
        let over = e.failures.checked_sub(limit)?;
        let lockout = p.lockout_after(over);
        e.locked_until = Some(now + lockout);
        Some(lockout)
    }

    fn reset(&mut self, key: &K) {
        if let Some(e) = self.map.get_mut(key) {
            e.in_flight = e.in_flight.saturating_sub(1);
            e.failures = 0;
            e.last_failure = None;
            e.locked_until = None;
            if e.idle() {
                self.map.remove(key);
            }
        }
    }

    fn entry(&mut self, key: &K, p: &Policy, now: Instant) -> &mut Entry {
        if !self.map.contains_key(key) {
            self.make_room(p, now);
        }
        self.map
            .entry(key.clone())
            .or_insert_with(|| Entry::new(now))
    }

    /// Keeps the map under `max_tracked`: drops what is worth nothing, then (still full) the
    /// least useful tenth at once, so a flood of new keys costs one sort per many inserts.
    fn make_room(&mut self, p: &Policy, now: Instant) {
        if self.map.len() < p.max_tracked {
            return;
        }
        self.map.retain(|_, e| {
            e.forget_old(p.window, now);
            !e.idle()
        });
        if self.map.len() < p.max_tracked {
            return;
        }
        // Least useful first: nothing in flight before something in flight, unlocked before
        // locked, then the least recently touched.
        let mut order: Vec<(bool, bool, Instant, K)> = self
            .map
            .iter()
            .map(|(k, e)| {
                let locked = e.locked_for(now).is_some();
                (e.in_flight > 0, locked, e.touched, k.clone())
            })
            .collect();
        order.sort_by_key(|a| (a.0, a.1, a.2));
        let keep = p.max_tracked * 9 / 10;
        let drop = self.map.len().saturating_sub(keep).max(1);
        for (_, _, _, k) in order.into_iter().take(drop) {
            self.map.remove(&k);
        }
    }
}

/// The throttle's state (wrap it in a lock to share it).
#[derive(Debug)]
pub struct Throttle {
    policy: Policy,
    users: Counter<String>,
    addrs: Counter<IpAddr>,
}

/// The key of a user name: names are at most 255 bytes, so a longer one is nobody's and its
/// cut-off form identifies it well enough (and bounds the memory a key takes).
fn user_key(user: &str) -> String {
    crate::domain::audit::bounded(user)
}

/// The key of an address: an IPv6 client is counted by its /64, as one host usually has all of
/// it (counting single addresses would give it 2^64 tries); an IPv4-mapped one as IPv4.
fn addr_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                IpAddr::V6(seg.into())
            }
        },
        v4 => v4,
    }
}

impl Throttle {
    pub fn new(policy: Policy) -> Throttle {
        Throttle {
            users: Counter::new(policy.user_failures),
            addrs: Counter::new(policy.address_failures),
            policy,
        }
    }

    /// Whether an attempt for `user` from `addr` may check its password now.
    pub fn begin(
        &mut self,
        user: &str,
        addr: Option<IpAddr>,
        now: Instant,
    ) -> Result<Ticket, Refusal> {
        let user = user_key(user);
        let addr = addr.map(addr_key);
        let p = &self.policy;
        let by_user = self.users.check(&user, p, now);
        let by_addr = addr.and_then(|a| self.addrs.check(&a, p, now));
        if by_user.is_some() || by_addr.is_some() {
            if by_user.is_some() {
                self.users.refuse(&user);
            }
            if let (Some(a), Some(_)) = (addr, by_addr) {
                self.addrs.refuse(&a);
            }
            let retry_after = by_user.max(by_addr).unwrap_or_default();
            return Err(Refusal { retry_after });
        }
        let refused_for_user = self.users.start(&user, p, now);
        let refused_from_addr = addr.map_or(0, |a| self.addrs.start(&a, p, now));
        Ok(Ticket {
            user,
            addr,
            refused_for_user,
            refused_from_addr,
        })
    }

    /// The password was right: the user name's failures are forgotten.
    pub fn succeed(&mut self, ticket: Ticket) {
        self.users.reset(&ticket.user);
        if let Some(a) = ticket.addr {
            self.addrs.release(&a);
        }
    }

    /// The password was wrong; answers the lockout this starts, if it starts one.
    pub fn fail(&mut self, ticket: Ticket, now: Instant) -> Option<Duration> {
        let p = &self.policy;
        let by_user = self.users.fail(&ticket.user, p, now);
        let by_addr = ticket.addr.and_then(|a| self.addrs.fail(&a, p, now));
        by_user.max(by_addr)
    }

    /// The attempt ended without an answer (the request went away, the store failed).
    pub fn abandon(&mut self, ticket: Ticket) {
        self.users.release(&ticket.user);
        if let Some(a) = ticket.addr {
            self.addrs.release(&a);
        }
    }

    /// User names and addresses tracked now (for tests of the bound).
    pub fn tracked(&self) -> (usize, usize) {
        (self.users.map.len(), self.addrs.map.len())
    }
}

#[cfg(test)]
#[path = "throttle_tests.rs"]
mod tests;
