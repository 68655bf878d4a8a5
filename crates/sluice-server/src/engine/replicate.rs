//! The replication task (DRS): many tables from a source database to a database or to files.
//! Each table is a child of the run with its own state and counters, loaded in its own
//! transaction (up to `threads` tables at once); missing target tables are created from the
//! source's columns and primary key. Incremental mode reads rows past each table's high-water mark
//! and upserts them on the primary key; the mark advances only after the rows are committed.

use super::db::{self, Endpoint, ObjectName, Watermark};
use super::journal::ChildReport;
use super::pipeline::{LoadPlan, TableTarget, TargetPlan, run_load};
use super::{EngineError, LiveCounters, RunContext, context};
use crate::domain::load::{ObjectSource, Operation, ReplicationDef, ReplicationMode};
use crate::domain::{Counters, Outcome, RunState};
use chrono::Utc;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// The source tables a definition names, in a stable order.
async fn tables(
    def: &ReplicationDef,
    ep: &Endpoint,
    ctx: &RunContext,
) -> Result<Vec<ObjectName>, EngineError> {
    let s = &def.source;
    let mut out: Vec<ObjectName> = Vec::new();
    for t in &s.tables {
        let mut name = ObjectName::parse(&ctx.substitute(t)?).map_err(EngineError::Definition)?;
        if name.schema.is_none() {
            name.schema = s.schema.clone();
        }
        out.push(name);
    }
    if let Some(p) = &s.pattern {
        let pattern = glob::Pattern::new(p)
            .map_err(|e| EngineError::Definition(format!("source.pattern: {e}")))?;
        for t in db::list_tables(ep, s.schema.as_deref()).await? {
            if pattern.matches(&t.name) {
                out.push(t);
            }
        }
    }
    out.retain(|t| {
        !s.exclude
            .iter()
            .any(|x| x == &t.name || x == &t.to_string())
    });
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|t| seen.insert(t.to_string()));
    if out.is_empty() {
        return Err(EngineError::Definition(
            "no source table matches the task's `tables` or `pattern`".into(),
        ));
    }
    Ok(out)
}

pub async fn run(def: &ReplicationDef, ctx: &RunContext) -> Result<Outcome, EngineError> {
    let src = ctx.endpoint(&def.source.connection)?;
    let tables = tables(def, &src, ctx).await?;
    let threads = ctx
        .run_option("threads")
        .or(def.options.threads.map(u64::from))
        .unwrap_or(1)
        .max(1) as usize;
    ctx.log.info(format!(
        "replication ({} mode): {} table(s) from `{}`: {}",
        match def.mode {
            ReplicationMode::Full => "full",
            ReplicationMode::Incremental => "incremental",
        },
        tables.len(),
        src.name,
        tables
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let children: Vec<Arc<LiveCounters>> = tables
        .iter()
        .map(|_| Arc::new(LiveCounters::default()))
        .collect();
    for (i, t) in tables.iter().enumerate() {
        report(ctx, i, t, RunState::Queued, &children[i], None, None).await;
    }
    // The run's counters are the sum of its children's, refreshed while they load.
    let summing = {
        let (run, kids) = (ctx.counters.clone(), children.clone());
        tokio::spawn(async move {
            loop {
                sum_into(&run, &kids);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    // Futures made up front: a stream mapping borrowed items trips the Send checker's lifetimes.
    let loads: Vec<_> = tables
        .iter()
        .enumerate()
        .map(|(i, t)| table(def, ctx, &src, i, t, children[i].clone()))
        .collect();
    let results: Vec<Result<u64, EngineError>> = futures::stream::iter(loads)
        .buffered(threads)
        .collect()
        .await;
    summing.abort();
    sum_into(&ctx.counters, &children);

    let mut failed = Vec::new();
    let mut rejected = 0;
    for (t, r) in tables.iter().zip(&results) {
        match r {
            Ok(n) => rejected += n,
            Err(EngineError::Stopped) => return Err(EngineError::Stopped),
            Err(e) => failed.push(format!("{t}: {e}")),
        }
    }
    if !failed.is_empty() {
        return Err(EngineError::Data(format!(
            "{} of {} tables failed: {}",
            failed.len(),
            tables.len(),
            failed.join("; ")
        )));
    }
    Ok(if rejected > 0 {
        Outcome::CompletedWithErrors
    } else {
        Outcome::Completed
    })
}

fn sum_into(run: &LiveCounters, kids: &[Arc<LiveCounters>]) {
    let mut total = Counters::default();
    for k in kids {
        total.add(&k.snapshot());
    }
    context::store_counters(run, &total);
}

async fn report(
    ctx: &RunContext,
    i: usize,
    t: &ObjectName,
    state: RunState,
    counters: &LiveCounters,
    started: Option<chrono::DateTime<Utc>>,
    error: Option<String>,
) {
    let child = ChildReport {
        seq: i as i32 + 1,
        name: t.to_string(),
        state,
        started_at: started,
        ended_at: state.is_terminal().then(Utc::now),
        counters: counters.snapshot(),
        error,
    };
    if let Err(e) = ctx.journal.child(&child).await {
        ctx.log
            .warn(format!("recording table `{t}`'s state failed: {e}"));
    }
}

/// Replicates one table; answers its rejected rows.
async fn table(
    def: &ReplicationDef,
    ctx: &RunContext,
    src: &Endpoint,
    i: usize,
    t: &ObjectName,
    counters: Arc<LiveCounters>,
) -> Result<u64, EngineError> {
    if ctx.stop.requested() {
        report(ctx, i, t, RunState::Stopped, &counters, None, None).await;
        return Err(EngineError::Stopped);
    }
    let started = Utc::now();
    report(ctx, i, t, RunState::Running, &counters, Some(started), None).await;
    let result = load_table(def, ctx, src, t, &counters).await;
    let (state, error) = match &result {
        Ok(0) => (RunState::Completed, None),
        Ok(_) => (RunState::CompletedWithErrors, None),
        Err(EngineError::Stopped) => (RunState::Stopped, None),
        Err(e) => (RunState::Failed, Some(e.to_string())),
    };
    if let Some(e) = &error {
        ctx.log.error(format!("table `{t}` failed: {e}"));
    } else {
        let c = counters.snapshot();
        ctx.log.info(format!(
            "table `{t}`: {} rows read, {} written, {} rejected",
            c.source_rows_read, c.target_rows_written, c.target_rows_failed
        ));
    }
    report(ctx, i, t, state, &counters, Some(started), error).await;
    result
}

async fn load_table(
    def: &ReplicationDef,
    ctx: &RunContext,
    src: &Endpoint,
    t: &ObjectName,
    counters: &Arc<LiveCounters>,
) -> Result<u64, EngineError> {
    let source = ObjectSource {
        connection: Some(def.source.connection.clone()),
        table: Some(t.to_string()),
        ..ObjectSource::default()
    };
    let keys = db::primary_key(src, t).await?;
    let object = t.to_string();
    let watermark = watermark(def, ctx, t, &keys).await?;
    let target = target(def, ctx, t, keys)?;
    let plan = LoadPlan {
        source: &source,
        target,
        fields: &[],
        options: &def.options,
        transform: None,
        watermark,
        label: format!("table `{t}`: "),
        rejects_path: Some(
            ctx.rejects_path
                .with_extension("")
                .join(format!("{}.jsonl", t.name)),
        ),
    };
    let summary = run_load(plan, ctx, counters).await?;
    if let Some(h) = summary.high_water {
        ctx.journal
            .set_watermark(&object, &h)
            .await
            .map_err(|e| EngineError::Data(format!("keeping the high-water mark: {e}")))?;
        ctx.log
            .info(format!("table `{t}`: high-water mark now `{h}`"));
    }
    Ok(summary.rejected)
}

/// Where an incremental read of `t` starts: past the high-water mark the journal kept for it.
/// `None` for a full copy.
async fn watermark(
    def: &ReplicationDef,
    ctx: &RunContext,
    t: &ObjectName,
    keys: &[String],
) -> Result<Option<Watermark>, EngineError> {
    if def.mode != ReplicationMode::Incremental {
        return Ok(None);
    }
    let object = t.to_string();
    let column = def
        .watermarks
        .get(&t.name)
        .or(def.watermarks.get(&object))
        .or(def.watermark.as_ref())
        .ok_or_else(|| EngineError::Definition(format!("no watermark column for `{t}`")))?;
    if keys.is_empty() {
        return Err(EngineError::Definition(format!(
            "incremental replication upserts on the primary key, and `{t}` has none"
        )));
    }
    let after = ctx
        .journal
        .watermark(&object)
        .await
        .map_err(EngineError::Data)?;
    ctx.log.info(format!(
        "table `{t}`: rows with `{column}` after {}",
        after
            .as_deref()
            .map(|a| format!("`{a}`"))
            .unwrap_or_else(|| "the beginning".into())
    ));
    Ok(Some(Watermark {
        column: column.clone(),
        after,
    }))
}

/// Where table `t` goes: a table of the target database (created when missing; truncated and
/// filled for a full copy, upserted on the primary key for an incremental one), or a file.
fn target(
    def: &ReplicationDef,
    ctx: &RunContext,
    t: &ObjectName,
    keys: Vec<String>,
) -> Result<TargetPlan, EngineError> {
    let incremental = def.mode == ReplicationMode::Incremental;
    match (&def.target.connection, def.target.format, &def.target.path) {
        (Some(conn), _, _) => Ok(TargetPlan::Table(TableTarget {
            ep: ctx.endpoint(conn)?,
            table: ObjectName {
                schema: def.target.schema.clone(),
                name: format!("{}{}", def.target.prefix.as_deref().unwrap_or(""), t.name),
            },
            operation: if incremental {
                Operation::Upsert
            } else {
                Operation::Insert
            },
            keys,
            truncate: !incremental,
            create: true,
        })),
        (None, Some(format), Some(dir)) => {
            let dir = ctx.resolve_path(dir, None)?;
            Ok(TargetPlan::File {
                format,
                path: dir.join(format!("{}.{}", t.name, context::extension(format))),
            })
        }
        _ => Err(EngineError::Definition(
            "target: give a database `connection`, or a file `format` and `path`".into(),
        )),
    }
}
