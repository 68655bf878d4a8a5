//! Callbacks: durable and retried. A run's end queues its callback in the same transaction (see
//! the store), so a crash loses none; this notifier claims due callbacks (one node per attempt),
//! delivers them at least once on the configured schedule (IICS's by default: three immediate
//! attempts, then 30 s doubling to 3 minutes, for 30 minutes), keeps every attempt, then gives up
//! and says so in the run's log. Deliveries of an org with a signing secret carry Standard
//! Webhooks headers. Where a callback may go is the policy's (`policy.rs`), held on the address
//! connected to (`connect.rs`).

mod address;
mod bodies;
mod connect;
mod policy;
mod schedule;
mod sign;

pub use bodies::{Bodies, CallbackBody};
pub use policy::{Policy, Refused};
pub use schedule::Schedule;

use crate::config::NotifyConfig;
use crate::domain::{LogLevel, NewLogLine};
use crate::events::Events;
use crate::store::{Attempt, Callback, Delivery, Store};
use crate::telemetry::{CallbackOutcome, Telemetry};
use chrono::Utc;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Callbacks delivered at once.
const PARALLEL: usize = 16;

/// What a notifier is made of, from start-up.
pub struct Setup {
    pub store: Arc<dyn Store>,
    pub config: NotifyConfig,
    /// This node's name: its claims on callbacks carry it.
    pub node: String,
    pub events: Events,
    /// Where callbacks may go: the same policy the runs' starts judged their URLs by.
    pub policy: Arc<Policy>,
    pub bodies: Bodies,
    pub telemetry: Telemetry,
}

pub struct Notifier {
    store: Arc<dyn Store>,
    node: String,
    attempt_timeout_ms: u64,
    client: reqwest::Client,
    events: Events,
    bodies: Bodies,
    schedule: Schedule,
    policy: Arc<Policy>,
    /// Signing keys by org name.
    keys: BTreeMap<String, Vec<u8>>,
    /// How long a claim lasts: longer than an attempt may take.
    lease: Duration,
    telemetry: Telemetry,
}

impl Notifier {
    /// A notifier; a bad `notify` configuration is an error here, at start-up.
    pub fn new(setup: Setup) -> Result<Notifier, String> {
        let c = &setup.config;
        let timeout = Duration::from_millis(c.attempt_timeout_ms.max(1));
        let policy = setup.policy;
        let client =
            connect::client(policy.clone(), timeout).map_err(|e| format!("an HTTP client: {e}"))?;
        let keys = c
            .signing_secrets
            .iter()
            .map(|(org, secret)| {
                sign::key(secret)
                    .map(|k| (org.clone(), k))
                    .map_err(|e| format!("notify.signing_secrets.{org}: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Notifier {
            schedule: Schedule::from(c),
            policy,
            keys,
            lease: timeout + Duration::from_secs(30),
            attempt_timeout_ms: c.attempt_timeout_ms,
            store: setup.store,
            node: setup.node,
            events: setup.events,
            bodies: setup.bodies,
            telemetry: setup.telemetry,
            client,
        })
    }

    /// Delivers until `shutdown`; what is undelivered then stays queued for the next start.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let node = this.node.clone();
        // Attempts this node had in flight when it last stopped died with it: claim them again.
        if let Err(e) = this.store.release_callbacks(&node).await {
            tracing::error!(error = %e, "releasing this node's callback claims failed");
        }
        loop {
            let due = this
                .store
                .claim_callbacks(&node, Utc::now(), PARALLEL as i64, this.lease)
                .await
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, "claiming due callbacks failed");
                    Vec::new()
                });
            if due.is_empty() {
                let wait = match this.store.next_callback_due().await {
                    Ok(Some(at)) => (at - Utc::now()).to_std().unwrap_or_default(),
                    _ => Duration::from_secs(5),
                }
                .clamp(Duration::from_millis(10), Duration::from_secs(5));
                tokio::select! {
                    _ = this.events.queued_callback() => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.cancelled() => return,
                }
                continue;
            }
            let mut set = tokio::task::JoinSet::new();
            for cb in due {
                let this = this.clone();
                set.spawn(async move { this.deliver(cb).await });
            }
            tokio::select! {
                _ = async { while set.join_next().await.is_some() {} } => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// One attempt at one callback, and its record.
    async fn deliver(&self, cb: Callback) {
        let started_at = Utc::now();
        let (status, error) = match self.attempt(&cb).await {
            Ok(status) if (200..300).contains(&status) => (Some(status), None),
            // The place a redirect names was never judged: a failed attempt like any other.
            Ok(status) if (300..400).contains(&status) => (
                Some(status),
                Some(format!(
                    "the receiver answered HTTP {status} (redirects are not followed)"
                )),
            ),
            // IICS counts anything but 200 as a failed attempt; any 2xx is a receipt here.
            Ok(status) => (
                Some(status),
                Some(format!("the receiver answered HTTP {status}")),
            ),
            Err(e) => (None, Some(e)),
        };
        let ended_at = Utc::now();
        let number = cb.attempts + 1;
        let attempt_error = error.is_some();
        let (delivery, level, message) = match error.clone() {
            None => (
                Delivery::Delivered,
                LogLevel::Info,
                format!("Callback to {} delivered (attempt {number})", cb.url),
            ),
            Some(error) => match self.schedule.next_attempt(
                cb.round_attempts + 1,
                cb.round_started_at,
                ended_at,
            ) {
                Some(at) => (
                    Delivery::Retry {
                        at,
                        error: error.clone(),
                    },
                    LogLevel::Warn,
                    format!(
                        "Callback to {} failed (attempt {number}): {error}; retrying",
                        cb.url
                    ),
                ),
                None => (
                    Delivery::GiveUp {
                        error: error.clone(),
                    },
                    LogLevel::Error,
                    format!(
                        "Callback to {} failed {number} times; giving up: {error}",
                        cb.url
                    ),
                ),
            },
        };
        self.telemetry.callback_attempt(if attempt_error {
            CallbackOutcome::Failed
        } else {
            CallbackOutcome::Delivered
        });
        if matches!(delivery, Delivery::GiveUp { .. }) {
            self.telemetry.callback_given_up();
        }
        let attempt = Attempt {
            number,
            started_at,
            ended_at,
            status,
            error,
        };
        if let Err(e) = self.store.record_delivery(cb.id, &attempt, delivery).await {
            tracing::error!(callback = %cb.id, error = %e, "recording a delivery failed");
        }
        let line = NewLogLine {
            at: ended_at,
            level,
            message,
        };
        let _ = self.store.append_log(cb.run_id, &[line]).await;
    }

    /// Sends the callback once; answers the receiver's status, or why there was none.
    async fn attempt(&self, cb: &Callback) -> Result<i64, String> {
        // An address written in the URL goes through no resolver: judged here. A name's
        // addresses are judged by the client's resolver, on what is connected to.
        self.policy.check_url(&cb.url).map_err(|e| e.to_string())?;
        let (body, org) = self
            .body(cb)
            .await
            .map_err(|e| format!("building the body: {e}"))?;
        let body = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
        let mut req = self
            .client
            .post(&cb.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(key) = self.keys.get(&org) {
            let id = format!("msg_{}", cb.id.simple());
            let ts = Utc::now().timestamp();
            req = req
                .header("webhook-id", &id)
                .header("webhook-timestamp", ts.to_string())
                .header("webhook-signature", sign::signature(key, &id, ts, &body));
        }
        match req.body(body).send().await {
            Ok(resp) => Ok(i64::from(resp.status().as_u16())),
            Err(e) if e.is_timeout() => {
                Err(format!("no answer within {} ms", self.attempt_timeout_ms))
            }
            Err(e) => match connect::refusal(&e) {
                Some(refused) => Err(format!("refused at connect time: {refused}")),
                None => Err(error_chain(&e)),
            },
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

impl Notifier {
    /// The body of a callback in the shape of the surface that started the run, and the name of
    /// the run's org (its signing key is the org's).
    async fn body(&self, cb: &Callback) -> Result<(serde_json::Value, String), String> {
        let run = self
            .store
            .get_run_any_org(cb.run_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("run {} not found", cb.run_id))?;
        let org = self
            .store
            .list_orgs()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|o| o.id == run.org_id)
            .map(|o| o.name)
            .unwrap_or_default();
        Ok((self.bodies.render(&run).await?, org))
    }
}
