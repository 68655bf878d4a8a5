//! Follows the Spark application a code task runs and keeps its progress on the run: the driver's
//! log lines as they come and, while the driver's UI is up, its monitoring REST API (polled on this
//! node, every `[spark] monitor_interval_ms`: in client mode the driver is the spark-submit process
//! here). Both are
//! merged, since either may miss something: the log is quiet when the application lowers its log
//! level, and the API is gone the moment the application ends. Saved when it changes, and once at
//! the end with the application's final state.

use super::RunLog;
use super::journal::Journal;
use super::spark_log::{ApiApplication, ApiJob, ApiSnapshot, LogTally};
use crate::domain::spark::{SparkProgress, SparkState, Tally};
use chrono::Utc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often changes are saved.
const SAVE_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct Seen {
    log: LogTally,
    api: Option<ApiSnapshot>,
    /// The UI port Sluice asked the driver to take.
    asked_port: Option<u16>,
}

impl Seen {
    fn port(&self) -> Option<u16> {
        self.log.ui_port.or(self.asked_port)
    }

    fn progress(&self, ui_host: &str, state: SparkState) -> SparkProgress {
        let api = self.api.as_ref();
        let up = self.log.driver_up || api.is_some();
        let state = match state {
            SparkState::Submitted if up => SparkState::Running,
            s => s,
        };
        let settle = |t: Tally| if state.is_final() { t.settled() } else { t };
        SparkProgress {
            app_id: api
                .map(|a| a.app_id.clone())
                .or_else(|| self.log.app_id.clone()),
            app_name: api.map(|a| a.app_name.clone()),
            ui_url: match (state, self.port()) {
                (SparkState::Running, Some(p)) if up => Some(format!("http://{ui_host}:{p}")),
                _ => None,
            },
            state,
            jobs: settle(self.log.jobs().merge(api.map(|a| a.jobs))),
            stages: settle(self.log.stages().merge(api.map(|a| a.stages))),
            tasks: settle(self.log.tasks().merge(api.map(|a| a.tasks))),
            updated_at: None,
        }
    }
}

/// The watch over one application; lines go in with [`SparkWatch::line`], and
/// [`SparkWatch::finish`] saves the final state.
pub struct SparkWatch {
    seen: Arc<Mutex<Seen>>,
    journal: Arc<dyn Journal>,
    ui_host: String,
    log: RunLog,
    stop: CancellationToken,
    poller: tokio::task::JoinHandle<Option<SparkProgress>>,
}

impl SparkWatch {
    /// Starts watching. `ui_port` is the port the driver was asked to serve its UI on (None when
    /// the task turned the UI off: the log alone is read); `ask_every` how often its API is asked
    /// (None: never).
    pub fn start(
        ui_port: Option<u16>,
        ask_every: Option<Duration>,
        ui_host: String,
        journal: Arc<dyn Journal>,
        log: RunLog,
    ) -> SparkWatch {
        let seen = Arc::new(Mutex::new(Seen {
            asked_port: ui_port,
            ..Seen::default()
        }));
        let stop = CancellationToken::new();
        let poller = tokio::spawn(poll(
            seen.clone(),
            journal.clone(),
            ui_host.clone(),
            ask_every.filter(|_| ui_port.is_some()),
            stop.clone(),
            log.clone(),
        ));
        SparkWatch {
            seen,
            journal,
            ui_host,
            log,
            stop,
            poller,
        }
    }

    /// Where the driver's lines go.
    pub fn feed(&self) -> SparkFeed {
        SparkFeed(self.seen.clone())
    }

    /// Stops watching and saves the application's last progress with its final state.
    pub async fn finish(self, state: SparkState) -> SparkProgress {
        self.stop.cancel();
        let _ = self.poller.await;
        let mut p = self
            .seen
            .lock()
            .map(|s| s.progress(&self.ui_host, state))
            .unwrap_or_default();
        p.updated_at = Some(Utc::now());
        // Not fatal: the run's outcome does not depend on its progress being kept.
        if let Err(e) = self.journal.spark(&p).await {
            self.log.warn(format!(
                "could not keep the Spark application's progress: {e}"
            ));
        }
        p
    }
}

/// Takes the driver's log lines to the watch (one per output pipe).
#[derive(Clone)]
pub struct SparkFeed(Arc<Mutex<Seen>>);

impl SparkFeed {
    pub fn line(&self, line: &str) {
        if let Ok(mut s) = self.0.lock() {
            s.log.observe(line);
        }
    }
}

/// Every [`SAVE_EVERY`]: saves what changed, having asked the driver's API when it is due.
async fn poll(
    seen: Arc<Mutex<Seen>>,
    journal: Arc<dyn Journal>,
    ui_host: String,
    ask_every: Option<Duration>,
    stop: CancellationToken,
    log: RunLog,
) -> Option<SparkProgress> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .ok()?;
    let mut saved: Option<SparkProgress> = None;
    let mut warned = false;
    let mut store_warned = false;
    let mut next_ask = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return saved,
            _ = tokio::time::sleep(SAVE_EVERY.min(ask_every.unwrap_or(SAVE_EVERY))) => {}
        }
        let port = seen.lock().ok().and_then(|s| s.port());
        let due = ask_every.filter(|_| tokio::time::Instant::now() >= next_ask);
        if let (Some(every), Some(port)) = (due, port) {
            next_ask = tokio::time::Instant::now() + every;
            // A driver that is shutting down may take a request and never answer: the end of the
            // run must not wait for it.
            let answer = tokio::select! {
                _ = stop.cancelled() => return saved,
                a = ask(&client, port) => a,
            };
            match answer {
                Ok(Some(snapshot)) => {
                    if let Ok(mut s) = seen.lock() {
                        s.api = Some(snapshot);
                    }
                }
                // The driver's UI is not up yet (or no longer).
                Ok(None) => {}
                Err(e) => {
                    if !warned && seen.lock().is_ok_and(|s| s.log.driver_up) {
                        log.debug(format!("Spark monitoring API on port {port}: {e}"));
                        warned = true;
                    }
                }
            }
        }
        let Some(now) = seen
            .lock()
            .ok()
            .map(|s| s.progress(&ui_host, SparkState::Submitted))
        else {
            continue;
        };
        if saved.as_ref() != Some(&now) {
            let mut stamped = now.clone();
            stamped.updated_at = Some(Utc::now());
            // A failed write is tried again at the next tick; said once in the run's log.
            match journal.spark(&stamped).await {
                Ok(()) => saved = Some(now),
                Err(e) if !store_warned => {
                    log.warn(format!(
                        "could not keep the Spark application's progress: {e}"
                    ));
                    store_warned = true;
                }
                Err(_) => {}
            }
        }
    }
}

/// The application and its jobs from the driver's monitoring API; None while the driver answers
/// something else (it says it is starting up in plain text).
async fn ask(client: &reqwest::Client, port: u16) -> Result<Option<ApiSnapshot>, reqwest::Error> {
    let base = format!("http://127.0.0.1:{port}/api/v1/applications");
    let apps = client.get(&base).send().await?;
    if !apps.status().is_success() {
        return Ok(None);
    }
    let Ok(mut apps) = serde_json::from_slice::<Vec<ApiApplication>>(&apps.bytes().await?) else {
        return Ok(None);
    };
    if apps.is_empty() {
        return Ok(None);
    }
    let app = apps.swap_remove(0);
    let jobs = client
        .get(format!("{base}/{}/jobs", app.id))
        .send()
        .await?
        .bytes()
        .await?;
    let Ok(jobs) = serde_json::from_slice::<Vec<ApiJob>>(&jobs) else {
        return Ok(None);
    };
    Ok(Some(ApiSnapshot::new(app, &jobs)))
}

/// A free TCP port on this node for the driver's UI (Spark moves up from it if it is taken by
/// the time the driver starts, and says so in its log, which the watch reads).
pub fn free_port() -> Option<u16> {
    std::net::TcpListener::bind(("0.0.0.0", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .ok()
}
