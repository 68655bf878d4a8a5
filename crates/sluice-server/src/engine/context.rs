//! What a running task sees: its parameters, live counters, log, and stop signals.

use crate::domain::params;
use crate::domain::{Counters, LogLevel, task::FileFormat};
use chrono::Utc;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Counters the engine bumps as rows move; the worker saves them with each heartbeat, so they
/// update while the run runs.
#[derive(Debug, Default)]
pub struct LiveCounters {
    pub source_rows_read: AtomicU64,
    pub source_rows_failed: AtomicU64,
    pub target_rows_written: AtomicU64,
    pub target_rows_failed: AtomicU64,
    pub inserts: AtomicU64,
    pub updates: AtomicU64,
    pub deletes: AtomicU64,
    pub skipped: AtomicU64,
}

impl LiveCounters {
    pub fn snapshot(&self) -> Counters {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counters {
            source_rows_read: g(&self.source_rows_read),
            source_rows_failed: g(&self.source_rows_failed),
            target_rows_written: g(&self.target_rows_written),
            target_rows_failed: g(&self.target_rows_failed),
            inserts: g(&self.inserts),
            updates: g(&self.updates),
            deletes: g(&self.deletes),
            skipped: g(&self.skipped),
        }
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Sets live counters to `c` (a run's totals summed from its children).
pub fn store_counters(to: &LiveCounters, c: &Counters) {
    let s = |a: &AtomicU64, v: u64| a.store(v, Ordering::Relaxed);
    s(&to.source_rows_read, c.source_rows_read);
    s(&to.source_rows_failed, c.source_rows_failed);
    s(&to.target_rows_written, c.target_rows_written);
    s(&to.target_rows_failed, c.target_rows_failed);
    s(&to.inserts, c.inserts);
    s(&to.updates, c.updates);
    s(&to.deletes, c.deletes);
    s(&to.skipped, c.skipped);
}

/// A run's log: lines go to a channel that the worker drains into the store in batches, so
/// logging never waits on the database.
#[derive(Debug, Clone)]
pub struct RunLog {
    tx: mpsc::UnboundedSender<crate::store::NewLogLine>,
}

impl RunLog {
    pub fn new() -> (RunLog, mpsc::UnboundedReceiver<crate::store::NewLogLine>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (RunLog { tx }, rx)
    }

    pub fn log(&self, level: LogLevel, message: impl Into<String>) {
        // A closed receiver means the run is over; there is nowhere left to write.
        let _ = self.tx.send(crate::store::NewLogLine {
            at: Utc::now(),
            level,
            message: message.into(),
        });
    }
    pub fn info(&self, message: impl Into<String>) {
        self.log(LogLevel::Info, message)
    }
    pub fn warn(&self, message: impl Into<String>) {
        self.log(LogLevel::Warn, message)
    }
    pub fn error(&self, message: impl Into<String>) {
        self.log(LogLevel::Error, message)
    }
    pub fn debug(&self, message: impl Into<String>) {
        self.log(LogLevel::Debug, message)
    }
}

/// The two ways a run is asked to stop. `graceful` is checked between batches: finish the batch in
/// hand, then stop. `immediate` abandons the work at once. Both leave the target as it was.
#[derive(Debug, Clone, Default)]
pub struct StopSignal {
    pub graceful: CancellationToken,
    pub immediate: CancellationToken,
}

impl StopSignal {
    /// True once any stop was asked for.
    pub fn requested(&self) -> bool {
        self.graceful.is_cancelled() || self.immediate.is_cancelled()
    }
}

/// Everything the engine needs from the outside for one run.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub run_id: uuid::Uuid,
    /// Parameter values: the task's defaults, overridden by the run's, plus `sluice.*` built-ins.
    pub params: BTreeMap<String, String>,
    /// Where relative paths without a connection resolve.
    pub base_dir: PathBuf,
    /// Root directories of the org's `files` connections, by name.
    pub file_roots: BTreeMap<String, PathBuf>,
    pub counters: Arc<LiveCounters>,
    pub log: RunLog,
    pub stop: StopSignal,
    /// Rows per batch the engine moves at a time (and between graceful-stop checks).
    pub batch_size: usize,
    /// The org's connections by name (secrets resolved only when used).
    pub connections: BTreeMap<String, crate::domain::Connection>,
    /// Where this run's rejected rows go (created on the first reject).
    pub rejects_path: PathBuf,
    /// Children and high-water marks.
    pub journal: Arc<dyn super::journal::Journal>,
    /// Where spark-submit is and the default master (for `spark` code tasks).
    pub spark: crate::config::SparkConfig,
}

impl RunContext {
    /// A number the run was started with as a built-in parameter (`sluice.first_row`,
    /// `sluice.last_row`, `sluice.threads`), overriding the task's own option.
    pub fn run_option(&self, name: &str) -> Option<u64> {
        self.params
            .get(&format!("sluice.{name}"))
            .and_then(|v| v.parse().ok())
    }

    /// Substitutes parameters in `text`.
    pub fn substitute(&self, text: &str) -> Result<String, super::EngineError> {
        params::substitute(text, &self.params)
            .map_err(|e| super::EngineError::Definition(e.to_string()))
    }

    /// A database connection of the org, resolved for use.
    pub fn endpoint(&self, name: &str) -> Result<super::db::Endpoint, super::EngineError> {
        let conn = self.connections.get(name).ok_or_else(|| {
            super::EngineError::Definition(format!("connection `{name}` does not exist"))
        })?;
        // Relative SQLite paths resolve where the connection was defined.
        let base = match &conn.origin {
            crate::domain::Origin::File { root, .. } => PathBuf::from(root),
            crate::domain::Origin::Api => self
                .params
                .get("sluice.data_dir")
                .map(PathBuf::from)
                .unwrap_or_else(|| self.base_dir.clone()),
        };
        // A SQLite path may name the data directory (`${sluice.data_dir}/warehouse.db`).
        if let Some(path) = conn.config.path.as_deref().filter(|p| p.contains("${")) {
            let mut conn = conn.clone();
            conn.config.path = Some(self.substitute(path)?);
            return super::db::Endpoint::resolve(&conn, &base);
        }
        super::db::Endpoint::resolve(conn, &base)
    }

    /// Resolves a definition's path (parameters substituted) against its connection or the base.
    pub fn resolve_path(
        &self,
        path: &str,
        connection: Option<&str>,
    ) -> Result<PathBuf, super::EngineError> {
        let path = self.substitute(path)?;
        let p = Path::new(&path);
        if p.is_absolute() {
            return Ok(p.to_path_buf());
        }
        let base = match connection {
            Some(name) => self.file_roots.get(name).ok_or_else(|| {
                super::EngineError::Definition(format!(
                    "connection `{name}` is not a files connection of this org"
                ))
            })?,
            None => &self.base_dir,
        };
        Ok(base.join(p))
    }
}

/// The file extension conventionally used for a format (for temporary names).
pub fn extension(format: FileFormat) -> &'static str {
    match format {
        FileFormat::Csv => "csv",
        FileFormat::Parquet => "parquet",
        FileFormat::Json => "jsonl",
    }
}
