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
    tx: mpsc::UnboundedSender<crate::domain::NewLogLine>,
    /// Directory prefixes shown otherwise (for a confined task: its roots by name, so the
    /// server's own directories never appear in what the task's users read). Set once, shared
    /// by every clone.
    mask: Arc<std::sync::OnceLock<Vec<(String, String)>>>,
}

impl RunLog {
    pub fn new() -> (RunLog, mpsc::UnboundedReceiver<crate::domain::NewLogLine>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mask = Arc::new(std::sync::OnceLock::new());
        (RunLog { tx, mask }, rx)
    }

    /// Shows each `(prefix, as)` prefix as `as` in every line from now on, longest first.
    pub fn set_mask(&self, mut mask: Vec<(String, String)>) {
        mask.retain(|(prefix, _)| !prefix.is_empty());
        mask.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        let _ = self.mask.set(mask);
    }

    /// `text` as this run shows it (see [`RunLog::set_mask`]).
    pub fn masked(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (prefix, shown) in self.mask.get().into_iter().flatten() {
            if out.contains(prefix.as_str()) {
                out = out.replace(prefix.as_str(), shown);
            }
        }
        out
    }

    pub fn log(&self, level: LogLevel, message: impl Into<String>) {
        let message = message.into();
        let message = match self.mask.get() {
            Some(_) => self.masked(&message),
            None => message,
        };
        // A closed receiver means the run is over; there is nowhere left to write.
        let _ = self.tx.send(crate::domain::NewLogLine {
            at: Utc::now(),
            level,
            message,
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
    /// Where relative paths without a connection resolve: the definitions directory of the
    /// operator's task files; for a task defined through an API, its org's file area.
    pub base_dir: PathBuf,
    /// The org's own file area under the data directory (`<data_dir>/files/<org id>`), where
    /// relative paths of its API-defined tasks and connections resolve.
    pub area: PathBuf,
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
    /// The name of the org the run belongs to.
    pub org_name: String,
    /// True for a task defined through an API: its files stay under its org's roots and its code
    /// runs only in a runtime environment granted to its org. False for the operator's own files.
    pub confined: bool,
    /// The runtime environments the operator defined, for code tasks.
    pub runtime_envs: Arc<BTreeMap<String, crate::domain::runtime_env::RuntimeEnvironment>>,
    /// What the operator lets the org's API-defined connections reach.
    pub grants: crate::domain::org_grants::OrgGrants,
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

    /// Substitutes parameters in a piece of user SQL (`what` names it in errors) and checks the
    /// result against the bounds of [`super::sql_guard`]: a parameter value is SQL too.
    pub fn substitute_sql(
        &self,
        text: &str,
        kind: super::sql_guard::SqlKind,
        what: &str,
    ) -> Result<String, super::EngineError> {
        let sql = self.substitute(text)?;
        super::sql_guard::check(&sql, kind)
            .map_err(|e| super::EngineError::Definition(format!("{what}: {e}")))?;
        Ok(sql)
    }

    /// A database connection of the org, resolved for use. One defined through an API may read
    /// only the server variables granted to its org, and a SQLite file only inside its roots.
    pub fn endpoint(&self, name: &str) -> Result<super::db::Endpoint, super::EngineError> {
        let conn = self.connections.get(name).ok_or_else(|| {
            super::EngineError::Definition(format!("connection `{name}` does not exist"))
        })?;
        let from_api = conn.origin == crate::domain::Origin::Api;
        if from_api
            && let Some((field, var)) = crate::domain::org_grants::env_references(&conn.config)
                .into_iter()
                .find(|(_, v)| !self.grants.allows_env(v))
        {
            return Err(super::EngineError::Definition(format!(
                "connection `{name}`: {field}: the server's environment variable `{var}` is not granted to this org"
            )));
        }
        // Relative SQLite paths resolve where the connection was defined.
        let base = match &conn.origin {
            crate::domain::Origin::File { root, .. } => PathBuf::from(root),
            crate::domain::Origin::Api => self.area.clone(),
        };
        let mut conn = conn.clone();
        // A SQLite path may name the data directory (`${sluice.data_dir}/warehouse.db`).
        if let Some(path) = conn.config.path.as_deref().filter(|p| p.contains("${")) {
            conn.config.path = Some(self.substitute(path)?);
        }
        if from_api
            && conn.conn_type == crate::domain::ConnectionType::Sqlite
            && let Some(path) = conn.config.path.as_deref()
        {
            let full = self.confine(path, &base, &self.grants, &format!("connection `{name}`"))?;
            conn.config.path = Some(full.display().to_string());
        }
        super::db::Endpoint::resolve(&conn, &base)
    }

    /// Resolves a definition's path (parameters substituted) against its connection or the base.
    /// A confined task's path must be relative and stay inside its root, links followed.
    pub fn resolve_path(
        &self,
        path: &str,
        connection: Option<&str>,
    ) -> Result<PathBuf, super::EngineError> {
        let path = self.substitute(path)?;
        let base = match connection {
            Some(name) => self.file_roots.get(name).ok_or_else(|| {
                super::EngineError::Definition(format!(
                    "connection `{name}` is not a files connection of this org"
                ))
            })?,
            None => &self.base_dir,
        };
        if !self.confined {
            let p = Path::new(&path);
            return Ok(if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            });
        }
        let none = crate::domain::org_grants::OrgGrants::default();
        self.confine(&path, base, &none, "path")
    }

    /// `path` under `root` when it is a plain relative path (or, absolute, inside a root the
    /// grants name), refused when a symbolic link takes it out of there.
    fn confine(
        &self,
        path: &str,
        root: &Path,
        grants: &crate::domain::org_grants::OrgGrants,
        what: &str,
    ) -> Result<PathBuf, super::EngineError> {
        confine(path, root, grants, what).map_err(super::EngineError::Definition)
    }

    /// Refuses a file a confined task found (a glob's match) that a link puts outside `root`.
    pub fn check_found(
        &self,
        file: &Path,
        connection: Option<&str>,
    ) -> Result<(), super::EngineError> {
        if !self.confined {
            return Ok(());
        }
        let root = match connection {
            Some(name) => self.file_roots.get(name).cloned().unwrap_or_default(),
            None => self.base_dir.clone(),
        };
        if stays_within(file, &root) {
            Ok(())
        } else {
            Err(super::EngineError::Definition(
                "a matched file lies outside its connection's root or the org's file area".into(),
            ))
        }
    }
}

/// Where a path written by an org's API-defined object leads, when the org may reach it: a
/// relative path inside `root` (its connection's root or the org's area), or a path inside a
/// directory granted to the org; links followed. The one rule for runs and connection checks.
pub fn confine(
    path: &str,
    root: &Path,
    grants: &crate::domain::org_grants::OrgGrants,
    what: &str,
) -> Result<PathBuf, String> {
    let refuse = || {
        format!(
            "{what}: `{path}` must be a relative path inside its connection's root or the org's file area"
        )
    };
    let (full, within) = if crate::domain::runtime_env::is_plain_relative(path) {
        (root.join(path), root.to_path_buf())
    } else if grants.allows_path(Path::new(path)) {
        let granted = grants
            .file_roots
            .iter()
            .find(|r| Path::new(path).starts_with(r))
            .cloned()
            .unwrap_or_default();
        (PathBuf::from(path), granted)
    } else {
        return Err(refuse());
    };
    if !stays_within(&full, &within) {
        return Err(refuse());
    }
    Ok(full)
}

/// Whether `path`, once the links of its deepest existing ancestor are followed, lies inside
/// `root` (also followed). A root that does not exist yet holds nothing outside itself.
fn stays_within(path: &Path, root: &Path) -> bool {
    let Ok(root) = root.canonicalize() else {
        return path.starts_with(root)
            && !path
                .components()
                .any(|c| c == std::path::Component::ParentDir);
    };
    let mut existing = path;
    loop {
        if let Ok(real) = existing.canonicalize() {
            return real.starts_with(&root);
        }
        match existing.parent() {
            Some(parent) => existing = parent,
            None => return false,
        }
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
