//! The synchronization task (DSS): one source object to one target object with an operation
//! (insert, update, upsert, delete; optionally truncate-then-load), through the load pipeline.

use super::pipeline::{LoadPlan, run_load, target_plan};
use super::{EngineError, RunContext};
use crate::domain::Outcome;
use crate::domain::load::SyncDef;

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
