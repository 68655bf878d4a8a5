//! The synchronization task (DSS): one source object to one target object with an operation
//! (insert, update, upsert, delete; optionally truncate-then-load), through the load pipeline.

use super::db::ObjectName;
use super::load::{LoadPlan, TargetPlan, run_load};
use super::{EngineError, RunContext};
use crate::domain::Outcome;
use crate::domain::load::{ObjectTarget, SyncDef};

/// Where an object target writes, with parameters substituted.
pub(crate) fn target_plan(t: &ObjectTarget, ctx: &RunContext) -> Result<TargetPlan, EngineError> {
    if t.is_file() {
        let (Some(format), Some(path)) = (t.format, &t.path) else {
            return Err(EngineError::Definition(
                "target: a file target needs `format` and `path`".into(),
            ));
        };
        if t.operation != crate::domain::load::Operation::Insert {
            return Err(EngineError::Definition(format!(
                "target: a file target only takes `insert`, not `{}`",
                t.operation
            )));
        }
        return Ok(TargetPlan::File {
            format,
            path: ctx.resolve_path(path, t.connection.as_deref())?,
        });
    }
    let (Some(conn), Some(table)) = (&t.connection, &t.table) else {
        return Err(EngineError::Definition(
            "target: a table target needs `connection` and `table`".into(),
        ));
    };
    Ok(TargetPlan::Table {
        ep: ctx.endpoint(conn)?,
        table: ObjectName::parse(&ctx.substitute(table)?).map_err(EngineError::Definition)?,
        operation: t.operation,
        keys: t.keys.clone(),
        truncate: t.truncate,
        create: t.create,
    })
}

pub async fn run(def: &SyncDef, ctx: &RunContext) -> Result<Outcome, EngineError> {
    let plan = LoadPlan {
        source: &def.source,
        target: target_plan(&def.target, ctx)?,
        fields: &def.fields,
        options: &def.options,
        transform: None,
        watermark: None,
        label: String::new(),
        rejects_path: None,
    };
    let summary = run_load(plan, ctx, &ctx.counters).await?;
    let c = ctx.counters.snapshot();
    ctx.log.info(format!(
        "synchronization done: {} rows read, {} inserted, {} updated, {} deleted, {} skipped, {} rejected",
        c.source_rows_read, c.inserts, c.updates, c.deletes, c.skipped, summary.rejected
    ));
    Ok(if summary.rejected > 0 || c.source_rows_failed > 0 {
        Outcome::CompletedWithErrors
    } else {
        Outcome::Completed
    })
}
