//! Callbacks: durable and retried. A run's end queues its callback in the same transaction (see
//! the store), so a crash loses none; this notifier delivers due callbacks at least once, on the
//! schedule IICS documents: three immediate attempts, then growing intervals from 30 seconds up to
//! 3 minutes, until 30 minutes have passed; then it gives up and says so in the run's log.

mod schedule;

pub use schedule::next_attempt;

use crate::domain::LogLevel;
use crate::service::App;
use crate::store::{Callback, Delivery, NewLogLine};
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// A receiver that does not answer within this is a failed attempt.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Callbacks delivered at once.
const PARALLEL: usize = 16;

pub struct Notifier {
    app: App,
    client: reqwest::Client,
    wake: Arc<Notify>,
}

impl Notifier {
    pub fn new(app: App) -> Notifier {
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with default TLS");
        let wake = app.worker.notifier_signal();
        Notifier { app, client, wake }
    }

    /// Delivers until `shutdown`; what is undelivered then stays queued for the next start.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let due = match self
                .app
                .store
                .due_callbacks(Utc::now(), PARALLEL as i64)
                .await
            {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(error = %e, "reading due callbacks failed");
                    Vec::new()
                }
            };
            if due.is_empty() {
                let wait = match self.app.store.next_callback_due().await {
                    Ok(Some(at)) => (at - Utc::now()).to_std().unwrap_or_default(),
                    _ => Duration::from_secs(5),
                }
                .min(Duration::from_secs(5));
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.cancelled() => return,
                }
                continue;
            }
            let mut set = tokio::task::JoinSet::new();
            for cb in due {
                let (app, client) = (self.app.clone(), self.client.clone());
                set.spawn(async move { deliver(&app, &client, cb).await });
            }
            tokio::select! {
                _ = async { while set.join_next().await.is_some() {} } => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }
}

/// One attempt at one callback, and its record.
async fn deliver(app: &App, client: &reqwest::Client, cb: Callback) {
    let body = match app.callback_body(&cb).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(callback = %cb.id, error = %e, "building a callback body failed");
            return;
        }
    };
    let result = client.post(&cb.url).json(&body).send().await;
    let error = match result {
        // IICS counts anything but 200 as a failed attempt; any 2xx is a receipt here.
        Ok(resp) if resp.status().is_success() => None,
        Ok(resp) => Some(format!(
            "the receiver answered HTTP {}",
            resp.status().as_u16()
        )),
        Err(e) if e.is_timeout() => {
            Some(format!("no answer within {}s", ATTEMPT_TIMEOUT.as_secs()))
        }
        Err(e) => Some(error_chain(&e)),
    };
    let attempts = cb.attempts + 1;
    let (delivery, line) = match error {
        None => (
            Delivery::Delivered,
            (
                LogLevel::Info,
                format!("Callback to {} delivered (attempt {attempts})", cb.url),
            ),
        ),
        Some(error) => match next_attempt(attempts, cb.created_at, Utc::now()) {
            Some(at) => (
                Delivery::Retry {
                    at,
                    error: error.clone(),
                },
                (
                    LogLevel::Warn,
                    format!(
                        "Callback to {} failed (attempt {attempts}): {error}; retrying",
                        cb.url
                    ),
                ),
            ),
            None => (
                Delivery::GiveUp {
                    error: error.clone(),
                },
                (
                    LogLevel::Error,
                    format!(
                        "Callback to {} failed {attempts} times over 30 minutes; giving up: {error}",
                        cb.url
                    ),
                ),
            ),
        },
    };
    if let Err(e) = app.store.record_delivery(cb.id, delivery).await {
        tracing::error!(callback = %cb.id, error = %e, "recording a delivery failed");
    }
    let _ = app
        .store
        .append_log(
            cb.run_id,
            &[NewLogLine {
                at: Utc::now(),
                level: line.0,
                message: line.1,
            }],
        )
        .await;
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

impl App {
    /// The body of a callback: the ended run as the native API shows it.
    pub async fn callback_body(
        &self,
        cb: &Callback,
    ) -> Result<serde_json::Value, crate::service::ServiceError> {
        let run = self
            .store
            .get_run_any_org(cb.run_id)
            .await?
            .ok_or_else(|| crate::service::ServiceError::NotFound(format!("run {}", cb.run_id)))?;
        // Each API's runs call back in that API's shape; the native one is the run view.
        if run.trigger == crate::domain::Trigger::Iics {
            let task = self.store.get_task(run.org_id, run.task_id).await?;
            return Ok(crate::api::iics::callback_body(&run, task.as_ref()));
        }
        Ok(serde_json::to_value(self.run_view(&run).await).unwrap_or_default())
    }
}
