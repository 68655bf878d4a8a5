//! The data pipeline every data task shares: a DataFusion session with the sources registered as
//! tables (files through [`super::formats`], databases through [`super::db`]), read-only SQL over
//! them, and — for synchronization, replication and masking — the load that moves the projected
//! rows into a target table or file. Tasks build on this; it knows no task.

mod load;
mod projection;
mod sources;
mod target;

pub(crate) use load::{BatchTransform, LoadPlan, TableTarget, TargetPlan, run_load, target_plan};
pub(crate) use sources::{open_source, register_database};

use super::formats::RunShared;
use super::{EngineError, RunContext};
use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{SessionConfig, SessionContext};

/// A session for one run: few partitions (sources stream through one reader each) and the run's
/// batch size.
pub(crate) fn session(ctx: &RunContext) -> SessionContext {
    let config = SessionConfig::new()
        .with_target_partitions(2)
        .with_batch_size(ctx.batch_size.max(1))
        // Column and table names match as written (`Country` is not `country`), as in the files.
        .set_bool("datafusion.sql_parser.enable_ident_normalization", false);
    SessionContext::new_with_config(config)
}

/// What user SQL may do in a session: query, and nothing else (no DDL, DML or `SET`).
pub(crate) fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// What a failed query means: a stop, a reader's own error, or DataFusion's.
pub(crate) fn classify(e: DataFusionError, shared: &RunShared) -> EngineError {
    if shared.stop.requested() {
        return EngineError::Stopped;
    }
    match shared.take_fatal() {
        Some(message) => EngineError::Data(message),
        None => EngineError::Data(e.to_string()),
    }
}
