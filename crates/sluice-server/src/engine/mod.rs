//! The engine: runs a task's definition against real files and databases. It knows nothing of
//! stores or APIs; a worker hands it a [`RunContext`] (parameters, where relative paths resolve,
//! live counters, a log, stop signals) and gets back an [`Outcome`] or an [`EngineError`].
//!
//! Layers, each using only the ones below it: the tasks (`mapping`, `sync`, `replicate`,
//! `masking`, `code`) build on `pipeline` (the DataFusion session, sources registered as tables,
//! the load into a target), which builds on `formats` (file readers and the target file sink) and
//! `db` (the database connectors). No task uses another task.

mod code;
pub mod context;
pub mod db;
mod formats;
pub mod journal;
mod mapping;
pub mod mask;
pub mod masking;
mod os_user;
mod pipeline;
mod rejects;
mod replicate;
mod spark_log;
mod spark_watch;
pub mod sql_guard;
mod sync;

pub use context::{LiveCounters, RunContext, RunLog, StopSignal};

use crate::domain::task::{MappingDef, TaskType};
use crate::domain::{Outcome, Task};

/// Why the engine could not do a task's work. The message is what the run's error shows.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The definition (after parameter substitution) is not valid.
    #[error("invalid definition: {0}")]
    Definition(String),
    /// Reading or writing data failed.
    #[error("{0}")]
    Data(String),
    /// The run was stopped before it finished; the target was left as it was.
    #[error("stopped")]
    Stopped,
}

impl From<datafusion::error::DataFusionError> for EngineError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        EngineError::Data(e.to_string())
    }
}

impl From<std::io::Error> for EngineError {
    fn from(e: std::io::Error) -> Self {
        EngineError::Data(e.to_string())
    }
}

/// Runs a task to its end.
pub async fn run_task(task: &Task, ctx: &RunContext) -> Result<Outcome, EngineError> {
    match task.task_type {
        TaskType::Mapping => {
            let def: MappingDef = serde_json::from_value(task.definition.clone())
                .map_err(|e| EngineError::Definition(e.to_string()))?;
            mapping::run(&def, ctx).await
        }
        TaskType::Synchronization => {
            let def: crate::domain::load::SyncDef = serde_json::from_value(task.definition.clone())
                .map_err(|e| EngineError::Definition(e.to_string()))?;
            sync::run(&def, ctx).await
        }
        TaskType::Replication => {
            let def: crate::domain::load::ReplicationDef =
                serde_json::from_value(task.definition.clone())
                    .map_err(|e| EngineError::Definition(e.to_string()))?;
            replicate::run(&def, ctx).await
        }
        TaskType::Masking => {
            let def: crate::domain::load::MaskingDef =
                serde_json::from_value(task.definition.clone())
                    .map_err(|e| EngineError::Definition(e.to_string()))?;
            masking::run(&def, ctx).await
        }
        TaskType::Code => {
            let def: crate::domain::code::CodeDef = serde_json::from_value(task.definition.clone())
                .map_err(|e| EngineError::Definition(e.to_string()))?;
            code::run(&def, ctx).await
        }
        other => Err(EngineError::Definition(format!(
            "{other} tasks cannot run on this server yet"
        ))),
    }
}
