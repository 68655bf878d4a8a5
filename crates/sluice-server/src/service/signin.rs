//! Checking a password: the one path every surface that takes one goes through (native and IICS
//! login, IICS `logoutall`, HTTP Basic on `/active-bpel`, the Starfish password grant). The
//! throttle comes first (a locked user name or address is refused before any password is looked
//! at, the right one too); then the password, against a fixed dummy hash when the user name is
//! unknown so that both cases cost the same time; then the audit log, where each attempt checked
//! is one row, refused attempts are counted into one row, and failures are bounded per minute.

use super::auth::{SessionKind, hash_password, random_string, verify_password};
use super::throttle::{Policy, Throttle, Ticket};
use super::{App, Result, ServiceError};
use crate::config::SigninConfig;
use crate::domain::User;
use crate::domain::audit::{ANONYMOUS, AuditAction, AuditEvent, AuditOutcome, Client, bounded};
use chrono::Utc;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// How a password was presented (said in the audit event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigninKind {
    Session(SessionKind),
    /// HTTP Basic on a request (the taskflow service API).
    Basic,
    /// The OAuth2 password grant (Starfish `/token`).
    PasswordGrant,
    /// IICS `logoutall`, which takes the password.
    LogoutAll,
}

impl SigninKind {
    fn describe(self) -> &'static str {
        match self {
            SigninKind::Session(SessionKind::Native) => "login",
            SigninKind::Session(SessionKind::Iics) => "IICS login",
            SigninKind::Basic => "HTTP Basic",
            SigninKind::PasswordGrant => "password grant",
            SigninKind::LogoutAll => "logoutall",
        }
    }
}

/// The sign-in state of this node (see `throttle` for why it is per node).
pub struct SigninState {
    throttle: Mutex<Throttle>,
    budget: Mutex<FailureBudget>,
    failures_per_minute: u32,
}

impl SigninState {
    pub fn new(c: &SigninConfig) -> SigninState {
        SigninState {
            throttle: Mutex::new(Throttle::new(Policy::from_config(c))),
            budget: Mutex::new(FailureBudget::default()),
            failures_per_minute: c.audit_failures_per_minute,
        }
    }

    fn throttle(&self) -> MutexGuard<'_, Throttle> {
        // Nothing can leave the counts half-updated: a panic elsewhere must not end sign-ins.
        self.throttle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How many failed sign-ins get a row of their own per minute; the rest are counted.
#[derive(Debug, Default)]
struct FailureBudget {
    minute_start: Option<Instant>,
    written: u32,
    unrecorded: u64,
}

impl FailureBudget {
    /// Whether this failure gets its own row, and the failures of an earlier minute that did not
    /// (to be written as one row now).
    fn admit(&mut self, per_minute: u32, now: Instant) -> (bool, u64) {
        let mut carried = 0;
        let new_minute = self
            .minute_start
            .is_none_or(|s| now.saturating_duration_since(s) >= Duration::from_secs(60));
        if new_minute {
            carried = std::mem::take(&mut self.unrecorded);
            self.minute_start = Some(now);
            self.written = 0;
        }
        if per_minute == 0 || self.written < per_minute {
            self.written += 1;
            (true, carried)
        } else {
            self.unrecorded += 1;
            (false, carried)
        }
    }
}

/// A hash of a random password nobody knows, verified against when the user name is unknown: the
/// answer then takes as long as for a known name, so timing does not tell which names exist.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password(&random_string(32)).expect("argon2 hashes with its default parameters")
    })
}

/// The hash a password is checked against: the user's, or the dummy.
fn hash_to_verify(stored: Option<&str>) -> &str {
    stored.unwrap_or_else(|| dummy_hash())
}

/// An attempt the throttle let through; dropped unanswered (the request went away, the store
/// failed), it gives its place back without counting.
struct Attempt<'a> {
    state: &'a SigninState,
    ticket: Option<Ticket>,
}

impl Attempt<'_> {
    fn succeed(mut self) {
        if let Some(t) = self.ticket.take() {
            self.state.throttle().succeed(t);
        }
    }

    fn fail(mut self) -> Option<Duration> {
        let t = self.ticket.take()?;
        self.state.throttle().fail(t, Instant::now())
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.ticket.take() {
            self.state.throttle().abandon(t);
        }
    }
}

impl App {
    /// The user with this name and password, through the throttle, recorded in the audit log.
    pub(super) async fn check_password(
        &self,
        username: &str,
        password: &str,
        client: Client,
        kind: SigninKind,
    ) -> Result<User> {
        let begun = self
            .signin
            .throttle()
            .begin(username, client.addr, Instant::now());
        let ticket = begun.map_err(|r| ServiceError::TooManyRequests {
            retry_after_secs: r.retry_after_secs(),
        })?;
        let refused = (ticket.refused_for_user, ticket.refused_from_addr);
        let attempt = Attempt {
            state: &self.signin,
            ticket: Some(ticket),
        };
        let found = self.store.user_credentials(username).await?;
        let org_id = found.as_ref().map(|(u, _)| u.org_id);
        if refused != (0, 0) {
            self.record_refused(username, org_id, client, refused).await;
        }
        let stored = found.as_ref().map(|(_, h)| h.clone());
        // Verifying (and making the dummy hash, the first time) is CPU-heavy by design; keep it
        // off the async threads.
        let pw = password.to_string();
        let ok = tokio::task::spawn_blocking(move || {
            verify_password(&pw, hash_to_verify(stored.as_deref()))
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let event = |actor: &str, outcome, detail: String| AuditEvent {
            at: Utc::now(),
            org_id,
            actor: bounded(actor),
            action: AuditAction::Signin,
            target: bounded(username),
            client_addr: client.addr,
            surface: client.surface,
            outcome,
            detail,
        };
        match found {
            Some((user, _)) if ok => {
                attempt.succeed();
                let detail = kind.describe().to_string();
                self.audit(event(&user.username, AuditOutcome::Success, detail))
                    .await;
                Ok(user)
            }
            found => {
                let locked = attempt.fail();
                let why = if found.is_some() {
                    "wrong password"
                } else {
                    "no such user"
                };
                let mut detail = format!("{}: {why}", kind.describe());
                if let Some(lock) = locked {
                    detail += &format!("; further attempts refused for {} s", lock.as_secs());
                }
                self.record_failure(event(ANONYMOUS, AuditOutcome::Failure, detail))
                    .await;
                Err(ServiceError::Unauthorized(
                    "user name or password is not valid".into(),
                ))
            }
        }
    }

    /// One row for the attempts refused while locked since the last attempt checked.
    async fn record_refused(
        &self,
        username: &str,
        org_id: Option<uuid::Uuid>,
        client: Client,
        (for_user, from_addr): (u64, u64),
    ) {
        let mut parts = Vec::new();
        if for_user > 0 {
            parts.push(format!("{for_user} for this user name"));
        }
        if from_addr > 0 {
            parts.push(format!("{from_addr} from this address"));
        }
        self.audit(AuditEvent {
            at: Utc::now(),
            org_id,
            actor: ANONYMOUS.into(),
            action: AuditAction::SigninThrottled,
            target: bounded(username),
            client_addr: client.addr,
            surface: client.surface,
            outcome: AuditOutcome::Refused,
            detail: format!("attempts refused while locked: {}", parts.join(" and ")),
        })
        .await;
    }

    /// A failed sign-in's row, within the per-minute budget; the failures over it are counted
    /// and written as one row with the first failure of a later minute.
    async fn record_failure(&self, event: AuditEvent) {
        let (own_row, carried) = self
            .signin
            .budget
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(self.signin.failures_per_minute, Instant::now());
        if carried > 0 {
            self.audit(AuditEvent {
                org_id: None,
                actor: ANONYMOUS.into(),
                target: "*".into(),
                client_addr: None,
                surface: crate::domain::audit::Surface::Server,
                detail: format!(
                    "{carried} more failed sign-ins were not recorded one by one \
                     (over signin.audit_failures_per_minute)"
                ),
                ..event.clone()
            })
            .await;
        }
        if own_row {
            self.audit(event).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordHash;

    #[test]
    fn an_unknown_user_is_checked_against_a_dummy_hash_of_the_same_cost() {
        assert_eq!(hash_to_verify(Some("stored")), "stored");
        let dummy = hash_to_verify(None);
        assert_eq!(dummy, dummy_hash(), "the dummy path is taken");
        assert!(std::ptr::eq(dummy, hash_to_verify(None)), "computed once");
        let parsed = PasswordHash::new(dummy).expect("a real argon2 hash");
        let real_hash = hash_password("a password").unwrap();
        let real = PasswordHash::new(&real_hash).unwrap();
        assert_eq!(
            (parsed.algorithm, parsed.version, &parsed.params),
            (real.algorithm, real.version, &real.params),
            "verifying it costs what verifying a user's does"
        );
        assert!(!verify_password("", dummy));
        assert!(!verify_password("a password", dummy));
    }

    #[test]
    fn failures_over_the_minute_budget_are_counted_into_one_row() {
        let mut b = FailureBudget::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(b.admit(3, t0), (true, 0));
        }
        for i in 0..5 {
            assert_eq!(b.admit(3, t0 + Duration::from_secs(i)), (false, 0));
        }
        assert_eq!(b.admit(3, t0 + Duration::from_secs(60)), (true, 5));
        assert_eq!(b.admit(3, t0 + Duration::from_secs(61)), (true, 0));
        let mut unbounded = FailureBudget::default();
        assert!((0..1000).all(|_| unbounded.admit(0, t0) == (true, 0)));
    }
}
