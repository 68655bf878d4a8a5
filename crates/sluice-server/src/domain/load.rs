//! Definitions of the task types that move rows from a source object to a target object:
//! synchronization (DSS), replication (DRS) and masking (DMASK), and the load options they share.

use super::task::{ColumnSpec, FileFormat};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How rows are applied to a database target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    #[default]
    Insert,
    Update,
    Upsert,
    Delete,
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Operation::Insert => "insert",
            Operation::Update => "update",
            Operation::Upsert => "upsert",
            Operation::Delete => "delete",
        })
    }
}

fn default_delimiter() -> char {
    ','
}
fn default_true() -> bool {
    true
}

/// One source object: a database table or query (`connection` + `table` | `query`), or a file
/// (`format` + `path`, with an optional `files` connection).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ObjectSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// A condition rows must meet: pushed to the source database (in its SQL) for tables, applied
    /// by Sluice's SQL for files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FileFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
    #[serde(default = "default_true")]
    pub header: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<ColumnSpec>,
}

impl ObjectSource {
    pub fn is_file(&self) -> bool {
        self.format.is_some() || self.path.is_some()
    }
}

/// One target object: a database table (`connection` + `table`) or a file (`format` + `path`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ObjectTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(default)]
    pub operation: Operation,
    /// Target columns rows are matched on (update, upsert, delete; and the primary key of a
    /// created table).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// Empty the table before loading, in the same transaction (truncate-then-load).
    #[serde(default)]
    pub truncate: bool,
    /// Create the table from the source's columns when it does not exist.
    #[serde(default)]
    pub create: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FileFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl ObjectTarget {
    pub fn is_file(&self) -> bool {
        self.format.is_some() || self.path.is_some()
    }
}

/// A target column filled from a source column (`source`, default: the same name) or from a SQL
/// expression over the source's columns (`expr`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMap {
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
}

/// Options every loading task type shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LoadOptions {
    /// Rejected rows allowed before the run fails (0: fail at the first). Unset: no limit; the run
    /// completes with errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_threshold: Option<u64>,
    /// Commit every this many rows instead of once at the end. A failed or stopped run then keeps
    /// what was committed, and its counters say exactly that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_every: Option<u64>,
    /// The first source row to process (1-based; Starfish `beginAtRow`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_row: Option<u64>,
    /// The last source row to process (inclusive; Starfish `endAfterRow`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_row: Option<u64>,
    /// Writer threads (Starfish `threadCount`): tables replicated at once by a replication task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    /// Fail at the first source row that does not parse (files), instead of counting it.
    #[serde(default)]
    pub stop_on_error: bool,
}

/// A synchronization task (DSS): one source object to one target object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncDef {
    pub source: ObjectSource,
    pub target: ObjectTarget,
    /// Explicit column mapping; without it, source columns map to target columns of the same name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldMap>,
    #[serde(default)]
    pub options: LoadOptions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicationMode {
    /// Every run empties each target table and copies it again.
    #[default]
    Full,
    /// Each run copies the rows whose watermark column passed the last run's high-water mark, and
    /// upserts them on the table's primary key.
    Incremental,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReplicaSource {
    pub connection: String,
    /// Tables by name (`table` or `schema.table`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
    /// Tables whose names match a glob (`orders_*`), in `schema` or the default schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReplicaTarget {
    /// A database connection, or none with `format` + `path` (a directory) for files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Prepended to each target table's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FileFormat>,
    /// Files: the directory each table's file (`<table>.<ext>`) is written to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// A replication task (DRS): many tables from a source database to a database or to files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicationDef {
    pub source: ReplicaSource,
    pub target: ReplicaTarget,
    #[serde(default)]
    pub mode: ReplicationMode,
    /// Incremental mode: the watermark column of every table, unless `watermarks` names another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub watermarks: BTreeMap<String, String>,
    #[serde(default)]
    pub options: LoadOptions,
}

/// A masking task (DMASK): a source copied to a target with masking rules per column. The key of
/// deterministic rules comes from a `secret` connection, never from the task file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskingDef {
    pub source: ObjectSource,
    pub target: ObjectTarget,
    /// The `secret` connection holding the masking key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Rules, as `{ column = "email", rule = "email", ... }` tables.
    #[serde(default)]
    pub rules: Vec<serde_json::Value>,
    #[serde(default)]
    pub options: LoadOptions,
}
