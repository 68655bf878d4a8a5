//! Tasks: their types, identity, and the definition of each task type Sluice runs.

use super::ids::{self, ShortIdKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use uuid::Uuid;

/// Task types, named by their IICS codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TaskType {
    /// Mapping task.
    #[serde(rename = "MTT")]
    Mapping,
    /// Synchronization task.
    #[serde(rename = "DSS")]
    Synchronization,
    /// Replication task.
    #[serde(rename = "DRS")]
    Replication,
    /// Masking task.
    #[serde(rename = "DMASK")]
    Masking,
    /// PowerCenter task.
    #[serde(rename = "PCS")]
    PowerCenter,
    /// Linear taskflow.
    #[serde(rename = "WORKFLOW")]
    Workflow,
    /// Code task (a Spark application or program).
    #[serde(rename = "CODE")]
    Code,
}

impl TaskType {
    pub const ALL: [TaskType; 7] = [
        TaskType::Mapping,
        TaskType::Synchronization,
        TaskType::Replication,
        TaskType::Masking,
        TaskType::PowerCenter,
        TaskType::Workflow,
        TaskType::Code,
    ];

    pub fn code(self) -> &'static str {
        match self {
            TaskType::Mapping => "MTT",
            TaskType::Synchronization => "DSS",
            TaskType::Replication => "DRS",
            TaskType::Masking => "DMASK",
            TaskType::PowerCenter => "PCS",
            TaskType::Workflow => "WORKFLOW",
            TaskType::Code => "CODE",
        }
    }
}

impl fmt::Display for TaskType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for TaskType {
    type Err = String;
    /// Case-insensitive: IICS documentation itself writes `Workflow`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskType::ALL
            .into_iter()
            .find(|t| t.code().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "unknown task type `{s}`; expected one of {}",
                    TaskType::ALL.map(|t| t.code()).join(", ")
                )
            })
    }
}

/// Where a task's definition came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// Loaded from a definition file; `root` is the definitions directory it was loaded from.
    File {
        path: String,
        root: String,
    },
    Api,
}

/// A schedule a task runs on, with the parameters its fires pass (over the task's defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBinding {
    pub schedule: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
}

/// How a task's runs start besides by request, and what a start does when the task is busy or
/// a run fails.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunPolicy {
    /// The schedules the task runs on, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<ScheduleBinding>,
    /// What a start of a task that may not run in parallel does while one of its runs is active.
    #[serde(default)]
    pub on_busy: OnBusy,
    #[serde(default)]
    pub retry: RetryPolicy,
}

/// What a start does while another run of a task that may not run in parallel is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnBusy {
    /// The start is refused (409 `task_running`); a schedule's fire is not run, with a warning.
    #[default]
    Refuse,
    /// The start is queued and runs when the runs before it have ended, in order.
    Queue,
    /// The active runs are stopped (immediately) and the start runs when they have ended.
    CancelPrevious,
    /// As `refuse` for a request; a schedule's fire is skipped quietly (a schedule expected to
    /// overlap a long run).
    Skip,
}

impl OnBusy {
    pub fn as_str(self) -> &'static str {
        match self {
            OnBusy::Refuse => "refuse",
            OnBusy::Queue => "queue",
            OnBusy::CancelPrevious => "cancel_previous",
            OnBusy::Skip => "skip",
        }
    }
}

impl FromStr for OnBusy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            OnBusy::Refuse,
            OnBusy::Queue,
            OnBusy::CancelPrevious,
            OnBusy::Skip,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
        .ok_or_else(|| {
            format!("unknown policy `{s}`; expected refuse, queue, cancel_previous or skip")
        })
    }
}

/// Retries of a run that failed (not one that was stopped): each a new run, linked to the one
/// before, after a delay growing by `backoff` each time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Runs after the first; 0: none.
    pub retries: u32,
    pub delay_secs: u64,
    /// Each delay is the one before times this (1: the same delay every time).
    pub backoff: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 0,
            delay_secs: 0,
            backoff: 1.0,
        }
    }
}

/// Most retries a task may ask for.
pub const MAX_RETRIES: u32 = 20;
/// Longest delay before a retry, whatever the backoff: a day.
pub const MAX_RETRY_DELAY_SECS: u64 = 86_400;

impl RetryPolicy {
    /// Why the policy does not hold together, as `field: message`.
    pub fn check(&self) -> Result<(), String> {
        if self.retries > MAX_RETRIES {
            return Err(format!("retries: at most {MAX_RETRIES}"));
        }
        if self.delay_secs > MAX_RETRY_DELAY_SECS {
            return Err(format!(
                "retry_delay_secs: at most {MAX_RETRY_DELAY_SECS} (a day)"
            ));
        }
        if !(1.0..=10.0).contains(&self.backoff) {
            return Err("retry_backoff: from 1 to 10".into());
        }
        Ok(())
    }

    /// The delay before attempt `next` (2 for the first retry): `delay × backoff^(next − 2)`, at
    /// most a day.
    pub fn delay_before(&self, next: u32) -> std::time::Duration {
        let factor = self.backoff.powi(next.saturating_sub(2).min(64) as i32);
        let secs = (self.delay_secs as f64 * factor).min(MAX_RETRY_DELAY_SECS as f64);
        std::time::Duration::from_secs_f64(secs.max(0.0))
    }
}

/// Most schedules one task may name.
pub const MAX_SCHEDULES_PER_TASK: usize = 32;

/// The folder a task lives in when none is given.
pub const DEFAULT_FOLDER: &str = "Default";

/// A task as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: Uuid,
    pub org_id: Uuid,
    pub folder: String,
    pub name: String,
    pub task_type: TaskType,
    pub description: String,
    pub allow_parallel: bool,
    /// Tasks run after this one, in order, when a run asks for its chain (Starfish `chainJobs`):
    /// `folder/name`, names or ids.
    pub chain: Vec<String>,
    /// Default values of the task's parameters.
    pub parameters: BTreeMap<String, String>,
    /// The type-specific definition (for MTT, a [`MappingDef`]), as JSON.
    pub definition: serde_json::Value,
    /// How the task's runs start besides by request: its schedules.
    pub policy: RunPolicy,
    pub origin: Origin,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Task {
    pub fn short_id(&self) -> String {
        ids::short_id(self.id, ShortIdKind::Task)
    }
    pub fn federated_id(&self) -> String {
        ids::federated_id(self.id)
    }
    pub fn folder_id(&self) -> Uuid {
        ids::folder_id(self.org_id, &self.folder)
    }
    /// `folder/name`, the path the APIs and the CLI accept.
    pub fn path(&self) -> String {
        format!("{}/{}", self.folder, self.name)
    }
    /// Where the task's relative paths resolve: its definitions directory, or for a task defined
    /// through an API its org's file area.
    pub fn base_dir(&self, data_dir: &Path) -> PathBuf {
        match &self.origin {
            Origin::File { root, .. } => PathBuf::from(root),
            Origin::Api => super::identity::org_area(data_dir, self.org_id),
        }
    }
}

/// Checks a folder path: `/`-separated segments, none empty, no `.`/`..`.
pub fn validate_folder(folder: &str) -> Result<(), String> {
    if folder.is_empty() {
        return Err("must not be empty".into());
    }
    for seg in folder.split('/') {
        validate_name(seg).map_err(|e| format!("segment `{seg}`: {e}"))?;
    }
    Ok(())
}

/// Checks an object name: 1 to 255 characters, no `/`, no control characters, not `.` or `..`.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > 255 {
        return Err("must be at most 255 characters".into());
    }
    if name == "." || name == ".." {
        return Err("must not be `.` or `..`".into());
    }
    if name
        .chars()
        .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err("must not contain `/`, `\\` or control characters".into());
    }
    Ok(())
}

/// File formats the file connectors read and write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    Csv,
    Parquet,
    /// Newline-delimited JSON, one object a line.
    #[serde(alias = "jsonl", alias = "ndjson")]
    Json,
}

/// Column types a CSV or JSON source may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    #[serde(alias = "string", alias = "utf8")]
    Text,
    #[serde(alias = "int", alias = "integer", alias = "bigint")]
    Int64,
    #[serde(alias = "float", alias = "double")]
    Float64,
    #[serde(alias = "bool")]
    Boolean,
    Date,
    Timestamp,
}

/// A named file source of a mapping task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSource {
    /// The table name the transform SQL uses.
    pub name: String,
    pub format: FileFormat,
    /// A file or a glob; parameters allowed. Relative paths resolve against the connection's root,
    /// else against the definitions directory (file tasks) or the data directory (API tasks).
    pub path: String,
    /// A `files` connection whose root the path is relative to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// CSV: the field delimiter (one byte).
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
    /// CSV: whether the first line names the columns.
    #[serde(default = "default_true")]
    pub header: bool,
    /// Declared column types (in order); when absent they are inferred from the first rows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<ColumnSpec>,
}

/// A database table or query a mapping reads under `name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSource {
    pub name: String,
    pub connection: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Pushed to the database, in its SQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: ColumnType,
}

fn default_delimiter() -> char {
    ','
}
fn default_true() -> bool {
    true
}

/// The file a mapping task writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTarget {
    pub format: FileFormat,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transform {
    pub sql: String,
}

/// The definition of a mapping task (MTT): named sources, an optional SQL transform over them, and
/// a target. Without a transform the task copies its one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingDef {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<FileSource>,
    /// Database tables or queries, each read as a named table of the transform.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<Transform>,
    pub target: FileTarget,
    /// Stop the run at the first source row that fails to parse (default: count it and go on).
    #[serde(default)]
    pub stop_on_error: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_types_parse_case_insensitively() {
        assert_eq!("Workflow".parse::<TaskType>(), Ok(TaskType::Workflow));
        assert_eq!("mtt".parse::<TaskType>(), Ok(TaskType::Mapping));
        assert!("XYZ".parse::<TaskType>().is_err());
    }

    #[test]
    fn names_and_folders_are_checked() {
        assert!(validate_name("orders_by_country").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("a/b").is_err());
        assert!(validate_name("..").is_err());
        assert!(validate_folder("sales/emea").is_ok());
        assert!(validate_folder("sales//emea").is_err());
    }
}
