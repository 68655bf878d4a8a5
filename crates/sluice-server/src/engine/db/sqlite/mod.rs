//! The sqlite connector: connection check, table description, streaming reads and transactional
//! writes (see the contracts in `engine::db`).

use super::{Endpoint, ObjectName, ReadSpec, ReadStream, TableWriter, TargetColumn, WriteSpec};
use crate::engine::{EngineError, StopSignal};

fn unsupported() -> EngineError {
    EngineError::Definition("the sqlite connector is not built yet".into())
}

pub async fn check(_ep: &Endpoint) -> Result<String, EngineError> {
    Err(unsupported())
}

pub async fn execute(_ep: &Endpoint, _sql: &str) -> Result<(), EngineError> {
    Err(unsupported())
}

pub async fn open_reader(
    _ep: &Endpoint,
    _spec: &ReadSpec,
    _stop: &StopSignal,
) -> Result<ReadStream, EngineError> {
    Err(unsupported())
}

pub async fn describe_table(
    _ep: &Endpoint,
    _table: &ObjectName,
) -> Result<Option<Vec<TargetColumn>>, EngineError> {
    Err(unsupported())
}

pub async fn open_writer(
    _ep: &Endpoint,
    _spec: WriteSpec,
) -> Result<Box<dyn TableWriter>, EngineError> {
    Err(unsupported())
}

pub async fn list_tables(
    _ep: &Endpoint,
    _schema: Option<&str>,
) -> Result<Vec<ObjectName>, EngineError> {
    Err(unsupported())
}

pub async fn primary_key(_ep: &Endpoint, _table: &ObjectName) -> Result<Vec<String>, EngineError> {
    Err(unsupported())
}
