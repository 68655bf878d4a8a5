//! Start-up and shutdown: open the store, make sure an admin exists, resolve what an earlier life
//! of this node left running, load definitions, start the worker and the notifier, serve HTTP;
//! on SIGINT/SIGTERM stop taking work, let running jobs reach a safe point, and exit.

use crate::api;
use crate::config::Config;
use crate::domain::{identity::DEFAULT_ORG, ids};
use crate::events::Events;
use crate::notify::{self, Notifier};
use crate::service::{App, SigninState};
use crate::store::{self, Store, Wake, secret_key};
use crate::telemetry::Telemetry;
use crate::worker::Worker;
use anyhow::Context;
use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested");
        signal.cancel();
    });
    run_until(config, shutdown).await
}

/// Holds the data directory for this process: one server (or `sluice secrets rotate`) per
/// directory, since a second would fight over the same runs and keys.
pub fn lock_data_dir(data_dir: &Path) -> anyhow::Result<File> {
    let lock = File::create(data_dir.join("sluice.lock"))?;
    lock.try_lock().map_err(|_| {
        anyhow::anyhow!(
            "another Sluice server is using the data directory {}",
            data_dir.display()
        )
    })?;
    Ok(lock)
}

/// Opens the store `url` names with the secret keys, sealing every secret with the current key,
/// then finishes a key rotation that was waiting for that.
pub async fn open_store(data_dir: &Path, url: &str) -> anyhow::Result<Arc<dyn Store>> {
    let keys = secret_key::load(data_dir).context("reading the secret key")?;
    let store = store::open(url, keys.keyring.clone())
        .await
        .with_context(|| format!("opening the store {}", store::redacted(url)))?;
    secret_key::finish(data_dir, &keys).context("finishing the key rotation")?;
    Ok(store)
}

/// Passes what other nodes sharing the store did (as the store tells it) to this node's events,
/// so its worker, notifier and waiters look at once rather than at their next poll.
fn forward_wake_ups(store: &dyn Store, events: &Events) {
    let Some(mut wakes) = store.watch() else {
        return;
    };
    let events = events.clone();
    tokio::spawn(async move {
        while let Some(wake) = wakes.recv().await {
            match wake {
                Wake::RunQueued => events.run_queued(),
                Wake::RunsEnded(runs) => events.runs_ended(runs),
                Wake::CallbackQueued => events.callback_queued(),
                Wake::Everything => {
                    events.run_queued();
                    events.callback_queued();
                }
            }
        }
    });
}

/// Runs the server until `shutdown` is cancelled (tests cancel it themselves).
pub async fn run_until(mut config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    config.data_dir = config.data_dir.canonicalize()?;
    let lock = lock_data_dir(&config.data_dir)?;
    let store = open_store(&config.data_dir, &config.store_url()).await?;
    let _node_hold = store
        .hold_node_name(&config.node_name)
        .await
        .with_context(|| format!("starting node `{}`", config.node_name))?;
    let default_org = store
        .ensure_org(ids::default_org_id(), DEFAULT_ORG)
        .await?
        .id;
    let telemetry = Telemetry::new(&config.metrics);
    store.observe(telemetry.clone());
    let events = Events::new();
    forward_wake_ups(store.as_ref(), &events);
    let callback_policy = Arc::new(
        notify::Policy::from_config(&config.notify)
            .map_err(|e| anyhow::anyhow!("configuration: notify: {e}"))?,
    );
    let worker = Worker {
        store: store.clone(),
        config: config.worker.clone(),
        node: config.node_name.clone(),
        data_dir: config.data_dir.clone(),
        events: events.clone(),
        spark: config.spark.clone(),
        runtime_envs: Arc::new(config.runtime_environments.clone()),
        grants: Arc::new(config.orgs.clone()),
        telemetry: telemetry.clone(),
    };
    // Whatever this node held before it (re)started cannot be running any more.
    let boot_handle_store = store.clone();
    let resolved = boot_handle_store
        .resolve_lost_runs(
            chrono::Utc::now(),
            Some(&config.node_name),
            crate::worker::LOST_REASON,
        )
        .await?;
    telemetry.runs_lost(resolved.len());
    if !resolved.is_empty() {
        tracing::warn!(
            count = resolved.len(),
            "resolved runs interrupted by the last stop"
        );
    }
    let worker = worker.spawn();
    let app = App {
        store,
        config: Arc::new(config.clone()),
        worker: worker.clone(),
        default_org,
        events: events.clone(),
        callback_policy: callback_policy.clone(),
        signin: Arc::new(SigninState::new(&config.signin)),
        telemetry: telemetry.clone(),
        stopping: shutdown.clone(),
    };
    app.bootstrap_admin(&config.data_dir).await?;

    if let Some(dir) = config.definitions_dir() {
        let dir = dir.canonicalize().unwrap_or(dir);
        let report = app.load_definitions_dir(&dir).await;
        for e in &report.errors {
            tracing::error!("{e}");
        }
        tracing::info!(
            dir = %dir.display(),
            created = report.created.len(),
            updated = report.updated.len(),
            unchanged = report.unchanged.len(),
            errors = report.errors.len(),
            "loaded definitions"
        );
    }

    let notifier_stop = CancellationToken::new();
    let notifier = Notifier::new(notify::Setup {
        store: app.store.clone(),
        config: config.notify.clone(),
        node: config.node_name.clone(),
        events,
        policy: callback_policy,
        bodies: api::callback_bodies(&app),
        telemetry,
    })
    .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    let notifier = tokio::spawn(notifier.run(notifier_stop.clone()));

    let listener = TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "Sluice is listening");
    // Announced on stdout so that scripts (and tests) using port 0 learn the port.
    println!("sluice listening on http://{addr}");

    let http_stop = shutdown.clone();
    // With each connection's peer address: sign-in throttling and the audit log need it.
    let service = api::router(app.clone()).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(async move { http_stop.cancelled().await })
        .await?;

    tracing::info!("no longer accepting requests; stopping running jobs");
    worker
        .shutdown(Duration::from_secs(config.worker.shutdown_grace_secs))
        .await;
    // Let callbacks of runs that just ended go out; the rest wait in the store.
    tokio::time::sleep(Duration::from_millis(200)).await;
    notifier_stop.cancel();
    let _ = notifier.await;
    drop(lock);
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
